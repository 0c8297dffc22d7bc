/*
 * consumer_filter.c - a durable consumer's filter as the store keeps it: one canonical
 * JSON object, so that two filters selecting the same events are the same bytes and
 * "is this the filter the consumer was made with?" is a string comparison.
 *
 *   {"stream":"order-42","from_version":3,"types":["A","B"],"category":"order",
 *    "prefix":"ord","since":"2026-11-23T12:00:00.000000000Z","until":"..."}
 *
 * Fields in that order, each left out when it selects nothing (no stream, from_version
 * at the start or without a stream, no types, zero times); types sorted bytewise and
 * without repeats, since they are an OR; times as RFC 3339 with nanoseconds, so that
 * `evstore consumers` shows them readably. Every event: {}.
 */
#include "json.h"
#include "query.h"
#include "sub_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static int put(void *ctx, const char *p, size_t len)
{
    return evs__buf_append(ctx, p, len);
}

static int put_str(evs__buf *b, const char *s)
{
    return put(b, s, strlen(s));
}

static int put_json_str(evs__buf *b, const char *s)
{
    int rc = put(b, "\"", 1);
    if (rc == 0)
        rc = evs__json_escape(s, strlen(s), put, b);
    return rc == 0 ? put(b, "\"", 1) : rc;
}

/* ,"name": or {"name": for the first field. */
static int put_key(evs__buf *b, const char *name)
{
    int rc = put(b, b->len == 1 ? "\"" : ",\"", b->len == 1 ? 1 : 2);
    if (rc == 0)
        rc = put_str(b, name);
    return rc == 0 ? put(b, "\":", 2) : rc;
}

static int put_time(evs__buf *b, const char *name, int64_t ts_ns)
{
    char ts[64];
    size_t n = evs_time_format(ts, sizeof ts, ts_ns);
    int rc = put_key(b, name);
    if (rc == 0)
        rc = put(b, "\"", 1);
    if (rc == 0)
        rc = put(b, ts, n);
    return rc == 0 ? put(b, "\"", 1) : rc;
}

static int by_bytes(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The types, sorted and without repeats. */
static int put_types(evs__buf *b, const evs_query *q)
{
    const char **sorted = evs__alloc(q->type_count * sizeof *sorted);
    if (!sorted)
        return EVS_ENOMEM;
    memcpy(sorted, q->types, q->type_count * sizeof *sorted);
    qsort(sorted, q->type_count, sizeof *sorted, by_bytes);
    int rc = put_key(b, "types");
    if (rc == 0)
        rc = put(b, "[", 1);
    for (size_t i = 0; rc == 0 && i < q->type_count; i++) {
        if (i > 0 && strcmp(sorted[i], sorted[i - 1]) == 0)
            continue;
        if (i > 0)
            rc = put(b, ",", 1);
        if (rc == 0)
            rc = put_json_str(b, sorted[i]);
    }
    evs__free(sorted);
    return rc == 0 ? put(b, "]", 1) : rc;
}

static int encode(evs__buf *b, const evs_query *q)
{
    int rc = put(b, "{", 1);
    if (rc == 0 && q->stream) {
        rc = put_key(b, "stream");
        if (rc == 0)
            rc = put_json_str(b, q->stream);
        if (rc == 0 && q->from_version > 0) {
            char num[24];
            int n = snprintf(num, sizeof num, "%" PRId64, q->from_version);
            rc = put_key(b, "from_version");
            if (rc == 0)
                rc = put(b, num, (size_t)n);
        }
    }
    if (rc == 0 && q->types && q->type_count > 0)
        rc = put_types(b, q);
    if (rc == 0 && q->category) {
        rc = put_key(b, "category");
        if (rc == 0)
            rc = put_json_str(b, q->category);
    }
    if (rc == 0 && q->prefix) {
        rc = put_key(b, "prefix");
        if (rc == 0)
            rc = put_json_str(b, q->prefix);
    }
    if (rc == 0 && q->since_ns != 0)
        rc = put_time(b, "since", q->since_ns);
    if (rc == 0 && q->until_ns != 0)
        rc = put_time(b, "until", q->until_ns);
    if (rc == 0)
        rc = put(b, "}", 1); /* evs__buf keeps a NUL after it */
    return rc;
}

int evs__filter_encode(const evs_query *q, const char *consumer, char **out)
{
    evs_query adopted; /* the fields q's version lacks, as EVS_QUERY_INIT has them */
    int rc = evs__query_adopt(&adopted, q, "consumer filter");
    if (rc < 0)
        return rc;
    evs__buf b = EVS__BUF_INIT;
    rc = encode(&b, &adopted);
    if (rc == 0 && b.len > EVS__MAX_FILTER_TEXT)
        rc = evs__seterr(EVS_EINVAL,
                         "consumer '%s': its filter takes %zu bytes written out; at most %u "
                         "can be kept with a checkpoint",
                         consumer, b.len, EVS__MAX_FILTER_TEXT);
    else if (rc < 0)
        rc = evs__seterr(EVS_ENOMEM, "out of memory writing consumer '%s''s filter", consumer);
    if (rc < 0) {
        evs__buf_free(&b);
        return rc;
    }
    *out = b.ptr;
    return 0;
}
