/*
 * test_versioned.c - unit tests for src/util versioned.c: a public struct of an older
 * version than the library's is read and initialised within its own bytes, the fields
 * added since taking their defaults; versions 0 and newer than the library's are
 * refused. A two-version struct stands for one that has grown since a caller was built.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "evstore.h"
#include "util.h"

/* Version 1 had `flags`; version 2 appended `limit`. */
typedef struct grown {
    unsigned int version;
    unsigned int flags;
    uint64_t limit;
} grown;

typedef struct grown_v1 {
    unsigned int version;
    unsigned int flags;
} grown_v1;

static const size_t grown_ends[] = {0, EVS__FIELDS_END(grown, flags), EVS__FIELDS_END(grown, limit)};
static const grown grown_defaults = {2, 7, 1000};

static void test_older_version_takes_defaults(void **state)
{
    (void)state;
    /* A caller built against version 1 passes a shorter struct: nothing past it is read
     * (ASan would flag it: `old` is all the memory there is). */
    grown_v1 *old = malloc(sizeof *old);
    assert_non_null(old);
    old->version = 1;
    old->flags = 3;
    grown got;
    assert_int_equal(evs__versioned_copy(&got, &grown_defaults, old, sizeof got, grown_ends, 2,
                                         "grown", "GROWN_INIT"),
                     0);
    assert_int_equal(got.flags, 3);
    assert_int_equal(got.limit, 1000); /* added in version 2: the default */
    free(old);

    grown now = {2, 4, 5};
    assert_int_equal(evs__versioned_copy(&got, &grown_defaults, &now, sizeof got, grown_ends, 2,
                                         "grown", "GROWN_INIT"),
                     0);
    assert_int_equal(got.flags, 4);
    assert_int_equal(got.limit, 5);
}

static void test_init_writes_only_its_version(void **state)
{
    (void)state;
    grown_v1 *old = malloc(sizeof *old);
    assert_non_null(old);
    assert_int_equal(evs__versioned_init(old, &grown_defaults, 1, grown_ends, 2, "grown",
                                         "GROWN_INIT"),
                     0);
    assert_int_equal(old->version, 1);
    assert_int_equal(old->flags, 7);
    free(old);

    grown g;
    memset(&g, 0xab, sizeof g);
    assert_int_equal(evs__versioned_init(&g, &grown_defaults, 2, grown_ends, 2, "grown",
                                         "GROWN_INIT"),
                     0);
    assert_int_equal(g.version, 2);
    assert_int_equal(g.limit, 1000);
}

static void test_unknown_versions_refused(void **state)
{
    (void)state;
    grown got;
    grown bad = {0, 1, 1};
    assert_int_equal(evs__versioned_copy(&got, &grown_defaults, &bad, sizeof got, grown_ends, 2,
                                         "grown", "GROWN_INIT"),
                     EVS_EINVAL);
    assert_non_null(strstr(evs__lasterr_msg(), "GROWN_INIT"));
    bad.version = 3;
    assert_int_equal(evs__versioned_copy(&got, &grown_defaults, &bad, sizeof got, grown_ends, 2,
                                         "grown", "GROWN_INIT"),
                     EVS_EINVAL);
    assert_non_null(strstr(evs__lasterr_msg(), "newer"));
    assert_int_equal(got.limit, 1000); /* the defaults, whatever was refused */
    assert_int_equal(evs__versioned_init(&got, &grown_defaults, 3, grown_ends, 2, "grown",
                                         "GROWN_INIT"),
                     EVS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_older_version_takes_defaults),
        cmocka_unit_test(test_init_writes_only_its_version),
        cmocka_unit_test(test_unknown_versions_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
