/*
 * route_append.c - POST one stream (a JSON array of events, or NDJSON) and POST append
 * (NDJSON lines with their streams, consecutive lines of a stream one batch), each as
 * one atomic append of the events append_body.c made of the body. The reply comes after the
 * library returned, i.e. after the events are durable per the store's sync mode; a
 * batch whose ids are all stored already is answered 200 with where they were stored.
 *
 * A token's actor goes into every event's metadata as "actor", replacing what the
 * client sent there, so the audit trail names who really appended.
 */
#include "append.h"
#include "json.h"
#include "server.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_body(srv_req *r, srv_events *p, bool multi, int *reply_rc)
{
    const char *ct = srv_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    bool ndjson = ct != NULL && strncmp(ct, "application/x-ndjson", 20) == 0;
    bool json = ct != NULL && strncmp(ct, "application/json", 16) == 0;
    if (!ndjson && !(json && !multi)) {
        *reply_rc = srv_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                              "Content-Type must be %s, not '%s'",
                              multi ? "application/x-ndjson"
                                    : "application/json (an array) or application/x-ndjson",
                              ct != NULL ? ct : "(none)");
        return -1;
    }
    char why[512];
    const char *b = r->body.ptr != NULL ? r->body.ptr : "";
    int rc = srv_events_parse(p, b, r->body.len, ndjson, multi ? NULL : r->name, why, sizeof why);
    if (rc == 0 && r->token.actor[0] != '\0' && srv_events_stamp_actor(p, b, r->token.actor) != 0) {
        (void)snprintf(why, sizeof why, "out of memory");
        rc = -2;
    }
    if (rc != 0) {
        *reply_rc = srv_error(r, rc == -2 ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_BAD_REQUEST,
                              rc == -2 ? "overloaded" : "invalid_input", "%s", why);
        return -1;
    }
    return 0;
}

/* For GET /metrics: an append that wrote `events` events and was acknowledged
 * `took_ns` after the library was called. */
static void count_append(srv_req *r, size_t events, int64_t took_ns)
{
    srv_metrics *m = &r->s->metrics;
    srv_hist_observe(&m->append_hist, took_ns);
    atomic_fetch_add_explicit(&m->appends, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->events_appended, (long long)events, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->bytes_appended, (long long)r->body.len, memory_order_relaxed);
}

static void put_result(cli_out *o, const evs_append_result *res)
{
    (void)cli_out_str(o, "{\"first_pos\":");
    (void)cli_out_i64(o, res->first_pos);
    (void)cli_out_str(o, ",\"last_pos\":");
    (void)cli_out_i64(o, res->last_pos);
    (void)cli_out_str(o, ",\"version\":");
    (void)cli_out_i64(o, res->version);
    (void)cli_out_str(o, res->duplicate ? ",\"duplicate\":true}" : ",\"duplicate\":false}");
}

/* 409 with the stream's actual version beside the library's message. */
static int conflict(srv_req *r, evs_store *store, const char *stream, int64_t expected)
{
    char msg[1024];
    (void)snprintf(msg, sizeof msg, "%s", evs_errmsg());
    evs_stream_info info;
    if (evs_stream_get(&info, store, stream) < 0)
        info.last_version = -1;
    char exp[24];
    srv_out o;
    if (srv_out_init(&o) < 0)
        return srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
    (void)cli_out_str(&o.out, "{\"error\":\"conflict\",\"message\":");
    (void)cli_out_json_str(&o.out, msg, strlen(msg));
    (void)cli_out_str(&o.out, ",\"expected\":");
    (void)cli_out_json_str(&o.out, cli_expected_str(expected, exp),
                           strlen(cli_expected_str(expected, exp)));
    (void)cli_out_str(&o.out, ",\"actual\":");
    (void)cli_out_i64(&o.out, info.last_version);
    (void)cli_out_str(&o.out, "}\n");
    return srv_out_reply(r, &o, MHD_HTTP_CONFLICT, "application/json");
}

int route_append_stream(srv_req *r)
{
    int reply_rc;
    evs_store *store = srv_store(r, &reply_rc);
    if (store == NULL)
        return reply_rc;
    int64_t expected = EVS_EXPECT_ANY;
    const char *ev_text = srv_param(r, "expected_version");
    if (ev_text != NULL && !cli_parse_expected(ev_text, strlen(ev_text), &expected))
        return srv_error(r, MHD_HTTP_BAD_REQUEST, "invalid_input",
                         "expected_version wants a version >= 0, any, no_stream or exists, "
                         "not '%s'",
                         ev_text);
    srv_events p = {0};
    if (parse_body(r, &p, false, &reply_rc) < 0) {
        srv_events_free(&p);
        return reply_rc;
    }
    evs_event_in *events = calloc(p.count, sizeof *events);
    if (events == NULL) {
        srv_events_free(&p);
        return srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
    }
    srv_events_fill(events, &p, r->body.ptr);
    evs_append_result res;
    int64_t t0 = evs__monotonic_ns();
    int rc = evs_append(&res, store, r->name, expected, events, p.count);
    int64_t took_ns = evs__monotonic_ns() - t0;
    free(events);
    if (rc == 0 && !res.duplicate)
        count_append(r, p.count, took_ns);
    srv_events_free(&p);
    if (rc == EVS_ECONFLICT)
        return conflict(r, store, r->name, expected);
    if (rc < 0)
        return srv_lib_error(r, rc);
    srv_out o;
    if (srv_out_init(&o) < 0)
        return srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
    put_result(&o.out, &res);
    (void)cli_out_str(&o.out, "\n");
    return srv_out_reply(r, &o, res.duplicate ? MHD_HTTP_OK : MHD_HTTP_CREATED, "application/json");
}

/* Consecutive lines of one stream make one batch; its first line's expected_version
 * (or any) is the batch's. */
static size_t make_batches(evs_batch_in *b, const evs_event_in *ev, const srv_events *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->count; i++) {
        const char *stream = p->names.ptr + p->lines[i].stream_off;
        if (n > 0 && strcmp(b[n - 1].stream, stream) == 0 && !p->lines[i].has_expected) {
            b[n - 1].count++;
            continue;
        }
        b[n].stream = stream;
        b[n].expected_version = p->lines[i].has_expected ? p->lines[i].expected : EVS_EXPECT_ANY;
        b[n].events = &ev[i];
        b[n].count = 1;
        n++;
    }
    return n;
}

int route_append_multi(srv_req *r)
{
    int reply_rc;
    evs_store *store = srv_store(r, &reply_rc);
    if (store == NULL)
        return reply_rc;
    srv_events p = {0};
    if (parse_body(r, &p, true, &reply_rc) < 0) {
        srv_events_free(&p);
        return reply_rc;
    }
    evs_event_in *events = calloc(p.count, sizeof *events);
    evs_batch_in *batches = calloc(p.count, sizeof *batches);
    evs_append_result *res = calloc(p.count, sizeof *res);
    int rc = EVS_ENOMEM;
    size_t n = 0;
    int64_t took_ns = 0;
    if (events != NULL && batches != NULL && res != NULL) {
        srv_events_fill(events, &p, r->body.ptr);
        n = make_batches(batches, events, &p);
        int64_t t0 = evs__monotonic_ns();
        rc = evs_append_multi(res, store, batches, n);
        took_ns = evs__monotonic_ns() - t0;
    }
    srv_out o;
    bool all_dup = true;
    size_t written = 0;
    if (rc == 0 && srv_out_init(&o) == 0) {
        (void)cli_out_str(&o.out, "{\"results\":[");
        for (size_t i = 0; i < n; i++) {
            (void)cli_out_str(&o.out, i > 0 ? ",{\"stream\":" : "{\"stream\":");
            (void)cli_out_json_str(&o.out, batches[i].stream, strlen(batches[i].stream));
            (void)cli_out_str(&o.out, ",\"result\":");
            put_result(&o.out, &res[i]);
            (void)cli_out_str(&o.out, "}");
            all_dup = all_dup && res[i].duplicate;
            written += res[i].duplicate ? 0 : batches[i].count;
        }
        if (written > 0)
            count_append(r, written, took_ns);
        (void)cli_out_str(&o.out, "]}\n");
        reply_rc =
            srv_out_reply(r, &o, all_dup ? MHD_HTTP_OK : MHD_HTTP_CREATED, "application/json");
    } else {
        reply_rc = rc == EVS_ENOMEM || rc == 0
                       ? srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory")
                       : srv_lib_error(r, rc);
    }
    free(events);
    free(batches);
    free(res);
    srv_events_free(&p);
    return reply_rc;
}
