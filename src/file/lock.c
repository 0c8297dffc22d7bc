/*
 * lock.c - the cross-process writer lock: flock() on the store's LOCK file, taken for
 * the duration of one commit. flock is released by the kernel when a process dies, so
 * a crashed writer never blocks the store; the next writer recovers the tail.
 */
#include "file_internal.h"
#include "sysio.h"

#include <errno.h>
#include <sys/file.h>
#include <time.h>

int evs__wlock_acquire(file_backend *fb, int wait_ms)
{
    /* flock has no timed wait, so a bounded wait polls with a backoff from 50 us to
     * 5 ms: the lock is held for one commit at a time, so waits are short. */
    int64_t deadline = wait_ms > 0 ? evs__monotonic_ns() + (int64_t)wait_ms * 1000000 : 0;
    long sleep_ns = 50000;
    for (;;) {
        int op = wait_ms < 0 ? LOCK_EX : LOCK_EX | LOCK_NB;
        if (evs__sys.flock(fb->lock_fd, op) == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK)
            return evs__seterr_errno(errno, "cannot lock '%s/LOCK'", fb->dir);
        if (wait_ms == 0 || evs__monotonic_ns() >= deadline)
            return evs__seterr(EVS_EBUSY,
                               "store '%s' is busy: another process holds the writer lock%s",
                               fb->dir, wait_ms ? " (waited too long)" : "");
        struct timespec ts = {0, sleep_ns};
        nanosleep(&ts, NULL);
        if (sleep_ns < 5000000)
            sleep_ns *= 2;
    }
}

void evs__wlock_release(file_backend *fb)
{
    evs__sys.flock(fb->lock_fd, LOCK_UN);
}
