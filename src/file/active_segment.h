/*
 * active_segment.h - the segment the writer appends to (active_segment.c). But for
 * evs__writer_trim (called at close), for the files of the append path; the caller
 * holds the writer lock.
 */
#ifndef EVS_FILE_ACTIVE_SEGMENT_H
#define EVS_FILE_ACTIVE_SEGMENT_H

#include <stdint.h>

struct file_backend;

/* Open segment first_pos (and its .idx) for writing, and make it the active one. */
int evs__active_open(struct file_backend *fb, uint64_t first_pos);
/* Close the active segment's descriptors (none open is fine). */
void evs__active_close(struct file_backend *fb);
/* Create the segment that starts at first_pos and make it the active one. */
int evs__active_start(struct file_backend *fb, uint64_t first_pos);
/* Before `len` bytes are written at `end` of the active segment, whose file is
 * *file_size bytes: write zeros ahead of them when they would pass the zeros written so
 * far (EVS_SYNC_ALWAYS only); *file_size becomes the file's size. Best effort. */
void evs__zeros_ahead(struct file_backend *fb, uint64_t end, uint64_t len, uint64_t *file_size);

/* At close: cut the zeros written ahead of the log, so that a closed store's active
 * segment ends where its log does. Best effort; never waits for the writer lock. */
void evs__writer_trim(struct file_backend *fb);

#endif /* EVS_FILE_ACTIVE_SEGMENT_H */
