/*
 * inject.h - a fault injector over the syscall table (src/util/sysio.h), shared by the
 * I/O fault tests: it fails the Nth call of one entry with a given errno, or makes the
 * Nth pwrite short and the write after it fail (a disk filling up mid-write), and for
 * test_io_faults' double faults can fail the ftruncate that undoes a failed append.
 * inj_install swaps the table's entries, inj_arm sets the fault, inj_remove restores the
 * table. Everything is static: each test executable stays self-contained.
 */
#ifndef EVS_INJECT_H
#define EVS_INJECT_H

#include "sysio.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

enum fault_op {
    OP_PWRITE,
    OP_FDATASYNC,
    OP_FSYNC,
    OP_FTRUNCATE,
    OP_RENAME,
    OP_OPEN,
    OP_MMAP,
    OP_PREAD
};

static const char *const op_names[] = {"pwrite", "fdatasync", "fsync", "ftruncate",
                                       "rename", "open",      "mmap",  "pread"};

typedef struct injector {
    bool armed;
    enum fault_op op;
    long nth;         /* fail the nth call of op (1-based) */
    int err;          /* errno to fail with */
    bool short_write; /* OP_PWRITE: the nth call writes half, the next one fails */
    bool undo_fails;  /* every ftruncate after the fault fails too (double fault) */
    long calls;       /* calls of op so far */
    bool fired;       /* the fault happened */
    bool fail_next;   /* short write: the following pwrite fails */
    bool in_append;   /* inside evs_append: undo_fails only hits the writer's undo */
    bool undo_done;   /* undo_fails: the one ftruncate after the fault has failed */
} injector;

static injector inj;
static evs__sysio real_sys;

/* Should this call of `op` fail? Counts the call. */
static bool hit(enum fault_op op)
{
    if (!inj.armed || inj.op != op)
        return false;
    if (++inj.calls != inj.nth)
        return false;
    inj.fired = true;
    return true;
}

static ssize_t w_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    if (inj.fail_next) {
        inj.fail_next = false;
        errno = inj.err;
        return -1;
    }
    if (hit(OP_PWRITE)) {
        if (inj.short_write && len > 1) {
            inj.fail_next = true;
            return real_sys.pwrite(fd, buf, len / 2, off);
        }
        errno = inj.err;
        return -1;
    }
    return real_sys.pwrite(fd, buf, len, off);
}

static int w_fdatasync(int fd)
{
    if (hit(OP_FDATASYNC)) {
        errno = inj.err;
        return -1;
    }
    return real_sys.fdatasync(fd);
}

static int w_fsync(int fd)
{
    if (hit(OP_FSYNC)) {
        errno = inj.err;
        return -1;
    }
    return real_sys.fsync(fd);
}

static int w_ftruncate(int fd, off_t len)
{
    bool undo = inj.undo_fails && inj.fired && inj.in_append && !inj.undo_done;
    if (undo)
        inj.undo_done = true;
    if (hit(OP_FTRUNCATE) || undo) {
        errno = inj.err;
        return -1;
    }
    return real_sys.ftruncate(fd, len);
}

static int w_rename(const char *from, const char *to)
{
    if (hit(OP_RENAME)) {
        errno = inj.err;
        return -1;
    }
    return real_sys.rename(from, to);
}

static int w_open(const char *path, int flags, mode_t mode)
{
    if (hit(OP_OPEN)) {
        errno = inj.err;
        return -1;
    }
    return real_sys.open(path, flags, mode);
}

static void *w_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (hit(OP_MMAP)) {
        errno = inj.err == ENOSPC ? ENOMEM : inj.err;
        return MAP_FAILED;
    }
    return real_sys.mmap(addr, len, prot, flags, fd, off);
}

static ssize_t w_pread(int fd, void *buf, size_t len, off_t off)
{
    if (hit(OP_PREAD)) {
        errno = inj.err;
        return -1;
    }
    return real_sys.pread(fd, buf, len, off);
}

static void inj_install(void)
{
    real_sys = evs__sys;
    evs__sys.pwrite = w_pwrite;
    evs__sys.fdatasync = w_fdatasync;
    evs__sys.fsync = w_fsync;
    evs__sys.ftruncate = w_ftruncate;
    evs__sys.rename = w_rename;
    evs__sys.open = w_open;
    evs__sys.mmap = w_mmap;
    evs__sys.pread = w_pread;
}

static void inj_remove(void)
{
    evs__sys = real_sys;
}

static void inj_arm(enum fault_op op, long nth, int err, bool short_write, bool undo_fails)
{
    memset(&inj, 0, sizeof inj);
    inj.armed = true;
    inj.op = op;
    inj.nth = nth;
    inj.err = err;
    inj.short_write = short_write;
    inj.undo_fails = undo_fails;
}

#endif
