/*
 * http_route.c - the route table (docs/API.md and docs/openapi.yaml list the same
 * routes; a test checks that they agree) and the path matcher.
 *
 * Paths are matched after libmicrohttpd has decoded them, so "%2F" is a slash here. A
 * {tenant} segment must pass the tenant name rule, which allows no '.', '/' or '%', so
 * no path reaches another tenant's directory. The {stream} segment takes the rest of
 * the path (stream names may hold slashes; they never become file names).
 */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T "/v1/t/{tenant}"
const srv_route srv_routes[] = {
    {"GET", "/health", 0, route_health, false},
    {"GET", "/ready", 0, route_ready, false},
    {"GET", "/metrics", TOK_SCOPE_ADMIN, route_metrics, false},
    {"GET", "/v1/tenants", TOK_SCOPE_ADMIN, route_tenants_list, true},
    {"POST", "/v1/tenants/{tenant}", TOK_SCOPE_ADMIN, route_tenant_create, true},
    {"DELETE", "/v1/tenants/{tenant}", TOK_SCOPE_ADMIN, route_tenant_delete, true},
    {"POST", T "/streams/{stream}", TOK_SCOPE_APPEND, route_append_stream, false},
    {"GET", T "/streams/{stream}", TOK_SCOPE_READ, route_read_stream, false},
    {"GET", T "/streams", TOK_SCOPE_READ, route_list_streams, false},
    {"POST", T "/append", TOK_SCOPE_APPEND, route_append_multi, false},
    {"GET", T "/events", TOK_SCOPE_READ, route_read_events, false},
    {"GET", T "/subscribe", TOK_SCOPE_READ, route_subscribe, false},
    {"GET", T "/stat", TOK_SCOPE_READ, route_stat, false},
    {"GET", T "/consumers", TOK_SCOPE_CONSUME, route_consumers_list, false},
    {"GET", T "/consumers/{consumer}/events", TOK_SCOPE_CONSUME, route_consumer_poll, false},
    {"POST", T "/consumers/{consumer}/ack", TOK_SCOPE_CONSUME, route_consumer_ack, false},
    {"POST", T "/consumers/{consumer}/reset", TOK_SCOPE_CONSUME, route_consumer_reset, false},
    {"DELETE", T "/consumers/{consumer}", TOK_SCOPE_CONSUME, route_consumer_delete, false},
    /* Any valid token may ask what it allows: one of the scopes is enough. */
    {"GET", "/v1/whoami", TOK_SCOPE_ANY, route_whoami, false},
    {"GET", "/ui", 0, route_ui_redirect, false},
    {"GET", "/ui/", 0, route_ui_file, false},
    {"GET", "/ui/{file}", 0, route_ui_file, false},
};
#undef T
const size_t srv_route_count = sizeof srv_routes / sizeof srv_routes[0];
/* GET /metrics counts requests in a slot per route: a route past the slots would be
 * counted as unmatched. */
_Static_assert(sizeof srv_routes / sizeof srv_routes[0] <= SRV_ROUTES_MAX,
               "more routes than SRV_ROUTES_MAX (server.h) has metric slots for");

/* Match `path` against `pattern`; fills *m on success (m->name allocated, or NULL). */
static bool match(srv_path_match *m, const char *pattern, const char *path)
{
    const char *p = pattern, *u = path;
    const char *name = NULL;
    size_t name_len = 0;
    char tenant[EVS_MAX_TENANT_NAME_LEN + 2] = "";
    while (*p != '\0') {
        if (*p != '{') {
            if (*p != *u)
                return false;
            p++;
            u++;
            continue;
        }
        const char *close = strchr(p, '}');
        bool rest = strncmp(p, "{stream}", 8) == 0;
        size_t n = rest ? strlen(u) : strcspn(u, "/");
        if (n == 0)
            return false;
        if (strncmp(p, "{tenant}", 8) == 0) {
            if (n >= sizeof tenant)
                n = sizeof tenant - 1; /* over-long: flagged below */
            memcpy(tenant, u, n);
            tenant[n] = '\0';
            u += strcspn(u, "/");
        } else {
            name = u;
            name_len = n;
            u += n;
        }
        p = close + 1;
    }
    if (*u != '\0')
        return false;
    m->tenant_too_long = strlen(tenant) > EVS_MAX_TENANT_NAME_LEN;
    if (m->tenant_too_long)
        tenant[EVS_MAX_TENANT_NAME_LEN] = '\0';
    memcpy(m->tenant, tenant, strlen(tenant) + 1);
    m->name = NULL;
    m->oom = false;
    if (name != NULL && (m->name = strndup(name, name_len)) == NULL)
        m->oom = true;
    return true;
}

const srv_route *srv_route_find(const char *method, const char *path, srv_path_match *m,
                                bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < srv_route_count; i++) {
        if (!match(m, srv_routes[i].pattern, path))
            continue;
        if (strcmp(srv_routes[i].method, method) == 0)
            return &srv_routes[i];
        free(m->name);
        m->name = NULL;
        *path_known = true;
    }
    return NULL;
}

const srv_route *srv_route_match(srv_req *r, bool *path_known, bool *oom)
{
    srv_path_match m;
    const srv_route *rt = srv_route_find(r->method, r->path, &m, path_known);
    *oom = rt != NULL && m.oom;
    if (rt != NULL) {
        memcpy(r->tenant, m.tenant, sizeof r->tenant);
        r->tenant_too_long = m.tenant_too_long;
        free(r->name_buf);
        r->name_buf = m.name;
        r->name = m.name;
    }
    return rt;
}
