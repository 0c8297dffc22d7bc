/*
 * commit.c - one commit round, run by the leader of the commit queue (writer.c) for
 * every request queued: take the cross-process writer lock, catch up with appends made
 * by other processes, check each request (idempotence, expected versions), encode all
 * records into one buffer, write it with one pwrite, sync once (EVS_SYNC_ALWAYS),
 * publish the new head, release the lock.
 *
 * Commit order (docs/DESIGN.md): records -> fdatasync -> head page. A request is atomic:
 * its last record carries REC_COMMIT, and recovery drops an append without one.
 * A failed write is undone (file truncated, stream table restored); a failed sync
 * poisons the store, because after a failed fdatasync the kernel may have dropped the
 * dirty pages and no later sync can prove they reached the disk.
 */
#define _GNU_SOURCE
#include "commit.h"
#include "compactor.h"
#include "active_segment.h"
#include "backend.h"
#include "file_backend.h"
#include "log_start.h"
#include "format.h"
#include "head.h"
#include "idset.h"
#include "lock.h"
#include "path.h"
#include "record.h"
#include "recover.h"
#include "segment.h"
#include "sindex.h"
#include "streamdir.h"
#include "streamtab.h"
#include "synced_mark.h"
#include "sysio.h"
#include "util.h"
#include "writer.h"
#include "writer_state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* State of one commit round, kept by the leader. */
typedef struct group {
    head_view h;            /* the head as it will be published */
    uint64_t flushed_pos;   /* records up to here were written out (segment roll) */
    uint64_t buf_first_pos; /* position of the first record in fb->w->wbuf */
    evs__buf rec_offs;       /* uint64 offset in wbuf of each record there */
    int64_t ts;             /* "now" for this round: the clock, never below the head's ts */
    int64_t last_ts;        /* of the last record encoded (or the head's): ts never decreases */
    uint64_t file_size;     /* of the active segment: past h.end it holds only zeros */
    /* Segments this round sealed: their directories are made once it is published (a
     * fifth and later ones when first read). */
    struct {
        uint64_t first_pos, end;
    } sealed[4];
    size_t sealed_n;
} group;

static void req_fail(append_req *r)
{
    r->rc = evs__lasterr_code();
    if (r->rc >= 0)
        r->rc = EVS_EIO;
    snprintf(r->msg, sizeof r->msg, "%s", evs__lasterr_msg());
}

/* ---- the start of a round ---------------------------------------------------------- */

/* With the lock held: make our view match the log as the last writer left it. */
static int writer_prepare(file_backend *fb, group *g)
{
    for (int attempt = 0;; attempt++) {
        evs__head_read(fb, &g->h);
        if (fb->w->wseg != g->h.seg || fb->w->wfd < 0) {
            seg *s = evs__seg_by_first(fb, g->h.seg);
            if (!s && g->h.pos == 0 && g->h.seg == 1) {
                char path[STORE_PATH_MAX];
                int rc = evs__seg_path(fb, 1, "seg", path, sizeof path);
                if (rc < 0)
                    return rc;
                rc = access(path, F_OK) == 0 ? evs__active_open(fb, 1) : evs__active_start(fb, 1);
                if (rc < 0)
                    return rc;
            } else {
                int rc = evs__active_open(fb, g->h.seg);
                if (rc < 0)
                    return rc;
            }
        }
        /* The size by lseek, not fstat: since Linux 6.13, a write that follows a query
         * of the file's ctime stamps it with the fine-grained clock, so a stat in every
         * round would dirty the inode in every round and make every fdatasync write it
         * too (here 146 us per append + fdatasync loop with an fstat, 87-120 without). */
        bool clean = false;
        off_t size = evs__sys.lseek(fb->w->wfd, 0, SEEK_END);
        if (size < 0)
            return evs__seterr_errno(errno, "cannot find the size of the active segment");
        int rc = evs__seg_tail_clean(fb->w->wfd, g->h.end, (uint64_t)size, &clean);
        if (rc < 0)
            return rc;
        g->file_size = (uint64_t)size;
        if (clean && !evs__head_torn(fb))
            break;
        /* The previous lock holder died mid-commit (its bytes are past the published
         * head, or it was publishing them): recover the tail before writing after it. */
        if (attempt > 0)
            return evs__seterr(EVS_ECORRUPT,
                               "active segment is %lld bytes after recovery, head says %" PRIu64,
                               (long long)size, g->h.end);
        if ((rc = evs__recover(fb, true)) < 0)
            return rc;
        evs__active_close(fb);
    }
    g->flushed_pos = g->h.pos;
    g->buf_first_pos = g->h.pos + 1;
    g->ts = evs__now_ns();
    if (g->ts < g->h.ts)
        g->ts = g->h.ts; /* timestamps never go backwards, even if the clock does */
    g->last_ts = g->h.ts;
    return evs__tab_catch_up_writer(fb, &g->h);
}

/* ---- writing the round out ---------------------------------------------------------- */

/* Write out the buffered records of this group (no sync); `sealing`: the segment is
 * about to be sealed, so no zeros go ahead. */
static int group_flush(file_backend *fb, group *g, bool sealing)
{
    if (fb->w->wbuf.len == 0)
        return 0;
    uint64_t idx_at = (g->buf_first_pos - fb->w->wseg) * IDX_ENTRY_LEN;
    if (!sealing)
        evs__zeros_ahead(fb, g->h.end, fb->w->wbuf.len, &g->file_size);
    if (evs__pwrite_all(fb->w->wfd, fb->w->wbuf.ptr, fb->w->wbuf.len, (off_t)g->h.end) < 0) {
        int saved = errno;
        fb->w->zeros_paused |= saved == ENOSPC;
        /* Undo a partial write so the file ends where the head says. */
        g->file_size = g->h.end;
        if (evs__sys.ftruncate(fb->w->wfd, (off_t)g->h.end) < 0)
            evs__poison(fb, errno, "a failed write could not be undone");
        return evs__seterr_errno(saved,
                                 "cannot append to segment %020" PRIu64 ".seg at byte %" PRIu64,
                                 fb->w->wseg, g->h.end);
    }
    if (evs__pwrite_all(fb->w->widx_fd, fb->w->ibuf.ptr, fb->w->ibuf.len, (off_t)idx_at) < 0) {
        int saved = errno;
        fb->w->zeros_paused |= saved == ENOSPC;
        g->file_size = g->h.end;
        if (evs__sys.ftruncate(fb->w->wfd, (off_t)g->h.end) < 0)
            evs__poison(fb, errno, "a failed write could not be undone");
        return evs__seterr_errno(saved, "cannot write the offset index of segment %020" PRIu64,
                                 fb->w->wseg);
    }
    uint64_t n = fb->w->ibuf.len / IDX_ENTRY_LEN;
    g->h.end += fb->w->wbuf.len;
    if (g->file_size < g->h.end)
        g->file_size = g->h.end;
    g->flushed_pos = g->buf_first_pos + n - 1;
    g->buf_first_pos += n;
    fb->w->wbuf.len = 0;
    fb->w->ibuf.len = 0;
    g->rec_offs.len = 0;
    return 0;
}

/* Close the active segment (durable, immutable from now on) and start the next. */
static int group_roll(file_backend *fb, group *g)
{
    int rc = group_flush(fb, g, true);
    if (rc < 0)
        return rc;
    /* A sealed segment's size is its end: the zeros ahead go first. */
    if (g->file_size > g->h.end && evs__sys.ftruncate(fb->w->wfd, (off_t)g->h.end) < 0)
        return evs__seterr_errno(
            errno, "cannot cut the zeros after the end of segment %020" PRIu64 ".seg", fb->w->wseg);
    if (evs__datasync(fb->w->wfd) < 0)
        return evs__poison(fb, errno, "fdatasync failed while closing a segment");
    uint64_t sealed = fb->w->wseg, sealed_end = g->h.end;
    uint64_t next = g->flushed_pos + 1;
    rc = evs__active_start(fb, next);
    if (rc < 0)
        return rc;
    if (g->sealed_n < sizeof g->sealed / sizeof g->sealed[0]) {
        g->sealed[g->sealed_n].first_pos = sealed;
        g->sealed[g->sealed_n++].end = sealed_end;
    }
    g->h.seg = next;
    g->h.end = SEG_HDR_LEN;
    g->file_size = SEG_HDR_LEN;
    fb->w->zeros_paused = false; /* try again: the disk may have room by now */
    return 0;
}

/* A round that failed publishes nothing, so nothing it wrote may stay: recovery would
 * take complete records past the head for committed ones, and a later round would write
 * the positions of a segment it created into the one before. Cut the segment the round
 * started in back to the head, and remove the segments it created (their directories
 * were not queued: nothing reads them). */
static void undo_writes(file_backend *fb, const head_view *start, const group *g)
{
    if (atomic_load(&fb->w->poisoned)) {
        /* A sync failed: nothing can be made durable any more; cut what is open, and
         * reopening recovers the rest. */
        if (g->h.seg == start->seg && fb->w->wfd >= 0)
            (void)evs__sys.ftruncate(fb->w->wfd, (off_t)start->end);
        return;
    }
    if (g->h.seg != start->seg || fb->w->wseg != start->seg) {
        evs__active_close(fb);
        for (size_t i = evs__seg_count(fb); i-- > 0;) {
            seg *s = evs__seg_at(fb, i);
            if (s->first_pos <= start->seg)
                break;
            if (evs__seg_remove_file(fb, s->first_pos) < 0) {
                evs__poison(fb, errno, "a failed append could not be undone");
                return;
            }
        }
    }
    /* Records may have reached the disk (a sealed segment's were synced): the cut must
     * be durable too. */
    if (evs__seg_cut(fb, start->seg, start->end) < 0)
        evs__poison(fb, errno, "a failed append could not be undone");
}

/* ---- reading records of the stream being appended to --------------------------------- */

/* The record at pos, which may still sit in this group's buffer. */
static int group_read(file_backend *fb, const group *g, uint64_t pos, rec_view *r)
{
    if (pos >= g->buf_first_pos) {
        uint64_t off;
        memcpy(&off, g->rec_offs.ptr + (pos - g->buf_first_pos) * sizeof off, sizeof off);
        return evs__rec_decode((const unsigned char *)fb->w->wbuf.ptr + off, fb->w->wbuf.len - off,
                               false, r) == REC_OK
                   ? 0
                   : evs__seterr(EVS_ECORRUPT, "record %" PRIu64 " in the write buffer", pos);
    }
    return evs__seg_read_pos(fb, pos, false, r);
}

/* ---- the writer's id set ------------------------------------------------------------- */

/* Add a fingerprint to the set; false when the set had to be dropped (cap or memory):
 * then every stream's ids must be found by walking again. */
static bool idset_add(file_backend *fb, uint64_t f, uint64_t pos)
{
    if (evs__idset_add(fb->w->ids, f, pos))
        return true;
    streamtab *t = &fb->tab;
    for (size_t i = 0; i < t->cap; i++)
        t->slots[i].ids_complete = false;
    return false;
}

/* A long batch's ids by fingerprint, so that a walk over its stream costs one probe per
 * record rather than a scan of the batch (a re-import of 300,000 events of one stream in
 * batches of thousands took 94 s of CPU with the scan). */
#define BATCH_IDS_FROM 16 /* shorter batches are scanned */

typedef struct batch_ids {
    uint32_t *slot; /* event index + 1, 0 = empty */
    size_t mask;
} batch_ids;

static int batch_ids_build(batch_ids *t, const evs__batch_w *b)
{
    t->slot = NULL;
    t->mask = 0;
    if (b->count < BATCH_IDS_FROM)
        return 0;
    size_t cap = 64;
    while (cap < 2 * b->count)
        cap *= 2;
    t->slot = evs__calloc(cap, sizeof *t->slot);
    if (!t->slot)
        return evs__seterr(EVS_ENOMEM, "out of memory checking event ids");
    t->mask = cap - 1;
    for (size_t i = 0; i < b->count; i++) {
        if (!b->events[i].id_given)
            continue;
        size_t j = evs__id_fingerprint(b->events[i].id) & t->mask;
        while (t->slot[j])
            j = (j + 1) & t->mask;
        t->slot[j] = (uint32_t)i + 1;
    }
    return 0;
}

/* Which event of b carries this id (-1 if none). */
static long batch_find_id(const batch_ids *t, const evs__batch_w *b, const unsigned char *id)
{
    if (!t->slot) {
        for (size_t i = 0; i < b->count; i++)
            if (b->events[i].id_given && memcmp(b->events[i].id, id, 16) == 0)
                return (long)i;
        return -1;
    }
    for (size_t j = evs__id_fingerprint(id) & t->mask; t->slot[j]; j = (j + 1) & t->mask)
        if (memcmp(b->events[t->slot[j] - 1].id, id, 16) == 0)
            return (long)t->slot[j] - 1;
    return -1;
}

static int walk_for_duplicate(file_backend *fb, const group *g, const evs__batch_w *b,
                              const batch_ids *t, bool all_given, const stream_val *v,
                              stream_ent *e, evs_append_result *res, bool *dup);
static int match_back(file_backend *fb, const group *g, const evs__batch_w *b, rec_view *r,
                      uint64_t pos, int64_t version, evs_append_result *res, bool *dup);

/* The record at pos, read for the duplicate check (counted: see evs__writer_id_reads). */
static int id_read(file_backend *fb, const group *g, uint64_t pos, rec_view *r)
{
    fb->w->id_reads++;
    return group_read(fb, g, pos, r);
}

/* Where the set last saw the batch's last id, if that record is of this stream and
 * carries that id: *r and *found. The stream's ids are unique (every append that
 * carries ids is checked), so matching the batch backwards from there settles the
 * check as the walk from the stream's end would, without reading the versions above
 * it: a re-import of one long stream, batch after batch, stays linear. */
static int find_last_id(file_backend *fb, const group *g, const evs__batch_w *b,
                        const stream_val *v, rec_view *r, uint64_t *at)
{
    *at = 0;
    const unsigned char *id = b->events[b->count - 1].id;
    uint64_t pos = evs__idset_pos(fb->w->ids, evs__id_fingerprint(id));
    if (!pos || pos > v->last_pos || evs__pos_dropped(fb->log_start, pos))
        return 0;
    int rc = id_read(fb, g, pos, r);
    if (rc < 0)
        return rc;
    if (!(r->flags & REC_LOST) && r->stream_hash == b->stream_hash &&
        r->stream_len == b->stream_len && memcmp(r->stream, b->stream, b->stream_len) == 0 &&
        memcmp(r->id, id, 16) == 0)
        *at = pos;
    return 0;
}

/* Idempotence: are all of b's ids already in its stream, at consecutive versions in
 * the batch's order? Then *dup, res holds the original result and b->positions (when
 * given) each event's position. An id that is there in any other way is a conflict.
 * Walks the stream's chain from its end: the cost grows with the stream's length and is
 * paid only by appends that carry their own ids. The events need not be at consecutive
 * positions: other streams' events may stand between them, which is why each position
 * is taken from the record the walk found. */
static int check_duplicate(file_backend *fb, const group *g, const evs__batch_w *b,
                           const stream_val *v, stream_ent *e, evs_append_result *res, bool *dup)
{
    *dup = false;
    if (!b->any_id_given || v->last_version < 0)
        return 0;
    if (e->ids_complete) {
        /* The set holds every supplied id of this stream: if none of the batch's ids
         * is there, none is in the stream (a fingerprint match may be a false alarm;
         * the walk below settles it). */
        size_t i = 0;
        while (i < b->count && !(b->events[i].id_given &&
                                 evs__idset_has(fb->w->ids, evs__id_fingerprint(b->events[i].id))))
            i++;
        if (i == b->count)
            return 0;
    }
    bool all_given = true;
    for (size_t i = 0; i < b->count; i++)
        all_given &= b->events[i].id_given;
    if (all_given) {
        rec_view r;
        uint64_t at;
        int rc = find_last_id(fb, g, b, v, &r, &at);
        if (rc < 0)
            return rc;
        if (at)
            return match_back(fb, g, b, &r, at, (int64_t)r.version, res, dup);
    }
    batch_ids t;
    int rc = batch_ids_build(&t, b);
    if (rc < 0)
        return rc;
    rc = walk_for_duplicate(fb, g, b, &t, all_given, v, e, res, dup);
    evs__free(t.slot);
    return rc;
}

static int walk_for_duplicate(file_backend *fb, const group *g, const evs__batch_w *b,
                              const batch_ids *t, bool all_given, const stream_val *v,
                              stream_ent *e, evs_append_result *res, bool *dup)
{
    /* A walk that meets none of the batch's ids reads every record of the stream: their
     * ids then go into the set, so the stream's next batches of new ids skip the walk
     * (an import into a stream this handle did not create walked it once per commit). */
    bool complete = true;
    uint64_t pos = v->last_pos;
    /* The ids of events retention dropped are not known: the walk ends at the start. */
    for (int64_t version = v->last_version;
         pos && !evs__pos_dropped(fb->log_start, pos) && version >= 0; version--) {
        rec_view r;
        int rc = id_read(fb, g, pos, &r);
        if (rc < 0)
            return rc;
        long i = (r.flags & REC_LOST) ? -1 : batch_find_id(t, b, r.id); /* a lost event's
                                                                        * id is not known */
        if (i < 0) {
            complete = complete && idset_add(fb, evs__id_fingerprint(r.id), pos);
            pos = r.prev_pos;
            if (version == 0 && complete)
                e->ids_complete = true;
            continue;
        }
        /* The highest version holding one of the ids must hold the batch's last event,
         * and the versions below it the others, in order. */
        if (!all_given || i != (long)b->count - 1)
            return evs__id_conflict(b, (size_t)i, version);
        return match_back(fb, g, b, &r, pos, version, res, dup);
    }
    return 0;
}

/* r, at pos and version, holds the batch's last id: the versions below it must hold
 * the others, in order. Then *dup, with res and b->positions filled from the records. */
static int match_back(file_backend *fb, const group *g, const evs__batch_w *b, rec_view *r,
                      uint64_t pos, int64_t version, evs_append_result *res, bool *dup)
{
    long i = (long)b->count - 1;
    res->last_pos = (int64_t)pos;
    res->version = version;
    if (b->positions)
        b->positions[i] = (int64_t)pos;
    for (long j = i - 1; j >= 0; j--) {
        int rc = 0;
        pos = r->prev_pos;
        if (evs__pos_dropped(fb->log_start, pos))
            pos = 0; /* dropped by retention: the batch cannot be matched whole */
        if (!pos || (rc = id_read(fb, g, pos, r)) < 0)
            return pos ? rc : evs__id_conflict(b, (size_t)j + 1, version - (i - j) + 1);
        if (memcmp(r->id, b->events[j].id, 16) != 0)
            return evs__id_conflict(b, (size_t)j, version - (i - j));
        if (b->positions)
            b->positions[j] = (int64_t)pos;
    }
    /* A retry of the batch after this one finds its last id from here on. */
    (void)idset_add(fb, evs__id_fingerprint(b->events[i].id), (uint64_t)res->last_pos);
    res->first_pos = (int64_t)pos;
    res->duplicate = 1;
    *dup = true;
    return 0;
}

/* ---- encoding one request ------------------------------------------------------------ */

static int undo_push(file_backend *fb, tab_undo **slot)
{
    if (fb->w->undo_len == fb->w->undo_cap) {
        size_t cap = fb->w->undo_cap ? fb->w->undo_cap * 2 : 64;
        tab_undo *n = evs__realloc(fb->w->undo, cap * sizeof *n);
        if (!n)
            return evs__seterr(EVS_ENOMEM, "out of memory in append");
        fb->w->undo = n;
        fb->w->undo_cap = cap;
    }
    *slot = &fb->w->undo[fb->w->undo_len++];
    return 0;
}

static void undo_to(file_backend *fb, size_t mark)
{
    while (fb->w->undo_len > mark)
        evs__tab_undo(&fb->tab, &fb->w->undo[--fb->w->undo_len]);
}

static uint64_t batch_bytes(const evs__batch_w *b)
{
    uint64_t n = 0;
    for (size_t i = 0; i < b->count; i++)
        n += evs__rec_size(b->stream_len, b->events[i].type_len, b->events[i].meta_len,
                           b->events[i].data_len);
    return n;
}

static int encode_batch(file_backend *fb, group *g, const evs__batch_w *b, const stream_val *v,
                        evs_append_result *res, uint32_t *last_off)
{
    /* encode_req reserved room for the whole request. */
    uint64_t pos = g->buf_first_pos + fb->w->ibuf.len / IDX_ENTRY_LEN;
    res->first_pos = (int64_t)pos;
    uint64_t prev = v->last_pos;
    uint32_t prev_off = v->last_off;
    int64_t version = v->last_version;
    for (size_t i = 0; i < b->count; i++, pos++) {
        const evs__event_w *e = &b->events[i];
        uint64_t off = fb->w->wbuf.len;
        unsigned char *dst = (unsigned char *)fb->w->wbuf.ptr + off;
        int64_t ts = e->ts_ns != 0 ? e->ts_ns : g->ts > g->last_ts ? g->ts : g->last_ts;
        g->last_ts = ts;
        evs__rec_encode(dst, pos, ts, (uint64_t)++version, prev, prev_off, b, e, 0);
        uint64_t size = evs__rec_size(b->stream_len, e->type_len, e->meta_len, e->data_len);
        fb->w->wbuf.len += size;
        evs__put_u32((unsigned char *)fb->w->ibuf.ptr + fb->w->ibuf.len,
                     (uint32_t)(g->h.end + off));
        fb->w->ibuf.len += IDX_ENTRY_LEN;
        memcpy(g->rec_offs.ptr + g->rec_offs.len, &off, sizeof off);
        g->rec_offs.len += sizeof off;
        prev = pos;
        prev_off = (uint32_t)(g->h.end + off);
    }
    res->last_pos = (int64_t)(pos - 1);
    res->version = version;
    res->duplicate = 0;
    *last_off = prev_off;
    return 0;
}

/* Mark the record at wbuf offset `off` as the end of an atomic append. */
static void mark_commit(file_backend *fb, uint64_t off)
{
    unsigned char *p = (unsigned char *)fb->w->wbuf.ptr + off;
    uint16_t flags = evs__get_u16(p + REC_OFF_FLAGS) | REC_COMMIT;
    evs__put_u16(p + REC_OFF_FLAGS, flags);
    evs__put_u32(p + REC_OFF_CRC, evs__rec_crc(p, evs__get_u32(p + REC_OFF_LEN)));
}

static uint64_t req_bytes(const append_req *r)
{
    uint64_t n = 0;
    for (size_t i = 0; i < r->batch_count; i++)
        n += batch_bytes(&r->batches[i]);
    return n;
}

/* Check and encode one request into the group; on failure leave the group as before. */
static int encode_req(file_backend *fb, group *g, append_req *r)
{
    /* A request never spans segments: roll first if it would not fit (one request
     * bigger than a segment gets a segment of its own). */
    uint64_t need = req_bytes(r);
    if (g->h.end + fb->w->wbuf.len > SEG_HDR_LEN &&
        g->h.end + fb->w->wbuf.len + need > fb->opts.segment_size) {
        int rc = group_roll(fb, g);
        if (rc < 0)
            return rc;
    }
    size_t events = 0;
    for (size_t j = 0; j < r->batch_count; j++)
        events += r->batches[j].count;
    int rc = evs__buf_reserve(&fb->w->wbuf, need);
    if (rc == 0)
        rc = evs__buf_reserve(&fb->w->ibuf, events * IDX_ENTRY_LEN);
    if (rc == 0)
        rc = evs__buf_reserve(&g->rec_offs, events * sizeof(uint64_t));
    if (rc < 0)
        return rc;
    size_t undo_mark = fb->w->undo_len;
    size_t buf_mark = fb->w->wbuf.len, ibuf_mark = fb->w->ibuf.len, offs_mark = g->rec_offs.len;
    int64_t ts_mark = g->last_ts;
    uint64_t last_off = UINT64_MAX;
    size_t i;
    for (i = 0; i < r->batch_count; i++) {
        const evs__batch_w *b = &r->batches[i];
        /* The table is larger than the caches when streams are many: start loading the
         * slot of a batch a few ahead while this one is encoded. */
        if (i + 4 < r->batch_count)
            evs__tab_prefetch(&fb->tab, r->batches[i + 4].stream_hash);
        tab_undo *u = NULL;
        stream_ent *e = NULL;
        if ((rc = undo_push(fb, &u)) < 0)
            break;
        if ((rc = evs__tab_upsert(&fb->tab, b->stream, b->stream_len, b->stream_hash, &e, u)) < 0) {
            fb->w->undo_len--;
            break;
        }
        stream_val v = {e->first_pos, e->last_pos, e->last_version, e->last_off};
        bool dup;
        rc = check_duplicate(fb, g, b, &v, e, &r->out[i], &dup);
        if (rc < 0)
            break;
        if (dup)
            continue;
        if ((rc = evs__check_expected(b, v.last_version)) < 0 ||
            (rc = evs__check_given_ts(b, g->last_ts, g->ts)) < 0)
            break;
        uint64_t before = fb->w->wbuf.len;
        uint32_t end_off;
        if ((rc = encode_batch(fb, g, b, &v, &r->out[i], &end_off)) < 0)
            break;
        /* encode_batch leaves the table alone, so e is still the stream's entry. A
         * stream this handle creates starts with all its ids in the set. */
        if (e->last_version < 0) {
            e->first_pos = (uint64_t)r->out[i].first_pos;
            e->ids_complete = true;
        }
        for (size_t j = 0; b->any_id_given && j < b->count; j++)
            if (b->events[j].id_given &&
                !idset_add(fb, evs__id_fingerprint(b->events[j].id),
                           (uint64_t)r->out[i].first_pos + j))
                break; /* the set was dropped: every stream walks again */
        e->last_pos = (uint64_t)r->out[i].last_pos;
        e->last_version = r->out[i].version;
        e->last_off = end_off;
        if (fb->w->wbuf.len > before)
            memcpy(&last_off, g->rec_offs.ptr + g->rec_offs.len - sizeof last_off, sizeof last_off);
    }
    if (rc < 0) {
        if (r->batch_count > 1)
            evs__prefixerr("batch index %zu (of %zu batches)", i, r->batch_count);
        undo_to(fb, undo_mark);
        fb->w->wbuf.len = buf_mark;
        fb->w->ibuf.len = ibuf_mark;
        g->rec_offs.len = offs_mark;
        g->last_ts = ts_mark;
        return rc;
    }
    if (last_off != UINT64_MAX)
        mark_commit(fb, last_off);
    return 0;
}

/* ---- one commit round ---------------------------------------------------------------- */

/* Have every stream of the round in the table's overlay before anything is encoded: a
 * stream index found wrong is then dropped and the table rebuilt before the round
 * writes a byte, never in the middle of it. A stream that cannot be had is left to
 * encode_req, which fails its request; a table that could not be rebuilt fails the
 * round. */
static int resolve_streams(file_backend *fb, group *g, append_req *list)
{
    if (!evs__tab_has_base(&fb->tab))
        return 0; /* no index to be found wrong: encoding reads memory only */
    for (append_req *r = list; r; r = r->next)
        for (size_t i = 0; i < r->batch_count; i++) {
            const evs__batch_w *b = &r->batches[i];
            if (i + 4 < r->batch_count)
                evs__tab_prefetch(&fb->tab, r->batches[i + 4].stream_hash);
            if (evs__tab_resolve_locked(fb, &g->h, b->stream, b->stream_len, b->stream_hash) < 0) {
                if (!fb->tab.loaded || fb->tab.known_pos != g->h.pos)
                    return evs__lasterr_code();
                evs__clearerr();
            }
        }
    return 0;
}

void evs__commit_round(file_backend *fb, append_req *list)
{
    group g;
    memset(&g, 0, sizeof g);
    int rc = evs__writer_check_poison(fb);
    if (rc == 0)
        rc = evs__wlock_acquire(fb, fb->opts.lock_wait_ms);
    if (rc < 0) {
        for (append_req *r = list; r; r = r->next)
            req_fail(r);
        return;
    }
    pthread_rwlock_wrlock(&fb->tab_lock);
    rc = writer_prepare(fb, &g);
    bool prepared = rc == 0;
    if (rc == 0)
        rc = resolve_streams(fb, &g, list);
    head_view start = g.h;
    size_t undo_base = fb->w->undo_len = 0;
    bool any = false;
    for (append_req *r = list; r && rc == 0; r = r->next) {
        if (encode_req(fb, &g, r) < 0) {
            req_fail(r);
            if (atomic_load(&fb->w->poisoned)) /* a roll failed: nothing more can go */
                rc = EVS_EFATAL;
            continue;
        }
        r->rc = 0;
        any = true;
    }
    if (rc == 0 && any)
        rc = group_flush(fb, &g, false);
    if (rc == 0 && any && fb->opts.sync_mode == EVS_SYNC_ALWAYS && g.flushed_pos > start.pos) {
        int64_t t0 = evs__monotonic_ns();
        if (evs__datasync(fb->w->wfd) < 0)
            rc = evs__poison(fb, errno, "fdatasync of the log failed");
        else
            evs__head_set_synced(fb, g.flushed_pos);
        int64_t took = evs__monotonic_ns() - t0;
        fb->w->sync_ns_avg =
            fb->w->sync_ns_avg ? fb->w->sync_ns_avg + (took - fb->w->sync_ns_avg) / 8 : took;
    }
    /* Publish what was written, and also a segment roll that nothing followed (its
     * request failed its checks): the empty segment is then where appends go next. */
    if (rc == 0 && (g.flushed_pos > start.pos || g.h.seg != start.seg)) {
        g.h.pos = g.flushed_pos;
        g.h.ts = g.flushed_pos > start.pos ? g.last_ts : start.ts;
        evs__head_publish(fb, &g.h);
        atomic_store(&fb->w->unsynced_pos, g.h.pos);
        fb->w->bytes_since_snap += (g.h.seg == start.seg ? g.h.end - start.end : g.h.end);
        fb->tab.known_pos = g.h.pos;
        fb->tab.known_seg = g.h.seg;
        fb->tab.known_off = g.h.end;
        for (size_t i = 0; i < g.sealed_n; i++) /* sealed for good, now that it is published */
            evs__sdx_queue(fb, g.sealed[i].first_pos, g.sealed[i].end);
        /* Each roll synced the segment it sealed: every position before the active
         * segment is durable and now published. Say so durably (one small sync per
         * segment), so that an open after a crash that also lost the head page still
         * knows those positions must be there. A mark that cannot be raised loses
         * nothing: it stays a lower bound. */
        if (g.h.seg != start.seg && evs__synced_mark_raise(fb, g.h.seg - 1) < 0)
            evs__clearerr();
        if (g.sealed_n > 0)
            evs__compactor_kick(fb);
    }
    if (rc < 0) {
        /* Nothing of this round is published: restore the table; the file was cut back
         * (or the store is poisoned and will be recovered on reopen). */
        char msg[600];
        snprintf(msg, sizeof msg, "%s", evs__lasterr_msg());
        undo_to(fb, undo_base);
        if (prepared)
            undo_writes(fb, &start, &g);
        for (append_req *r = list; r; r = r->next)
            if (r->rc == 0) {
                r->rc = rc;
                snprintf(r->msg, sizeof r->msg, "%s", msg);
            }
    }
    fb->w->wbuf.len = fb->w->ibuf.len = 0;
    fb->w->undo_len = 0;
    evs__buf_free(&g.rec_offs);

    /* Bound the next open's scan and this handle's memory: write the streams touched
     * since the stream index's last run as a new run once enough log follows it, or
     * enough streams were touched. A run costs what it holds, whatever the store's size. */
    if (rc == 0 && (fb->w->bytes_since_snap >= fb->opts.checkpoint_bytes ||
                    evs__tab_overlay_count(&fb->tab) >= TAB_PERSIST_STREAMS)) {
        /* A run is a cache checked against the log when it is used (the record it ends
         * at, and each entry's last record), so it need not wait for the log to be
         * synced: in `batch` and `none` mode a sync here would make appenders wait for the
         * disk, which those modes promise not to do. `always` has synced the log already,
         * and syncs the run too, so that an open after a power loss still finds it. */
        if (evs__tab_persist(fb, fb->opts.sync_mode == EVS_SYNC_ALWAYS) == 0) {
            fb->w->bytes_since_snap = 0;
            evs__sidx_merge_kick(fb);
            /* `always` has synced what the run covers: it costs one more small sync, once
             * per run. */
            if (fb->opts.sync_mode == EVS_SYNC_ALWAYS)
                (void)evs__synced_mark_raise(fb, fb->tab.known_pos);
        }
        evs__clearerr();
    }
    pthread_rwlock_unlock(&fb->tab_lock);
    evs__wlock_release(fb);
}
