/*
 * path.h - the names and paths of the files inside a store.
 */
#ifndef EVS_FILE_PATH_H
#define EVS_FILE_PATH_H

#include <stddef.h>
#include <stdint.h>

struct file_backend;

/* Room for any path inside a store: the store's directory and a file name. A path that
 * does not fit is an error naming it, never cut. */
#define STORE_PATH_MAX 4200

/* Room for a temporary file's path: a path inside the store and a ".<pid>.tmp"-like
 * suffix. */
#define STORE_TMP_PATH_MAX (STORE_PATH_MAX + 100)

/* Path of a file inside the store: writes "<dir>/<name>" into buf; EVS_EINVAL naming
 * the path when it does not fit. */
int evs__path(const struct file_backend *fb, const char *name, char *buf, size_t len);

/* Open the store's file `name` read-only, its path written into path (STORE_PATH_MAX
 * bytes): 0 with *fd, or with *fd -1 when there is no such file; else a negative
 * EVS_E* naming it. */
int evs__path_open_existing(const struct file_backend *fb, const char *name, char *path,
                            int *fd);

/* Name of a segment's file, or of a cache made from it: "<first_pos, 20 digits>.<ext>"
 * (ext "seg", "idx" or "sdx"). */
void evs__seg_name(char *buf, size_t len, uint64_t first_pos, const char *ext);

/* evs__path of evs__seg_name: the path of segment first_pos's file with extension ext. */
int evs__seg_path(const struct file_backend *fb, uint64_t first_pos, const char *ext, char *buf,
                  size_t len);

#endif /* EVS_FILE_PATH_H */
