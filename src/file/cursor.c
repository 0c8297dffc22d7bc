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
 * Events are views into the mapped segments: no copies.
 */
#include "file_internal.h"

#include <inttypes.h>
#include <string.h>

#define CHUNK 4096

enum { SCAN_FWD, SCAN_BWD, STREAM_FWD, STREAM_BWD };

struct evs__be_cursor {
    file_backend *fb;
    const evs__query_c *q;   /* owned by the core's cursor, alive as long as we are */
    int mode;
    head_view h;             /* the head as last seen */
    uint64_t emitted;
    bool done;
    /* scans */
    seg *s;
    uint64_t off;
    uint64_t next_pos;       /* forward: next position expected; backward: next to give */
    uint64_t low_pos;        /* backward: lowest position to give */
    /* streams */
    int64_t next_version;    /* next version to give (forward) */
    int64_t stop_version;    /* forward: last version of the current round */
    uint64_t chunk[CHUNK];   /* positions of the current chunk, in version order */
    size_t chunk_len;
    size_t chunk_i;
    uint64_t *anchors;       /* position of each chunk's last version, this round */
    size_t anchor_count;
    size_t anchor_i;
    uint64_t bpos;           /* stream backward: next position to give, 0 = none */
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
    return evs__query_match(q, r->stream, r->stream_len, r->type, r->type_len, r->type_hash,
                            r->ts_ns);
}

/* The full checksum of a record already decoded without it. */
static int verify_crc(const seg *s, uint64_t off, const rec_view *r)
{
    const unsigned char *p = (const unsigned char *)r->stream - REC_HDR_LEN;
    uint32_t crc = evs__crc32c(evs__crc32c(0, p, 4), p + 8, r->len - 8);
    if (crc != evs__get_u32(p + REC_OFF_CRC))
        return evs__seterr(EVS_ECORRUPT,
                           "segment %s: checksum mismatch at byte %" PRIu64
                           " (position %" PRIu64 "); run 'evstore verify'",
                           s->name, off, r->pos);
    return 0;
}

/* ---- forward scan ---------------------------------------------------------------- */

static int scan_start(evs__be_cursor *c, uint64_t from)
{
    file_backend *fb = c->fb;
    if (from < 1)
        from = 1;
    c->next_pos = from;
    if (from > c->h.pos) {
        /* Past the end: wait at the head for what comes. */
        c->s = evs__seg_by_first(fb, c->h.seg);
        c->off = c->h.end;
        c->next_pos = c->h.pos + 1;
        c->low_pos = from; /* skip anything below `from` */
        return 0;
    }
    c->low_pos = from;
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
    c->s = n;
    c->off = SEG_HDR_LEN;
    return 1;
}

static int scan_next(evs__be_cursor *c, evs_event *ev)
{
    const evs__query_c *q = c->q;
    for (;;) {
        if (q->to_pos && c->next_pos > (uint64_t)q->to_pos)
            return 0;
        if (c->next_pos > c->h.pos) {
            head_view h;
            evs__head_read(c->fb, &h);
            if (h.pos <= c->h.pos)
                return 0;
            c->h = h;
        }
        if (!c->s) {
            c->s = evs__seg_by_first(c->fb, 1);
            if (!c->s && evs__seg_load_all(c->fb) == 0)
                c->s = evs__seg_find(c->fb, c->next_pos);
            if (!c->s)
                return evs__seterr(EVS_ECORRUPT, "no segment holds position %" PRIu64,
                                   c->next_pos);
            c->off = SEG_HDR_LEN;
            if (c->s->first_pos != c->next_pos) {
                int rc = evs__seg_offset(c->fb, c->s, c->next_pos, &c->off);
                if (rc < 0)
                    return rc;
            }
        }
        uint64_t end;
        if (c->s->first_pos == c->h.seg) {
            end = c->h.end;
        } else {
            int rc = evs__seg_file_size(c->s, &end);
            if (rc < 0)
                return rc;
        }
        if (c->off >= end) {
            int rc = scan_advance_segment(c);
            if (rc < 0)
                return rc;
            if (rc == 0)
                return 0;
            continue;
        }
        rec_view r;
        int rc = evs__seg_read_at(c->fb, c->s, c->off, false, &r);
        if (rc < 0)
            return rc;
        if (r.pos != c->next_pos)
            return evs__seterr(EVS_ECORRUPT,
                               "segment %s: byte %" PRIu64 " holds position %" PRIu64
                               ", expected %" PRIu64 "; run 'evstore verify'",
                               c->s->name, c->off, r.pos, c->next_pos);
        uint64_t off = c->off;
        c->off += REC_ALIGN(r.len);
        c->next_pos++;
        if (r.pos < c->low_pos || !matches(q, &r))
            continue;
        if ((rc = verify_crc(c->s, off, &r)) < 0)
            return rc;
        fill_event(ev, &r);
        return 1;
    }
}

/* ---- backward scan --------------------------------------------------------------- */

static int scan_back_next(evs__be_cursor *c, evs_event *ev)
{
    while (c->next_pos >= c->low_pos && c->next_pos > 0) {
        uint64_t pos = c->next_pos--;
        rec_view r;
        int rc = evs__seg_read_pos(c->fb, pos, false, &r);
        if (rc < 0)
            return rc;
        if (!matches(c->q, &r))
            continue;
        seg *s = evs__seg_find(c->fb, pos);
        uint64_t off = (uint64_t)((const unsigned char *)r.stream - REC_HDR_LEN -
                                  atomic_load(&s->data)->base);
        if ((rc = verify_crc(s, off, &r)) < 0)
            return rc;
        fill_event(ev, &r);
        return 1;
    }
    return 0;
}

/* ---- streams --------------------------------------------------------------------- */

/* Read a record of the cursor's stream. Walks along the chain skip the checksum (they
 * only follow links); what is handed out is checked. */
static int read_checked(evs__be_cursor *c, uint64_t pos, rec_view *r, bool check_crc)
{
    int rc = evs__seg_read_pos(c->fb, pos, check_crc, r);
    if (rc == 0 && (r->stream_len != c->q->stream_len ||
                    memcmp(r->stream, c->q->stream, r->stream_len) != 0))
        rc = evs__seterr(EVS_ECORRUPT,
                         "position %" PRIu64 " is linked into stream '%s' but belongs to '%.*s'",
                         pos, c->q->stream, (int)r->stream_len, r->stream);
    return rc;
}

static int stream_lookup(evs__be_cursor *c, stream_val *v)
{
    int rc = evs__tab_catch_up(c->fb);
    if (rc < 0)
        return rc;
    pthread_rwlock_rdlock(&c->fb->tab_lock);
    evs__tab_get(&c->fb->tab, c->q->stream, c->q->stream_len, c->q->stream_hash, v);
    pthread_rwlock_unlock(&c->fb->tab_lock);
    return 0;
}

/* Start a round: versions [next_version, stop_version]. One walk down the chain from
 * the stream's last event records the position of each chunk's last version, so that
 * each chunk is then filled by a walk of CHUNK steps: about two reads per event, and
 * memory of one position per CHUNK events. */
static int stream_round(evs__be_cursor *c, const stream_val *v)
{
    int64_t n = c->stop_version - c->next_version + 1;
    size_t count = (size_t)((n + CHUNK - 1) / CHUNK);
    uint64_t *a = evs__realloc(c->anchors, (count ? count : 1) * sizeof *a);
    if (!a)
        return evs__seterr(EVS_ENOMEM, "out of memory reading stream '%s'", c->q->stream);
    c->anchors = a;
    c->anchor_count = count;
    c->anchor_i = 0;
    uint64_t pos = v->last_pos;
    for (int64_t ver = v->last_version; ver >= c->next_version; ver--) {
        int64_t k = (ver - c->next_version) / CHUNK;
        if (ver <= c->stop_version &&
            (ver == c->stop_version || (ver - c->next_version) % CHUNK == CHUNK - 1))
            a[k] = pos;
        if (ver == c->next_version)
            break;
        rec_view r;
        int rc = read_checked(c, pos, &r, false);
        if (rc < 0)
            return rc;
        pos = r.prev_pos;
    }
    return 0;
}

/* Fill the chunk from anchor c->anchor_i, walking back. */
static int stream_fill_chunk(evs__be_cursor *c)
{
    int64_t first = c->next_version;
    int64_t last = first + CHUNK - 1;
    if (last > c->stop_version)
        last = c->stop_version;
    c->chunk_len = (size_t)(last - first + 1);
    uint64_t pos = c->anchors[c->anchor_i++];
    for (size_t i = c->chunk_len; i-- > 0;) {
        c->chunk[i] = pos;
        if (i == 0)
            break;
        rec_view r;
        int rc = read_checked(c, pos, &r, false);
        if (rc < 0)
            return rc;
        pos = r.prev_pos;
    }
    c->chunk_i = 0;
    return 0;
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
                if ((rc = stream_round(c, &v)) < 0)
                    return rc;
            }
            int rc = stream_fill_chunk(c);
            if (rc < 0)
                return rc;
        }
        uint64_t pos = c->chunk[c->chunk_i++];
        c->next_version++;
        rec_view r;
        int rc = read_checked(c, pos, &r, true);
        if (rc < 0)
            return rc;
        if (c->q->to_pos && r.pos > (uint64_t)c->q->to_pos)
            return 0;
        if (!matches(c->q, &r))
            continue;
        fill_event(ev, &r);
        return 1;
    }
}

static int stream_back_next(evs__be_cursor *c, evs_event *ev)
{
    while (c->bpos) {
        rec_view r;
        int rc = read_checked(c, c->bpos, &r, true);
        if (rc < 0)
            return rc;
        if (c->q->to_pos && r.pos < (uint64_t)c->q->to_pos)
            return 0;
        c->bpos = r.prev_pos;
        if (!matches(c->q, &r))
            continue;
        fill_event(ev, &r);
        return 1;
    }
    return 0;
}

static int stream_start(evs__be_cursor *c)
{
    stream_val v;
    int rc = stream_lookup(c, &v);
    if (rc < 0)
        return rc;
    const evs__query_c *q = c->q;
    if (c->mode == STREAM_FWD) {
        c->next_version = q->from_version < 0 ? 0 : q->from_version;
        c->chunk_len = c->chunk_i = 0;
        return 0;
    }
    /* Backward: walk from the last event down to from_version. */
    c->bpos = v.last_pos;
    for (int64_t ver = v.last_version; c->bpos && q->from_version >= 0 && ver > q->from_version;
         ver--) {
        rec_view r;
        if ((rc = read_checked(c, c->bpos, &r, false)) < 0)
            return rc;
        c->bpos = r.prev_pos;
    }
    return 0;
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
    return rc;
}

void evs__file_cursor_close(evs__be_cursor *c)
{
    if (c)
        evs__free(c->anchors);
    evs__free(c);
}

int evs__file_find_time(evs__backend *be, int64_t ts_ns, int64_t *out)
{
    file_backend *fb = (file_backend *)be;
    head_view h;
    evs__head_read(fb, &h);
    /* Timestamps never decrease along positions, so binary search works. */
    uint64_t lo = 1, hi = h.pos + 1;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        rec_view r;
        int rc = evs__seg_read_pos(fb, mid, false, &r);
        if (rc < 0)
            return rc;
        if (r.ts_ns < ts_ns)
            lo = mid + 1;
        else
            hi = mid;
    }
    *out = (int64_t)lo;
    return 0;
}
