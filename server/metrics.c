/*
 * metrics.c - GET /metrics in the Prometheus text format (needs a token with the admin
 * scope): requests by route and status with their summed latency, appends, events and
 * bytes appended, open connections, SSE subscribers, and per open tenant its events and
 * each consumer's lag. The counters are relaxed atomics bumped where replies are queued.
 */
#include "server.h"
#include "util.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

static const unsigned slot_status[SRV_STATUS_SLOTS - 1] = {200, 201, 400, 401, 403, 404, 405, 409,
                                                           413, 415, 429, 431, 500, 501, 503, 507};

static int status_slot(unsigned status)
{
    for (int i = 0; i < SRV_STATUS_SLOTS - 1; i++) {
        if (slot_status[i] == status)
            return i;
    }
    return SRV_STATUS_SLOTS - 1;
}

void srv_metrics_count(srv_req *r, unsigned status)
{
    srv_metrics *m = &r->s->metrics;
    int route = r->route_index >= 0 && r->route_index <= (int)srv_route_count &&
                        r->route_index <= SRV_ROUTES_MAX
                    ? r->route_index
                    : SRV_ROUTES_MAX;
    atomic_fetch_add_explicit(&m->requests[route][status_slot(status)], 1, memory_order_relaxed);
    int64_t took_ns = evs__monotonic_ns() - r->start_ns;
    atomic_fetch_add_explicit(&m->latency_us[route], took_ns / 1000, memory_order_relaxed);
    srv_hist_observe(&m->request_hist[srv_route_class(r)], took_ns);
    atomic_fetch_add_explicit(&r->s->requests, 1, memory_order_relaxed);
}

static void put_series(cli_out *o, const char *name, const char *labels, int64_t v)
{
    (void)cli_out_str(o, name);
    (void)cli_out_str(o, labels);
    (void)cli_out_str(o, " ");
    (void)cli_out_i64(o, v);
    (void)cli_out_str(o, "\n");
}

static void put_help(cli_out *o, const char *name, const char *type, const char *help)
{
    (void)cli_out_str(o, "# HELP ");
    (void)cli_out_str(o, name);
    (void)cli_out_str(o, " ");
    (void)cli_out_str(o, help);
    (void)cli_out_str(o, "\n# TYPE ");
    (void)cli_out_str(o, name);
    (void)cli_out_str(o, " ");
    (void)cli_out_str(o, type);
    (void)cli_out_str(o, "\n");
}

static void route_label(char *buf, size_t len, size_t route)
{
    if (route < srv_route_count)
        (void)snprintf(buf, len, "%s %s", srv_routes[route].method, srv_routes[route].pattern);
    else
        (void)snprintf(buf, len, "unmatched");
}

static void put_requests(cli_out *o, const srv_metrics *m)
{
    put_help(o, "evstore_http_requests_total", "counter", "HTTP requests by route and status");
    char labels[256], route[160];
    for (size_t i = 0; i <= srv_route_count && i <= SRV_ROUTES_MAX; i++) {
        route_label(route, sizeof route, i);
        for (int k = 0; k < SRV_STATUS_SLOTS; k++) {
            int64_t n = atomic_load_explicit(&m->requests[i][k], memory_order_relaxed);
            if (n == 0)
                continue;
            if (k < SRV_STATUS_SLOTS - 1)
                (void)snprintf(labels, sizeof labels, "{route=\"%s\",status=\"%u\"}", route,
                               slot_status[k]);
            else
                (void)snprintf(labels, sizeof labels, "{route=\"%s\",status=\"other\"}", route);
            put_series(o, "evstore_http_requests_total", labels, n);
        }
    }
    put_help(o, "evstore_http_request_seconds_sum", "counter",
             "time from a request's headers to its reply being queued, summed, by route");
    for (size_t i = 0; i <= srv_route_count && i <= SRV_ROUTES_MAX; i++) {
        int64_t us = atomic_load_explicit(&m->latency_us[i], memory_order_relaxed);
        if (us == 0)
            continue;
        route_label(route, sizeof route, i);
        (void)snprintf(labels, sizeof labels, "{route=\"%s\"} %lld.%06lld\n", route,
                       (long long)(us / 1000000), (long long)(us % 1000000));
        (void)cli_out_str(o, "evstore_http_request_seconds_sum");
        (void)cli_out_str(o, labels);
    }
}

/* The per-tenant families, each gathered apart: the text format wants a family's
 * samples together. */
enum { FAM_EVENTS, FAM_LAST_POS, FAM_LAG, FAM_COUNT };
static const char *const fam_name[FAM_COUNT] = {
    "evstore_tenant_events", "evstore_tenant_last_position", "evstore_consumer_lag"};
static const char *const fam_help[FAM_COUNT] = {"events in each tenant's store",
                                                "the position of each tenant's last event",
                                                "positions a consumer has not acknowledged"};

struct tenant_ctx {
    srv_req *r;
    srv_out fam[FAM_COUNT];
};

/* A tenant's figures and its consumers' lag (its store is opened if it was not). */
static int put_tenant(void *ctx, const char *name)
{
    struct tenant_ctx *tc = ctx;
    const tok_entry *t = &tc->r->token;
    if (tc->r->s->auth != NULL && strcmp(t->tenant, TOK_ANY_TENANT) != 0 &&
        strcmp(t->tenant, name) != 0)
        return 0;
    evs_store *store = NULL;
    if (evs_tenants_get(&store, tc->r->s->tenants, name) < 0)
        return 0;
    char labels[256];
    evs_stat_info st;
    if (evs_stat(&st, store) == 0) {
        (void)snprintf(labels, sizeof labels, "{tenant=\"%s\"}", name);
        put_series(&tc->fam[FAM_EVENTS].out, fam_name[FAM_EVENTS], labels, st.event_count);
        put_series(&tc->fam[FAM_LAST_POS].out, fam_name[FAM_LAST_POS], labels, st.last_pos);
    }
    evs_consumer_iter *it = NULL;
    if (evs_consumers_open(&it, store) == 0) {
        evs_consumer_info ci;
        while (evs_consumers_next(&ci, it) > 0) {
            (void)snprintf(labels, sizeof labels, "{tenant=\"%s\",consumer=\"%s\"}", name, ci.name);
            put_series(&tc->fam[FAM_LAG].out, fam_name[FAM_LAG], labels, ci.lag);
        }
        evs_consumers_close(it);
    }
    return 0;
}

int route_metrics(srv_req *r)
{
    srv *s = r->s;
    srv_out o;
    if (srv_out_init(&o) < 0)
        return srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
    put_requests(&o.out, &s->metrics);
    srv_hist_put_all(&o.out, &s->metrics);
    put_help(&o.out, "evstore_appends_total", "counter", "append requests that wrote events");
    put_series(&o.out, "evstore_appends_total", "", atomic_load(&s->metrics.appends));
    put_help(&o.out, "evstore_events_appended_total", "counter", "events written by appends");
    put_series(&o.out, "evstore_events_appended_total", "",
               atomic_load(&s->metrics.events_appended));
    put_help(&o.out, "evstore_bytes_appended_total", "counter",
             "request body bytes of the appends that wrote events");
    put_series(&o.out, "evstore_bytes_appended_total", "", atomic_load(&s->metrics.bytes_appended));
    const union MHD_DaemonInfo *info =
        s->daemon != NULL ? MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS)
                          : NULL;
    put_help(&o.out, "evstore_open_connections", "gauge", "HTTP connections open now");
    put_series(&o.out, "evstore_open_connections", "",
               info != NULL ? (int64_t)info->num_connections : 0);
    put_help(&o.out, "evstore_sse_subscribers", "gauge", "SSE streams open now");
    put_series(&o.out, "evstore_sse_subscribers", "", atomic_load(&s->sse_clients));
    struct tenant_ctx tc = {.r = r};
    int ok = 0;
    for (int f = 0; f < FAM_COUNT; f++)
        ok |= srv_out_init(&tc.fam[f]);
    if (ok == 0)
        (void)evs_tenants_each(s->root, put_tenant, &tc);
    for (int f = 0; f < FAM_COUNT; f++) {
        put_help(&o.out, fam_name[f], "gauge", fam_help[f]);
        if (ok == 0 && cli_out_flush(&tc.fam[f].out) == 0 && tc.fam[f].buf.len > 0)
            (void)cli_out_write(&o.out, tc.fam[f].buf.ptr, tc.fam[f].buf.len);
        srv_out_free(&tc.fam[f]);
    }
    return srv_out_reply(r, &o, MHD_HTTP_OK, "text/plain; version=0.0.4");
}
