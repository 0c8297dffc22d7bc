/*
 * test_open_time.c - opening a store costs the same whatever its size (docs/DESIGN.md,
 * invariant 5; evs_open in evstore.h).
 *
 * Builds a store of 1,000,000 events (batches of 1000, no sync) and one of 10, then
 * times open+close cycles of each, interleaved, after a first warm open, and compares
 * the medians: median(big) < 3 * median(small) + 1 ms. Never a fixed absolute time:
 * the ratio holds on a slow machine and under sanitizers alike.
 */
#include "two_stores_fixture.h"

#define BIG_EVENTS 1000000
#define CYCLES     21

/* Events {"n":<done>}.. appended to one stream, s-<batch number mod 1000>. */
static int fill_batch(evs_store *s, int64_t done, size_t n)
{
    static evs_event_in in[TU_FILL_BATCH];
    static char data[TU_FILL_BATCH][24];
    for (size_t i = 0; i < n; i++) {
        snprintf(data[i], sizeof data[i], "{\"n\":%" PRId64 "}", done + (int64_t)i);
        in[i] = tu_event("Ev", data[i]);
    }
    char stream[32];
    snprintf(stream, sizeof stream, "s-%" PRId64, (done / TU_FILL_BATCH) % 1000);
    return evs_append(NULL, s, stream, EVS_EXPECT_ANY, in, n);
}

static int group_setup(void **state)
{
    return tu_two_stores_setup(state, "core-open", fill_batch, BIG_EVENTS, 10, "events");
}

static int64_t open_close_ns(const char *dir, int64_t want_head)
{
    evs_options o = tu_fast_options();
    o.flags = EVS_OPEN_NOCREATE;
    evs_store *s;
    int64_t t0 = tu_mono_ns();
    assert_evs_ok(evs_open(&s, dir, &o));
    int64_t head = evs_head(s);
    assert_evs_ok(evs_close(s));
    int64_t t = tu_mono_ns() - t0;
    assert_int_equal(head, want_head);
    return t;
}

static void test_open_cost_flat(void **state)
{
    tu_two_stores *st = *state;
    /* Warm: the first open after the build may finish work the build left. */
    open_close_ns(st->big, BIG_EVENTS);
    open_close_ns(st->small, 10);
    int64_t big[CYCLES], small[CYCLES];
    for (int i = 0; i < CYCLES; i++) {
        small[i] = open_close_ns(st->small, 10);
        big[i] = open_close_ns(st->big, BIG_EVENTS);
    }
    int64_t mb = tu_median_i64(big, CYCLES), ms = tu_median_i64(small, CYCLES);
    print_message("open+close median: %.3f ms for %d events, %.3f ms for 10 events\n",
                  (double)mb / 1e6, BIG_EVENTS, (double)ms / 1e6);
    if (mb >= 3 * ms + 1000000)
        fail_msg("opening %d events takes %.3f ms, 10 events %.3f ms: it grows with the store",
                 BIG_EVENTS, (double)mb / 1e6, (double)ms / 1e6);

    /* The big store still reads: its last event is where it should be. */
    evs_options o = tu_fast_options();
    evs_store *s;
    assert_evs_ok(evs_open(&s, st->big, &o));
    evs_query q = EVS_QUERY_INIT;
    q.direction = EVS_BACKWARD;
    q.limit = 1;
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    evs_event ev;
    assert_int_equal(evs_cursor_next(&ev, c), 1);
    assert_int_equal(ev.pos, BIG_EVENTS);
    char want[32];
    snprintf(want, sizeof want, "{\"n\":%d}", BIG_EVENTS - 1);
    assert_int_equal(ev.data_len, strlen(want));
    assert_memory_equal(ev.data, want, ev.data_len);
    evs_cursor_close(c);
    assert_evs_ok(evs_close(s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_cost_flat),
    };
    return cmocka_run_group_tests(tests, group_setup, tu_two_stores_teardown);
}
