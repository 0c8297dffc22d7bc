/*
 * recover.c - walking the log: the committed-records scan used to catch up, and crash
 * recovery, which finds where the log really ends.
 *
 * Recovery (docs/DESIGN.md, invariant 2) runs with the writer lock held, at open and whenever a
 * writer finds that the previous lock holder died mid-commit. It starts from the last
 * point known good: the published head when the head page is from this boot, else the
 * stream index's last run, else the start of the log. From there it checks every record
 * and keeps the log up to the end of the last complete append (a record flagged
 * REC_COMMIT). What follows is a torn write and is cut off, unless it lies before the
 * position known to have been synced (the head page's, of any boot, or the `synced`
 * file's): damage there is never skipped, it fails with the file and byte offset, and a
 * log that ends before that position is refused, naming what is missing. A head page is
 * trusted only where it matches the log (evs__head_matches_log); committed records that
 * a cut would drop are first copied to a repair folder.
 */
#define _GNU_SOURCE
#include "recover.h"
#include "evstore.h"
#include "file_backend.h"
#include "format.h"
#include "head.h"
#include "lost_ranges.h"
#include "path.h"
#include "record.h"
#include "save_aside.h"
#include "segment.h"
#include "streamtab.h"
#include "synced_mark.h"
#include "sysio.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The end of committed data in segment s as seen by head h. */
static int seg_end(seg *s, const head_view *h, uint64_t *end)
{
    if (s->first_pos == h->seg) {
        *end = h->end;
        return 0;
    }
    return evs__seg_file_size(s, end);
}

/* After evs__seg_read_at failed with EVS_ECORRUPT at off: is it only the checksum (the
 * frame decodes, so the next record is found by its length)? The error stays set. */
static bool read_damaged(file_backend *fb, seg *s, uint64_t off, rec_view *r)
{
    char why[512];
    snprintf(why, sizeof why, "%s", evs__lasterr_msg());
    bool framed = evs__seg_read_at(fb, s, off, false, r) == 0;
    evs__seterr(EVS_ECORRUPT, "%s", why);
    return framed;
}

int evs__scan(file_backend *fb, uint64_t seg_first, uint64_t off, const head_view *h, rec_cb cb,
              void *ctx)
{
    seg *s = evs__seg_by_first(fb, seg_first);
    if (!s && seg_first <= h->seg) {
        int rc = evs__seg_load_all(fb); /* another process created segments */
        if (rc < 0)
            return rc;
        s = evs__seg_by_first(fb, seg_first);
    }
    while (s && s->first_pos <= h->seg) {
        uint64_t end;
        int rc = seg_end(s, h, &end);
        if (rc < 0)
            return rc;
        while (off < end) {
            rec_view r;
            bool damaged = false;
            rc = evs__seg_read_at(fb, s, off, true, &r);
            if (rc == EVS_ECORRUPT && read_damaged(fb, s, off, &r))
                damaged = true;
            else if (rc < 0)
                return rc;
            if (r.pos > h->pos && !damaged) /* a damaged position ends nothing */
                return 0;
            rc = cb(ctx, s, off, &r, damaged);
            if (rc)
                return rc;
            off += REC_ALIGN(r.len);
        }
        if (s->first_pos >= h->seg)
            break;
        seg *next = evs__seg_next(fb, s);
        if (!next) {
            int rc2 = evs__seg_load_all(fb);
            if (rc2 < 0)
                return rc2;
            next = evs__seg_next(fb, s);
        }
        s = next;
        off = SEG_HDR_LEN;
    }
    return 0;
}

/* ---- recovery -------------------------------------------------------------------- */

typedef struct recovery {
    file_backend *fb;
    bool sync_known;        /* a head page told how far the log was synced */
    uint64_t strict_until;  /* damage at or before this position is corruption, and the
                             * log must reach it: it was synced */
    const char *synced_by;  /* who says so: the head page or the `synced` file */
    const seg *stop_seg;    /* where the scan of the log ended: segment, byte, why */
    uint64_t stop_off;
    const char *stop_why;
    uint64_t next_pos;      /* position the next record must have */
    head_view end;          /* end of the last complete append found */
    uint64_t torn_seg;      /* a last segment whose creation was cut short, or 0 */
} recovery;

static bool seg_header_ok(const file_backend *fb, const seg *s, const mapping *m)
{
    const unsigned char *h = m->base;
    return memcmp(h + SEG_OFF_MAGIC, SEG_MAGIC, 8) == 0 &&
           evs__get_u32(h + SEG_OFF_CRC) == evs__crc32c(0, h, SEG_OFF_CRC) &&
           evs__get_u64(h + SEG_OFF_FIRST) == s->first_pos &&
           memcmp(h + SEG_OFF_ID, fb->store_id, 16) == 0;
}

/* Rewrite the .idx entries of [first, first+n) of segment s and cut the file there. */
static int idx_fix(file_backend *fb, const seg *s, const uint32_t *offs, uint64_t from_index,
                   uint64_t n)
{
    char path[STORE_PATH_MAX];
    int rc = evs__seg_path(fb, s->first_pos, "idx", path, sizeof path);
    if (rc < 0)
        return rc;
    int fd = evs__sys.open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0)
        return evs__seterr_errno(errno, "cannot open '%s'", path);
    unsigned char buf[4096];
    size_t used = 0;
    off_t at = (off_t)(from_index * IDX_ENTRY_LEN);
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        evs__put_u32(buf + used, offs[i]);
        used += IDX_ENTRY_LEN;
        if (used == sizeof buf || i + 1 == n) {
            if (evs__pwrite_all(fd, buf, used, at) < 0)
                rc = evs__seterr_errno(errno, "cannot write '%s'", path);
            at += (off_t)used;
            used = 0;
        }
    }
    if (rc == 0 && evs__sys.ftruncate(fd, (off_t)((from_index + n) * IDX_ENTRY_LEN)) < 0)
        rc = evs__seterr_errno(errno, "cannot truncate '%s'", path);
    evs__sys.close(fd);
    return rc;
}

/* Is there a valid record past `off` in m[0..size) with a position after `pos`? Torn
 * writes leave garbage only at the very end; valid records after damage mean the
 * damage is something else. */
static bool valid_record_follows(const mapping *m, uint64_t off, uint64_t size, uint64_t pos,
                                 uint64_t *found_off)
{
    for (uint64_t at = REC_ALIGN(off + 1); at + REC_HDR_LEN <= size; at += 8) {
        rec_view r;
        if (evs__rec_decode(m->base + at, size - at, true, &r) == REC_OK && r.pos > pos &&
            r.pos - pos < (1u << 30)) {
            *found_off = at;
            return true;
        }
    }
    return false;
}

/* Check the records of one segment from `off`; stop at the first bad one. */
static int recover_segment(recovery *rv, seg *s, uint64_t off, bool *stop)
{
    file_backend *fb = rv->fb;
    uint64_t size;
    int rc = evs__seg_file_size(s, &size);
    if (rc < 0)
        return rc;
    const mapping *m = size >= SEG_HDR_LEN ? evs__seg_map(fb, s, size) : NULL;
    bool at_start = off == SEG_HDR_LEN;
    if (at_start && s->first_pos != rv->next_pos && evs__lost_bridges(fb, rv->next_pos, s->first_pos)) {
        /* The segment a repair started after positions it declared lost: the log
         * reaches the last of them, and goes on in this segment. */
        rv->next_pos = s->first_pos;
        rv->end.pos = s->first_pos - 1;
        rv->end.seg = s->first_pos;
        rv->end.end = SEG_HDR_LEN;
    }
    /* A segment is synced whole before the next one is created, so only the last
     * segment can end in a torn write: damage anywhere else is damage. */
    bool last = evs__seg_next(fb, s) == NULL;
    if (size < SEG_HDR_LEN || !m || !seg_header_ok(fb, s, m) ||
        (at_start && s->first_pos != rv->next_pos)) {
        /* Only a header that never got written whole is a torn creation: the file ends
         * inside it, or holds nothing past it and fails its checksum. A whole header of
         * another store or position, or any header with records after it (headers are
         * synced before the first record), is damage. */
        bool torn = size < SEG_HDR_LEN ||
                    (size == SEG_HDR_LEN && m &&
                     evs__get_u32(m->base + SEG_OFF_CRC) != evs__crc32c(0, m->base, SEG_OFF_CRC));
        if (!torn || !last || rv->next_pos <= rv->strict_until)
            return evs__seterr(EVS_ECORRUPT,
                               "segment %s: bad or unexpected header (another store's, or not "
                               "first position %" PRIu64 ")",
                               s->name, rv->next_pos);
        rv->torn_seg = s->first_pos;
        rv->stop_seg = s;
        rv->stop_off = 0;
        rv->stop_why = "its header was never written whole";
        *stop = true;
        return 0;
    }
    rv->stop_seg = s;
    rv->stop_off = size;
    rv->stop_why = "the end of the file";
    uint32_t *offs = NULL;
    size_t n = 0, cap = 0;
    uint64_t first_index = rv->next_pos - s->first_pos;
    uint64_t commit_n = 0; /* records up to and including the last REC_COMMIT */
    while (off < size) {
        rec_view r;
        int st = evs__rec_decode(m->base + off, size - off, true, &r);
        if (st != REC_OK || r.pos != rv->next_pos) {
            /* A record cut by the end of the file is a torn write wherever it is: the
             * file simply ends there. Bad bytes before a synced point are damage. */
            if (!last || (rv->next_pos <= rv->strict_until && st != REC_SHORT)) {
                rc = evs__seterr(EVS_ECORRUPT,
                                 "segment %s: %s at byte %" PRIu64 " (position %" PRIu64
                                 "), %s",
                                 s->name,
                                 st != REC_OK ? evs__rec_status_str(st) : "wrong position",
                                 off, rv->next_pos,
                                 last ? "before the synced end of the log"
                                      : "in a segment that later segments follow");
                goto out;
            }
            /* Zeros to the end are what a writer writes ahead of the log (active_segment.c). */
            uint64_t later;
            if (!rv->sync_known && !evs__all_zero(m->base + off, size - off) &&
                valid_record_follows(m, off, size, rv->next_pos, &later)) {
                rc = evs__seterr(EVS_ECORRUPT,
                                 "segment %s: %s at byte %" PRIu64 " (position %" PRIu64
                                 "), but valid records follow at byte %" PRIu64
                                 ": this is damage, not a torn write",
                                 s->name,
                                 st != REC_OK ? evs__rec_status_str(st) : "wrong position",
                                 off, rv->next_pos, later);
                goto out;
            }
            rv->stop_off = off;
            rv->stop_why = st != REC_OK ? evs__rec_status_str(st) : "a record of another position";
            *stop = true;
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            uint32_t *no = evs__realloc(offs, cap * sizeof *no);
            if (!no) {
                rc = evs__seterr(EVS_ENOMEM, "out of memory during recovery");
                goto out;
            }
            offs = no;
        }
        offs[n++] = (uint32_t)off;
        off += REC_ALIGN(r.len);
        rv->next_pos++;
        if (r.flags & REC_COMMIT) {
            commit_n = n;
            rv->end.pos = r.pos;
            rv->end.seg = s->first_pos;
            rv->end.end = off;
            rv->end.ts = r.ts_ns;
        }
    }
    if (commit_n < n) {
        *stop = true; /* an append without its commit record: cut it */
        rv->next_pos -= n - commit_n;
    }
    if (!fb->readonly) /* a read-only handle finds the end and changes nothing */
        rc = idx_fix(fb, s, offs, first_index, commit_n);
out:
    evs__free(offs);
    return rc;
}

/* The log ends before a position known to have been synced: records that were
 * acknowledged are gone (a file deleted or cut, or a disk that lost synced writes).
 * Never a torn tail: say which positions are missing and where the log stops. */
static int refuse_lost_synced(const recovery *rv)
{
    char where[320] = "no segment file is left";
    char next[32];
    evs__seg_name(next, sizeof next, rv->end.pos + 1, "seg");
    bool at_eof = rv->stop_seg && strcmp(rv->stop_why, "the end of the file") == 0;
    if (at_eof)
        snprintf(where, sizeof where,
                 "the log ends with segment %s (%" PRIu64 " bytes): the file that followed it "
                 "(%s) is missing, or it was cut at the end of a record",
                 rv->stop_seg->name, rv->stop_off, next);
    else if (rv->stop_seg)
        snprintf(where, sizeof where,
                 "the log ends in segment %s at byte %" PRIu64 " (%s): the file was cut short "
                 "or damaged there",
                 rv->stop_seg->name, rv->stop_off, rv->stop_why);
    return evs__seterr(EVS_ECORRUPT,
                       "positions %" PRIu64 "..%" PRIu64 " are missing, but %s says every "
                       "position up to %" PRIu64 " was synced: %s (or the disk lost synced "
                       "writes); run 'evstore repair' to keep what is left",
                       rv->end.pos + 1, rv->strict_until, rv->synced_by, rv->strict_until,
                       where);
}

bool evs__head_matches_log(file_backend *fb, const head_view *h)
{
    if (h->end == SEG_HDR_LEN)
        return h->pos + 1 == h->seg; /* just rolled: the positions before are sealed */
    seg *s = evs__seg_by_first(fb, h->seg);
    if (!s || h->pos < h->seg || h->end < SEG_HDR_LEN + REC_HDR_LEN)
        return false;
    /* The offset index, read directly: its entry for h->pos, if the page is right,
     * names the record that ends at h->end. A missing or wrong entry only costs the
     * trust in the page (recovery then reads the log instead). */
    char path[STORE_PATH_MAX];
    bool ok = evs__seg_path(fb, h->seg, "idx", path, sizeof path) == 0;
    int fd = ok ? evs__sys.open(path, O_RDONLY | O_CLOEXEC, 0) : -1;
    unsigned char e[IDX_ENTRY_LEN];
    ok = fd >= 0 && evs__pread_all(fd, e, sizeof e, (off_t)((h->pos - h->seg) * IDX_ENTRY_LEN)) == 0;
    if (fd >= 0)
        evs__sys.close(fd);
    uint64_t off = ok ? evs__get_u32(e) : 0;
    rec_view r;
    ok = ok && off >= SEG_HDR_LEN && off < h->end && evs__seg_read_at(fb, s, off, true, &r) == 0 &&
         r.pos == h->pos && (r.flags & REC_COMMIT) && off + REC_ALIGN(r.len) == h->end;
    evs__clearerr();
    return ok;
}

/* The segment where the log ends must hold it, but for at most the last record's
 * zero padding (a cut inside it is repaired). Checked for read-only opens too. */
static int check_end_fits(recovery *rv)
{
    seg *s = evs__seg_by_first(rv->fb, rv->end.seg);
    if (!s || s->first_pos == rv->torn_seg)
        return 0; /* an empty store, or a segment cut_tail removes */
    uint64_t size;
    int rc = evs__seg_file_size(s, &size);
    if (rc == 0 && size + 8 <= rv->end.end)
        rc = evs__seterr(EVS_ECORRUPT,
                         "segment %s is %" PRIu64 " bytes, shorter than the end of the log in "
                         "it (byte %" PRIu64 ")",
                         s->name, size, rv->end.end);
    return rc;
}

/* Does segment s hold a whole committed record of a position after `pos` from byte
 * `from` on (trying every 8-byte boundary: it lies past damage)? */
static bool committed_past(file_backend *fb, seg *s, uint64_t from, uint64_t pos)
{
    uint64_t size;
    const mapping *m = evs__seg_file_size(s, &size) == 0 && size > SEG_HDR_LEN
                           ? evs__seg_map(fb, s, size)
                           : NULL;
    evs__clearerr();
    for (uint64_t at = REC_ALIGN(from > SEG_HDR_LEN ? from : SEG_HDR_LEN);
         m && at + REC_HDR_LEN <= size; at += 8) {
        rec_view r;
        if (evs__rec_decode(m->base + at, size - at, true, &r) == REC_OK && r.pos > pos &&
            (r.flags & REC_COMMIT))
            return true;
    }
    return false;
}

/* Before cut_tail drops committed records (damage past the synced end, with whole
 * appends after it: a disk that lost a block in the middle of the last writes), their
 * bytes go to a repair folder, as `evstore repair` keeps what it cuts. A torn tail
 * (nothing committed past the end) is cut without a trace, as always. */
static int keep_cut_bytes(recovery *rv)
{
    file_backend *fb = rv->fb;
    bool committed = false;
    for (size_t i = 0; i < evs__seg_count(fb) && !committed; i++) {
        seg *s = evs__seg_at(fb, i);
        if (s->first_pos >= rv->end.seg && s->first_pos != rv->torn_seg)
            committed = committed_past(fb, s, s->first_pos == rv->end.seg ? rv->end.end : 0,
                                       rv->end.pos);
    }
    if (!committed)
        return 0;
    char dir[4096], name[64], line[512], when[40];
    evs__buf note = EVS__BUF_INIT;
    int rc = evs__aside_make_dir(fb, dir, sizeof dir);
    evs__time_format(when, sizeof when, evs__now_ns());
    snprintf(line, sizeof line,
             "evstore recovery of the store '%s', %s\n\nOpening the store found damage "
             "past the end of the log known to be synced, and whole appends after it: the "
             "log now ends at position %" PRIu64 ". The files here are the log's bytes from "
             "the cut on, unchanged:\n",
             fb->dir, when, rv->end.pos);
    if (rc == 0)
        rc = evs__buf_append(&note, line, strlen(line));
    for (size_t i = 0; rc == 0 && i < evs__seg_count(fb); i++) {
        seg *s = evs__seg_at(fb, i);
        uint64_t size, from = s->first_pos == rv->end.seg ? rv->end.end : 0;
        if (s->first_pos < rv->end.seg || (rc = evs__seg_file_size(s, &size)) < 0 ||
            size <= from)
            continue;
        if ((rc = evs__aside_copy(dir, s, from, size, name, sizeof name)) == 0) {
            snprintf(line, sizeof line, "  %-44s bytes %" PRIu64 "..%" PRIu64 " of %s\n", name,
                     from, size, s->name);
            rc = evs__buf_append(&note, line, strlen(line));
        }
    }
    if (rc == 0)
        rc = evs__aside_note(dir, note.ptr, note.len);
    if (rc == 0 && evs__dirsync(fb->dir) < 0)
        rc = evs__seterr_errno(errno, "cannot sync the directory '%s'", fb->dir);
    evs__buf_free(&note);
    return rc < 0 ? evs__prefixerr("recovery keeps the bytes it would cut, and could not") : 0;
}

/* Cut the log after rv->end: truncate its segment, remove any later segment. */
static int cut_tail(recovery *rv)
{
    file_backend *fb = rv->fb;
    int krc = keep_cut_bytes(rv);
    if (krc < 0)
        return krc;
    for (size_t i = evs__seg_count(fb); i-- > 0;) {
        seg *s = evs__seg_at(fb, i);
        if (s->first_pos <= rv->end.seg)
            break;
        /* Created by a writer that died before committing anything into it. */
        int rc = evs__seg_remove_file(fb, s->first_pos);
        if (rc < 0)
            return rc;
    }
    seg *s = evs__seg_by_first(fb, rv->end.seg);
    if (s && s->first_pos == rv->torn_seg) {
        /* The log ends before a segment whose creation was cut short (the store's first
         * one, or one after a sealed segment): it holds nothing; the next append makes
         * it again. */
        uint64_t first = s->first_pos;
        int rc = evs__seg_remove_file(fb, first);
        seg *prev = rc == 0 && first > 1 ? evs__seg_find(fb, first - 1) : NULL;
        uint64_t size;
        if (prev && (rc = evs__seg_file_size(prev, &size)) == 0) {
            rv->end.seg = prev->first_pos; /* appends go on in the sealed segment */
            rv->end.end = size;
        }
        return rc;
    }
    if (!s)
        return 0; /* empty store */
    /* The end is 8-byte aligned; a cut inside the last record's padding (zeros by
     * definition) is put back by extending the file to the boundary (check_end_fits
     * made sure that is all that is missing). The sync is there even when nothing is
     * cut: what we publish must be durable even if the writer that wrote it died before
     * its sync. */
    return evs__seg_cut(fb, s->first_pos, rv->end.end);
}

int evs__recover(file_backend *fb, bool head_trusted)
{
    recovery rv;
    memset(&rv, 0, sizeof rv);
    rv.fb = fb;
    int rc = evs__seg_load_all(fb);
    if (rc < 0)
        return rc;

    uint64_t mark;
    if ((rc = evs__synced_mark_read(fb, &mark)) < 0)
        return rc;
    uint64_t start_seg, start_off;
    if (evs__head_torn(fb))
        head_trusted = false; /* its writer died mid-publish: the fields may not agree */
    if (head_trusted) {
        /* A head that claims more than the files hold (they were cut or replaced), less
         * than the `synced` file, or an end that is not where its position's record
         * ends (a page from a diverged copy of the store) is not trusted: find the end
         * from the log instead. Recovery cuts what lies past the end it starts from. */
        head_view h;
        evs__head_read(fb, &h);
        seg *hs = evs__seg_by_first(fb, h.seg);
        uint64_t size = 0;
        bool empty_store = h.pos == 0 && h.seg == 1 && evs__seg_count(fb) == 0;
        if (!empty_store && (!hs || h.end < SEG_HDR_LEN || evs__seg_file_size(hs, &size) < 0 ||
                             size < h.end || !evs__head_matches_log(fb, &h)))
            head_trusted = false;
        if (mark > h.pos)
            head_trusted = false;
        evs__clearerr();
    }
    if (head_trusted) {
        evs__head_read(fb, &rv.end);
        start_seg = rv.end.seg;
        start_off = rv.end.end;
        rv.next_pos = rv.end.pos + 1;
        rv.strict_until = 0; /* everything past a published head is unacknowledged */
        rv.sync_known = true;
    } else {
        /* Start from the snapshot's position when it is usable, else from the start. */
        pthread_rwlock_wrlock(&fb->tab_lock);
        rc = evs__tab_load_base(fb);
        streamtab *t = &fb->tab;
        seg *ss = rc == 0 && evs__tab_has_base(t) ? evs__seg_by_first(fb, t->known_seg) : NULL;
        uint64_t ss_size = 0;
        bool use_snap = ss && evs__seg_file_size(ss, &ss_size) == 0 && ss_size >= t->known_off;
        start_seg = use_snap ? t->known_seg : 0;
        start_off = use_snap ? t->known_off : SEG_HDR_LEN;
        rv.next_pos = use_snap ? t->known_pos + 1 : 0;
        evs__tab_free(t);
        evs__tab_init(t, fb);
        pthread_rwlock_unlock(&fb->tab_lock);
        if (rc < 0)
            return rc;
        seg *first = evs__seg_at(fb, 0);
        seg *last = evs__seg_at(fb, evs__seg_count(fb) - 1);
        if (!use_snap) {
            start_seg = first ? first->first_pos : 1;
            start_off = SEG_HDR_LEN;
            rv.next_pos = start_seg;
        } else if (last && last->first_pos <= rv.next_pos) {
            /* Check at least the whole last segment: after a crash or a reboot that is
             * where damage would be, and it costs one segment's read at most. */
            start_seg = last->first_pos;
            start_off = SEG_HDR_LEN;
            rv.next_pos = start_seg;
        }
        rv.end.pos = rv.next_pos - 1;
        rv.end.seg = start_seg;
        rv.end.end = start_off;
        /* The head page (of an earlier boot too) still says how far its writer had
         * synced; the `synced` file says what was known when a segment was sealed, a
         * writer closed or a snapshot was written. The log must reach both. */
        if (fb->head_had_identity) {
            rv.strict_until = evs__head_synced(fb);
            rv.synced_by = "the head page";
            rv.sync_known = true;
        }
        if (mark > rv.strict_until) {
            rv.strict_until = mark;
            rv.synced_by = "the 'synced' file";
        }
    }

    seg *s = evs__seg_by_first(fb, start_seg);
    uint64_t off = start_off;
    bool stop = false;
    while (s && !stop) {
        rc = recover_segment(&rv, s, off, &stop);
        if (rc < 0)
            return rc;
        s = evs__seg_next(fb, s);
        off = SEG_HDR_LEN;
    }
    if (rv.end.pos < rv.strict_until)
        return refuse_lost_synced(&rv);
    if (rv.end.ts == 0 && rv.end.pos > 0) {
        /* The last event: before the positions a repair declared lost, if the log ends
         * with them. */
        const lost_range *lost = evs__lost_find(fb, rv.end.pos);
        uint64_t last = lost ? lost->first - 1 : rv.end.pos;
        rec_view r;
        if (last > 0 && evs__seg_read_pos(fb, last, false, &r) == 0)
            rv.end.ts = r.ts_ns;
        evs__clearerr();
    }
    if ((rc = check_end_fits(&rv)) < 0 || (!fb->readonly && (rc = cut_tail(&rv)) < 0))
        return rc;
    if (!fb->readonly && (rc = evs__tab_drop_base_after(fb, rv.end.pos)) < 0)
        return rc;
    /* cut_tail synced the segment the log ends in; the earlier ones were synced when
     * they were sealed. Best effort, as at a roll: a lower mark only knows less. */
    if (!fb->readonly && evs__synced_mark_raise(fb, rv.end.pos) < 0)
        evs__clearerr();
    evs__head_publish(fb, &rv.end);
    evs__head_set_synced(fb, rv.end.pos);
    if (!fb->readonly)
        evs__head_stamp(fb);
    return 0;
}
