/*
 * route_streams.c - GET /v1/t/{tenant}/streams: the stream list sorted by name, as
 * `evstore streams` prints it, filtered by prefix and category, and paged: `after=NAME`
 * starts past that name, `limit=N` gives at most N streams. With a limit, only the N
 * smallest names past `after` are kept while the store's streams go by (a bounded
 * max-heap), so a page of a million-stream store costs O(streams · log N) time and O(N)
 * memory. `last_ts=1` adds each listed stream's last event time (one read per stream
 * listed, so it is for pages, not whole lists).
 */
#include "server.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#define NDJSON "application/x-ndjson"

struct listed {
    char *name;
    size_t len;
    evs_stream_info info;
};

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c != 0 ? c : (alen > blen) - (alen < blen);
}

static int by_name(const void *a, const void *b)
{
    const struct listed *x = a, *y = b;
    return name_cmp(x->name, x->len, y->name, y->len);
}

/* The kept streams: all of them (limit 0), or a max-heap of the `limit` smallest. */
struct keep {
    struct listed *items;
    size_t count, cap, limit;
};

static void sift_down(struct keep *k, size_t i)
{
    for (;;) {
        size_t big = i, l = 2 * i + 1, r = l + 1;
        if (l < k->count && by_name(&k->items[l], &k->items[big]) > 0)
            big = l;
        if (r < k->count && by_name(&k->items[r], &k->items[big]) > 0)
            big = r;
        if (big == i)
            return;
        struct listed t = k->items[i];
        k->items[i] = k->items[big];
        k->items[big] = t;
        i = big;
    }
}

static void sift_up(struct keep *k, size_t i)
{
    while (i > 0 && by_name(&k->items[i], &k->items[(i - 1) / 2]) > 0) {
        struct listed t = k->items[i];
        k->items[i] = k->items[(i - 1) / 2];
        k->items[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* Offer one stream. 0, or -1 out of memory. */
static int keep_offer(struct keep *k, const char *name, size_t len, const evs_stream_info *info)
{
    bool full = k->limit > 0 && k->count == k->limit;
    if (full && name_cmp(name, len, k->items[0].name, k->items[0].len) >= 0)
        return 0;
    char *copy = strndup(name, len);
    if (copy == NULL)
        return -1;
    struct listed item = {copy, len, *info};
    if (full) {
        free(k->items[0].name);
        k->items[0] = item;
        sift_down(k, 0);
        return 0;
    }
    if (k->count == k->cap) {
        size_t cap = k->cap != 0 ? k->cap * 2 : 64;
        if (k->limit > 0 && cap > k->limit)
            cap = k->limit;
        struct listed *p = realloc(k->items, cap * sizeof *p);
        if (p == NULL) {
            free(copy);
            return -1;
        }
        k->items = p;
        k->cap = cap;
    }
    k->items[k->count++] = item;
    if (k->limit > 0)
        sift_up(k, k->count - 1);
    return 0;
}

static void keep_free(struct keep *k)
{
    for (size_t i = 0; i < k->count; i++)
        free(k->items[i].name);
    free(k->items);
}

/* The stream's last event time, or 0 when it cannot be read. */
static int64_t last_ts(evs_store *store, const evs_stream_info *info)
{
    evs_query q = EVS_QUERY_INIT;
    q.from_pos = info->last_pos;
    q.to_pos = info->last_pos;
    q.limit = 1;
    evs_cursor *c = NULL;
    if (evs_cursor_open(&c, store, &q) < 0)
        return 0;
    evs_event ev;
    int64_t ts = evs_cursor_next(&ev, c) > 0 ? ev.ts_ns : 0;
    evs_cursor_close(c);
    return ts;
}

static void put_stream(cli_out *o, evs_store *store, const struct listed *s, bool with_ts)
{
    (void)cli_out_stream_fields(o, s->name, s->len, &s->info);
    if (with_ts) {
        int64_t ts = last_ts(store, &s->info);
        char text[48];
        size_t n = ts != 0 ? evs_time_format(text, sizeof text, ts) : 0;
        (void)cli_out_str(o, ",\"last_ts\":");
        if (n > 0) {
            (void)cli_out_json_str(o, text, n);
        } else {
            (void)cli_out_str(o, "null");
        }
    }
    (void)cli_out_str(o, "}\n");
}

static int reply_list(srv_req *r, evs_store *store, struct keep *k, bool with_ts)
{
    srv_out o;
    if (srv_out_init(&o) < 0)
        return srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
    if (k->count > 0)
        qsort(k->items, k->count, sizeof *k->items, by_name);
    bool array = srv_wants_array(r);
    if (array)
        (void)cli_out_str(&o.out, "[");
    for (size_t i = 0; i < k->count; i++) {
        if (array && i > 0)
            (void)cli_out_str(&o.out, ",");
        put_stream(&o.out, store, &k->items[i], with_ts);
    }
    if (array)
        (void)cli_out_str(&o.out, "]\n");
    return srv_out_reply(r, &o, MHD_HTTP_OK, array ? "application/json" : NDJSON);
}

int route_list_streams(srv_req *r)
{
    int reply_rc;
    evs_store *store = srv_store(r, &reply_rc);
    if (store == NULL)
        return reply_rc;
    int64_t limit = 0, with_ts = 0;
    if (!srv_param_i64(r, "limit", 1, 100000, &limit, &reply_rc) ||
        !srv_param_i64(r, "last_ts", 0, 1, &with_ts, &reply_rc))
        return reply_rc;
    const char *prefix = srv_param(r, "prefix");
    const char *category = srv_param(r, "category");
    const char *after = srv_param(r, "after");
    size_t after_len = after != NULL ? strlen(after) : 0;
    evs_stream_iter *it = NULL;
    int rc = evs_streams_open(&it, store, prefix);
    if (rc < 0)
        return srv_lib_error(r, rc);
    struct keep k = {.limit = (size_t)limit};
    const char *name;
    size_t len;
    evs_stream_info info;
    while ((rc = evs_streams_next(&name, &len, &info, it)) > 0) {
        if (category != NULL && !cli_stream_in_category(name, len, category))
            continue;
        if (after != NULL && name_cmp(name, len, after, after_len) <= 0)
            continue;
        if (keep_offer(&k, name, len, &info) < 0) {
            rc = EVS_ENOMEM;
            break;
        }
    }
    evs_streams_close(it);
    if (rc < 0) {
        keep_free(&k);
        if (rc == EVS_ENOMEM)
            return srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
        return srv_lib_error(r, rc);
    }
    rc = reply_list(r, store, &k, with_ts != 0);
    keep_free(&k);
    return rc;
}
