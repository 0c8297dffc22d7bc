/*
 * test_push.c - push delivery (evs_push_*): handlers called on evstore's thread.
 *
 * Covers: a subscription's events reach the handler in order, stored ones then live
 * ones, and evs_push_wait tracks them; a consumer's accepted events are acknowledged,
 * and a refused one stops delivery with EVS_EHANDLER naming its position and the
 * handler's value, the checkpoint just before it, the next open starting there; the
 * thread does not read ahead of a blocked handler; a stop while the thread waits for
 * events is prompt (measured); a stop while a handler runs lets it finish and starts
 * no other; stop from inside the handler ends delivery, close and wait from inside
 * are EVS_EMISUSE; a read model's state is saved by interval, at stop, never after a
 * refusal or a refused dump; a live subscription pushed to a slow handler skips and
 * accounts for every position; closing the store first ends delivery with
 * EVS_ECLOSED; bad arguments close the source they were given.
 */
#include "testutil.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define MAX_SEEN 4096

typedef struct recorder {
    int64_t seen[MAX_SEEN]; /* written by the push thread only */
    atomic_int count;
    int64_t refuse_at; /* return refuse_rc for this position; 0 = never */
    int refuse_rc;
    int sleep_ms;   /* per call */
    evs_push *self; /* for calls from inside the handler */
    int inside_close_rc, inside_wait_rc, inside_stop_rc;
    atomic_bool entered; /* the first call has started */
    atomic_bool release; /* a blocked handler may return */
    atomic_int finished; /* calls that returned */
    bool block_first;
} recorder;

static int record(void *user, const evs_event *ev)
{
    recorder *r = user;
    atomic_store(&r->entered, true);
    while (r->block_first && !atomic_load(&r->release))
        tu_sleep_ms(1);
    if (r->sleep_ms)
        tu_sleep_ms(r->sleep_ms);
    int rc = 0;
    if (r->refuse_at && ev->pos == r->refuse_at) {
        rc = r->refuse_rc;
    } else {
        int n = atomic_load(&r->count);
        if (n < MAX_SEEN)
            r->seen[n] = ev->pos;
        atomic_store(&r->count, n + 1);
    }
    atomic_fetch_add(&r->finished, 1);
    return rc;
}

static void append_n(evs_store *s, int n)
{
    for (int i = 0; i < n; i++)
        tu_append1(s, i % 2 ? "odd-1" : "even-1", "T", "{}");
}

static void expect_seen_range(const recorder *r, int64_t first, int64_t last)
{
    assert_int_equal(atomic_load(&r->count), last - first + 1);
    for (int64_t p = first; p <= last; p++)
        assert_int_equal(r->seen[p - first], p);
}

static void test_subscription_delivery(void **state)
{
    tu_fixture *f = *state;
    append_n(f->s, 20);
    static recorder r;
    memset(&r, 0, sizeof r);
    evs_subscription *sub;
    assert_evs_ok(evs_subscribe(&sub, f->s, NULL, EVS_FROM_START));
    evs_push *p;
    assert_evs_ok(evs_push_subscription(&p, sub, record, &r));
    assert_evs(1, evs_push_wait(p, 20, 5000));
    append_n(f->s, 10);
    assert_evs(1, evs_push_wait(p, 30, 5000));
    evs_push_status st;
    evs_push_get(&st, p);
    assert_int_equal(st.running, 1);
    assert_int_equal(st.position, 30);
    assert_int_equal(st.delivered, 30);
    assert_int_equal(st.error, 0);
    assert_evs(0, evs_push_wait(p, 31, 0)); /* not there, no wait */
    assert_evs(0, evs_push_wait(p, 31, 30));
    assert_evs_ok(evs_push_close(&st, p));
    assert_int_equal(st.running, 0);
    assert_int_equal(st.delivered, 30);
    expect_seen_range(&r, 1, 30);
}

static void test_consumer_refusal(void **state)
{
    tu_fixture *f = *state;
    append_n(f->s, 12);
    static recorder r;
    memset(&r, 0, sizeof r);
    r.refuse_at = 7;
    r.refuse_rc = 42;
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, f->s, "billing", NULL));
    evs_push *p;
    assert_evs_ok(evs_push_consumer(&p, c, record, &r));
    assert_evs(EVS_EHANDLER, evs_push_wait(p, 12, 5000));
    assert_errmsg_has("consumer 'billing'");
    assert_errmsg_has("returned 42");
    assert_errmsg_has("position 7");
    evs_push_status st;
    evs_push_get(&st, p);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.error, EVS_EHANDLER);
    assert_int_equal(st.handler_rc, 42);
    assert_int_equal(st.error_pos, 7);
    assert_int_equal(st.position, 6);
    assert_int_equal(st.delivered, 6);
    expect_seen_range(&r, 1, 6); /* and no call after the refusal */
    /* The checkpoint is durable already, before close. */
    assert_int_equal(tu_consumer_stored(f->s, "billing", NULL), 6);
    assert_evs(EVS_EHANDLER, evs_push_close(&st, p));
    assert_errmsg_has("position 7");
    assert_int_equal(tu_consumer_stored(f->s, "billing", NULL), 6);
    /* The refused event is the first the next run sees. */
    assert_evs_ok(evs_consumer_open(&c, f->s, "billing", NULL));
    evs_event ev;
    assert_evs(1, evs_consumer_next(&ev, c, 0));
    assert_int_equal(ev.pos, 7);
    evs_consumer_close(c);
}

static void test_consumer_acks(void **state)
{
    tu_fixture *f = *state;
    append_n(f->s, 50);
    static recorder r;
    memset(&r, 0, sizeof r);
    evs_query q = EVS_QUERY_INIT;
    q.stream = "odd-1";
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, f->s, "odds", &q));
    evs_push *p;
    assert_evs_ok(evs_push_consumer(&p, c, record, &r));
    assert_evs(1, evs_push_wait(p, 50, 5000)); /* position counts the passed-over too */
    assert_int_equal(atomic_load(&r.count), 25);
    assert_evs_ok(evs_push_close(NULL, p));
    assert_int_equal(tu_consumer_stored(f->s, "odds", NULL), 50);
}

/* `appended` events, then consumer `name` pushed to a recorder whose handler blocks on
 * the first event until released; returns once the handler holds it. */
static evs_push *push_to_blocked_handler(tu_fixture *f, int appended, const char *name,
                                         recorder *r)
{
    append_n(f->s, appended);
    memset(r, 0, sizeof *r);
    r->block_first = true;
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, f->s, name, NULL));
    evs_push *p;
    assert_evs_ok(evs_push_consumer(&p, c, record, r));
    while (!atomic_load(&r->entered))
        tu_sleep_ms(1);
    return p;
}

static void test_no_read_ahead(void **state)
{
    tu_fixture *f = *state;
    static recorder r;
    evs_push *p = push_to_blocked_handler(f, 1, "slow", &r);
    append_n(f->s, 300);
    tu_sleep_ms(50);
    /* The handler holds event 1: nothing was taken past it, nothing acknowledged. */
    evs_push_status st;
    evs_push_get(&st, p);
    assert_int_equal(st.position, 0);
    assert_int_equal(st.delivered, 0);
    assert_int_equal(tu_consumer_stored(f->s, "slow", NULL), 0);
    atomic_store(&r.release, true);
    assert_evs(1, evs_push_wait(p, 301, 10000));
    assert_evs_ok(evs_push_close(NULL, p));
    expect_seen_range(&r, 1, 301);
    assert_int_equal(tu_consumer_stored(f->s, "slow", NULL), 301);
}

/* A subscription, so that only the stop is timed (closing a consumer also syncs its
 * checkpoint to disk). */
static void test_stop_while_waiting_is_prompt(void **state)
{
    tu_fixture *f = *state;
    append_n(f->s, 3);
    int64_t worst = 0, total = 0;
    const int rounds = 10;
    for (int i = 0; i < rounds; i++) {
        static recorder r;
        memset(&r, 0, sizeof r);
        evs_subscription *sub;
        assert_evs_ok(evs_subscribe(&sub, f->s, NULL, EVS_FROM_START));
        evs_push *p;
        assert_evs_ok(evs_push_subscription(&p, sub, record, &r));
        assert_evs(1, evs_push_wait(p, 3, 5000));
        tu_sleep_ms(5 + i * 7 % 40); /* the thread asleep for different times */
        int64_t t0 = tu_mono_ms();
        assert_evs_ok(evs_push_close(NULL, p));
        int64_t took = tu_mono_ms() - t0;
        worst = took > worst ? took : worst;
        total += took;
    }
    print_message("stop of a waiting push thread: mean %.1f ms, worst %" PRId64 " ms over %d\n",
                  (double)total / rounds, worst, rounds);
    /* The thread sleeps without a timeout: only the stop's wake-up ends its wait (a
     * lost one would hang here). The bound is slack for a loaded machine. */
    assert_true(worst < 250);
}

static void test_stop_while_handler_runs(void **state)
{
    tu_fixture *f = *state;
    static recorder r;
    evs_push *p = push_to_blocked_handler(f, 5, "busyhandler", &r);
    assert_evs_ok(evs_push_stop(p));
    assert_evs_ok(evs_push_stop(p)); /* twice is fine */
    /* Stop did not wait for the handler, which is still blocked. */
    assert_int_equal(atomic_load(&r.finished), 0);
    atomic_store(&r.release, true);
    evs_push_status st;
    assert_evs_ok(evs_push_close(&st, p));
    /* Close did: the running call finished and counted; no other started. */
    assert_int_equal(atomic_load(&r.finished), 1);
    assert_int_equal(atomic_load(&r.count), 1);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(tu_consumer_stored(f->s, "busyhandler", NULL), 1);
}

static int inside(void *user, const evs_event *ev)
{
    recorder *r = user;
    while (!atomic_load(&r->release)) /* until r->self is set */
        tu_sleep_ms(1);
    r->inside_close_rc = evs_push_close(NULL, r->self);
    r->inside_wait_rc = evs_push_wait(r->self, ev->pos + 10, 1000);
    r->inside_stop_rc = evs_push_stop(r->self);
    return record(user, ev);
}

static void test_calls_from_inside(void **state)
{
    tu_fixture *f = *state;
    append_n(f->s, 5);
    static recorder r;
    memset(&r, 0, sizeof r);
    evs_subscription *sub;
    assert_evs_ok(evs_subscribe(&sub, f->s, NULL, EVS_FROM_START));
    evs_push *p;
    /* The handler needs its own handle: it waits until it is known. */
    assert_evs_ok(evs_push_subscription(&p, sub, inside, &r));
    r.self = p;
    atomic_store(&r.release, true);
    assert_evs(0, evs_push_wait(p, 5, 5000)); /* stopped at 1, before 5 */
    evs_push_status st;
    assert_evs_ok(evs_push_close(&st, p));
    assert_int_equal(r.inside_close_rc, EVS_EMISUSE);
    assert_int_equal(r.inside_wait_rc, EVS_EMISUSE);
    assert_int_equal(r.inside_stop_rc, 0);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.position, 1);
    assert_int_equal(st.error, 0);
}

/* ---- read models ---------------------------------------------------------------------- */

typedef struct counter {
    atomic_llong n; /* events applied */
    int64_t refuse_at;
    int dump_rc;
    char json[64];
} counter;

static int count_apply(void *user, const evs_event *ev)
{
    counter *c = user;
    if (c->refuse_at && ev->pos == c->refuse_at)
        return -3;
    atomic_fetch_add(&c->n, 1);
    return 0;
}

static int count_dump(void *user, const char **json, size_t *len)
{
    counter *c = user;
    if (c->dump_rc)
        return c->dump_rc;
    int n = snprintf(c->json, sizeof c->json, "{\"n\":%lld}", (long long)atomic_load(&c->n));
    *json = c->json;
    *len = (size_t)n;
    return 0;
}

/* The count in a state document (which is not NUL-terminated). */
static long long count_in(const evs_state_info *info)
{
    char buf[64];
    assert_true(info->json_len < sizeof buf);
    memcpy(buf, info->json, info->json_len);
    buf[info->json_len] = '\0';
    long long n = -1;
    assert_int_equal(sscanf(buf, "{\"n\":%lld}", &n), 1);
    return n;
}

static evs_readmodel *open_counter(tu_fixture *f, const char *path, counter *c)
{
    evs_state *st;
    assert_evs_ok(evs_state_open(&st, path, 1, "{\"n\":0}", 7, 0));
    evs_readmodel *rm;
    assert_evs_ok(evs_readmodel_open(&rm, f->s, "counter", NULL, st));
    evs_state_info info;
    evs_state_get(&info, evs_readmodel_state(rm));
    atomic_store(&c->n, count_in(&info));
    return rm;
}

static int64_t saved_pos(const char *path, long long *n)
{
    evs_state *st;
    assert_evs_ok(evs_state_open(&st, path, 1, "null", 4, 0));
    evs_state_info info;
    evs_state_get(&info, st);
    *n = count_in(&info);
    evs_state_close(st);
    return info.pos;
}

static void test_readmodel_push(void **state)
{
    tu_fixture *f = *state;
    char path[4300];
    tu_beside(path, sizeof path, f->dir, ".state");
    append_n(f->s, 40);
    static counter c;
    memset(&c, 0, sizeof c);
    long long n;

    /* Every event saved: the file follows the thread. */
    evs_push *p;
    assert_evs_ok(
        evs_push_readmodel(&p, open_counter(f, path, &c), count_apply, count_dump, &c, 0));
    assert_evs(1, evs_push_wait(p, 40, 5000));
    assert_int_equal(saved_pos(path, &n), 40);
    assert_int_equal(n, 40);
    assert_evs_ok(evs_push_close(NULL, p));

    /* A long interval: only the stop saves. */
    append_n(f->s, 10);
    assert_evs_ok(
        evs_push_readmodel(&p, open_counter(f, path, &c), count_apply, count_dump, &c, 60000));
    assert_evs(1, evs_push_wait(p, 50, 5000));
    assert_int_equal(saved_pos(path, &n), 40);
    assert_evs_ok(evs_push_close(NULL, p));
    assert_int_equal(saved_pos(path, &n), 50);
    assert_int_equal(n, 50);

    /* A refusal saves nothing more: the state stays where it was saved last. */
    append_n(f->s, 10);
    c.refuse_at = 55;
    assert_evs_ok(
        evs_push_readmodel(&p, open_counter(f, path, &c), count_apply, count_dump, &c, 60000));
    assert_evs(EVS_EHANDLER, evs_push_wait(p, 60, 5000));
    assert_errmsg_has("read model 'counter'");
    assert_errmsg_has("position 55");
    assert_evs(EVS_EHANDLER, evs_push_close(NULL, p));
    assert_int_equal(saved_pos(path, &n), 50);
    assert_int_equal(n, 50);

    /* A refused dump: EVS_EHANDLER at position 0, nothing saved. */
    c.refuse_at = 0;
    c.dump_rc = 9;
    evs_push_status st;
    assert_evs_ok(
        evs_push_readmodel(&p, open_counter(f, path, &c), count_apply, count_dump, &c, 0));
    assert_evs(EVS_EHANDLER, evs_push_wait(p, 60, 5000));
    assert_errmsg_has("dump returned 9");
    assert_evs(EVS_EHANDLER, evs_push_close(&st, p));
    assert_int_equal(st.handler_rc, 9);
    assert_int_equal(st.error_pos, 0);
    assert_int_equal(saved_pos(path, &n), 50);

    /* Resumed after the saved state: the count comes out right. */
    c.dump_rc = 0;
    assert_evs_ok(
        evs_push_readmodel(&p, open_counter(f, path, &c), count_apply, count_dump, &c, 100));
    assert_evs(1, evs_push_wait(p, 60, 5000));
    assert_evs_ok(evs_push_close(NULL, p));
    assert_int_equal(saved_pos(path, &n), 60);
    assert_int_equal(n, 60);

    /* An event that arrives with the stop is fetched but not applied, so the state
     * saved at the stop does not claim it. */
    assert_evs_ok(
        evs_push_readmodel(&p, open_counter(f, path, &c), count_apply, count_dump, &c, 60000));
    append_n(f->s, 1);
    assert_evs(1, evs_push_wait(p, 61, 5000));
    tu_sleep_ms(30); /* waiting for events again */
    assert_evs_ok(evs_push_stop(p));
    append_n(f->s, 1);
    evs_push_status st2;
    assert_evs_ok(evs_push_close(&st2, p));
    assert_int_equal(st2.position, 61);
    assert_int_equal(saved_pos(path, &n), 61);
    assert_int_equal(n, 61);
}

/* ---- live ------------------------------------------------------------------------------- */

static void test_live_push_skips(void **state)
{
    tu_fixture *f = *state;
    append_n(f->s, 5);
    static recorder r;
    memset(&r, 0, sizeof r);
    r.sleep_ms = 2;
    evs_subscription *sub;
    assert_evs_ok(evs_subscribe_live(&sub, f->s, NULL, 8));
    evs_push *p;
    assert_evs_ok(evs_push_subscription(&p, sub, record, &r));
    /* Four big batches: the backlog outgrows max_lag at once, whatever the speed. */
    for (int b = 0; b < 4; b++) {
        evs_event_in ev[100];
        for (int i = 0; i < 100; i++)
            ev[i] = tu_event("T", "{}");
        assert_evs_ok(evs_append(NULL, f->s, "live-1", EVS_EXPECT_ANY, ev, 100));
        tu_sleep_ms(5);
    }
    assert_evs(1, evs_push_wait(p, 405, 10000));
    evs_push_status st;
    assert_evs_ok(evs_push_close(&st, p));
    assert_true(st.skipped > 0);
    /* Every position after the start was either handled or skipped, once. */
    assert_int_equal(st.delivered + st.skipped, 400);
    int n = atomic_load(&r.count);
    assert_int_equal(n, st.delivered);
    for (int i = 1; i < n; i++)
        assert_true(r.seen[i] > r.seen[i - 1]);
    assert_int_equal(r.seen[n - 1], 405);
}

/* ---- misuse ----------------------------------------------------------------------------- */

static void test_store_closed_first(void **state)
{
    tu_fixture *f = *state;
    static recorder r;
    memset(&r, 0, sizeof r);
    evs_subscription *sub;
    assert_evs_ok(evs_subscribe(&sub, f->s, NULL, EVS_FROM_START));
    evs_push *p;
    assert_evs_ok(evs_push_subscription(&p, sub, record, &r));
    tu_sleep_ms(10);
    tu_fx_close(f);
    assert_evs(EVS_ECLOSED, evs_push_wait(p, 1, 5000));
    assert_evs(EVS_ECLOSED, evs_push_close(NULL, p));
}

static void test_bad_arguments(void **state)
{
    tu_fixture *f = *state;
    evs_consumer *c;
    evs_push *p = (evs_push *)1;
    assert_evs_ok(evs_consumer_open(&c, f->s, "taken", NULL));
    assert_evs(EVS_EINVAL, evs_push_consumer(&p, c, NULL, NULL));
    assert_null(p);
    assert_errmsg_has("handler");
    /* The consumer was closed by the failed call: its name is free again. */
    assert_evs_ok(evs_consumer_open(&c, f->s, "taken", NULL));
    assert_evs(EVS_EMISUSE, evs_push_consumer(NULL, c, record, NULL));
    assert_evs_ok(evs_consumer_open(&c, f->s, "taken", NULL));
    evs_consumer_close(c);
    assert_evs(EVS_EMISUSE, evs_push_consumer(&p, NULL, record, NULL));
    assert_evs(EVS_EMISUSE, evs_push_subscription(&p, NULL, record, NULL));
    evs_subscription *sub;
    assert_evs_ok(evs_subscribe(&sub, f->s, NULL, 0));
    assert_evs(EVS_EINVAL, evs_push_subscription(&p, sub, NULL, NULL));
    evs_state *st;
    char path[4300];
    tu_beside(path, sizeof path, f->dir, ".state");
    assert_evs_ok(evs_state_open(&st, path, 1, "{}", 2, 0));
    evs_readmodel *rm;
    assert_evs_ok(evs_readmodel_open(&rm, f->s, "rm", NULL, st));
    assert_evs(EVS_EINVAL, evs_push_readmodel(&p, rm, record, NULL, NULL, 0));
    assert_errmsg_has("dump");
    assert_evs_ok(evs_consumer_open(&c, f->s, "rm", NULL)); /* released */
    evs_consumer_close(c);
    assert_evs_ok(evs_push_close(NULL, NULL));
    assert_evs(EVS_EMISUSE, evs_push_stop(NULL));
    assert_evs(EVS_EMISUSE, evs_push_wait(NULL, 1, 0));
    assert_evs_ok(evs_subscribe(&sub, f->s, NULL, 0));
    static recorder r;
    memset(&r, 0, sizeof r);
    assert_evs_ok(evs_push_subscription(&p, sub, record, &r));
    assert_evs(EVS_EINVAL, evs_push_wait(p, 1, -2));
    assert_evs_ok(evs_push_close(NULL, p));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_subscription_delivery, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_consumer_refusal, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_consumer_acks, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_no_read_ahead, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_stop_while_waiting_is_prompt, tu_setup_open,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(test_stop_while_handler_runs, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_calls_from_inside, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_readmodel_push, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_live_push_skips, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_store_closed_first, tu_setup_open, tu_teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, tu_setup_open, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
