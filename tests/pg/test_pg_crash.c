/*
 * test_pg_crash.c - crash trials through the PostgreSQL backend, on a server of the
 * test's own (fsync on, the default durability):
 *   - appending processes SIGKILLed at random: every append that was acknowledged is
 *     in the store, at the position and version it was told;
 *   - the server itself stopped with `pg_ctl stop -m immediate` (no shutdown
 *     checkpoint: the next start replays the WAL, as after a crash) in the middle of
 *     the load, then started again, three times: nothing acknowledged is lost, the
 *     appenders' handles reconnect by themselves, and evs_verify finds no gap.
 * Each appender writes a line per acknowledged append to a file of its own, after
 * evs_append returned: a line there is a promise the store must keep.
 */
#define _DEFAULT_SOURCE
#include "pgtest.h"
#include "testutil.h"

#include <inttypes.h>

#define APPENDERS 6

static pgt_server srv;
static char location[600];
static char ackdir[4096];

static void appender(int w)
{
    char path[4200], stream[32];
    snprintf(path, sizeof path, "%s/ack-%d", ackdir, w);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    evs_store *s = NULL;
    evs_options o = EVS_OPTIONS_INIT; /* sync always: an acknowledged commit is flushed */
    while (evs_open(&s, location, &o) < 0)
        tu_sleep_ms(50); /* the server may be down */
    snprintf(stream, sizeof stream, "crash-%d", w);
    for (;;) {
        evs_event_in ev[2] = {tu_event("Crash", "{\"a\":1}"), tu_event("Crash", "{\"b\":2}")};
        size_t count = 1 + (size_t)(rand() % 2);
        evs_append_result r;
        if (evs_append(&r, s, stream, EVS_EXPECT_ANY, ev, count) < 0) {
            tu_sleep_ms(20); /* the server is down or restarting: the handle reconnects */
            continue;
        }
        char line[128];
        int n = snprintf(line, sizeof line, "%s %" PRId64 " %" PRId64 " %zu\n", stream,
                         r.first_pos, r.version, count);
        if (write(fd, line, (size_t)n) != n)
            _exit(2);
    }
}

static pid_t spawn(int w)
{
    pid_t pid = fork();
    if (pid == 0) {
        srand((unsigned)getpid());
        appender(w);
        _exit(0);
    }
    return pid;
}

static void kill_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* Every acknowledged append is at its positions with its stream and versions. */
static int64_t check_acks(evs_store *s)
{
    int64_t head = evs_head(s), checked = 0;
    char (*streams)[32] = calloc((size_t)head + 1, 32);
    int64_t *versions = calloc((size_t)head + 1, sizeof *versions);
    assert_non_null(streams);
    assert_non_null(versions);
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, NULL));
    evs_event ev;
    int rc;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        assert_true(ev.pos >= 1 && ev.pos <= head);
        snprintf(streams[ev.pos], 32, "%.*s", (int)ev.stream_len, ev.stream);
        versions[ev.pos] = ev.version;
    }
    evs_cursor_close(c);
    assert_evs_ok(rc);
    for (int w = 0; w < APPENDERS; w++) {
        char path[4200], stream[32];
        snprintf(path, sizeof path, "%s/ack-%d", ackdir, w);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        int64_t first, version;
        size_t count;
        while (fscanf(f, "%31s %" SCNd64 " %" SCNd64 " %zu", stream, &first, &version, &count) ==
               4) {
            for (size_t i = 0; i < count; i++) {
                int64_t pos = first + (int64_t)i;
                int64_t want = version - (int64_t)(count - 1 - i);
                if (pos > head || strcmp(streams[pos], stream) != 0 || versions[pos] != want)
                    print_error("acknowledged %s version %" PRId64 " at %" PRId64
                                " is missing (head %" PRId64 ")\n",
                                stream, want, pos, head);
                assert_true(pos <= head && strcmp(streams[pos], stream) == 0 &&
                            versions[pos] == want);
                checked++;
            }
        }
        fclose(f);
    }
    free(streams);
    free(versions);
    return checked;
}

static void test_crash_trials(void **state)
{
    (void)state;
    tu_seed_rng();
    mkdir(tu_tmpbase(), 0755);
    snprintf(ackdir, sizeof ackdir, "%s/evs-pgcrash-XXXXXX", tu_tmpbase());
    assert_non_null(mkdtemp(ackdir));
    assert_int_equal(pgt_create(&srv, tu_tmpbase(), true), 0);
    snprintf(location, sizeof location, "%s?schema=crash", srv.uri);
    evs_store *s;
    assert_evs_ok(evs_open(&s, location, NULL));

    pid_t pids[APPENDERS];
    for (int w = 0; w < APPENDERS; w++)
        pids[w] = spawn(w);
    /* Appenders killed at random for 6 s. */
    long kills = 0;
    for (int64_t end = tu_mono_ms() + 6000; tu_mono_ms() < end; kills++) {
        tu_sleep_ms(50 + (int)tu_rnd_below(100));
        int w = (int)tu_rnd_below(APPENDERS);
        kill_reap(pids[w]);
        pids[w] = spawn(w);
    }
    /* The server crashed three times under the load. */
    int64_t before_crashes = evs_head(s);
    for (int round = 0; round < 3; round++) {
        tu_sleep_ms(1500 + (int)tu_rnd_below(1000));
        assert_int_equal(pgt_stop_immediate(&srv), 0);
        tu_sleep_ms(300);
        assert_int_equal(pgt_start(&srv, true), 0);
    }
    tu_sleep_ms(1500);
    for (int w = 0; w < APPENDERS; w++)
        kill_reap(pids[w]);
    int64_t head = evs_head(s); /* the handle reconnects by itself */
    assert_true(head > before_crashes);
    int64_t checked = check_acks(s);
    print_message("crash trials: %ld appenders killed, the server stopped -m immediate 3 "
                  "times; %" PRId64 " events, %" PRId64 " acknowledged ones all present, "
                  "%" PRId64 " appended after the first crash\n",
                  kills, head, checked, head - before_crashes);
    assert_true(checked > 0);
    assert_evs_ok(evs_verify(NULL, s, NULL, NULL));
    assert_evs_ok(evs_close(s));
    pgt_destroy(&srv);
    tu_rmtree(ackdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_trials),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (srv.dir[0])
        pgt_destroy(&srv); /* a failed assertion left it running */
    return rc;
}
