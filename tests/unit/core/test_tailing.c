/*
 * test_tailing.c - cursors that follow a store while it grows, and waiting for it.
 *
 * Covers: forward cursors (all events, filtered, opened past the head, one stream)
 * that reach events appended after they were opened, across segment rolls, with a
 * limit; backward cursors that start at the head as it was when they were opened; a
 * writer thread appending while this thread tails with evs_wait; evs_wait returning
 * at once when the head is already past, timing out with EVS_ETIMEDOUT, waking when
 * another thread appends (also on a read-only handle), and waiting for the head to
 * pass after_pos, not just to move.
 */
#include "testutil.h"

#include <inttypes.h>
#include <pthread.h>
#include <time.h>

/* ---- tailing ------------------------------------------------------------------------ */

static int64_t next_pos(evs_cursor *c)
{
    evs_event ev;
    int rc = evs_cursor_next(&ev, c);
    if (rc < 0)
        fail_msg("evs_cursor_next: %s", evs_errmsg());
    return rc == 0 ? 0 : ev.pos;
}

static void test_tailing(void **state)
{
    tu_fixture *f = *state;
    evs_options o = tu_fast_options();
    o.segment_size = 64u << 10;
    evs_store *s = tu_fx_open(f, &o);

    /* Opened on an empty store. */
    evs_cursor *all;
    assert_evs_ok(evs_cursor_open(&all, s, NULL));
    assert_int_equal(next_pos(all), 0);
    for (int i = 0; i < 5; i++)
        tu_append1(s, "tail-1", "A", "1");
    for (int64_t p = 1; p <= 5; p++)
        assert_int_equal(next_pos(all), p);
    assert_int_equal(next_pos(all), 0);
    assert_int_equal(next_pos(all), 0); /* stays at the end */

    /* A filtered cursor, and one opened past the head (from_pos 10, head 5). */
    const char *b_only[] = {"B"};
    evs_query fq = EVS_QUERY_INIT;
    fq.types = b_only;
    fq.type_count = 1;
    evs_cursor *onlyb;
    assert_evs_ok(evs_cursor_open(&onlyb, s, &fq));
    assert_int_equal(next_pos(onlyb), 0);
    evs_query ahead = EVS_QUERY_INIT;
    ahead.from_pos = 10;
    evs_cursor *late;
    assert_evs_ok(evs_cursor_open(&late, s, &ahead));
    assert_int_equal(next_pos(late), 0);
    evs_query sq = EVS_QUERY_INIT;
    sq.stream = "tail-2";
    evs_cursor *one;
    assert_evs_ok(evs_cursor_open(&one, s, &sq));
    assert_int_equal(next_pos(one), 0);

    for (int i = 6; i <= 12; i++)
        tu_append1(s, i % 2 ? "tail-1" : "tail-2", i % 3 ? "A" : "B", "2");
    for (int64_t p = 6; p <= 12; p++)
        assert_int_equal(next_pos(all), p);
    assert_int_equal(next_pos(all), 0);
    assert_int_equal(next_pos(onlyb), 6);
    assert_int_equal(next_pos(onlyb), 9);
    assert_int_equal(next_pos(onlyb), 12);
    assert_int_equal(next_pos(onlyb), 0);
    assert_int_equal(next_pos(late), 10);
    assert_int_equal(next_pos(late), 11);
    assert_int_equal(next_pos(late), 12);
    assert_int_equal(next_pos(late), 0);
    assert_int_equal(next_pos(one), 6);
    assert_int_equal(next_pos(one), 8);
    assert_int_equal(next_pos(one), 10);
    assert_int_equal(next_pos(one), 12);
    assert_int_equal(next_pos(one), 0);

    /* Across segment rolls: 64 KiB segments, ~1 KiB events, several segments later. */
    char big[1100];
    memset(big, 'x', sizeof big);
    big[0] = '"';
    big[sizeof big - 2] = '"';
    big[sizeof big - 1] = '\0';
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 150; i++)
            tu_append1(s, "tail-2", "B", big);
        int64_t head = evs_head(s);
        for (int64_t p = head - 149; p <= head; p++) {
            assert_int_equal(next_pos(all), p);
            assert_int_equal(next_pos(onlyb), p);
            assert_int_equal(next_pos(one), p);
        }
        assert_int_equal(next_pos(all), 0);
        assert_int_equal(next_pos(onlyb), 0);
        assert_int_equal(next_pos(one), 0);
    }
    evs_stat_info si;
    assert_evs_ok(evs_stat(&si, s));
    assert_true(si.segment_count >= 5 || !tu_backend_is("file")); /* segments: files only */

    /* Backward cursors start at the head as it was when they were opened. */
    int64_t at_open = evs_head(s);
    evs_query bq = EVS_QUERY_INIT;
    bq.direction = EVS_BACKWARD;
    evs_cursor *back;
    assert_evs_ok(evs_cursor_open(&back, s, &bq));
    bq.stream = "tail-2";
    evs_cursor *sback;
    assert_evs_ok(evs_cursor_open(&sback, s, &bq));
    tu_append1(s, "tail-2", "B", "4");
    assert_int_equal(next_pos(back), at_open);
    assert_int_equal(next_pos(back), at_open - 1);
    assert_int_equal(next_pos(sback), at_open);
    evs_cursor_close(back);
    evs_cursor_close(sback);
    assert_int_equal(next_pos(all), at_open + 1);
    assert_int_equal(next_pos(onlyb), at_open + 1);
    assert_int_equal(next_pos(one), at_open + 1);

    /* A limit counts every event handed out, before and after the wait. */
    evs_query lq = EVS_QUERY_INIT;
    lq.from_pos = evs_head(s);
    lq.limit = 3;
    evs_cursor *lim;
    assert_evs_ok(evs_cursor_open(&lim, s, &lq));
    assert_int_equal(next_pos(lim), evs_head(s));
    assert_int_equal(next_pos(lim), 0);
    int64_t h = evs_head(s);
    for (int i = 0; i < 4; i++)
        tu_append1(s, "tail-3", "A", "3");
    assert_int_equal(next_pos(lim), h + 1);
    assert_int_equal(next_pos(lim), h + 2);
    assert_int_equal(next_pos(lim), 0);
    evs_cursor_close(lim);

    evs_cursor_close(all);
    evs_cursor_close(onlyb);
    evs_cursor_close(late);
    evs_cursor_close(one);
    tu_fx_close(f);
}

typedef struct appender {
    evs_store *store;
    int delay_ms;
    int rc;
} appender;

static void *append_later(void *arg)
{
    appender *a = arg;
    tu_sleep_ms(a->delay_ms);
    evs_event_in e = tu_event("Ev", "{\"late\":true}");
    a->rc = evs_append(NULL, a->store, "wait-1", EVS_EXPECT_ANY, &e, 1);
    return NULL;
}

static void test_wait(void **state)
{
    tu_fixture *f = *state;
    evs_store *s = tu_fx_open(f, NULL);
    int64_t head = -1;

    /* Empty store: nothing after 0. */
    int64_t t0 = tu_mono_ms();
    assert_evs(EVS_ETIMEDOUT, evs_wait(&head, s, 0, 0));
    assert_true(tu_mono_ms() - t0 < 1000);

    for (int i = 0; i < 3; i++)
        tu_append1(s, "wait-1", "Ev", "1");
    /* Already past: returns at once. */
    t0 = tu_mono_ms();
    assert_evs_ok(evs_wait(&head, s, 2, 5000));
    assert_int_equal(head, 3);
    assert_evs_ok(evs_wait(&head, s, 0, -1));
    assert_int_equal(head, 3);
    assert_evs_ok(evs_wait(NULL, s, 2, 0));
    assert_true(tu_mono_ms() - t0 < 1000);

    /* Nothing comes: times out after about the timeout. */
    t0 = tu_mono_ms();
    assert_evs(EVS_ETIMEDOUT, evs_wait(&head, s, 3, 120));
    int64_t waited = tu_mono_ms() - t0;
    assert_true(waited >= 100);
    assert_true(waited < 5000);
    t0 = tu_mono_ms();
    assert_evs(EVS_ETIMEDOUT, evs_wait(&head, s, 3, 0));
    assert_true(tu_mono_ms() - t0 < 1000);

    /* Another thread appends: the wait wakes with the new head. */
    for (int round = 0; round < 3; round++) {
        int64_t before = evs_head(s);
        appender a = {s, 60, 1};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, append_later, &a), 0);
        t0 = tu_mono_ms();
        int rc = round == 2 ? evs_wait(&head, s, before, -1) : evs_wait(&head, s, before, 20000);
        waited = tu_mono_ms() - t0;
        pthread_join(th, NULL);
        assert_evs_ok(rc);
        assert_int_equal(a.rc, 0);
        assert_int_equal(head, before + 1);
        assert_true(waited < 10000);
    }

    /* The head must pass after_pos: one event more is not enough when after_pos is
     * further on. */
    int64_t h0 = evs_head(s);
    appender a = {s, 10, 1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, append_later, &a), 0);
    assert_evs(EVS_ETIMEDOUT, evs_wait(&head, s, h0 + 1, 300));
    pthread_join(th, NULL);
    assert_int_equal(a.rc, 0);
    assert_int_equal(evs_head(s), h0 + 1);

    /* A read-only handle beside the writer wakes too. */
    evs_options ro = tu_fast_options();
    ro.flags = EVS_OPEN_READONLY;
    evs_store *r = NULL;
    assert_evs_ok(evs_open(&r, f->dir, &ro));
    int64_t before = evs_head(r);
    assert_int_equal(before, evs_head(s));
    a.rc = 1;
    assert_int_equal(pthread_create(&th, NULL, append_later, &a), 0);
    t0 = tu_mono_ms();
    int rc = evs_wait(&head, r, before, 20000);
    waited = tu_mono_ms() - t0;
    pthread_join(th, NULL);
    int64_t rhead = evs_head(r);
    evs_close(r);
    assert_evs_ok(rc);
    assert_int_equal(a.rc, 0);
    assert_int_equal(head, before + 1);
    assert_int_equal(rhead, before + 1);
    assert_true(waited < 10000);
    tu_fx_close(f);
}

/* A writer thread appends across many segment rolls while this thread tails: with
 * evs_wait between steps, the cursors see every event once, in order, whole. */
typedef struct tail_writer {
    evs_store *store;
    int events;
    int rc;
} tail_writer;

static void *tail_write(void *arg)
{
    tail_writer *w = arg;
    static char data[20][700];
    evs_event_in in[20];
    uint64_t x = 12345;
    for (int done = 0; done < w->events && !w->rc;) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int n = 1 + (int)((x >> 33) % 20);
        if (done + n > w->events)
            n = w->events - done;
        for (int i = 0; i < n; i++) {
            unsigned k = (unsigned)(done + i);
            int len = snprintf(data[i], sizeof data[i], "{\"k\":%u,\"pad\":\"", k);
            size_t at = len > 0 && len < 64 ? (size_t)len : 0, pad = k % 600u;
            memset(data[i] + at, (int)('a' + k % 26u), pad);
            memcpy(data[i] + at + pad, "\"}", 3);
            in[i] = tu_event(k % 5u ? "Common" : "Rare", data[i]);
        }
        w->rc =
            evs_append(NULL, w->store, done % 2 ? "tw-1" : "tw-2", EVS_EXPECT_ANY, in, (size_t)n);
        done += n;
    }
    return NULL;
}

static void test_tail_concurrent(void **state)
{
    tu_fixture *f = *state;
    evs_options o = tu_fast_options();
    o.segment_size = 64u << 10;
    evs_store *s = tu_fx_open(f, &o);
    tail_writer w = {s, 4000, 0};
    evs_cursor *all, *rare;
    assert_evs_ok(evs_cursor_open(&all, s, NULL));
    const char *rare_only[] = {"Rare"};
    evs_query rq = EVS_QUERY_INIT;
    rq.types = rare_only;
    rq.type_count = 1;
    assert_evs_ok(evs_cursor_open(&rare, s, &rq));
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, tail_write, &w), 0);
    int got = 0, got_rare = 0, waits = 0;
    int64_t t0 = tu_mono_ms();
    while (got < w.events && tu_mono_ms() - t0 < 60000) {
        evs_event ev;
        int rc = evs_cursor_next(&ev, all);
        if (rc == 0) {
            int64_t head;
            rc = evs_wait(&head, s, got, 1000);
            assert_true(rc == 0 || rc == EVS_ETIMEDOUT);
            waits++;
            continue;
        }
        assert_evs(1, rc);
        assert_int_equal(ev.pos, got + 1);
        int k = -1;
        char text[64];
        assert_int_equal(sscanf(tu_data_str(&ev, text, sizeof text), "{\"k\":%d", &k), 1);
        assert_int_equal(k, got);
        int len = snprintf(NULL, 0, "{\"k\":%d,\"pad\":\"", k);
        assert_int_equal(ev.data_len, (size_t)(len + k % 600 + 2));
        for (int i = 0; i < k % 600; i++)
            assert_int_equal(ev.data[len + i], 'a' + k % 26);
        got++;
        /* The filtered cursor follows behind. */
        while ((rc = evs_cursor_next(&ev, rare)) > 0) {
            assert_int_equal(sscanf(tu_data_str(&ev, text, sizeof text), "{\"k\":%d", &k), 1);
            assert_int_equal(k, got_rare * 5);
            got_rare++;
        }
        assert_evs(0, rc);
    }
    pthread_join(th, NULL);
    assert_int_equal(w.rc, 0);
    assert_int_equal(got, w.events);
    evs_event ev;
    assert_int_equal(evs_cursor_next(&ev, all), 0);
    assert_int_equal(got_rare, w.events / 5);
    print_message("read %d events while they were written, %d waits\n", got, waits);
    evs_stat_info si;
    assert_evs_ok(evs_stat(&si, s));
    assert_true(si.segment_count > 10 || !tu_backend_is("file")); /* segments: files only */
    evs_cursor_close(all);
    evs_cursor_close(rare);
    tu_fx_close(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tailing, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_tail_concurrent, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_wait, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
