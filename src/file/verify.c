/*
 * verify.c - check a whole store: every record's framing and checksum, positions
 * gap-free across segments, each segment's header and offset index, stream chains
 * (versions contiguous, prev_pos links right), and the stream table against what the
 * log says. Every problem goes to the caller's callback with file and byte offset.
 */
#include "verify.h"
#include "backend.h"
#include "file_backend.h"
#include "log_start.h"
#include "format.h"
#include "head.h"
#include "lost_ranges.h"
#include "record.h"
#include "segment.h"
#include "streamtab.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* After this many streams that disagree with the stream index, the rest are counted in
 * one line: past damage they are follow-ons of it, not news. */
#define STREAM_PROBLEMS_LISTED 20

typedef struct verifier {
    file_backend *fb;
    evs__verify_out out;
    streamtab rebuilt; /* the stream table as the log defines it */
    int64_t total_bytes;
    int64_t done; /* bytes checked so far, for progress */
    int64_t streams_disagreeing;
    bool index_dropped; /* a lookup found the stream index wrong: the handle drops it */
} verifier;

void evs__verify_problem(evs__verify_out *out, const char *file, int64_t off, int64_t pos,
                         const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    out->rep->problem_count++;
    if (out->cb) {
        evs_problem p = {file, off, pos, what};
        if (out->cb(out->ctx, &p, 0, 0))
            out->stop = true;
    }
}

const mapping *evs__verify_segment_start(file_backend *fb, evs__verify_out *out, seg *s,
                                         uint64_t *end, uint64_t *next_pos)
{
    uint64_t size = 0;
    if (evs__seg_file_size(s, &size) == 0 && size + 8 <= *end) {
        evs__verify_problem(out, s->name, (int64_t)size, 0,
                            "the file is %" PRIu64
                            " bytes but its committed records end at byte %" PRIu64,
                            size, *end);
        *end = size;
    }
    evs__clearerr();
    const mapping *m = *end >= SEG_HDR_LEN ? evs__seg_map(fb, s, *end) : NULL;
    if (!m) {
        evs__verify_problem(out, s->name, 0, 0, "cannot map or too short (%" PRIu64 " bytes): %s",
                            *end, evs__lasterr_msg());
        return NULL;
    }
    char why[128];
    int64_t at;
    if (evs__seg_header_bad(fb, s, m->base, why, sizeof why, &at))
        evs__verify_problem(out, s->name, at, 0, "%s", why);
    if (s->first_pos != *next_pos && evs__lost_bridges(fb, *next_pos, s->first_pos))
        out->rep->lost_count += (int64_t)(s->first_pos - *next_pos); /* known, no damage */
    else if (s->first_pos != *next_pos)
        evs__verify_problem(out, s->name, 0, (int64_t)*next_pos,
                            "segment starts at position %" PRIu64 " but position %" PRIu64
                            " comes next",
                            s->first_pos, *next_pos);
    *next_pos = s->first_pos;
    return m;
}

/* A segment this process may not open (permissions, too many open files) is not
 * damage: verify stops with the reason, as a read would, rather than report everything
 * after it as corrupt. A segment that vanished since it was listed is damage. */
static bool unreadable(void)
{
    int err = evs__lasterr_errno();
    return err != 0 && err != ENOENT;
}

int evs__verify_walk(file_backend *fb, evs__verify_out *out, head_view *h,
                     int64_t *total_bytes, evs__verify_seg_fn check, void *ctx)
{
    evs__head_read(fb, h);
    int rc = evs__seg_load_all(fb);
    if (rc < 0)
        return rc;
    size_t n = evs__seg_count(fb);
    for (size_t i = 0; i < n; i++) {
        seg *s = evs__seg_at(fb, i);
        if (s->first_pos > h->seg)
            break;
        uint64_t size = h->end;
        rc = s->first_pos == h->seg ? evs__seg_fd(s) : evs__seg_file_size(s, &size);
        if (rc < 0 && unreadable())
            return rc;
        if (rc >= 0)
            *total_bytes += (int64_t)size;
    }
    evs__clearerr();
    uint64_t next_pos = n ? evs__seg_at(fb, 0)->first_pos : 1;
    if (n && next_pos != fb->log_start && !evs__lost_bridges(fb, fb->log_start, next_pos))
        evs__verify_problem(out, evs__seg_at(fb, 0)->name, -1, (int64_t)fb->log_start,
                            "the log starts at position %" PRIu64 " but the 'start' file says "
                            "%" PRIu64,
                            next_pos, fb->log_start);
    for (size_t i = 0; i < n && !out->stop && next_pos != UINT64_MAX; i++) {
        seg *s = evs__seg_at(fb, i);
        if (s->first_pos > h->seg)
            break; /* being written by a commit that has not published yet */
        uint64_t end = h->end;
        if (s->first_pos != h->seg && evs__seg_file_size(s, &end) < 0)
            end = 0;
        check(ctx, s, end, &next_pos);
        out->rep->segments_checked++;
    }
    out->cut_short = next_pos == UINT64_MAX;
    if (!out->stop && next_pos != UINT64_MAX && next_pos != h->pos + 1 && h->pos > 0)
        evs__verify_problem(out, HEAD_FILE, -1, (int64_t)h->pos,
                            "the log ends at position %" PRIu64 " but the head says %" PRIu64,
                            next_pos - 1, h->pos);
    return 0;
}

bool evs__verify_record_at(evs__verify_out *out, const seg *s, const mapping *m, uint64_t off,
                           uint64_t end, bool check_crc, uint64_t *next_pos, rec_view *r)
{
    int st = evs__rec_decode(m->base + off, end - off, check_crc, r);
    if (st != REC_OK) {
        evs__verify_problem(out, s->name, (int64_t)off, (int64_t)*next_pos,
                            "%s; the rest of the segment (%" PRIu64 " bytes) cannot be read",
                            evs__rec_status_str(st), end - off);
        *next_pos = UINT64_MAX;
        return false;
    }
    if (r->pos != *next_pos)
        evs__verify_problem(out, s->name, (int64_t)off, (int64_t)r->pos,
                            "position %" PRIu64 " where %" PRIu64 " was expected", r->pos,
                            *next_pos);
    return true;
}

int evs__verify_finish(file_backend *fb, const evs__verify_out *out, int64_t total_bytes,
                       const char *what)
{
    if (out->cb && !out->stop)
        out->cb(out->ctx, NULL, total_bytes, total_bytes); /* the end: 100% */
    if (out->rep->problem_count)
        return evs__seterr(EVS_ECORRUPT, "%s found %" PRId64 " problem(s) in '%s'", what,
                           out->rep->problem_count, fb->dir);
    evs__clearerr();
    return 0;
}

bool evs__verify_link_bad(const streamtab *t, const rec_view *r, char *why, size_t why_len)
{
    stream_val sv;
    evs__tab_get(t, r->stream, r->stream_len, r->stream_hash, &sv);
    if ((int64_t)r->version != sv.last_version + 1)
        snprintf(why, why_len, "stream '%.*s': version %" PRIu64 " follows version %" PRId64,
                 (int)r->stream_len, r->stream, r->version, sv.last_version);
    else if (r->version > 0 && (r->prev_pos != sv.last_pos || r->prev_off != sv.last_off))
        snprintf(why, why_len,
                 "stream '%.*s': link to the previous event is %" PRIu64 " at byte %" PRIu32
                 ", expected %" PRIu64 " at byte %" PRIu32,
                 (int)r->stream_len, r->stream, r->prev_pos, r->prev_off, sv.last_pos, sv.last_off);
    else if (r->stream_hash != evs__hash64(r->stream, r->stream_len))
        snprintf(why, why_len, "stream name hash mismatch");
    else if (r->type_hash != (uint32_t)evs__hash64(r->type, r->type_len))
        snprintf(why, why_len, "event type hash mismatch");
    else
        return false;
    return true;
}

static void check_record(verifier *v, seg *s, uint64_t off, const rec_view *r)
{
    char why[384];
    if ((r->flags & REC_LOST) && !evs__lost_find(v->fb, r->pos))
        evs__verify_problem(&v->out, s->name, (int64_t)off, (int64_t)r->pos,
                            "a filler of a lost event at a position the 'lost' file does not "
                            "list");
    if ((r->flags & REC_LOST) && r->stream_len == 0)
        return; /* whose it was is not known: it continues no stream */
    uint64_t first = r->pos;
    stream_val sv;
    if (r->version > 0 && evs__pos_dropped(v->fb->log_start, r->prev_pos) &&
        evs__tab_get(&v->rebuilt, r->stream, r->stream_len, r->stream_hash, &sv) >= 0 &&
        sv.last_version < 0)
        first = r->prev_pos; /* its earlier events were dropped by retention */
    else if (evs__verify_link_bad(&v->rebuilt, r, why, sizeof why))
        evs__verify_problem(&v->out, s->name, (int64_t)off, (int64_t)r->pos, "%s", why);
    if (evs__tab_apply(&v->rebuilt, r->stream, r->stream_len, r->stream_hash, first, r->pos,
                       (int64_t)r->version, (uint32_t)off, NULL) < 0)
        v->out.stop = true;
}

static void verify_segment(void *ctx, seg *s, uint64_t end, uint64_t *next_pos)
{
    verifier *v = ctx;
    const mapping *m = evs__verify_segment_start(v->fb, &v->out, s, &end, next_pos);
    if (!m)
        return;
    uint64_t off = SEG_HDR_LEN;
    while (off < end && !v->out.stop) {
        rec_view r;
        if (!evs__verify_record_at(&v->out, s, m, off, end, true, next_pos, &r))
            return;
        uint64_t got;
        if (evs__seg_offset(v->fb, s, r.pos, &got) < 0 || got != off)
            evs__verify_problem(&v->out, s->name, (int64_t)off, (int64_t)r.pos,
                                "offset index disagrees");
        evs__clearerr();
        check_record(v, s, off, &r);
        /* Padding is zero (docs/FORMAT.md); the last record's may be beyond the end. */
        for (uint64_t p = off + r.len; p < off + REC_ALIGN(r.len) && p < end; p++) {
            if (m->base[p] != 0) {
                evs__verify_problem(&v->out, s->name, (int64_t)p, (int64_t)r.pos,
                                    "the padding after the record is not zero");
                break;
            }
        }
        *next_pos = r.pos + 1;
        off += REC_ALIGN(r.len);
        if (r.flags & REC_LOST)
            v->out.rep->lost_count++; /* known, no damage */
        else
            v->out.rep->events_checked++;
        v->out.rep->bytes_checked += (int64_t)r.len;
        v->done += (int64_t)REC_ALIGN(r.len);
        if (v->out.cb && v->out.rep->events_checked % 65536 == 0 &&
            v->out.cb(v->out.ctx, NULL, v->done, v->total_bytes))
            v->out.stop = true;
    }
}

typedef struct table_check {
    verifier *v;
} table_check;

static int compare_stream(void *ctx, const char *name, uint32_t len, const stream_val *want)
{
    verifier *v = ctx;
    stream_val have;
    int found = evs__tab_get(&v->fb->tab, name, len, evs__hash64(name, len), &have);
    v->out.rep->streams_checked++;
    if (found < 0) {
        /* A cache found wrong is no damage to the store: the handle drops it, and the
         * comparison starts again with the table rebuilt from the log. */
        evs__clearerr();
        v->index_dropped = true;
        return 1;
    }
    /* A stream that began before the log's start: the log no longer says where. */
    bool first_known = !evs__pos_dropped(v->fb->log_start, want->first_pos);
    if (have.last_version == want->last_version && have.last_pos == want->last_pos &&
        (!first_known || have.first_pos == want->first_pos) && have.last_off == want->last_off)
        return v->out.stop;
    if (++v->streams_disagreeing > STREAM_PROBLEMS_LISTED)
        return v->out.stop; /* counted, listed in one line at the end */
    evs__verify_problem(&v->out, SIDX_DIR, -1, (int64_t)want->last_pos,
                        "stream index says '%.*s' ends at version %" PRId64 " (position %" PRIu64
                        "), the log says version %" PRId64 " (position %" PRIu64 ")",
                        (int)len, name, have.last_version, have.last_pos, want->last_version,
                        want->last_pos);
    return v->out.stop;
}

int evs__file_verify(evs__backend *be, evs_verify_cb cb, void *ctx, evs_verify_report *rep)
{
    file_backend *fb = (file_backend *)be;
    verifier v;
    memset(&v, 0, sizeof v);
    v.fb = fb;
    v.out = (evs__verify_out){cb, ctx, rep, false, false};
    evs__tab_init(&v.rebuilt, NULL);
    head_view h;
    int rc = evs__verify_walk(fb, &v.out, &h, &v.total_bytes, verify_segment, &v);
    if (rc < 0)
        return rc;

    /* The stream table must agree with the log, stream by stream. When damage kept the
     * walk from the log's end, every stream with events past it would disagree: the
     * damage is the news, and it has been reported. */
    int64_t checked = rep->streams_checked;
    for (int attempt = 0; attempt < 2 && (attempt == 0 || v.index_dropped); attempt++) {
        v.index_dropped = false;
        rep->streams_checked = checked;
        if (v.out.stop || v.out.cut_short || (rc = evs__tab_catch_up(fb)) < 0)
            break;
        pthread_rwlock_rdlock(&fb->tab_lock);
        evs__tab_each(&v.rebuilt, compare_stream, &v);
        pthread_rwlock_unlock(&fb->tab_lock);
    }
    if (!v.out.stop && !v.out.cut_short && rc == 0) {
        pthread_rwlock_rdlock(&fb->tab_lock);
        if (v.streams_disagreeing > STREAM_PROBLEMS_LISTED)
            evs__verify_problem(&v.out, SIDX_DIR, -1, 0,
                                "and %" PRId64 " more streams disagree with the stream index "
                                "(not listed)",
                                v.streams_disagreeing - STREAM_PROBLEMS_LISTED);
        size_t have = evs__tab_stream_count(&fb->tab);
        size_t want = evs__tab_stream_count(&v.rebuilt);
        pthread_rwlock_unlock(&fb->tab_lock);
        /* Streams whose every event retention dropped are still listed (their versions
         * go on); the log no longer shows them. */
        bool dropped_some = fb->log_start > 1;
        if ((dropped_some ? have < want : have != want) && fb->tab.known_pos == h.pos)
            evs__verify_problem(&v.out, SIDX_DIR, -1, 0,
                                "stream index lists %zu streams, the log has %zu", have, want);
    } else if (rc < 0) {
        evs__verify_problem(&v.out, SIDX_DIR, -1, 0,
                            "stream index cannot be brought up to date: %s", evs__lasterr_msg());
    }
    evs__tab_free(&v.rebuilt);
    return evs__verify_finish(fb, &v.out, v.total_bytes, "verify");
}
