/*
 * log_start.h - where the log starts: position 1, or the first position of the oldest
 * segment that retention kept (log_start.c).
 */
#ifndef EVS_FILE_LOG_START_H
#define EVS_FILE_LOG_START_H

#include "evstore.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct file_backend file_backend;

/* Read the `start` file into fb->log_start (1 when there is none). */
int evs__log_start_load(file_backend *fb);
/* Move the start to `start` durably (the file written and synced), before the segments
 * below it are removed: a crash in between leaves files an open ignores. The caller
 * holds the open lock exclusively. */
int evs__log_start_raise(file_backend *fb, uint64_t start);

/* Is pos before the log's start (its segment dropped)? Position 0 is "none" and is
 * not. */
static inline bool evs__pos_dropped(uint64_t log_start, uint64_t pos)
{
    return pos > 0 && pos < log_start;
}

#endif /* EVS_FILE_LOG_START_H */
