/*
 * segment_locate.h - where a segment's file is: the store's directory, or the archive
 * directory that the store's `archive` file names (segment_locate.c).
 *
 * Only sealed segments are ever archived, and only their .seg file moves: the caches
 * made from them (.idx, .sdx, .tdx) stay in the store's directory. A segment present in
 * both places (an archiving stopped between its copy and the removal) is read from the
 * store's directory.
 */
#ifndef EVS_FILE_SEGMENT_LOCATE_H
#define EVS_FILE_SEGMENT_LOCATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct file_backend file_backend;

/* The store's archive settings, as its `archive` file keeps them. */
typedef struct archive_conf {
    char dir[4096];        /* the archive directory; "" when the store has none */
    int64_t older_than_ns; /* the policy: archive segments sealed longer ago (0: no rule) */
    int64_t keep_bytes;    /* ... and all but the newest this many bytes of log (0: none) */
} archive_conf;

/* Read the `archive` file: 0 (conf->dir "" when there is none), or EVS_ECORRUPT naming
 * it when it is damaged. */
int evs__archive_conf_read(const file_backend *fb, archive_conf *conf);
/* Replace the `archive` file with conf, durably (temporary file, synced, renamed). */
int evs__archive_conf_write(file_backend *fb, const archive_conf *conf);

/* Open segment `name` read-only where it is: the store's directory first, then the
 * archive. The fd, or a negative EVS_E* naming the file (EVS_ENOTFOUND when neither has
 * it). */
int evs__seg_open_located(const file_backend *fb, const char *name);
/* The path of segment `name`'s file, where it is now (as evs__seg_open_located looks). */
int evs__seg_locate(const file_backend *fb, const char *name, char *path, size_t len);

/* Call add(fb, first_pos) for every segment file in the archive directory (none when
 * the store has no archive). */
int evs__archive_list(file_backend *fb, int (*add)(file_backend *fb, uint64_t first_pos));

/* For retention's discard: is segment first_pos archived, i.e. is its whole file in the
 * archive directory and no longer in the store's? Only then may a policy that keeps
 * what it has not archived drop it (from the archive). */
bool evs__seg_is_archived(file_backend *fb, uint64_t first_pos);
/* Is there a file of segment first_pos in the archive (whether or not the store's
 * directory still has it: a move that was stopped)? */
bool evs__seg_in_archive(file_backend *fb, uint64_t first_pos);

#endif /* EVS_FILE_SEGMENT_LOCATE_H */
