/*
 * verify.h - the whole-store check (verify.c) and the structure-only one (verify_quick.c).
 */
#ifndef EVS_FILE_VERIFY_H
#define EVS_FILE_VERIFY_H

#include "backend.h"
#include "head.h"
#include "record.h"
#include "segment.h"
#include "streamtab.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct file_backend file_backend;

int evs__file_verify(evs__backend *be, evs_verify_cb cb, void *ctx, evs_verify_report *report);
/* Does r continue its stream as table t has it (version, link to the previous event,
 * name and type hashes)? Else a description into why and true. */
bool evs__verify_link_bad(const streamtab *t, const rec_view *r, char *why, size_t why_len);
/* Where verify and verify --quick report to: the caller's callback and report, and
 * whether the callback asked to stop. */
typedef struct evs__verify_out {
    evs_verify_cb cb;
    void *ctx;
    evs_verify_report *rep;
    bool stop;
    bool cut_short; /* damage kept the walk from reading the log to its end */
} evs__verify_out;
/* Report one problem: count it in out->rep and hand it to out->cb (printf-style
 * message), setting out->stop when the callback asks to stop. */
void evs__verify_problem(evs__verify_out *out, const char *file, int64_t off, int64_t pos,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The checks both make on coming to segment s, whose committed bytes end at *end: the
 * file holds them (else *end is cut to the file's size), it maps, its header is this
 * store's, and it starts at *next_pos, which becomes its first position. Returns the
 * mapping, or NULL when the segment cannot be read at all (reported). */
const mapping *evs__verify_segment_start(file_backend *fb, evs__verify_out *out, seg *s,
                                         uint64_t *end, uint64_t *next_pos);
/* Decode the record at byte off of segment s (mapped as m, its committed bytes ending
 * at end), with its checksum checked when check_crc, and report it when it is not at
 * *next_pos. false when it cannot be decoded (reported; *next_pos becomes UINT64_MAX:
 * nothing after it can be located). */
bool evs__verify_record_at(evs__verify_out *out, const seg *s, const mapping *m, uint64_t off,
                           uint64_t end, bool check_crc, uint64_t *next_pos, rec_view *r);
/* Read the head into *h, then walk the segments up to it for both: *total_bytes (for
 * progress) becomes the bytes they hold, then each is handed to `check` with the end of
 * its committed bytes and the position that must come next (UINT64_MAX from `check`
 * ends the walk: nothing after can be located); the last position found must be the
 * head's. Stops early when out->stop is set. */
typedef void (*evs__verify_seg_fn)(void *ctx, seg *s, uint64_t end, uint64_t *next_pos);
int evs__verify_walk(file_backend *fb, evs__verify_out *out, head_view *h,
                     int64_t *total_bytes, evs__verify_seg_fn check, void *ctx);
/* The end of a check that walked total_bytes: the callback's 100% (unless it asked to
 * stop), then EVS_ECORRUPT saying how many problems `what` ("verify") found, or 0. */
int evs__verify_finish(file_backend *fb, const evs__verify_out *out, int64_t total_bytes,
                       const char *what);
int evs__file_verify_quick(evs__backend *be, evs_verify_cb cb, void *ctx,
                           evs_verify_report *report);

#endif /* EVS_FILE_VERIFY_H */
