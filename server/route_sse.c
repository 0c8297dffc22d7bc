/*
 * route_sse.c - GET subscribe: Server-Sent Events. A subscription read at the client's
 * pace (the connection's own thread sleeps in evs_subscription_next), so a slow client
 * costs its socket and one event's worth of buffer, never a backlog in memory.
 *
 * Each event is one SSE message whose id is its position and whose data is the
 * envelope `evstore read` prints; a reconnect with Last-Event-ID: N resumes at N + 1.
 * Line breaks inside an envelope (pretty-printed data) become further "data:" lines,
 * which the client joins with "\n" again. A comment line (": heartbeat") goes out when
 * nothing happened for the heartbeat interval; a draining server ends the stream.
 */
#include "server.h"
#include "util.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

struct sse_state {
    srv *s;
    evs_subscription *sub;
    evs_store *store;
    char tenant[EVS_MAX_TENANT_NAME_LEN + 1];
    unsigned removals_seen; /* tenant deletions already looked at */
    cli_out out;
    evs__buf pending;
    size_t sent;
    int64_t quiet_since_ms; /* when the last bytes were made */
    bool ended;
};

static int64_t now_ms(void)
{
    return evs__monotonic_ns() / 1000000;
}

static int into_pending(void *ctx, const char *p, size_t len, int *err)
{
    if (evs__buf_append(ctx, p, len) != 0) {
        *err = 12;
        return -1;
    }
    return 0;
}

/* The envelope as SSE data lines. */
static int put_event(struct sse_state *st, const evs_event *ev)
{
    (void)cli_out_str(&st->out, "id: ");
    (void)cli_out_i64(&st->out, ev->pos);
    (void)cli_out_str(&st->out, "\ndata: ");
    (void)cli_out_flush(&st->out);
    size_t start = st->pending.len;
    (void)cli_out_event(&st->out, ev);
    (void)cli_out_flush(&st->out);
    if (st->out.err != 0)
        return -1;
    st->pending.len--; /* the envelope's own newline */
    evs__buf fixed = EVS__BUF_INIT;
    size_t end = st->pending.len;
    bool has_break = memchr(st->pending.ptr + start, '\n', end - start) != NULL ||
                     memchr(st->pending.ptr + start, '\r', end - start) != NULL;
    if (has_break) {
        for (size_t i = start; i < end; i++) {
            char c = st->pending.ptr[i];
            int rc = c == '\n' || c == '\r' ? evs__buf_append(&fixed, "\ndata: ", 7)
                                            : evs__buf_append(&fixed, &c, 1);
            if (rc != 0) {
                evs__buf_free(&fixed);
                return -1;
            }
        }
        st->pending.len = start;
        int rc = evs__buf_append(&st->pending, fixed.ptr, fixed.len);
        evs__buf_free(&fixed);
        if (rc != 0)
            return -1;
    }
    return evs__buf_append(&st->pending, "\n\n", 2);
}

static long sse_produce(void *state, char *buf, size_t max)
{
    struct sse_state *st = state;
    unsigned heartbeat = st->s->limits.heartbeat_ms;
    while (st->pending.len == st->sent && !st->ended) {
        st->pending.len = 0;
        st->sent = 0;
        if (atomic_load(&st->s->draining)) {
            st->ended = true;
            break;
        }
        if (srv_tenant_gone(st->s, st->tenant, st->store, &st->removals_seen)) {
            /* The client learns why the stream ends, and does not reconnect blindly. */
            (void)cli_out_str(&st->out, "event: tenant_deleted\ndata: {\"tenant\":");
            (void)cli_out_json_str(&st->out, st->tenant, strlen(st->tenant));
            (void)cli_out_str(&st->out, "}\n\n");
            if (cli_out_flush(&st->out) < 0)
                return SRV_BODY_FAIL;
            st->ended = true;
            break;
        }
        int64_t left = st->quiet_since_ms + heartbeat - now_ms();
        if (left <= 0) {
            if (evs__buf_append(&st->pending, ": heartbeat\n\n", 13) != 0)
                return SRV_BODY_FAIL;
            st->quiet_since_ms = now_ms();
            break;
        }
        evs_event ev;
        int rc = evs_subscription_next(&ev, st->sub, (int)(left < 250 ? left : 250));
        if (rc < 0)
            return SRV_BODY_FAIL;
        if (rc > 0) {
            if (put_event(st, &ev) != 0)
                return SRV_BODY_FAIL;
            st->quiet_since_ms = now_ms();
        }
    }
    size_t n = st->pending.len - st->sent;
    if (n == 0)
        return SRV_BODY_END;
    if (n > max)
        n = max;
    memcpy(buf, st->pending.ptr + st->sent, n);
    st->sent += n;
    return (long)n;
}

static void sse_done(void *state)
{
    struct sse_state *st = state;
    atomic_fetch_sub(&st->s->sse_clients, 1);
    evs_subscription_close(st->sub);
    cli_out_free(&st->out);
    evs__buf_free(&st->pending);
    free(st);
}

int route_subscribe(srv_req *r)
{
    static const char *const extra[] = {"live", "max_lag", NULL};
    int reply_rc;
    evs_store *store = srv_store(r, &reply_rc);
    if (store == NULL)
        return reply_rc;
    int64_t live = 0, max_lag = 1000;
    if (!srv_param_i64(r, "live", 0, 1, &live, &reply_rc) ||
        !srv_param_i64(r, "max_lag", 1, INT64_MAX, &max_lag, &reply_rc))
        return reply_rc;
    cli_filter f;
    if (srv_params_filter(r, &f, NULL, extra, &reply_rc) < 0)
        return reply_rc;
    int64_t from = f.query.from_pos > 0 ? f.query.from_pos : EVS_FROM_START;
    const char *last = srv_header(r, MHD_HTTP_HEADER_LAST_EVENT_ID);
    int64_t last_id;
    if (last != NULL) {
        if (!cli_parse_i64(last, strlen(last), 0, INT64_MAX - 1, &last_id)) {
            cli_filter_free(&f);
            return srv_error(r, MHD_HTTP_BAD_REQUEST, "invalid_input",
                             "Last-Event-ID wants a position >= 0, not '%s'", last);
        }
        from = last_id + 1;
    }
    if (f.query.direction != EVS_FORWARD || f.query.to_pos != 0 || f.query.limit != 0 ||
        f.limit_zero) {
        cli_filter_free(&f);
        return srv_error(r, MHD_HTTP_BAD_REQUEST, "invalid_input",
                         "subscribe takes no backwards, to or limit: a subscription goes "
                         "forward and does not end");
    }
    evs_query filter = f.query;
    filter.from_pos = 0;
    evs_subscription *sub = NULL;
    int rc = live ? evs_subscribe_live(&sub, store, &filter, max_lag)
                  : evs_subscribe(&sub, store, &filter, from);
    cli_filter_free(&f);
    if (rc < 0)
        return srv_lib_error(r, rc);
    struct sse_state *st = calloc(1, sizeof *st);
    if (st == NULL || cli_out_init(&st->out, -1, 64u << 10) < 0) {
        free(st);
        evs_subscription_close(sub);
        return srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
    }
    st->s = r->s;
    st->sub = sub;
    st->store = store;
    memcpy(st->tenant, r->tenant, sizeof st->tenant);
    st->removals_seen = atomic_load(&r->s->tenants_removed);
    st->out.sink = into_pending;
    st->out.sink_ctx = &st->pending;
    /* The first bytes go out at once, so the client sees the stream open. */
    (void)evs__buf_append(&st->pending, ": evstore\n\n", 11);
    st->quiet_since_ms = now_ms();
    atomic_fetch_add(&r->s->sse_clients, 1);
    srv_sse_socket_bound(r);
    return srv_reply_stream(r, MHD_HTTP_OK, "text/event-stream", sse_produce, st, sse_done);
}
