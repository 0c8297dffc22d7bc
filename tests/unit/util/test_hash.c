/*
 * test_hash.c - unit tests for src/util/hash.c. The pinned values below are part of the
 * on-disk format: if one changes, every stored stream index becomes unreadable, so the
 * fix is to restore the function, never to update the numbers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void test_pinned_values(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        uint64_t hash;
    } pinned[] = {
        {"", 0x27e5c77b9a4ef380ull},
        {"a", 0x65278fee759da048ull},
        {"ab", 0xf0abba25029fac40ull},
        {"abc", 0x605189edb5860e26ull},
        {"abcd", 0x89c27687c95f2b58ull},
        {"order-1", 0x0e7f9209954c7a0cull},
        {"order-42", 0x9351bf1d252b54e2ull},
        {"ItemAdded", 0x51060c2a89e5ba67ull},
        {"0123456789abcdef", 0xa9f5494e77e034f9ull},
        {"0123456789abcdef0", 0xe62a496520904e6cull},
        {"customer-0123456789abcdef", 0x32e2f0884345b02cull},
        {"The quick brown fox jumps over the lazy dog, 60 bytes long!!", 0xd86006cdbcb79c39ull},
    };
    for (size_t i = 0; i < sizeof pinned / sizeof pinned[0]; i++) {
        uint64_t h = evs__hash64(pinned[i].key, strlen(pinned[i].key));
        if (h != pinned[i].hash)
            fail_msg("hash64(\"%s\") = 0x%016llx, pinned 0x%016llx: the on-disk hash changed",
                     pinned[i].key, (unsigned long long)h, (unsigned long long)pinned[i].hash);
    }
}

static void test_no_alignment_or_tail_dependence(void **state)
{
    (void)state;
    /* Same bytes at any address hash the same; bytes past len never matter. */
    unsigned char a[128], b[160];
    for (int i = 0; i < 128; i++)
        a[i] = (unsigned char)(i * 7 + 3);
    for (size_t len = 0; len <= 100; len++) {
        uint64_t h = evs__hash64(a, len);
        for (size_t off = 1; off < 16; off++) {
            memset(b, 0xA5, sizeof b);
            memcpy(b + off, a, len);
            assert_true(evs__hash64(b + off, len) == h);
        }
    }
    /* Length is mixed in: a prefix of zeros differs from a longer run of zeros. */
    unsigned char z[32] = {0};
    for (size_t n = 0; n < 32; n++)
        assert_true(evs__hash64(z, n) != evs__hash64(z, n + 1));
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static void test_distribution(void **state)
{
    (void)state;
    enum { N = 1000000, BUCKETS = 1024 };
    uint64_t *h = malloc(N * sizeof *h);
    assert_non_null(h);
    static unsigned lo[BUCKETS], hi[BUCKETS];
    char key[32];
    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof key, "order-%d", i);
        h[i] = evs__hash64(key, (size_t)n);
        lo[h[i] % BUCKETS]++;
        hi[h[i] >> 54]++;
    }
    /* Chi-square over 1023 degrees of freedom: mean 1023, sd ~45; allow 6 sd. */
    double chi_lo = 0, chi_hi = 0, expect = (double)N / BUCKETS;
    for (int b = 0; b < BUCKETS; b++) {
        chi_lo += (lo[b] - expect) * (lo[b] - expect) / expect;
        chi_hi += (hi[b] - expect) * (hi[b] - expect) / expect;
    }
    print_message("chi-square low bits %.0f, high bits %.0f (expect ~1023)\n", chi_lo, chi_hi);
    assert_true(chi_lo < 1300 && chi_lo > 750);
    assert_true(chi_hi < 1300 && chi_hi > 750);

    qsort(h, N, sizeof *h, cmp_u64);
    for (int i = 1; i < N; i++)
        if (h[i] == h[i - 1])
            fail_msg("64-bit collision among order-<k> keys");
    free(h);
}

static void test_avalanche(void **state)
{
    (void)state;
    /* Flipping one input bit flips each output bit with probability near 1/2. */
    enum { SAMPLES = 40000 };
    static unsigned flips[64];
    uint64_t x = 12345;
    for (int s = 0; s < SAMPLES; s++) {
        unsigned char k[64];
        size_t len = 1 + (size_t)s % 60;
        for (size_t i = 0; i < len; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            k[i] = (unsigned char)(x >> 56);
        }
        uint64_t h0 = evs__hash64(k, len);
        size_t bit = (size_t)(x >> 20) % (len * 8);
        k[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        uint64_t d = h0 ^ evs__hash64(k, len);
        for (int b = 0; b < 64; b++)
            flips[b] += (unsigned)(d >> b) & 1;
    }
    for (int b = 0; b < 64; b++) {
        double p = (double)flips[b] / SAMPLES;
        if (p < 0.47 || p > 0.53)
            fail_msg("output bit %d flips with probability %.3f", b, p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned_values),
        cmocka_unit_test(test_no_alignment_or_tail_dependence),
        cmocka_unit_test(test_distribution),
        cmocka_unit_test(test_avalanche),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
