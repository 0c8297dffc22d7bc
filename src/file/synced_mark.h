/*
 * synced_mark.h - the `synced` file: a durable lower bound of the log's end (synced_mark.c).
 */
#ifndef EVS_FILE_SYNCED_MARK_H
#define EVS_FILE_SYNCED_MARK_H

#include <stdbool.h>
#include <stdint.h>

typedef struct file_backend file_backend;

/* The position the `synced` file says the log holds, synced (0: no file, or no valid
 * slot in it). */
int evs__synced_mark_read(file_backend *fb, uint64_t *pos);
/* Raise it to pos, durably (written and synced); a larger value is left alone. The
 * caller holds the writer lock, and every position up to pos is committed and synced. */
int evs__synced_mark_raise(file_backend *fb, uint64_t pos);
/* Repair only: set it to pos, lower or higher, durably. */
int evs__synced_mark_set(file_backend *fb, uint64_t pos);

/* The same two-slot file under another name and magic (the log's start, log_start.c):
 * read it (0 when missing or without a valid slot), and write pos into its next slot,
 * durably (with `only_up`, a value not above the one kept is left alone). */
int evs__pos_mark_read(file_backend *fb, const char *file, const char *magic, uint64_t *pos);
int evs__pos_mark_write(file_backend *fb, const char *file, const char *magic, uint64_t pos,
                        bool only_up);

#endif /* EVS_FILE_SYNCED_MARK_H */
