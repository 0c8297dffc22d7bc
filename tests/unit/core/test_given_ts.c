/*
 * test_given_ts.c - events appended with a time of their own (evs_event_in.ts_ns), as a
 * migration keeps its history's times.
 *
 * Covers: given times are stored as given and found by evs_find_time and by since/until
 * queries, also after reopening; 0 stamps the append time; an event stamped "now" after
 * a given time in the future gets that time (ts never decreases); a time below the last
 * stored one, or below the event before it in the same append, is refused with
 * EVS_EINVAL naming both times, and nothing of that append is written; a negative time
 * is refused.
 */
#include "testutil.h"

#include <time.h>

#define DAY_NS (86400LL * 1000000000LL)
#define T2020 (18262LL * DAY_NS) /* 2020-01-01T00:00:00Z */

static evs_event_in at(int64_t ts_ns)
{
    evs_event_in e = tu_event("Ev", "1");
    e.ts_ns = ts_ns;
    return e;
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* The ts of the event at pos. */
static int64_t ts_of(evs_store *s, int64_t pos)
{
    evs_query q = EVS_QUERY_INIT;
    q.from_pos = pos;
    q.to_pos = pos;
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    evs_event ev;
    assert_int_equal(evs_cursor_next(&ev, c), 1);
    int64_t ts = ev.ts_ns;
    evs_cursor_close(c);
    return ts;
}

static void test_given_times_are_kept(void **state)
{
    tu_fixture *f = *state;
    evs_event_in in[3] = {at(T2020), at(T2020 + DAY_NS), at(T2020 + 2 * DAY_NS)};
    assert_evs_ok(evs_append(NULL, f->s, "old", EVS_EXPECT_ANY, in, 2));
    assert_evs_ok(evs_append(NULL, f->s, "old", EVS_EXPECT_ANY, in + 2, 1));
    assert_int_equal(ts_of(f->s, 1), T2020);
    assert_int_equal(ts_of(f->s, 3), T2020 + 2 * DAY_NS);
    int64_t pos;
    assert_evs_ok(evs_find_time(&pos, f->s, T2020 + DAY_NS));
    assert_int_equal(pos, 2);
    /* 0 is now: after the history. */
    int64_t before = now_ns();
    evs_event_in now = tu_event("Ev", "2");
    assert_evs_ok(evs_append(NULL, f->s, "new", EVS_EXPECT_ANY, &now, 1));
    assert_true(ts_of(f->s, 4) >= before);
    tu_fx_close(f);
    tu_fx_open(f, NULL);
    assert_int_equal(ts_of(f->s, 2), T2020 + DAY_NS);
    evs_query q = EVS_QUERY_INIT;
    q.since_ns = T2020 + DAY_NS;
    q.until_ns = T2020 + 2 * DAY_NS + 1;
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, f->s, &q));
    evs_event ev;
    assert_int_equal(evs_cursor_next(&ev, c), 1);
    assert_int_equal(ev.pos, 2);
    assert_int_equal(evs_cursor_next(&ev, c), 1);
    assert_int_equal(ev.pos, 3);
    assert_int_equal(evs_cursor_next(&ev, c), 0);
    evs_cursor_close(c);
}

static void test_backwards_is_refused(void **state)
{
    tu_fixture *f = *state;
    evs_event_in first = at(T2020 + DAY_NS);
    assert_evs_ok(evs_append(NULL, f->s, "s", EVS_EXPECT_ANY, &first, 1));
    /* Below the store's last. */
    evs_event_in older = at(T2020);
    assert_int_equal(evs_append(NULL, f->s, "s", EVS_EXPECT_ANY, &older, 1), EVS_EINVAL);
    assert_non_null(strstr(evs_errmsg(), "ts 2020-01-01T00:00:00.000000000Z is before "
                                         "2020-01-02T00:00:00.000000000Z"));
    /* Below the event before it in the same append: nothing of it is written. */
    evs_event_in two[2] = {at(T2020 + 3 * DAY_NS), at(T2020 + 2 * DAY_NS)};
    assert_int_equal(evs_append(NULL, f->s, "s", EVS_EXPECT_ANY, two, 2), EVS_EINVAL);
    assert_non_null(strstr(evs_errmsg(), "event 1: ts 2020-01-03"));
    assert_int_equal(evs_head(f->s), 1);
    /* Equal times are fine. */
    evs_event_in same = at(T2020 + DAY_NS);
    assert_evs_ok(evs_append(NULL, f->s, "s", EVS_EXPECT_ANY, &same, 1));
    evs_event_in neg = at(-5);
    assert_int_equal(evs_append(NULL, f->s, "s", EVS_EXPECT_ANY, &neg, 1), EVS_EINVAL);
}

static void test_now_after_a_future_time(void **state)
{
    tu_fixture *f = *state;
    int64_t future = now_ns() + 3600LL * 1000000000LL;
    evs_event_in in[2] = {at(future), tu_event("Ev", "2")};
    assert_evs_ok(evs_append(NULL, f->s, "s", EVS_EXPECT_ANY, in, 2));
    assert_int_equal(ts_of(f->s, 1), future);
    assert_int_equal(ts_of(f->s, 2), future);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_given_times_are_kept, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_backwards_is_refused, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_now_after_a_future_time, tu_setup_open, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
