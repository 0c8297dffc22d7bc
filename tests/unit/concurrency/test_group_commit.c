/*
 * test_group_commit.c - concurrent durable appends share their fdatasync.
 *
 * The disk is made slow and predictable: the I/O shim makes each fdatasync sleep a few
 * milliseconds, as a real disk's flush does, and counts the calls. Eight threads then
 * append one event at a time in EVS_SYNC_ALWAYS mode. Each append must have been synced
 * before it returns (the count of syncs that had finished when it returned covers it),
 * and the appends must share the syncs: a leader that took only the requests queued at
 * the moment it started would carry about half of the threads per sync, since the
 * threads just released by the previous sync are still on their way back; a leader
 * that waits for them briefly carries nearly all eight. One thread alone must not wait
 * for anybody: one sync per append, at the speed of the disk.
 */
#include "sysio.h"
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define THREADS       8
#define APPENDS       60 /* per thread */
#define SYNC_SLEEP_MS 4

static evs__sysio real_sys;
static atomic_long syncs_started, syncs_done;

static int slow_fdatasync(int fd)
{
    atomic_fetch_add(&syncs_started, 1);
    tu_sleep_ms(SYNC_SLEEP_MS);
    int rc = real_sys.fdatasync(fd);
    atomic_fetch_add(&syncs_done, 1);
    return rc;
}

typedef struct appender {
    evs_store *s;
    int run; /* threads of the run: each run appends to streams of its own */
    int id;
    int rc;
    long unsynced; /* appends that returned before any sync covering them could end */
} appender;

static void *append_loop(void *arg)
{
    appender *a = arg;
    char stream[32], data[48];
    snprintf(stream, sizeof stream, "gc%d-%d", a->run, a->id);
    for (int i = 0; i < APPENDS && a->rc == 0; i++) {
        snprintf(data, sizeof data, "{\"t\":%d,\"i\":%d}", a->id, i);
        evs_event_in e = tu_event("Appended", data);
        long before = atomic_load(&syncs_started);
        a->rc = evs_append(NULL, a->s, stream, i - 1, &e, 1);
        /* A sync that started before this append began cannot have covered it. */
        if (atomic_load(&syncs_done) <= before)
            a->unsynced++;
    }
    return NULL;
}

/* Runs `threads` appenders; returns the fdatasync calls made by the appends. */
static long run(const char *dir, int threads)
{
    evs_options o = tu_fast_options();
    o.sync_mode = EVS_SYNC_ALWAYS;
    evs_store *s;
    assert_evs_ok(evs_open(&s, dir, &o));
    /* The segment's creation syncs too: appended first, outside the count. */
    int64_t head = tu_append1(s, "warm-up", "Opened", "{}");
    atomic_store(&syncs_started, 0);
    atomic_store(&syncs_done, 0);
    appender a[THREADS];
    pthread_t tid[THREADS];
    for (int i = 0; i < threads; i++) {
        a[i] = (appender){s, threads, i, 0, 0};
        assert_int_equal(pthread_create(&tid[i], NULL, append_loop, &a[i]), 0);
    }
    for (int i = 0; i < threads; i++)
        assert_int_equal(pthread_join(tid[i], NULL), 0);
    for (int i = 0; i < threads; i++) {
        if (a[i].rc != 0)
            fail_msg("thread %d: %s", i, evs_errname(a[i].rc));
        assert_int_equal(a[i].unsynced, 0);
    }
    long syncs = atomic_load(&syncs_started);
    assert_int_equal(evs_head(s), head + (int64_t)threads * APPENDS);
    assert_evs_ok(evs_close(s));
    return syncs;
}

static void test_threads_share_syncs(void **state)
{
    tu_fixture *f = *state;
    real_sys = evs__sys;
    evs__sys.fdatasync = slow_fdatasync;
    long one = run(f->dir, 1);
    long eight = run(f->dir, THREADS);
    evs__sys = real_sys;
    double per_sync = (double)(THREADS * APPENDS) / (double)eight;
    print_message("1 thread: %ld syncs for %d appends; %d threads: %ld syncs for %d appends "
                  "(%.1f appends per sync)\n",
                  one, APPENDS, THREADS, eight, THREADS * APPENDS, per_sync);
    assert_true(one >= APPENDS); /* nothing shared by a thread alone */
    /* Without gathering the figure is about 4; with it, close to 8 (6.4 to 7.5 under
     * ThreadSanitizer on a loaded 2-core machine). 5.5 leaves room for a slower one
     * whose threads miss a round now and then. */
    assert_true(per_sync >= 5.5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_threads_share_syncs, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
