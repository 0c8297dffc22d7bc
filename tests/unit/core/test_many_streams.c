/*
 * test_many_streams.c - a process that opens a store and reads one stream costs the
 * same memory, and about the same time, whether the store has 10 streams or hundreds
 * of thousands (the stream index is used in place, never loaded: docs/DESIGN.md,
 * invariants 5 and 7).
 *
 * Builds a store of EVS_MANY_STREAMS streams (default 200,000; `make scale-test` runs
 * 1,000,000 in the release build) of one event each, and one of 10. Then, in fresh
 * processes (fork), opens each, reads one stream's info and its events, and closes it:
 * the peak resident memory of the big store's process must be within 8 MiB of the
 * small one's, and the median time within 3x + 2 ms. Never a fixed absolute figure:
 * the comparison holds on a slow machine and under sanitizers alike.
 */
#define _GNU_SOURCE
#include "two_stores_fixture.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TRIALS 7

/* Streams "s-<done>".. of one event each, in one atomic append. */
static int fill_batch(evs_store *s, int64_t done, size_t n)
{
    static evs_event_in in[TU_FILL_BATCH];
    static evs_batch_in b[TU_FILL_BATCH];
    static char names[TU_FILL_BATCH][32], data[TU_FILL_BATCH][32];
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "s-%" PRId64, done + (int64_t)i);
        snprintf(data[i], sizeof data[i], "{\"n\":%" PRId64 "}", done + (int64_t)i);
        in[i] = tu_event("Ev", data[i]);
        b[i] = (evs_batch_in){names[i], EVS_EXPECT_NO_STREAM, &in[i], 1};
    }
    return evs_append_multi(NULL, s, b, n);
}

static int group_setup(void **state)
{
    const char *env = getenv("EVS_MANY_STREAMS");
    int64_t streams = env && *env ? strtoll(env, NULL, 10) : 200000;
    return tu_two_stores_setup(state, "core-many", fill_batch, streams < 1000 ? 1000 : streams, 10,
                               "streams");
}

/* In this process: open, the info of stream s-777 (or s-7) and its one event, close.
 * 0 when all is as built. */
static int open_read_one(const char *dir, int64_t streams)
{
    evs_options o = tu_fast_options();
    o.flags = EVS_OPEN_NOCREATE;
    evs_store *s;
    if (evs_open(&s, dir, &o) != 0)
        return 1;
    int64_t k = streams > 777 ? 777 : 7;
    char name[32], want[32];
    snprintf(name, sizeof name, "s-%" PRId64, k);
    snprintf(want, sizeof want, "{\"n\":%" PRId64 "}", k);
    evs_stream_info info;
    int bad = evs_stream_get(&info, s, name) != 0 || !info.exists || info.last_version != 0 ||
              info.first_pos != k + 1;
    evs_query q = EVS_QUERY_INIT;
    q.stream = name;
    evs_cursor *c;
    evs_event ev;
    bad = bad || evs_cursor_open(&c, s, &q) != 0;
    if (!bad) {
        bad = evs_cursor_next(&ev, c) != 1 || ev.data_len != strlen(want) ||
              memcmp(ev.data, want, ev.data_len) != 0 || evs_cursor_next(&ev, c) != 0;
        evs_cursor_close(c);
    }
    return evs_close(s) != 0 || bad ? 2 : 0;
}

/* open_read_one in a fresh process: its time (ns, measured inside it) and its peak
 * resident memory (KiB). */
static void measure(const char *dir, int64_t streams, int64_t *ns, long *rss_kib)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        int64_t t0 = tu_mono_ns();
        int rc = open_read_one(dir, streams);
        int64_t t = tu_mono_ns() - t0;
        if (write(fds[1], &t, sizeof t) != (ssize_t)sizeof t)
            rc = 3;
        _exit(rc);
    }
    close(fds[1]);
    int st;
    struct rusage ru;
    assert_int_equal(wait4(pid, &st, 0, &ru), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(read(fds[0], ns, sizeof *ns), (ssize_t)sizeof *ns);
    close(fds[0]);
    *rss_kib = ru.ru_maxrss;
}

static void test_open_and_read_one_stream_flat(void **state)
{
    tu_two_stores *st = *state;
    int64_t tb[TRIALS], ts[TRIALS];
    long rb = 0, rs = 0;
    for (int i = 0; i < TRIALS; i++) {
        long r;
        measure(st->small, 10, &ts[i], &r);
        rs = r > rs ? r : rs;
        measure(st->big, st->big_n, &tb[i], &r);
        rb = r > rb ? r : rb;
    }
    int64_t mb = tu_median_i64(tb, TRIALS), ms = tu_median_i64(ts, TRIALS);
    print_message("open + read one stream: %" PRId64 " streams %.3f ms, %ld KiB peak; "
                  "10 streams %.3f ms, %ld KiB peak\n",
                  st->big_n, (double)mb / 1e6, rb, (double)ms / 1e6, rs);
    if (rb > rs + 8 * 1024)
        fail_msg("a process reading one stream of %" PRId64 " streams peaks at %ld KiB, of 10 "
                 "streams at %ld KiB: its memory grows with the streams",
                 st->big_n, rb, rs);
    if (mb >= 3 * ms + 2000000)
        fail_msg("open + read one stream of %" PRId64 " streams takes %.3f ms, of 10 streams "
                 "%.3f ms: it grows with the streams",
                 st->big_n, (double)mb / 1e6, (double)ms / 1e6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_and_read_one_stream_flat),
    };
    return cmocka_run_group_tests(tests, group_setup, tu_two_stores_teardown);
}
