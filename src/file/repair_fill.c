/*
 * repair_fill.c - `repair --keep-intact`: damage in a record costs that record, not the
 * log after it.
 *
 * The scan (repair_scan.c) meets a damaged record at byte `from` of a segment, where
 * position P was expected. Every intact record after it is worth keeping, so instead of
 * cutting there it looks for the next record that is whole (8-byte aligned, frame and
 * checksum right) with a position Q that the bytes in between can have held: Q > P and
 * (Q - P) * REC_HDR_LEN <= its offset - from, since every record takes at least a
 * header. Positions P..Q-1 are lost; bytes [from, to) are replaced by one filler record
 * (REC_LOST) per lost position, which keeps each position's place in the segment, so
 * every record after keeps its offset and every link and offset index entry stays true.
 * The intact records are not touched, byte for byte.
 *
 * Whose events the lost ones were is kept when it can be told, so that stream reads and
 * the next version of each stream stay right:
 *   - a damaged record whose frame holds and whose header says whose it is (its name
 *     hashes to its hash, it continues its stream where the table says the stream ends)
 *     gives its own stream, version and links, at its own offset;
 *   - an intact record after the damage whose link points at a lost position says that
 *     position held its stream's previous version, at the offset it names. When its
 *     stream lacks more versions than that, the latest lost positions before it with no
 *     known owner are taken to be them (they are lost either way: this only keeps the
 *     version count and the chain whole).
 * A filler's stream link leads to the stream's event before it, so a walk down a stream
 * passes through it; readers hand out nothing from it.
 *
 * Fillers are placed at the original records' offsets where those are known, and packed
 * after them otherwise (each at least a header and its stream name); placing fails, and
 * the owner is not taken, when the known offsets leave no room.
 */
#define _GNU_SOURCE
#include "repair_fill.h"

#include "file_backend.h"
#include "format.h"
#include "lost_ranges.h"
#include "path.h"
#include "sysio.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Bytes a filler needs: its header and its stream's name. */
static uint64_t slot_need(const fill_slot *f)
{
    return REC_ALIGN((uint64_t)REC_HDR_LEN + (f->named ? f->stream_len : 0));
}

static size_t region_len(const fill_region *g)
{
    return (size_t)(g->end_pos - g->first_pos);
}

/* Give every filler of g its offset: fixed ones keep theirs, the others follow the one
 * before at its smallest size. false when the fixed offsets leave no room. */
static bool place(fill_region *g)
{
    size_t n = region_len(g);
    g->slots[0].off = g->from;
    for (size_t i = 1; i < n; i++) {
        uint64_t least = g->slots[i - 1].off + slot_need(&g->slots[i - 1]);
        if (!g->slots[i].fixed)
            g->slots[i].off = least;
        else if (g->slots[i].off < least)
            return false;
    }
    return g->slots[n - 1].off + slot_need(&g->slots[n - 1]) <= g->to;
}

bool evs__fill_find_next(const unsigned char *base, uint64_t size, uint64_t from, uint64_t pos,
                         uint64_t *at, uint64_t *next_pos)
{
    for (uint64_t x = REC_ALIGN(from + 8); x + REC_HDR_LEN <= size; x += 8) {
        rec_view r;
        if (evs__rec_decode(base + x, size - x, true, &r) != REC_OK || r.pos <= pos ||
            (r.pos - pos) > (x - from) / REC_HDR_LEN)
            continue;
        *at = x;
        *next_pos = r.pos;
        return true;
    }
    return false;
}

/* Does a record whose checksum may fail say whose event it is, as table t has it? */
static bool header_fits(const streamtab *t, const rec_view *r)
{
    stream_val v;
    if (r->flags & REC_LOST)
        return false;
    evs__tab_get(t, r->stream, r->stream_len, r->stream_hash, &v);
    return evs__tab_header_fits(r, &v);
}

int evs__fill_add(fill_plan *fp, streamtab *t, seg *s, const unsigned char *base, uint64_t from,
                  uint64_t to, uint64_t first_pos, uint64_t end_pos, int64_t ts)
{
    if (fp->n == fp->cap) {
        size_t cap = fp->cap ? fp->cap * 2 : 4;
        fill_region *r = evs__realloc(fp->r, cap * sizeof *r);
        if (!r)
            return evs__seterr(EVS_ENOMEM, "out of memory planning the repair");
        fp->r = r;
        fp->cap = cap;
    }
    fill_region *g = &fp->r[fp->n];
    memset(g, 0, sizeof *g);
    g->s = s;
    g->from = from;
    g->to = to;
    g->first_pos = first_pos;
    g->end_pos = end_pos;
    g->ts = ts;
    g->slots = evs__calloc(region_len(g), sizeof *g->slots);
    if (!g->slots)
        return evs__seterr(EVS_ENOMEM, "out of memory planning the repair");
    fp->n++;
    g->slots[0].fixed = true;
    /* The damaged records whose frames still hold, in order from the damage: each that
     * says whose it is keeps its owner and its place. */
    uint64_t off = from;
    for (size_t i = 0; i < region_len(g) && off < to; i++) {
        rec_view r;
        int st = evs__rec_decode(base + off, to - off, false, &r);
        if (st != REC_OK || r.pos != first_pos + i || !header_fits(t, &r))
            break;
        fill_slot *f = &g->slots[i];
        *f = (fill_slot){off, true, true, r.stream, r.stream_len, r.stream_hash,
                         r.version, r.prev_pos, r.prev_off};
        if (!place(g)) {
            *f = (fill_slot){0};
            f->fixed = i == 0;
            break;
        }
        int rc = evs__tab_apply(t, r.stream, r.stream_len, r.stream_hash, r.pos, r.pos,
                                (int64_t)r.version, (uint32_t)off, NULL);
        if (rc < 0)
            return rc;
        off += REC_ALIGN(r.len);
    }
    if (!place(g))
        return evs__seterr(EVS_ECORRUPT, "no room for the lost positions' fillers");
    return 0;
}

/* The filler of position pos, or NULL when pos is not lost in this plan. */
static fill_slot *slot_of(fill_plan *fp, uint64_t pos, fill_region **in)
{
    for (size_t i = 0; i < fp->n; i++) {
        fill_region *g = &fp->r[i];
        if (pos >= g->first_pos && pos < g->end_pos) {
            if (in)
                *in = g;
            return &g->slots[pos - g->first_pos];
        }
    }
    return NULL;
}

#define CLAIM_MAX 64 /* lost versions of one stream one claim may name */

bool evs__fill_claim(fill_plan *fp, streamtab *t, const rec_view *r)
{
    fill_region *g;
    fill_slot *last = r->version > 0 ? slot_of(fp, r->prev_pos, &g) : NULL;
    if (!last || last->named || r->prev_off % 8 || r->prev_off < g->from || r->prev_off >= g->to ||
        (last->fixed && last->off != r->prev_off) ||
        r->stream_hash != evs__hash64(r->stream, r->stream_len))
        return false;
    stream_val v;
    evs__tab_get(t, r->stream, r->stream_len, r->stream_hash, &v);
    if (v.last_version >= 0 && v.last_pos >= r->prev_pos)
        return false;
    if ((int64_t)r->version - 1 <= v.last_version)
        return false;
    uint64_t missing = (uint64_t)((int64_t)r->version - 1 - v.last_version - 1);
    if (missing >= CLAIM_MAX)
        return false;
    /* The stream's other missing versions: the latest unowned lost positions before. */
    fill_slot *take[CLAIM_MAX + 1];
    fill_region *where[CLAIM_MAX + 1];
    uint64_t low = v.last_version >= 0 ? v.last_pos : 0;
    size_t got = 0;
    for (size_t ri = fp->n; got < missing && ri-- > 0;) {
        fill_region *h = &fp->r[ri];
        uint64_t top = h->end_pos < r->prev_pos ? h->end_pos : r->prev_pos; /* exclusive */
        for (uint64_t pos = top; got < missing && pos-- > h->first_pos && pos > low;) {
            fill_slot *f = &h->slots[pos - h->first_pos];
            if (!f->named) {
                take[missing - 1 - got] = f;
                where[missing - 1 - got] = h;
                got++;
            }
        }
    }
    if (got < missing)
        return false;
    take[missing] = last;
    where[missing] = g;
    fill_slot saved[CLAIM_MAX + 1];
    for (size_t i = 0; i <= missing; i++)
        saved[i] = *take[i];
    last->fixed = true;
    last->off = r->prev_off;
    uint64_t prev_pos = low;
    uint32_t prev_off = v.last_version >= 0 ? v.last_off : 0;
    for (size_t i = 0; i <= missing; i++) {
        fill_slot *f = take[i];
        f->named = true;
        f->stream = r->stream;
        f->stream_len = r->stream_len;
        f->stream_hash = r->stream_hash;
        f->version = (uint64_t)(v.last_version + 1) + i;
        f->prev_pos = f->version == 0 ? 0 : prev_pos;
        f->prev_off = f->version == 0 ? 0 : prev_off; /* a filler's is settled when written */
        prev_pos = where[i]->first_pos + (uint64_t)(f - where[i]->slots);
        prev_off = 0;
    }
    bool ok = true;
    for (size_t i = 0; i <= missing && ok; i++)
        ok = place(where[i]);
    uint64_t first = v.last_version >= 0 ? v.first_pos
                                          : where[0]->first_pos + (uint64_t)(take[0] - where[0]->slots);
    if (ok && evs__tab_apply(t, r->stream, r->stream_len, r->stream_hash, first, r->prev_pos,
                             (int64_t)r->version - 1, r->prev_off, NULL) < 0)
        ok = false;
    if (!ok) {
        for (size_t i = 0; i <= missing; i++)
            *take[i] = saved[i];
        for (size_t i = 0; i <= missing; i++)
            (void)place(where[i]);
        evs__clearerr();
    }
    return ok;
}

/* Encode g's fillers into buf (g->to - g->from bytes). */
static void encode(fill_plan *fp, const fill_region *g, unsigned char *buf)
{
    size_t n = region_len(g);
    memset(buf, 0, (size_t)(g->to - g->from));
    uint32_t type_hash = (uint32_t)evs__hash64("", 0);
    for (size_t i = 0; i < n; i++) {
        const fill_slot *f = &g->slots[i];
        uint64_t end = i + 1 < n ? g->slots[i + 1].off : g->to;
        uint32_t len = (uint32_t)(end - f->off);
        unsigned char *p = buf + (f->off - g->from);
        uint16_t slen = f->named ? f->stream_len : 0;
        uint32_t prev_off = f->prev_off;
        fill_slot *prev = f->named && f->prev_pos ? slot_of(fp, f->prev_pos, NULL) : NULL;
        if (prev)
            prev_off = (uint32_t)prev->off;
        evs__put_u32(p + REC_OFF_LEN, len);
        evs__put_u64(p + REC_OFF_POS, g->first_pos + i);
        evs__put_u64(p + REC_OFF_TS, (uint64_t)g->ts);
        evs__put_u64(p + REC_OFF_VERSION, f->named ? f->version : 0);
        evs__put_u64(p + REC_OFF_PREV, f->named ? f->prev_pos : 0);
        evs__put_u64(p + REC_OFF_SHASH, f->named ? f->stream_hash : 0);
        evs__put_u32(p + REC_OFF_THASH, type_hash);
        evs__put_u32(p + REC_OFF_DATA_LEN, len - REC_HDR_LEN - slen);
        evs__put_u16(p + REC_OFF_SLEN, slen);
        evs__put_u16(p + REC_OFF_FLAGS, REC_LOST | REC_COMMIT);
        evs__put_u32(p + REC_OFF_PREV_OFF, f->named ? prev_off : 0);
        if (slen)
            memcpy(p + REC_HDR_LEN, f->stream, slen);
        evs__put_u32(p + REC_OFF_CRC, evs__rec_crc(p, len));
    }
}

int evs__fill_write(file_backend *fb, fill_plan *fp, const fill_region *g)
{
    size_t len = (size_t)(g->to - g->from);
    unsigned char *buf = evs__alloc(len);
    if (!buf)
        return evs__seterr(EVS_ENOMEM, "out of memory writing the lost positions' fillers");
    encode(fp, g, buf);
    char path[STORE_PATH_MAX];
    int rc = evs__path(fb, g->s->name, path, sizeof path);
    int fd = rc == 0 ? evs__sys.open(path, O_WRONLY | O_CLOEXEC, 0) : -1;
    if (rc == 0 && fd < 0)
        rc = evs__seterr_errno(errno, "cannot open '%s' for writing", path);
    if (rc == 0 && (evs__pwrite_all(fd, buf, len, (off_t)g->from) < 0 || evs__datasync(fd) < 0))
        rc = evs__seterr_errno(errno, "cannot write the fillers of positions %" PRIu64 "..%" PRIu64
                               " into '%s'", g->first_pos, g->end_pos - 1, path);
    if (fd >= 0)
        evs__sys.close(fd);
    evs__free(buf);
    return rc;
}

void evs__fill_free(fill_plan *fp)
{
    for (size_t i = 0; i < fp->n; i++)
        evs__free(fp->r[i].slots);
    evs__free(fp->r);
    memset(fp, 0, sizeof *fp);
}
