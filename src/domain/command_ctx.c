/*
 * command_ctx.c - what a command handler sees and calls: the context it emits events
 * into, its accessors, and the two typed refusals. Emitted types and data are copied
 * into one buffer (offsets, not pointers, since it grows), and turned into
 * evs_event_in only once the handler has returned.
 */
#include "domain_internal.h"

#include <stdio.h>

int evs_command_emit(evs_command_ctx *ctx, const char *type, const char *data, size_t data_len)
{
    if (!ctx)
        return evs__seterr(EVS_EMISUSE, "evs_command_emit: ctx is NULL");
    size_t tn = type ? strlen(type) : 0;
    if (tn == 0 || tn > EVS_MAX_TYPE_LEN)
        return evs__seterr(EVS_EINVAL, "evs_command_emit: event %zu: type must be 1..%d bytes",
                           ctx->count, EVS_MAX_TYPE_LEN);
    if (!data) {
        data = ctx->payload;
        data_len = ctx->payload_len;
    } else if (evs_json_validate(data, data_len) < 0) {
        return evs__prefixerr("evs_command_emit: event %zu ('%s'): data", ctx->count, type);
    }
    if (ctx->count == ctx->cap) {
        size_t cap = ctx->cap ? ctx->cap * 2 : 8;
        evs__emitted *e = evs__realloc(ctx->emitted, cap * sizeof *e);
        if (!e)
            return evs__seterr(EVS_ENOMEM, "evs_command_emit: out of memory");
        ctx->emitted = e;
        ctx->cap = cap;
    }
    evs__emitted em = {ctx->bytes.len, ctx->bytes.len + tn + 1, data_len};
    int rc = evs__buf_append(&ctx->bytes, type, tn + 1);
    if (rc == 0)
        rc = evs__buf_append(&ctx->bytes, data, data_len);
    if (rc < 0) {
        ctx->bytes.len = em.type_off;
        return rc;
    }
    ctx->emitted[ctx->count++] = em;
    return 0;
}

const evs_actor *evs_command_actor(const evs_command_ctx *ctx)
{
    return ctx ? ctx->actor : NULL;
}

const char *evs_command_aggregate_id(const evs_command_ctx *ctx)
{
    return ctx ? ctx->aggregate_id : NULL;
}

int64_t evs_command_aggregate_version(const evs_command_ctx *ctx)
{
    return ctx ? ctx->version : -1;
}

/* The field of the calling thread's last evs_reject_argument, for
 * evs_command_result.field: kept beside the thread's error message, as it is. */
static _Thread_local char reject_field[EVS__MAX_NAME_LEN + 1];

const char *evs__reject_field(void)
{
    return reject_field;
}

void evs__reject_field_clear(void)
{
    reject_field[0] = '\0';
}

/* Set the thread's error to `code` with "<what>: <fmt ...>". */
static int reject(int code, const char *what, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static int reject(int code, const char *what, const char *fmt, va_list ap)
{
    char why[768];
    why[0] = '\0';
    if (fmt)
        (void)vsnprintf(why, sizeof why, fmt, ap);
    return evs__seterr(code, "%s: %s", what, why);
}

int evs_reject_argument(const char *field, const char *fmt, ...)
{
    (void)snprintf(reject_field, sizeof reject_field, "%s", field ? field : "");
    char what[EVS__MAX_NAME_LEN + 32];
    (void)snprintf(what, sizeof what, "invalid argument '%s'", reject_field);
    va_list ap;
    va_start(ap, fmt);
    int rc = reject(EVS_EARGUMENT, what, fmt, ap);
    va_end(ap);
    return rc;
}

int evs_reject_precondition(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = reject(EVS_EPRECONDITION, "failed precondition", fmt, ap);
    va_end(ap);
    return rc;
}

void evs__ctx_reset(evs_command_ctx *ctx)
{
    ctx->bytes.len = 0;
    ctx->count = 0;
}

void evs__ctx_free(evs_command_ctx *ctx)
{
    evs__buf_free(&ctx->bytes);
    evs__free(ctx->emitted);
    ctx->emitted = NULL;
    ctx->count = ctx->cap = 0;
}

void evs__ctx_events(const evs_command_ctx *ctx, evs_event_in *events, const char *metadata,
                     size_t metadata_len)
{
    for (size_t i = 0; i < ctx->count; i++) {
        const evs__emitted *e = &ctx->emitted[i];
        events[i] = (evs_event_in){ctx->bytes.ptr + e->type_off,
                                   ctx->bytes.ptr + e->data_off,
                                   e->data_len,
                                   metadata,
                                   metadata_len,
                                   NULL,
                                   0};
    }
}
