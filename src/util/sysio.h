/*
 * sysio.h - every system call evstore makes on files goes through this table: the
 * file backend's, and the read-model state files' (src/sub/state_file.c).
 *
 * Production pays one indirect call per syscall; in return a test can swap an entry
 * to fail the Nth fdatasync, return a short write or simulate a crash that drops
 * unsynced writes (SQLite's aSyscall[] idea). Entries have the libc signatures.
 */
#ifndef EVS_SYSIO_H
#define EVS_SYSIO_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

typedef struct evs__sysio {
    int (*open)(const char *path, int flags, mode_t mode);
    int (*close)(int fd);
    ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
    ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
    int (*fdatasync)(int fd);
    int (*fsync)(int fd);
    int (*ftruncate)(int fd, off_t len);
    int (*fstat)(int fd, struct stat *st);
    off_t (*lseek)(int fd, off_t off, int whence);
    int (*rename)(const char *from, const char *to);
    int (*unlink)(const char *path);
    int (*mkdir)(const char *path, mode_t mode);
    void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
    int (*munmap)(void *addr, size_t len);
    int (*madvise)(void *addr, size_t len, int advice);
    int (*flock)(int fd, int op);
} evs__sysio;

/* The table in use. Tests may replace entries (and must restore them). */
extern evs__sysio evs__sys;

/* Write all of buf at off, retrying short writes and EINTR. 0, or -1 with errno. */
int evs__pwrite_all(int fd, const void *buf, size_t len, off_t off);
/* Read exactly len bytes at off. 0; -1 with errno; or 1 when the file ends first. */
int evs__pread_all(int fd, void *buf, size_t len, off_t off);

/* Make a file's data durable. One place for the platform's durable-sync call: Linux's
 * fdatasync flushes data and the metadata needed to read it back (the size), which is
 * all an append-only log needs. */
int evs__datasync(int fd);
/* fsync a directory so that entries created or renamed in it survive a power loss. */
int evs__dirsync(const char *dir);

#endif /* EVS_SYSIO_H */
