/*
 * metrics_listen.c - --metrics-listen: GET /metrics on a listener of its own, without a
 * token, for scrapers on a private interface. It answers nothing else (404), runs on
 * one thread of its own with few connections (a scraper needs one), and shows every
 * tenant, as an operator token would.
 */
#include "server.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_CONNECTIONS 16

static enum MHD_Result on_metrics_request(void *cls, struct MHD_Connection *conn,
                                          const char *url, const char *method,
                                          const char *version, const char *upload,
                                          size_t *upload_size, void **state)
{
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)state;
    srv_req r = {.s = cls, .conn = conn, .method = method, .path = url};
    r.start_ns = evs__monotonic_ns();
    r.route_index = (int)srv_route_count;
    if (strcmp(url, "/metrics") != 0)
        return (enum MHD_Result)srv_error(&r, MHD_HTTP_NOT_FOUND, "not_found",
                                          "this listener (--metrics-listen) serves GET "
                                          "/metrics only, not %s",
                                          url);
    if (strcmp(method, "GET") != 0)
        return (enum MHD_Result)srv_error(&r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                                          "%s is not allowed on /metrics", method);
    for (size_t i = 0; i < srv_route_count; i++) {
        if (srv_routes[i].fn == route_metrics)
            r.route_index = (int)i;
    }
    /* As an operator token: every tenant. */
    (void)snprintf(r.token.tenant, sizeof r.token.tenant, "%s", TOK_ANY_TENANT);
    r.token.scopes = TOK_SCOPE_ADMIN;
    r.authed = true;
    return (enum MHD_Result)route_metrics(&r);
}

struct MHD_Daemon *srv_metrics_daemon_start(srv *s, const struct sockaddr *addr)
{
    return MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC, 0, NULL,
                            NULL, on_metrics_request, s, MHD_OPTION_SOCK_ADDR, addr,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONNECTIONS,
                            MHD_OPTION_CONNECTION_TIMEOUT, s->limits.timeout_s,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->limits.header_max,
                            MHD_OPTION_END);
}
