/*
 * head.c - the shared head page. Every process that opens a store maps the same 4 KiB
 * file; the writer publishes the committed head there under a seqlock after each
 * commit and bumps a futex word, so readers in any process learn of new events at
 * once, without polling the log. The page is a cache, never the truth: recovery
 * rebuilds it from the log, and a page from another boot or store is not trusted.
 */
#define _GNU_SOURCE
#include "head.h"
#include "evstore.h"
#include "file_backend.h"
#include "format.h"
#include "path.h"
#include "sysio.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define A32(fb, off) ((_Atomic uint32_t *)(void *)((fb)->head + (off)))
#define A64(fb, off) ((_Atomic uint64_t *)(void *)((fb)->head + (off)))

/* The kernel's boot id tells a head page written before a reboot (whose processes are
 * all gone and whose unsynced writes may be lost) from one of this boot. */
static void read_boot_id(unsigned char out[16])
{
    memset(out, 0, 16);
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
    if (!f)
        return;
    char text[64];
    if (fgets(text, sizeof text, f) && strlen(text) >= 36)
        (void)evs__uuid_parse(out, text, 36);
    fclose(f);
    evs__clearerr();
}

int evs__head_map(file_backend *fb, bool *fresh)
{
    char path[STORE_PATH_MAX];
    int rc = evs__path(fb, HEAD_FILE, path, sizeof path);
    if (rc < 0)
        return rc;
    unsigned char *boot = fb->boot_id;
    read_boot_id(boot);
    *fresh = true;

    int fd = evs__sys.open(path, fb->readonly ? O_RDONLY : O_RDWR | O_CREAT, 0644);
    if (fd < 0 && !(fb->readonly && errno == ENOENT))
        return evs__seterr_errno(errno, "cannot open '%s'", path);
    if (fd >= 0) {
        struct stat st;
        if (evs__sys.fstat(fd, &st) < 0) {
            rc = evs__seterr_errno(errno, "cannot stat '%s'", path);
            evs__sys.close(fd);
            return rc;
        }
        if (st.st_size < HEAD_LEN && !fb->readonly &&
            evs__sys.ftruncate(fd, HEAD_LEN) < 0) {
            rc = evs__seterr_errno(errno, "cannot size '%s'", path);
            evs__sys.close(fd);
            return rc;
        }
        if (st.st_size >= HEAD_LEN || !fb->readonly) {
            void *p = evs__sys.mmap(NULL, HEAD_LEN, PROT_READ | (fb->readonly ? 0 : PROT_WRITE),
                                    MAP_SHARED, fd, 0);
            evs__sys.close(fd);
            if (p == MAP_FAILED)
                return evs__seterr_errno(errno, "cannot map '%s'", path);
            fb->head = p;
            fb->head_shared = true;
        } else {
            evs__sys.close(fd);
        }
    }
    if (!fb->head) {
        /* Read-only and no usable head file: a private page, filled by a scan. */
        void *p = evs__sys.mmap(NULL, HEAD_LEN, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return evs__seterr_errno(errno, "cannot allocate the head page");
        fb->head = p;
        fb->head_shared = false;
        return 0;
    }
    fb->head_had_identity = memcmp(fb->head + HEAD_OFF_MAGIC, HEAD_MAGIC, 8) == 0 &&
                            memcmp(fb->head + HEAD_OFF_ID, fb->store_id, 16) == 0;
    if (fb->head_had_identity && memcmp(fb->head + HEAD_OFF_BOOT, boot, 16) == 0 &&
        (memcmp(boot, (const unsigned char[16]){0}, 16) != 0))
        *fresh = false;
    return 0;
}

void evs__head_stamp(file_backend *fb)
{
    /* Only after a recovery that succeeded: a stamped page tells the next open that the
     * log ends where the page says, so a failed recovery must leave it unstamped. */
    memcpy(fb->head + HEAD_OFF_MAGIC, HEAD_MAGIC, 8);
    memcpy(fb->head + HEAD_OFF_ID, fb->store_id, 16);
    memcpy(fb->head + HEAD_OFF_BOOT, fb->boot_id, 16);
}

void evs__head_unmap(file_backend *fb)
{
    if (fb->head)
        evs__sys.munmap(fb->head, HEAD_LEN);
    fb->head = NULL;
}

void evs__head_publish(file_backend *fb, const head_view *h)
{
    _Atomic uint32_t *seq = A32(fb, HEAD_OFF_SEQ);
    uint32_t s = atomic_load_explicit(seq, memory_order_relaxed);
    /* A writer that died between the two increments leaves an odd sequence; the next
     * publisher (holding the lock, so alone) starts from the even value above it. */
    s |= 1u;
    atomic_store_explicit(seq, s, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    /* The position goes last. A reader that gives up waiting for a dead writer's
     * sequence (evs__head_read) then sees either the old position, which every newer
     * end still covers, or the whole new view: never a position past the bytes the
     * end describes. */
    atomic_store_explicit(A64(fb, HEAD_OFF_SEG), h->seg, memory_order_relaxed);
    atomic_store_explicit(A64(fb, HEAD_OFF_END), h->end, memory_order_relaxed);
    atomic_store_explicit(A64(fb, HEAD_OFF_TS), (uint64_t)h->ts, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(A64(fb, HEAD_OFF_POS), h->pos, memory_order_relaxed);
    atomic_store_explicit(seq, s + 1, memory_order_release);

    /* Wake sleepers. The bump and the waiter count are seq_cst on both sides, so either
     * the waiter sees the new word value or we see its count (Dekker). */
    atomic_fetch_add(A32(fb, HEAD_OFF_FUTEX), 1);
    if (fb->head_shared && atomic_load(A32(fb, HEAD_OFF_WAITERS)) > 0)
        syscall(SYS_futex, (uint32_t *)(void *)(fb->head + HEAD_OFF_FUTEX), FUTEX_WAKE, INT_MAX,
                NULL, NULL, 0);
}

/* How long a reader waits for a publish under way before it takes the writer for dead.
 * A live writer holds the sequence odd for a few stores; this is far beyond that. */
#define HEAD_SPIN_LIMIT 100000u

void evs__head_read(const file_backend *fb, head_view *out)
{
    _Atomic uint32_t *seq = A32(fb, HEAD_OFF_SEQ);
    /* The handle's own memory (the page may be mapped read-only): a sequence this
     * handle already waited out is not waited for again by any of its readers. */
    _Atomic uint32_t *stuck = &((file_backend *)fb)->head_stuck_seq;
    for (unsigned spins = 0;; spins++) {
        uint32_t s1 = atomic_load_explicit(seq, memory_order_acquire);
        bool dead = (s1 & 1u) &&
                    (spins > HEAD_SPIN_LIMIT || s1 == atomic_load_explicit(stuck, memory_order_relaxed));
        if (!(s1 & 1u) || dead) {
            /* A dead writer's page is recovered by the next writer (evs__head_torn).
             * Meanwhile the fields below may mix the old view and the new one, but the
             * position is stored last: what it claims is within what the end covers,
             * which is all a reader relies on. */
            out->pos = atomic_load_explicit(A64(fb, HEAD_OFF_POS), memory_order_relaxed);
            out->seg = atomic_load_explicit(A64(fb, HEAD_OFF_SEG), memory_order_relaxed);
            out->end = atomic_load_explicit(A64(fb, HEAD_OFF_END), memory_order_relaxed);
            out->ts = (int64_t)atomic_load_explicit(A64(fb, HEAD_OFF_TS), memory_order_relaxed);
            atomic_thread_fence(memory_order_acquire);
            if (dead) {
                atomic_store_explicit(stuck, s1, memory_order_relaxed);
                return;
            }
            if (atomic_load_explicit(seq, memory_order_relaxed) == s1)
                return;
        }
        if (spins % 64 == 63)
            sched_yield();
    }
}

bool evs__head_torn(const file_backend *fb)
{
    return (atomic_load_explicit(A32(fb, HEAD_OFF_SEQ), memory_order_acquire) & 1u) != 0;
}

void evs__head_set_synced(file_backend *fb, uint64_t pos)
{
    /* Monotonic max: a syncer thread and a committing leader may race here. */
    _Atomic uint64_t *p = A64(fb, HEAD_OFF_SYNCED);
    uint64_t cur = atomic_load(p);
    while (cur < pos && !atomic_compare_exchange_weak(p, &cur, pos))
        ;
}

void evs__head_rewind_synced(file_backend *fb, uint64_t pos)
{
    atomic_store(A64(fb, HEAD_OFF_SYNCED), pos);
}

uint64_t evs__head_synced(const file_backend *fb)
{
    return atomic_load(A64(fb, HEAD_OFF_SYNCED));
}

void evs__head_set_snap(file_backend *fb, uint64_t covered)
{
    atomic_store(A64(fb, HEAD_OFF_SNAP), covered);
}

uint64_t evs__head_snap(const file_backend *fb)
{
    return atomic_load(A64(fb, HEAD_OFF_SNAP));
}

void evs__head_wake(file_backend *fb, bool closing)
{
    if (closing)
        atomic_store(&fb->closing, true);
    /* The bump makes a waiter about to sleep on the old value return at once; the
     * wake reaches those asleep (in other processes too: they look and sleep again).
     * A read-only handle maps the page read-only, and its waiters sleep in slices of
     * 5 ms (see evs__head_wait): they see the flags at the next slice. */
    if (!fb->head_shared || fb->readonly)
        return;
    /* Nobody waiting: leave the shared page alone. A waiter counts itself before it
     * looks at the flags, and the flags were set before this load (both seq_cst), so
     * either it sees them or we see it. */
    if (atomic_load(A32(fb, HEAD_OFF_WAITERS)) == 0)
        return;
    atomic_fetch_add(A32(fb, HEAD_OFF_FUTEX), 1);
    syscall(SYS_futex, (uint32_t *)(void *)(fb->head + HEAD_OFF_FUTEX), FUTEX_WAKE, INT_MAX, NULL,
            NULL, 0);
}

int evs__head_wait(file_backend *fb, uint64_t after_pos, int timeout_ms, uint64_t *head_out)
{
    int64_t deadline = timeout_ms >= 0 ? evs__monotonic_ns() + (int64_t)timeout_ms * 1000000 : 0;
    /* A read-only handle cannot announce itself as a waiter, so writers may not wake
     * it: it sleeps in slices of 5 ms instead. */
    bool can_count = fb->head_shared && !fb->readonly;
    _Atomic uint32_t *word = A32(fb, HEAD_OFF_FUTEX);
    for (;;) {
        if (can_count)
            atomic_fetch_add(A32(fb, HEAD_OFF_WAITERS), 1);
        uint32_t v = atomic_load(word);
        /* After reading the word: a wake that set the flag later also bumped it, so
         * the futex wait below returns at once. */
        bool closing = atomic_load(&fb->closing);
        if (closing || (evs__wait_interrupt && atomic_load(evs__wait_interrupt))) {
            if (can_count)
                atomic_fetch_sub(A32(fb, HEAD_OFF_WAITERS), 1);
            return closing ? evs__seterr(EVS_ECLOSED, "the store was closed during the wait")
                           : evs__seterr(EVS_ETIMEDOUT,
                                         "the wait after position %llu was interrupted",
                                         (unsigned long long)after_pos);
        }
        head_view h;
        evs__head_read(fb, &h);
        if (h.pos > after_pos) {
            if (can_count)
                atomic_fetch_sub(A32(fb, HEAD_OFF_WAITERS), 1);
            if (head_out)
                *head_out = h.pos;
            return 0;
        }
        int64_t left_ns = INT64_MAX;
        if (timeout_ms >= 0) {
            left_ns = deadline - evs__monotonic_ns();
            if (left_ns <= 0) {
                if (can_count)
                    atomic_fetch_sub(A32(fb, HEAD_OFF_WAITERS), 1);
                return evs__seterr(EVS_ETIMEDOUT, "no event after position %llu within %d ms",
                                   (unsigned long long)after_pos, timeout_ms);
            }
        }
        if (!can_count && left_ns > 5000000)
            left_ns = 5000000;
        struct timespec ts, *tsp = NULL;
        if (left_ns != INT64_MAX) {
            ts.tv_sec = left_ns / 1000000000;
            ts.tv_nsec = left_ns % 1000000000;
            tsp = &ts;
        }
        if (fb->head_shared)
            syscall(SYS_futex, (uint32_t *)(void *)word, FUTEX_WAIT, v, tsp, NULL, 0);
        else
            nanosleep(tsp, NULL);
        if (can_count)
            atomic_fetch_sub(A32(fb, HEAD_OFF_WAITERS), 1);
    }
}
