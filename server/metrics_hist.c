/*
 * metrics_hist.c - latency histograms for GET /metrics: request durations by route
 * class, and appends from the library call to its acknowledgement (which, with sync
 * mode "always", holds the group commit's fsync: the public API does not time the fsync
 * apart). Fixed buckets, counted with relaxed atomics: observing costs a handful of
 * compares and one add, and no lock.
 */
#include "server.h"

#include <stdio.h>
#include <string.h>

/* Upper bounds of the buckets, in microseconds; the last bucket is +Inf. */
static const int64_t bucket_us[SRV_HIST_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
    2500000, 5000000, 10000000};

static const char *const class_name[SRV_ROUTE_CLASSES] = {
    "probe", "append", "read", "poll", "subscribe", "consume", "admin", "other"};

void srv_hist_observe(srv_hist *h, int64_t ns)
{
    int64_t us = ns / 1000;
    int b = 0;
    while (b < SRV_HIST_BUCKETS && us > bucket_us[b])
        b++;
    atomic_fetch_add_explicit(&h->counts[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

int srv_route_class(srv_req *r)
{
    if (r->route_index < 0 || (size_t)r->route_index >= srv_route_count)
        return SRV_CLASS_OTHER;
    const srv_route *rt = &srv_routes[r->route_index];
    const char *p = rt->pattern;
    if (strcmp(p, "/health") == 0 || strcmp(p, "/ready") == 0)
        return SRV_CLASS_PROBE;
    if (rt->scope == TOK_SCOPE_APPEND)
        return SRV_CLASS_APPEND;
    if (rt->scope == TOK_SCOPE_CONSUME)
        return SRV_CLASS_CONSUME;
    if (strstr(p, "/subscribe") != NULL)
        return SRV_CLASS_SUBSCRIBE;
    if (rt->scope == TOK_SCOPE_READ)
        return srv_param(r, "wait") != NULL ? SRV_CLASS_POLL : SRV_CLASS_READ;
    if (rt->scope == TOK_SCOPE_ADMIN)
        return SRV_CLASS_ADMIN;
    return SRV_CLASS_OTHER;
}

/* One histogram's series; `labels` is "" or `name="value",`. */
static void put_hist(cli_out *o, const char *name, const char *labels, const srv_hist *h)
{
    char line[256];
    int64_t total = 0;
    for (int b = 0; b <= SRV_HIST_BUCKETS; b++) {
        total += atomic_load_explicit(&h->counts[b], memory_order_relaxed);
        char le[32];
        if (b < SRV_HIST_BUCKETS)
            (void)snprintf(le, sizeof le, "%lld.%06lld", (long long)(bucket_us[b] / 1000000),
                           (long long)(bucket_us[b] % 1000000));
        else
            (void)snprintf(le, sizeof le, "+Inf");
        (void)snprintf(line, sizeof line, "%s_bucket{%sle=\"%s\"} %lld\n", name, labels, le,
                       (long long)total);
        (void)cli_out_str(o, line);
    }
    int64_t us = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
    size_t n = strlen(labels);
    char plain[96]; /* the labels without their trailing comma, in braces, or "" */
    if (n > 0)
        (void)snprintf(plain, sizeof plain, "{%.*s}", (int)(n - 1), labels);
    else
        plain[0] = '\0';
    (void)snprintf(line, sizeof line, "%s_sum%s %lld.%06lld\n%s_count%s %lld\n", name, plain,
                   (long long)(us / 1000000), (long long)(us % 1000000), name, plain,
                   (long long)total);
    (void)cli_out_str(o, line);
}

void srv_hist_put_all(cli_out *o, const srv_metrics *m)
{
    static const char req[] = "evstore_http_request_duration_seconds";
    (void)cli_out_str(o, "# HELP evstore_http_request_duration_seconds time from a request's "
                         "headers to its reply being queued, by route class (poll: reads "
                         "with wait=, the wait included)\n# TYPE "
                         "evstore_http_request_duration_seconds histogram\n");
    for (int c = 0; c < SRV_ROUTE_CLASSES; c++) {
        char labels[48];
        (void)snprintf(labels, sizeof labels, "class=\"%s\",", class_name[c]);
        put_hist(o, req, labels, &m->request_hist[c]);
    }
    (void)cli_out_str(o, "# HELP evstore_append_ack_seconds time from the append call to its "
                         "acknowledgement (durable per the sync mode; with sync always the "
                         "group commit's fsync is in it)\n# TYPE evstore_append_ack_seconds "
                         "histogram\n");
    put_hist(o, "evstore_append_ack_seconds", "", &m->append_hist);
}
