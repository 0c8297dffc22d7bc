/*
 * repair_scan.c - repair, step one: read the whole log and find where the intact log
 * ends, changing nothing.
 *
 * The intact log ends after the last complete append (its last record flagged
 * REC_COMMIT) before the first problem verify would report in the log: a bad segment
 * header, a segment that does not start where the previous one ended, a record with a
 * bad frame or checksum, a position out of order, a record that does not continue its
 * stream, an append without its commit record. Everything after that point is cut.
 *
 * To say what the cut loses, the scan then looks past the damage for records that can
 * still be recognised (after damage, by trying every 8-byte boundary) and takes the
 * highest position of a committed one; the head page, when it is this store's, adds the
 * last position it published. The positions from the cut to that one are lost.
 *
 * The scan also builds the stream table of the kept log, so the stream index can be
 * rebuilt without reading the log a second time.
 */
#include "repair.h"
#include "evstore.h"
#include "file_backend.h"
#include "format.h"
#include "head.h"
#include "lost_ranges.h"
#include "record.h"
#include "segment.h"
#include "streamtab.h"
#include "synced_mark.h"
#include "util.h"
#include "verify.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A recognised record further than this past the cut is taken for garbage that happens
 * to check out, not for a lost event. */
#define EVIDENCE_SPAN (1u << 30)

typedef struct scan {
    file_backend *fb;
    repair_plan *p;
    uint64_t next_pos;
    tab_undo *undo; /* table changes of the append still open (no commit record yet) */
    size_t undo_len;
    size_t undo_cap;
    uint64_t open_off; /* where that append's first record is */
    int64_t last_ts;   /* of the last record read */
} scan;

static void damage(scan *sc, const char *file, int64_t off, uint64_t pos, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void damage(scan *sc, const char *file, int64_t off, uint64_t pos, const char *fmt, ...)
{
    repair_plan *p = sc->p;
    p->cut = true;
    snprintf(p->damage_file, sizeof p->damage_file, "%s", file);
    p->damage_off = off;
    p->damage_pos = pos;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->what, sizeof p->what, fmt, ap);
    va_end(ap);
}

static int undo_slot(scan *sc, tab_undo **out)
{
    if (sc->undo_len == sc->undo_cap) {
        size_t cap = sc->undo_cap ? sc->undo_cap * 2 : 64;
        tab_undo *n = evs__realloc(sc->undo, cap * sizeof *n);
        if (!n)
            return evs__seterr(EVS_ENOMEM, "out of memory scanning the log for repair");
        sc->undo = n;
        sc->undo_cap = cap;
    }
    *out = &sc->undo[sc->undo_len++];
    return 0;
}

/* Check one record in place; false (with the damage noted) when the log breaks here. */
static bool record_fits(scan *sc, const seg *s, uint64_t off, const rec_view *r, int st)
{
    char why[384];
    if (st != REC_OK)
        damage(sc, s->name, (int64_t)off, sc->next_pos, "%s", evs__rec_status_str(st));
    else if (r->pos != sc->next_pos)
        damage(sc, s->name, (int64_t)off, sc->next_pos,
               "position %" PRIu64 " where %" PRIu64 " was expected", r->pos, sc->next_pos);
    else if ((r->flags & REC_LOST) && r->stream_len == 0)
        return true; /* a filler no stream owns (an earlier --keep-intact) */
    else if (evs__verify_link_bad(&sc->p->tab, r, why, sizeof why) &&
             !(sc->p->keep_intact && evs__fill_claim(&sc->p->fills, &sc->p->tab, r) &&
               !evs__verify_link_bad(&sc->p->tab, r, why, sizeof why)))
        damage(sc, s->name, (int64_t)off, r->pos, "%s", why);
    else
        return true;
    return false;
}

/* --keep-intact: damage at byte off of s, where position sc->next_pos was expected. When
 * a whole record follows that the bytes in between can have led up to (or the next
 * segment starts within their reach), the positions in between become a region of
 * fillers and the scan goes on after it: *resume is where. */
static int keep_after_damage(scan *sc, seg *s, const mapping *m, uint64_t size, bool last,
                             uint64_t off, uint64_t *resume)
{
    repair_plan *p = sc->p;
    uint64_t first = sc->next_pos, at = 0, next = 0;
    *resume = 0;
    if (!evs__fill_find_next(m->base, size, off, first, &at, &next)) {
        seg *n = last ? NULL : evs__seg_next(sc->fb, s);
        if (!n || n->first_pos <= first || n->first_pos - first > (size - off) / REC_HDR_LEN)
            return 0; /* nothing whole after it here: the cut it is */
        at = size;
        next = n->first_pos;
    }
    if (p->fills.n == 0) { /* the report names the first damage */
        snprintf(p->fill_file, sizeof p->fill_file, "%s", p->damage_file);
        p->fill_off = p->damage_off;
        p->fill_pos = p->damage_pos;
        snprintf(p->fill_what, sizeof p->fill_what, "%s", p->what);
    }
    int rc = evs__fill_add(&p->fills, &p->tab, s, m->base, off, at, first, next, sc->last_ts);
    if (rc < 0)
        return rc;
    p->cut = false;
    p->fill_bytes += at - off;
    sc->undo_len = 0; /* the fillers commit the append they end */
    sc->next_pos = next;
    p->kept = (head_view){next - 1, s->first_pos, at, sc->last_ts};
    *resume = at;
    return 0;
}

/* Walk segment s; *stop once the log breaks in it. */
static int scan_segment(scan *sc, seg *s, bool last, bool *stop)
{
    repair_plan *p = sc->p;
    uint64_t size;
    int rc = evs__seg_file_size(s, &size);
    if (rc < 0)
        return rc;
    const mapping *m = size >= SEG_HDR_LEN ? evs__seg_map(sc->fb, s, size) : NULL;
    if (size >= SEG_HDR_LEN && !m)
        return evs__lasterr_code();
    char why[128];
    int64_t at = 0;
    *stop = true;
    if (!m)
        damage(sc, s->name, 0, sc->next_pos,
               "the file is %" PRIu64 " bytes, shorter than a segment header", size);
    else if (evs__seg_header_bad(sc->fb, s, m->base, why, sizeof why, &at))
        damage(sc, s->name, at, sc->next_pos, "%s", why);
    else if (s->first_pos != sc->next_pos && evs__lost_bridges(sc->fb, sc->next_pos, s->first_pos)) {
        sc->next_pos = s->first_pos; /* after positions an earlier repair declared lost */
        p->kept = (head_view){s->first_pos - 1, s->first_pos, SEG_HDR_LEN, p->kept.ts};
    } else if (s->first_pos != sc->next_pos)
        damage(sc, s->name, 0, sc->next_pos,
               "segment starts at position %" PRIu64 " but position %" PRIu64 " comes next",
               s->first_pos, sc->next_pos);
    if (p->cut) {
        if (p->kept.seg == s->first_pos)
            p->kept.seg = 0; /* nothing of this segment is kept, not even its header */
        return 0;
    }
    uint64_t off = SEG_HDR_LEN;
    while (off < size) {
        rec_view r;
        int st = evs__rec_decode(m->base + off, size - off, true, &r);
        if (st != REC_OK && last && evs__all_zero(m->base + off, size - off))
            break; /* the zeros a writer writes ahead of the log (active_segment.c) end it */
        if (!record_fits(sc, s, off, &r, st)) {
            uint64_t resume = 0;
            if (p->keep_intact && (rc = keep_after_damage(sc, s, m, size, last, off, &resume)) < 0)
                return rc;
            if (resume == 0)
                return 0;
            off = resume;
            continue;
        }
        tab_undo *u = NULL;
        bool owned = !(r.flags & REC_LOST) || r.stream_len > 0;
        if (owned && ((rc = undo_slot(sc, &u)) < 0 ||
            (rc = evs__tab_apply(&p->tab, r.stream, r.stream_len, r.stream_hash, r.pos, r.pos,
                                 (int64_t)r.version, (uint32_t)off, u)) < 0))
            return rc;
        if (sc->undo_len == 1)
            sc->open_off = off;
        off += REC_ALIGN(r.len);
        sc->next_pos++;
        sc->last_ts = r.ts_ns;
        if (r.flags & REC_COMMIT) {
            p->kept = (head_view){r.pos, s->first_pos, off, r.ts_ns};
            sc->undo_len = 0;
        }
    }
    if (sc->undo_len > 0) {
        /* An append never spans segments: only the end of the log may hold an unfinished
         * one (a writer that died mid-commit, which open also cuts). */
        damage(sc, s->name, (int64_t)sc->open_off, p->kept.pos + 1, "%s",
               last ? "an unfinished append at the end of the log (a torn write, never "
                      "acknowledged)"
                    : "the segment ends inside an append that has no commit record, and later "
                      "segments follow");
        return 0;
    }
    *stop = false;
    return 0;
}

/* Recognisable committed records of segment s from byte `from` on, trying every 8-byte
 * boundary after damage: raise p->last_lost to the highest position found. */
static void find_lost(scan *sc, seg *s, uint64_t from)
{
    repair_plan *p = sc->p;
    uint64_t size;
    const mapping *m = evs__seg_file_size(s, &size) == 0 && size >= SEG_HDR_LEN
                           ? evs__seg_map(sc->fb, s, size)
                           : NULL;
    for (uint64_t at = REC_ALIGN(from); m && at + REC_HDR_LEN <= size;) {
        rec_view r;
        if (evs__rec_decode(m->base + at, size - at, true, &r) == REC_OK && r.pos > p->kept.pos &&
            r.pos - p->kept.pos < EVIDENCE_SPAN) {
            if ((r.flags & REC_COMMIT) && r.pos > p->last_lost)
                p->last_lost = r.pos;
            at += REC_ALIGN(r.len);
        } else {
            at += 8;
        }
    }
    evs__clearerr();
}

/* What lies past the cut: its size, its files, the positions it held. */
static int measure_lost(scan *sc, bool head_has_identity)
{
    repair_plan *p = sc->p;
    file_backend *fb = sc->fb;
    p->last_lost = p->kept.pos;
    size_t n = evs__seg_count(fb);
    for (size_t i = 0; i < n; i++) {
        seg *s = evs__seg_at(fb, i);
        uint64_t size;
        int rc = evs__seg_file_size(s, &size);
        if (rc < 0)
            return rc;
        if (p->kept.seg != 0 && s->first_pos < p->kept.seg)
            continue;
        if (s->first_pos == p->kept.seg) {
            p->kept_seg_size = size;
            p->bytes_cut += size > p->kept.end ? size - p->kept.end : 0;
        } else {
            p->bytes_cut += size;
            p->files_cut++;
            /* A segment's name is the position after the last one before it. */
            if (s->first_pos - 1 > p->last_lost && s->first_pos - 1 - p->kept.pos < EVIDENCE_SPAN)
                p->last_lost = s->first_pos - 1;
        }
        /* Past the damage only: before it, the open append's records are whole but were
         * never committed. */
        bool damaged_here = strcmp(s->name, p->damage_file) == 0;
        uint64_t from = s->first_pos == p->kept.seg ? p->kept.end : SEG_HDR_LEN;
        if (damaged_here && p->damage_off > 0 && (uint64_t)p->damage_off >= from)
            from = (uint64_t)p->damage_off + 8;
        find_lost(sc, s, from);
    }
    if (head_has_identity) {
        head_view h;
        evs__head_read(fb, &h);
        if (h.pos > p->last_lost && h.pos - p->kept.pos < EVIDENCE_SPAN)
            p->last_lost = h.pos;
    }
    return 0;
}

int evs__repair_scan(file_backend *fb, bool head_fresh, bool keep_intact, repair_plan *p)
{
    memset(p, 0, sizeof *p);
    evs__tab_init(&p->tab, NULL);
    p->keep_intact = keep_intact;
    scan sc;
    memset(&sc, 0, sizeof sc);
    sc.fb = fb;
    sc.p = p;
    size_t n = evs__seg_count(fb);
    seg *first = evs__seg_at(fb, 0);
    sc.next_pos = first ? first->first_pos : 1;
    p->kept = (head_view){sc.next_pos - 1, first ? first->first_pos : 0, SEG_HDR_LEN, 0};
    int rc = 0;
    bool stop = false;
    for (size_t i = 0; i < n && !stop && rc == 0; i++)
        rc = scan_segment(&sc, evs__seg_at(fb, i), i + 1 == n, &stop);
    /* The table must describe the kept log: take back the open append's records. */
    while (sc.undo_len > 0)
        evs__tab_undo(&p->tab, &sc.undo[--sc.undo_len]);
    evs__free(sc.undo);
    if (rc == 0 && p->cut)
        rc = measure_lost(&sc, fb->head_had_identity);
    if (rc < 0)
        return rc;

    /* What the log was known to reach: a page of this boot is what every open trusts;
     * the synced position of any page of this store, and the `synced` file, are what an
     * open refuses to lose. None may promise more log than there is (a truncated file,
     * a lost tail). */
    head_view h;
    evs__head_read(fb, &h);
    uint64_t promised;
    if ((rc = evs__synced_mark_read(fb, &promised)) < 0)
        return rc;
    const char *by = "the 'synced' file", *file = SYNCED_FILE;
    if (fb->head_had_identity && evs__head_synced(fb) > promised) {
        promised = evs__head_synced(fb);
        by = "the head page";
        file = HEAD_FILE;
    }
    if (!head_fresh && h.pos > promised) {
        promised = h.pos;
        by = "the head page of this boot";
        file = HEAD_FILE;
    }
    p->head_ahead = promised > p->kept.pos;
    if (p->cut && promised > p->last_lost && promised - p->kept.pos < EVIDENCE_SPAN)
        p->last_lost = promised;
    if (!p->cut && p->head_ahead) {
        p->last_lost = promised;
        snprintf(p->damage_file, sizeof p->damage_file, "%s", file);
        p->damage_off = -1;
        p->damage_pos = p->kept.pos + 1;
        snprintf(p->what, sizeof p->what,
                 "the log ends at position %" PRIu64 " but %s says it reached %" PRIu64
                 ": the positions after %" PRIu64 " are missing from the log",
                 p->kept.pos, by, promised, p->kept.pos);
    }
    return 0;
}

void evs__repair_plan_free(repair_plan *p)
{
    evs__tab_free(&p->tab);
    evs__fill_free(&p->fills);
}
