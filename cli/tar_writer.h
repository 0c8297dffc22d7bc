/*
 * tar_writer.h - a POSIX ustar stream of a directory tree's regular files, for
 * `evstore backup --to-stdout` (tar_writer.c).
 */
#ifndef EVS_CLI_TAR_WRITER_H
#define EVS_CLI_TAR_WRITER_H

#include <stddef.h>

/* Write the directory `dir` (its regular files, and those of its subdirectories one
 * level down) to fd as a ustar archive whose members are named "<top>/...", then the
 * end-of-archive blocks. 0, or -1 with a one-line reason in why. */
int tar_write_dir(int fd, const char *dir, const char *top, char *why, size_t why_len);

#endif /* EVS_CLI_TAR_WRITER_H */
