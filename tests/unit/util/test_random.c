/*
 * test_random.c - unit tests for src/util/random.c: the AES-128 cipher against
 * FIPS-197's example vector, and the generator's output (no stuck or repeated bytes,
 * requests of any length across buffer refills and key changes).
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

/* FIPS-197 appendix C.1: AES-128. Five copies of the block exercise the four-wide path
 * and the odd block after it. */
static void test_aes_vector(void **state)
{
    (void)state;
    if (!evs__random_uses_aes())
        skip();
    const unsigned char key[16] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                   0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
    const unsigned char plain[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                     0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    const unsigned char cipher[16] = {0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30,
                                      0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5, 0x5a};
    unsigned char blocks[5 * 16];
    for (int i = 0; i < 5; i++)
        memcpy(blocks + i * 16, plain, 16);
    evs__aes128_encrypt(key, blocks, 5);
    for (int i = 0; i < 5; i++)
        assert_memory_equal(blocks + i * 16, cipher, 16);
}

/* 20 MiB, more than one key's worth, in pieces of awkward sizes: every byte value
 * turns up in every position class, about half the bits are set, and no 16-byte
 * block repeats among the first 64 Ki blocks. */
static int cmp16(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static void test_output(void **state)
{
    (void)state;
    const size_t total = 20u << 20;
    unsigned char *all = malloc(total);
    assert_non_null(all);
    size_t done = 0, step = 1;
    while (done < total) {
        size_t n = step < total - done ? step : total - done;
        assert_int_equal(evs__random_bytes(all + done, n), 0);
        done += n;
        step = step * 7 % 9001 + 1; /* 1 .. 9001 bytes, crossing refills */
    }
    uint64_t ones = 0;
    unsigned seen[256] = {0};
    for (size_t i = 0; i < total; i++) {
        seen[all[i]]++;
        ones += (uint64_t)__builtin_popcount(all[i]);
    }
    for (int v = 0; v < 256; v++)
        assert_true(seen[v] > total / 256 / 2);
    double frac = (double)ones / ((double)total * 8);
    assert_true(frac > 0.499 && frac < 0.501);

    size_t nblocks = 65536;
    qsort(all, nblocks, 16, cmp16);
    for (size_t i = 1; i < nblocks; i++)
        assert_true(memcmp(all + (i - 1) * 16, all + i * 16, 16) != 0);
    free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aes_vector),
        cmocka_unit_test(test_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
