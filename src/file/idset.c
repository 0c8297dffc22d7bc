/*
 * idset.c - a set of event-id fingerprints (see idset.h).
 */
#include "idset.h"
#include "evstore.h"
#include "util.h"

#include <string.h>

struct id_set {
    uint64_t *slots; /* 0 = empty; NULL until the first add */
    size_t cap;      /* power of two, or 0 */
    size_t count;
    size_t max;
};

uint64_t evs__id_fingerprint(const unsigned char *id)
{
    uint64_t a, b;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    uint64_t f = a ^ (b * 0x9e3779b97f4a7c15u);
    return f ? f : 1;
}

id_set *evs__idset_new(size_t max)
{
    id_set *s = evs__calloc(1, sizeof *s);
    if (s)
        s->max = max;
    return s;
}

void evs__idset_free(id_set *s)
{
    if (!s)
        return;
    evs__free(s->slots);
    evs__free(s);
}

void evs__idset_clear(id_set *s)
{
    evs__free(s->slots);
    s->slots = NULL;
    s->cap = s->count = 0;
}

size_t evs__idset_count(const id_set *s)
{
    return s->count;
}

bool evs__idset_has(const id_set *s, uint64_t f)
{
    if (!s->cap)
        return false;
    size_t mask = s->cap - 1;
    for (size_t i = f & mask; s->slots[i]; i = (i + 1) & mask)
        if (s->slots[i] == f)
            return true;
    return false;
}

bool evs__idset_add(id_set *s, uint64_t f)
{
    if ((s->count + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        uint64_t *n = cap / 2 <= s->max ? evs__calloc(cap, sizeof *n) : NULL;
        if (!n) {
            evs__clearerr();
            evs__idset_clear(s);
            return false;
        }
        for (size_t i = 0; i < s->cap; i++) {
            uint64_t v = s->slots[i];
            if (!v)
                continue;
            size_t j = v & (cap - 1);
            while (n[j])
                j = (j + 1) & (cap - 1);
            n[j] = v;
        }
        evs__free(s->slots);
        s->slots = n;
        s->cap = cap;
    }
    size_t mask = s->cap - 1, i = f & mask;
    while (s->slots[i] && s->slots[i] != f)
        i = (i + 1) & mask;
    if (!s->slots[i]) {
        s->slots[i] = f;
        s->count++;
    }
    return true;
}
