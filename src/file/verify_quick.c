/*
 * verify_quick.c - evs_verify_quick: the store's structure, without checksumming every
 * byte and without rebuilding the stream table.
 *
 * Checked: every segment's header (magic, checksum, first position, store id) and that
 * the segments continue each other's positions; every record's frame, walking the
 * chain of record lengths (length and field sizes consistent, known flags, position one
 * past the previous one, a plausible version and link); that each file ends where its
 * records do and the log where the head page says; the checksum of the first and last
 * record of every segment and of every record in the last QUICK_TAIL_BYTES of the log
 * (where a crash or a power loss leaves damage).
 *
 * Not checked: the checksums of the other records (bit rot inside an older event's
 * stream name, type, metadata or data), stream version chains, and the stream index
 * against the log. The stream index's runs are not looked at either: like evs_verify,
 * the quick check holds to the rule that caches are not the truth (a damaged run
 * is ignored by readers and replaced by writers; it costs a longer open, no data).
 *
 * What it saves is CPU: no CRC32C over every payload byte and no stream table, about a
 * third of evs_verify's CPU time for ~100-byte events. It does not save reading: the
 * headers are spread over every page, and readahead brings whole files in on a cold
 * cache either way (telling the kernel the walk is sparse makes it much slower: every
 * page becomes a synchronous fault).
 * The frames are followed by their lengths, not through the .idx files: those are
 * caches that are never synced and may lag after a crash, so they cannot be the
 * reference (readers rebuild them).
 */
#include "verify.h"
#include "backend.h"
#include "file_backend.h"
#include "format.h"
#include "head.h"
#include "record.h"
#include "segment.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define QUICK_TAIL_BYTES (1u << 20)

typedef struct quick {
    file_backend *fb;
    evs__verify_out out;
    int64_t total_bytes; /* bytes of all segments up to the head */
    int64_t done;        /* bytes of the segments before the current one, then records */
} quick;

/* Walk the frames of segment s (mapped as m) from its first record up to `end`;
 * *next_pos becomes UINT64_MAX when a frame is broken (nothing after it can be
 * located). */
static void quick_records(quick *q, const seg *s, const mapping *m, uint64_t end,
                          uint64_t *next_pos)
{
    int64_t tail_from = q->total_bytes - QUICK_TAIL_BYTES; /* in bytes of the whole log */
    uint64_t off = SEG_HDR_LEN;
    while (off < end && !q->out.stop) {
        rec_view r;
        if (!evs__verify_record_at(&q->out, s, m, off, end, false, next_pos, &r))
            return;
        uint64_t next_off = off + REC_ALIGN(r.len);
        bool in_tail = q->done + (int64_t)next_off > tail_from;
        if (off == SEG_HDR_LEN || next_off >= end || in_tail) {
            if (evs__get_u32(m->base + off + REC_OFF_CRC) != evs__rec_crc(m->base + off, r.len))
                evs__verify_problem(&q->out, s->name, (int64_t)off, (int64_t)r.pos,
                                    "checksum mismatch");
            q->out.rep->bytes_checked += (int64_t)r.len;
        }
        *next_pos = r.pos + 1;
        off = next_off;
        if (r.flags & REC_LOST)
            q->out.rep->lost_count++; /* a filler of a lost event: known, no damage */
        else
            q->out.rep->events_checked++;
        if (q->out.cb && q->out.rep->events_checked % 65536 == 0 &&
            q->out.cb(q->out.ctx, NULL, q->done + (int64_t)off, q->total_bytes))
            q->out.stop = true;
    }
}

/* Check segment s up to `end`: its header, where it starts, its records. */
static void quick_segment(void *ctx, seg *s, uint64_t end, uint64_t *next_pos)
{
    quick *q = ctx;
    const mapping *m = evs__verify_segment_start(q->fb, &q->out, s, &end, next_pos);
    if (m)
        quick_records(q, s, m, end, next_pos);
    q->done += (int64_t)end;
}

int evs__file_verify_quick(evs__backend *be, evs_verify_cb cb, void *ctx, evs_verify_report *rep)
{
    file_backend *fb = (file_backend *)be;
    quick q;
    memset(&q, 0, sizeof q);
    q.fb = fb;
    q.out = (evs__verify_out){cb, ctx, rep, false, false};
    head_view h;
    int rc = evs__verify_walk(fb, &q.out, &h, &q.total_bytes, quick_segment, &q);
    if (rc < 0)
        return rc;
    return evs__verify_finish(fb, &q.out, q.total_bytes, "quick verify");
}
