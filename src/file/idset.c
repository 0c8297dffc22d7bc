/*
 * idset.c - event-id fingerprints and where each was seen (see idset.h).
 */
#include "idset.h"
#include "evstore.h"
#include "util.h"

#include <string.h>

typedef struct id_slot {
    uint64_t f;   /* the fingerprint; 0 = empty */
    uint64_t pos; /* where it was last seen, or 0 */
} id_slot;

struct id_set {
    id_slot *slots; /* NULL until the first add */
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

static const id_slot *find(const id_set *s, uint64_t f)
{
    if (!s->cap)
        return NULL;
    size_t mask = s->cap - 1;
    for (size_t i = f & mask; s->slots[i].f; i = (i + 1) & mask)
        if (s->slots[i].f == f)
            return &s->slots[i];
    return NULL;
}

bool evs__idset_has(const id_set *s, uint64_t f)
{
    return find(s, f) != NULL;
}

uint64_t evs__idset_pos(const id_set *s, uint64_t f)
{
    const id_slot *e = find(s, f);
    return e ? e->pos : 0;
}

bool evs__idset_add(id_set *s, uint64_t f, uint64_t pos)
{
    if ((s->count + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        id_slot *n = cap / 2 <= s->max ? evs__calloc(cap, sizeof *n) : NULL;
        if (!n) {
            evs__clearerr();
            evs__idset_clear(s);
            return false;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slots[i].f)
                continue;
            size_t j = s->slots[i].f & (cap - 1);
            while (n[j].f)
                j = (j + 1) & (cap - 1);
            n[j] = s->slots[i];
        }
        evs__free(s->slots);
        s->slots = n;
        s->cap = cap;
    }
    size_t mask = s->cap - 1, i = f & mask;
    while (s->slots[i].f && s->slots[i].f != f)
        i = (i + 1) & mask;
    if (!s->slots[i].f) {
        s->slots[i].f = f;
        s->count++;
    }
    if (pos)
        s->slots[i].pos = pos;
    return true;
}
