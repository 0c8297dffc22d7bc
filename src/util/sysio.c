/*
 * sysio.c - the system call table for files and the few loops over it (full reads and
 * writes, durable syncs) that the file backend and the state files use.
 */
#define _GNU_SOURCE
#include "sysio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

static int sys_open(const char *path, int flags, mode_t mode)
{
    return open(path, flags | O_CLOEXEC, mode);
}

evs__sysio evs__sys = {
    .open = sys_open,
    .close = close,
    .pread = pread,
    .pwrite = pwrite,
    .fdatasync = fdatasync,
    .fsync = fsync,
    .ftruncate = ftruncate,
    .fstat = fstat,
    .lseek = lseek,
    .rename = rename,
    .unlink = unlink,
    .mkdir = mkdir,
    .mmap = mmap,
    .munmap = munmap,
    .madvise = madvise,
    .flock = flock,
};

int evs__pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = evs__sys.pwrite(fd, p, len, off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

int evs__pread_all(int fd, void *buf, size_t len, off_t off)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = evs__sys.pread(fd, p, len, off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            return 1;
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

int evs__datasync(int fd)
{
    /* A failed sync is never retried: after a failure the kernel may have dropped the
     * dirty pages, and a second call can succeed without the data being on disk. The
     * caller poisons the store instead. */
    int rc;
    do
        rc = evs__sys.fdatasync(fd);
    while (rc < 0 && errno == EINTR);
    return rc;
}

int evs__dirsync(const char *dir)
{
    int fd = evs__sys.open(dir, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return -1;
    int rc = evs__sys.fsync(fd);
    int saved = errno;
    evs__sys.close(fd);
    errno = saved;
    return rc;
}
