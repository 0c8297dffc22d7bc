/*
 * stream_meta.c - a stream's lifecycle settings, kept as "$metadata" events in the
 * stream "$meta-NAME" (the newest holds them all), and the public calls that change
 * them: evs_stream_meta_get/set and evs_stream_delete.
 *
 * Why events of the log and not a file of their own: an append is already durable,
 * atomic and crash-safe, recovery and verify already check it, and an export carries
 * the settings along with the events they govern.
 *
 * A stream's first settings event is appended together (one atomic append) with an
 * event of "$lifecycle" naming it, so that a log-wide reader can learn which streams
 * have settings from that one stream instead of looking every stream up.
 */
#include "core.h"
#include "json.h"
#include "stream_meta.h"
#include "query.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define META_PREFIX     EVS_META_STREAM_PREFIX
#define META_PREFIX_LEN (sizeof META_PREFIX - 1)

/* A conflict means another writer changed the same settings in between: read them
 * again and re-apply. More than this many in a row is a livelock, reported. */
#define MAX_RETRIES 64

/* Set while this module appends to a reserved stream; other appends to them are
 * refused. Per thread: another thread's append is not this module's. */
static _Thread_local bool writing_lifecycle;

size_t evs__meta_stream_name(char *buf, const char *stream, size_t len)
{
    if (len + META_PREFIX_LEN > EVS_MAX_STREAM_LEN)
        return 0;
    memcpy(buf, META_PREFIX, META_PREFIX_LEN);
    memcpy(buf + META_PREFIX_LEN, stream, len);
    buf[META_PREFIX_LEN + len] = '\0';
    return META_PREFIX_LEN + len;
}

static bool is_meta_stream(const char *stream, size_t len)
{
    return len >= META_PREFIX_LEN && memcmp(stream, META_PREFIX, META_PREFIX_LEN) == 0;
}

bool evs__is_lifecycle_stream(const char *stream, size_t len)
{
    return is_meta_stream(stream, len) || (len == sizeof EVS__LIFECYCLE_STREAM - 1 &&
                                           memcmp(stream, EVS__LIFECYCLE_STREAM, len) == 0);
}

/* ---- the event's data ------------------------------------------------------------ */

typedef struct parse_ctx {
    evs_stream_meta *out;
    char *why;
    size_t why_len;
} parse_ctx;

/* A JSON number that is a whole number in 0..10^18. */
static bool parse_count(const evs__json_member *mb, int64_t *out)
{
    if (mb->kind != EVS__JSON_NUMBER || mb->value_len == 0 || mb->value_len > 18)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < mb->value_len; i++) {
        if (mb->value[i] < '0' || mb->value[i] > '9')
            return false;
        v = v * 10 + (mb->value[i] - '0');
    }
    *out = v;
    return true;
}

static bool key_is(const evs__json_member *mb, const char *key)
{
    return !mb->key_has_escape && mb->key_len == strlen(key) &&
           memcmp(mb->key, key, mb->key_len) == 0;
}

static int on_member(void *vctx, const evs__json_member *mb)
{
    parse_ctx *ctx = vctx;
    int64_t *field = key_is(mb, "truncate_before") ? &ctx->out->truncate_before
                     : key_is(mb, "max_count")     ? &ctx->out->max_count
                     : key_is(mb, "max_age_ns")    ? &ctx->out->max_age_ns
                                                   : NULL;
    if (field) {
        if (!parse_count(mb, field)) {
            (void)snprintf(ctx->why, ctx->why_len, "'%.*s' is not a whole number >= 0",
                           (int)mb->key_len, mb->key);
            return -1;
        }
        return 0;
    }
    if (key_is(mb, "deleted") && (mb->kind == EVS__JSON_TRUE || mb->kind == EVS__JSON_FALSE)) {
        ctx->out->deleted = mb->kind == EVS__JSON_TRUE;
        return 0;
    }
    (void)snprintf(ctx->why, ctx->why_len, "unknown member '%.*s'",
                   (int)(mb->key_len > 64 ? 64 : mb->key_len), mb->key);
    return -1;
}

int evs__meta_parse(evs_stream_meta *out, const char *data, size_t len, char *why,
                    size_t why_len)
{
    memset(out, 0, sizeof *out);
    parse_ctx ctx = {out, why, why_len};
    evs__json_error jerr;
    int rc = evs__json_object_walk(data, len, 4, on_member, &ctx, &jerr);
    if (rc == -1 && why[0] == '\0')
        (void)snprintf(why, why_len, "not a JSON object (%s at byte %zu)", jerr.reason,
                       jerr.offset);
    return rc == 0 ? 0 : EVS_EINVAL;
}

typedef struct name_ctx {
    const char *name;
    size_t len;
    int found;
} name_ctx;

static int on_name(void *vctx, const evs__json_member *mb)
{
    name_ctx *ctx = vctx;
    if (!key_is(mb, "stream") || mb->kind != EVS__JSON_STRING || ctx->found)
        return -1;
    ctx->name = mb->value + 1;
    ctx->len = mb->value_len - 2;
    ctx->found = 1;
    return 0;
}

int evs__lifecycle_parse(const char **name, size_t *name_len, const char *data, size_t len)
{
    name_ctx ctx = {NULL, 0, 0};
    evs__json_error jerr;
    if (evs__json_object_walk(data, len, 2, on_name, &ctx, &jerr) != 0 || !ctx.found ||
        ctx.len == 0)
        return EVS_EINVAL;
    *name = ctx.name;
    *name_len = ctx.len;
    return 0;
}

/* The members that are set, in a fixed order; "{}" when none is. */
static void format_meta(char *buf, size_t cap, const evs_stream_meta *m)
{
    size_t n = (size_t)snprintf(buf, cap, "{");
    const char *sep = "";
    if (m->truncate_before) {
        n += (size_t)snprintf(buf + n, cap - n, "%s\"truncate_before\":%" PRId64, sep,
                              m->truncate_before);
        sep = ",";
    }
    if (m->max_count) {
        n += (size_t)snprintf(buf + n, cap - n, "%s\"max_count\":%" PRId64, sep, m->max_count);
        sep = ",";
    }
    if (m->max_age_ns) {
        n += (size_t)snprintf(buf + n, cap - n, "%s\"max_age_ns\":%" PRId64, sep, m->max_age_ns);
        sep = ",";
    }
    if (m->deleted)
        n += (size_t)snprintf(buf + n, cap - n, "%s\"deleted\":true", sep);
    (void)snprintf(buf + n, cap - n, "}");
}

/* ---- reading the settings in force ----------------------------------------------- */

int evs__meta_load(evs_stream_meta *out, int64_t *meta_version, const evs__backend_methods *m,
                   evs__backend *be, const char *stream, size_t len)
{
    memset(out, 0, sizeof *out);
    *meta_version = -1;
    char name[EVS_MAX_STREAM_LEN + 1];
    size_t name_len = evs__meta_stream_name(name, stream, len);
    if (name_len == 0)
        return 0;
    evs_stream_info info;
    int rc = m->stream_get(be, name, (uint32_t)name_len, evs__hash64(name, name_len), &info);
    if (rc < 0 || !info.exists)
        return rc;
    evs_query q = EVS_QUERY_INIT;
    q.stream = name;
    q.direction = EVS_BACKWARD;
    q.limit = 1;
    evs__query_c qc;
    evs__be_cursor *c = NULL;
    rc = evs__query_compile(&qc, &q);
    if (rc == 0)
        rc = m->cursor_open(&c, be, &qc);
    evs_event ev;
    if (rc == 0)
        rc = m->cursor_next(c, &ev);
    if (rc == 0)
        rc = evs__seterr(EVS_ECORRUPT, "stream '%s' exists but has no event to read", name);
    if (rc > 0) {
        char why[160] = "";
        *meta_version = ev.version;
        if (evs__meta_parse(out, ev.data, ev.data_len, why, sizeof why) < 0)
            rc = evs__seterr(EVS_ECORRUPT,
                             "the settings of stream '%.*s' (position %" PRId64 "): %s",
                             (int)(len > 64 ? 64 : len), stream, ev.pos, why);
        else
            rc = 0;
    }
    if (c)
        m->cursor_close(c);
    evs__query_free(&qc);
    return rc;
}

/* ---- appends ---------------------------------------------------------------------- */

int evs__lifecycle_check_batch(const evs__backend_methods *m, evs__backend *be,
                               const evs__batch_w *b, size_t index, size_t count)
{
    char where[48] = "";
    if (count > 1)
        (void)snprintf(where, sizeof where, " (batch index %zu)", index);
    if (evs__is_lifecycle_stream(b->stream, b->stream_len)) {
        if (!writing_lifecycle)
            return evs__seterr(EVS_EINVAL,
                               "append%s to stream '%.64s': the stream is reserved for a "
                               "stream's settings; use evs_stream_meta_set or "
                               "evs_stream_delete",
                               where, b->stream);
        return 0;
    }
    evs_stream_meta meta;
    int64_t meta_version;
    int rc = evs__meta_load(&meta, &meta_version, m, be, b->stream, b->stream_len);
    if (rc < 0)
        return evs__prefixerr("append%s to stream '%.64s'", where, b->stream);
    if (meta.deleted)
        return evs__seterr(EVS_EDELETED,
                           "append%s to stream '%.64s': the stream was deleted for good "
                           "(evs_stream_delete with EVS_DELETE_HARD); nothing written",
                           where, b->stream);
    return 0;
}

/* ---- changing the settings --------------------------------------------------------- */

static int buf_write(void *ctx, const char *p, size_t len)
{
    return evs__buf_append(ctx, p, len);
}

/* What a change does to the settings read: fills *next from *cur (the store's
 * `last_version` of the stream given), or fails with nothing written. */
typedef int (*change_fn)(const void *arg, const evs_stream_meta *cur, int64_t last_version,
                         evs_stream_meta *next);

static int append_settings(evs_store *store, const char *stream, size_t len, const char *fn,
                           change_fn change, const void *arg)
{
    char meta_name[EVS_MAX_STREAM_LEN + 1];
    if (is_meta_stream(stream, len) || evs__is_lifecycle_stream(stream, len))
        return evs__seterr(EVS_EINVAL, "%s: stream '%.64s' holds settings itself and has none",
                           fn, stream);
    if (evs__meta_stream_name(meta_name, stream, len) == 0)
        return evs__seterr(EVS_EINVAL,
                           "%s: a stream name of %zu bytes leaves no room for the '%s' "
                           "prefix of its settings stream (at most %zu bytes)",
                           fn, len, META_PREFIX, (size_t)EVS_MAX_STREAM_LEN - META_PREFIX_LEN);
    evs__buf reg = EVS__BUF_INIT;
    int rc = 0;
    for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
        evs_stream_meta cur, next;
        int64_t meta_version;
        evs_stream_info info;
        rc = evs__meta_load(&cur, &meta_version, store->m, store->be, stream, len);
        if (rc == 0)
            rc = store->m->stream_get(store->be, stream, (uint32_t)len, evs__hash64(stream, len),
                                      &info);
        if (rc < 0)
            break;
        if (cur.deleted) {
            rc = evs__seterr(EVS_EDELETED, "%s: stream '%.64s' was deleted for good", fn, stream);
            break;
        }
        if ((rc = change(arg, &cur, info.last_version, &next)) < 0) {
            rc = evs__prefixerr("%s: stream '%.64s'", fn, stream);
            break;
        }
        char data[160];
        format_meta(data, sizeof data, &next);
        evs_event_in meta_ev = {EVS_META_EVENT_TYPE, data, strlen(data), NULL, 0, NULL, 0};
        evs_event_in reg_ev;
        evs_batch_in batches[2];
        size_t nb = 0;
        if (meta_version < 0) {
            /* The stream's first settings: register it in the same atomic append. */
            reg.len = 0;
            if (evs__buf_append(&reg, "{\"stream\":\"", 11) < 0 ||
                evs__json_escape(stream, len, buf_write, &reg) < 0 ||
                evs__buf_append(&reg, "\"}", 2) < 0) {
                rc = evs__seterr(EVS_ENOMEM, "%s: out of memory", fn);
                break;
            }
            reg_ev = (evs_event_in){EVS__LIFECYCLE_TYPE, reg.ptr, reg.len, NULL, 0, NULL, 0};
            batches[nb++] = (evs_batch_in){EVS__LIFECYCLE_STREAM, EVS_EXPECT_ANY, &reg_ev, 1};
        }
        batches[nb++] = (evs_batch_in){meta_name, meta_version, &meta_ev, 1};
        writing_lifecycle = true;
        rc = evs__append_through(store->m, store->be, store->keys, NULL, NULL, NULL, batches,
                                 nb);
        writing_lifecycle = false;
        if (rc != EVS_ECONFLICT)
            break;
    }
    if (rc == EVS_ECONFLICT)
        rc = evs__prefixerr("%s: stream '%.64s': its settings kept changing under %d attempts",
                            fn, stream, MAX_RETRIES);
    evs__buf_free(&reg);
    return rc;
}

static int change_settings(const void *arg, const evs_stream_meta *cur, int64_t last_version,
                           evs_stream_meta *next)
{
    (void)last_version;
    const evs_stream_meta *want = arg;
    if (want->truncate_before < cur->truncate_before)
        return evs__seterr(EVS_EINVAL,
                           "truncate_before %" PRId64 " is below the %" PRId64 " in force",
                           want->truncate_before, cur->truncate_before);
    *next = *want;
    return 0;
}

int evs_stream_meta_set(evs_store *store, const char *stream, const evs_stream_meta *meta)
{
    static const char fn[] = "evs_stream_meta_set";
    int rc = evs__check_store(store, fn);
    if (rc < 0)
        return rc;
    if (!meta)
        return evs__seterr(EVS_EMISUSE, "%s: meta is NULL", fn);
    size_t len;
    if ((rc = evs__check_name(stream, EVS_MAX_STREAM_LEN, "stream name", fn, &len)) < 0)
        return rc;
    if (meta->truncate_before < 0 || meta->max_count < 0 || meta->max_age_ns < 0)
        return evs__seterr(EVS_EINVAL, "%s: stream '%.64s': settings must be >= 0 (0 = unset)",
                           fn, stream);
    if (meta->deleted)
        return evs__seterr(EVS_EINVAL,
                           "%s: stream '%.64s': use evs_stream_delete with EVS_DELETE_HARD "
                           "to delete it for good",
                           fn, stream);
    rc = append_settings(store, stream, len, fn, change_settings, meta);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

typedef struct delete_arg {
    int64_t before_version;
    bool hard;
} delete_arg;

static int change_delete(const void *varg, const evs_stream_meta *cur, int64_t last_version,
                         evs_stream_meta *next)
{
    const delete_arg *arg = varg;
    *next = *cur;
    if (arg->hard) {
        next->deleted = 1;
        return 0;
    }
    if (arg->before_version < 0) {
        /* A soft delete hides every version there is now; never lowers the cut. */
        if (last_version + 1 > next->truncate_before)
            next->truncate_before = last_version + 1;
        return 0;
    }
    if (arg->before_version < cur->truncate_before)
        return evs__seterr(EVS_EINVAL,
                           "cannot truncate before version %" PRId64 ": versions below %" PRId64
                           " are cut already",
                           arg->before_version, cur->truncate_before);
    next->truncate_before = arg->before_version;
    return 0;
}

int evs_stream_delete(evs_store *store, const char *stream, int64_t before_version,
                      unsigned int flags)
{
    static const char fn[] = "evs_stream_delete";
    int rc = evs__check_store(store, fn);
    if (rc < 0)
        return rc;
    size_t len;
    if ((rc = evs__check_name(stream, EVS_MAX_STREAM_LEN, "stream name", fn, &len)) < 0)
        return rc;
    if (flags & ~EVS_DELETE_HARD)
        return evs__seterr(EVS_EINVAL, "%s: unknown flags 0x%x", fn, flags & ~EVS_DELETE_HARD);
    if (before_version < -1)
        return evs__seterr(EVS_EINVAL,
                           "%s: stream '%.64s': before_version %" PRId64
                           " is neither -1 (the whole stream) nor a version",
                           fn, stream, before_version);
    if ((flags & EVS_DELETE_HARD) && before_version != -1)
        return evs__seterr(EVS_EINVAL,
                           "%s: stream '%.64s': EVS_DELETE_HARD deletes the whole stream; "
                           "before_version must be -1",
                           fn, stream);
    delete_arg arg = {before_version, (flags & EVS_DELETE_HARD) != 0};
    rc = append_settings(store, stream, len, fn, change_delete, &arg);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

int evs_stream_meta_get(evs_stream_meta *out, evs_store *store, const char *stream)
{
    static const char fn[] = "evs_stream_meta_get";
    if (!out)
        return evs__seterr(EVS_EMISUSE, "%s: out is NULL", fn);
    memset(out, 0, sizeof *out);
    int rc = evs__check_store(store, fn);
    size_t len = 0;
    if (rc == 0)
        rc = evs__check_name(stream, EVS_MAX_STREAM_LEN, "stream name", fn, &len);
    int64_t meta_version;
    if (rc == 0)
        rc = evs__meta_load(out, &meta_version, store->m, store->be, stream, len);
    if (rc == 0)
        evs__clearerr();
    return rc;
}
