/*
 * head.h - the shared head page: seqlock publish and read, futex wait and wake (head.c).
 */
#ifndef EVS_FILE_HEAD_H
#define EVS_FILE_HEAD_H

#include <stdbool.h>
#include <stdint.h>

typedef struct file_backend file_backend;

/* A consistent copy of the head page's committed fields. */
typedef struct head_view {
    uint64_t pos;
    uint64_t seg;
    uint64_t end;
    int64_t ts;
} head_view;

int evs__head_map(file_backend *fb, bool *fresh);
void evs__head_unmap(file_backend *fb);
void evs__head_read(const file_backend *fb, head_view *out);
void evs__head_publish(file_backend *fb, const head_view *h);
/* Is a publish under way? With the writer lock held, that means a writer died in the
 * middle of one, and the page's fields cannot be trusted: recover from the log. */
bool evs__head_torn(const file_backend *fb);
void evs__head_stamp(file_backend *fb);
void evs__head_set_synced(file_backend *fb, uint64_t pos);
/* Repair only: set the synced position back to pos (it otherwise only grows), once the
 * log was cut before it. No other handle has the store open to see it move. */
void evs__head_rewind_synced(file_backend *fb, uint64_t pos);
uint64_t evs__head_synced(const file_backend *fb);
void evs__head_set_snap(file_backend *fb, uint64_t covered);
uint64_t evs__head_snap(const file_backend *fb);
int evs__head_wait(file_backend *fb, uint64_t after_pos, int timeout_ms, uint64_t *head_out);
/* Make every waiter look again (see evs__wait_interrupt in backend.h); with `closing`
 * every wait on this handle ends with EVS_ECLOSED. */
void evs__head_wake(file_backend *fb, bool closing);

#endif /* EVS_FILE_HEAD_H */
