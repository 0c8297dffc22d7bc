/*
 * test_domain_concurrent.c - commands from 8 threads through one domain: on one
 * aggregate no update is lost (every accepted command is in the state, conflicts were
 * retried), and on different aggregates every command succeeds without a retry.
 */
#include "domain_testutil.h"

#include <pthread.h>

#define THREADS    8
#define PER_THREAD 40

typedef struct worker {
    dom_fixture *f;
    int index;
    int same_aggregate;
    int ok, retries, failed;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    char id[32];
    snprintf(id, sizeof id, "%s", w->same_aggregate ? "hot" : "cold");
    if (!w->same_aggregate)
        snprintf(id, sizeof id, "cold%d", w->index);
    for (int i = 0; i < PER_THREAD; i++) {
        evs_command_result res;
        int rc = evs_command(&res, NULL, w->f->d, &dom_actor, "Add", id, "{\"n\":1}", 7, NULL);
        if (rc == 0)
            w->ok++;
        else
            w->failed++;
        w->retries += res.retries;
    }
    return NULL;
}

static void run(dom_fixture *f, int same, worker *w)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){f, i, same, 0, 0, 0};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
}

static void test_one_aggregate_loses_nothing(void **state)
{
    dom_fixture *f = *state;
    /* Enough retries for 8 threads on one aggregate. */
    dom_open(f, 1, COUNTER_SNAPSHOT_EVERY, 1000);
    worker w[THREADS];
    run(f, 1, w);
    int ok = 0, retries = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(w[i].failed, 0);
        ok += w[i].ok;
        retries += w[i].retries;
    }
    counter c;
    evs_aggregate_info info;
    assert_evs_ok(evs_aggregate_load(&info, &c, f->d, "counter", "hot"));
    assert_int_equal(c.value, ok);
    assert_int_equal(ok, THREADS * PER_THREAD);
    assert_int_equal(info.version, ok - 1);
    print_message("8 threads on one aggregate: %d commands, %d retries\n", ok, retries);
}

static void test_separate_aggregates_never_conflict(void **state)
{
    dom_fixture *f = *state;
    worker w[THREADS];
    run(f, 0, w);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(w[i].ok, PER_THREAD);
        assert_int_equal(w[i].retries, 0);
        char id[32];
        snprintf(id, sizeof id, "cold%d", i);
        counter c;
        assert_evs_ok(evs_aggregate_load(NULL, &c, f->d, "counter", id));
        assert_int_equal(c.value, PER_THREAD);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_aggregate_loses_nothing, dom_setup, dom_teardown),
        cmocka_unit_test_setup_teardown(test_separate_aggregates_never_conflict, dom_setup,
                                        dom_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
