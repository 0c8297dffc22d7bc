/*
 * streamtab.c - the stream table: stream name -> first position, last position, last
 * version. It is what makes expected-version checks and stream reads cheap.
 *
 * Two levels. The base is the persistent stream index (sindex.c): runs on disk, used
 * in place through mmap and read a page at a time, so opening costs the same whatever
 * the number of streams. The overlay is an in-memory hash table of the streams touched
 * since the base's last run, filled by scanning the log from there. The writer writes
 * the overlay as a new run (and drops it) once enough log or enough streams have gone
 * into it, which bounds both the next open's scan and the writer's memory.
 *
 * The log is the truth: a missing or stray run ends the base's chain early (the log is
 * scanned from there), and a base found wrong at a lookup (a damaged page, an entry the
 * log contradicts) is dropped and the table rebuilt by scanning the whole log.
 */
#include "streamtab.h"
#include "evstore.h"
#include "file_backend.h"
#include "log_start.h"
#include "format.h"
#include "head.h"
#include "lost_ranges.h"
#include "path.h"
#include "record.h"
#include "recover.h"
#include "segment.h"
#include "sindex.h"
#include "sysio.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uint64_t key(uint64_t hash)
{
    return hash ? hash : 1; /* 0 marks an empty slot */
}

void evs__tab_init(streamtab *t, file_backend *fb)
{
    memset(t, 0, sizeof *t);
    t->fb = fb;
    t->known_off = SEG_HDR_LEN;
    t->known_seg = 1;
}

static void ent_free_name(stream_ent *e)
{
    if (e->name_len > ENT_INLINE_NAME)
        evs__free(e->name.heap);
}

static void overlay_free(streamtab *t)
{
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].hash)
            ent_free_name(&t->slots[i]);
    evs__free(t->slots);
    t->slots = NULL;
    t->cap = t->count = t->new_count = 0;
}

static void base_drop(streamtab *t)
{
    evs__sidx_release_all(t->runs, t->run_n);
    t->runs = NULL;
    t->run_n = 0;
    t->base_streams = t->base_covered = 0;
}

void evs__tab_free(streamtab *t)
{
    overlay_free(t);
    base_drop(t);
}

bool evs__tab_has_base(const streamtab *t)
{
    return t->run_n > 0;
}

/* ---- base lookups ---------------------------------------------------------------- */

/* 1 found, 0 not, or EVS_ECORRUPT: the base lied (flagged for a rebuild). Readers call
 * it under the read lock, so the flag is set atomically. */
static int base_get(const streamtab *t, const char *name, uint32_t len, uint64_t k,
                    stream_val *out)
{
    if (!t->run_n)
        return 0;
    int rc = evs__sidx_find(t->fb, t->runs, t->run_n, name, len, k, out);
    if (rc < 0 && evs__lasterr_code() == EVS_ECORRUPT)
        __atomic_store_n(&((streamtab *)t)->base_lied, 1, __ATOMIC_RELEASE);
    return rc;
}

static bool base_lied(const streamtab *t)
{
    return __atomic_load_n(&t->base_lied, __ATOMIC_ACQUIRE) != 0;
}

/* ---- overlay --------------------------------------------------------------------- */

static stream_ent *overlay_find(const streamtab *t, const char *name, uint32_t len, uint64_t k)
{
    if (!t->cap)
        return NULL;
    size_t mask = t->cap - 1;
    for (size_t i = k & mask;; i = (i + 1) & mask) {
        stream_ent *e = &t->slots[i];
        if (e->hash == 0)
            return NULL;
        if (e->hash == k && e->name_len == len && memcmp(evs__ent_name(e), name, len) == 0)
            return e;
    }
}

static int overlay_grow(streamtab *t)
{
    size_t cap = t->cap ? t->cap * 2 : 256;
    stream_ent *slots = evs__calloc(cap, sizeof *slots);
    if (!slots)
        return evs__seterr(EVS_ENOMEM, "out of memory growing the stream table");
    for (size_t i = 0; i < t->cap; i++) {
        stream_ent *e = &t->slots[i];
        if (!e->hash)
            continue;
        size_t j = e->hash & (cap - 1);
        while (slots[j].hash)
            j = (j + 1) & (cap - 1);
        slots[j] = *e;
    }
    evs__free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

/* A new overlay entry for a stream missing from it, with the base's state b. */
static int overlay_insert(streamtab *t, const char *name, uint32_t len, uint64_t k,
                          const stream_val *b, bool in_base, stream_ent **out)
{
    /* Keep the load factor at or below 1/2 so probes stay short. */
    if ((t->count + 1) * 2 > t->cap) {
        int rc = overlay_grow(t);
        if (rc < 0)
            return rc;
    }
    char *copy = NULL;
    if (len > ENT_INLINE_NAME && !(copy = evs__strndup(name, len)))
        return evs__seterr(EVS_ENOMEM, "out of memory adding stream to the table");
    size_t i = k & (t->cap - 1);
    while (t->slots[i].hash)
        i = (i + 1) & (t->cap - 1);
    stream_ent *e = &t->slots[i];
    e->hash = k;
    e->name_len = (uint16_t)len;
    e->ids_complete = false;
    if (copy)
        e->name.heap = copy;
    else
        memcpy(e->name.inl, name, len);
    e->in_base = in_base;
    e->first_pos = b->first_pos;
    e->last_pos = b->last_pos;
    e->last_version = b->last_version;
    e->last_off = b->last_off;
    if (!in_base)
        t->new_count++;
    t->count++;
    *out = e;
    return 0;
}

int evs__tab_get(const streamtab *t, const char *name, uint32_t len, uint64_t hash,
                 stream_val *out)
{
    uint64_t k = key(hash);
    const stream_ent *e = overlay_find(t, name, len, k);
    if (e) {
        out->first_pos = e->first_pos;
        out->last_pos = e->last_pos;
        out->last_version = e->last_version;
        out->last_off = e->last_off;
        return 1;
    }
    int rc = base_get(t, name, len, k, out);
    if (rc == 0) {
        out->first_pos = out->last_pos = 0;
        out->last_version = -1;
        out->last_off = 0;
    }
    return rc;
}

int evs__tab_upsert(streamtab *t, const char *name, uint32_t len, uint64_t hash,
                    stream_ent **out, tab_undo *undo)
{
    uint64_t k = key(hash);
    stream_ent *e = overlay_find(t, name, len, k);
    bool created = false;
    if (!e) {
        stream_val b = {0, 0, -1, 0};
        int found = base_get(t, name, len, k, &b);
        if (found < 0)
            return found;
        int rc = overlay_insert(t, name, len, k, &b, found > 0, &e);
        if (rc < 0)
            return rc;
        created = true;
    }
    if (undo) {
        undo->name = name;
        undo->name_len = len;
        undo->hash = hash;
        undo->created = created;
        undo->old.first_pos = e->first_pos;
        undo->old.last_pos = e->last_pos;
        undo->old.last_version = e->last_version;
        undo->old.last_off = e->last_off;
    }
    *out = e;
    return 0;
}

int evs__tab_apply(streamtab *t, const char *name, uint32_t len, uint64_t hash,
                   uint64_t first_pos, uint64_t last_pos, int64_t last_version,
                   uint32_t last_off, tab_undo *undo)
{
    stream_ent *e;
    int rc = evs__tab_upsert(t, name, len, hash, &e, undo);
    if (rc < 0)
        return rc;
    e->ids_complete = false; /* appended by someone else: its ids are not in our set */
    if (e->last_version < 0)
        e->first_pos = first_pos;
    e->last_pos = last_pos;
    e->last_version = last_version;
    e->last_off = last_off;
    return 0;
}

void evs__tab_undo(streamtab *t, const tab_undo *undo)
{
    stream_ent *e = overlay_find(t, undo->name, undo->name_len, key(undo->hash));
    if (!e)
        return;
    if (!undo->created) {
        e->first_pos = undo->old.first_pos;
        e->last_pos = undo->old.last_pos;
        e->last_version = undo->old.last_version;
        e->last_off = undo->old.last_off;
        return;
    }
    /* Remove the entry and re-seat the probe run after it (linear probing deletion).
     * Undo runs in reverse order of the changes, so the table returns to its state. */
    if (!e->in_base)
        t->new_count--;
    t->count--;
    ent_free_name(e);
    size_t mask = t->cap - 1;
    size_t i = (size_t)(e - t->slots);
    e->hash = 0;
    for (size_t j = (i + 1) & mask; t->slots[j].hash; j = (j + 1) & mask) {
        stream_ent moved = t->slots[j];
        t->slots[j].hash = 0;
        size_t h = moved.hash & mask;
        while (t->slots[h].hash)
            h = (h + 1) & mask;
        t->slots[h] = moved;
    }
}

size_t evs__tab_stream_count(const streamtab *t)
{
    return (size_t)t->base_streams + t->new_count;
}

size_t evs__tab_overlay_count(const streamtab *t)
{
    return t->count;
}

int evs__tab_each(const streamtab *t,
                  int (*cb)(void *ctx, const char *name, uint32_t len, const stream_val *v),
                  void *ctx)
{
    for (size_t i = 0; i < t->cap; i++) {
        const stream_ent *e = &t->slots[i];
        if (!e->hash || e->last_version < 0)
            continue;
        stream_val v = {e->first_pos, e->last_pos, e->last_version, e->last_off};
        int rc = cb(ctx, evs__ent_name(e), e->name_len, &v);
        if (rc)
            return rc;
    }
    if (!t->run_n)
        return 0;
    sidx_iter it;
    int rc = evs__sidx_iter_init(&it, t->runs, t->run_n);
    uint64_t k;
    stream_val v;
    while (rc == 0 && (rc = evs__sidx_iter_next(&it, &k, &v)) > 0) {
        const char *name;
        uint32_t len;
        if ((rc = evs__sidx_name(t->fb, k, &v, &name, &len)) < 0)
            break;
        if (rc == 1) { /* every event of it dropped by retention: no name to give */
            rc = 0;
            continue;
        }
        if (!overlay_find(t, name, len, k)) /* else the overlay's is newer, given already */
            rc = cb(ctx, name, len, &v);
    }
    evs__sidx_iter_free(&it);
    if (rc < 0 && evs__lasterr_code() == EVS_ECORRUPT)
        __atomic_store_n(&((streamtab *)t)->base_lied, 1, __ATOMIC_RELEASE);
    return rc < 0 ? rc : 0;
}

/* ---- the base: loading, persisting ------------------------------------------------ */

static void base_install(streamtab *t, sidx_run **runs, size_t n)
{
    base_drop(t);
    t->runs = runs;
    t->run_n = n;
    if (n) {
        const sidx_run *last = runs[n - 1];
        t->base_covered = evs__sidx_info(last)->to;
        t->base_streams = evs__sidx_info(last)->streams;
        t->known_pos = t->base_covered;
        t->known_seg = evs__sidx_info(last)->next_seg;
        t->known_off = evs__sidx_info(last)->next_off;
    }
}

int evs__tab_load_base(file_backend *fb)
{
    streamtab *t = &fb->tab;
    sidx_run **runs;
    size_t n;
    int rc = evs__sidx_load(fb, UINT64_MAX, &runs, &n);
    if (rc < 0)
        return rc;
    if (!n) {
        evs__free(runs);
        return 0;
    }
    overlay_free(t);
    base_install(t, runs, n);
    return 0;
}

/* Reset to "nothing known": the next catch-up scans from the log's start, or from the
 * base when it is loaded again. */
static void tab_reset(streamtab *t)
{
    file_backend *fb = t->fb;
    uint64_t distrusted_at = t->distrusted_at;
    bool persists = t->persists;
    evs__tab_free(t);
    evs__tab_init(t, fb);
    t->distrusted_at = distrusted_at;
    t->persists = persists;
}

/* The base was found wrong: forget it, and do not load it again until a writer has
 * indexed past what it covered. The table is rebuilt from the whole log. */
static void tab_distrust(streamtab *t)
{
    if (t->base_covered > t->distrusted_at)
        t->distrusted_at = t->base_covered;
    tab_reset(t);
    t->loaded = true; /* loaded: with no base */
}

int evs__tab_drop_base_after(file_backend *fb, uint64_t pos)
{
    int fd = evs__sidx_lock_merges(fb, true);
    if (fd < 0)
        return fd;
    int rc = evs__sidx_remove(fb, pos, false);
    evs__sidx_unlock_merges(fd);
    return rc;
}

typedef struct persist_ent {
    uint64_t key;
    stream_val v;
} persist_ent;

static int persist_cmp(const void *a, const void *b)
{
    const persist_ent *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->v.first_pos < y->v.first_pos ? -1 : x->v.first_pos > y->v.first_pos;
}

/* Write run (from, to] of the overlay's streams that exist. */
static int write_run(file_backend *fb, streamtab *t, bool durable, sidx_run **out)
{
    size_t n = 0;
    persist_ent *ents = evs__calloc(t->count ? t->count : 1, sizeof *ents);
    if (!ents)
        return evs__seterr(EVS_ENOMEM, "out of memory writing the stream index");
    for (size_t i = 0; i < t->cap; i++) {
        const stream_ent *e = &t->slots[i];
        if (e->hash && e->last_version >= 0 && e->last_pos > t->base_covered)
            ents[n++] = (persist_ent){e->hash, {e->first_pos, e->last_pos, e->last_version,
                                                e->last_off}};
    }
    qsort(ents, n, sizeof *ents, persist_cmp);
    sidx_writer w;
    int rc = evs__sidx_writer_open(&w, fb, t->base_covered, t->known_pos);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if ((rc = evs__sidx_writer_add(&w, ents[i].key, &ents[i].v)) < 0)
            evs__sidx_writer_abort(&w);
    evs__free(ents);
    if (rc == 0)
        rc = evs__sidx_writer_finish(&w, t->known_seg, t->known_off, evs__tab_stream_count(t),
                                     durable, out);
    return rc;
}

int evs__tab_persist(file_backend *fb, bool durable)
{
    streamtab *t = &fb->tab;
    if (t->known_pos <= t->base_covered)
        return 0;
    /* A run from position 0 is a whole index: it replaces whatever runs there are (an
     * index this handle found wrong, or stale), under the lock merges take. */
    int lock_fd = -1, rc = 0;
    if (!t->run_n) {
        if ((lock_fd = evs__sidx_lock_merges(fb, true)) < 0)
            return lock_fd;
        rc = evs__sidx_remove(fb, 0, false);
    }
    sidx_run *run = NULL;
    if (rc == 0)
        rc = write_run(fb, t, durable, &run);
    evs__sidx_unlock_merges(lock_fd);
    if (rc < 0)
        return rc;
    sidx_run **runs = evs__realloc(t->runs, (t->run_n + 1) * sizeof *runs);
    if (!runs) {
        evs__sidx_release(run);
        return evs__seterr(EVS_ENOMEM, "out of memory adding a stream index run");
    }
    uint64_t streams = evs__tab_stream_count(t);
    runs[t->run_n++] = run;
    t->runs = runs;
    t->base_covered = t->known_pos;
    t->base_streams = streams;
    /* The overlay is in the base now. Past TAB_PERSIST_STREAMS it is dropped, which
     * bounds the writer's memory; below, it stays as the writer's cache of its working
     * set (the next run takes only the entries that change after this one). */
    if (t->count >= TAB_PERSIST_STREAMS) {
        overlay_free(t);
    } else {
        for (size_t i = 0; i < t->cap; i++)
            t->slots[i].in_base = true;
        t->new_count = 0;
    }
    evs__head_set_snap(fb, t->known_pos);
    return 0;
}

/* ---- catching up with the log ---------------------------------------------------- */

/* A damaged record (its checksum fails, its frame holds) whose header agrees with
 * itself and with the table: its stream name has its hash, and it continues that
 * stream where the table says the stream ends. Then the damage is elsewhere (the
 * payload, most likely), and the table counts it as the stream's next version, so that a
 * read of the stream fails when it reaches it and the next append gets the version
 * after it. Anything else: the table cannot tell whose version it was. */
bool evs__tab_header_fits(const rec_view *r, const stream_val *v)
{
    return r->stream_hash == evs__hash64(r->stream, r->stream_len) &&
           (int64_t)r->version == v->last_version + 1 &&
           (r->version == 0 || (r->prev_pos == v->last_pos && r->prev_off == v->last_off));
}

static int apply_record(void *ctx, seg *s, uint64_t off, const rec_view *r, bool damaged)
{
    file_backend *fb = ctx;
    streamtab *t = &fb->tab;
    stream_val v;
    if (damaged) {
        /* Stepped over only when it is in its place and says whose it is; else the scan's
         * message (file, byte) names the position expected there. */
        uint64_t expected = t->known_pos ? t->known_pos + 1 : s->first_pos;
        char why[512];
        snprintf(why, sizeof why, "%s", evs__lasterr_msg());
        int found = 0;
        if (r->pos == expected)
            found = evs__tab_get(t, r->stream, r->stream_len, r->stream_hash, &v);
        if (found < 0)
            return found;
        if (r->pos != expected || !evs__tab_header_fits(r, &v))
            return evs__seterr(EVS_ECORRUPT, "%s (position %" PRIu64 ")", why, expected);
        evs__clearerr(); /* stepped over: readers of the record will meet its damage */
    }
    if (t->known_pos && r->pos != t->known_pos + 1 &&
        !evs__lost_bridges(fb, t->known_pos + 1, r->pos)) /* over positions declared lost */
        return evs__seterr(EVS_ECORRUPT,
                           "segment %s: record at byte %" PRIu64 " has position %" PRIu64
                           " where %" PRIu64 " should follow",
                           s->name, off, r->pos, t->known_pos + 1);
    if ((r->flags & REC_LOST) && r->stream_len == 0) {
        /* A filler of a lost event whose stream the repair could not tell: no stream's. */
        t->known_pos = r->pos;
        t->known_seg = s->first_pos;
        t->known_off = off + REC_ALIGN(r->len);
        return 0;
    }
    uint64_t k = key(r->stream_hash);
    stream_ent *e = overlay_find(t, r->stream, r->stream_len, k);
    if (!e && r->version == 0) {
        /* A stream's first event: new since the base, which need not be searched. */
        stream_val fresh = {r->pos, r->pos, 0, (uint32_t)off};
        int rc = overlay_insert(t, r->stream, r->stream_len, k, &fresh, false, &e);
        if (rc < 0)
            return rc;
        goto applied;
    }
    int rc = evs__tab_get(t, r->stream, r->stream_len, r->stream_hash, &v);
    if (rc < 0)
        return rc;
    if (v.last_version < 0 && r->version > 0 && evs__pos_dropped(fb->log_start, r->prev_pos)) {
        /* A stream whose earlier events retention dropped, met by a table rebuilt from
         * the log: its first position is not known, the link below the start stands
         * for it. */
        stream_val cut = {r->prev_pos, r->pos, (int64_t)r->version, (uint32_t)off};
        rc = overlay_insert(t, r->stream, r->stream_len, k, &cut, false, &e);
        if (rc < 0)
            return rc;
        goto applied;
    }
    if ((int64_t)r->version != v.last_version + 1 ||
        (r->version > 0 && (r->prev_pos != v.last_pos || r->prev_off != v.last_off)))
        return evs__seterr(EVS_ECORRUPT,
                           "segment %s: record at byte %" PRIu64 " (position %" PRIu64
                           ") has version %" PRIu64 " of stream '%.*s', which is at version "
                           "%" PRId64 "",
                           s->name, off, r->pos, r->version, (int)r->stream_len, r->stream,
                           v.last_version);
    rc = evs__tab_apply(t, r->stream, r->stream_len, r->stream_hash, r->pos, r->pos,
                        (int64_t)r->version, (uint32_t)off, NULL);
    if (rc < 0)
        return rc;
applied:
    t->known_pos = r->pos;
    t->known_seg = s->first_pos;
    t->known_off = off + REC_ALIGN(r->len);
    /* Only at the end of an append: a run ends where a reader may start. */
    if (t->persists && t->count >= TAB_PERSIST_STREAMS && (r->flags & REC_COMMIT) &&
        evs__tab_persist(fb, fb->opts.sync_mode == EVS_SYNC_ALWAYS) < 0)
        evs__clearerr(); /* a cache: the scan goes on, the next run catches up */
    return 0;
}

/* Overlay entries past which a handle switches to a newer base when one exists. */
#define OVERLAY_RELOAD 4096

static int catch_up_once(file_backend *fb, const head_view *h)
{
    streamtab *t = &fb->tab;
    /* A writer indexed further: a handle whose overlay has grown uses the newer base
     * instead, so a long-lived reader's memory stays bounded by how often it persists. */
    if (t->loaded && t->count > OVERLAY_RELOAD && evs__head_snap(fb) > t->base_covered &&
        evs__head_snap(fb) > t->distrusted_at)
        tab_reset(t);
    if (!t->loaded) {
        int rc = evs__tab_load_base(fb);
        if (rc < 0)
            return rc;
        t->loaded = true;
        /* A base ahead of the log (the log lost its tail, or the files come from
         * different backups) cannot be trusted: rebuild from the log. */
        if (t->known_pos > h->pos) {
            tab_reset(t);
            t->loaded = true;
        }
    }
    if (t->known_pos >= h->pos)
        return 0;
    if (t->known_pos == 0) {
        /* From the very start: the first segment, whatever its first position. This
         * handle may not have listed the segments other processes made since it opened. */
        int rc = evs__seg_load_all(fb);
        if (rc < 0)
            return rc;
        seg *first = evs__seg_at(fb, 0);
        if (first) {
            t->known_seg = first->first_pos;
            t->known_off = SEG_HDR_LEN;
        }
    }
    /* When the known offset sits at the end of a sealed segment, the scan moves on. */
    int rc = evs__scan(fb, t->known_seg, t->known_off, h, apply_record, fb);
    if (rc == 0 && t->known_pos < h->pos && h->end == SEG_HDR_LEN &&
        evs__lost_bridges(fb, t->known_pos + 1, h->seg)) {
        /* The log ends with positions a repair declared lost: known up to there. */
        t->known_pos = h->pos;
        t->known_seg = h->seg;
        t->known_off = SEG_HDR_LEN;
    }
    return rc;
}

int evs__tab_catch_up_locked(file_backend *fb, const head_view *h)
{
    streamtab *t = &fb->tab;
    if (base_lied(t))
        tab_distrust(t);
    int rc = catch_up_once(fb, h);
    if (rc < 0 && base_lied(t)) {
        /* The base was found wrong on the way: once more from the log alone. */
        evs__clearerr();
        tab_distrust(t);
        rc = catch_up_once(fb, h);
    }
    if (rc < 0) {
        /* Leave the table in a state that forces a full rebuild next time rather than a
         * half-applied one. */
        tab_reset(t);
    }
    return rc;
}

int evs__tab_catch_up_writer(file_backend *fb, const head_view *h)
{
    fb->tab.persists = true;
    int rc = evs__tab_catch_up_locked(fb, h);
    fb->tab.persists = false;
    return rc;
}

int evs__tab_catch_up(file_backend *fb)
{
    head_view h;
    evs__head_read(fb, &h);
    pthread_rwlock_rdlock(&fb->tab_lock);
    bool current = fb->tab.loaded && fb->tab.known_pos >= h.pos && !base_lied(&fb->tab);
    pthread_rwlock_unlock(&fb->tab_lock);
    if (current)
        return 0;
    pthread_rwlock_wrlock(&fb->tab_lock);
    int rc = evs__tab_catch_up_locked(fb, &h);
    pthread_rwlock_unlock(&fb->tab_lock);
    return rc;
}

int evs__tab_lookup(file_backend *fb, const char *name, uint32_t len, uint64_t hash,
                    stream_val *out)
{
    for (int attempt = 0;; attempt++) {
        int rc = evs__tab_catch_up(fb);
        if (rc < 0)
            return rc;
        pthread_rwlock_rdlock(&fb->tab_lock);
        rc = evs__tab_get(&fb->tab, name, len, hash, out);
        bool lied = rc < 0 && base_lied(&fb->tab);
        pthread_rwlock_unlock(&fb->tab_lock);
        /* A base found wrong: the next catch-up drops it and rebuilds from the log. */
        if (!lied || attempt > 0)
            return rc;
        evs__clearerr();
    }
}

int evs__tab_resolve_locked(file_backend *fb, const head_view *h, const char *name,
                            uint32_t len, uint64_t hash)
{
    if (overlay_find(&fb->tab, name, len, key(hash)))
        return 0; /* the common case: a stream the writer has in memory */
    stream_ent *e;
    tab_undo undo;
    int rc = evs__tab_upsert(&fb->tab, name, len, hash, &e, &undo);
    if (rc < 0 && base_lied(&fb->tab)) {
        evs__clearerr();
        if ((rc = evs__tab_catch_up_locked(fb, h)) == 0)
            rc = evs__tab_upsert(&fb->tab, name, len, hash, &e, &undo);
    }
    /* A stream that does not exist is not kept: the round may fail, and the table must
     * not list it. Encoding finds it missing again at the cost of a filter probe. */
    if (rc == 0 && e->last_version < 0)
        evs__tab_undo(&fb->tab, &undo);
    return rc;
}
