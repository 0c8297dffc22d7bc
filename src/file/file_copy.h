/*
 * file_copy.h - durable copies and hard links of whole files, for backups and the
 * archive tier (file_copy.c).
 */
#ifndef EVS_FILE_FILE_COPY_H
#define EVS_FILE_FILE_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Copy the first `len` bytes of from_fd (named from_name in messages) into a new file
 * `to` (which must not exist), and sync it. A file shorter than len is an error
 * (EVS_EIO naming it). On failure `to` is removed. */
int evs__copy_fd(int from_fd, const char *from_name, uint64_t len, const char *to);

/* Copy the whole file `from` into a new file `to`, synced; EVS_ENOTFOUND (message set)
 * when `from` does not exist. *bytes gets the size. */
int evs__copy_file(const char *from, const char *to, uint64_t *bytes);

/* Make `to` name the file `from` names: a hard link when `may_link` and the two are on
 * one file system (*linked = true), else a copy as evs__copy_file. The file's data is
 * synced either way; the caller syncs the directory of `to`. *bytes gets the size. */
int evs__link_or_copy(const char *from, const char *to, bool may_link, bool *linked,
                      uint64_t *bytes);

/* "<dir>/<name>" into buf; EVS_EINVAL naming the path when it does not fit. */
int evs__join_path(char *buf, size_t len, const char *dir, const char *name);

/* Remove a directory that evstore made (a store or a backup being built): its files,
 * and those of its subdirectories one level down, then itself. A missing one is fine. */
int evs__remove_made_dir(const char *dir);

#endif /* EVS_FILE_FILE_COPY_H */
