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
/* Walk the segments up to the head for both: *total_bytes (for progress) becomes the
 * bytes they hold, then each is handed to `check` with the end of its committed bytes
 * and the position that must come next (UINT64_MAX from `check` ends the walk: nothing
 * after can be located); the last position found must be the head's. Stops early when
 * out->stop is set. */
typedef void (*evs__verify_seg_fn)(void *ctx, seg *s, uint64_t end, uint64_t *next_pos);
int evs__verify_walk(file_backend *fb, evs__verify_out *out, const head_view *h,
                     int64_t *total_bytes, evs__verify_seg_fn check, void *ctx);
int evs__file_verify_quick(evs__backend *be, evs_verify_cb cb, void *ctx,
                           evs_verify_report *report);

#endif /* EVS_FILE_VERIFY_H */
