/*
 * log_start.c - the `start` file: the log's first position once retention has dropped
 * the oldest sealed segments (docs/FORMAT.md, "start").
 *
 * Positions never change, so a log that lost its oldest segments starts later than 1.
 * Without this file an open could not tell segments dropped on purpose from segments
 * lost (it refuses a log that ends before a synced position, but a log that begins
 * later looks the same either way). It has the `synced` file's two checksummed slots,
 * so a write torn by a crash leaves the previous start.
 */
#include "log_start.h"
#include "file_backend.h"
#include "format.h"
#include "synced_mark.h"

int evs__log_start_load(file_backend *fb)
{
    uint64_t start;
    int rc = evs__pos_mark_read(fb, START_FILE, START_MAGIC, &start);
    if (rc == 0)
        fb->log_start = start > 1 ? start : 1;
    return rc;
}

int evs__log_start_raise(file_backend *fb, uint64_t start)
{
    int rc = evs__pos_mark_write(fb, START_FILE, START_MAGIC, start, true);
    if (rc == 0 && start > fb->log_start)
        fb->log_start = start;
    return rc;
}
