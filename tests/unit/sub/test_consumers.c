/*
 * test_consumers.c - durable consumers in one process.
 *
 * Covers: a new consumer starts at the beginning and resumes after close at
 * checkpoint + 1; acks are batched (not on disk at once, on disk after 1000 acks, after
 * 100 ms, on flush, on close); acking backwards or past the head is refused; a second
 * open of a name is EVS_EBUSY naming it; reset (busy, unknown, out of range, then
 * resumes there); delete (busy, unknown, gone from the listing, recreated fresh);
 * listing (sorted, checkpoint, lag, ack time, open flag); invalid names; a filtered
 * consumer's checkpoint passes skipped events when idle; a bad filter creates nothing;
 * a corrupt checkpoint file (clear error naming the file, listed as corrupt, reset
 * repairs it) and one bad slot (falls back to the other); a checkpoint past the head;
 * read-only stores; a consumer that outlives evs_close.
 */
#include "testutil.h"

#include <fcntl.h>
#include <inttypes.h>
#include <time.h>

static void test_resume(void **state)
{
    tu_fixture *f = *state;
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, f->s, "billing", NULL));
    assert_int_equal(tu_consumer_stored(f->s, "billing", NULL), 0); /* exists from the first open */
    for (int i = 1; i <= 5; i++)
        assert_int_equal(tu_consumer_next_pos(c), i);
    assert_evs_ok(evs_consumer_ack(c, 4));
    assert_int_equal(evs_consumer_checkpoint(c), 4);
    evs_consumer_close(c);
    assert_int_equal(tu_consumer_stored(f->s, "billing", NULL), 4);
    assert_evs_ok(evs_consumer_open(&c, f->s, "billing", NULL));
    assert_int_equal(tu_consumer_next_pos(c), 5); /* 5 was delivered but not acked: again */
    evs_consumer_close(c);
    /* refiltered on reopen: resumes at the same place, filtered (test_consumer_filter
     * has the rest of the filter rules) */
    evs_query q = EVS_QUERY_INIT;
    q.category = "even";
    assert_evs_ok(evs_consumer_open_v2(&c, f->s, "billing", &q, EVS_CONSUMER_REFILTER));
    assert_int_equal(tu_consumer_next_pos(c), 6);
    evs_consumer_close(c);
}

static void test_ack_batching(void **state)
{
    tu_fixture *f = *state;
    for (int i = 0; i < 1100; i++)
        tu_append1(f->s, "bulk-1", "Bulk", "{}");
    evs_consumer *c;
    /* Acks stay in memory until 1,000 are pending or 100 ms passed since the last save
     * (or the open). The checks that acks were not saved hold only if the steps before
     * them took less than that: on a starved machine they may not, and then say so. */
    int64_t t0 = tu_mono_ms(); /* before each step that saves: the time counts from it */
    assert_evs_ok(evs_consumer_open(&c, f->s, "batch", NULL));
    assert_evs_ok(evs_consumer_ack(c, 1));
    assert_evs_ok(evs_consumer_ack(c, 1)); /* the same again: fine */
    if (tu_mono_ms() - t0 < 90)
        assert_int_equal(tu_consumer_stored(f->s, "batch", NULL), 0); /* in memory only */
    else
        print_message("acks took %lld ms: not checked that they stayed in memory\n",
                      (long long)(tu_mono_ms() - t0));
    t0 = tu_mono_ms();
    assert_evs_ok(evs_consumer_flush(c));
    assert_int_equal(tu_consumer_stored(f->s, "batch", NULL), 1);
    /* 999 more acks stay in memory; the 1000th saves */
    for (int64_t p = 2; p <= 1000; p++)
        assert_evs_ok(evs_consumer_ack(c, p));
    bool quick = tu_mono_ms() - t0 < 90;
    if (quick)
        assert_int_equal(tu_consumer_stored(f->s, "batch", NULL), 1);
    int64_t t_save = tu_mono_ms();
    assert_evs_ok(evs_consumer_ack(c, 1001));
    if (quick) {
        assert_int_equal(tu_consumer_stored(f->s, "batch", NULL), 1001);
    } else { /* one of them saved on time instead: start the next step from a save */
        print_message("999 acks took %lld ms: not checked that the 1000th saves\n",
                      (long long)(tu_mono_ms() - t0));
        t_save = tu_mono_ms();
        assert_evs_ok(evs_consumer_flush(c));
    }
    /* ... or the first ack 100 ms after the last save */
    assert_evs_ok(evs_consumer_ack(c, 1002));
    if (tu_mono_ms() - t_save < 90)
        assert_int_equal(tu_consumer_stored(f->s, "batch", NULL), 1001);
    tu_sleep_ms(110);
    assert_evs_ok(evs_consumer_ack(c, 1003));
    assert_int_equal(tu_consumer_stored(f->s, "batch", NULL), 1003);
    assert_evs_ok(evs_consumer_ack(c, 1004));
    /* backwards and past the head are refused and change nothing */
    assert_evs(EVS_EINVAL, evs_consumer_ack(c, 1000));
    assert_errmsg_has("below its checkpoint 1004");
    assert_evs(EVS_EINVAL, evs_consumer_ack(c, evs_head(f->s) + 1));
    assert_errmsg_has("past the store's head");
    assert_int_equal(evs_consumer_checkpoint(c), 1004);
    assert_evs_ok(evs_consumer_ack(c, 1005));
    evs_consumer_close(c); /* saves */
    assert_int_equal(tu_consumer_stored(f->s, "batch", NULL), 1005);
}

static void test_busy(void **state)
{
    tu_fixture *f = *state;
    evs_consumer *a, *b = (evs_consumer *)1;
    assert_evs_ok(evs_consumer_open(&a, f->s, "mailer", NULL));
    assert_evs(EVS_EBUSY, evs_consumer_open(&b, f->s, "mailer", NULL));
    assert_null(b);
    assert_errmsg_has("consumer 'mailer' is busy");
    assert_evs(EVS_EBUSY, evs_consumer_reset(f->s, "mailer", 0));
    assert_evs(EVS_EBUSY, evs_consumer_delete(f->s, "mailer"));
    evs_consumer_info info;
    assert_int_equal(tu_consumer_stored(f->s, "mailer", &info), 0);
    assert_int_equal(info.open, 1);
    /* another name is independent */
    assert_evs_ok(evs_consumer_open(&b, f->s, "mailer2", NULL));
    evs_consumer_close(b);
    evs_consumer_close(a);
    assert_int_equal(tu_consumer_stored(f->s, "mailer", &info), 0);
    assert_int_equal(info.open, 0);
    assert_evs_ok(evs_consumer_open(&b, f->s, "mailer", NULL));
    evs_consumer_close(b);
}

static void test_reset(void **state)
{
    tu_fixture *f = *state;
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, f->s, "proj", NULL));
    assert_evs_ok(evs_consumer_ack(c, 15));
    evs_consumer_close(c);
    assert_evs(EVS_ENOTFOUND, evs_consumer_reset(f->s, "nobody", 0));
    assert_errmsg_has("nobody");
    assert_int_equal(tu_consumer_stored(f->s, "nobody", NULL), -2); /* reset created nothing */
    assert_evs(EVS_EINVAL, evs_consumer_reset(f->s, "proj", 21));
    assert_evs(EVS_EINVAL, evs_consumer_reset(f->s, "proj", -1));
    assert_int_equal(tu_consumer_stored(f->s, "proj", NULL), 15);
    assert_evs_ok(evs_consumer_reset(f->s, "proj", 2));
    assert_int_equal(tu_consumer_stored(f->s, "proj", NULL), 2);
    assert_evs_ok(evs_consumer_open(&c, f->s, "proj", NULL));
    assert_int_equal(tu_consumer_next_pos(c), 3);
    evs_consumer_close(c);
    assert_evs_ok(evs_consumer_reset(f->s, "proj", 0));
    assert_evs_ok(evs_consumer_open(&c, f->s, "proj", NULL));
    assert_int_equal(tu_consumer_next_pos(c), 1);
    evs_consumer_close(c);
}

static void test_delete(void **state)
{
    tu_fixture *f = *state;
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, f->s, "old", NULL));
    assert_evs_ok(evs_consumer_ack(c, 10));
    assert_evs(EVS_EBUSY, evs_consumer_delete(f->s, "old"));
    evs_consumer_close(c);
    assert_evs_ok(evs_consumer_delete(f->s, "old"));
    assert_int_equal(tu_consumer_stored(f->s, "old", NULL), -2);
    assert_evs(EVS_ENOTFOUND, evs_consumer_delete(f->s, "old"));
    assert_errmsg_has("no consumer 'old'");
    assert_evs_ok(evs_consumer_open(&c, f->s, "old", NULL));
    assert_int_equal(tu_consumer_next_pos(c), 1); /* a new consumer, from the start */
    evs_consumer_close(c);
    /* no lock or temp files left behind by delete */
    char path[4200];
    snprintf(path, sizeof path, "%s/consumers/gone.lock", f->dir);
    assert_evs(EVS_ENOTFOUND, evs_consumer_delete(f->s, "gone"));
    if (tu_backend_is("file")) /* the others keep no file per consumer */
        assert_int_equal(access(path, F_OK), -1);
}

static void test_listing(void **state)
{
    tu_fixture *f = *state;
    evs_consumer_iter *it;
    evs_consumer_info info;
    assert_evs_ok(evs_consumers_open(&it, f->s));
    assert_int_equal(evs_consumers_next(&info, it), 0); /* none yet */
    evs_consumers_close(it);
    const char *names[] = {"zeta", "alpha", "Mid.dle_1-x"};
    int64_t acks[] = {20, 3, 0};
    evs_consumer *held = NULL;
    int64_t before = 0;
    for (int i = 0; i < 3; i++) {
        evs_consumer *c;
        assert_evs_ok(evs_consumer_open(&c, f->s, names[i], NULL));
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        before = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        if (acks[i])
            assert_evs_ok(evs_consumer_ack(c, acks[i]));
        if (i == 1)
            held = c;
        else
            evs_consumer_close(c);
    }
    assert_evs_ok(evs_consumer_flush(held));
    assert_evs_ok(evs_consumers_open(&it, f->s));
    const char *want[] = {"Mid.dle_1-x", "alpha", "zeta"};
    int64_t want_ckpt[] = {0, 3, 20};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(evs_consumers_next(&info, it), 1);
        assert_string_equal(info.name, want[i]);
        assert_int_equal(info.checkpoint, want_ckpt[i]);
        assert_int_equal(info.lag, 20 - want_ckpt[i]);
        assert_int_equal(info.open, i == 1);
        assert_int_equal(info.status, 0);
        assert_true(info.ack_ts_ns > 0);
        if (i == 1)
            assert_true(info.ack_ts_ns >= before - 1000000000);
    }
    assert_int_equal(evs_consumers_next(&info, it), 0);
    evs_consumers_close(it);
    evs_consumer_close(held);
    evs_consumers_close(NULL);
}

static void test_invalid_names(void **state)
{
    tu_fixture *f = *state;
    char longname[200];
    memset(longname, 'n', sizeof longname);
    longname[129] = '\0';
    const char *bad[] = {"", "a/b", "a b", "caf\xc3\xa9", "x\n", longname, "../up"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        evs_consumer *c = (evs_consumer *)1;
        assert_evs(EVS_EINVAL, evs_consumer_open(&c, f->s, bad[i], NULL));
        assert_null(c);
        assert_errmsg_has("consumer name");
        assert_evs(EVS_EINVAL, evs_consumer_reset(f->s, bad[i], 0));
        assert_evs(EVS_EINVAL, evs_consumer_delete(f->s, bad[i]));
    }
    evs_consumer *c;
    assert_evs(EVS_EINVAL, evs_consumer_open(&c, f->s, NULL, NULL));
    longname[128] = '\0'; /* exactly 128 bytes is fine */
    assert_evs_ok(evs_consumer_open(&c, f->s, longname, NULL));
    evs_consumer_close(c);
    /* a bad filter creates nothing */
    evs_query q = EVS_QUERY_INIT;
    q.direction = EVS_BACKWARD;
    assert_evs(EVS_EINVAL, evs_consumer_open(&c, f->s, "filtered", &q));
    assert_int_equal(tu_consumer_stored(f->s, "filtered", NULL), -2);
}

static void test_idle_passes_skipped(void **state)
{
    tu_fixture *f = *state;
    const char *types[] = {"Odd"};
    evs_query q = EVS_QUERY_INIT;
    q.types = types;
    q.type_count = 1;
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, f->s, "odds", &q));
    for (int i = 1; i <= 19; i += 2) {
        assert_int_equal(tu_consumer_next_pos(c), i);
        if (i < 19)
            assert_evs_ok(evs_consumer_ack(c, i));
    }
    evs_event ev;
    assert_evs(0, evs_consumer_next(&ev, c, 0));
    assert_int_equal(evs_consumer_checkpoint(c), 17); /* 19 is not acked: stay */
    assert_evs_ok(evs_consumer_ack(c, 19));
    /* Idle again: the checkpoint passes 20 (Even, skipped by the filter), and it is
     * saved before next() goes to sleep. */
    assert_evs(0, evs_consumer_next(&ev, c, 10));
    assert_int_equal(evs_consumer_checkpoint(c), 20);
    assert_int_equal(tu_consumer_stored(f->s, "odds", NULL), 20);
    evs_consumer_close(c);
    assert_int_equal(tu_consumer_stored(f->s, "odds", NULL), 20);
}

static void write_at(const char *path, long off, const char *bytes, size_t len)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, len, off), (ssize_t)len);
    close(fd);
}

static void test_corrupt_checkpoint(void **state)
{
    if (!tu_backend_is("file"))
        tu_not_supported("it damages the file backend's checkpoint file; SQLite checks its own rows");
    tu_fixture *f = *state;
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, f->s, "fragile", NULL));
    assert_evs_ok(evs_consumer_ack(c, 5));
    assert_evs_ok(evs_consumer_flush(c));
    assert_evs_ok(evs_consumer_ack(c, 7));
    assert_evs_ok(evs_consumer_flush(c));
    evs_consumer_close(c);
    char path[4200];
    snprintf(path, sizeof path, "%s/consumers/fragile.ckpt", f->dir);
    /* one slot damaged (the newest, seq 3, in slot 1 at byte 512): the other one holds
     * the previous checkpoint, which is safe to resume from (at-least-once) */
    write_at(path, 512 + 17, "\xff", 1);
    assert_int_equal(tu_consumer_stored(f->s, "fragile", NULL), 5);
    assert_evs_ok(evs_consumer_open(&c, f->s, "fragile", NULL));
    assert_int_equal(tu_consumer_next_pos(c), 6);
    assert_evs_ok(evs_consumer_ack(c, 8));
    evs_consumer_close(c);
    assert_int_equal(tu_consumer_stored(f->s, "fragile", NULL), 8);
    /* both damaged: a clear error naming the file, and the listing says so */
    write_at(path, 3, "XX", 2);
    write_at(path, 512 + 3, "XX", 2);
    assert_evs(EVS_ECORRUPT, evs_consumer_open(&c, f->s, "fragile", NULL));
    assert_errmsg_has("consumers/fragile.ckpt");
    assert_errmsg_has("reset");
    evs_consumer_info info;
    assert_int_equal(tu_consumer_stored(f->s, "fragile", &info), -1);
    assert_int_equal(info.status, EVS_ECORRUPT);
    assert_int_equal(info.lag, -1);
    /* a truncated file is corrupt too */
    assert_int_equal(truncate(path, 10), 0);
    assert_evs(EVS_ECORRUPT, evs_consumer_open(&c, f->s, "fragile", NULL));
    /* reset repairs it */
    assert_evs_ok(evs_consumer_reset(f->s, "fragile", 3));
    assert_int_equal(tu_consumer_stored(f->s, "fragile", NULL), 3);
    assert_evs_ok(evs_consumer_open(&c, f->s, "fragile", NULL));
    assert_int_equal(tu_consumer_next_pos(c), 4);
    evs_consumer_close(c);
    /* and delete works on a corrupt one */
    write_at(path, 3, "XX", 2);
    write_at(path, 512 + 3, "XX", 2);
    assert_evs_ok(evs_consumer_delete(f->s, "fragile"));
}

static void test_readonly(void **state)
{
    tu_fixture *f = *state;
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, f->s, "ro", NULL));
    assert_evs_ok(evs_consumer_ack(c, 2));
    evs_consumer_close(c);
    evs_options o = tu_fast_options();
    o.flags = EVS_OPEN_READONLY;
    evs_store *ro;
    assert_evs_ok(evs_open(&ro, f->dir, &o));
    assert_evs(EVS_EREADONLY, evs_consumer_open(&c, ro, "ro", NULL));
    assert_evs(EVS_EREADONLY, evs_consumer_reset(ro, "ro", 0));
    assert_evs(EVS_EREADONLY, evs_consumer_delete(ro, "ro"));
    assert_int_equal(tu_consumer_stored(ro, "ro", NULL), 2);
    /* subscriptions work on a read-only handle */
    evs_subscription *sub;
    assert_evs_ok(evs_subscribe(&sub, ro, NULL, 20));
    evs_event ev;
    assert_evs(1, evs_subscription_next(&ev, sub, 0));
    assert_int_equal(ev.pos, 20);
    evs_subscription_close(sub);
    evs_close(ro);
}

/* A consumer outlives evs_close: its next step is EVS_ECLOSED and close still saves. */
static void test_store_closed_first(void **state)
{
    tu_fixture *f = *state;
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, f->s, "late", NULL));
    assert_evs_ok(evs_consumer_ack(c, 9));
    assert_evs_ok(evs_close(f->s));
    f->s = NULL;
    evs_event ev;
    assert_evs(EVS_ECLOSED, evs_consumer_next(&ev, c, 0));
    assert_evs(EVS_ECLOSED, evs_consumer_ack(c, 10));
    evs_consumer_close(c);
    evs_options o = tu_fast_options();
    assert_evs_ok(evs_open(&f->s, f->dir, &o));
    assert_int_equal(tu_consumer_stored(f->s, "late", NULL), 9);
}

/* A checkpoint past the head (the log lost its tail) is refused, not silently used:
 * simulated by moving a consumer's checkpoint file into a store with fewer events. */
static void test_checkpoint_past_head(void **state)
{
    if (!tu_backend_is("file"))
        tu_not_supported("it copies the file backend's checkpoint file between stores");
    tu_fixture *f = *state;
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, f->s, "ahead", NULL));
    assert_evs_ok(evs_consumer_ack(c, 15));
    evs_consumer_close(c);
    char small[4096], from[4200], to[4200], cmd[9000];
    tu_tmpdir(small, sizeof small, "cons-small");
    evs_options o = tu_fast_options();
    evs_store *s2;
    assert_evs_ok(evs_open(&s2, small, &o));
    for (int i = 0; i < 5; i++)
        tu_append1(s2, "x-1", "X", "{}");
    assert_evs_ok(evs_consumer_open(&c, s2, "ahead", NULL)); /* makes consumers/ */
    evs_consumer_close(c);
    snprintf(from, sizeof from, "%s/consumers/ahead.ckpt", f->dir);
    snprintf(to, sizeof to, "%s/consumers/ahead.ckpt", small);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
    evs_consumer_info listed;
    assert_int_equal(tu_consumer_stored(s2, "ahead", &listed), 15);
    assert_int_equal(listed.status, EVS_ECORRUPT); /* listed as what open will say */
    assert_int_equal(listed.lag, 0);
    assert_evs(EVS_ECORRUPT, evs_consumer_open(&c, s2, "ahead", NULL));
    assert_errmsg_has("checkpoint 15 is past the store's head 5");
    assert_evs_ok(evs_consumer_reset(s2, "ahead", 5));
    assert_evs_ok(evs_consumer_open(&c, s2, "ahead", NULL));
    evs_consumer_close(c);
    evs_close(s2);
    tu_cleanup(small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_resume, tu_setup_odd_even, tu_teardown),
        cmocka_unit_test_setup_teardown(test_ack_batching, tu_setup_odd_even, tu_teardown),
        cmocka_unit_test_setup_teardown(test_busy, tu_setup_odd_even, tu_teardown),
        cmocka_unit_test_setup_teardown(test_reset, tu_setup_odd_even, tu_teardown),
        cmocka_unit_test_setup_teardown(test_delete, tu_setup_odd_even, tu_teardown),
        cmocka_unit_test_setup_teardown(test_listing, tu_setup_odd_even, tu_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_names, tu_setup_odd_even, tu_teardown),
        cmocka_unit_test_setup_teardown(test_idle_passes_skipped, tu_setup_odd_even, tu_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_checkpoint, tu_setup_odd_even, tu_teardown),
        cmocka_unit_test_setup_teardown(test_readonly, tu_setup_odd_even, tu_teardown),
        cmocka_unit_test_setup_teardown(test_store_closed_first, tu_setup_odd_even, tu_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_past_head, tu_setup_odd_even, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
