/*
 * lock.c - the store's two cross-process locks. Both are flock()s, which the kernel
 * drops when a process dies, so a crashed process never blocks the store.
 *
 *   LOCK  the writer lock, held exclusively for the duration of one commit; the next
 *         writer recovers the tail a dead holder left.
 *   OPEN  the open lock, held shared by every handle (readers included) for its whole
 *         life. Repair takes it exclusively and without waiting: that is how it knows
 *         that no process has the store open, and why opens wait while it runs.
 */
#define _GNU_SOURCE
#include "lock.h"
#include "evstore.h"
#include "file_backend.h"
#include "format.h"
#include "path.h"
#include "sysio.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* Take flock `op` (LOCK_EX or LOCK_SH) on fd: wait_ms 0 tries once, -1 waits as long as
 * it takes, N waits up to N ms. Returns 0 when taken, 1 when another holder kept it, -1
 * with errno on failure. flock has no timed wait, so a bounded wait polls with a
 * backoff from 50 us to 5 ms (the writer lock is held for one commit at a time, so its
 * waits are short). */
static int flock_wait(int fd, int op, int wait_ms)
{
    int64_t deadline = wait_ms > 0 ? evs__monotonic_ns() + (int64_t)wait_ms * 1000000 : 0;
    long sleep_ns = 50000;
    for (;;) {
        if (evs__sys.flock(fd, wait_ms < 0 ? op : op | LOCK_NB) == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK)
            return -1;
        if (wait_ms == 0 || evs__monotonic_ns() >= deadline)
            return 1;
        struct timespec ts = {0, sleep_ns};
        nanosleep(&ts, NULL);
        if (sleep_ns < 5000000)
            sleep_ns *= 2;
    }
}

int evs__wlock_acquire(file_backend *fb, int wait_ms)
{
    int rc = flock_wait(fb->lock_fd, LOCK_EX, wait_ms);
    if (rc < 0)
        return evs__seterr_errno(errno, "cannot lock '%s/LOCK'", fb->dir);
    if (rc > 0)
        return evs__seterr(EVS_EBUSY, "store '%s' is busy: another process holds the writer lock%s",
                           fb->dir, wait_ms ? " (waited too long)" : "");
    return 0;
}

void evs__wlock_release(file_backend *fb)
{
    evs__sys.flock(fb->lock_fd, LOCK_UN);
}

/* Open (creating it when missing) the OPEN file. A read-only handle that may not create
 * or write it (a read-only filesystem, another user's store) opens it read-only, or
 * goes without when it is missing: a repair could not write there either. */
static int open_lock_file(file_backend *fb, int *fd_out)
{
    char path[STORE_PATH_MAX];
    int rc = evs__path(fb, OPEN_FILE, path, sizeof path);
    if (rc < 0)
        return rc;
    /* Close-on-exec: a program the caller starts must not keep the store "open". */
    int fd = evs__sys.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 && fb->readonly && (errno == EACCES || errno == EROFS || errno == EPERM)) {
        fd = evs__sys.open(path, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0 && (errno == ENOENT || errno == EACCES)) {
            *fd_out = -1;
            return 0;
        }
    }
    if (fd < 0)
        return evs__seterr_errno(errno, "cannot open '%s'", path);
    *fd_out = fd;
    return 0;
}

int evs__openlock_shared(file_backend *fb, int wait_ms)
{
    int rc = open_lock_file(fb, &fb->open_fd);
    if (rc < 0 || fb->open_fd < 0)
        return rc;
    rc = flock_wait(fb->open_fd, LOCK_SH, wait_ms);
    if (rc < 0)
        return evs__seterr_errno(errno, "cannot lock '%s/" OPEN_FILE "'", fb->dir);
    if (rc > 0)
        return evs__seterr(EVS_EBUSY,
                           "store '%s' is being repaired (evstore repair)%s; open it "
                           "again when that is done",
                           fb->dir, wait_ms ? " and the wait for it ran out" : "");
    return 0;
}

/* Add "pid N" to the list in buf, once per process. */
static void add_pid(char *buf, size_t len, long pid)
{
    char word[48];
    snprintf(word, sizeof word, pid == (long)getpid() ? "pid %ld (this process)" : "pid %ld", pid);
    char *dup = strstr(buf, word);
    size_t wlen = strlen(word);
    if (dup && (dup[wlen] == '\0' || dup[wlen] == ','))
        return;
    size_t used = strlen(buf);
    if (used + wlen + 3 < len)
        snprintf(buf + used, len - used, "%s%s", used ? ", " : "", word);
}

/* The processes holding a flock on the file open as fd, from /proc/locks (Linux): "pid
 * 12, pid 345" into buf, or "" when that cannot be told (no /proc, a pid namespace that
 * hides them). Best effort: it only makes the message more useful. */
static void lock_holders(int fd, char *buf, size_t len)
{
    buf[0] = '\0';
    struct stat st;
    FILE *f = evs__sys.fstat(fd, &st) == 0 ? fopen("/proc/locks", "re") : NULL;
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        /* "1: FLOCK  ADVISORY  READ 4678 fe:00:10954694 0 EOF"; "->" marks a waiter. */
        const char *p = strstr(line, "FLOCK");
        long pid;
        unsigned maj, min;
        unsigned long long ino;
        if (!p || strstr(line, "->") ||
            sscanf(p, "FLOCK %*s %*s %ld %x:%x:%llu", &pid, &maj, &min, &ino) != 4)
            continue;
        if (maj == major(st.st_dev) && min == minor(st.st_dev) &&
            ino == (unsigned long long)st.st_ino)
            add_pid(buf, len, pid);
    }
    fclose(f);
}

int evs__openlock_exclusive(file_backend *fb)
{
    int rc = open_lock_file(fb, &fb->open_fd);
    if (rc < 0)
        return rc;
    if (fb->open_fd < 0)
        return evs__seterr(EVS_EIO, "cannot create '%s/" OPEN_FILE "'", fb->dir);
    rc = flock_wait(fb->open_fd, LOCK_EX, 0);
    if (rc < 0)
        return evs__seterr_errno(errno, "cannot lock '%s/" OPEN_FILE "'", fb->dir);
    if (rc == 0)
        return 0;
    char pids[256];
    lock_holders(fb->open_fd, pids, sizeof pids);
    return evs__seterr(EVS_EBUSY,
                       "store '%s' is open (%s), busy: repair and retention need every handle "
                       "closed, readers included (stop 'evstore tail -f', 'subscribe' and any "
                       "program using the store), then run it again",
                       fb->dir, pids[0] ? pids : "by another handle");
}
