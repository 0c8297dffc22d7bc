/*
 * route_read.c - GET events (with the long poll `wait`), GET one stream and GET stat.
 * Events go out as `evstore read` prints them, produced from a cursor as the client
 * reads (memory does not grow with the answer), or as one JSON array when the client
 * sends Accept: application/json. The stream list is in route_streams.c.
 */
#include "server.h"
#include "util.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#define NDJSON "application/x-ndjson"

struct read_state {
    evs_cursor *cursor;
    cli_out out;     /* envelopes collect in pending through its sink */
    evs__buf pending; /* bytes made, not yet handed to the client */
    size_t sent;     /* bytes of pending handed out */
    bool array;
    bool first;
    bool ended;
    bool failed;
};

static int into_pending(void *ctx, const char *p, size_t len, int *err)
{
    if (evs__buf_append(ctx, p, len) != 0) {
        *err = 12;
        return -1;
    }
    return 0;
}

static void read_done(void *state)
{
    struct read_state *st = state;
    evs_cursor_close(st->cursor);
    cli_out_free(&st->out);
    evs__buf_free(&st->pending);
    free(st);
}

/* Make at least `want` bytes of body, or all that is left. */
static void fill(struct read_state *st, size_t want)
{
    while (!st->ended && st->pending.len - st->sent < want) {
        evs_event ev;
        int rc = st->cursor != NULL ? evs_cursor_next(&ev, st->cursor) : 0;
        if (rc > 0) {
            if (st->array)
                (void)cli_out_write(&st->out, st->first ? "" : ",", st->first ? 0 : 1);
            st->first = false;
            (void)cli_out_event(&st->out, &ev);
        } else {
            st->ended = true;
            st->failed = rc < 0;
            if (st->array)
                (void)cli_out_str(&st->out, "]\n");
        }
        if (st->out.len >= (32u << 10) || st->ended)
            (void)cli_out_flush(&st->out);
    }
}

static long read_produce(void *state, char *buf, size_t max)
{
    struct read_state *st = state;
    if (st->sent == st->pending.len) {
        st->pending.len = 0;
        st->sent = 0;
    }
    fill(st, max);
    if (st->out.err != 0)
        return SRV_BODY_FAIL;
    size_t n = st->pending.len - st->sent;
    if (n == 0)
        return st->failed ? SRV_BODY_FAIL : SRV_BODY_END;
    if (n > max)
        n = max;
    memcpy(buf, st->pending.ptr + st->sent, n);
    st->sent += n;
    return (long)n;
}

/* Answer the events of `query` (NULL cursor = none). Takes the cursor. */
static int reply_events(srv_req *r, evs_cursor *cursor)
{
    struct read_state *st = calloc(1, sizeof *st);
    if (st == NULL || cli_out_init(&st->out, -1, 64u << 10) < 0) {
        free(st);
        evs_cursor_close(cursor);
        return srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
    }
    st->out.sink = into_pending;
    st->out.sink_ctx = &st->pending;
    st->cursor = cursor;
    st->array = srv_wants_array(r);
    st->first = true;
    if (st->array)
        (void)cli_out_str(&st->out, "[");
    return srv_reply_stream(r, MHD_HTTP_OK, st->array ? "application/json" : NDJSON, read_produce,
                            st, read_done);
}

/* The long poll: wait up to wait_s for a matching event at or after the query's start.
 * Returns 0 (go on and read), or -1 after replying. */
static int long_poll(srv_req *r, evs_store *store, const evs_query *q, int64_t wait_s,
                     int *reply_rc)
{
    evs_query filter = *q;
    filter.from_pos = 0;
    filter.to_pos = 0;
    filter.limit = 0;
    evs_subscription *sub = NULL;
    int rc = evs_subscribe(&sub, store, &filter, q->from_pos > 0 ? q->from_pos : EVS_FROM_START);
    if (rc < 0) {
        *reply_rc = srv_lib_error(r, rc);
        return -1;
    }
    int64_t deadline = (evs__monotonic_ns() / 1000000) + wait_s * 1000;
    for (;;) {
        int64_t left = deadline - (evs__monotonic_ns() / 1000000);
        if (left <= 0 || atomic_load(&r->s->draining))
            break;
        evs_event ev;
        /* Slices, so that a draining server does not wait out every poll. */
        rc = evs_subscription_next(&ev, sub, (int)(left < 250 ? left : 250));
        if (rc != 0)
            break;
    }
    evs_subscription_close(sub);
    if (rc < 0) {
        *reply_rc = srv_lib_error(r, rc);
        return -1;
    }
    return 0;
}

static int read_with(srv_req *r, evs_store *store, cli_filter *f, int64_t wait_s)
{
    int reply_rc;
    if (wait_s > 0 && f->query.direction == EVS_FORWARD && !f->limit_zero &&
        long_poll(r, store, &f->query, wait_s, &reply_rc) < 0) {
        cli_filter_free(f);
        return reply_rc;
    }
    evs_cursor *cursor = NULL;
    if (!f->limit_zero) {
        int rc = evs_cursor_open(&cursor, store, &f->query);
        if (rc < 0) {
            cli_filter_free(f);
            return srv_lib_error(r, rc);
        }
    }
    cli_filter_free(f);
    return reply_events(r, cursor);
}

int route_read_events(srv_req *r)
{
    static const char *const extra[] = {"wait", NULL};
    int reply_rc;
    evs_store *store = srv_store(r, &reply_rc);
    if (store == NULL)
        return reply_rc;
    int64_t wait_s = 0;
    if (!srv_param_i64(r, "wait", 0, r->s->limits.wait_max_s, &wait_s, &reply_rc))
        return reply_rc;
    cli_filter f;
    if (srv_params_filter(r, &f, NULL, extra, &reply_rc) < 0)
        return reply_rc;
    return read_with(r, store, &f, wait_s);
}

int route_read_stream(srv_req *r)
{
    int reply_rc;
    evs_store *store = srv_store(r, &reply_rc);
    if (store == NULL)
        return reply_rc;
    cli_filter f;
    if (srv_params_filter(r, &f, r->name, NULL, &reply_rc) < 0)
        return reply_rc;
    evs_stream_info info;
    int rc = evs_stream_get(&info, store, r->name);
    if (rc < 0 || !info.exists) {
        cli_filter_free(&f);
        if (rc < 0)
            return srv_lib_error(r, rc);
        return srv_error(r, MHD_HTTP_NOT_FOUND, "not_found", "stream '%s' does not exist", r->name);
    }
    return read_with(r, store, &f, 0);
}

int route_stat(srv_req *r)
{
    int reply_rc;
    evs_store *store = srv_store(r, &reply_rc);
    if (store == NULL)
        return reply_rc;
    evs_stat_info st;
    int rc = evs_stat(&st, store);
    if (rc < 0)
        return srv_lib_error(r, rc);
    srv_out o;
    if (srv_out_init(&o) < 0)
        return srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
    cli_out_stat(&o.out, &st);
    return srv_out_reply(r, &o, MHD_HTTP_OK, "application/json");
}
