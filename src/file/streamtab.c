/*
 * streamtab.c - the stream table: stream name -> first position, last position, last
 * version. It is what makes expected-version checks and stream reads cheap.
 *
 * Two levels. The base is index.snap, an open-addressing hash table on disk used in
 * place through mmap, so opening costs nothing whatever the number of streams. The
 * overlay is an in-memory hash table of the streams touched since that snapshot,
 * filled by scanning the log from the snapshot's position. The writer writes a new
 * snapshot (base + overlay, by temp file and rename) once enough log has been
 * appended since the last one, which bounds the scan of the next open.
 *
 * The log is the truth: a missing, damaged or stray snapshot is ignored and the table
 * is rebuilt by scanning the whole log.
 */
#include "streamtab.h"
#include "evstore.h"
#include "file_backend.h"
#include "format.h"
#include "head.h"
#include "lost_ranges.h"
#include "path.h"
#include "record.h"
#include "recover.h"
#include "segment.h"
#include "sysio.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uint64_t key(uint64_t hash)
{
    return hash ? hash : 1; /* 0 marks an empty slot */
}

void evs__tab_init(streamtab *t)
{
    memset(t, 0, sizeof *t);
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

static void snap_unmap(streamtab *t)
{
    if (t->snap) {
        evs__sys.munmap((void *)t->snap->base, t->snap->len);
        evs__free(t->snap);
    }
    t->snap = NULL;
    t->snap_slots = t->snap_count = t->snap_covered = 0;
}

void evs__tab_free(streamtab *t)
{
    overlay_free(t);
    snap_unmap(t);
}

/* ---- base (snapshot) lookups ----------------------------------------------------- */

static const unsigned char *base_slot(const streamtab *t, uint64_t i)
{
    return t->snap->base + SNAP_HDR_LEN + i * SNAP_SLOT_LEN;
}

static bool base_get(const streamtab *t, const char *name, uint32_t len, uint64_t k,
                     stream_val *out)
{
    if (!t->snap || !t->snap_slots)
        return false;
    uint64_t mask = t->snap_slots - 1;
    for (uint64_t i = k & mask, n = 0; n < t->snap_slots; i = (i + 1) & mask, n++) {
        const unsigned char *s = base_slot(t, i);
        uint64_t h = evs__get_u64(s);
        if (h == 0)
            return false;
        if (h != k || evs__get_u32(s + 16) != len)
            continue;
        uint64_t off = evs__get_u64(s + 8);
        if (off > t->snap->len || len > t->snap->len - off ||
            memcmp(t->snap->base + off, name, len) != 0)
            continue;
        out->first_pos = evs__get_u64(s + 24);
        out->last_pos = evs__get_u64(s + 32);
        out->last_version = (int64_t)evs__get_u64(s + 40);
        out->last_off = evs__get_u32(s + 20);
        return true;
    }
    return false;
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

bool evs__tab_get(const streamtab *t, const char *name, uint32_t len, uint64_t hash,
                  stream_val *out)
{
    uint64_t k = key(hash);
    const stream_ent *e = overlay_find(t, name, len, k);
    if (e) {
        out->first_pos = e->first_pos;
        out->last_pos = e->last_pos;
        out->last_version = e->last_version;
        out->last_off = e->last_off;
        return true;
    }
    if (base_get(t, name, len, k, out))
        return true;
    out->first_pos = out->last_pos = 0;
    out->last_version = -1;
    out->last_off = 0;
    return false;
}

int evs__tab_upsert(streamtab *t, const char *name, uint32_t len, uint64_t hash,
                    stream_ent **out, tab_undo *undo)
{
    uint64_t k = key(hash);
    stream_ent *e = overlay_find(t, name, len, k);
    bool created = false;
    if (!e) {
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
        e = &t->slots[i];
        e->hash = k;
        e->name_len = (uint16_t)len;
        e->ids_complete = false;
        if (copy)
            e->name.heap = copy;
        else
            memcpy(e->name.inl, name, len);
        stream_val b = {0, 0, -1, 0};
        e->in_base = base_get(t, name, len, k, &b);
        e->first_pos = b.first_pos;
        e->last_pos = b.last_pos;
        e->last_version = b.last_version;
        e->last_off = b.last_off;
        if (!e->in_base)
            t->new_count++;
        t->count++;
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
    return (size_t)t->snap_count + t->new_count;
}

int evs__tab_each(const streamtab *t,
                  int (*cb)(void *ctx, const char *name, uint32_t len, const stream_val *v),
                  void *ctx)
{
    for (size_t i = 0; i < t->cap; i++) {
        const stream_ent *e = &t->slots[i];
        if (!e->hash)
            continue;
        stream_val v = {e->first_pos, e->last_pos, e->last_version, e->last_off};
        int rc = cb(ctx, evs__ent_name(e), e->name_len, &v);
        if (rc)
            return rc;
    }
    for (uint64_t i = 0; t->snap && i < t->snap_slots; i++) {
        const unsigned char *s = base_slot(t, i);
        uint64_t h = evs__get_u64(s);
        if (!h)
            continue;
        const char *name = (const char *)t->snap->base + evs__get_u64(s + 8);
        uint32_t len = evs__get_u32(s + 16);
        if (overlay_find(t, name, len, h))
            continue; /* the overlay's entry is newer and was given already */
        stream_val v = {evs__get_u64(s + 24), evs__get_u64(s + 32),
                        (int64_t)evs__get_u64(s + 40), evs__get_u32(s + 20)};
        int rc = cb(ctx, name, len, &v);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- snapshot files -------------------------------------------------------------- */

static uint32_t store_tag(const file_backend *fb)
{
    return evs__crc32c(0, fb->store_id, 16);
}

/* Is every slot of the snapshot b (len bytes, header h, checksums already checked) one
 * the writer can have made: its name inside the names heap and hashing to its key, its
 * positions within what the snapshot covers, the first slot of that name where a lookup
 * probes, and as many as the header counts? The checksums only tell that the file is
 * what some writer wrote; lookups and listings read names through these offsets, so
 * nothing in a slot may send them past the file's end. */
static bool snap_slots_sane(const unsigned char *b, size_t len, const unsigned char *h)
{
    uint64_t slots = evs__get_u64(h + SNAP_OFF_SLOTS), mask = slots - 1;
    uint64_t covered = evs__get_u64(h + SNAP_OFF_COVERED);
    uint64_t heap = SNAP_HDR_LEN + slots * SNAP_SLOT_LEN, heap_end = len - 4;
    uint64_t count = 0, probes = 0;
    for (uint64_t i = 0; i < slots; i++) {
        const unsigned char *s = b + SNAP_HDR_LEN + i * SNAP_SLOT_LEN;
        uint64_t k = evs__get_u64(s);
        if (k == 0)
            continue;
        uint64_t off = evs__get_u64(s + 8);
        uint32_t name_len = evs__get_u32(s + 16);
        uint64_t first = evs__get_u64(s + 24), last = evs__get_u64(s + 32);
        uint64_t version = evs__get_u64(s + 40);
        if (name_len == 0 || name_len > EVS_MAX_STREAM_LEN || off < heap || off > heap_end ||
            name_len > heap_end - off || key(evs__hash64(b + off, name_len)) != k ||
            first == 0 || first > last || last > covered || version >= last)
            return false;
        /* A lookup walks from k's home slot to the first empty one: this slot must be on
         * that walk, with no other slot of the same name before it. A writer's table is
         * at most half full, so walks are short; a long one is not a writer's. */
        for (uint64_t j = k & mask; j != i; j = (j + 1) & mask) {
            const unsigned char *o = b + SNAP_HDR_LEN + j * SNAP_SLOT_LEN;
            if (evs__get_u64(o) == 0 || ++probes > 16 * slots)
                return false;
            if (evs__get_u64(o) == k && evs__get_u32(o + 16) == name_len &&
                memcmp(b + evs__get_u64(o + 8), b + off, name_len) == 0)
                return false;
        }
        count++;
    }
    return count == evs__get_u64(h + SNAP_OFF_COUNT);
}

/* Map index.snap when it is whole and this store's; else *out = NULL (not an error:
 * the table is then rebuilt from the log). */
static int snap_map(file_backend *fb, mapping **out, unsigned char h[SNAP_HDR_LEN])
{
    *out = NULL;
    char path[STORE_PATH_MAX];
    int rc = evs__path(fb, SNAP_FILE, path, sizeof path);
    if (rc < 0)
        return rc;
    int fd = evs__sys.open(path, O_RDONLY, 0);
    if (fd < 0)
        return 0;
    struct stat st;
    bool ok = evs__sys.fstat(fd, &st) == 0 && st.st_size >= SNAP_HDR_LEN + 4 &&
              evs__pread_all(fd, h, SNAP_HDR_LEN, 0) == 0 &&
              memcmp(h + SNAP_OFF_MAGIC, SNAP_MAGIC, 8) == 0 &&
              evs__get_u32(h + SNAP_OFF_CRC) == evs__crc32c(0, h, SNAP_OFF_CRC) &&
              evs__get_u32(h + SNAP_OFF_FMT) == EVS_FORMAT_VERSION &&
              evs__get_u32(h + SNAP_OFF_ID) == store_tag(fb);
    uint64_t slots = ok ? evs__get_u64(h + SNAP_OFF_SLOTS) : 0;
    /* Divided, not multiplied: a slot count from the file must not overflow. */
    ok = ok && slots && (slots & (slots - 1)) == 0 &&
         slots <= ((uint64_t)st.st_size - SNAP_HDR_LEN - 4) / SNAP_SLOT_LEN;
    void *p = MAP_FAILED;
    if (ok)
        p = evs__sys.mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    evs__sys.close(fd);
    /* The body is checked whole before it is used: a damaged slot would otherwise give
     * wrong versions quietly. */
    if (p != MAP_FAILED) {
        const unsigned char *b = p;
        size_t body = (size_t)st.st_size - SNAP_HDR_LEN - 4;
        if (evs__crc32c(0, b + SNAP_HDR_LEN, body) != evs__get_u32(b + st.st_size - 4) ||
            !snap_slots_sane(b, (size_t)st.st_size, h)) {
            evs__sys.munmap(p, (size_t)st.st_size);
            p = MAP_FAILED;
        }
    }
    mapping *m = p != MAP_FAILED ? evs__calloc(1, sizeof *m) : NULL;
    if (!m) {
        if (p != MAP_FAILED)
            evs__sys.munmap(p, (size_t)st.st_size);
        evs__clearerr();
        return 0;
    }
    m->base = p;
    m->len = (size_t)st.st_size;
    *out = m;
    return 0;
}

static void snap_install(streamtab *t, mapping *m, const unsigned char *h)
{
    snap_unmap(t);
    t->snap = m;
    t->snap_slots = evs__get_u64(h + SNAP_OFF_SLOTS);
    t->snap_count = evs__get_u64(h + SNAP_OFF_COUNT);
    t->snap_covered = evs__get_u64(h + SNAP_OFF_COVERED);
}

/* The crc field of the record at pos, or 0 when it cannot be read. */
static uint32_t record_crc(file_backend *fb, uint64_t pos)
{
    rec_view r;
    if (pos == 0 || evs__seg_read_pos(fb, pos, false, &r) < 0) {
        evs__clearerr();
        return 0;
    }
    return evs__get_u32((const unsigned char *)r.stream - REC_HDR_LEN + REC_OFF_CRC);
}

int evs__tab_load_snapshot(file_backend *fb)
{
    streamtab *t = &fb->tab;
    unsigned char h[SNAP_HDR_LEN];
    mapping *m;
    int rc = snap_map(fb, &m, h);
    if (rc < 0 || !m)
        return rc;
    /* The snapshot must describe this log: the record it last covered must still be
     * the one it saw. */
    uint64_t covered = evs__get_u64(h + SNAP_OFF_COVERED);
    if (covered && record_crc(fb, covered) != evs__get_u32(h + SNAP_OFF_LASTCRC)) {
        evs__sys.munmap((void *)m->base, m->len);
        evs__free(m);
        return 0;
    }
    overlay_free(t);
    snap_install(t, m, h);
    t->known_pos = t->snap_covered;
    t->known_seg = evs__get_u64(h + SNAP_OFF_SEG);
    t->known_off = evs__get_u64(h + SNAP_OFF_END);
    return 0;
}

/* After writing a snapshot of exactly the table's content, use it as the base. */
static int snap_swap(file_backend *fb, streamtab *t)
{
    unsigned char h[SNAP_HDR_LEN];
    mapping *m;
    int rc = snap_map(fb, &m, h);
    if (rc < 0)
        return rc;
    if (!m || evs__get_u64(h + SNAP_OFF_COVERED) != t->known_pos) {
        if (m) {
            evs__sys.munmap((void *)m->base, m->len);
            evs__free(m);
        }
        return evs__seterr(EVS_EIO, "the index snapshot just written cannot be read back");
    }
    snap_install(t, m, h);
    return 0;
}

int evs__tab_drop_snapshot_after(file_backend *fb, uint64_t pos)
{
    char path[STORE_PATH_MAX];
    int rc = evs__path(fb, SNAP_FILE, path, sizeof path);
    if (rc < 0)
        return rc;
    int fd = evs__sys.open(path, O_RDONLY, 0);
    if (fd < 0)
        return 0;
    unsigned char h[SNAP_HDR_LEN];
    bool ahead = evs__pread_all(fd, h, SNAP_HDR_LEN, 0) == 0 &&
                 evs__get_u64(h + SNAP_OFF_COVERED) > pos;
    evs__sys.close(fd);
    if (ahead && evs__sys.unlink(path) < 0 && errno != ENOENT)
        return evs__seterr_errno(errno, "cannot remove the stale '%s'", path);
    return 0;
}

/* Reset to "nothing known": the next catch-up scans the whole log. */
static void tab_reset(streamtab *t)
{
    evs__tab_free(t);
    evs__tab_init(t);
}

typedef struct snap_writer {
    unsigned char *slots;  /* slot area of the new file */
    uint64_t nslots;
    evs__buf names;
    uint64_t names_base;   /* file offset of the names heap */
    uint64_t count;
    int rc;
} snap_writer;

static int snap_put(void *ctx, const char *name, uint32_t len, const stream_val *v)
{
    snap_writer *w = ctx;
    uint64_t k = key(evs__hash64(name, len));
    uint64_t mask = w->nslots - 1, i = k & mask;
    while (evs__get_u64(w->slots + i * SNAP_SLOT_LEN))
        i = (i + 1) & mask;
    unsigned char *s = w->slots + i * SNAP_SLOT_LEN;
    evs__put_u64(s, k);
    evs__put_u64(s + 8, w->names_base + w->names.len);
    evs__put_u32(s + 16, len);
    evs__put_u32(s + 20, v->last_off);
    evs__put_u64(s + 24, v->first_pos);
    evs__put_u64(s + 32, v->last_pos);
    evs__put_u64(s + 40, (uint64_t)v->last_version);
    w->count++;
    w->rc = evs__buf_append(&w->names, name, len);
    return w->rc;
}

int evs__tab_write_snapshot(file_backend *fb, bool durable)
{
    streamtab *t = &fb->tab;
    uint64_t n = evs__tab_stream_count(t), nslots = 64;
    while (nslots < n * 2)
        nslots *= 2;
    snap_writer w = {NULL, nslots, EVS__BUF_INIT, SNAP_HDR_LEN + nslots * SNAP_SLOT_LEN, 0, 0};
    unsigned char *file = evs__calloc(1, (size_t)w.names_base);
    if (!file)
        return evs__seterr(EVS_ENOMEM, "out of memory writing the index snapshot");
    w.slots = file + SNAP_HDR_LEN;
    int rc = evs__tab_each(t, snap_put, &w);
    if (rc == 0)
        rc = w.rc;
    if (rc < 0)
        goto out;

    memcpy(file + SNAP_OFF_MAGIC, SNAP_MAGIC, 8);
    evs__put_u32(file + SNAP_OFF_FMT, EVS_FORMAT_VERSION);
    evs__put_u32(file + SNAP_OFF_ID, store_tag(fb));
    evs__put_u64(file + SNAP_OFF_COVERED, t->known_pos);
    evs__put_u64(file + SNAP_OFF_SEG, t->known_seg);
    evs__put_u64(file + SNAP_OFF_END, t->known_off);
    evs__put_u64(file + SNAP_OFF_SLOTS, nslots);
    evs__put_u64(file + SNAP_OFF_COUNT, w.count);
    evs__put_u32(file + SNAP_OFF_LASTCRC, record_crc(fb, t->known_pos));
    evs__put_u32(file + SNAP_OFF_CRC, evs__crc32c(0, file, SNAP_OFF_CRC));

    char path[STORE_PATH_MAX], tmp[STORE_PATH_MAX];
    if ((rc = evs__path(fb, SNAP_FILE, path, sizeof path)) < 0 ||
        (rc = evs__path(fb, SNAP_FILE ".tmp", tmp, sizeof tmp)) < 0)
        goto out;
    int fd = evs__sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        rc = evs__seterr_errno(errno, "cannot create '%s'", tmp);
        goto out;
    }
    unsigned char trailer[4];
    uint32_t body_crc = evs__crc32c(0, file + SNAP_HDR_LEN, (size_t)w.names_base - SNAP_HDR_LEN);
    evs__put_u32(trailer, evs__crc32c(body_crc, w.names.ptr, w.names.len));
    if (evs__pwrite_all(fd, file, (size_t)w.names_base, 0) < 0 ||
        evs__pwrite_all(fd, w.names.ptr, w.names.len, (off_t)w.names_base) < 0 ||
        evs__pwrite_all(fd, trailer, 4, (off_t)(w.names_base + w.names.len)) < 0 ||
        (durable && evs__datasync(fd) < 0)) {
        rc = evs__seterr_errno(errno, "cannot write '%s'", tmp);
        evs__sys.close(fd);
        evs__sys.unlink(tmp);
        goto out;
    }
    evs__sys.close(fd);
    if (evs__sys.rename(tmp, path) < 0) {
        rc = evs__seterr_errno(errno, "cannot rename '%s'", tmp);
        goto out;
    }
    if (durable)
        (void)evs__dirsync(fb->dir); /* a lost rename only costs a longer scan at open */
    /* The overlay stays: it is the writer's working set, and dropping it would only
     * make the next appends to those streams copy them back from the new base. Its
     * entries are all in the new base now. */
    for (size_t i = 0; i < t->cap; i++)
        t->slots[i].in_base = true;
    t->new_count = 0;
    rc = snap_swap(fb, t);
    if (rc < 0)
        tab_reset(t); /* rebuilt from the log on the next catch-up */
    evs__head_set_snap(fb, t->known_pos);
out:
    evs__free(file);
    evs__buf_free(&w.names);
    return rc;
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
        if (r->pos == expected)
            evs__tab_get(t, r->stream, r->stream_len, r->stream_hash, &v);
        if (r->pos != expected || !evs__tab_header_fits(r, &v)) {
            char why[512];
            snprintf(why, sizeof why, "%s", evs__lasterr_msg());
            return evs__seterr(EVS_ECORRUPT, "%s (position %" PRIu64 ")", why, expected);
        }
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
    evs__tab_get(t, r->stream, r->stream_len, r->stream_hash, &v);
    if ((int64_t)r->version != v.last_version + 1 ||
        (r->version > 0 && (r->prev_pos != v.last_pos || r->prev_off != v.last_off)))
        return evs__seterr(EVS_ECORRUPT,
                           "segment %s: record at byte %" PRIu64 " (position %" PRIu64
                           ") has version %" PRIu64 " of stream '%.*s', which is at version "
                           "%" PRId64 "",
                           s->name, off, r->pos, r->version, (int)r->stream_len, r->stream,
                           v.last_version);
    int rc = evs__tab_apply(t, r->stream, r->stream_len, r->stream_hash, r->pos, r->pos,
                            (int64_t)r->version, (uint32_t)off, NULL);
    if (rc < 0)
        return rc;
    t->known_pos = r->pos;
    t->known_seg = s->first_pos;
    t->known_off = off + REC_ALIGN(r->len);
    return 0;
}

/* Overlay entries past which a handle switches to a newer snapshot when one exists. */
#define OVERLAY_RELOAD 4096

int evs__tab_catch_up_locked(file_backend *fb, const head_view *h)
{
    streamtab *t = &fb->tab;
    /* Another process wrote a newer snapshot: a handle whose overlay has grown uses it
     * instead, so a long-lived reader's memory stays bounded by the snapshot period. */
    if (t->loaded && t->count > OVERLAY_RELOAD && evs__head_snap(fb) > t->snap_covered) {
        evs__tab_free(t);
        evs__tab_init(t);
    }
    if (!t->loaded) {
        int rc = evs__tab_load_snapshot(fb);
        if (rc < 0)
            return rc;
        t->loaded = true;
        /* A snapshot ahead of the log (the log lost its tail, or the files come from
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
    if (rc < 0) {
        /* Leave the table in a state that forces a full rebuild next time rather than a
         * half-applied one. */
        tab_reset(t);
    }
    return rc;
}

int evs__tab_catch_up(file_backend *fb)
{
    head_view h;
    evs__head_read(fb, &h);
    pthread_rwlock_rdlock(&fb->tab_lock);
    bool current = fb->tab.loaded && fb->tab.known_pos >= h.pos;
    pthread_rwlock_unlock(&fb->tab_lock);
    if (current)
        return 0;
    pthread_rwlock_wrlock(&fb->tab_lock);
    int rc = evs__tab_catch_up_locked(fb, &h);
    pthread_rwlock_unlock(&fb->tab_lock);
    return rc;
}
