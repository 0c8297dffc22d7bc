/*
 * frame_cache.c - decompressed frames of compressed segments, kept for the reads that
 * come next: a whole-stream read visits a frame once per event of the stream it holds,
 * and a replay reads a record across a frame boundary twice. Bytes are copied out under
 * the lock, so a frame can go at any time; the memory is bounded (FRAME_CACHE_DEFAULT
 * frames) whatever the number of segments or handles, and freed with the segment.
 */
#include "frame_cache.h"
#include "util.h"

#include <pthread.h>
#include <string.h>

#define SLOTS FRAME_CACHE_DEFAULT

static struct slot {
    const void *owner; /* NULL: empty */
    uint32_t i;
    unsigned char *buf;
    size_t cap;
    uint64_t used; /* tick of its last use */
} slots[SLOTS];

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t tick;
static size_t held; /* slots with an owner */
static size_t limit = SLOTS;

static struct slot *find(const void *owner, uint32_t i)
{
    for (size_t k = 0; k < SLOTS; k++)
        if (slots[k].owner == owner && slots[k].i == i)
            return &slots[k];
    return NULL;
}

static struct slot *oldest(void)
{
    struct slot *o = NULL;
    for (size_t k = 0; k < SLOTS; k++)
        if (slots[k].owner && (!o || slots[k].used < o->used))
            o = &slots[k];
    return o;
}

bool evs__fcache_get(const void *owner, uint32_t i, size_t in, size_t n, void *out)
{
    pthread_mutex_lock(&mu);
    struct slot *s = find(owner, i);
    if (s && in + n <= s->cap) {
        memcpy(out, s->buf + in, n);
        s->used = ++tick;
    }
    pthread_mutex_unlock(&mu);
    return s && in + n <= s->cap;
}

unsigned char *evs__fcache_take(size_t cap)
{
    unsigned char *buf = NULL;
    size_t had = 0;
    pthread_mutex_lock(&mu);
    if (held >= limit) {
        struct slot *o = oldest();
        buf = o->buf;
        had = o->cap;
        *o = (struct slot){0};
        held--;
    }
    pthread_mutex_unlock(&mu);
    if (buf && had >= cap)
        return buf;
    evs__free(buf);
    return evs__alloc(cap);
}

void evs__fcache_put(const void *owner, uint32_t i, unsigned char *buf, size_t cap)
{
    unsigned char *spare = NULL;
    pthread_mutex_lock(&mu);
    struct slot *s = find(owner, i); /* another thread decompressed it meanwhile */
    if (s) {
        spare = buf;
    } else {
        if (held >= limit) { /* others filled the room since the take */
            s = oldest();
            spare = s->buf;
            held--;
        } else {
            for (size_t k = 0; !s && k < SLOTS; k++) /* an empty slot: held < limit */
                if (!slots[k].owner)
                    s = &slots[k];
        }
        *s = (struct slot){owner, i, buf, cap, ++tick};
        held++;
    }
    pthread_mutex_unlock(&mu);
    evs__free(spare);
}

void evs__fcache_forget(const void *owner)
{
    pthread_mutex_lock(&mu);
    for (size_t k = 0; k < SLOTS; k++)
        if (slots[k].owner == owner) {
            evs__free(slots[k].buf);
            slots[k] = (struct slot){0};
            held--;
        }
    pthread_mutex_unlock(&mu);
}

void evs__fcache_set_limit(size_t frames)
{
    pthread_mutex_lock(&mu);
    limit = frames == 0 || frames > SLOTS ? SLOTS : frames;
    while (held > limit) {
        struct slot *o = oldest();
        evs__free(o->buf);
        *o = (struct slot){0};
        held--;
    }
    pthread_mutex_unlock(&mu);
}
