/*
 * sindex.c - the persistent stream index: immutable sorted runs in stream-index/.
 *
 * A run "<from>-<to>.run" holds one entry per stream that has an event at a position
 * in (from, to]: where the stream's last event up to `to` is (position, offset,
 * version) and where it began. Entries are sorted by (stream hash, first position)
 * and packed in 4 KiB pages, each with its own checksum. The runs that chain from
 * position 0 (each starting where the one before ends) are the index: a stream's
 * newest entry is in the newest run that has one. The writer adds a run of the streams
 * it touched since the last one (so that persisting costs what was appended, not what
 * the store holds) and merges runs in the background (sindex_merge.c), so that they
 * stay few.
 *
 * Nothing is read whole: opening reads each run's header; a lookup reads the few pages
 * its search touches, checks each page's checksum once per handle, and checks the
 * entry it finds against the log (the record at the entry's last position must be the
 * stream's, with that version). An index is a cache: one found wrong is dropped by the
 * handle that found it (streamtab.c), and rebuilt from the log by the writer.
 */
#define _GNU_SOURCE
#include "sindex.h"
#include "evstore.h"
#include "file_backend.h"
#include "log_start.h"
#include "format.h"
#include "path.h"
#include "record.h"
#include "segment.h"
#include "sysio.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

struct sidx_run {
    sidx_run_info info; /* what its header says */
    _Atomic int refs;
    const unsigned char *base; /* the whole file, mapped read-only */
    size_t len;
    uint64_t from, to;         /* info.from, info.to, used on every page check */
    uint64_t entries;          /* info.entries */
    uint64_t pages;            /* entry pages */
    uint64_t blocks;           /* Bloom filter blocks */
    uint64_t fpages;           /* their pages, after the entry pages */
    _Atomic uint64_t *checked; /* a bit per page (entry pages, then filter pages): its
                                * checksum and order were checked */
};

/* ---- names ------------------------------------------------------------------------ */

static bool parse_run_name(const char *n, uint64_t *from, uint64_t *to)
{
    if (strlen(n) != 45 || n[20] != '-' || strcmp(n + 41, ".run") != 0)
        return false;
    uint64_t v[2] = {0, 0};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 20; i++) {
            char c = n[k * 21 + i];
            if (c < '0' || c > '9' || v[k] > (UINT64_MAX - 9) / 10)
                return false;
            v[k] = v[k] * 10 + (uint64_t)(c - '0');
        }
    *from = v[0];
    *to = v[1];
    return v[0] < v[1];
}

static int run_path(const file_backend *fb, uint64_t from, uint64_t to, const char *tail, char *buf,
                    size_t len)
{
    char name[96];
    snprintf(name, sizeof name, SIDX_DIR "/%020" PRIu64 "-%020" PRIu64 ".run%s", from, to, tail);
    return evs__path(fb, name, buf, len);
}

/* ---- one run ---------------------------------------------------------------------- */

static uint32_t store_tag(const file_backend *fb)
{
    return evs__crc32c(0, fb->store_id, 16);
}

sidx_run *evs__sidx_ref(sidx_run *r)
{
    atomic_fetch_add(&r->refs, 1);
    return r;
}

void evs__sidx_release(sidx_run *r)
{
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    evs__sys.munmap((void *)r->base, r->len);
    evs__free((void *)r->checked);
    evs__free(r);
}

const sidx_run_info *evs__sidx_info(const sidx_run *r)
{
    return &r->info;
}

/* The crc field of the record at pos, or 0 when it cannot be read. */
uint32_t evs__sidx_record_crc(file_backend *fb, uint64_t pos)
{
    rec_view r;
    if (pos == 0 || evs__seg_read_pos(fb, pos, false, &r) < 0) {
        evs__clearerr();
        return 0;
    }
    return evs__get_u32((const unsigned char *)r.stream - REC_HDR_LEN + REC_OFF_CRC);
}

/* Map run (from, to] when its header is whole, this store's, names that range, fits
 * the file, and the record at `to` is still the one the run saw; else *out = NULL
 * (not an error: the chain ends before it). */
static int run_open(file_backend *fb, uint64_t from, uint64_t to, sidx_run **out)
{
    *out = NULL;
    char path[STORE_PATH_MAX];
    int rc = run_path(fb, from, to, "", path, sizeof path);
    if (rc < 0)
        return rc;
    int fd = evs__sys.open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    unsigned char h[SIDX_PAGE_LEN > 64 ? 64 : SIDX_PAGE_LEN];
    struct stat st;
    bool ok = evs__sys.fstat(fd, &st) == 0 && st.st_size >= SIDX_PAGE_LEN &&
              evs__pread_all(fd, h, sizeof h, 0) == 0 &&
              memcmp(h + SIDX_OFF_MAGIC, SIDX_MAGIC, 8) == 0 &&
              evs__get_u32(h + SIDX_OFF_CRC) == evs__crc32c(0, h, SIDX_OFF_CRC) &&
              evs__get_u32(h + SIDX_OFF_FMT) == EVS_FORMAT_VERSION &&
              evs__get_u32(h + SIDX_OFF_ID) == store_tag(fb) &&
              evs__get_u64(h + SIDX_OFF_FROM) == from && evs__get_u64(h + SIDX_OFF_TO) == to;
    uint64_t entries = ok ? evs__get_u32(h + SIDX_OFF_ENTRIES) : 0;
    uint64_t pages = (entries + SIDX_PAGE_ENTRIES - 1) / SIDX_PAGE_ENTRIES;
    uint64_t blocks = SIDX_FILTER_BLOCKS(entries);
    uint64_t fpages = (blocks + SIDX_FILTER_PAGE_BLOCKS - 1) / SIDX_FILTER_PAGE_BLOCKS;
    ok = ok && (uint64_t)st.st_size == (pages + fpages + 1) * SIDX_PAGE_LEN &&
         evs__get_u64(h + SIDX_OFF_STREAMS) >= entries;
    void *p =
        ok ? evs__sys.mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
    evs__sys.close(fd);
    if (p == MAP_FAILED)
        return 0;
    sidx_run *r = evs__calloc(1, sizeof *r);
    _Atomic uint64_t *checked = evs__calloc((pages + fpages) / 64 + 1, sizeof *checked);
    if (!r || !checked) {
        evs__free(r);
        evs__free((void *)checked);
        evs__sys.munmap(p, (size_t)st.st_size);
        return evs__seterr(EVS_ENOMEM, "out of memory opening the stream index");
    }
    atomic_init(&r->refs, 1);
    r->base = p;
    r->len = (size_t)st.st_size;
    r->info = (sidx_run_info){from,
                              to,
                              evs__get_u64(h + SIDX_OFF_SEG),
                              evs__get_u32(h + SIDX_OFF_END),
                              evs__get_u64(h + SIDX_OFF_STREAMS),
                              entries};
    r->from = from;
    r->to = to;
    r->entries = entries;
    r->pages = pages;
    r->blocks = blocks;
    r->fpages = fpages;
    r->checked = checked;
    /* A run of another history (the log was cut and rewritten since) is not this log's.
     * A run that ends before the log's start cannot be checked so: retention, which
     * dropped its record, kept the chain that runs through it. */
    if (!evs__pos_dropped(fb->log_start, to) &&
        evs__sidx_record_crc(fb, to) != evs__get_u32(h + SIDX_OFF_LASTCRC)) {
        evs__sidx_release(r);
        return 0;
    }
    *out = r;
    return 0;
}

/* Entry i of a page (0-based page number pg). */
static const unsigned char *page_at(const sidx_run *r, uint64_t pg)
{
    return r->base + (pg + 1) * SIDX_PAGE_LEN;
}

static uint64_t ent_key(const unsigned char *e)
{
    return evs__get_u64(e);
}
static uint64_t ent_first(const unsigned char *e)
{
    return evs__get_u64(e + 8);
}

static void ent_val(const unsigned char *e, stream_val *v)
{
    v->first_pos = evs__get_u64(e + 8);
    v->last_pos = evs__get_u64(e + 16);
    v->last_version = (int64_t)evs__get_u64(e + 24);
    v->last_off = evs__get_u32(e + 32);
}

/* Page pg's trailer (number, run end, checksum) is right. */
static bool page_sealed(const sidx_run *r, const unsigned char *p, uint64_t pg)
{
    return evs__get_u32(p + SIDX_PG_CRC) == evs__crc32c(0, p, SIDX_PG_CRC) &&
           evs__get_u32(p + SIDX_PG_NO) == pg + 1 &&
           evs__get_u32(p + SIDX_PG_TO) == (uint32_t)r->to;
}

/* Is page pg whole, in order, and made of entries a writer can have made? Checked once
 * per handle: after that the bit says so. */
static bool page_ok(const sidx_run *r, uint64_t pg)
{
    uint64_t bit = (uint64_t)1 << (pg % 64);
    if (atomic_load_explicit(&r->checked[pg / 64], memory_order_acquire) & bit)
        return true;
    const unsigned char *p = page_at(r, pg);
    uint64_t want = pg + 1 < r->pages ? SIDX_PAGE_ENTRIES : r->entries - pg * SIDX_PAGE_ENTRIES;
    if (!page_sealed(r, p, pg) || evs__get_u32(p + SIDX_PG_COUNT) != want)
        return false;
    for (uint64_t i = 0; i < want; i++) {
        const unsigned char *e = p + i * SIDX_ENTRY_LEN;
        stream_val v;
        ent_val(e, &v);
        if (ent_key(e) == 0 || v.first_pos == 0 || v.first_pos > v.last_pos ||
            v.last_pos <= r->from || v.last_pos > r->to || v.last_version < 0 ||
            (uint64_t)v.last_version >= v.last_pos ||
            (v.last_version == 0) != (v.first_pos == v.last_pos))
            return false;
        if (i > 0) {
            const unsigned char *b = e - SIDX_ENTRY_LEN;
            if (ent_key(b) > ent_key(e) ||
                (ent_key(b) == ent_key(e) && ent_first(b) >= ent_first(e)))
                return false;
        }
    }
    atomic_fetch_or_explicit(&r->checked[pg / 64], bit, memory_order_release);
    return true;
}

/* The filter's block and bit choices for a key: keys are hashes already, mixed once
 * more so that the block does not follow the sort order. */
static uint64_t filter_mix(uint64_t key)
{
    uint64_t x = key * 0x9e3779b97f4a7c15u;
    return x ^ (x >> 29);
}

static uint64_t filter_block(uint64_t mixed, uint64_t blocks)
{
    return (uint64_t)(((unsigned __int128)mixed * blocks) >> 64);
}

static void filter_set(unsigned char *block, uint64_t mixed)
{
    for (int i = 0; i < SIDX_FILTER_PROBES; i++) {
        unsigned bit = (unsigned)(mixed >> (i * 9)) & 511;
        block[bit / 8] |= (unsigned char)(1u << (bit % 8));
    }
}

/* May run r hold key? false only when its filter says no (a damaged filter page: maybe,
 * and the search checks the entries as always). */
static bool filter_maybe(const sidx_run *r, uint64_t key)
{
    if (!r->blocks)
        return r->entries > 0;
    uint64_t mixed = filter_mix(key), b = filter_block(mixed, r->blocks);
    uint64_t pg = r->pages + b / SIDX_FILTER_PAGE_BLOCKS, bit = (uint64_t)1 << (pg % 64);
    const unsigned char *p = page_at(r, pg);
    if (!(atomic_load_explicit(&r->checked[pg / 64], memory_order_acquire) & bit)) {
        if (!page_sealed(r, p, pg))
            return true;
        atomic_fetch_or_explicit(&r->checked[pg / 64], bit, memory_order_release);
    }
    const unsigned char *block = p + (b % SIDX_FILTER_PAGE_BLOCKS) * 64;
    for (int i = 0; i < SIDX_FILTER_PROBES; i++) {
        unsigned v = (unsigned)(mixed >> (i * 9)) & 511;
        if (!(block[v / 8] & (1u << (v % 8))))
            return false;
    }
    return true;
}

/* The first page whose last key is >= key (r->pages when none); -1 on a damaged page.
 * Keys are hashes, spread evenly: the first probes interpolate, then it bisects. */
static int64_t find_page(const sidx_run *r, uint64_t key)
{
    uint64_t lo = 0, hi = r->pages, klo = 0, khi = UINT64_MAX;
    for (int step = 0; lo < hi; step++) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (step < 3 && key >= klo && khi > klo) {
            unsigned __int128 span = (unsigned __int128)(key - klo) * (hi - lo);
            mid = lo + (uint64_t)(span / ((unsigned __int128)(khi - klo) + 1));
            if (mid >= hi)
                mid = hi - 1;
        }
        if (!page_ok(r, mid))
            return -1;
        const unsigned char *p = page_at(r, mid);
        uint32_t n = evs__get_u32(p + SIDX_PG_COUNT);
        if (ent_key(p + (n - 1) * SIDX_ENTRY_LEN) >= key) {
            hi = mid;
            khi = ent_key(p);
        } else {
            lo = mid + 1;
            klo = ent_key(p + (n - 1) * SIDX_ENTRY_LEN);
        }
    }
    return (int64_t)lo;
}

/* Is the record at v's last position the stream `name`'s, with v's version? 1 yes, 0 it
 * is another stream's of the same key (a hash collision), -1 the entry lies. */
static int cross_check(file_backend *fb, const char *name, uint32_t len, uint64_t key,
                       const stream_val *v)
{
    /* Its last event was dropped by retention: the key is all there is to go by. */
    if (evs__pos_dropped(fb->log_start, v->last_pos))
        return 1;
    for (int attempt = 0; attempt < 2; attempt++) {
        seg *s = evs__seg_find(fb, v->last_pos);
        rec_view rec;
        if (s && evs__seg_read_at(fb, s, v->last_off, false, &rec) == 0 && rec.pos == v->last_pos) {
            uint64_t k = rec.stream_hash ? rec.stream_hash : 1;
            if (k != key || rec.version != (uint64_t)v->last_version)
                return -1;
            if (rec.stream_len == len && memcmp(rec.stream, name, len) == 0)
                return rec.version == 0 && v->first_pos != v->last_pos ? -1 : 1;
            uint64_t own = evs__hash64(rec.stream, rec.stream_len);
            return (own ? own : 1) == key ? 0 : -1; /* else the record's name is damaged */
        }
        evs__clearerr();
        /* This handle may not know a segment made since it listed them. */
        if (attempt == 0 && evs__seg_load_all(fb) < 0)
            evs__clearerr();
    }
    return -1;
}

int evs__sidx_find(file_backend *fb, sidx_run *const *runs, size_t n, const char *name,
                   uint32_t len, uint64_t key, stream_val *out)
{
    for (size_t k = n; k-- > 0;) {
        const sidx_run *r = runs[k];
        if (!filter_maybe(r, key))
            continue;
        int64_t pg = find_page(r, key);
        if (pg < 0)
            return evs__seterr(EVS_ECORRUPT,
                               "stream index run %" PRIu64 "-%" PRIu64 ": a damaged page", r->from,
                               r->to);
        for (uint64_t i = (uint64_t)pg * SIDX_PAGE_ENTRIES; i < r->entries; i++) {
            uint64_t p = i / SIDX_PAGE_ENTRIES;
            if (i % SIDX_PAGE_ENTRIES == 0 && !page_ok(r, p))
                return evs__seterr(EVS_ECORRUPT,
                                   "stream index run %" PRIu64 "-%" PRIu64 ": a damaged page",
                                   r->from, r->to);
            const unsigned char *e = page_at(r, p) + (i % SIDX_PAGE_ENTRIES) * SIDX_ENTRY_LEN;
            if (ent_key(e) < key)
                continue;
            if (ent_key(e) > key)
                break;
            stream_val v;
            ent_val(e, &v);
            int c = cross_check(fb, name, len, key, &v);
            if (c < 0)
                return evs__seterr(EVS_ECORRUPT,
                                   "stream index run %" PRIu64 "-%" PRIu64
                                   ": the entry of stream '%.*s' disagrees with the log",
                                   r->from, r->to, (int)len, name);
            if (c > 0) {
                *out = v;
                return 1;
            }
        }
    }
    return 0;
}

/* ---- iterating runs in key order -------------------------------------------------- */

int evs__sidx_iter_init(sidx_iter *it, sidx_run *const *runs, size_t n)
{
    memset(it, 0, sizeof *it);
    it->runs = runs;
    it->n = n;
    it->at = evs__calloc(n ? n : 1, sizeof *it->at);
    return it->at ? 0 : evs__seterr(EVS_ENOMEM, "out of memory reading the stream index");
}

void evs__sidx_iter_free(sidx_iter *it)
{
    evs__free(it->at);
    it->at = NULL;
}

/* Run k's entry at its cursor, or NULL at its end; *bad on a damaged page. */
static const unsigned char *iter_entry(sidx_iter *it, size_t k, bool *bad)
{
    const sidx_run *r = it->runs[k];
    uint64_t i = it->at[k];
    if (i >= r->entries)
        return NULL;
    if (!page_ok(r, i / SIDX_PAGE_ENTRIES)) {
        *bad = true;
        return NULL;
    }
    return page_at(r, i / SIDX_PAGE_ENTRIES) + (i % SIDX_PAGE_ENTRIES) * SIDX_ENTRY_LEN;
}

int evs__sidx_iter_next(sidx_iter *it, uint64_t *key, stream_val *v)
{
    bool bad = false;
    const unsigned char *best = NULL;
    size_t best_k = 0;
    /* Runs newest first: of equal entries (one stream in several runs) the newest wins. */
    for (size_t k = it->n; k-- > 0;) {
        const unsigned char *e = iter_entry(it, k, &bad);
        if (bad)
            return evs__seterr(EVS_ECORRUPT,
                               "stream index run %" PRIu64 "-%" PRIu64 ": a damaged page",
                               it->runs[k]->from, it->runs[k]->to);
        if (e && (!best || ent_key(e) < ent_key(best) ||
                  (ent_key(e) == ent_key(best) && ent_first(e) < ent_first(best)))) {
            best = e;
            best_k = k;
        }
    }
    if (!best)
        return 0;
    *key = ent_key(best);
    ent_val(best, v);
    for (size_t k = 0; k < it->n; k++) {
        const unsigned char *e = k == best_k ? best : iter_entry(it, k, &bad);
        if (e && ent_key(e) == *key && ent_first(e) == v->first_pos)
            it->at[k]++;
    }
    return 1;
}

/* The name of the stream whose last event is v's (its record, checked as a lookup
 * checks it): 0, or EVS_ECORRUPT when the entry disagrees with the log. */
int evs__sidx_name(file_backend *fb, uint64_t key, const stream_val *v, const char **name,
                   uint32_t *len)
{
    if (evs__pos_dropped(fb->log_start, v->last_pos))
        return 1;
    seg *s = evs__seg_find(fb, v->last_pos);
    rec_view rec;
    if (!s || evs__seg_read_at(fb, s, v->last_off, false, &rec) < 0 || rec.pos != v->last_pos) {
        evs__clearerr();
        if (evs__seg_load_all(fb) == 0 && (s = evs__seg_find(fb, v->last_pos)) != NULL &&
            evs__seg_read_at(fb, s, v->last_off, false, &rec) == 0 && rec.pos == v->last_pos)
            goto found;
        return evs__seterr(EVS_ECORRUPT,
                           "stream index: no record at position %" PRIu64
                           " where an entry says a stream ends",
                           v->last_pos);
    }
found:
    if ((rec.stream_hash ? rec.stream_hash : 1) != key || rec.version != (uint64_t)v->last_version)
        return evs__seterr(EVS_ECORRUPT,
                           "stream index: the entry of position %" PRIu64 " disagrees with the log",
                           v->last_pos);
    *name = rec.stream;
    *len = rec.stream_len;
    return 0;
}

/* ---- the chain -------------------------------------------------------------------- */

typedef struct run_name {
    uint64_t from, to;
} run_name;

/* The stream-index/ folder, opened for listing: *d (NULL when it is missing), and its
 * path into path. */
static int open_index_dir(const file_backend *fb, char path[STORE_PATH_MAX], DIR **d)
{
    *d = NULL;
    int rc = evs__path(fb, SIDX_DIR, path, STORE_PATH_MAX);
    if (rc == 0)
        *d = opendir(path);
    return rc;
}

/* The runs in stream-index/ by name (*out, *n; none when the folder is missing). */
static int list_runs(file_backend *fb, run_name **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char path[STORE_PATH_MAX];
    DIR *d;
    int rc = open_index_dir(fb, path, &d);
    if (rc < 0 || !d)
        return rc;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        run_name rn;
        if (!parse_run_name(e->d_name, &rn.from, &rn.to))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            run_name *g = evs__realloc(*out, cap * sizeof *g);
            if (!g) {
                rc = evs__seterr(EVS_ENOMEM, "out of memory listing the stream index");
                break;
            }
            *out = g;
        }
        (*out)[(*n)++] = rn;
    }
    closedir(d);
    return rc;
}

void evs__sidx_release_all(sidx_run **runs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        evs__sidx_release(runs[i]);
    evs__free(runs);
}

int evs__sidx_load(file_backend *fb, uint64_t max_to, sidx_run ***out, size_t *out_n)
{
    *out = NULL;
    *out_n = 0;
    run_name *names;
    size_t count;
    int rc = list_runs(fb, &names, &count);
    sidx_run **chain = NULL;
    size_t n = 0, cap = 0;
    /* From position 0, each step takes the run reaching furthest (a merged run over
     * the ones it replaced), as long as it opens and is this log's. */
    for (uint64_t at = 0; rc == 0;) {
        sidx_run *best = NULL;
        for (;;) {
            uint64_t to = 0;
            for (size_t i = 0; i < count; i++)
                if (names[i].from == at && names[i].to > to && names[i].to <= max_to)
                    to = names[i].to;
            if (to == 0)
                break;
            if ((rc = run_open(fb, at, to, &best)) < 0 || best)
                break;
            for (size_t i = 0; i < count; i++) /* unusable: try the next furthest */
                if (names[i].from == at && names[i].to == to)
                    names[i].to = 0;
        }
        if (!best)
            break;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            sidx_run **g = evs__realloc(chain, cap * sizeof *g);
            if (!g) {
                evs__sidx_release(best);
                rc = evs__seterr(EVS_ENOMEM, "out of memory opening the stream index");
                break;
            }
            chain = g;
        }
        chain[n++] = best;
        at = best->to;
    }
    evs__free(names);
    if (rc < 0) {
        evs__sidx_release_all(chain, n);
        return rc;
    }
    *out = chain;
    *out_n = n;
    return 0;
}

/* ---- writing a run ---------------------------------------------------------------- */

#define WRITE_PAGES 64 /* pages gathered per write */

int evs__sidx_writer_open(sidx_writer *w, file_backend *fb, uint64_t from, uint64_t to)
{
    memset(w, 0, sizeof *w);
    w->fb = fb;
    w->from = from;
    w->to = to;
    w->fd = -1;
    char dir[STORE_PATH_MAX];
    int rc = evs__path(fb, SIDX_DIR, dir, sizeof dir);
    if (rc < 0)
        return rc;
    if (evs__sys.mkdir(dir, 0755) < 0 && errno != EEXIST)
        return evs__seterr_errno(errno, "cannot create '%s'", dir);
    char tail[32];
    snprintf(tail, sizeof tail, ".%ld.tmp", (long)getpid());
    if ((rc = run_path(fb, from, to, tail, w->tmp, sizeof w->tmp)) < 0)
        return rc;
    w->buf = evs__calloc(WRITE_PAGES, SIDX_PAGE_LEN);
    if (!w->buf)
        return evs__seterr(EVS_ENOMEM, "out of memory writing the stream index");
    w->fd = evs__sys.open(w->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        rc = evs__seterr_errno(errno, "cannot create '%s'", w->tmp);
        evs__free(w->buf);
        w->buf = NULL;
        return rc;
    }
    w->file_off = SIDX_PAGE_LEN; /* the header goes in last */
    return 0;
}

static int writer_flush_pages(sidx_writer *w, bool all)
{
    size_t full = w->buf_pages;
    if (all && w->in_page)
        full++;
    if (full == 0)
        return 0;
    for (size_t i = 0; i < full; i++) {
        unsigned char *p = w->buf + i * SIDX_PAGE_LEN;
        w->page_no++;
        evs__put_u32(p + SIDX_PG_NO, (uint32_t)w->page_no);
        evs__put_u32(p + SIDX_PG_TO, (uint32_t)w->to);
        evs__put_u32(p + SIDX_PG_CRC, evs__crc32c(0, p, SIDX_PG_CRC));
    }
    if (evs__pwrite_all(w->fd, w->buf, full * SIDX_PAGE_LEN, (off_t)w->file_off) < 0)
        return evs__seterr_errno(errno, "cannot write '%s'", w->tmp);
    w->file_off += full * SIDX_PAGE_LEN;
    memset(w->buf, 0, WRITE_PAGES * SIDX_PAGE_LEN);
    w->buf_pages = 0;
    w->in_page = 0;
    return 0;
}

int evs__sidx_writer_add(sidx_writer *w, uint64_t key, const stream_val *v)
{
    unsigned char *p = w->buf + w->buf_pages * SIDX_PAGE_LEN;
    unsigned char *e = p + w->in_page * SIDX_ENTRY_LEN;
    evs__put_u64(e, key);
    evs__put_u64(e + 8, v->first_pos);
    evs__put_u64(e + 16, v->last_pos);
    evs__put_u64(e + 24, (uint64_t)v->last_version);
    evs__put_u32(e + 32, v->last_off);
    evs__put_u32(p + SIDX_PG_COUNT, ++w->in_page);
    w->entries++;
    if (w->in_page < SIDX_PAGE_ENTRIES)
        return 0;
    w->in_page = 0;
    if (++w->buf_pages < WRITE_PAGES)
        return 0;
    return writer_flush_pages(w, false);
}

void evs__sidx_writer_abort(sidx_writer *w)
{
    if (w->fd >= 0) {
        evs__sys.close(w->fd);
        (void)evs__sys.unlink(w->tmp);
    }
    w->fd = -1;
    evs__free(w->buf);
    w->buf = NULL;
}

/* The Bloom filter of the entries written so far, read back from the file (a merge
 * knows how many entries it makes only at its end), written after them. */
static int write_filter(sidx_writer *w)
{
    uint64_t blocks = SIDX_FILTER_BLOCKS(w->entries);
    if (!blocks)
        return 0;
    uint64_t fpages = (blocks + SIDX_FILTER_PAGE_BLOCKS - 1) / SIDX_FILTER_PAGE_BLOCKS;
    unsigned char *f = evs__calloc(fpages, SIDX_PAGE_LEN);
    if (!f)
        return evs__seterr(EVS_ENOMEM, "out of memory writing the stream index's filter");
    int rc = 0;
    for (uint64_t pg = 0; rc == 0 && pg * SIDX_PAGE_ENTRIES < w->entries; pg += WRITE_PAGES) {
        uint64_t n =
            (w->entries - pg * SIDX_PAGE_ENTRIES + SIDX_PAGE_ENTRIES - 1) / SIDX_PAGE_ENTRIES;
        n = n < WRITE_PAGES ? n : WRITE_PAGES;
        if (evs__pread_all(w->fd, w->buf, n * SIDX_PAGE_LEN, (off_t)((pg + 1) * SIDX_PAGE_LEN)) !=
            0) {
            rc = evs__seterr_errno(errno ? errno : EIO, "cannot read back '%s'", w->tmp);
            break;
        }
        for (uint64_t i = 0; i < n; i++) {
            const unsigned char *p = w->buf + i * SIDX_PAGE_LEN;
            for (uint32_t e = 0; e < evs__get_u32(p + SIDX_PG_COUNT); e++) {
                uint64_t mixed = filter_mix(ent_key(p + e * SIDX_ENTRY_LEN));
                uint64_t b = filter_block(mixed, blocks);
                filter_set(f + (b / SIDX_FILTER_PAGE_BLOCKS) * SIDX_PAGE_LEN +
                               (b % SIDX_FILTER_PAGE_BLOCKS) * 64,
                           mixed);
            }
        }
    }
    uint64_t first = w->file_off / SIDX_PAGE_LEN - 1;
    for (uint64_t i = 0; rc == 0 && i < fpages; i++) {
        unsigned char *p = f + i * SIDX_PAGE_LEN;
        evs__put_u32(p + SIDX_PG_NO, (uint32_t)(first + i + 1));
        evs__put_u32(p + SIDX_PG_TO, (uint32_t)w->to);
        evs__put_u32(p + SIDX_PG_CRC, evs__crc32c(0, p, SIDX_PG_CRC));
    }
    if (rc == 0 && evs__pwrite_all(w->fd, f, fpages * SIDX_PAGE_LEN, (off_t)w->file_off) < 0)
        rc = evs__seterr_errno(errno, "cannot write '%s'", w->tmp);
    evs__free(f);
    return rc;
}

int evs__sidx_writer_finish(sidx_writer *w, uint64_t next_seg, uint64_t next_off, uint64_t streams,
                            bool durable, sidx_run **out)
{
    *out = NULL;
    int rc = writer_flush_pages(w, true);
    if (rc == 0)
        rc = write_filter(w);
    if (rc < 0 || w->entries > UINT32_MAX) {
        if (rc == 0)
            rc = evs__seterr(EVS_EINVAL, "a stream index run of more than 2^32 entries");
        evs__sidx_writer_abort(w);
        return rc;
    }
    unsigned char h[64] = {0};
    memcpy(h + SIDX_OFF_MAGIC, SIDX_MAGIC, 8);
    evs__put_u32(h + SIDX_OFF_FMT, EVS_FORMAT_VERSION);
    evs__put_u32(h + SIDX_OFF_ID, store_tag(w->fb));
    evs__put_u64(h + SIDX_OFF_FROM, w->from);
    evs__put_u64(h + SIDX_OFF_TO, w->to);
    evs__put_u64(h + SIDX_OFF_SEG, next_seg);
    evs__put_u32(h + SIDX_OFF_END, (uint32_t)next_off);
    evs__put_u32(h + SIDX_OFF_LASTCRC, evs__sidx_record_crc(w->fb, w->to));
    evs__put_u64(h + SIDX_OFF_STREAMS, streams);
    evs__put_u32(h + SIDX_OFF_ENTRIES, (uint32_t)w->entries);
    evs__put_u32(h + SIDX_OFF_CRC, evs__crc32c(0, h, SIDX_OFF_CRC));
    unsigned char zero[SIDX_PAGE_LEN - 64] = {0};
    char path[STORE_PATH_MAX], dir[STORE_PATH_MAX];
    if (evs__pwrite_all(w->fd, h, 64, 0) < 0 || evs__pwrite_all(w->fd, zero, sizeof zero, 64) < 0 ||
        (durable && evs__datasync(w->fd) < 0)) {
        rc = evs__seterr_errno(errno, "cannot write '%s'", w->tmp);
        evs__sidx_writer_abort(w);
        return rc;
    }
    evs__sys.close(w->fd);
    w->fd = -1;
    if ((rc = run_path(w->fb, w->from, w->to, "", path, sizeof path)) < 0 ||
        (rc = evs__path(w->fb, SIDX_DIR, dir, sizeof dir)) < 0 ||
        (evs__sys.rename(w->tmp, path) < 0 &&
         (rc = evs__seterr_errno(errno, "cannot rename '%s'", w->tmp)) < 0)) {
        (void)evs__sys.unlink(w->tmp);
        evs__free(w->buf);
        w->buf = NULL;
        return rc;
    }
    evs__free(w->buf);
    w->buf = NULL;
    if (durable)
        (void)evs__dirsync(dir); /* a lost rename costs a longer scan, nothing else */
    if ((rc = run_open(w->fb, w->from, w->to, out)) == 0 && !*out)
        rc = evs__seterr(EVS_EIO, "the stream index run just written cannot be read back");
    return rc;
}

/* ---- removing runs ---------------------------------------------------------------- */

int evs__sidx_lock_merges(file_backend *fb, bool wait)
{
    char path[STORE_PATH_MAX];
    int rc = evs__path(fb, SIDX_DIR "/" SIDX_MERGE_LOCK, path, sizeof path);
    if (rc < 0)
        return rc;
    char dir[STORE_PATH_MAX];
    if ((rc = evs__path(fb, SIDX_DIR, dir, sizeof dir)) < 0)
        return rc;
    if (evs__sys.mkdir(dir, 0755) < 0 && errno != EEXIST)
        return evs__seterr_errno(errno, "cannot create '%s'", dir);
    int fd = evs__sys.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return evs__seterr_errno(errno, "cannot open '%s'", path);
    if (evs__sys.flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) < 0) {
        int err = errno;
        evs__sys.close(fd);
        return err == EWOULDBLOCK
                   ? evs__seterr(EVS_EBUSY, "another process merges the stream index")
                   : evs__seterr_errno(err, "cannot lock '%s'", path);
    }
    return fd;
}

void evs__sidx_unlock_merges(int fd)
{
    if (fd >= 0)
        evs__sys.close(fd); /* closing drops the flock */
}

/* A "<run>.<pid>.tmp" left by a process that is gone. */
static bool stale_temp(const char *n)
{
    size_t len = strlen(n);
    if (len < 51 || strncmp(n + 41, ".run.", 5) != 0 || strcmp(n + len - 4, ".tmp") != 0)
        return false;
    return evs__tmp_pid_gone(n + 46, n + len - 4);
}

int evs__sidx_remove(file_backend *fb, uint64_t above, bool superseded)
{
    char path[STORE_PATH_MAX];
    DIR *d;
    int rc = open_index_dir(fb, path, &d);
    if (rc < 0 || !d)
        return rc;
    run_name *names;
    size_t count;
    if ((rc = list_runs(fb, &names, &count)) < 0) {
        closedir(d);
        return rc;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        run_name rn;
        bool drop = stale_temp(e->d_name);
        if (parse_run_name(e->d_name, &rn.from, &rn.to)) {
            drop = rn.to > above;
            for (size_t i = 0; superseded && !drop && i < count; i++)
                drop = names[i].from <= rn.from && names[i].to >= rn.to &&
                       (names[i].from != rn.from || names[i].to != rn.to) && names[i].to <= above;
        }
        char file[STORE_TMP_PATH_MAX];
        if (drop && snprintf(file, sizeof file, "%s/%s", path, e->d_name) < (int)sizeof file &&
            evs__sys.unlink(file) < 0 && errno != ENOENT) {
            rc = evs__seterr_errno(errno, "cannot remove '%s'", file);
            break;
        }
    }
    closedir(d);
    evs__free(names);
    return rc;
}
