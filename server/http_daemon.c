/*
 * http_daemon.c - the HTTP side of `evstore serve` on libmicrohttpd: one thread per
 * connection (so a handler may block in an append's group commit, a long poll or an
 * SSE stream without holding up anyone else), request bodies gathered up to the limit,
 * authentication, the tenant check, and dispatch to the route handlers.
 */
#include "server.h"

#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Scopes a route needs; admin grants them all on the token's tenants. */
static bool scope_ok(const tok_entry *t, unsigned need)
{
    return (t->scopes & need) != 0 || (t->scopes & TOK_SCOPE_ADMIN) != 0;
}

static bool tenant_route(const srv_route *rt)
{
    return strncmp(rt->pattern, "/v1/t/", 6) == 0;
}

/* 401/403, or 0 when the caller may go on. */
static int authorize(srv_req *r, const srv_route *rt, int *reply_rc)
{
    if (rt->scope == 0)
        return 0;
    if (r->s->auth == NULL) { /* --no-auth: everything, no actor */
        memset(&r->token, 0, sizeof r->token);
        (void)snprintf(r->token.tenant, sizeof r->token.tenant, "%s", TOK_ANY_TENANT);
        r->token.scopes = TOK_SCOPE_READ | TOK_SCOPE_APPEND | TOK_SCOPE_CONSUME | TOK_SCOPE_ADMIN;
        r->authed = true;
        return 0;
    }
    const char *h = srv_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        *reply_rc = srv_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                              "this request needs a token: Authorization: Bearer <token>");
        return -1;
    }
    const char *text = h + 7;
    while (*text == ' ')
        text++;
    if (!tok_auth_check(r->s->auth, text, strlen(text), &r->token)) {
        *reply_rc = srv_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                              "the token is not valid (unknown, revoked or mistyped)");
        return -1;
    }
    r->authed = true;
    bool any = strcmp(r->token.tenant, TOK_ANY_TENANT) == 0;
    if (rt->operator_only && !any) {
        *reply_rc = srv_error(r, MHD_HTTP_FORBIDDEN, "forbidden",
                              "%s %s needs an operator token (tenant '*'); this token is for "
                              "tenant '%s'",
                              rt->method, rt->pattern, r->token.tenant);
        return -1;
    }
    if (tenant_route(rt) && !any && strcmp(r->token.tenant, r->tenant) != 0) {
        *reply_rc = srv_error(r, MHD_HTTP_FORBIDDEN, "forbidden",
                              "this token is for tenant '%s', not this one", r->token.tenant);
        return -1;
    }
    if (!scope_ok(&r->token, rt->scope)) {
        char have[64];
        tok_scopes_str(r->token.scopes, have, sizeof have);
        *reply_rc =
            srv_error(r, MHD_HTTP_FORBIDDEN, "forbidden",
                      "%s %s needs the scope '%s'; this token has %s", rt->method, rt->pattern,
                      rt->scope == TOK_SCOPE_READ      ? "read"
                      : rt->scope == TOK_SCOPE_APPEND  ? "append"
                      : rt->scope == TOK_SCOPE_CONSUME ? "consume"
                                                       : "admin",
                      have);
        return -1;
    }
    return 0;
}

evs_store *srv_store(srv_req *r, int *reply_rc)
{
    evs_store *store = NULL;
    int rc = evs_tenants_get(&store, r->s->tenants, r->tenant);
    if (rc < 0) {
        *reply_rc = srv_lib_error(r, rc);
        return NULL;
    }
    return store;
}

static int dispatch(srv_req *r)
{
    bool known, oom;
    const srv_route *rt = srv_route_match(r, &known, &oom);
    r->route_index = rt != NULL ? (int)(rt - srv_routes) : (int)srv_route_count;
    if (oom)
        return srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
    if (rt == NULL) {
        if (known)
            return srv_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                             "%s is not allowed on %s", r->method, r->path);
        return srv_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no route %s %s", r->method, r->path);
    }
    int reply_rc;
    if (tenant_route(rt) || strcmp(rt->pattern, "/v1/tenants/{tenant}") == 0) {
        if (r->tenant_too_long)
            return srv_error(r, MHD_HTTP_BAD_REQUEST, "invalid_input",
                             "tenant name is longer than %d bytes", EVS_MAX_TENANT_NAME_LEN);
        if (evs_tenant_name_check(r->tenant) < 0)
            return srv_error(r, MHD_HTTP_BAD_REQUEST, "invalid_input", "%s", evs_errmsg());
    }
    if (authorize(r, rt, &reply_rc) < 0)
        return reply_rc;
    if (r->body_too_large)
        return srv_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                         "the request body is larger than %zu bytes (--max-body)",
                         r->s->limits.body_max);
    if (r->body_over_budget)
        return srv_error_retry(
            r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded",
            "request bodies in memory would pass %zu bytes (--max-bodies); retry later",
            r->s->limits.bodies_max);
    if (rt->scope == TOK_SCOPE_APPEND) {
        if (srv_store(r, &reply_rc) == NULL || !srv_inflight_enter(r, &reply_rc))
            return reply_rc;
        reply_rc = rt->fn(r);
        srv_inflight_leave(r);
        return reply_rc;
    }
    return rt->fn(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **state)
{
    (void)version;
    srv *s = cls;
    srv_req *r = *state;
    if (r == NULL) {
        r = calloc(1, sizeof *r);
        if (r == NULL)
            return MHD_NO;
        r->s = s;
        r->conn = conn;
        r->method = method;
        r->path = url;
        r->route_index = (int)srv_route_count;
        r->start_ns = evs__monotonic_ns();
        *state = r;
        const char *len = srv_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
        unsigned long long announced = len != NULL ? strtoull(len, NULL, 10) : 0;
        if (announced > s->limits.body_max)
            return (enum MHD_Result)srv_error(
                r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                "the request body is larger than %zu bytes (--max-body)", s->limits.body_max);
        if (announced > 0 && !srv_body_reserve(r, (size_t)announced))
            return (enum MHD_Result)srv_error_retry(
                r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded",
                "request bodies in memory would pass %zu bytes (--max-bodies); retry later",
                s->limits.bodies_max);
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t total = r->body.len + *upload_size;
        if (!r->body_too_large && total > s->limits.body_max)
            r->body_too_large = true;
        /* A body without Content-Length (chunked), or longer than it said, is counted
         * as it comes. */
        if (!r->body_too_large && !r->body_over_budget && total > r->body_reserved &&
            !srv_body_reserve(r, total - r->body_reserved))
            r->body_over_budget = true;
        if (!r->body_too_large && !r->body_over_budget) {
            if (evs__buf_append(&r->body, upload, *upload_size) != 0)
                return MHD_NO;
        } else {
            /* The rest is read and dropped, so the 413 or 503 reaches the client. */
            evs__buf_free(&r->body);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return (enum MHD_Result)dispatch(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)conn;
    srv_req *r = *state;
    if (r == NULL)
        return;
    srv_log_ended(r, (int)why);
    srv_body_release(r);
    evs__buf_free(&r->body);
    free(r->name_buf);
    free(r);
    *state = NULL;
}

struct MHD_Daemon *srv_daemon_start(srv *s, const struct sockaddr *addr)
{
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC;
    struct MHD_OptionItem opts[16];
    size_t n = 0;
    /* A pointer option goes in both fields: the library reads one or the other,
     * depending on the option. */
#define OPT(o, v, p) opts[n++] = (struct MHD_OptionItem){(o), (intptr_t)(v), (p)}
    OPT(MHD_OPTION_SOCK_ADDR, addr, (void *)addr);
    OPT(MHD_OPTION_CONNECTION_LIMIT, s->limits.connections_max, NULL);
    if (s->limits.per_ip_max > 0)
        OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->limits.per_ip_max, NULL);
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, s->limits.timeout_s, NULL);
    OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->limits.header_max, NULL);
    OPT(MHD_OPTION_THREAD_STACK_SIZE, 512u << 10, NULL);
    OPT(MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL);
    if (s->tls_cert != NULL) {
        /* The library's own TLS (GnuTLS): certificate and key as PEM text. */
        flags |= MHD_USE_TLS;
        OPT(MHD_OPTION_HTTPS_MEM_CERT, s->tls_cert, (void *)s->tls_cert);
        OPT(MHD_OPTION_HTTPS_MEM_KEY, s->tls_key, (void *)s->tls_key);
    }
    OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_NOTIFY_COMPLETED,
                            on_completed, s, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
}
