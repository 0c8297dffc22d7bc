/*
 * test_live.c - live subscriptions (evs_subscribe_live): start at the head, keep no
 * checkpoint, skip ahead when too far behind.
 *
 * Covers: events stored before the subscription are never delivered; a subscriber that
 * keeps up gets every event and skips nothing; one that falls behind by more than
 * max_lag gets exactly the newest max_lag positions' matches, counts the rest as
 * skipped, and its position accounts for them; with a filter, lag is counted in store
 * positions and only matches among the newest are delivered; max_lag 1 keeps just the
 * newest; a skip while waiting (the head ran away during the wait); nothing is kept (no
 * consumer listed, a new live subscription starts at the head again); EVS_FROM_END
 * never skips; bad max_lag; the filter may be freed right after subscribing.
 */
#include "testutil.h"

#include <inttypes.h>
#include <pthread.h>

static void append_n(evs_store *s, const char *stream, const char *type, int n)
{
    for (int i = 0; i < n; i++)
        tu_append1(s, stream, type, "{}");
}

static void test_starts_at_head_and_keeps_up(void **state)
{
    tu_fixture *f = *state;
    append_n(f->s, "old-1", "T", 5);
    evs_subscription *sub;
    assert_evs_ok(evs_subscribe_live(&sub, f->s, NULL, 3));
    assert_int_equal(evs_subscription_position(sub), 5);
    tu_expect_nothing(sub);
    /* Keeping up: one or three behind is within max_lag 3. */
    for (int round = 0; round < 10; round++) {
        int n = 1 + round % 3;
        append_n(f->s, "new-1", "T", n);
        int64_t head = evs_head(f->s);
        for (int i = n; i >= 1; i--)
            assert_int_equal(tu_next_pos(sub), head - i + 1);
    }
    tu_expect_nothing(sub);
    assert_int_equal(evs_subscription_skipped(sub), 0);
    evs_subscription_close(sub);
}

static void test_skips_when_behind(void **state)
{
    tu_fixture *f = *state;
    append_n(f->s, "old-1", "T", 3);
    evs_subscription *sub;
    assert_evs_ok(evs_subscribe_live(&sub, f->s, NULL, 10));
    append_n(f->s, "x-1", "T", 100); /* positions 4..103 */
    /* 100 behind, 10 allowed: 4..93 are skipped, 94..103 delivered. */
    for (int64_t want = 94; want <= 103; want++)
        assert_int_equal(tu_next_pos(sub), want);
    tu_expect_nothing(sub);
    assert_int_equal(evs_subscription_skipped(sub), 90);
    assert_int_equal(evs_subscription_position(sub), 103);
    /* Falling behind again in the middle of a backlog: skips add up. */
    append_n(f->s, "x-1", "T", 15); /* 104..118 */
    assert_int_equal(tu_next_pos(sub), 109);
    append_n(f->s, "x-1", "T", 20); /* 119..138: 109 passed, 29 behind */
    assert_int_equal(tu_next_pos(sub), 129);
    assert_int_equal(evs_subscription_skipped(sub), 90 + 5 + 19);
    for (int64_t want = 130; want <= 138; want++)
        assert_int_equal(tu_next_pos(sub), want);
    tu_expect_nothing(sub);
    evs_subscription_close(sub);
}

static void test_filter_and_lag_in_positions(void **state)
{
    tu_fixture *f = *state;
    const char *types[] = {"Hot"};
    evs_query q = EVS_QUERY_INIT;
    q.types = types;
    q.type_count = 1;
    evs_subscription *sub;
    assert_evs_ok(evs_subscribe_live(&sub, f->s, &q, 4));
    /* 1..12, every third one Hot: 3, 6, 9, 12. The newest 4 positions are 9..12. */
    for (int i = 1; i <= 12; i++)
        tu_append1(f->s, "t-1", i % 3 == 0 ? "Hot" : "Cold", "{}");
    assert_int_equal(tu_next_pos(sub), 9);
    assert_int_equal(tu_next_pos(sub), 12);
    tu_expect_nothing(sub);
    assert_int_equal(evs_subscription_skipped(sub), 8);
    evs_subscription_close(sub);

    /* max_lag 1: only the newest, whatever the backlog. */
    assert_evs_ok(evs_subscribe_live(&sub, f->s, NULL, 1));
    append_n(f->s, "t-1", "Cold", 7);
    assert_int_equal(tu_next_pos(sub), evs_head(f->s));
    tu_expect_nothing(sub);
    evs_subscription_close(sub);
}

static void test_filter_copied(void **state)
{
    tu_fixture *f = *state;
    char *stream = strdup("keep-1");
    char *type = strdup("K");
    const char **types = malloc(sizeof *types);
    assert_non_null(stream);
    assert_non_null(type);
    assert_non_null(types);
    types[0] = type;
    evs_query q = EVS_QUERY_INIT;
    q.stream = stream;
    q.types = types;
    q.type_count = 1;
    evs_subscription *sub;
    assert_evs_ok(evs_subscribe_live(&sub, f->s, &q, 2));
    free(stream);
    free(type);
    free(types);
    /* Skipping reopens the cursor with the subscription's own copy of the filter. */
    for (int i = 0; i < 6; i++) {
        tu_append1(f->s, "keep-1", "K", "{}");
        tu_append1(f->s, "drop-1", "K", "{}");
    }
    assert_int_equal(tu_next_pos(sub), 11); /* the newest 2 positions are 11 and 12 */
    tu_expect_nothing(sub);
    evs_subscription_close(sub);
}

typedef struct burst {
    evs_store *s;
    int n;
} burst;

static void *burst_main(void *p)
{
    burst *b = p;
    tu_sleep_ms(30);
    /* One batch: the waiting subscriber wakes to a head far ahead of it. */
    evs_event_in ev[50];
    for (int i = 0; i < b->n; i++)
        ev[i] = tu_event("B", "{}");
    assert_evs_ok(evs_append(NULL, b->s, "burst-1", EVS_EXPECT_ANY, ev, (size_t)b->n));
    return NULL;
}

static void test_skip_after_wait(void **state)
{
    tu_fixture *f = *state;
    evs_subscription *sub;
    assert_evs_ok(evs_subscribe_live(&sub, f->s, NULL, 5));
    burst b = {f->s, 50};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, burst_main, &b), 0);
    evs_event ev;
    assert_evs(1, evs_subscription_next(&ev, sub, 5000));
    pthread_join(t, NULL);
    assert_int_equal(ev.pos, 46);
    assert_int_equal(evs_subscription_skipped(sub), 45);
    evs_subscription_close(sub);
}

static void test_nothing_kept_and_from_end_never_skips(void **state)
{
    tu_fixture *f = *state;
    evs_subscription *live, *end;
    assert_evs_ok(evs_subscribe_live(&live, f->s, NULL, 2));
    assert_evs_ok(evs_subscribe(&end, f->s, NULL, EVS_FROM_END));
    append_n(f->s, "a-1", "T", 8);
    assert_int_equal(tu_next_pos(live), 7);
    evs_subscription_close(live);
    for (int64_t want = 1; want <= 8; want++) /* reliable from where it started */
        assert_int_equal(tu_next_pos(end), want);
    assert_int_equal(evs_subscription_skipped(end), 0);
    evs_subscription_close(end);
    /* No consumer, no file: a live subscription leaves nothing behind. */
    evs_consumer_iter *it;
    evs_consumer_info info;
    assert_evs_ok(evs_consumers_open(&it, f->s));
    assert_int_equal(evs_consumers_next(&info, it), 0);
    evs_consumers_close(it);
    /* And the next one starts at the head again. */
    assert_evs_ok(evs_subscribe_live(&live, f->s, NULL, 2));
    tu_expect_nothing(live);
    tu_append1(f->s, "a-1", "T", "{}");
    assert_int_equal(tu_next_pos(live), 9);
    evs_subscription_close(live);
}

static void test_bad_arguments(void **state)
{
    tu_fixture *f = *state;
    evs_subscription *sub = (evs_subscription *)1;
    assert_evs(EVS_EINVAL, evs_subscribe_live(&sub, f->s, NULL, 0));
    assert_null(sub);
    assert_errmsg_has("max_lag");
    assert_evs(EVS_EINVAL, evs_subscribe_live(&sub, f->s, NULL, -5));
    evs_query q = EVS_QUERY_INIT;
    q.limit = 3;
    assert_evs(EVS_EINVAL, evs_subscribe_live(&sub, f->s, &q, 10));
    assert_errmsg_has("evs_subscribe_live");
    assert_evs(EVS_EMISUSE, evs_subscribe_live(NULL, f->s, NULL, 10));
    assert_evs(EVS_EMISUSE, evs_subscribe_live(&sub, NULL, NULL, 10));
    assert_int_equal(evs_subscription_skipped(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_starts_at_head_and_keeps_up, tu_setup_open,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(test_skips_when_behind, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_filter_and_lag_in_positions, tu_setup_open,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(test_filter_copied, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_skip_after_wait, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_nothing_kept_and_from_end_never_skips, tu_setup_open,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, tu_setup_open, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
