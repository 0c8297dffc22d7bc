/*
 * cursor.c - reading the log.
 *
 * Four ways through it:
 *   forward scan   records in order from a position, following segments; it reaches
 *                  events committed after it was opened (tailing). Filters are checked
 *                  on the header and names first; only matches pay for the checksum.
 *   backward scan  position by position through the offset indexes.
 *   stream forward the stream's chain of prev_pos links walked backwards, in chunks
 *                  of CHUNK positions, then handed out in order: memory stays bounded
 *                  however long the stream.
 *   stream back    the chain as it is.
 * Walks along a stream's chain step through sealed segments by their stream directories
 * (see step_back), and follow the links elsewhere. All read the mapped segments in
 * place; a forward scan fills the page tables ahead of it first, or reads through a
 * buffer of its own where it cannot (see scan_mapped).
 * Either way an event is a view, valid until the next step.
 */
#define _GNU_SOURCE
#include "cursor.h"
#include "backend.h"
#include "file_backend.h"
#include "log_start.h"
#include "format.h"
#include "head.h"
#include "lost_ranges.h"
#include "record.h"
#include "segment.h"
#include "segment_zstd.h"
#include "streamdir.h"
#include "streamtab.h"
#include "sysio.h"
#include "typedir.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define CHUNK 4096

/* Where a record is: its position and byte offset in the segment holding it. */
typedef struct rec_loc {
    uint64_t pos;
    uint32_t off;
} rec_loc;

enum { SCAN_FWD, SCAN_BWD, STREAM_FWD, STREAM_BWD };

struct evs__be_cursor {
    file_backend *fb;
    const evs__query_c *q;   /* owned by the core's cursor, alive as long as we are */
    int mode;
    head_view h;             /* the head as last seen */
    uint64_t emitted;
    bool done;
    int err;                 /* once a step failed, every later step fails the same way */
    char err_msg[512];
    /* scans */
    seg *s;
    uint64_t off;
    uint64_t s_end;          /* end of committed data in s; UINT64_MAX = not known */
    uint64_t end;            /* committed bytes of s known; 0 = refill first */
    unsigned char *buf;      /* bytes [buf_at, buf_at + buf_len) of s, read ahead */
    size_t buf_cap;
    uint64_t buf_at;
    size_t buf_len;
    unsigned char *rec_buf;  /* a stream read's record from a compressed segment */
    size_t rec_cap;
    const unsigned char *map; /* s's mapping, once the scan reads through it */
    uint64_t map_from;        /* bytes [map_from, map_ready) of s have their page */
    uint64_t map_ready;       /*   tables filled in map (see scan_mapped) */
    uint64_t next_pos;       /* forward: next position expected; backward: next to give */
    uint64_t low_pos;        /* backward: lowest position to give */
    tdx_walk tw;             /* filtered scans: the sealed segment walked by its type
                              * directory (tw.s), if any */
    seg *tw_tried;           /* the segment last found to have no directory to walk */
    uint64_t tw_tried_end;   /*   and the position after it (backward scans) */
    /* streams */
    int64_t next_version;    /* next version to give (forward) */
    int64_t stop_version;    /* forward: last version of the current round */
    rec_loc *chunk;          /* locations of the current chunk, in version order */
    size_t chunk_cap;
    size_t chunk_len;
    size_t chunk_i;
    rec_loc *anchors;        /* location of each chunk's last version, this round */
    size_t anchor_count;
    size_t anchor_i;
    rec_loc back;            /* stream backward: next to give; pos 0 = none */
    bool round_from_sdx;     /* this round's locations (or the backward walk's) came
                              * partly from stream directories */
    bool no_sdx;             /* one of them was wrong: follow the links from now on */
    int64_t back_version;    /* stream backward: the version of `back` */
    /* the walk's place in a stream directory: the bucket of the segment holding the
     * location last stepped to, and that location's entry in it (dir_n = 0: none) */
    seg *dir_seg;
    const unsigned char *dir_e;
    size_t dir_n;
    size_t dir_i;
    /* the segment of the last location read, and the positions it holds */
    seg *cs;
    uint64_t cs_lo;
    uint64_t cs_hi;
};

static void fill_event(evs_event *ev, const rec_view *r)
{
    ev->pos = (int64_t)r->pos;
    ev->version = (int64_t)r->version;
    ev->ts_ns = r->ts_ns;
    ev->stream = r->stream;
    ev->stream_len = r->stream_len;
    ev->type = r->type;
    ev->type_len = r->type_len;
    ev->data = r->data;
    ev->data_len = r->data_len;
    ev->metadata = r->meta;
    ev->metadata_len = r->meta ? r->meta_len : 0;
    memcpy(ev->id, r->id, 16);
}

static bool matches(const evs__query_c *q, const rec_view *r)
{
    if (r->flags & REC_LOST) /* a filler where a repair declared an event lost: no event */
        return false;
    return evs__query_match(q, r->stream, r->stream_len, r->type, r->type_len, r->type_hash,
                            r->ts_ns);
}

/* The full checksum of a record already decoded without it. */
static int verify_crc(const seg *s, uint64_t off, const rec_view *r)
{
    const unsigned char *p = (const unsigned char *)r->stream - REC_HDR_LEN;
    if (evs__rec_crc(p, r->len) != evs__get_u32(p + REC_OFF_CRC))
        return evs__seterr(EVS_ECORRUPT,
                           "segment %s: checksum mismatch at byte %" PRIu64
                           " (position %" PRIu64 ")",
                           s->name, off, r->pos);
    return 0;
}

/* ---- forward scan ---------------------------------------------------------------- */

/* A scan reads the segment's mapping in place, with no copy, after asking the kernel to
 * fill the page tables of the next SCAN_BUF bytes in one call (MADV_POPULATE_READ):
 * left to page faults, a fresh mapping's page tables cost from 0.2 to 2 us a page to
 * fill in a virtual machine, as much as the rest of a replay. A range whose tables are
 * filled already costs a walk of them. Where the kernel cannot populate (before Linux
 * 5.14) or the range cannot be read, the scan reads through a buffer of its own with
 * pread, which copies from the page cache instead. Events handed out point into the
 * mapping or the buffer, valid until the next step, as the API promises. */
#define SCAN_BUF ((size_t)256 << 10)
#define PAGE_DOWN(n) ((n) & ~(uint64_t)4095u)
#define PAGE_UP(n)   PAGE_DOWN((n) + 4095u)

static atomic_bool populate_unsupported;

/* Bytes [off, off + need) of the current segment through its mapping, with the page
 * tables of up to SCAN_BUF bytes from off filled; NULL (no error set) to read them
 * with pread instead. */
static const unsigned char *scan_mapped(evs__be_cursor *c, uint64_t off, size_t need)
{
    if (c->map && off >= PAGE_DOWN(c->map_from) && off + need <= c->map_ready)
        return c->map + off;
    if (atomic_load_explicit(&populate_unsupported, memory_order_relaxed))
        return NULL;
    uint64_t to = off + (need > SCAN_BUF ? need : SCAN_BUF);
    if (to > c->end)
        to = c->end;
    if (off + need > to)
        return NULL;
    /* A compressed segment is read through the buffer (evs__seg_pread), which keeps no
     * decompressed bytes: a scan's memory does not grow with the log. Opening the file
     * first tells which kind it is. */
    if (evs__seg_fd(c->s) < 0 || atomic_load(&c->s->z)) {
        evs__clearerr();
        return NULL;
    }
    const mapping *m = evs__seg_map(c->fb, c->s, c->end);
    if (!m) {
        evs__clearerr();
        return NULL;
    }
    /* Contiguous with what this cursor filled already: start where that ended. */
    bool goes_on = c->map == m->base && off >= c->map_from && off <= c->map_ready;
    uint64_t from = PAGE_DOWN(goes_on ? c->map_ready : off);
    if (evs__sys.madvise((void *)(m->base + from), PAGE_UP(to) - from, MADV_POPULATE_READ) < 0) {
        if (errno == EINVAL)
            atomic_store_explicit(&populate_unsupported, true, memory_order_relaxed);
        return NULL;
    }
    if (!goes_on)
        c->map_from = off;
    c->map = m->base;
    c->map_ready = to;
    return c->map + off;
}

/* Make bytes [off, off + need) of the current segment available and return them,
 * reading ahead up to the committed end; NULL with the error set. */
static const unsigned char *scan_bytes(evs__be_cursor *c, uint64_t off, size_t need)
{
    if (off >= c->buf_at && off + need <= c->buf_at + c->buf_len)
        return c->buf + (off - c->buf_at);
    const unsigned char *mapped = scan_mapped(c, off, need);
    if (mapped)
        return mapped;
    size_t want = need > SCAN_BUF ? need : SCAN_BUF;
    zseg *z = atomic_load(&c->s->z);
    if (z) /* read ahead to the end of the frame: a frame more would be decompressed for
            * nothing when the read stops soon */
        want = (size_t)(evs__zseg_frame_len(z) - off % evs__zseg_frame_len(z));
    if (want > c->end - off)
        want = (size_t)(c->end - off);
    if (want < need)
        want = need;
    if (want > c->buf_cap) {
        unsigned char *n = evs__realloc(c->buf, want);
        if (!n) {
            evs__seterr(EVS_ENOMEM, "out of memory reading segment %s", c->s->name);
            return NULL;
        }
        c->buf = n;
        c->buf_cap = want;
    }
    /* The last record's padding (under 8 bytes) may be missing from the file after a
     * crash: a short read is fine as long as it covers what is needed. */
    c->buf_len = 0;
    int64_t read = evs__seg_pread(c->s, c->buf, want, off);
    if (read < 0)
        return NULL;
    size_t got = (size_t)read;
    if (got < need && got > 0 && atomic_load(&c->s->z) &&
        (read = evs__seg_pread(c->s, c->buf + got, need - got, off + got)) < 0)
        return NULL; /* a damaged frame: its error, not a short file's */
    if (got < need) {
        evs__seterr(EVS_ECORRUPT,
                    "segment %s: the file ends at byte %" PRIu64 ", inside the record at byte %" PRIu64,
                    c->s->name, off + got, off);
        return NULL;
    }
    c->buf_at = off;
    c->buf_len = got;
    return c->buf;
}

static int scan_start(evs__be_cursor *c, uint64_t from)
{
    file_backend *fb = c->fb;
    if (from < 1)
        from = 1;
    if (from < fb->log_start) /* retention dropped what came before */
        from = fb->log_start;
    from = evs__lost_skip(fb, from); /* no event has a position a repair declared lost */
    c->next_pos = from;
    if (from > c->h.pos) {
        /* Past the end: wait at the head for what comes. */
        c->s = evs__seg_by_first(fb, c->h.seg);
        c->s_end = UINT64_MAX;
        c->end = 0;
        c->off = c->h.end;
        c->next_pos = c->h.pos + 1;
        c->low_pos = from; /* skip anything below `from` */
        return 0;
    }
    c->low_pos = from;
    c->s_end = UINT64_MAX;
    c->end = 0;
    c->s = evs__seg_find(fb, from);
    if (!c->s)
        return evs__seterr(EVS_ECORRUPT, "no segment holds position %" PRIu64, from);
    return evs__seg_offset(fb, c->s, from, &c->off);
}

/* Move to the segment after c->s when c->off is at its end. Returns 1 when moved, 0
 * when there is nothing more (yet). */
static int scan_advance_segment(evs__be_cursor *c)
{
    if (c->s->first_pos >= c->h.seg)
        return 0;
    seg *n = evs__seg_next(c->fb, c->s);
    if (!n) {
        int rc = evs__seg_load_all(c->fb);
        if (rc < 0)
            return rc;
        n = evs__seg_next(c->fb, c->s);
        if (!n)
            return evs__seterr(EVS_ECORRUPT, "segment after %s is missing", c->s->name);
    }
    if (n->first_pos != c->next_pos && evs__lost_bridges(c->fb, c->next_pos, n->first_pos))
        c->next_pos = n->first_pos; /* over positions a repair declared lost */
    c->s = n;
    c->s_end = UINT64_MAX;
    c->end = 0;
    c->off = SEG_HDR_LEN;
    c->buf_len = 0;
    c->map_ready = 0;
    return 1;
}

/* The slow part of a forward scan: find more committed bytes (the head moved, or the
 * next segment) and map them. 1 when there is more to read, 0 at the end for now. */
static int scan_refill(evs__be_cursor *c)
{
    for (;;) {
        if (c->next_pos > c->h.pos) {
            head_view h;
            evs__head_read(c->fb, &h);
            if (h.pos <= c->h.pos)
                return 0;
            c->h = h;
        }
        if (!c->s) {
            c->next_pos = evs__lost_skip(c->fb, c->next_pos);
            if (c->next_pos > c->h.pos)
                return 0;
            c->s = evs__seg_find(c->fb, c->next_pos);
            if (!c->s && evs__seg_load_all(c->fb) == 0)
                c->s = evs__seg_find(c->fb, c->next_pos);
            if (!c->s)
                return evs__seterr(EVS_ECORRUPT, "no segment holds position %" PRIu64,
                                   c->next_pos);
            c->off = SEG_HDR_LEN;
            c->s_end = UINT64_MAX;
            c->end = 0;
            c->buf_len = 0;
            c->map_ready = 0;
            if (c->s->first_pos != c->next_pos) {
                int rc = evs__seg_offset(c->fb, c->s, c->next_pos, &c->off);
                if (rc < 0)
                    return rc;
            }
        }
        uint64_t end;
        if (c->s->first_pos == c->h.seg) {
            end = c->h.end;
        } else if (c->s_end != UINT64_MAX) {
            end = c->s_end;
        } else {
            /* A sealed segment never changes: its size is its end. */
            int rc = evs__seg_file_size(c->s, &end);
            if (rc < 0)
                return rc;
            c->s_end = end;
        }
        if (c->off < end) {
            int rc = evs__seg_check_end(c->s, end);
            if (rc < 0)
                return rc;
            c->end = end;
            return 1;
        }
        int rc = scan_advance_segment(c);
        if (rc <= 0)
            return rc;
    }
}

/* Is c->s sealed, so that its type directory may stand in for a filtered scan of it? The
 * segment being written is scanned: a walk that reaches it goes on with no gap. */
static bool scan_sealed(const evs__be_cursor *c)
{
    return c->s->first_pos < c->h.seg && evs__seg_next(c->fb, c->s) != NULL;
}

/* A filtered scan entering sealed segment c->s at c->next_pos: walk it by its type
 * directory when it has one fit to use (1), or scan it (0). */
static int dir_enter(evs__be_cursor *c)
{
    if (c->tw_tried == c->s || !evs__tdx_applies(c->q) || !scan_sealed(c))
        return 0;
    c->tw_tried = c->s;
    uint64_t from = c->next_pos > c->low_pos ? c->next_pos : c->low_pos;
    return evs__tdx_walk_start(&c->tw, c->fb, c->s, c->q, from, false);
}

/* The next match in the segment walked by its directory: 1 with ev, 0 at the query's
 * end. When the segment is done, c->off is left at its end for the scan to move on;
 * when the directory led astray, at c->next_pos for the scan to go on from. 2 then. */
static int dir_next(evs__be_cursor *c, evs_event *ev)
{
    const evs__query_c *q = c->q;
    for (;;) {
        uint64_t pos = evs__tdx_walk_peek(&c->tw);
        if (q->to_pos && pos > (uint64_t)q->to_pos && pos != UINT64_MAX)
            return 0;
        rec_view r;
        int st = evs__tdx_walk_next(&c->tw, c->fb, q, &r);
        if (st == TDX_END) {
            c->next_pos = c->s->first_pos + c->tw.count;
            c->off = c->end;
            c->tw.s = NULL;
            return 2;
        }
        if (st == TDX_ASTRAY) {
            int rc = evs__seg_offset(c->fb, c->s, c->next_pos, &c->off);
            c->buf_len = 0;
            return rc < 0 ? rc : 2;
        }
        c->next_pos = r.pos + 1;
        if (!matches(q, &r))
            continue;
        fill_event(ev, &r);
        return 1;
    }
}

static int scan_next(evs__be_cursor *c, evs_event *ev)
{
    const evs__query_c *q = c->q;
    for (;;) {
        if (c->tw.s) {
            int rc = dir_next(c, ev);
            if (rc != 2)
                return rc;
        }
        if (q->to_pos && c->next_pos > (uint64_t)q->to_pos)
            return 0;
        if (c->off >= c->end || c->next_pos > c->h.pos) {
            int rc = scan_refill(c);
            if (rc <= 0)
                return rc;
            if ((rc = dir_enter(c)) != 0) {
                if (rc < 0)
                    return rc;
                continue;
            }
        }
        /* Committed bytes: the header, then the whole record it announces (when it fits
         * before the committed end; decoding reports it when it does not). */
        uint64_t avail = c->end - c->off;
        const unsigned char *p = scan_bytes(c, c->off, avail < REC_HDR_LEN ? (size_t)avail : REC_HDR_LEN);
        if (!p)
            return evs__lasterr_code();
        if (avail >= REC_HDR_LEN) {
            uint32_t len = evs__get_u32(p + REC_OFF_LEN);
            if (len > REC_HDR_LEN && len <= avail && !(p = scan_bytes(c, c->off, len)))
                return evs__lasterr_code();
        }
        rec_view r;
        int st = evs__rec_decode_inline(p, avail, false, &r);
        if (st != REC_OK || r.pos != c->next_pos)
            return evs__seterr(EVS_ECORRUPT,
                               "segment %s: %s at byte %" PRIu64 " (position %" PRIu64
                               ")",
                               c->s->name, st != REC_OK ? evs__rec_status_str(st) : "wrong position",
                               c->off, c->next_pos);
        /* Every record passed over is checked, not only the ones handed out: a damaged
         * type or stream name must not make an event silently miss a filter. */
        int rc = verify_crc(c->s, c->off, &r);
        if (rc < 0)
            return rc;
        c->off += REC_ALIGN(r.len);
        c->next_pos++;
        if (r.pos < c->low_pos || !matches(q, &r))
            continue;
        fill_event(ev, &r);
        return 1;
    }
}

/* ---- backward scan --------------------------------------------------------------- */

/* A filtered backward scan at c->next_pos: walk its segment by the type directory when
 * the segment is sealed and has one fit to use. 1 when walking, 0 to read position by
 * position. */
static int dir_back_enter(evs__be_cursor *c)
{
    if (c->tw.s || !evs__tdx_applies(c->q))
        return c->tw.s != NULL;
    if (c->tw_tried && c->next_pos >= c->tw_tried->first_pos && c->next_pos < c->tw_tried_end)
        return 0; /* still in the segment that has none */
    seg *s = evs__seg_find(c->fb, c->next_pos);
    seg *next = s ? evs__seg_next(c->fb, s) : NULL;
    if (!s)
        return 0;
    c->tw_tried = s;
    c->tw_tried_end = next ? next->first_pos : UINT64_MAX;
    if (!next || s->first_pos >= c->h.seg)
        return 0;
    return evs__tdx_walk_start(&c->tw, c->fb, s, c->q, c->next_pos, true);
}

/* The next match, going down, in the segment walked by its directory: 1 with ev, 0 at
 * the query's low end; 2 to go on position by position from c->next_pos (the segment
 * done, or the directory led astray). */
static int dir_back_next(evs__be_cursor *c, evs_event *ev)
{
    for (;;) {
        uint64_t pos = evs__tdx_walk_peek(&c->tw);
        if (pos > 0 && pos < c->low_pos) {
            c->next_pos = 0;
            return 0;
        }
        rec_view r;
        int st = evs__tdx_walk_next(&c->tw, c->fb, c->q, &r);
        if (st == TDX_END) {
            c->next_pos = c->tw.s->first_pos - 1;
            c->tw.s = NULL;
            return 2;
        }
        if (st == TDX_ASTRAY)
            return 2;
        c->next_pos = r.pos - 1;
        if (!matches(c->q, &r))
            continue;
        fill_event(ev, &r);
        return 1;
    }
}

static int scan_back_next(evs__be_cursor *c, evs_event *ev)
{
    while (c->next_pos >= c->low_pos && c->next_pos > 0) {
        const lost_range *lost = evs__lost_find(c->fb, c->next_pos);
        if (lost) { /* positions a repair declared lost: no event to give */
            c->next_pos = lost->first - 1;
            continue;
        }
        int rc = dir_back_enter(c);
        if (rc != 0) {
            if (rc < 0 || (rc = dir_back_next(c, ev)) != 2)
                return rc;
            continue;
        }
        uint64_t pos = c->next_pos;
        rec_view r;
        rc = evs__seg_read_pos(c->fb, pos, true, &r);
        if (rc < 0)
            return rc;
        c->next_pos--;
        if (!matches(c->q, &r))
            continue;
        fill_event(ev, &r);
        return 1;
    }
    return 0;
}

/* ---- streams --------------------------------------------------------------------- */

/* The segment holding pos, remembered between calls: a stream's events mostly sit in
 * one or two segments, so this skips the segment table's lock. */
static seg *cursor_seg(evs__be_cursor *c, uint64_t pos)
{
    if (c->cs && pos >= c->cs_lo && pos < c->cs_hi)
        return c->cs;
    seg *s = evs__seg_find(c->fb, pos);
    if (!s)
        return NULL;
    seg *next = evs__seg_next(c->fb, s);
    c->cs = s;
    c->cs_lo = s->first_pos;
    if (next) {
        c->cs_hi = next->first_pos;
    } else {
        head_view h;
        evs__head_read(c->fb, &h);
        c->cs_hi = h.seg == s->first_pos ? h.pos + 1 : s->first_pos + 1;
    }
    return s;
}

/* Read the record at byte off of compressed segment s into the cursor's record buffer:
 * what is handed out stays valid until the next step, and no decompressed bytes stay in
 * the handle's memory. */
#define REC_FIRST_READ 512
static int read_copied(evs__be_cursor *c, seg *s, uint64_t off, bool check_crc, rec_view *r)
{
    uint64_t size = 0;
    int rc = evs__seg_file_size(s, &size);
    for (size_t want = REC_FIRST_READ; rc == 0;) {
        if (want > c->rec_cap) {
            unsigned char *b = evs__realloc(c->rec_buf, want);
            if (!b)
                return evs__seterr(EVS_ENOMEM, "out of memory reading segment %s", s->name);
            c->rec_buf = b;
            c->rec_cap = want;
        }
        int64_t got = evs__seg_pread(s, c->rec_buf, want, off);
        if (got < 0)
            return (int)got;
        int st = evs__rec_decode(c->rec_buf, (uint64_t)got, check_crc, r);
        if (st == REC_SHORT && (size_t)got == want && r->len > want && off + r->len <= size) {
            want = r->len;
            continue;
        }
        if (st != REC_OK)
            rc = evs__seterr(EVS_ECORRUPT, "segment %s: %s at byte %" PRIu64, s->name,
                             evs__rec_status_str(st), off);
        return rc;
    }
    return rc;
}

/* Read the record at a location of the cursor's stream. Walks along the chain skip
 * the checksum (they only follow links); what is handed out is checked. */
static int read_loc(evs__be_cursor *c, rec_loc at, rec_view *r, bool check_crc)
{
    seg *s = cursor_seg(c, at.pos);
    int rc;
    if (!s)
        rc = evs__seterr(EVS_ECORRUPT, "no segment holds position %" PRIu64, at.pos);
    else if (evs__seg_fd(s) < 0)
        rc = evs__lasterr_code();
    else if (atomic_load(&s->z)) /* copied out: nothing decompressed stays */
        rc = read_copied(c, s, at.off, check_crc, r);
    else
        rc = evs__seg_read_at(c->fb, s, at.off, check_crc, r);
    if (s && rc == EVS_ECORRUPT) {
        char why[512];
        snprintf(why, sizeof why, "%s", evs__lasterr_msg());
        rc = evs__seterr(EVS_ECORRUPT, "%s (position %" PRIu64 " of stream '%s')", why, at.pos,
                         c->q->stream);
    }
    if (rc == 0 && r->pos != at.pos)
        rc = evs__seterr(EVS_ECORRUPT,
                         "segment %s: byte %" PRIu32 " holds position %" PRIu64
                         " but the stream links there for position %" PRIu64,
                         s->name, at.off, r->pos, at.pos);
    if (rc == 0 && (r->stream_len != c->q->stream_len ||
                    memcmp(r->stream, c->q->stream, r->stream_len) != 0))
        rc = evs__seterr(EVS_ECORRUPT,
                         "position %" PRIu64 " is linked into stream '%s' but belongs to '%.*s'",
                         at.pos, c->q->stream, (int)r->stream_len, r->stream);
    return rc;
}

static int stream_lookup(evs__be_cursor *c, stream_val *v)
{
    int rc = evs__tab_lookup(c->fb, c->q->stream, c->q->stream_len, c->q->stream_hash, v);
    return rc < 0 ? rc : 0;
}

static int grow(rec_loc **p, size_t *cap, size_t n, const char *stream)
{
    if (n <= *cap)
        return 0;
    rec_loc *a = evs__realloc(*p, n * sizeof *a);
    if (!a)
        return evs__seterr(EVS_ENOMEM, "out of memory reading stream '%s'", stream);
    *p = a;
    *cap = n;
    return 0;
}

/* Find `at` in its segment's stream directory, and remember where (dir_n stays 0 unless
 * the segment is sealed, has a directory fit to use, and lists `at` there for this
 * stream). Entries are in position order within a bucket, so a binary search finds it. */
static void dir_locate(evs__be_cursor *c, rec_loc at)
{
    c->dir_n = 0;
    seg *s = c->no_sdx ? NULL : cursor_seg(c, at.pos);
    const unsigned char *e;
    size_t n;
    if (!s || !evs__seg_next(c->fb, s) || !evs__sdx_bucket(c->fb, s, c->q->stream_hash, &e, &n))
        return;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (evs__sdx_entry_pos(s, e + mid * SDX_ENTRY_LEN) < at.pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    const unsigned char *x = e + lo * SDX_ENTRY_LEN;
    if (lo == n || evs__sdx_entry_pos(s, x) != at.pos || evs__sdx_entry_off(x) != at.off ||
        evs__sdx_entry_hash(x) != c->q->stream_hash)
        return;
    c->dir_seg = s;
    c->dir_e = e;
    c->dir_n = n;
    c->dir_i = lo;
}

/* Step from `at` to the stream's event before it. Within a sealed segment its stream
 * directory says where that is without reading `at` (the reads a walk would make one
 * after another, each waiting for the last); otherwise, and to leave the segment, the
 * record's link does. What a directory gives is checked when the event is read:
 * position, stream name, version. */
static int step_back(evs__be_cursor *c, rec_loc *at)
{
    const unsigned char *cur = c->dir_n ? c->dir_e + c->dir_i * SDX_ENTRY_LEN : NULL;
    if (!cur || evs__sdx_entry_pos(c->dir_seg, cur) != at->pos ||
        evs__sdx_entry_off(cur) != at->off)
        dir_locate(c, *at);
    for (size_t j = c->dir_i; c->dir_n > 0 && j-- > 0;) {
        const unsigned char *x = c->dir_e + j * SDX_ENTRY_LEN;
        if (evs__sdx_entry_hash(x) == c->q->stream_hash) {
            *at = (rec_loc){evs__sdx_entry_pos(c->dir_seg, x), evs__sdx_entry_off(x)};
            c->dir_i = j;
            c->round_from_sdx = true;
            return 0;
        }
    }
    c->dir_n = 0;
    rec_view r;
    int rc = read_loc(c, *at, &r, false);
    if (rc == 0)
        *at = (rec_loc){r.prev_pos, r.prev_off};
    return rc;
}

/* Start a round: versions [next_version, stop_version]. One walk down the chain from
 * the stream's last event either fills the chunk directly (a round of at most CHUNK
 * events: the common case) or records the location of each chunk's last version, so
 * that each chunk is then filled by a walk of CHUNK steps. About two reads per event
 * at worst, and memory of one location per CHUNK events. Through sealed segments the
 * steps come from their stream directories (step_back): one read per segment instead
 * of one per event, and the reads of the events themselves no longer wait on each
 * other. */
static int stream_round(evs__be_cursor *c, const stream_val *v)
{
    int64_t n = c->stop_version - c->next_version + 1;
    bool direct = n <= CHUNK;
    size_t count = direct ? 0 : (size_t)((n + CHUNK - 1) / CHUNK);
    size_t anchor_cap = c->anchor_count;
    int rc = direct ? grow(&c->chunk, &c->chunk_cap, (size_t)n, c->q->stream)
                    : grow(&c->anchors, &anchor_cap, count, c->q->stream);
    if (rc < 0)
        return rc;
    c->anchor_count = count;
    c->anchor_i = 0;
    c->round_from_sdx = false;
    rec_loc at = {v->last_pos, v->last_off};
    for (int64_t ver = v->last_version; ver >= c->next_version; ver--) {
        int64_t rel = ver - c->next_version;
        if (direct && ver <= c->stop_version)
            c->chunk[rel] = at;
        else if (!direct && (ver == c->stop_version || rel % CHUNK == CHUNK - 1))
            c->anchors[rel / CHUNK] = at;
        if (ver == c->next_version)
            break;
        if ((rc = step_back(c, &at)) < 0)
            return rc;
    }
    c->chunk_len = direct ? (size_t)n : 0;
    c->chunk_i = 0;
    return 0;
}

/* Fill the chunk from anchor c->anchor_i, walking back. */
static int stream_fill_chunk(evs__be_cursor *c)
{
    int64_t last = c->next_version + CHUNK - 1;
    if (last > c->stop_version)
        last = c->stop_version;
    size_t len = (size_t)(last - c->next_version + 1);
    int rc = grow(&c->chunk, &c->chunk_cap, len, c->q->stream);
    if (rc < 0)
        return rc;
    c->chunk_len = len;
    rec_loc at = c->anchors[c->anchor_i++];
    for (size_t i = len; i-- > 0;) {
        c->chunk[i] = at;
        if (i == 0)
            break;
        if ((rc = step_back(c, &at)) < 0)
            return rc;
    }
    c->chunk_i = 0;
    return 0;
}

/* A stream's events lie scattered over the log, so each one read is a cache miss; but
 * a chunk knows where the next ones are. Ask for a record a few places ahead, when it
 * lies in the segment last read and that segment's mapping covers it (a prefetch never
 * faults, but a location outside the mapping would be a wasted one). */
#define STREAM_AHEAD 4

static void stream_prefetch(const evs__be_cursor *c)
{
    if (c->chunk_i + STREAM_AHEAD >= c->chunk_len || !c->cs)
        return;
    rec_loc at = c->chunk[c->chunk_i + STREAM_AHEAD];
    if (at.pos < c->cs_lo || at.pos >= c->cs_hi)
        return;
    const mapping *m = atomic_load(&c->cs->data);
    if (!m || (size_t)at.off + 256 > m->len)
        return;
    for (int line = 0; line < 4; line++)
        __builtin_prefetch(m->base + at.off + line * 64);
}

/* Read the stream's event at `at`, which must be version `version`, checksum checked. */
static int read_version(evs__be_cursor *c, rec_loc at, int64_t version, rec_view *r)
{
    int rc = read_loc(c, at, r, true);
    if (rc == 0 && r->version != (uint64_t)version)
        rc = evs__seterr(EVS_ECORRUPT,
                         "position %" PRIu64 " of stream '%s' has version %" PRIu64 ", not %" PRId64,
                         r->pos, c->q->stream, r->version, version);
    return rc;
}

/* A location that came from a stream directory did not hold the event expected (the log
 * itself is checked again by the links): stop using that directory in this handle, and
 * any in this cursor. */
static void led_astray(evs__be_cursor *c, rec_loc at)
{
    seg *s = cursor_seg(c, at.pos);
    if (s)
        evs__sdx_distrust(s);
    evs__clearerr();
    c->no_sdx = true;
}

/* A walk down a stream that took steps from a stream directory failed: an entry the
 * directory lacks or misplaces (its checksums right) sends the walk past the stream's
 * first event. Stop using the directory it used, and walk by the links; false when no
 * directory was used (the failure is the log's). */
static bool walk_without_sdx(evs__be_cursor *c)
{
    if (!c->round_from_sdx || c->no_sdx)
        return false;
    if (c->dir_seg)
        evs__sdx_distrust(c->dir_seg);
    evs__clearerr();
    c->no_sdx = true;
    c->round_from_sdx = false;
    c->dir_n = 0;
    c->chunk_i = c->chunk_len = 0;
    c->anchor_i = c->anchor_count = 0;
    return true;
}

static int stream_fwd_next(evs__be_cursor *c, evs_event *ev)
{
    for (;;) {
        if (c->chunk_i == c->chunk_len) {
            if (c->anchor_i == c->anchor_count) {
                /* Round done (or not begun): read on to the stream's current end. */
                stream_val v;
                int rc = stream_lookup(c, &v);
                if (rc < 0)
                    return rc;
                if (v.last_version < c->next_version)
                    return 0;
                c->stop_version = v.last_version;
                if ((rc = stream_round(c, &v)) < 0) {
                    if (walk_without_sdx(c))
                        continue;
                    return rc;
                }
            }
            if (c->chunk_i == c->chunk_len) {
                int rc = stream_fill_chunk(c);
                if (rc < 0) {
                    if (walk_without_sdx(c))
                        continue;
                    return rc;
                }
            }
        }
        stream_prefetch(c);
        rec_loc at = c->chunk[c->chunk_i++];
        c->next_version++;
        rec_view r;
        int rc = read_version(c, at, c->next_version - 1, &r);
        if (rc < 0 && c->round_from_sdx) {
            /* Start the round again from this version, following the links. */
            led_astray(c, at);
            c->next_version--;
            c->chunk_i = c->chunk_len = 0;
            c->anchor_i = c->anchor_count = 0;
            continue;
        }
        if (rc < 0)
            return rc;
        if (c->q->to_pos && r.pos > (uint64_t)c->q->to_pos)
            return 0;
        if (r.pos < (uint64_t)c->q->from_pos || !matches(c->q, &r))
            continue;
        fill_event(ev, &r);
        return 1;
    }
}

/* Backward: from the stream's last event, walk down to from_version. */
static int stream_back_walk(evs__be_cursor *c)
{
    stream_val v;
    int rc = stream_lookup(c, &v);
    if (rc < 0)
        return rc;
    const evs__query_c *q = c->q;
    c->round_from_sdx = false;
    c->back.pos = v.last_version >= 0 ? v.last_pos : 0;
    c->back.off = v.last_off;
    c->back_version = v.last_version;
    for (; c->back.pos && q->from_version >= 0 && c->back_version > q->from_version;
         c->back_version--) {
        if ((rc = step_back(c, &c->back)) < 0)
            return rc;
        if (evs__pos_dropped(c->fb->log_start, c->back.pos)) {
            c->back.pos = 0; /* from_version lies before the log's start */
            return 0;
        }
    }
    if (evs__pos_dropped(c->fb->log_start, c->back.pos)) {
        c->back.pos = 0;
        return 0;
    }
    /* A whole walk stops on version from_version, which has a position: steps that
     * ran out first skipped events. */
    if (!c->back.pos && v.last_version >= 0)
        return evs__seterr(EVS_ECORRUPT,
                           "stream '%s': the walk to version %" PRId64 " ran past its first "
                           "event; run 'evstore verify'",
                           q->stream, q->from_version);
    return 0;
}

static int stream_back_start(evs__be_cursor *c)
{
    int rc;
    do
        rc = stream_back_walk(c);
    while (rc < 0 && walk_without_sdx(c));
    return rc;
}

static int stream_back_next(evs__be_cursor *c, evs_event *ev)
{
    while (c->back.pos && !evs__pos_dropped(c->fb->log_start, c->back.pos)) {
        rec_view r;
        int rc = read_version(c, c->back, c->back_version, &r);
        if (rc < 0 && c->round_from_sdx) {
            /* Walk down to the first version to give again, by the links. */
            led_astray(c, c->back);
            if ((rc = stream_back_start(c)) < 0)
                return rc;
            continue;
        }
        if (rc < 0)
            return rc;
        if (c->q->to_pos && r.pos < (uint64_t)c->q->to_pos)
            return 0;
        c->round_from_sdx = false; /* from here on, every step is a link just read */
        c->back.pos = r.prev_pos;
        c->back.off = r.prev_off;
        c->back_version--;
        if ((c->q->from_pos && r.pos > (uint64_t)c->q->from_pos) || !matches(c->q, &r))
            continue;
        fill_event(ev, &r);
        return 1;
    }
    return 0;
}

/* The stream's lowest version retention kept (its last version + 1 when none is):
 * walk down from its last event to the first link that leads below the log's start.
 * Only for a stream that began before the start; once per read. */
static int first_kept_version(evs__be_cursor *c, const stream_val *v, int64_t *out)
{
    uint64_t start = c->fb->log_start;
    *out = 0;
    if (v->last_version < 0 || !evs__pos_dropped(start, v->first_pos))
        return 0;
    *out = v->last_version + 1;
    if (evs__pos_dropped(start, v->last_pos))
        return 0;
    rec_loc at = {v->last_pos, v->last_off};
    int64_t ver = v->last_version;
    while (ver > 0) {
        rec_loc prev = at;
        int rc = step_back(c, &prev);
        if (rc < 0)
            return rc;
        if (evs__pos_dropped(start, prev.pos))
            break;
        at = prev;
        ver--;
    }
    *out = ver;
    c->dir_n = 0;
    return 0;
}

static int stream_start(evs__be_cursor *c)
{
    if (c->mode == STREAM_BWD)
        return stream_back_start(c);
    stream_val v;
    int rc = stream_lookup(c, &v); /* catch up now: errors show at open */
    c->next_version = c->q->from_version < 0 ? 0 : c->q->from_version;
    int64_t kept = 0;
    if (rc == 0)
        rc = first_kept_version(c, &v, &kept);
    if (kept > c->next_version)
        c->next_version = kept;
    c->chunk_len = c->chunk_i = 0;
    return rc;
}

/* ---- the methods ----------------------------------------------------------------- */

int evs__file_cursor_open(evs__be_cursor **out, evs__backend *be, const evs__query_c *q)
{
    file_backend *fb = (file_backend *)be;
    evs__be_cursor *c = evs__calloc(1, sizeof *c);
    if (!c)
        return evs__seterr(EVS_ENOMEM, "out of memory opening a cursor");
    c->fb = fb;
    c->q = q;
    evs__head_read(fb, &c->h);
    int rc;
    if (q->stream) {
        c->mode = q->direction == EVS_BACKWARD ? STREAM_BWD : STREAM_FWD;
        rc = stream_start(c);
    } else if (q->direction == EVS_BACKWARD) {
        c->mode = SCAN_BWD;
        uint64_t from = q->from_pos > 0 ? (uint64_t)q->from_pos : c->h.pos;
        c->next_pos = from < c->h.pos ? from : c->h.pos;
        c->low_pos = q->to_pos > 0 ? (uint64_t)q->to_pos : 1;
        if (c->low_pos < fb->log_start)
            c->low_pos = fb->log_start;
        rc = 0;
    } else {
        c->mode = SCAN_FWD;
        uint64_t from = q->from_pos > 0 ? (uint64_t)q->from_pos : 1;
        if (q->since_ns) {
            int64_t t;
            rc = evs__file_find_time(be, q->since_ns, &t);
            if (rc == 0 && (uint64_t)t > from)
                from = (uint64_t)t;
        } else {
            rc = 0;
        }
        if (rc == 0)
            rc = scan_start(c, from);
    }
    if (rc < 0) {
        evs__free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int evs__file_cursor_next(evs__be_cursor *c, evs_event *out)
{
    if (c->err)
        return evs__seterr(c->err, "%s", c->err_msg);
    if (c->done || (c->q->limit && c->emitted >= c->q->limit))
        return 0;
    int rc;
    switch (c->mode) {
    case SCAN_FWD:
        rc = scan_next(c, out);
        break;
    case SCAN_BWD:
        rc = scan_back_next(c, out);
        break;
    case STREAM_FWD:
        rc = stream_fwd_next(c, out);
        break;
    default:
        rc = stream_back_next(c, out);
        break;
    }
    if (rc > 0)
        c->emitted++;
    if (rc < 0) {
        c->err = rc;
        snprintf(c->err_msg, sizeof c->err_msg, "%s", evs__lasterr_msg());
    }
    return rc;
}

void evs__file_cursor_close(evs__be_cursor *c)
{
    if (c) {
        evs__free(c->anchors);
        evs__free(c->chunk);
        evs__free(c->buf);
        evs__free(c->rec_buf);
        evs__tdx_walk_free(&c->tw);
    }
    evs__free(c);
}

int evs__file_find_time(evs__backend *be, int64_t ts_ns, int64_t *out)
{
    file_backend *fb = (file_backend *)be;
    head_view h;
    evs__head_read(fb, &h);
    /* Timestamps never decrease along positions, so binary search works, from the
     * log's start (retention dropped what came before). */
    uint64_t lo = fb->log_start, hi = h.pos + 1;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        /* A position a repair declared lost has no event: it stands for the next one. */
        uint64_t at = evs__lost_skip(fb, mid);
        if (at > h.pos) {
            hi = mid;
            continue;
        }
        rec_view r;
        int rc = evs__seg_read_pos(fb, at, false, &r);
        if (rc < 0)
            return rc;
        if (r.ts_ns < ts_ns)
            lo = at + 1;
        else
            hi = mid;
    }
    *out = (int64_t)evs__lost_skip(fb, lo);
    return 0;
}
