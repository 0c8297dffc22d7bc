/*
 * two_stores_fixture.h - the cmocka group fixture of the tests that compare a big store
 * with a small one (opening costs the same whatever the size): both built once, in
 * batches the test appends, in one temporary directory that the teardown removes; and
 * the median of a run of timings.
 */
#ifndef EVS_TEST_TWO_STORES_FIXTURE_H
#define EVS_TEST_TWO_STORES_FIXTURE_H

#include "testutil.h"

#include <inttypes.h>

typedef struct tu_two_stores {
    char big[4096];
    char small[4200]; /* beside big: "<big>-small" */
    int64_t big_n;    /* what the big store was filled with */
} tu_two_stores;

/* Nanoseconds on the monotonic clock, for timing. */
static inline int64_t tu_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Appends the items [done, done + n) of a store being built (n at most
 * TU_FILL_BATCH); 0 or the library's error. */
typedef int (*tu_fill_batch_fn)(evs_store *s, int64_t done, size_t n);

#define TU_FILL_BATCH 1000

/* Build the store at dir with n items, TU_FILL_BATCH at a time: 0, or -1 (printed). */
static inline int tu_fill_store(const char *dir, int64_t n, tu_fill_batch_fn batch)
{
    evs_options o = tu_fast_options();
    evs_store *s;
    if (evs_open(&s, dir, &o) != 0)
        return -1;
    for (int64_t done = 0; done < n;) {
        size_t k = n - done < TU_FILL_BATCH ? (size_t)(n - done) : TU_FILL_BATCH;
        if (batch(s, done, k) != 0) {
            print_error("building %s: %s\n", dir, evs_errmsg());
            evs_close(s);
            return -1;
        }
        done += (int64_t)k;
    }
    return evs_close(s);
}

/* The group setup: builds the big store with big_n items (of whatever `what` names)
 * and the small one with small_n, by `batch`; `tag` names the temporary directory. */
static inline int tu_two_stores_setup(void **state, const char *tag, tu_fill_batch_fn batch,
                                      int64_t big_n, int64_t small_n, const char *what)
{
    tu_two_stores *st = calloc(1, sizeof *st);
    if (!st)
        return -1;
    *state = st;
    st->big_n = big_n;
    tu_tmpdir(st->big, sizeof st->big, tag);
    snprintf(st->small, sizeof st->small, "%s-small", st->big);
    int64_t t0 = tu_mono_ns();
    if (tu_fill_store(st->big, big_n, batch) != 0 ||
        tu_fill_store(st->small, small_n, batch) != 0)
        return -1;
    print_message("built a store of %" PRId64 " %s and one of %" PRId64 " in %.1f s\n", big_n,
                  what, small_n, (double)(tu_mono_ns() - t0) / 1e9);
    return 0;
}

static inline int tu_two_stores_teardown(void **state)
{
    tu_two_stores *st = *state;
    tu_cleanup(st->big); /* the small store is in the same temporary directory */
    free(st);
    return 0;
}

static inline int tu_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The median of the n timings at t (sorted in place). */
static inline int64_t tu_median_i64(int64_t *t, size_t n)
{
    qsort(t, n, sizeof *t, tu_cmp_i64);
    return t[n / 2];
}

#endif /* EVS_TEST_TWO_STORES_FIXTURE_H */
