/*
 * compactor.h - compressing sealed segments (compactor.c): all at once for evs_compact,
 * or in the background by a writer whose options ask for it (compress_after).
 */
#ifndef EVS_FILE_COMPACTOR_H
#define EVS_FILE_COMPACTOR_H

#include "backend.h"
#include "evstore.h"

typedef struct file_backend file_backend;
typedef struct compactor compactor;

/* Compress every sealed segment that at least `after` segments follow (1: every sealed
 * one) and whose next segment's first record is synced, oldest first, one at a time,
 * crash-safely (evs__zseg_compress); *report counts what was done (NULL is fine).
 * A damaged segment is left plain and counted; the others are still compressed.
 * 0; EVS_ECORRUPT when a segment was left for damage (the error names the first);
 * EVS_EREADONLY; EVS_EIO. */
int evs__compact_sealed(file_backend *fb, unsigned int after, evs_compact_report *report);
/* The backend method behind evs_compact. */
int evs__file_compact(evs__backend *be, unsigned int keep, evs_compact_report *report);

/* The background compactor of a writable handle (fb->zc), made when the options ask for
 * it; its thread starts at the first kick. */
int evs__compactor_new(file_backend *fb);
/* A segment was sealed: look for segments to compress. */
void evs__compactor_kick(file_backend *fb);
/* End the thread (at close; what it is compressing is finished first). */
void evs__compactor_finish(file_backend *fb);
void evs__compactor_free(file_backend *fb);

#endif /* EVS_FILE_COMPACTOR_H */
