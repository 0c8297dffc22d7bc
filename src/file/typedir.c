/*
 * typedir.c - the type directory of a sealed segment (<first position>.tdx): its
 * records grouped by event type and by stream category, made by the same background
 * builder as the stream directory (streamdir.c).
 *
 * A read filtered by type, category or prefix otherwise reads the header of every
 * record to find the few it wants. With a directory it reads the segment's run for the
 * type or category asked for (8 bytes an entry) and then only the records listed there.
 * The directory is a cache: every record it leads to is read and checked as always
 * (position, checksum, and that it has the type or category it was filed under), and a
 * reader that finds it missing, stale, damaged or wrong scans the segment instead.
 *
 * A prefix is answered from the categories: a category is the stream name up to its
 * first '-', so a prefix without '-' selects exactly the streams whose category starts
 * with it (a range of the sorted category names), and a prefix or category with a '-'
 * lies inside one category, whose run is read and filtered.
 */
#define _GNU_SOURCE
#include "typedir.h"
#include "evstore.h"
#include "file_backend.h"
#include "format.h"
#include "path.h"
#include "record.h"
#include "seg_cache.h"
#include "segment.h"
#include "streamdir.h"
#include "sysio.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A stream's category: the name up to its first '-' (the whole name when it has none). */
static uint32_t category_len(const char *stream, uint32_t len)
{
    const char *dash = memchr(stream, '-', len);
    return dash ? (uint32_t)(dash - stream) : len;
}

static int name_cmp(const char *a, uint32_t alen, const char *b, uint32_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* ---- making one ------------------------------------------------------------------ */

typedef struct build_key {
    const char *name; /* in the segment's mapping */
    uint32_t len;
    uint32_t hash;    /* of the name: a record's type_hash, or hashed here */
    uint32_t n;       /* records with this key */
    uint32_t first;   /* its run's first entry */
} build_key;

/* The distinct names of one kind (types, or categories) met in a segment. */
typedef struct key_set {
    build_key *keys;
    uint32_t n, cap;
    uint32_t *slots; /* open addressing: key index + 1, 0 = empty */
    uint32_t slot_mask;
} key_set;

static void key_set_free(key_set *ks)
{
    evs__free(ks->keys);
    evs__free(ks->slots);
}

static int key_set_grow(key_set *ks)
{
    uint32_t cap = ks->cap ? ks->cap * 2 : 64;
    build_key *keys = evs__realloc(ks->keys, (size_t)cap * sizeof *keys);
    if (!keys)
        return EVS_ENOMEM;
    ks->keys = keys;
    ks->cap = cap;
    /* Twice as many slots as keys: probes stay short. */
    uint32_t *slots = evs__calloc((size_t)cap * 2, sizeof *slots);
    if (!slots)
        return EVS_ENOMEM;
    evs__free(ks->slots);
    ks->slots = slots;
    ks->slot_mask = cap * 2 - 1;
    for (uint32_t i = 0; i < ks->n; i++) {
        uint32_t at = keys[i].hash & ks->slot_mask;
        while (slots[at])
            at = (at + 1) & ks->slot_mask;
        slots[at] = i + 1;
    }
    return 0;
}

/* The index of name (whose hash is `hash`) in ks, added when new, its count raised;
 * negative when out of memory. */
static int64_t key_id(key_set *ks, const char *name, uint32_t len, uint32_t hash)
{
    if (ks->n == ks->cap && key_set_grow(ks) < 0)
        return EVS_ENOMEM;
    uint32_t at = hash & ks->slot_mask;
    for (; ks->slots[at]; at = (at + 1) & ks->slot_mask) {
        build_key *k = &ks->keys[ks->slots[at] - 1];
        if (k->len == len && memcmp(k->name, name, len) == 0) {
            k->n++;
            return ks->slots[at] - 1;
        }
    }
    ks->keys[ks->n] = (build_key){name, len, hash, 1, 0};
    ks->slots[at] = ++ks->n;
    return ks->n - 1;
}

static int by_name(const void *a, const void *b)
{
    const build_key *x = a, *y = b;
    return name_cmp(x->name, x->len, y->name, y->len);
}

/* Sort the keys by name, give each its run from `first` on, and map old indexes to
 * new in *order (which the caller frees). */
static int key_set_order(key_set *ks, uint32_t first, uint32_t **order)
{
    build_key *sorted = evs__realloc(NULL, (size_t)(ks->n ? ks->n : 1) * sizeof *sorted);
    *order = evs__realloc(NULL, (size_t)(ks->n ? ks->n : 1) * sizeof **order);
    if (!sorted || !*order) {
        evs__free(sorted);
        return EVS_ENOMEM;
    }
    /* Stash the old index in `first` to find it after the sort. */
    for (uint32_t i = 0; i < ks->n; i++) {
        sorted[i] = ks->keys[i];
        sorted[i].first = i;
    }
    qsort(sorted, ks->n, sizeof *sorted, by_name);
    for (uint32_t i = 0; i < ks->n; i++) {
        (*order)[sorted[i].first] = i;
        sorted[i].first = first;
        first += sorted[i].n;
    }
    evs__free(ks->keys);
    ks->keys = sorted;
    return 0;
}

/* One record as the directory sees it. */
typedef struct build_rec {
    uint32_t type_key;
    uint32_t cat_key;
    uint32_t off;
} build_rec;

/* Most records repeat a stream or type met shortly before: a record's stream finds its
 * category through a small table indexed by the stream hash its header carries (the
 * name compared, as hashes collide), and its type is first compared with the last one
 * met; only the rest look the names up. That halves the builder's work per record. */
#define STREAM_MEMO 16384

typedef struct stream_memo {
    const char *name; /* NULL: empty */
    uint32_t len;
    uint32_t cat;     /* its category's key */
} stream_memo;

typedef struct build {
    seg *s;
    const unsigned char *base;
    build_rec *recs;
    uint64_t count;
    uint32_t last_crc;
    key_set types, cats;
    stream_memo *memo;
    int64_t last_type;
} build;

static int64_t type_key(build *b, const rec_view *r)
{
    build_key *k = b->last_type >= 0 ? &b->types.keys[b->last_type] : NULL;
    if (k && k->len == r->type_len && memcmp(k->name, r->type, r->type_len) == 0) {
        k->n++;
        return b->last_type;
    }
    return b->last_type = key_id(&b->types, r->type, r->type_len, r->type_hash);
}

static int64_t category_key(build *b, const rec_view *r)
{
    stream_memo *m = &b->memo[r->stream_hash & (STREAM_MEMO - 1)];
    if (m->name && m->len == r->stream_len && memcmp(m->name, r->stream, r->stream_len) == 0) {
        b->cats.keys[m->cat].n++;
        return m->cat;
    }
    uint32_t len = category_len(r->stream, r->stream_len);
    int64_t c = key_id(&b->cats, r->stream, len, (uint32_t)evs__hash64(r->stream, len));
    if (c >= 0)
        *m = (stream_memo){r->stream, r->stream_len, (uint32_t)c};
    return c;
}

/* Walk s's records up to `end`, checksums checked (the directory files a record by its
 * type and stream name, which must be the ones written), collecting their keys. */
static int collect(file_backend *fb, build *b, uint64_t end)
{
    seg *s = b->s;
    const mapping *m = evs__seg_map(fb, s, end);
    if (!m)
        return evs__lasterr_code();
    (void)evs__sys.madvise((void *)m->base, (size_t)end, MADV_POPULATE_READ);
    b->base = m->base;
    uint64_t cap = 0;
    for (uint64_t off = SEG_HDR_LEN; off < end;) {
        rec_view r;
        int st = evs__rec_decode_inline(m->base + off, end - off, true, &r);
        if (st != REC_OK || r.pos != s->first_pos + b->count)
            return evs__seterr(EVS_ECORRUPT, "segment %s: %s at byte %" PRIu64, s->name,
                               st != REC_OK ? evs__rec_status_str(st) : "wrong position", off);
        if (b->count == cap) {
            cap = cap ? cap * 2 : 4096;
            build_rec *grown = evs__realloc(b->recs, cap * sizeof *grown);
            if (!grown)
                return EVS_ENOMEM;
            b->recs = grown;
        }
        int64_t t = type_key(b, &r);
        int64_t c = category_key(b, &r);
        if (t < 0 || c < 0)
            return EVS_ENOMEM;
        b->recs[b->count++] = (build_rec){(uint32_t)t, (uint32_t)c, (uint32_t)off};
        off += REC_ALIGN(r.len);
    }
    if (b->count)
        b->last_crc = evs__get_u32(m->base + b->recs[b->count - 1].off + REC_OFF_CRC);
    return 0;
}

static size_t pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Keys, names and runs of one kind into the image; false when out of memory. */
static bool lay_out_kind(const build *b, const key_set *ks, const uint32_t *order,
                         bool is_type, unsigned char *keys, unsigned char *names,
                         uint32_t *names_at, unsigned char *entries)
{
    uint32_t *fill = evs__realloc(NULL, (size_t)(ks->n ? ks->n : 1) * sizeof *fill);
    if (!fill)
        return false;
    for (uint32_t i = 0; i < ks->n; i++)
        fill[i] = ks->keys[i].first;
    for (uint64_t rel = 0; rel < b->count; rel++) {
        uint32_t k = order[is_type ? b->recs[rel].type_key : b->recs[rel].cat_key];
        evs__put_u64(entries + (size_t)fill[k]++ * TDX_ENTRY_LEN, rel << 32 | b->recs[rel].off);
    }
    evs__free(fill);
    for (uint32_t i = 0; i < ks->n; i++) {
        const build_key *k = &ks->keys[i];
        unsigned char *e = keys + (size_t)i * TDX_KEY_LEN;
        memcpy(names + *names_at, k->name, k->len);
        evs__put_u32(e + TDX_KEY_NAME, *names_at);
        evs__put_u32(e + TDX_KEY_NLEN, k->len);
        evs__put_u32(e + TDX_KEY_FIRST, k->first);
        evs__put_u32(e + TDX_KEY_N, k->n);
        evs__put_u32(e + TDX_KEY_CRC, evs__crc32c(0, entries + (size_t)k->first * TDX_ENTRY_LEN,
                                                   (size_t)k->n * TDX_ENTRY_LEN));
        *names_at += k->len;
    }
    return true;
}

static size_t names_len(const key_set *ks)
{
    size_t n = 0;
    for (uint32_t i = 0; i < ks->n; i++)
        n += ks->keys[i].len;
    return n;
}

static unsigned char *layout(build *b, uint64_t seg_len, size_t *len_out)
{
    uint32_t *torder = NULL, *corder = NULL;
    if (key_set_order(&b->types, 0, &torder) < 0 ||
        key_set_order(&b->cats, (uint32_t)b->count, &corder) < 0) {
        evs__free(torder);
        return NULL;
    }
    size_t nkeys = (size_t)b->types.n + b->cats.n;
    size_t names = names_len(&b->types) + names_len(&b->cats);
    size_t keys_at = TDX_HDR_LEN, names_at = keys_at + nkeys * TDX_KEY_LEN;
    size_t entries_at = names_at + pad8(names);
    size_t len = entries_at + 2 * (size_t)b->count * TDX_ENTRY_LEN;
    unsigned char *img = evs__calloc(1, len);
    uint32_t at = 0;
    if (img && (!lay_out_kind(b, &b->types, torder, true, img + keys_at, img + names_at, &at,
                              img + entries_at) ||
                !lay_out_kind(b, &b->cats, corder, false,
                              img + keys_at + (size_t)b->types.n * TDX_KEY_LEN, img + names_at,
                              &at, img + entries_at))) {
        evs__free(img);
        img = NULL;
    }
    if (img) {
        evs__seg_cache_header_put(img, TDX_MAGIC, b->s->first_pos, seg_len, b->count,
                                  b->recs[b->count - 1].off, b->last_crc);
        evs__put_u32(img + TDX_OFF_TKEYS, b->types.n);
        evs__put_u32(img + TDX_OFF_CKEYS, b->cats.n);
        evs__put_u32(img + TDX_OFF_NAMES, (uint32_t)names);
        evs__put_u32(img + TDX_OFF_KEYCRC, evs__crc32c(0, img + keys_at, entries_at - keys_at));
        evs__put_u32(img + TDX_OFF_CRC, evs__crc32c(0, img, TDX_OFF_CRC));
        *len_out = len;
    }
    evs__free(torder);
    evs__free(corder);
    return img;
}

int evs__tdx_build(file_backend *fb, seg *s, uint64_t end)
{
    build b = {.s = s, .last_type = -1, .memo = evs__calloc(STREAM_MEMO, sizeof(stream_memo))};
    int rc = !b.memo          ? EVS_ENOMEM
             : end > UINT32_MAX ? evs__seterr(EVS_EINVAL, "segment %s is too long for a type "
                                              "directory", s->name)
                                : collect(fb, &b, end);
    unsigned char *img = NULL;
    size_t len = 0;
    if (rc == 0 && b.count > 0 && !(img = layout(&b, end, &len)))
        rc = EVS_ENOMEM;
    if (rc == EVS_ENOMEM)
        rc = evs__seterr(EVS_ENOMEM, "out of memory making the type directory of %s", s->name);
    /* Not synced: after a crash a torn directory fails its checks and is not used. */
    if (img)
        rc = evs__seg_write_cache(fb, s->first_pos, "tdx", img, len);
    evs__free(img);
    evs__free(b.recs);
    evs__free(b.memo);
    key_set_free(&b.types);
    key_set_free(&b.cats);
    return rc;
}

/* ---- checking one ---------------------------------------------------------------- */

static const unsigned char *key_at(const unsigned char *h, uint32_t i)
{
    return h + TDX_HDR_LEN + (size_t)i * TDX_KEY_LEN;
}

static const char *key_name(const unsigned char *h, const unsigned char *k)
{
    uint32_t nkeys = evs__get_u32(h + TDX_OFF_TKEYS) + evs__get_u32(h + TDX_OFF_CKEYS);
    return (const char *)h + TDX_HDR_LEN + (size_t)nkeys * TDX_KEY_LEN +
           evs__get_u32(k + TDX_KEY_NAME);
}

/* Keys [from, from + n): names inside the names and in strictly increasing order, runs
 * back to back from entry `first`, together `count` entries. */
static bool keys_fit(const unsigned char *h, uint32_t from, uint32_t n, uint64_t first,
                     uint64_t count, uint64_t names)
{
    uint64_t at = first;
    for (uint32_t i = from; i < from + n; i++) {
        const unsigned char *k = key_at(h, i);
        uint64_t name = evs__get_u32(k + TDX_KEY_NAME), len = evs__get_u32(k + TDX_KEY_NLEN);
        uint32_t runs = evs__get_u32(k + TDX_KEY_N);
        if (name + len > names || evs__get_u32(k + TDX_KEY_FIRST) != at ||
            runs == 0)
            return false;
        if (i > from) {
            const unsigned char *p = key_at(h, i - 1);
            if (name_cmp(key_name(h, p), evs__get_u32(p + TDX_KEY_NLEN), key_name(h, k),
                         (uint32_t)len) >= 0)
                return false;
        }
        at += runs;
    }
    return at == first + count;
}

/* Is the mapped directory m whole, made from segment s as it is now (same length, same
 * last record), its keys in order and their runs covering every record once by type
 * and once by category? The runs' own checksums are checked when they are read. */
static bool matches_segment(file_backend *fb, seg *s, const mapping *m)
{
    const unsigned char *h = m->base;
    uint64_t count;
    if (!evs__seg_cache_header_fits(fb, s, h, TDX_MAGIC, &count))
        return false;
    uint64_t tkeys = evs__get_u32(h + TDX_OFF_TKEYS), ckeys = evs__get_u32(h + TDX_OFF_CKEYS);
    uint64_t names = evs__get_u32(h + TDX_OFF_NAMES);
    if (tkeys == 0 || ckeys == 0)
        return false;
    uint64_t keys_len = (tkeys + ckeys) * TDX_KEY_LEN;
    uint64_t entries_at = TDX_HDR_LEN + keys_len + pad8(names);
    return m->len == entries_at + 2 * count * TDX_ENTRY_LEN &&
           evs__crc32c(0, h + TDX_HDR_LEN, entries_at - TDX_HDR_LEN) ==
               evs__get_u32(h + TDX_OFF_KEYCRC) &&
           keys_fit(h, 0, (uint32_t)tkeys, 0, count, names) &&
           keys_fit(h, (uint32_t)tkeys, (uint32_t)ckeys, count, count, names);
}

void evs__tdx_made(seg *s)
{
    evs__seg_cache_made(&s->tdx);
}

void evs__tdx_distrust(seg *s)
{
    evs__seg_cache_distrust(&s->tdx);
}

/* ---- choosing the runs a query needs ---------------------------------------------- */

bool evs__tdx_applies(const evs__query_c *q)
{
    return q->type_count || q->category || q->prefix;
}

static bool cat_pick_of(const evs__query_c *q, cat_pick *p)
{
    /* A category or prefix with a '-' in it lies inside the category before that '-'. */
    if (q->category) {
        *p = (cat_pick){q->category, category_len(q->category, q->category_len), false};
        return true;
    }
    if (q->prefix) {
        uint32_t len = category_len(q->prefix, q->prefix_len);
        *p = (cat_pick){q->prefix, len, len == q->prefix_len};
        return true;
    }
    return false;
}

static bool cat_picked(const cat_pick *p, const char *name, uint32_t len)
{
    if (p->prefix)
        return len >= p->len && memcmp(name, p->name, p->len) == 0;
    return len == p->len && memcmp(name, p->name, len) == 0;
}

/* The first key in [lo, hi) whose name is not below `name`. */
static uint32_t lower_bound(const unsigned char *h, uint32_t lo, uint32_t hi, const char *name,
                            uint32_t len)
{
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const unsigned char *k = key_at(h, mid);
        if (name_cmp(key_name(h, k), evs__get_u32(k + TDX_KEY_NLEN), name, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The keys picked, as a list of key indexes (*n of them) with the entries they hold
 * (*total). */
static void pick_types(const unsigned char *h, const evs__query_c *q, uint32_t *keys,
                       uint32_t *n, uint64_t *total)
{
    uint32_t tkeys = evs__get_u32(h + TDX_OFF_TKEYS);
    *n = 0;
    *total = 0;
    for (size_t i = 0; i < q->type_count; i++) {
        uint32_t at = lower_bound(h, 0, tkeys, q->types[i], q->type_lens[i]);
        if (at == tkeys || name_cmp(key_name(h, key_at(h, at)),
                                    evs__get_u32(key_at(h, at) + TDX_KEY_NLEN), q->types[i],
                                    q->type_lens[i]) != 0)
            continue;
        bool again = false; /* the same type named twice */
        for (uint32_t j = 0; j < *n && !again; j++)
            again = keys[j] == at;
        if (!again) {
            keys[(*n)++] = at;
            *total += evs__get_u32(key_at(h, at) + TDX_KEY_N);
        }
    }
}

static uint32_t count_cats(const unsigned char *h, const cat_pick *p, uint32_t *from,
                           uint64_t *total)
{
    uint32_t tkeys = evs__get_u32(h + TDX_OFF_TKEYS);
    uint32_t end = tkeys + evs__get_u32(h + TDX_OFF_CKEYS);
    uint32_t at = lower_bound(h, tkeys, end, p->name, p->len);
    *from = at;
    *total = 0;
    for (; at < end; at++) {
        const unsigned char *k = key_at(h, at);
        if (!cat_picked(p, key_name(h, k), evs__get_u32(k + TDX_KEY_NLEN)))
            break;
        *total += evs__get_u32(k + TDX_KEY_N);
    }
    return at - *from;
}

/* ---- walking a segment by it ------------------------------------------------------ */

static int reserve(tdx_walk *w, uint64_t n)
{
    if (n <= w->cap)
        return 0;
    uint64_t *e = evs__realloc(w->e, (size_t)n * sizeof *e);
    if (!e)
        return evs__seterr(EVS_ENOMEM, "out of memory reading a type directory");
    w->e = e;
    w->cap = n;
    return 0;
}

static int by_entry(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Append key k's run to w->e, checking its checksum and that its entries name records
 * of the segment in position order (false: the directory is not to be used). */
static bool take_run(tdx_walk *w, const unsigned char *h, const unsigned char *k)
{
    uint64_t count = evs__get_u64(h + TDX_OFF_COUNT);
    uint64_t seg_len = evs__get_u64(h + TDX_OFF_SEGLEN);
    uint32_t nkeys = evs__get_u32(h + TDX_OFF_TKEYS) + evs__get_u32(h + TDX_OFF_CKEYS);
    const unsigned char *run = h + TDX_HDR_LEN + (size_t)nkeys * TDX_KEY_LEN +
                               pad8(evs__get_u32(h + TDX_OFF_NAMES)) +
                               (size_t)evs__get_u32(k + TDX_KEY_FIRST) * TDX_ENTRY_LEN;
    uint32_t n = evs__get_u32(k + TDX_KEY_N);
    if (evs__crc32c(0, run, (size_t)n * TDX_ENTRY_LEN) != evs__get_u32(k + TDX_KEY_CRC))
        return false;
    uint64_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t e = evs__get_u64(run + (size_t)i * TDX_ENTRY_LEN);
        uint64_t rel = e >> 32, off = e & UINT32_MAX;
        if ((i > 0 && e <= prev) || rel >= count || off < SEG_HDR_LEN ||
            off + REC_HDR_LEN > seg_len)
            return false;
        w->e[w->n++] = e;
        prev = e;
    }
    return true;
}

/* The candidates of the keys picked, merged into position order. false: a run is
 * damaged, or two of them name one record. */
static bool gather(tdx_walk *w, const unsigned char *h, const uint32_t *keys, uint32_t nkeys,
                   uint32_t from, uint32_t span)
{
    w->n = 0;
    uint32_t runs = keys ? nkeys : span;
    for (uint32_t i = 0; i < runs; i++)
        if (!take_run(w, h, key_at(h, keys ? keys[i] : from + i)))
            return false;
    if (runs > 1) {
        qsort(w->e, w->n, sizeof *w->e, by_entry);
        for (uint64_t i = 1; i < w->n; i++)
            if (w->e[i] >> 32 == w->e[i - 1] >> 32)
                return false;
    }
    return true;
}

/* How the walk reads its records. Through the segment's mapping, a record on a page
 * not yet mapped costs a page fault (which maps the 16 pages around it too, and their
 * unmapping later); filling the page tables of the whole span in one call
 * (MADV_POPULATE_READ) costs about 0.2 us a page. A pread of the record alone costs
 * about 1 us. Measured on the development machine over 28 sealed segments, CPU time:
 * records 190 KB apart (0.1%), a fault each 2.4 us against 1.0 us by pread; 19 KB apart
 * (1%), 121-163 ms populating against 76-99 ms by pread; 1.9 KB apart (10%), 272-285
 * ms populating against 579-595 ms by pread. Records more than SPARSE_GAP apart on
 * average are read alone; closer ones through the mapping, populated first. */
#define SPARSE_GAP ((uint64_t)8 << 10)

static void choose_reads(tdx_walk *w, file_backend *fb)
{
    w->sparse = w->n < 2;
    if (w->n < 2)
        return;
    uint64_t lo = w->e[0] & UINT32_MAX, hi = (w->e[w->n - 1] & UINT32_MAX) + REC_HDR_LEN;
    if (w->n * SPARSE_GAP < hi - lo) {
        w->sparse = true;
        return;
    }
    const mapping *m = evs__seg_map_range(fb, w->s, lo, hi);
    if (!m)
        return evs__clearerr();
    lo &= ~(uint64_t)4095;
    (void)evs__sys.madvise((void *)(m->base + lo), ((hi + 4095) & ~(uint64_t)4095) - lo,
                           MADV_POPULATE_READ);
}

/* The type keys a query can pick: at most its type count, bounded here so the list
 * lives on the stack; a query naming more types picks by category, or scans. */
#define PICK_MAX 64

int evs__tdx_walk_start(tdx_walk *w, file_backend *fb, seg *s, const evs__query_c *q,
                        uint64_t pos, bool backward)
{
    w->s = NULL;
    const mapping *m = evs__seg_cache_load(fb, s, &s->tdx, "tdx", TDX_HDR_LEN, matches_segment);
    if (!m)
        return 0;
    const unsigned char *h = m->base;
    uint32_t keys[PICK_MAX], nkeys = 0, from = 0, span = 0;
    uint64_t by_type = UINT64_MAX, by_cat = UINT64_MAX;
    if (q->type_count && q->type_count <= PICK_MAX)
        pick_types(h, q, keys, &nkeys, &by_type);
    cat_pick p;
    bool cats = cat_pick_of(q, &p);
    if (cats)
        span = count_cats(h, &p, &from, &by_cat);
    if (by_type == UINT64_MAX && by_cat == UINT64_MAX)
        return 0;
    bool use_types = by_type <= by_cat;
    int rc = reserve(w, use_types ? by_type : by_cat);
    if (rc < 0)
        return rc;
    if (!gather(w, h, use_types ? keys : NULL, nkeys, from, span)) {
        evs__tdx_distrust(s);
        return 0;
    }
    w->s = s;
    w->by_type = use_types;
    w->cat = cats ? p : (cat_pick){0};
    w->count = evs__get_u64(h + TDX_OFF_COUNT);
    w->backward = backward;
    /* Forward: the first entry at or after pos; backward: the last at or before it. */
    uint64_t rel = pos - s->first_pos, lo = 0, hi = w->n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if ((w->e[mid] >> 32) < rel + backward)
            lo = mid + 1;
        else
            hi = mid;
    }
    w->i = lo;
    choose_reads(w, fb);
    return 1;
}

uint64_t evs__tdx_walk_peek(const tdx_walk *w)
{
    if (w->backward)
        return w->i > 0 ? w->s->first_pos + (w->e[w->i - 1] >> 32) : 0;
    return w->i < w->n ? w->s->first_pos + (w->e[w->i] >> 32) : UINT64_MAX;
}

/* Does record r belong where the walk found it: under one of the query's types, or in
 * a category it picks? */
static bool filed_rightly(const tdx_walk *w, const evs__query_c *q, const rec_view *r)
{
    if (w->by_type) {
        for (size_t i = 0; i < q->type_count; i++)
            if (q->type_lens[i] == r->type_len && memcmp(q->types[i], r->type, r->type_len) == 0)
                return true;
        return false;
    }
    const cat_pick *p = &w->cat;
    return cat_picked(p, r->stream, category_len(r->stream, r->stream_len));
}

/* The record at byte off of the walk's segment, read into the walk's buffer (whole,
 * its checksum checked). A short read or a bad record is an error, with no message:
 * the caller scans instead, and the scan says what is wrong. */
#define SPARSE_READ 512
#define RECORD_MAX (REC_HDR_LEN + EVS_MAX_STREAM_LEN + EVS_MAX_TYPE_LEN + EVS_MAX_EVENT_LEN)

static int read_alone(tdx_walk *w, uint64_t off, rec_view *r)
{
    for (size_t want = SPARSE_READ;;) {
        if (want > w->buf_cap) {
            unsigned char *b = evs__realloc(w->buf, want);
            if (!b)
                return EVS_ENOMEM;
            w->buf = b;
            w->buf_cap = want;
        }
        int64_t got = evs__seg_pread(w->s, w->buf, want, off);
        if (got < REC_HDR_LEN)
            return EVS_ECORRUPT;
        uint32_t len = evs__get_u32(w->buf + REC_OFF_LEN);
        if (len > (size_t)got && (size_t)got == want && len <= RECORD_MAX) {
            want = len;
            continue;
        }
        return evs__rec_decode_inline(w->buf, (uint64_t)got, true, r) == REC_OK ? 0
                                                                                : EVS_ECORRUPT;
    }
}

int evs__tdx_walk_next(tdx_walk *w, file_backend *fb, const evs__query_c *q, rec_view *r)
{
    if (w->backward ? w->i == 0 : w->i == w->n)
        return TDX_END;
    uint64_t e = w->backward ? w->e[--w->i] : w->e[w->i++];
    uint64_t pos = w->s->first_pos + (e >> 32);
    int rc = w->sparse ? read_alone(w, e & UINT32_MAX, r)
                       : evs__seg_read_at(fb, w->s, e & UINT32_MAX, true, r);
    if (rc == 0 && r->pos == pos && filed_rightly(w, q, r))
        return TDX_RECORD;
    /* A wrong entry, or the log damaged there: either way, scan from here on. */
    evs__clearerr();
    evs__tdx_distrust(w->s);
    w->s = NULL;
    return TDX_ASTRAY;
}

void evs__tdx_walk_free(tdx_walk *w)
{
    evs__free(w->e);
    evs__free(w->buf);
    memset(w, 0, sizeof *w);
}
