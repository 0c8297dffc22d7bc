/*
 * test_backend_table.c - the registry's check of a backend's method table (src/core
 * registry.c): every method is required, so the core calls them without checking; the
 * compiled-in file backend has them all, and a table that lacks one is named by it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "backend.h"
#include "evstore.h"
#include "util.h"

static void test_file_backend_complete(void **state)
{
    (void)state;
    const evs__backend_methods *m = evs__backend_find("file");
    assert_non_null(m);
    assert_null(evs__backend_missing_method(m));
    assert_null(evs__backend_find("no-such-backend"));
    assert_int_equal(evs__lasterr_code(), EVS_ENOTSUP);
    assert_non_null(strstr(evs__lasterr_msg(), "no-such-backend"));
}

static void test_missing_method_named(void **state)
{
    (void)state;
    evs__backend_methods t = *evs__backend_find("file");
    t.wake = NULL;
    assert_string_equal(evs__backend_missing_method(&t), "wake");
    t = *evs__backend_find("file");
    t.filter_store = NULL;
    assert_string_equal(evs__backend_missing_method(&t), "filter_store");
    t = *evs__backend_find("file");
    t.open = NULL;
    assert_string_equal(evs__backend_missing_method(&t), "open");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_backend_complete),
        cmocka_unit_test(test_missing_method_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
