/*
 * append.c - evs_append and evs_append_multi: everything about an append that does not
 * depend on the backend. Each event is checked (names, JSON, sizes) before anything
 * is written, ids are generated where missing, and hashes computed once; the backend
 * gets ready-to-encode batches.
 */
#include "append_seal.h"
#include "core.h"
#include "json.h"
#include "keytab.h"
#include "seal.h"
#include "stream_meta.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Small appends (the common single event) avoid a heap allocation. */
#define STACK_EVENTS 16

static bool is_expected_ok(int64_t v)
{
    return v >= 0 || v == EVS_EXPECT_ANY || v == EVS_EXPECT_NO_STREAM || v == EVS_EXPECT_EXISTS;
}

/* The first byte that is not JSON whitespace. */
static char first_char(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
            return p[i];
    return '\0';
}

/* Where an append went wrong, formatted only when it did: appends that succeed pay
 * for no message. */
typedef struct where {
    const char *stream; /* may be NULL or bad: printed with a bound */
    size_t batch;
    size_t batch_count;
    long event; /* -1: the batch itself */
} where;

static int fail(const where *w, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(const where *w, int code, const char *fmt, ...)
{
    char what[512], batch[64] = "", event[48] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (w->batch_count > 1)
        snprintf(batch, sizeof batch, " (batch index %zu)", w->batch);
    if (w->event >= 0)
        snprintf(event, sizeof event, ": event index %ld", w->event);
    return evs__seterr(code, "append%s to stream '%.64s'%s: %s", batch, w->stream ? w->stream : "",
                       event, what);
}

/* The last event type checked in this call: appends usually repeat one type string, and
 * the same pointer within one call means the same bytes (the input is borrowed, const). */
typedef struct type_memo {
    const char *type;
    uint32_t len;
    uint32_t hash;
} type_memo;

static int check_event(const evs_event_in *in, evs__event_w *w, const where *at, type_memo *tm,
                       const char *subject)
{
    size_t type_len;
    char why[128];
    if (in->type != tm->type || !in->type) {
        if (evs__name_problem(in->type, EVS_MAX_TYPE_LEN, &type_len, why, sizeof why))
            return fail(at, EVS_EINVAL, "field 'type' %s", why);
        tm->type = in->type;
        tm->len = (uint32_t)type_len;
        tm->hash = (uint32_t)evs__hash64(in->type, type_len);
    }
    if (in->ts_ns < 0)
        return fail(at, EVS_EINVAL, "field 'ts_ns' is negative (0 means now)");
    if (!in->data || in->data_len == 0)
        return fail(at, EVS_EINVAL, "field 'data' is empty (it must be a JSON value)");
    if (in->data_len + in->metadata_len > EVS_MAX_EVENT_LEN)
        return fail(at, EVS_EINVAL,
                    "event is %zu bytes of data and metadata, more than the maximum of %u",
                    in->data_len + in->metadata_len, EVS_MAX_EVENT_LEN);
    evs__json_error err;
    if (!evs__json_validate(in->data, in->data_len, EVS_MAX_JSON_DEPTH, &err))
        return fail(at, EVS_EINVAL, "field 'data' is not valid JSON: %s at byte %zu", err.reason,
                    err.offset);
    if (in->metadata) {
        if (!evs__json_validate(in->metadata, in->metadata_len, EVS_MAX_JSON_DEPTH, &err))
            return fail(at, EVS_EINVAL, "field 'metadata' is not valid JSON: %s at byte %zu",
                        err.reason, err.offset);
        if (first_char(in->metadata, in->metadata_len) != '{')
            return fail(at, EVS_EINVAL, "field 'metadata' must be a JSON object");
    }
    int rc = evs__subject_find(w, in, subject, why, sizeof why);
    if (rc == EVS_EINVAL)
        return fail(at, rc, "%s", why);
    if (rc < 0)
        return rc;
    if (w->subject && in->data_len + in->metadata_len + EVS__SEAL_OVERHEAD > EVS_MAX_EVENT_LEN)
        return fail(at, EVS_EINVAL,
                    "event is %zu bytes of data and metadata, more than the maximum of %u "
                    "less the %u bytes its encryption adds",
                    in->data_len + in->metadata_len, EVS_MAX_EVENT_LEN, EVS__SEAL_OVERHEAD);
    w->type = in->type;
    w->type_len = tm->len;
    w->type_hash = tm->hash;
    w->data = in->data;
    w->data_len = (uint32_t)in->data_len;
    w->meta = in->metadata;
    w->meta_len = in->metadata ? (uint32_t)in->metadata_len : 0;
    w->ts_ns = in->ts_ns;
    w->id_given = in->id != NULL;
    if (in->id) {
        memcpy(w->id, in->id, 16);
        return 0;
    }
    return evs__uuid_v4(w->id);
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(*(const unsigned char *const *)a, *(const unsigned char *const *)b, 16);
}

/* One append cannot hold the same event twice: two events of a batch with the same id
 * would make a retry ambiguous. Small batches compare pairwise, large ones sort. */
static int check_ids_unique(const evs__batch_w *w, where *at)
{
    size_t n = w->count;
    if (n <= 32) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (w->events[i].id_given && w->events[j].id_given &&
                    memcmp(w->events[i].id, w->events[j].id, 16) == 0) {
                    at->event = (long)i;
                    return fail(at, EVS_EINVAL, "field 'id' repeats the id of event index %zu", j);
                }
        return 0;
    }
    const unsigned char **ids = evs__alloc(n * sizeof *ids);
    if (!ids)
        return evs__seterr(EVS_ENOMEM, "out of memory checking event ids");
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (w->events[i].id_given)
            ids[m++] = w->events[i].id;
    qsort(ids, m, sizeof *ids, cmp_id);
    int rc = 0;
    for (size_t i = 1; i < m && rc == 0; i++)
        if (memcmp(ids[i - 1], ids[i], 16) == 0) {
            char text[37];
            evs__uuid_format(text, ids[i]);
            at->event = -1;
            rc = fail(at, EVS_EINVAL, "event id %s appears twice in the batch", text);
        }
    evs__free(ids);
    return rc;
}

static int check_batch(const evs_batch_in *in, evs__batch_w *w, evs__event_w *events, size_t index,
                       size_t batch_count, type_memo *tm, const char *subject)
{
    where at = {in->stream, index, batch_count, -1};
    size_t slen = 0;
    char why[128];
    if (evs__name_problem(in->stream, EVS_MAX_STREAM_LEN, &slen, why, sizeof why)) {
        at.stream = NULL;
        return fail(&at, EVS_EINVAL, "the stream name %s", why);
    }
    if (!is_expected_ok(in->expected_version))
        return fail(&at, EVS_EINVAL, "expected version %" PRId64 " is not valid",
                    in->expected_version);
    if (!in->events || in->count == 0)
        return fail(&at, EVS_EINVAL, "no events to append");
    if (in->count > EVS_MAX_BATCH_COUNT)
        return fail(&at, EVS_EINVAL, "%zu events in one append, more than %u", in->count,
                    EVS_MAX_BATCH_COUNT);
    w->stream = in->stream;
    w->stream_len = (uint32_t)slen;
    w->stream_hash = evs__hash64(in->stream, slen);
    w->expected_version = in->expected_version;
    w->events = events;
    w->count = in->count;
    w->any_id_given = false;
    w->payload_len = 0;
    for (size_t i = 0; i < in->count; i++) {
        at.event = (long)i;
        int rc = check_event(&in->events[i], &events[i], &at, tm, subject);
        if (rc < 0)
            return rc;
        w->any_id_given |= events[i].id_given;
        w->payload_len += slen + events[i].type_len + events[i].data_len + events[i].meta_len;
    }
    return w->any_id_given ? check_ids_unique(w, &at) : 0;
}

/* A written batch's events have consecutive positions; a duplicate's were filled in by
 * the backend as it found them. */
static void fill_positions(int64_t *positions, const evs__batch_w *bw, const evs_append_result *res,
                           size_t batch_count)
{
    for (size_t i = 0, at = 0; i < batch_count; at += bw[i].count, i++)
        if (!res[i].duplicate)
            for (size_t k = 0; k < bw[i].count; k++)
                positions[at + k] = res[i].first_pos + (int64_t)k;
}

int evs_append_multi_positions(evs_append_result *out, int64_t *positions, evs_store *store,
                               const evs_batch_in *batches, size_t batch_count)
{
    int rc = evs__check_store(store, "evs_append");
    if (rc < 0)
        return rc;
    return evs__append_through(store->m, store->be, store->keys, NULL, out, positions, batches,
                               batch_count);
}

/* Encrypt the data of the events with a subject, then write: a forget in this process
 * waits until the events are written under the keys looked up. */
static int seal_and_append(const evs__backend_methods *m, evs__backend *be, evs__keytab *keys,
                           evs__batch_w *bw, size_t batch_count, evs_append_result *res)
{
    if (!evs__append_has_subject(bw, batch_count))
        return m->append(be, bw, batch_count, res);
    evs__buf sealed = EVS__BUF_INIT;
    if (keys)
        evs__keytab_append_begin(keys);
    int rc = evs__append_seal(keys, bw, batch_count, &sealed);
    if (rc == 0)
        rc = m->append(be, bw, batch_count, res);
    if (keys)
        evs__keytab_append_end(keys);
    evs__buf_free(&sealed);
    return rc;
}

int evs__append_through(const evs__backend_methods *m, evs__backend *be, evs__keytab *keys,
                        const char *subject, evs_append_result *out, int64_t *positions,
                        const evs_batch_in *batches, size_t batch_count)
{
    int rc = 0;
    if (!batches || batch_count == 0)
        return evs__seterr(EVS_EINVAL, "evs_append_multi: no batches");
    size_t total = 0;
    for (size_t i = 0; i < batch_count; i++) {
        total += batches[i].count;
        if (batches[i].count > EVS_MAX_BATCH_COUNT || total > EVS_MAX_BATCH_COUNT)
            return evs__seterr(EVS_EINVAL, "append: more than %u events in one call",
                               EVS_MAX_BATCH_COUNT);
    }
    evs__event_w stack_events[STACK_EVENTS];
    evs__batch_w stack_batch[1];
    evs_append_result stack_out[1];
    /* Zeroed: a failure part way frees the subjects copied so far, and only those. */
    evs__event_w *events =
        total <= STACK_EVENTS ? stack_events : evs__calloc(total, sizeof *events);
    if (events == stack_events)
        memset(stack_events, 0, total * sizeof *events);
    evs__batch_w *bw = batch_count == 1 ? stack_batch : evs__alloc(batch_count * sizeof *bw);
    evs_append_result *res = out                ? out
                             : batch_count == 1 ? stack_out
                                                : evs__alloc(batch_count * sizeof *res);
    if (!events || !bw || !res) {
        rc = evs__seterr(EVS_ENOMEM, "out of memory appending %zu events", total);
        goto out;
    }
    memset(res, 0, batch_count * sizeof *res);
    uint64_t bytes = 0;
    type_memo tm = {NULL, 0, 0};
    for (size_t i = 0, at = 0; i < batch_count; i++) {
        if ((rc = check_batch(&batches[i], &bw[i], events + at, i, batch_count, &tm, subject)) < 0)
            goto out;
        bw[i].positions = positions ? positions + at : NULL;
        at += batches[i].count;
        bytes += bw[i].payload_len;
    }
    if (bytes > EVS_MAX_BATCH_LEN) {
        rc = evs__seterr(EVS_EINVAL, "append: %" PRIu64 " bytes in one call, more than %u", bytes,
                         EVS_MAX_BATCH_LEN);
        goto out;
    }
    for (size_t i = 0; i < batch_count; i++)
        if ((rc = evs__lifecycle_check_batch(m, be, &bw[i], i, batch_count)) < 0)
            goto out;
    rc = seal_and_append(m, be, keys, bw, batch_count, res);
    if (rc == 0) {
        if (positions)
            fill_positions(positions, bw, res, batch_count);
        evs__clearerr();
    }
out:
    if (events)
        evs__subject_release(events, total);
    if (events != stack_events)
        evs__free(events);
    if (bw != stack_batch)
        evs__free(bw);
    if (res != out && res != stack_out)
        evs__free(res);
    return rc;
}

int evs_append_multi(evs_append_result *out, evs_store *store, const evs_batch_in *batches,
                     size_t batch_count)
{
    return evs_append_multi_positions(out, NULL, store, batches, batch_count);
}

int evs_append_positions(evs_append_result *out, int64_t *positions, evs_store *store,
                         const char *stream, int64_t expected_version, const evs_event_in *events,
                         size_t count)
{
    evs_batch_in b = {stream, expected_version, events, count};
    return evs_append_multi_positions(out, positions, store, &b, 1);
}

int evs_append(evs_append_result *out, evs_store *store, const char *stream,
               int64_t expected_version, const evs_event_in *events, size_t count)
{
    return evs_append_positions(out, NULL, store, stream, expected_version, events, count);
}
