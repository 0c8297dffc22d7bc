/*
 * recover.h - scanning the tail: crash recovery and catching up (recover.c).
 */
#ifndef EVS_FILE_RECOVER_H
#define EVS_FILE_RECOVER_H

#include "head.h"
#include "record.h"
#include "segment.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct file_backend file_backend;

/* With the writer lock held: make the log end at its last complete append, fix the
 * .idx tail and publish the head. */
int evs__recover(file_backend *fb, bool head_trusted);
/* Is h's end the end of a committed record of position h->pos (or a segment just
 * rolled after position h->pos)? A head page is a cache: nothing is cut on its word
 * unless it matches the log. */
bool evs__head_matches_log(file_backend *fb, const head_view *h);
/* Walk committed records from (seg, off) up to head h, calling cb for each. A record
 * whose frame holds (length, field sizes, flags, position and links plausible) but whose
 * checksum fails is passed too, with `damaged` set and its error message set: the
 * callback decides whether it can step over it (its fields may be wrong) or returns the
 * error. A record whose frame is broken ends the walk with EVS_ECORRUPT: the next one
 * cannot be found. */
typedef int (*rec_cb)(void *ctx, seg *s, uint64_t off, const rec_view *r, bool damaged);
int evs__scan(file_backend *fb, uint64_t seg_first, uint64_t off, const head_view *h, rec_cb cb,
              void *ctx);

#endif /* EVS_FILE_RECOVER_H */
