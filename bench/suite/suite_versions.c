/*
 * suite_versions.c - the peers' table of stream versions (suite_versions.h): open
 * addressing with linear probing over copies of the names, FNV-1a hashed, grown at 70%.
 */
#include "suite_versions.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot {
    char *name; /* NULL: empty */
    uint64_t hash;
    int64_t last;
} slot;

struct suite_versions {
    slot *slots;
    size_t cap, used; /* cap: a power of two */
    int complete;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static slot *find(const suite_versions *v, const char *name, uint64_t h)
{
    for (size_t i = h & (v->cap - 1);; i = (i + 1) & (v->cap - 1)) {
        slot *s = &v->slots[i];
        if (!s->name || (s->hash == h && !strcmp(s->name, name)))
            return s;
    }
}

suite_versions *suite_versions_new(void)
{
    suite_versions *v = calloc(1, sizeof *v);
    if (v && !(v->slots = calloc(v->cap = 1024, sizeof *v->slots))) {
        free(v);
        return NULL;
    }
    if (v)
        v->complete = 1;
    return v;
}

void suite_versions_forget(suite_versions *v, int complete)
{
    for (size_t i = 0; i < v->cap; i++)
        free(v->slots[i].name);
    memset(v->slots, 0, v->cap * sizeof *v->slots);
    v->used = 0;
    v->complete = complete;
}

void suite_versions_free(suite_versions *v)
{
    if (!v)
        return;
    suite_versions_forget(v, 0);
    free(v->slots);
    free(v);
}

int64_t suite_versions_get(const suite_versions *v, const char *stream)
{
    const slot *s = find(v, stream, fnv1a(stream));
    return s->name ? s->last : v->complete ? -1 : SUITE_VERSION_UNKNOWN;
}

static int grow(suite_versions *v)
{
    slot *old = v->slots;
    size_t n = v->cap;
    if (!(v->slots = calloc(n * 2, sizeof *v->slots))) {
        v->slots = old;
        return -1;
    }
    v->cap = n * 2;
    for (size_t i = 0; i < n; i++)
        if (old[i].name)
            *find(v, old[i].name, old[i].hash) = old[i];
    free(old);
    return 0;
}

int suite_versions_set(suite_versions *v, const char *stream, int64_t last)
{
    uint64_t h = fnv1a(stream);
    slot *s = find(v, stream, h);
    if (!s->name) {
        if ((v->used + 1) * 10 > v->cap * 7) {
            if (grow(v) != 0) {
                suite_versions_forget(v, 0);
                return -1;
            }
            s = find(v, stream, h);
        }
        if (!(s->name = strdup(stream))) {
            suite_versions_forget(v, 0);
            return -1;
        }
        s->hash = h;
        v->used++;
    }
    s->last = last;
    return 0;
}
