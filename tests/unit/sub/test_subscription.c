/*
 * test_subscription.c - pull subscriptions in one process.
 *
 * Covers: subscribing from the start, the end and a position, with type, category,
 * prefix and stream filters; the catch-up -> live switch while a writer thread appends
 * (exactly the expected sequence, no gap, no duplicate, 50 rounds, subscribers started
 * before, during and after the writes); a blocked subscriber woken by an append; the
 * timeout returning 0 promptly (and 0 = no wait); the position a filtered subscription
 * has scanned to; bad arguments; a closed store.
 */
#include "testutil.h"

#include <inttypes.h>
#include <pthread.h>
#include <time.h>

/* 1 a-1 A, 2 b-1 B, 3 a-2 A, 4 a-1 B, 5 b-2 A, 6 ab-1 A */
static void fill(evs_store *s)
{
    tu_append1(s, "a-1", "A", "1");
    tu_append1(s, "b-1", "B", "2");
    tu_append1(s, "a-2", "A", "3");
    tu_append1(s, "a-1", "B", "4");
    tu_append1(s, "b-2", "A", "5");
    tu_append1(s, "ab-1", "A", "6");
}

static void test_from_start_filters(void **state)
{
    tu_fixture *f = *state;
    fill(f->s);
    evs_subscription *sub;
    /* types */
    const char *types[] = {"A"};
    evs_query q = EVS_QUERY_INIT;
    q.types = types;
    q.type_count = 1;
    assert_evs_ok(evs_subscribe(&sub, f->s, &q, EVS_FROM_START));
    assert_int_equal(tu_next_pos(sub), 1);
    assert_int_equal(tu_next_pos(sub), 3);
    assert_int_equal(tu_next_pos(sub), 5);
    assert_int_equal(tu_next_pos(sub), 6);
    tu_expect_nothing(sub);
    assert_int_equal(evs_subscription_position(sub), 6);
    evs_subscription_close(sub);
    /* category: "a" is not "ab" */
    q = (evs_query)EVS_QUERY_INIT;
    q.category = "a";
    assert_evs_ok(evs_subscribe(&sub, f->s, &q, EVS_FROM_START));
    assert_int_equal(tu_next_pos(sub), 1);
    assert_int_equal(tu_next_pos(sub), 3);
    assert_int_equal(tu_next_pos(sub), 4);
    tu_expect_nothing(sub);
    tu_append1(f->s, "a-9", "C", "7");
    tu_append1(f->s, "b-9", "C", "8");
    assert_int_equal(tu_next_pos(sub), 7);
    tu_expect_nothing(sub);
    evs_subscription_close(sub);
    /* prefix */
    q = (evs_query)EVS_QUERY_INIT;
    q.prefix = "b-";
    assert_evs_ok(evs_subscribe(&sub, f->s, &q, EVS_FROM_START));
    assert_int_equal(tu_next_pos(sub), 2);
    assert_int_equal(tu_next_pos(sub), 5);
    assert_int_equal(tu_next_pos(sub), 8);
    tu_expect_nothing(sub);
    evs_subscription_close(sub);
    /* one stream, then live */
    q = (evs_query)EVS_QUERY_INIT;
    q.stream = "a-1";
    assert_evs_ok(evs_subscribe(&sub, f->s, &q, EVS_FROM_START));
    assert_int_equal(tu_next_pos(sub), 1);
    assert_int_equal(tu_next_pos(sub), 4);
    tu_expect_nothing(sub);
    tu_append1(f->s, "a-2", "A", "9");
    tu_append1(f->s, "a-1", "A", "10");
    assert_int_equal(tu_next_pos(sub), 10);
    tu_expect_nothing(sub);
    evs_subscription_close(sub);
}

static void test_from_end_and_position(void **state)
{
    tu_fixture *f = *state;
    fill(f->s);
    evs_subscription *end, *at4, *past, *stream_at;
    assert_evs_ok(evs_subscribe(&end, f->s, NULL, EVS_FROM_END));
    assert_evs_ok(evs_subscribe(&at4, f->s, NULL, 4));
    assert_evs_ok(evs_subscribe(&past, f->s, NULL, 9));
    evs_query q = EVS_QUERY_INIT;
    q.stream = "a-1";
    assert_evs_ok(evs_subscribe(&stream_at, f->s, &q, 2));
    tu_expect_nothing(end);
    assert_int_equal(evs_subscription_position(end), 6);
    assert_int_equal(tu_next_pos(at4), 4);
    assert_int_equal(tu_next_pos(at4), 5);
    assert_int_equal(tu_next_pos(at4), 6);
    tu_expect_nothing(at4);
    tu_expect_nothing(past);
    assert_int_equal(tu_next_pos(stream_at), 4);
    tu_expect_nothing(stream_at);
    for (int i = 7; i <= 10; i++)
        tu_append1(f->s, i % 2 ? "a-1" : "c-1", "X", "0");
    for (int i = 7; i <= 10; i++) {
        assert_int_equal(tu_next_pos(end), i);
        assert_int_equal(tu_next_pos(at4), i);
    }
    assert_int_equal(tu_next_pos(past), 9);
    assert_int_equal(tu_next_pos(past), 10);
    assert_int_equal(tu_next_pos(stream_at), 7);
    assert_int_equal(tu_next_pos(stream_at), 9);
    tu_expect_nothing(end);
    tu_expect_nothing(past);
    tu_expect_nothing(stream_at);
    evs_subscription_close(end);
    evs_subscription_close(at4);
    evs_subscription_close(past);
    evs_subscription_close(stream_at);
}

/* ---- catch-up then live under a writer thread ---------------------------------------- */

#define PRE  60  /* events stored before a round starts */
#define LIVE 240 /* events the writer thread appends during the round */

typedef struct writer_arg {
    evs_store *s;
    int first; /* sequence number of its first event */
    int count;
    unsigned seed;
} writer_arg;

/* Event i goes to "m-<i%3>" (matches category "m") when i % 4 != 3, else "x-1"; its
 * data is the number i. Batches of 1..5 events. */
static void append_range(evs_store *s, int first, int count, unsigned *seed)
{
    int i = first;
    while (i < first + count) {
        int n = 1 + (int)(rand_r(seed) % 5);
        if (i + n > first + count)
            n = first + count - i;
        /* one batch goes to one stream: split where the stream changes */
        char stream[16];
        snprintf(stream, sizeof stream, "%s", i % 4 != 3 ? "m-0" : "x-1");
        if (i % 4 != 3)
            stream[2] = (char)('0' + i % 3);
        int k = 1;
        while (k < n && ((i + k) % 4 != 3) == (i % 4 != 3) && (i + k) % 3 == i % 3)
            k++;
        char data[8][16];
        evs_event_in ev[8];
        for (int j = 0; j < k; j++) {
            snprintf(data[j], sizeof data[j], "%d", i + j);
            ev[j] = tu_event("T", data[j]);
        }
        assert_evs_ok(evs_append(NULL, s, stream, EVS_EXPECT_ANY, ev, (size_t)k));
        i += k;
    }
}

static void *writer_main(void *p)
{
    writer_arg *w = p;
    append_range(w->s, w->first, w->count, &w->seed);
    return NULL;
}

static int expected_matches(int upto)
{
    int n = 0;
    for (int i = 0; i < upto; i++)
        n += i % 4 != 3;
    return n;
}

static void one_round(tu_fixture *f, int round)
{
    unsigned seed = (unsigned)round * 7919u + 1;
    int base = round * (PRE + LIVE);
    int64_t start_head = evs_head(f->s);
    append_range(f->s, base, PRE, &seed);
    evs_query q = EVS_QUERY_INIT;
    q.category = "m";
    evs_subscription *sub = NULL;
    int phase = round % 3; /* 0: before the writer, 1: during, 2: after */
    if (phase == 0)
        assert_evs_ok(evs_subscribe(&sub, f->s, &q, start_head + 1));
    writer_arg w = {f->s, base + PRE, LIVE, seed};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
    if (phase == 1) {
        tu_sleep_ms(round % 4);
        assert_evs_ok(evs_subscribe(&sub, f->s, &q, start_head + 1));
    }
    if (phase == 2) {
        pthread_join(t, NULL);
        assert_evs_ok(evs_subscribe(&sub, f->s, &q, start_head + 1));
    }
    /* Exactly the numbers base.. that match, in order, each once. */
    int want = expected_matches(PRE + LIVE) - 0;
    int i = base;
    int64_t last_pos = start_head;
    for (int got = 0; got < want; got++) {
        while ((i - base) % 4 == 3)
            i++;
        evs_event ev;
        assert_evs(1, evs_subscription_next(&ev, sub, 5000));
        char text[16];
        snprintf(text, sizeof text, "%d", i);
        if (ev.data_len != strlen(text) || memcmp(ev.data, text, ev.data_len) != 0)
            print_error("round %d: got event '%.*s' at %" PRId64 ", want %s\n", round,
                        (int)ev.data_len, ev.data, ev.pos, text);
        assert_int_equal(ev.data_len, strlen(text));
        assert_memory_equal(ev.data, text, ev.data_len);
        assert_true(ev.pos > last_pos);
        last_pos = ev.pos;
        i++;
    }
    if (phase != 2)
        pthread_join(t, NULL);
    tu_expect_nothing(sub); /* no duplicate, nothing extra */
    evs_subscription_close(sub);
}

static void test_catch_up_then_live(void **state)
{
    tu_fixture *f = *state;
    for (int round = 0; round < 50; round++)
        one_round(f, round);
    assert_int_equal(evs_head(f->s), 50 * (PRE + LIVE));
}

/* ---- waiting ------------------------------------------------------------------------- */

static void *late_append(void *p)
{
    tu_sleep_ms(50);
    tu_append1(p, "late-1", "Late", "{}");
    return NULL;
}

static void test_wakes_on_append(void **state)
{
    tu_fixture *f = *state;
    tu_append1(f->s, "x-1", "Other", "{}");
    const char *types[] = {"Late"};
    evs_query q = EVS_QUERY_INIT;
    q.types = types;
    q.type_count = 1;
    evs_subscription *sub;
    assert_evs_ok(evs_subscribe(&sub, f->s, &q, EVS_FROM_START));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, late_append, f->s), 0);
    int64_t t0 = tu_mono_ms();
    evs_event ev;
    assert_evs(1, evs_subscription_next(&ev, sub, -1));
    int64_t took = tu_mono_ms() - t0;
    pthread_join(t, NULL);
    assert_int_equal(ev.pos, 2);
    assert_memory_equal(ev.type, "Late", 4);
    assert_true(took >= 40 && took < 2000);
    evs_subscription_close(sub);
}

static void test_timeout(void **state)
{
    tu_fixture *f = *state;
    tu_append1(f->s, "x-1", "T", "{}");
    evs_subscription *sub;
    assert_evs_ok(evs_subscribe(&sub, f->s, NULL, EVS_FROM_END));
    evs_event ev;
    int64_t t0 = tu_mono_ms();
    assert_evs(0, evs_subscription_next(&ev, sub, 0));
    assert_true(tu_mono_ms() - t0 < 50);
    t0 = tu_mono_ms();
    assert_evs(0, evs_subscription_next(&ev, sub, 60));
    int64_t took = tu_mono_ms() - t0;
    if (took < 59 || took > 500)
        print_error("a 60 ms wait took %" PRId64 " ms\n", took);
    assert_true(took >= 59 && took <= 500);
    assert_string_equal(evs_errmsg(), ""); /* a timeout is not an error */
    /* events that do not match do not end the wait early with a false 1 */
    const char *types[] = {"Never"};
    evs_query q = EVS_QUERY_INIT;
    q.types = types;
    q.type_count = 1;
    evs_subscription *none;
    assert_evs_ok(evs_subscribe(&none, f->s, &q, EVS_FROM_START));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, late_append, f->s), 0);
    t0 = tu_mono_ms();
    assert_evs(0, evs_subscription_next(&ev, none, 150));
    took = tu_mono_ms() - t0;
    pthread_join(t, NULL);
    assert_true(took >= 149 && took <= 1000);
    /* On a loaded machine the append may land after the wait: the next look sees it. */
    if (evs_subscription_position(none) != 2)
        assert_evs(0, evs_subscription_next(&ev, none, 0));
    assert_int_equal(evs_subscription_position(none), 2);
    evs_subscription_close(none);
    evs_subscription_close(sub);
}

static void test_bad_arguments(void **state)
{
    tu_fixture *f = *state;
    evs_subscription *sub = (evs_subscription *)1;
    evs_query q = EVS_QUERY_INIT;
    q.direction = EVS_BACKWARD;
    assert_evs(EVS_EINVAL, evs_subscribe(&sub, f->s, &q, EVS_FROM_START));
    assert_null(sub);
    assert_errmsg_has("EVS_FORWARD");
    q = (evs_query)EVS_QUERY_INIT;
    q.limit = 5;
    assert_evs(EVS_EINVAL, evs_subscribe(&sub, f->s, &q, EVS_FROM_START));
    assert_errmsg_has("limit");
    q = (evs_query)EVS_QUERY_INIT;
    q.stream = "";
    assert_evs(EVS_EINVAL, evs_subscribe(&sub, f->s, &q, EVS_FROM_START));
    assert_errmsg_has("evs_subscribe");
    assert_evs(EVS_EINVAL, evs_subscribe(&sub, f->s, NULL, -2));
    assert_errmsg_has("from_pos");
    assert_evs(EVS_EMISUSE, evs_subscribe(NULL, f->s, NULL, 0));
    assert_evs_ok(evs_subscribe(&sub, f->s, NULL, 0));
    evs_event ev;
    assert_evs(EVS_EINVAL, evs_subscription_next(&ev, sub, -7));
    assert_evs(EVS_EMISUSE, evs_subscription_next(NULL, sub, 0));
    evs_subscription_close(sub);
    evs_subscription_close(NULL);
}

static void test_store_closed(void **state)
{
    tu_fixture *f = *state;
    tu_append1(f->s, "x-1", "T", "{}");
    evs_subscription *sub;
    assert_evs_ok(evs_subscribe(&sub, f->s, NULL, EVS_FROM_START));
    assert_evs_ok(evs_close(f->s));
    f->s = NULL;
    evs_event ev;
    assert_evs(EVS_ECLOSED, evs_subscription_next(&ev, sub, 100));
    evs_subscription_close(sub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_from_start_filters, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_from_end_and_position, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_catch_up_then_live, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_wakes_on_append, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_timeout, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_store_closed, tu_setup_open, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
