/*
 * visibility.c - the lifecycle filter every cursor applies: an event is read unless
 * its stream's settings (stream_meta.c) leave it out.
 *
 * A stream read looks its one stream's settings up. A log-wide read cannot afford a
 * lookup per stream it meets, so it first learns which streams have settings at all
 * from the "$lifecycle" stream (a set of stream hashes, 8 bytes per such stream, read
 * incrementally) and looks up only those, through a small cache. Both the set and the
 * cache are refreshed once a second, which bounds how long an open cursor (a
 * subscription, say) goes on with settings changed after it read them.
 */
#include "core.h"
#include "json.h"
#include "query.h"
#include "stream_meta.h"
#include "visibility.h"

#include <string.h>
#include <time.h>

#define REFRESH_NS  1000000000LL
#define CACHE_SLOTS 256 /* streams with settings a log read keeps at hand; a power of 2 */

typedef struct cached {
    bool valid;
    uint64_t hash;
    char *name;
    size_t len;
    int64_t fetched_ns;   /* monotonic */
    evs_stream_meta meta;
    int64_t first_kept;   /* the lowest version read: truncate_before and max_count */
} cached;

struct evs__vis {
    const evs__backend_methods *m;
    evs__backend *be;
    const evs__query_c *q;
    /* log-wide reads: the hashes of the streams with settings (open addressing, 0 =
     * empty slot, a hash of 0 is stored as 1) */
    uint64_t *set;
    size_t set_cap, set_count;
    int64_t set_version; /* the last "$lifecycle" version read into it */
    int64_t set_checked_ns;
    cached cache[CACHE_SLOTS];
};

/* Refreshing once a second needs no finer clock, and the coarse one costs a few
 * nanoseconds against a few tens: it is read for every event a cursor meets. */
static int64_t coarse_now_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t set_key(uint64_t h)
{
    return h ? h : 1;
}

static bool set_has(const evs__vis *v, uint64_t h)
{
    if (v->set_count == 0)
        return false;
    uint64_t k = set_key(h);
    for (size_t i = (size_t)(k * 0x9E3779B97F4A7C15ull) & (v->set_cap - 1);; i = (i + 1) & (v->set_cap - 1)) {
        if (v->set[i] == k)
            return true;
        if (v->set[i] == 0)
            return false;
    }
}

static void set_put_slot(uint64_t *set, size_t cap, uint64_t k)
{
    size_t i = (size_t)(k * 0x9E3779B97F4A7C15ull) & (cap - 1);
    while (set[i] != 0 && set[i] != k)
        i = (i + 1) & (cap - 1);
    set[i] = k;
}

static int set_add(evs__vis *v, uint64_t h)
{
    uint64_t k = set_key(h);
    if (set_has(v, k))
        return 0;
    if ((v->set_count + 1) * 2 > v->set_cap) {
        size_t cap = v->set_cap ? v->set_cap * 2 : 64;
        uint64_t *grown = evs__calloc(cap, sizeof *grown);
        if (!grown)
            return evs__seterr(EVS_ENOMEM, "out of memory listing the streams with settings");
        for (size_t i = 0; i < v->set_cap; i++)
            if (v->set[i])
                set_put_slot(grown, cap, v->set[i]);
        evs__free(v->set);
        v->set = grown;
        v->set_cap = cap;
    }
    set_put_slot(v->set, v->set_cap, k);
    v->set_count++;
    return 0;
}

/* The name a "$lifecycle" event gives, unescaped, added to the set. */
static int add_named(evs__vis *v, const evs_event *ev)
{
    const char *raw;
    size_t raw_len;
    if (evs__lifecycle_parse(&raw, &raw_len, ev->data, ev->data_len) < 0)
        return evs__seterr(EVS_ECORRUPT, "stream '%s' at position %lld: not {\"stream\":NAME}",
                           EVS__LIFECYCLE_STREAM, (long long)ev->pos);
    if (memchr(raw, '\\', raw_len) == NULL)
        return set_add(v, evs__hash64(raw, raw_len));
    char *name = evs__alloc(raw_len);
    if (!name)
        return evs__seterr(EVS_ENOMEM, "out of memory listing the streams with settings");
    size_t len;
    evs__json_error jerr;
    int rc = evs__json_unescape(raw, raw_len, name, &len, &jerr) == 0
                 ? set_add(v, evs__hash64(name, len))
                 : evs__seterr(EVS_ECORRUPT, "stream '%s' at position %lld: a bad escape",
                               EVS__LIFECYCLE_STREAM, (long long)ev->pos);
    evs__free(name);
    return rc;
}

/* Read the "$lifecycle" events added since the last look. */
static int refresh_set(evs__vis *v, int64_t now)
{
    v->set_checked_ns = now;
    static const char name[] = EVS__LIFECYCLE_STREAM;
    evs_stream_info info;
    int rc = v->m->stream_get(v->be, name, sizeof name - 1, evs__hash64(name, sizeof name - 1),
                              &info);
    if (rc < 0 || info.last_version <= v->set_version)
        return rc;
    evs_query q = EVS_QUERY_INIT;
    q.stream = name;
    q.from_version = v->set_version + 1;
    evs__query_c qc;
    evs__be_cursor *c = NULL;
    rc = evs__query_compile(&qc, &q);
    if (rc == 0)
        rc = v->m->cursor_open(&c, v->be, &qc);
    evs_event ev;
    while (rc == 0 && (rc = v->m->cursor_next(c, &ev)) > 0 && ev.version <= info.last_version) {
        if ((rc = add_named(v, &ev)) == 0)
            v->set_version = ev.version;
    }
    if (c)
        v->m->cursor_close(c);
    evs__query_free(&qc);
    return rc < 0 ? rc : 0;
}

/* The lowest version the settings let be read, given the stream's last version. */
static int64_t first_kept(const evs_stream_meta *meta, int64_t last_version)
{
    int64_t first = meta->truncate_before;
    if (meta->max_count > 0 && last_version - meta->max_count + 1 > first)
        first = last_version - meta->max_count + 1;
    return first;
}

static int fill(evs__vis *v, cached *e, const char *stream, size_t len, uint64_t hash,
                int64_t now)
{
    int64_t meta_version;
    evs_stream_info info = {0, -1, 0, 0, 0};
    int rc = evs__meta_load(&e->meta, &meta_version, v->m, v->be, stream, len);
    if (rc == 0 && e->meta.max_count > 0)
        rc = v->m->stream_get(v->be, stream, (uint32_t)len, hash, &info);
    if (rc < 0)
        return rc;
    if (!e->name || e->len != len || memcmp(e->name, stream, len) != 0) {
        char *name = evs__strndup(stream, len);
        if (!name)
            return evs__seterr(EVS_ENOMEM, "out of memory reading a stream's settings");
        evs__free(e->name);
        e->name = name;
        e->len = len;
    }
    e->hash = hash;
    e->fetched_ns = now;
    e->first_kept = first_kept(&e->meta, info.last_version);
    e->valid = true;
    return 0;
}

int evs__vis_open(evs__vis **out, const evs__backend_methods *m, evs__backend *be,
                  evs__query_c *q)
{
    evs__vis *v = evs__calloc(1, sizeof *v);
    if (!v)
        return evs__seterr(EVS_ENOMEM, "out of memory opening a cursor");
    v->m = m;
    v->be = be;
    v->q = q;
    v->set_version = -1;
    int64_t now = coarse_now_ns();
    int rc = 0;
    if (q->stream && !evs__is_lifecycle_stream(q->stream, q->stream_len)) {
        cached *e = &v->cache[0];
        rc = fill(v, e, q->stream, q->stream_len, q->stream_hash, now);
        /* Start a forward stream read at its first readable version, instead of
         * stepping over every version cut off. */
        if (rc == 0 && q->direction == EVS_FORWARD && !e->meta.deleted &&
            q->from_version < e->first_kept)
            q->from_version = e->first_kept;
    } else if (!q->stream) {
        rc = refresh_set(v, now);
    }
    if (rc < 0) {
        evs__vis_close(v);
        return rc;
    }
    *out = v;
    return 0;
}

int evs__vis_check(evs__vis *v, const evs_event *ev)
{
    if (ev->stream_len > 0 && ev->stream[0] == '$' &&
        evs__is_lifecycle_stream(ev->stream, ev->stream_len))
        return EVS__VIS_READ;
    int64_t now = coarse_now_ns();
    cached *e;
    int rc;
    if (v->q->stream) {
        e = &v->cache[0];
        if (now - e->fetched_ns > REFRESH_NS &&
            (rc = fill(v, e, ev->stream, ev->stream_len, v->q->stream_hash, now)) < 0)
            return rc;
    } else {
        if (now - v->set_checked_ns > REFRESH_NS && (rc = refresh_set(v, now)) < 0)
            return rc;
        if (v->set_count == 0)
            return EVS__VIS_READ;
        uint64_t hash = evs__hash64(ev->stream, ev->stream_len);
        if (!set_has(v, hash))
            return EVS__VIS_READ;
        e = &v->cache[hash & (CACHE_SLOTS - 1)];
        if ((!e->valid || e->hash != hash || e->len != ev->stream_len ||
             memcmp(e->name, ev->stream, e->len) != 0 || now - e->fetched_ns > REFRESH_NS) &&
            (rc = fill(v, e, ev->stream, ev->stream_len, hash, now)) < 0)
            return rc;
    }
    bool backward_stream = v->q->stream && v->q->direction == EVS_BACKWARD;
    if (e->meta.deleted)
        return v->q->stream ? EVS__VIS_END : EVS__VIS_SKIP;
    if (ev->version < e->first_kept)
        return backward_stream ? EVS__VIS_END : EVS__VIS_SKIP;
    /* Times never decrease along positions: going backward, all that follows is older. */
    if (e->meta.max_age_ns > 0 && ev->ts_ns < evs__now_ns() - e->meta.max_age_ns)
        return backward_stream ? EVS__VIS_END : EVS__VIS_SKIP;
    return EVS__VIS_READ;
}

void evs__vis_close(evs__vis *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        evs__free(v->cache[i].name);
    evs__free(v->set);
    evs__free(v);
}
