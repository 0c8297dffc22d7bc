/*
 * test_idset.c - unit tests for src/file/idset.c, the writer's set of event-id
 * fingerprints. The writer skips its duplicate check when the set says an id is new, so
 * a fingerprint added and then not found would let a duplicate in: every test below
 * checks that nothing added is ever missed, and that a set emptied says so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "idset.h"

/* Distinct non-zero values spread over the whole range, as fingerprints are. */
static uint64_t value(uint64_t i)
{
    uint64_t x = (i + 1) * 0x9e3779b97f4a7c15u;
    x ^= x >> 31;
    return x ? x : 1;
}

static void test_empty_set_has_nothing(void **state)
{
    (void)state;
    id_set *s = evs__idset_new(1000);
    assert_non_null(s);
    assert_int_equal(evs__idset_count(s), 0);
    assert_false(evs__idset_has(s, 1));
    assert_false(evs__idset_has(s, value(7)));
    evs__idset_free(s);
    evs__idset_free(NULL);
}

/* Through several growths of the table: every value added is found, and none of those
 * never added is (the set compares whole fingerprints). */
static void test_add_then_find_through_growth(void **state)
{
    (void)state;
    enum { N = 50000 };
    id_set *s = evs__idset_new(1u << 20);
    assert_non_null(s);
    for (uint64_t i = 0; i < N; i++) {
        assert_true(evs__idset_add(s, value(i), i + 1));
        assert_true(evs__idset_has(s, value(i)));
    }
    assert_int_equal(evs__idset_count(s), N);
    for (uint64_t i = 0; i < N; i++)
        assert_true(evs__idset_has(s, value(i)));
    for (uint64_t i = 0; i < N; i++) /* positions survive the table's growth */
        assert_int_equal(evs__idset_pos(s, value(i)), i + 1);
    for (uint64_t i = N; i < 2 * N; i++) {
        assert_false(evs__idset_has(s, value(i)));
        assert_int_equal(evs__idset_pos(s, value(i)), 0);
    }
    evs__idset_free(s);
}

/* Values that collide in the table's low bits: probing must walk past the others. */
static void test_colliding_values(void **state)
{
    (void)state;
    id_set *s = evs__idset_new(1u << 20);
    assert_non_null(s);
    for (uint64_t i = 1; i <= 3000; i++)
        assert_true(evs__idset_add(s, i << 32, i));
    for (uint64_t i = 1; i <= 3000; i++)
        assert_true(evs__idset_has(s, i << 32));
    for (uint64_t i = 1; i <= 3000; i++)
        assert_int_equal(evs__idset_pos(s, i << 32), i);
    assert_false(evs__idset_has(s, 3001ull << 32));
    assert_int_equal(evs__idset_count(s), 3000);
    evs__idset_free(s);
}

static void test_adding_twice_counts_once(void **state)
{
    (void)state;
    id_set *s = evs__idset_new(1u << 20);
    assert_non_null(s);
    assert_true(evs__idset_add(s, 42, 0));
    assert_true(evs__idset_add(s, 42, 0));
    assert_true(evs__idset_add(s, 43, 0));
    assert_int_equal(evs__idset_count(s), 2);
    evs__idset_free(s);
}

/* Past its maximum the set empties itself and says so; it then starts again. */
static void test_past_the_maximum_the_set_empties(void **state)
{
    (void)state;
    enum { MAX = 2048 }; /* the first table holds 2,048 before it must grow */
    id_set *s = evs__idset_new(MAX);
    assert_non_null(s);
    uint64_t i = 0;
    while (evs__idset_add(s, value(i), i + 1))
        i++;
    assert_int_equal(i, MAX);
    assert_int_equal(evs__idset_count(s), 0);
    for (uint64_t j = 0; j <= i; j++)
        assert_false(evs__idset_has(s, value(j)));
    assert_true(evs__idset_add(s, value(5), 0));
    assert_true(evs__idset_has(s, value(5)));
    assert_int_equal(evs__idset_count(s), 1);
    evs__idset_clear(s);
    assert_false(evs__idset_has(s, value(5)));
    assert_int_equal(evs__idset_count(s), 0);
    evs__idset_free(s);
}

/* A position is a hint kept with its fingerprint: the newest one given wins, and adding
 * again without one (0) keeps what was known. */
static void test_positions(void **state)
{
    (void)state;
    id_set *s = evs__idset_new(1u << 20);
    assert_non_null(s);
    assert_true(evs__idset_add(s, 42, 0));
    assert_int_equal(evs__idset_pos(s, 42), 0);
    assert_true(evs__idset_add(s, 42, 7));
    assert_int_equal(evs__idset_pos(s, 42), 7);
    assert_true(evs__idset_add(s, 42, 0));
    assert_int_equal(evs__idset_pos(s, 42), 7);
    assert_true(evs__idset_add(s, 42, 9));
    assert_int_equal(evs__idset_pos(s, 42), 9);
    assert_int_equal(evs__idset_count(s), 1);
    evs__idset_clear(s);
    assert_int_equal(evs__idset_pos(s, 42), 0);
    evs__idset_free(s);
}

static void test_fingerprint(void **state)
{
    (void)state;
    unsigned char a[16] = {0}, b[16] = {0};
    assert_int_equal(evs__id_fingerprint(a), 1); /* never 0: 0 marks an empty slot */
    b[15] = 1;
    assert_true(evs__id_fingerprint(a) != evs__id_fingerprint(b));
    b[15] = 0;
    b[1] = 1;
    assert_true(evs__id_fingerprint(a) != evs__id_fingerprint(b));
    /* Both halves count: ids that differ only in their second half differ. */
    unsigned char c[16], d[16];
    memset(c, 0xab, sizeof c);
    memcpy(d, c, sizeof d);
    d[8] ^= 0x10;
    assert_true(evs__id_fingerprint(c) != evs__id_fingerprint(d));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_set_has_nothing),
        cmocka_unit_test(test_add_then_find_through_growth),
        cmocka_unit_test(test_colliding_values),
        cmocka_unit_test(test_adding_twice_counts_once),
        cmocka_unit_test(test_past_the_maximum_the_set_empties),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_fingerprint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
