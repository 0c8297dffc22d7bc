/*
 * streamdir.c - the stream directory of a sealed segment (<first position>.sdx): for
 * every record, its stream's hash, position and byte offset, grouped by hash bucket.
 * The writer that seals a segment has a thread of its own make it, off the append path.
 *
 * A stream's events lie scattered over the log and each one links to the one before,
 * so reading a stream by its links is a chain of dependent cache misses, one per event
 * (about 140 ns each on the development machine, against ~20 ns for loads the CPU can
 * overlap). With a directory, a reader learns where all of a stream's events in a
 * segment are in one look-up and fetches them together. The directory is a cache,
 * made when the segment is sealed: the records it points to are read and checked as
 * always, and a reader that finds it missing, stale or damaged follows the links.
 */
#define _GNU_SOURCE
#include "streamdir.h"
#include "evstore.h"
#include "file_backend.h"
#include "format.h"
#include "path.h"
#include "record.h"
#include "seg_cache.h"
#include "segment.h"
#include "sysio.h"
#include "typedir.h"
#include "util.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The smallest bucket count that leaves about 8 records a bucket. */
static uint32_t bucket_bits(uint64_t count)
{
    uint32_t bits = 1;
    while (bits < SDX_MAX_BITS && (count >> bits) > 8)
        bits++;
    return bits;
}

static uint64_t bucket_of(uint64_t hash, uint32_t bits)
{
    return hash >> (64 - bits);
}

/* ---- making one ------------------------------------------------------------------ */

typedef struct sdx_rec {
    uint64_t hash;
    uint32_t rel; /* position - first position */
    uint32_t off;
} sdx_rec;

/* Every record of s up to `end`, in position order, into *out (*n of them); the last
 * one's checksum into *last_crc. */
static int collect(file_backend *fb, seg *s, uint64_t end, sdx_rec **out, uint64_t *n,
                   uint32_t *last_crc)
{
    const mapping *m = evs__seg_map(fb, s, end);
    if (!m)
        return evs__lasterr_code();
    /* One call fills the page tables; left to faults they cost more than the walk. */
    (void)evs__sys.madvise((void *)m->base, (size_t)end, MADV_POPULATE_READ);
    sdx_rec *recs = NULL;
    uint64_t count = 0, cap = 0;
    for (uint64_t off = SEG_HDR_LEN; off < end;) {
        rec_view r;
        int st = evs__rec_decode_inline(m->base + off, end - off, false, &r);
        if (st != REC_OK || r.pos != s->first_pos + count) {
            evs__free(recs);
            return evs__seterr(EVS_ECORRUPT, "segment %s: %s at byte %" PRIu64, s->name,
                               st != REC_OK ? evs__rec_status_str(st) : "wrong position", off);
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 4096;
            sdx_rec *grown = evs__realloc(recs, cap * sizeof *grown);
            if (!grown) {
                evs__free(recs);
                return evs__seterr(EVS_ENOMEM, "out of memory making the stream directory of %s",
                                   s->name);
            }
            recs = grown;
        }
        recs[count++] = (sdx_rec){r.stream_hash, (uint32_t)(r.pos - s->first_pos), (uint32_t)off};
        off += REC_ALIGN(r.len);
    }
    if (count)
        *last_crc = evs__get_u32(m->base + recs[count - 1].off + REC_OFF_CRC);
    *out = recs;
    *n = count;
    return 0;
}

/* The file's bytes: header, entries bucket by bucket (each in position order, as a
 * counting sort of the records leaves them), directory, checksum. */
static unsigned char *layout(const seg *s, const sdx_rec *recs, uint64_t n, uint64_t seg_len,
                             uint32_t last_crc, size_t *len_out)
{
    uint32_t bits = bucket_bits(n);
    size_t buckets = (size_t)1 << bits;
    size_t entries_len = (size_t)n * SDX_ENTRY_LEN;
    size_t len = SDX_HDR_LEN + entries_len + (buckets + 1) * 4 + 4;
    unsigned char *img = evs__calloc(1, len);
    uint32_t *next = evs__calloc(buckets + 1, sizeof *next);
    if (!img || !next) {
        evs__free(img);
        evs__free(next);
        evs__seterr(EVS_ENOMEM, "out of memory making the stream directory of %s", s->name);
        return NULL;
    }
    for (uint64_t i = 0; i < n; i++)
        next[bucket_of(recs[i].hash, bits) + 1]++;
    unsigned char *dir = img + SDX_HDR_LEN + entries_len;
    for (size_t b = 0; b < buckets; b++) {
        next[b + 1] += next[b];
        evs__put_u32(dir + b * 4, next[b]);
    }
    evs__put_u32(dir + buckets * 4, (uint32_t)n);
    for (uint64_t i = 0; i < n; i++) {
        unsigned char *e =
            img + SDX_HDR_LEN + (size_t)next[bucket_of(recs[i].hash, bits)]++ * SDX_ENTRY_LEN;
        evs__put_u64(e + SDX_ENT_HASH, recs[i].hash);
        evs__put_u32(e + SDX_ENT_REL, recs[i].rel);
        evs__put_u32(e + SDX_ENT_OFF, recs[i].off);
    }
    evs__free(next);
    evs__seg_cache_header_put(img, SDX_MAGIC, s->first_pos, seg_len, n, recs[n - 1].off,
                              last_crc);
    evs__put_u32(img + SDX_OFF_BITS, bits);
    evs__put_u32(img + SDX_OFF_CRC, evs__crc32c(0, img, SDX_OFF_CRC));
    size_t body = len - SDX_HDR_LEN - 4;
    evs__put_u32(img + len - 4, evs__crc32c(0, img + SDX_HDR_LEN, body));
    *len_out = len;
    return img;
}

int evs__sdx_build(file_backend *fb, seg *s, uint64_t end)
{
    sdx_rec *recs = NULL;
    uint64_t n = 0;
    uint32_t last_crc = 0;
    int rc = collect(fb, s, end, &recs, &n, &last_crc);
    if (rc < 0 || n == 0) {
        evs__free(recs);
        return rc;
    }
    size_t len = 0;
    unsigned char *img = layout(s, recs, n, end, last_crc, &len);
    evs__free(recs);
    if (!img)
        return evs__lasterr_code();
    /* Not synced: after a crash a torn directory fails its checksum and is not used. */
    rc = evs__seg_write_cache(fb, s->first_pos, "sdx", img, len);
    evs__free(img);
    return rc;
}

/* ---- making them in the background ---------------------------------------------- */

/* Segments sealed and waiting for their directories; more are skipped (a reader makes
 * them later). Each job makes two directories now: 8 left a burst of seals under
 * ThreadSanitizer (test_stream_dir's long stream) with skipped segments. */
#define SDX_QUEUE 64

/* The thread that makes the directories of the segments this handle sealed, so that
 * appends do not wait for them. */
struct sdx_builder {
    file_backend *fb;
    evs__worker *worker;
    size_t pending; /* guarded by the worker's lock, with queue */
    struct sdx_job {
        uint64_t first_pos; /* the segment */
        uint64_t end;       /* where its records end */
    } queue[SDX_QUEUE], job; /* job: the one the thread makes now */
};

static bool builder_take(void *arg)
{
    sdx_builder *b = arg;
    if (b->pending == 0)
        return false;
    b->job = b->queue[0];
    memmove(b->queue, b->queue + 1, --b->pending * sizeof b->job);
    return true;
}

static void builder_run(void *arg)
{
    sdx_builder *b = arg;
    file_backend *fb = b->fb;
    /* A sealed segment does not change, and its struct lives until close. */
    seg *s = evs__seg_by_first(fb, b->job.first_pos);
    if (s && evs__sdx_build(fb, s, b->job.end) == 0)
        evs__seg_cache_made(&s->sdx); /* this handle's readers: look now */
    evs__clearerr();                   /* without it, whole-stream reads follow the links */
    if (s && evs__tdx_build(fb, s, b->job.end) == 0)
        evs__tdx_made(s);
    evs__clearerr();                   /* without it, filtered reads scan */
}

/* At close, what is queued is made first. */
static const evs__worker_ops builder_ops = {builder_take, builder_run, true};

int evs__sdx_builder_new(file_backend *fb)
{
    sdx_builder *b = evs__calloc(1, sizeof *b);
    evs__worker *w = b ? evs__worker_new(&builder_ops, b) : NULL;
    if (!w) {
        evs__free(b);
        return evs__seterr(EVS_ENOMEM, "out of memory opening '%s'", fb->dir);
    }
    b->fb = fb;
    b->worker = w;
    fb->sdx = b;
    return 0;
}

void evs__sdx_builder_free(file_backend *fb)
{
    if (!fb->sdx)
        return;
    evs__worker_free(fb->sdx->worker);
    evs__free(fb->sdx);
    fb->sdx = NULL;
}

void evs__sdx_queue(file_backend *fb, uint64_t first_pos, uint64_t end)
{
    seg *s = evs__seg_by_first(fb, first_pos);
    if (s) /* its readers in this handle need not ask again (seg_cache.c) */
        atomic_store(&s->sdx.requested, true);
    sdx_builder *b = fb->sdx;
    evs__worker_lock(b->worker);
    if (evs__worker_wake(b->worker) && b->pending < SDX_QUEUE)
        b->queue[b->pending++] = (struct sdx_job){first_pos, end};
    evs__worker_unlock(b->worker);
}

void evs__sdx_finish(file_backend *fb)
{
    if (fb->sdx)
        evs__worker_finish(fb->sdx->worker);
}

/* ---- using one ------------------------------------------------------------------- */

/* Is the mapped directory m whole, and made from segment s as it is now (same length,
 * same last record)? */
static bool matches_segment(file_backend *fb, seg *s, const mapping *m)
{
    const unsigned char *h = m->base;
    uint64_t count;
    if (!evs__seg_cache_header_fits(fb, s, h, SDX_MAGIC, &count))
        return false;
    uint32_t bits = evs__get_u32(h + SDX_OFF_BITS);
    if (bits < 1 || bits > SDX_MAX_BITS)
        return false;
    uint64_t buckets = (uint64_t)1 << bits;
    if (m->len != SDX_HDR_LEN + count * SDX_ENTRY_LEN + (buckets + 1) * 4 + 4)
        return false;
    size_t body = m->len - SDX_HDR_LEN - 4;
    if (evs__crc32c(0, h + SDX_HDR_LEN, body) != evs__get_u32(h + m->len - 4))
        return false;
    const unsigned char *dir = h + SDX_HDR_LEN + count * SDX_ENTRY_LEN;
    uint32_t prev = 0;
    for (uint64_t b = 0; b <= buckets; b++) {
        uint32_t at = evs__get_u32(dir + b * 4);
        if (at < prev || at > count)
            return false;
        prev = at;
    }
    return prev == count;
}

bool evs__sdx_bucket(file_backend *fb, seg *s, uint64_t hash, const unsigned char **entries,
                     size_t *n)
{
    const mapping *m = evs__seg_cache_load(fb, s, &s->sdx, "sdx", SDX_HDR_LEN + 4,
                                           matches_segment);
    if (!m)
        return false;
    const unsigned char *h = m->base;
    uint32_t bits = evs__get_u32(h + SDX_OFF_BITS);
    uint64_t count = evs__get_u64(h + SDX_OFF_COUNT);
    const unsigned char *dir = h + SDX_HDR_LEN + count * SDX_ENTRY_LEN;
    uint64_t b = bucket_of(hash, bits);
    uint32_t from = evs__get_u32(dir + b * 4), to = evs__get_u32(dir + (b + 1) * 4);
    *entries = h + SDX_HDR_LEN + (size_t)from * SDX_ENTRY_LEN;
    *n = to - from;
    return true;
}

void evs__sdx_distrust(seg *s)
{
    evs__seg_cache_distrust(&s->sdx);
}
