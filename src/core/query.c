/*
 * query.c - checking a caller's evs_query and compiling it into evs__query_c: owned
 * copies of every string (the caller may free theirs at once) and hashed types, so
 * that the per-event filter is a few integer compares.
 */
#include "core.h"
#include "query.h"

#include <inttypes.h>
#include <string.h>

void evs__query_free(evs__query_c *q)
{
    evs__free(q->stream);
    evs__free(q->category);
    evs__free(q->prefix);
    for (size_t i = 0; i < q->type_count; i++)
        evs__free(q->types[i]);
    evs__free(q->types);
    evs__free(q->type_lens);
    evs__free(q->type_hashes);
    memset(q, 0, sizeof *q);
}

static int copy_name(char **dst, uint32_t *len_out, const char *src, size_t max,
                     const char *what)
{
    size_t len;
    int rc = evs__check_name(src, max, what, "query", &len);
    if (rc < 0)
        return rc;
    *dst = evs__strndup(src, len);
    if (!*dst)
        return evs__seterr(EVS_ENOMEM, "out of memory copying the query");
    *len_out = (uint32_t)len;
    return 0;
}

static int compile_types(evs__query_c *c, const evs_query *q)
{
    if (q->type_count == 0)
        return 0;
    if (!q->types)
        return evs__seterr(EVS_EINVAL, "query: type_count is %zu but types is NULL",
                           q->type_count);
    c->types = evs__calloc(q->type_count, sizeof *c->types);
    c->type_lens = evs__calloc(q->type_count, sizeof *c->type_lens);
    c->type_hashes = evs__calloc(q->type_count, sizeof *c->type_hashes);
    if (!c->types || !c->type_lens || !c->type_hashes)
        return evs__seterr(EVS_ENOMEM, "out of memory copying the query");
    for (size_t i = 0; i < q->type_count; i++) {
        int rc = copy_name(&c->types[i], &c->type_lens[i], q->types[i], EVS_MAX_TYPE_LEN,
                           "event type");
        if (rc < 0)
            return rc;
        c->type_count++;
        c->type_hashes[i] = (uint32_t)evs__hash64(c->types[i], c->type_lens[i]);
    }
    return 0;
}

/* Where each version's fields end; a new version adds its line. */
static const size_t query_ends[] = {0, EVS__FIELDS_END(evs_query, limit)};
_Static_assert(sizeof query_ends / sizeof query_ends[0] == EVS_QUERY_VERSION + 1,
               "every query version has its line in query_ends");

int evs__query_adopt(evs_query *out, const evs_query *given, const char *what)
{
    const evs_query all = EVS_QUERY_INIT;
    return evs__versioned_copy(out, &all, given ? given : &all, sizeof *out, query_ends,
                               EVS_QUERY_VERSION, what, "EVS_QUERY_INIT");
}

int evs__query_compile(evs__query_c *c, const evs_query *given)
{
    memset(c, 0, sizeof *c);
    evs_query adopted;
    const evs_query *q = &adopted;
    int rc = evs__query_adopt(&adopted, given, "query");
    if (rc < 0)
        return rc;
    if (q->direction != EVS_FORWARD && q->direction != EVS_BACKWARD)
        rc = evs__seterr(EVS_EINVAL, "query: direction %d is neither forward nor backward",
                         q->direction);
    else if (q->from_pos < 0 || q->to_pos < 0)
        rc = evs__seterr(EVS_EINVAL, "query: positions must be >= 0 (from_pos %" PRId64
                         ", to_pos %" PRId64 ")", q->from_pos, q->to_pos);
    else if (q->from_version < -1)
        rc = evs__seterr(EVS_EINVAL, "query: from_version %" PRId64 " is not valid",
                         q->from_version);
    else if (q->since_ns && q->until_ns && q->until_ns <= q->since_ns)
        rc = evs__seterr(EVS_EINVAL, "query: until is not after since");
    if (rc < 0)
        return rc;
    c->direction = q->direction;
    c->from_pos = q->from_pos;
    c->to_pos = q->to_pos;
    c->from_version = q->from_version;
    c->since_ns = q->since_ns;
    c->until_ns = q->until_ns;
    c->limit = q->limit;
    if (q->stream) {
        rc = copy_name(&c->stream, &c->stream_len, q->stream, EVS_MAX_STREAM_LEN, "stream name");
        if (rc == 0)
            c->stream_hash = evs__hash64(c->stream, c->stream_len);
    }
    if (rc == 0 && q->category)
        rc = copy_name(&c->category, &c->category_len, q->category, EVS_MAX_STREAM_LEN,
                       "category");
    if (rc == 0 && q->prefix)
        rc = copy_name(&c->prefix, &c->prefix_len, q->prefix, EVS_MAX_STREAM_LEN, "prefix");
    if (rc == 0)
        rc = compile_types(c, q);
    if (rc < 0) {
        evs__query_free(c);
        return rc;
    }
    c->filters = c->type_count || c->category || c->prefix || c->since_ns || c->until_ns;
    return 0;
}
