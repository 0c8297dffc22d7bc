/*
 * http_limits.c - what bounds the server's memory against abusive or slow clients,
 * beside the limits libmicrohttpd enforces itself (connections, connections per
 * address, idle timeout, header memory; set in http_daemon.c):
 *
 *   - request bodies held in memory by all connections together (--max-bodies): a
 *     body that would push the total past it is refused with 503 and Retry-After
 *     before it is read, so N connections cannot each hold --max-body bytes;
 *   - the socket send buffer of an SSE stream (--sse-buffer): a subscriber that stops
 *     reading fills it, its connection then makes no progress and libmicrohttpd closes
 *     it after --timeout seconds; the server says so on stderr, one line per client.
 */
#include "server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>

bool srv_body_reserve(srv_req *r, size_t len)
{
    srv *s = r->s;
    long long want = (long long)len;
    long long before = atomic_fetch_add(&s->body_bytes, want);
    if ((unsigned long long)(before + want) > s->limits.bodies_max) {
        atomic_fetch_sub(&s->body_bytes, want);
        return false;
    }
    r->body_reserved += len;
    return true;
}

void srv_body_release(srv_req *r)
{
    if (r->body_reserved > 0)
        atomic_fetch_sub(&r->s->body_bytes, (long long)r->body_reserved);
    r->body_reserved = 0;
}

int srv_error_retry(srv_req *r, unsigned status, const char *code, const char *fmt, ...)
{
    r->retry_after_s = 1;
    va_list ap;
    va_start(ap, fmt);
    int rc = srv_verror(r, status, code, fmt, ap);
    va_end(ap);
    return rc;
}

void srv_sse_socket_bound(srv_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    int size = (int)r->s->limits.sse_buffer;
    /* Best effort: without it the kernel's own bound on the buffer still holds. */
    if (ci != NULL)
        (void)setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    r->sse = true;
}

/* The client's address as text, or "?". */
static void client_addr(struct MHD_Connection *conn, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    (void)snprintf(buf, len, "?");
    if (ci != NULL && ci->client_addr != NULL && ci->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)ci->client_addr;
        (void)inet_ntop(AF_INET, &in->sin_addr, buf, (socklen_t)len);
    }
}

void srv_log_ended(srv_req *r, int why)
{
    if (why != MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
        return;
    char addr[INET_ADDRSTRLEN];
    client_addr(r->conn, addr, sizeof addr);
    if (r->sse)
        fprintf(stderr,
                "evstore serve: dropped an SSE subscriber of tenant '%s' from %s: it read "
                "nothing for %u s (--timeout) with its send buffer full (--sse-buffer %zu)\n",
                r->tenant, addr, r->s->limits.timeout_s, r->s->limits.sse_buffer);
    else
        fprintf(stderr,
                "evstore serve: closed a connection from %s during %s: nothing was read "
                "or sent for %u s (--timeout)\n",
                addr,
                r->route_index < (int)srv_route_count ? srv_routes[r->route_index].pattern
                                                      : "a request without a route",
                r->s->limits.timeout_s);
}
