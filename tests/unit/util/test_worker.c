/*
 * test_worker.c - unit tests for src/util worker.c: the thread starts on the first wake,
 * does every piece of work handed to it, outside its lock; at finish it does what is
 * still there when told to drain and drops it when not; after finish no work is taken
 * and a wake says so. Run under ThreadSanitizer too (label concurrency).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "worker.h"

/* An owner: a count of pieces of work waiting (guarded by the worker's lock), and the
 * pieces done. run waits until `gate` opens, so tests can pile work up. */
typedef struct owner {
    evs__worker *w;
    int waiting;
    atomic_int done;
    atomic_bool gate;
    atomic_bool in_run;
} owner;

static bool take(void *arg)
{
    owner *o = arg;
    if (o->waiting == 0)
        return false;
    o->waiting--;
    return true;
}

static void pause_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void run(void *arg)
{
    owner *o = arg;
    atomic_store(&o->in_run, true);
    while (!atomic_load(&o->gate))
        pause_ms(1);
    atomic_fetch_add(&o->done, 1);
    atomic_store(&o->in_run, false);
}

static const evs__worker_ops draining = {take, run, true};
static const evs__worker_ops dropping = {take, run, false};

/* Hand n pieces of work over: whether the thread runs to do them. */
static bool hand(owner *o, int n)
{
    evs__worker_lock(o->w);
    bool runs = evs__worker_wake(o->w);
    if (runs)
        o->waiting += n;
    evs__worker_unlock(o->w);
    return runs;
}

static void wait_in_run(owner *o)
{
    for (int i = 0; i < 5000 && !atomic_load(&o->in_run); i++)
        pause_ms(1);
    assert_true(atomic_load(&o->in_run));
}

static void test_does_all_work(void **state)
{
    (void)state;
    owner o = {0};
    atomic_store(&o.gate, true);
    o.w = evs__worker_new(&draining, &o);
    assert_non_null(o.w);
    for (int i = 0; i < 100; i++)
        assert_true(hand(&o, 1));
    for (int i = 0; i < 5000 && atomic_load(&o.done) < 100; i++)
        pause_ms(1);
    assert_int_equal(atomic_load(&o.done), 100);
    assert_false(evs__worker_stopping(o.w));
    evs__worker_free(o.w);
    assert_int_equal(atomic_load(&o.done), 100);
}

/* A worker for o busy with one piece of work (held at the gate), five more waiting. */
static void busy_with_five_waiting(owner *o, const evs__worker_ops *ops)
{
    o->w = evs__worker_new(ops, o);
    assert_non_null(o->w);
    assert_true(hand(o, 1));
    wait_in_run(o);
    assert_true(hand(o, 5));
}

static void test_finish_drains(void **state)
{
    (void)state;
    owner o = {0};
    busy_with_five_waiting(&o, &draining);
    atomic_store(&o.gate, true);
    evs__worker_finish(o.w);
    assert_int_equal(atomic_load(&o.done), 6);
    assert_true(evs__worker_stopping(o.w));
    assert_false(hand(&o, 1)); /* ended: no more work taken */
    evs__worker_free(o.w);
    assert_int_equal(atomic_load(&o.done), 6);
}

/* Opens the gate once the worker has been told to end, so the piece under way ends
 * after that. */
static void *open_gate_at_stop(void *arg)
{
    owner *o = arg;
    while (!evs__worker_stopping(o->w))
        pause_ms(1);
    atomic_store(&o->gate, true);
    return NULL;
}

static void test_finish_drops_when_not_draining(void **state)
{
    (void)state;
    owner o = {0};
    busy_with_five_waiting(&o, &dropping);
    pthread_t opener;
    assert_int_equal(pthread_create(&opener, NULL, open_gate_at_stop, &o), 0);
    evs__worker_finish(o.w);
    pthread_join(opener, NULL);
    assert_int_equal(atomic_load(&o.done), 1); /* the one under way ends; the rest dropped */
    evs__worker_free(o.w);
}

static void test_never_woken(void **state)
{
    (void)state;
    owner o = {0};
    o.w = evs__worker_new(&draining, &o);
    assert_non_null(o.w);
    evs__worker_finish(o.w); /* no thread to join */
    evs__worker_finish(o.w); /* twice is fine */
    assert_false(hand(&o, 1));
    evs__worker_free(o.w);
    evs__worker_free(NULL);
    assert_int_equal(atomic_load(&o.done), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_does_all_work),
        cmocka_unit_test(test_finish_drains),
        cmocka_unit_test(test_finish_drops_when_not_draining),
        cmocka_unit_test(test_never_woken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
