/*
 * append_streams.c - what `evstore append` remembers per stream between commits: whether
 * the stream was already seen in this invocation (so --expected-version applies only
 * to its first batch) and, once an expectation pinned a version, the version the next
 * batch must expect. An open-addressing hash table keyed by stream name; entries are
 * only ever added, and only for streams that need one.
 */
#include "append.h"

#include <stdlib.h>
#include <string.h>

static size_t slot_of(const ap_streams *m, const char *name, uint64_t hash)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)hash & mask;
    while (m->slots[i].name != NULL &&
           (m->slots[i].hash != hash || strcmp(m->slots[i].name, name) != 0))
        i = (i + 1) & mask;
    return i;
}

ap_stream_state *ap_streams_find(const ap_streams *m, const char *name)
{
    if (m->count == 0)
        return NULL;
    size_t i = slot_of(m, name, evs__hash64(name, strlen(name)));
    return m->slots[i].name != NULL ? &m->slots[i] : NULL;
}

static int grow(ap_streams *m)
{
    size_t cap = m->cap == 0 ? 64 : m->cap * 2;
    ap_stream_state *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return -1;
    ap_streams bigger = {slots, cap, m->count};
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].name != NULL)
            slots[slot_of(&bigger, m->slots[i].name, m->slots[i].hash)] = m->slots[i];
    }
    free(m->slots);
    *m = bigger;
    return 0;
}

ap_stream_state *ap_streams_add(ap_streams *m, const char *name)
{
    /* Keep the load at or below one half so probe runs stay short. */
    if ((m->count + 1) * 2 > m->cap && grow(m) < 0)
        return NULL;
    uint64_t hash = evs__hash64(name, strlen(name));
    size_t i = slot_of(m, name, hash);
    if (m->slots[i].name != NULL)
        return &m->slots[i];
    size_t len = strlen(name);
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, name, len + 1);
    m->slots[i] = (ap_stream_state){copy, hash, false, -1};
    m->count++;
    /* The slot owns the copy now; ap_streams_free frees it. */
    /* cppcheck-suppress memleak */
    return &m->slots[i];
}

void ap_streams_free(ap_streams *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].name);
    free(m->slots);
    m->slots = NULL;
    m->cap = 0;
    m->count = 0;
}
