/*
 * test_tenant_command.c - commands per tenant (evs_tenant_domains): a command lands in
 * its tenant's store only; the actor's tenant is used when the call names none and
 * must match when it does; unknown and bad tenants are refused; a tenant deleted and
 * made again starts from nothing; threads running commands in two tenants lose no
 * update.
 */
#include "counter.h"
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct fixture {
    char root[4096];
    evs_tenants *tenants;
    counter_hooks hooks;
    evs_aggregate_type type;
    const evs_aggregate_type *types[1];
    evs_tenant_domains *set;
} fixture;

static int setup(void **state)
{
    static fixture f;
    memset(&f, 0, sizeof f);
    tu_tmpdir(f.root, sizeof f.root, "tenant_cmd");
    assert_int_equal(mkdir(f.root, 0755), 0);
    assert_int_equal(evs_tenant_create(f.root, "acme", NULL), 0);
    assert_int_equal(evs_tenant_create(f.root, "beta", NULL), 0);
    assert_int_equal(evs_tenants_open(&f.tenants, f.root, NULL, 0), 0);
    f.type = counter_type(&f.hooks, 1, 0);
    f.types[0] = &f.type;
    assert_int_equal(evs_tenant_domains_open(&f.set, f.tenants, f.types, 1, NULL), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    evs_tenant_domains_close(f->set);
    assert_int_equal(evs_tenants_close(f->tenants), 0);
    tu_cleanup(f->root);
    return 0;
}

/* Events of `stream` in `tenant`'s store. */
static int64_t events_in(fixture *f, const char *tenant, const char *stream)
{
    evs_store *s = NULL;
    assert_int_equal(evs_tenants_get(&s, f->tenants, tenant), 0);
    evs_stream_info info;
    int rc = evs_stream_get(&info, s, stream);
    return rc == EVS_ENOTFOUND ? 0 : (assert_int_equal(rc, 0), info.event_count);
}

static int add(fixture *f, const char *tenant, const evs_actor *actor, const char *id, int n,
               counter *out)
{
    char payload[32];
    int len = snprintf(payload, sizeof payload, "{\"n\":%d}", n);
    evs_command_result res;
    return evs_tenant_command(&res, out, f->set, tenant, actor, "Add", id, payload, (size_t)len,
                              NULL);
}

static void test_each_tenant_its_store(void **state)
{
    fixture *f = *state;
    evs_actor ada = {"ada", NULL, "acme", NULL, 0};
    evs_actor bob = {"bob", NULL, "beta", NULL, 0};
    counter c;
    assert_int_equal(add(f, NULL, &ada, "c1", 5, &c), 0);
    assert_int_equal(c.value, 5);
    assert_int_equal(add(f, NULL, &bob, "c1", 2, &c), 0);
    assert_int_equal(c.value, 2);
    assert_int_equal(add(f, "acme", &ada, "c1", 1, &c), 0);
    assert_int_equal(c.value, 6);
    assert_int_equal(events_in(f, "acme", "counter-c1"), 2);
    assert_int_equal(events_in(f, "beta", "counter-c1"), 1);
    /* The domain of a tenant loads what its commands wrote. */
    evs_domain *d = NULL;
    assert_int_equal(evs_tenant_domain(&d, f->set, "acme"), 0);
    evs_domain *again = NULL;
    assert_int_equal(evs_tenant_domain(&again, f->set, "acme"), 0);
    assert_ptr_equal(d, again);
    evs_aggregate_info info;
    assert_int_equal(evs_aggregate_load(&info, &c, d, "counter", "c1"), 0);
    assert_int_equal(c.value, 6);
    assert_int_equal(info.version, 1);
}

static void test_tenant_checks(void **state)
{
    fixture *f = *state;
    evs_actor ada = {"ada", NULL, "acme", NULL, 0};
    evs_actor nobody = {"ops", NULL, NULL, NULL, 0};
    counter c;
    assert_int_equal(add(f, "beta", &ada, "x", 1, &c), EVS_EFORBIDDEN);
    assert_non_null(strstr(evs_errmsg(), "belongs to tenant 'acme'"));
    assert_non_null(strstr(evs_errmsg(), "in tenant 'beta'"));
    assert_int_equal(events_in(f, "beta", "counter-x"), 0);
    assert_int_equal(add(f, NULL, &nobody, "x", 1, &c), EVS_EINVAL);
    assert_non_null(strstr(evs_errmsg(), "which tenant?"));
    assert_int_equal(add(f, "beta", &nobody, "x", 1, &c), 0);
    assert_int_equal(events_in(f, "beta", "counter-x"), 1);
    assert_int_equal(add(f, "nope", &nobody, "x", 1, &c), EVS_ENOTFOUND);
    assert_int_equal(add(f, "../beta", &nobody, "x", 1, &c), EVS_EINVAL);
    assert_int_equal(evs_tenant_command(NULL, NULL, f->set, "acme", NULL, "Add", "x", "{}", 2,
                                        NULL),
                     EVS_EMISUSE);
    /* Refusals of the command itself come through as evs_command's. */
    assert_int_equal(add(f, "beta", &nobody, "x", -1000, &c) < 0, 1);
}

static void test_deleted_and_made_again(void **state)
{
    fixture *f = *state;
    evs_actor ada = {"ada", NULL, "acme", NULL, 0};
    counter c;
    assert_int_equal(add(f, NULL, &ada, "d1", 4, &c), 0);
    assert_int_equal(evs_tenants_remove(f->tenants, "acme", NULL, 0), 0);
    assert_int_equal(add(f, NULL, &ada, "d1", 1, &c), EVS_ENOTFOUND);
    assert_int_equal(evs_tenant_create(f->root, "acme", NULL), 0);
    assert_int_equal(add(f, NULL, &ada, "d1", 1, &c), 0);
    assert_int_equal(c.value, 1); /* a new store: nothing of the old one */
    assert_int_equal(events_in(f, "acme", "counter-d1"), 1);
}

#define THREADS 4
#define RUNS    25

struct worker {
    fixture *f;
    int index;
    int failures;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    evs_actor a = {"w", NULL, NULL, NULL, 0};
    for (int i = 0; i < RUNS; i++) {
        const char *tenant = (i + w->index) % 2 == 0 ? "acme" : "beta";
        if (add(w->f, tenant, &a, "shared", 1, NULL) != 0)
            w->failures++;
    }
    return NULL;
}

static void test_threads_two_tenants(void **state)
{
    fixture *f = *state;
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){f, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    int failures = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        failures += w[i].failures;
    }
    /* A failure is a conflict past the retry budget: reported, never lost silently. */
    int64_t stored = events_in(f, "acme", "counter-shared") + events_in(f, "beta", "counter-shared");
    assert_int_equal(stored + failures, THREADS * RUNS);
    counter ca, cb;
    evs_domain *da = NULL, *db = NULL;
    assert_int_equal(evs_tenant_domain(&da, f->set, "acme"), 0);
    assert_int_equal(evs_tenant_domain(&db, f->set, "beta"), 0);
    assert_int_equal(evs_aggregate_load(NULL, &ca, da, "counter", "shared"), 0);
    assert_int_equal(evs_aggregate_load(NULL, &cb, db, "counter", "shared"), 0);
    assert_int_equal(ca.value + cb.value, stored);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_each_tenant_its_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenant_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_and_made_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_two_tenants, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
