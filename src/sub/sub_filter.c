/*
 * sub_filter.c - a deep copy of an evs_query, in one allocation.
 *
 * A subscription's cursor copies its query when it is opened, but a live subscription
 * opens a new cursor each time it skips ahead, long after evs_subscribe_live returned
 * and the caller may have freed its query. So it keeps its own copy: the types array
 * first (pointer-aligned), then every string, NUL-terminated.
 */
#include "sub_internal.h"

static size_t str_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

/* Copy s to *cursor, advance it, and return the copy (NULL stays NULL). */
static const char *put_str(char **cursor, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *copy = *cursor;
    memcpy(copy, s, n);
    *cursor += n;
    return copy;
}

int evs__filter_copy(evs__filter *out, const evs_query *q)
{
    const evs_query all = EVS_QUERY_INIT;
    memset(out, 0, sizeof *out);
    out->q = q ? *q : all;
    size_t type_count = out->q.types ? out->q.type_count : 0;
    size_t len = type_count * sizeof(char *);
    len += str_size(out->q.stream) + str_size(out->q.category) + str_size(out->q.prefix);
    for (size_t i = 0; i < type_count; i++)
        len += str_size(out->q.types[i]);
    if (len == 0)
        return 0;
    out->mem = evs__alloc(len);
    if (!out->mem)
        return evs__seterr(EVS_ENOMEM, "out of memory copying a subscription's filter");
    const char **types = out->mem;
    char *cursor = (char *)out->mem + type_count * sizeof(char *);
    for (size_t i = 0; i < type_count; i++)
        types[i] = put_str(&cursor, out->q.types[i]);
    out->q.types = type_count ? types : NULL;
    out->q.stream = put_str(&cursor, out->q.stream);
    out->q.category = put_str(&cursor, out->q.category);
    out->q.prefix = put_str(&cursor, out->q.prefix);
    return 0;
}

void evs__filter_free(evs__filter *f)
{
    evs__free(f->mem);
    f->mem = NULL;
}
