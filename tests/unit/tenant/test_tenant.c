/*
 * test_tenant.c - the tenant registry (include/evstore_tenant.h).
 *
 * Covers: the name rule (first byte, later bytes, length, path tricks); create (the
 * store exists after it, a second create is EVS_EEXIST, a bad name writes nothing);
 * get (lazy open of an existing tenant, the same handle every time, EVS_ENOTFOUND for
 * a missing one, data written through it visible to a reopen); the server lock (a
 * second registry with EVS_TENANTS_LOCK is EVS_EBUSY naming this pid; free again after
 * close); a single store served as "default"; listing sorted, skipping stray entries.
 */
#include "evstore_tenant.h"
#include "testutil.h"

#include <string.h>
#include <unistd.h>

static void make_root(char *root, size_t len)
{
    tu_tmpdir(root, len, "tenant");
    assert_int_equal(mkdir(root, 0755), 0);
}

static void test_names(void **state)
{
    (void)state;
    const char *good[] = {"a", "0", "acme", "a-b_c",
                          "x123456789012345678901234567890123456789012345678901234567890ab"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(evs_tenant_name_check(good[i]), 0);
    const char *bad[] = {
        "",         "-a",
        "_a",       "A",
        "a.b",      "..",
        "a/b",      "a b",
        "\xc3\xa9", "x1234567890123456789012345678901234567890123456789012345678901abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(evs_tenant_name_check(bad[i]), EVS_EINVAL);
    assert_int_equal(evs_tenant_name_check("a.b"), EVS_EINVAL);
    assert_errmsg_has("byte 1");
}

static void test_create_get(void **state)
{
    (void)state;
    char root[4096];
    make_root(root, sizeof root);
    assert_int_equal(evs_tenant_create(root, "acme", NULL), 0);
    assert_int_equal(evs_tenant_create(root, "acme", NULL), EVS_EEXIST);
    assert_int_equal(evs_tenant_create(root, "../x", NULL), EVS_EINVAL);
    evs_tenants *t = NULL;
    assert_int_equal(evs_tenants_open(&t, root, NULL, 0), 0);
    evs_store *a = NULL, *b = NULL;
    assert_int_equal(evs_tenants_get(&a, t, "acme"), 0);
    assert_int_equal(evs_tenants_get(&b, t, "acme"), 0);
    assert_ptr_equal(a, b);
    assert_true(tu_append1(a, "s-1", "T", "{}") == 1);
    assert_int_equal(evs_tenants_get(&b, t, "nope"), EVS_ENOTFOUND);
    assert_errmsg_has("tenant 'nope' does not exist");
    assert_null(b);
    assert_int_equal(evs_tenants_get(&b, t, "Bad"), EVS_EINVAL);
    assert_int_equal(evs_tenants_close(t), 0);
    /* What was appended through the registry is in ROOT/tenants/acme. */
    char dir[4200];
    (void)snprintf(dir, sizeof dir, "%s/tenants/acme", root);
    evs_store *s = NULL;
    assert_int_equal(evs_open(&s, dir, NULL), 0);
    assert_int_equal(evs_head(s), 1);
    evs_close(s);
    tu_cleanup(root);
}

static void test_lock(void **state)
{
    (void)state;
    char root[4096];
    make_root(root, sizeof root);
    evs_tenants *t = NULL, *u = NULL;
    assert_int_equal(evs_tenants_open(&t, root, NULL, EVS_TENANTS_LOCK), 0);
    assert_int_equal(evs_tenants_open(&u, root, NULL, EVS_TENANTS_LOCK), EVS_EBUSY);
    char want[64];
    (void)snprintf(want, sizeof want, "already served by pid %ld", (long)getpid());
    assert_errmsg_has(want);
    assert_null(u);
    /* Without the flag a registry does not need the lock. */
    assert_int_equal(evs_tenants_open(&u, root, NULL, 0), 0);
    evs_tenants_close(u);
    evs_tenants_close(t);
    assert_int_equal(evs_tenants_open(&u, root, NULL, EVS_TENANTS_LOCK), 0);
    evs_tenants_close(u);
    tu_cleanup(root);
}

static int collect(void *ctx, const char *name)
{
    char *buf = ctx;
    size_t used = strlen(buf);
    (void)snprintf(buf + used, 256 - used, "%s ", name);
    return 0;
}

static void test_single_and_list(void **state)
{
    (void)state;
    char root[4096], sub[4200];
    make_root(root, sizeof root);
    char names[256] = "";
    assert_int_equal(evs_tenants_each(root, collect, names), 0);
    assert_string_equal(names, "");
    (void)snprintf(sub, sizeof sub, "%s/tenants", root);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(evs_tenants_each(root, collect, names), 0);
    assert_string_equal(names, "");
    assert_int_equal(evs_tenant_create(root, "zeta", NULL), 0);
    assert_int_equal(evs_tenant_create(root, "alpha", NULL), 0);
    (void)snprintf(sub, sizeof sub, "%s/tenants/Not-A-Tenant", root);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(evs_tenants_each(root, collect, names), 0);
    assert_string_equal(names, "alpha zeta ");
    /* One store served as "default": no other tenant, none can be made. */
    (void)snprintf(sub, sizeof sub, "%s/tenants/alpha", root);
    evs_tenants *t = NULL;
    assert_int_equal(evs_tenants_open(&t, sub, NULL, EVS_TENANTS_SINGLE), 0);
    evs_store *s = NULL;
    assert_int_equal(evs_tenants_get(&s, t, "default"), 0);
    assert_int_equal(evs_tenants_get(&s, t, "alpha"), EVS_ENOTFOUND);
    evs_tenants_close(t);
    assert_int_equal(evs_tenant_create(sub, "x", NULL), EVS_ENOTSUP);
    names[0] = '\0';
    assert_int_equal(evs_tenants_each(sub, collect, names), 0);
    assert_string_equal(names, "default ");
    assert_int_equal(evs_tenants_open(&t, root, NULL, EVS_TENANTS_SINGLE), EVS_ENOTFOUND);
    tu_cleanup(root);
}

/* Removing a tenant moves its directory aside whole, frees the name, keeps a store in
 * use valid until the registry closes, and leaves the other tenants alone. */
static void test_remove(void **state)
{
    (void)state;
    char root[4096], path[4400];
    make_root(root, sizeof root);
    assert_int_equal(evs_tenant_create(root, "acme", NULL), 0);
    assert_int_equal(evs_tenant_create(root, "beta", NULL), 0);
    evs_tenants *t = NULL;
    assert_int_equal(evs_tenants_open(&t, root, NULL, 0), 0);
    evs_store *a = NULL, *b = NULL;
    assert_int_equal(evs_tenants_get(&a, t, "acme"), 0);
    assert_int_equal(evs_tenants_get(&b, t, "beta"), 0);
    assert_true(tu_append1(a, "s-1", "T", "{}") == 1);
    char moved[4400];
    assert_int_equal(evs_tenants_remove(t, "acme", moved, sizeof moved), 0);
    (void)snprintf(path, sizeof path, "%s/deleted/acme.", root);
    assert_memory_equal(moved, path, strlen(path));
    /* Nothing destroyed: the moved directory is the store, with its event. */
    evs_store *aside = NULL;
    evs_options ro = EVS_OPTIONS_INIT;
    ro.flags = EVS_OPEN_NOCREATE | EVS_OPEN_READONLY;
    assert_int_equal(evs_open(&aside, moved, &ro), 0);
    assert_int_equal(evs_head(aside), 1);
    assert_int_equal(evs_close(aside), 0);
    /* The handle in use still reads; the name is gone, then free again. */
    assert_int_equal(evs_head(a), 1);
    evs_store *again = NULL;
    assert_int_equal(evs_tenants_get(&again, t, "acme"), EVS_ENOTFOUND);
    assert_int_equal(evs_tenants_remove(t, "acme", NULL, 0), EVS_ENOTFOUND);
    assert_int_equal(evs_tenants_remove(t, "../beta", NULL, 0), EVS_EINVAL);
    char names[256] = "";
    assert_int_equal(evs_tenants_each(root, collect, names), 0);
    assert_string_equal(names, "beta ");
    assert_int_equal(evs_tenant_create(root, "acme", NULL), 0);
    assert_int_equal(evs_tenants_get(&again, t, "acme"), 0);
    assert_ptr_not_equal(again, a);
    assert_int_equal(evs_head(again), 0);
    assert_int_equal(evs_head(b), 0);
    assert_int_equal(evs_tenants_close(t), 0);
    /* One store served as "default" cannot be removed. */
    (void)snprintf(path, sizeof path, "%s/tenants/beta", root);
    assert_int_equal(evs_tenants_open(&t, path, NULL, EVS_TENANTS_SINGLE), 0);
    assert_int_equal(evs_tenants_remove(t, "default", NULL, 0), EVS_ENOTSUP);
    assert_int_equal(evs_tenants_close(t), 0);
    tu_cleanup(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_create_get),
        cmocka_unit_test(test_lock),
        cmocka_unit_test(test_single_and_list),
        cmocka_unit_test(test_remove),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
