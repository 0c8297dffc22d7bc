/*
 * test_shared_writers.c - several writers on one store at once.
 *
 * Covers: threads sharing one handle, each appending to its own stream with exact
 * expected versions and to one shared stream with optimistic retries on conflicts (no
 * event lost or doubled, versions contiguous, results matching what is read, also
 * after reopening); two handles on one store in one process seeing each other's
 * appends and versions across segment rolls; a handle's first append after another
 * handle filled several segments; two processes (fork, a handle each) appending at
 * once.
 */
#include "testutil.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/wait.h>

/* ---- per-test store: closed and removed by the teardown, even after a failure ---- */

/* ---- threads appending at once (they share commits) ------------------------------- */

#define THREADS       4
#define ROUNDS        150
#define SHARED_STREAM "shared-1"

typedef struct worker {
    evs_store *store;
    int id;
    evs_append_result own[ROUNDS]; /* results of the appends to its own stream */
    int conflicts;
    int rc; /* first unexpected error, 0 if none */
} worker;

/* Each round: two events to its own stream (the only writer there, so an exact expected
 * version always holds), then one to the shared stream with optimistic concurrency:
 * read the version, append expecting it, retry on a conflict. */
static void *work(void *arg)
{
    worker *w = arg;
    char own[32], data[64];
    snprintf(own, sizeof own, "own-%d", w->id);
    for (int r = 0; r < ROUNDS && !w->rc; r++) {
        snprintf(data, sizeof data, "{\"w\":%d,\"r\":%d}", w->id, r);
        evs_event_in two[2] = {tu_event("Own", data), tu_event("Own", data)};
        int rc = evs_append(&w->own[r], w->store, own, 2 * (int64_t)r - 1, two, 2);
        if (rc) {
            w->rc = rc;
            break;
        }
        for (;;) {
            evs_stream_info info;
            if ((rc = evs_stream_get(&info, w->store, SHARED_STREAM)) != 0)
                break;
            evs_event_in one = tu_event("Shared", data);
            rc = evs_append(NULL, w->store, SHARED_STREAM,
                            info.exists ? info.last_version : EVS_EXPECT_NO_STREAM, &one, 1);
            if (rc != EVS_ECONFLICT)
                break;
            w->conflicts++;
        }
        if (rc)
            w->rc = rc;
    }
    return NULL;
}

static void test_concurrent_appends(void **state)
{
    tu_fixture *f = *state;
    evs_options o = tu_fast_options();
    o.segment_size = 64u << 10; /* segments roll under the threads' feet */
    evs_store *store = tu_fx_open(f, &o);
    static worker w[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].store = store;
        w[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    int conflicts = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        if (w[i].rc)
            fail_msg("thread %d: %s", i, evs_errname(w[i].rc));
        conflicts += w[i].conflicts;
    }
    print_message("%d conflicts retried on the shared stream\n", conflicts);
    const int64_t total = THREADS * ROUNDS * 3;
    assert_int_equal(evs_head(store), total);

    /* Every position once; each own stream as its appends said; the shared stream
     * holds each (thread, round) exactly once, at contiguous versions. */
    for (int pass = 0; pass < 2; pass++) {
        static unsigned char shared_seen[THREADS][ROUNDS];
        memset(shared_seen, 0, sizeof shared_seen);
        int64_t own_next[THREADS] = {0};
        int64_t shared_version = 0;
        evs_cursor *c;
        assert_evs_ok(evs_cursor_open(&c, store, NULL));
        evs_event ev;
        int64_t pos = 0;
        int rc;
        while ((rc = evs_cursor_next(&ev, c)) > 0) {
            assert_int_equal(ev.pos, ++pos);
            int wi = -1, ri = -1;
            char text[64];
            assert_int_equal(sscanf(tu_data_str(&ev, text, sizeof text), "{\"w\":%d,\"r\":%d}",
                                    &wi, &ri),
                             2);
            assert_true(wi >= 0 && wi < THREADS && ri >= 0 && ri < ROUNDS);
            if (ev.stream_len == strlen(SHARED_STREAM) &&
                memcmp(ev.stream, SHARED_STREAM, ev.stream_len) == 0) {
                assert_int_equal(ev.version, shared_version++);
                if (shared_seen[wi][ri]++)
                    fail_msg("thread %d round %d is twice in the shared stream", wi, ri);
            } else {
                char own[32];
                snprintf(own, sizeof own, "own-%d", wi);
                assert_int_equal(ev.stream_len, strlen(own));
                assert_memory_equal(ev.stream, own, ev.stream_len);
                int64_t v = own_next[wi]++;
                assert_int_equal(ev.version, v);
                const evs_append_result *r = &w[wi].own[v / 2];
                assert_int_equal(r->first_pos + v % 2, ev.pos);
                assert_int_equal(r->version, v / 2 * 2 + 1);
                assert_int_equal(ri, v / 2);
            }
        }
        assert_evs(0, rc);
        evs_cursor_close(c);
        assert_int_equal(pos, total);
        assert_int_equal(shared_version, THREADS * ROUNDS);
        for (int i = 0; i < THREADS; i++)
            assert_int_equal(own_next[i], 2 * ROUNDS);
        assert_evs_ok(evs_verify(NULL, store, NULL, NULL));
        store = tu_fx_reopen(f);
    }
    tu_fx_close(f);
}

/* Two handles on the fixture's store, with 64 KiB segments: *first is the fixture's. */
static void open_two_handles(tu_fixture *f, evs_store **first, evs_store **second)
{
    evs_options o = tu_fast_options();
    o.segment_size = 64u << 10;
    *first = tu_fx_open(f, &o);
    *second = NULL;
    assert_evs_ok(evs_open(second, f->dir, &o));
}

/* A JSON string of ~900 bytes: seventy of them fill a 64 KiB segment. */
static const char *big_payload(void)
{
    static char pad[900];
    memset(pad, 'q', sizeof pad - 1);
    pad[0] = pad[sizeof pad - 2] = '"';
    pad[sizeof pad - 1] = '\0';
    return pad;
}

/* Two handles on one store (as two processes would have): each append sees what the
 * other appended, expected versions included, also across segment rolls. */
static void test_two_handles(void **state)
{
    tu_fixture *f = *state;
    evs_store *a, *b;
    open_two_handles(f, &a, &b);
    const char *pad = big_payload();
    int64_t version = -1;
    for (int i = 0; i < 400; i++) {
        evs_store *h = i % 3 ? a : b;
        evs_event_in e = tu_event("Ev", pad);
        evs_append_result r;
        int rc = evs_append(&r, h, "both-1", version < 0 ? EVS_EXPECT_NO_STREAM : version, &e, 1);
        if (rc != 0) {
            evs_close(b);
            fail_msg("append %d through handle %c: %s", i, h == a ? 'a' : 'b', evs_errmsg());
        }
        assert_int_equal(r.version, version + 1);
        assert_int_equal(r.first_pos, i + 1);
        version = r.version;
        /* The other handle's view. */
        evs_store *other = h == a ? b : a;
        assert_int_equal(evs_head(other), i + 1);
    }
    evs_event_in e = tu_event("Ev", "1");
    assert_evs(EVS_ECONFLICT, evs_append(NULL, b, "both-1", version - 1, &e, 1));
    evs_stream_info ia, ib;
    assert_evs_ok(evs_stream_get(&ia, a, "both-1"));
    assert_evs_ok(evs_stream_get(&ib, b, "both-1"));
    assert_memory_equal(&ia, &ib, sizeof ia);
    assert_int_equal(ia.last_version, 399);
    evs_query q = EVS_QUERY_INIT;
    q.stream = "both-1";
    assert_int_equal(tu_count(a, &q), 400);
    assert_int_equal(tu_count(b, &q), 400);
    assert_evs_ok(evs_verify(NULL, b, NULL, NULL));
    assert_evs_ok(evs_close(b));
    tu_fx_close(f);
}

/* A handle opened on an empty store appends for the first time after another handle
 * has filled several segments. Its writer starts in the other's newest segment; it
 * must still learn every stream from the first segment on. (It once listed only that
 * newest segment and caught up from there, missing the others' streams.) */
static void test_first_append_after_others_rolled(void **state)
{
    tu_fixture *f = *state;
    evs_store *late, *busy;
    open_two_handles(f, &late, &busy);
    const char *pad = big_payload();
    for (int i = 0; i < 300; i++) { /* ~5 segments */
        evs_event_in e = tu_event("Ev", pad);
        char stream[32];
        snprintf(stream, sizeof stream, "busy-%d", i % 7);
        assert_evs_ok(evs_append(NULL, busy, stream, EVS_EXPECT_ANY, &e, 1));
    }
    evs_stat_info st;
    assert_evs_ok(evs_stat(&st, busy));
    assert_true(st.segment_count >= 4 || !tu_backend_is("file")); /* segments: files only */
    evs_event_in e = tu_event("Ev", "1");
    evs_append_result r;
    int rc = evs_append(&r, late, "busy-0", 42, &e, 1);
    if (rc != 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", evs_errmsg());
        evs_close(busy);
        fail_msg("first append of the late handle: %s", msg);
    }
    assert_int_equal(r.first_pos, 301);
    assert_int_equal(r.version, 43);
    assert_evs_ok(evs_append(&r, late, "late-1", EVS_EXPECT_NO_STREAM, &e, 1));
    evs_stream_info info;
    assert_evs_ok(evs_stream_get(&info, busy, "busy-6"));
    assert_int_equal(info.last_version, 41);
    assert_evs_ok(evs_stream_get(&info, late, "busy-6"));
    assert_int_equal(info.last_version, 41);
    assert_evs_ok(evs_verify(NULL, late, NULL, NULL));
    assert_evs_ok(evs_close(busy));
    tu_fx_close(f);
}

/* Two processes appending to one store at once, each through its own handle. */
static void test_two_processes(void **state)
{
    tu_fixture *f = *state;
    evs_options o = tu_fast_options();
    o.segment_size = 64u << 10;
    evs_store *store = tu_fx_open(f, &o);
    tu_append1(store, "proc-0", "Ev", "0");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The child: a new handle (never the parent's), 300 appends, exit status 0 on
         * success. */
        evs_store *mine;
        if (evs_open(&mine, f->dir, &o) != 0)
            _exit(2);
        for (int i = 0; i < 300; i++) {
            evs_event_in e = tu_event("Child", "{\"who\":\"child\"}");
            if (evs_append(NULL, mine, "proc-child", i - 1, &e, 1) != 0)
                _exit(3);
        }
        _exit(evs_close(mine) == 0 ? 0 : 4);
    }
    int failures = 0;
    for (int i = 0; i < 300; i++) {
        evs_event_in e = tu_event("Parent", "{\"who\":\"parent\"}");
        failures += evs_append(NULL, store, "proc-parent", i - 1, &e, 1) != 0;
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(failures, 0);
    assert_int_equal(evs_head(store), 601);
    evs_query q = EVS_QUERY_INIT;
    q.stream = "proc-child";
    assert_int_equal(tu_count(store, &q), 300);
    evs_stream_info info;
    assert_evs_ok(evs_stream_get(&info, store, "proc-child"));
    assert_int_equal(info.last_version, 299);
    assert_evs_ok(evs_verify(NULL, store, NULL, NULL));
    store = tu_fx_reopen(f);
    assert_int_equal(evs_head(store), 601);
    assert_evs_ok(evs_verify(NULL, store, NULL, NULL));
    tu_fx_close(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrent_appends, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_two_handles, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_first_append_after_others_rolled, tu_setup,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(test_two_processes, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
