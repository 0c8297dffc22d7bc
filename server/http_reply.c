/*
 * http_reply.c - replies: errors as {"error","message"} with the status that fits the
 * library's code, bodies from memory, and bodies produced while the client reads.
 */
#include "server.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int srv_reply(srv_req *r, unsigned status, const char *content_type, const char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    if (content_type != NULL)
        (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (r->retry_after_s > 0) {
        char secs[16];
        (void)snprintf(secs, sizeof secs, "%u", r->retry_after_s);
        (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    }
    if (status == MHD_HTTP_UNAUTHORIZED)
        (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                      "Bearer realm=\"evstore\"");
    enum MHD_Result rc = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    srv_metrics_count(r, status);
    return rc;
}

int srv_error(srv_req *r, unsigned status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = srv_verror(r, status, code, fmt, ap);
    va_end(ap);
    return rc;
}

int srv_verror(srv_req *r, unsigned status, const char *code, const char *fmt, va_list ap)
{
    char msg[1024];
    (void)vsnprintf(msg, sizeof msg, fmt, ap);
    srv_out o;
    if (srv_out_init(&o) < 0)
        return MHD_NO;
    (void)cli_out_str(&o.out, "{\"error\":");
    (void)cli_out_json_str(&o.out, code, strlen(code));
    (void)cli_out_str(&o.out, ",\"message\":");
    (void)cli_out_json_str(&o.out, msg, strlen(msg));
    (void)cli_out_str(&o.out, "}\n");
    return srv_out_reply(r, &o, status, "application/json");
}

int srv_lib_error(srv_req *r, int rc)
{
    static const struct {
        int rc;
        unsigned status;
        const char *code;
    } map[] = {
        {EVS_EINVAL, MHD_HTTP_BAD_REQUEST, "invalid_input"},
        {EVS_ECONFLICT, MHD_HTTP_CONFLICT, "conflict"},
        {EVS_EIDCONFLICT, MHD_HTTP_CONFLICT, "id_conflict"},
        {EVS_EDELETED, MHD_HTTP_GONE, "stream_deleted"},
        {EVS_ENOTFOUND, MHD_HTTP_NOT_FOUND, "not_found"},
        {EVS_EEXIST, MHD_HTTP_CONFLICT, "exists"},
        {EVS_EBUSY, MHD_HTTP_CONFLICT, "busy"},
        {EVS_ELOST, MHD_HTTP_CONFLICT, "lost"},
        {EVS_ENOTSUP, MHD_HTTP_NOT_IMPLEMENTED, "not_supported"},
        {EVS_EREADONLY, MHD_HTTP_FORBIDDEN, "read_only"},
        {EVS_ENOSPC, MHD_HTTP_INSUFFICIENT_STORAGE, "no_space"},
        {EVS_ENOMEM, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded"},
        {EVS_EFATAL, MHD_HTTP_SERVICE_UNAVAILABLE, "store_failed"},
        {EVS_ETIMEDOUT, MHD_HTTP_SERVICE_UNAVAILABLE, "timeout"},
        {EVS_ECORRUPT, MHD_HTTP_INTERNAL_SERVER_ERROR, "corrupt"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (map[i].rc == rc)
            return srv_error(r, map[i].status, map[i].code, "%s", evs_errmsg());
    }
    return srv_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "io_error", "%s", evs_errmsg());
}

/* ---- bodies built whole ------------------------------------------------------------ */

static int collect(void *ctx, const char *p, size_t len, int *err)
{
    if (evs__buf_append(ctx, p, len) != 0) {
        *err = 12; /* ENOMEM */
        return -1;
    }
    return 0;
}

int srv_out_init(srv_out *o)
{
    evs__buf empty = EVS__BUF_INIT;
    o->buf = empty;
    if (cli_out_init(&o->out, -1, 16u << 10) < 0)
        return -1;
    o->out.sink = collect;
    o->out.sink_ctx = &o->buf;
    return 0;
}

void srv_out_free(srv_out *o)
{
    cli_out_free(&o->out);
    evs__buf_free(&o->buf);
}

int srv_out_reply(srv_req *r, srv_out *o, unsigned status, const char *content_type)
{
    int rc;
    if (cli_out_flush(&o->out) < 0)
        rc = srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
    else
        rc = srv_reply(r, status, content_type, o->buf.ptr != NULL ? o->buf.ptr : "", o->buf.len);
    srv_out_free(o);
    return rc;
}

/* ---- bodies produced as the client reads ----------------------------------------- */

struct stream_state {
    srv_producer fn;
    void *state;
    void (*done)(void *state);
};

static ssize_t read_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct stream_state *st = cls;
    long n = st->fn(st->state, buf, max);
    if (n == SRV_BODY_END)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return (ssize_t)n;
}

static void free_cb(void *cls)
{
    struct stream_state *st = cls;
    st->done(st->state);
    free(st);
}

int srv_reply_stream(srv_req *r, unsigned status, const char *content_type, srv_producer fn,
                     void *state, void (*done)(void *state))
{
    struct stream_state *st = malloc(sizeof *st);
    if (st == NULL) {
        done(state);
        return srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
    }
    st->fn = fn;
    st->state = state;
    st->done = done;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64u << 10, read_cb, st, free_cb);
    if (resp == NULL) {
        free_cb(st);
        return MHD_NO;
    }
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    srv_metrics_count(r, status);
    return rc;
}

/* ---- what the request says ----------------------------------------------------------- */

const char *srv_param(srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *srv_header(srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

bool srv_wants_array(srv_req *r)
{
    const char *accept = srv_header(r, MHD_HTTP_HEADER_ACCEPT);
    return accept != NULL && strstr(accept, "application/json") != NULL &&
           strstr(accept, "application/x-ndjson") == NULL;
}
