/*
 * test_crc32c.c - unit tests for src/util/crc32c.c: published CRC32C vectors, chaining,
 * and the hardware path against the portable one over every length, alignment and the
 * block sizes where the 3-way path switches tiers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "util.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t next_rand(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void fill_random(unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)next_rand();
}

/* Vectors from RFC 3720 (iSCSI) appendix B.4 and the usual check value. */
static void test_known_vectors(void **state)
{
    (void)state;
    unsigned char buf[32];
    assert_int_equal(evs__crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(evs__crc32c_sw(0, "123456789", 9), 0xE3069283u);

    memset(buf, 0, 32);
    assert_int_equal(evs__crc32c(0, buf, 32), 0x8A9136AAu);
    assert_int_equal(evs__crc32c_sw(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xFF, 32);
    assert_int_equal(evs__crc32c(0, buf, 32), 0x62A8AB43u);
    assert_int_equal(evs__crc32c_sw(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)i;
    assert_int_equal(evs__crc32c(0, buf, 32), 0x46DD794Eu);
    assert_int_equal(evs__crc32c_sw(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)(31 - i);
    assert_int_equal(evs__crc32c(0, buf, 32), 0x113FDB5Cu);
    assert_int_equal(evs__crc32c_sw(0, buf, 32), 0x113FDB5Cu);

    assert_int_equal(evs__crc32c(0, NULL, 0), 0);
    assert_int_equal(evs__crc32c(0x12345678u, "", 0), 0x12345678u);
}

static void test_chaining(void **state)
{
    (void)state;
    static unsigned char buf[70000];
    fill_random(buf, sizeof buf);
    uint32_t whole = evs__crc32c(0, buf, sizeof buf);
    assert_int_equal(whole, evs__crc32c_sw(0, buf, sizeof buf));
    for (int k = 0; k < 200; k++) {
        size_t cut = (size_t)(next_rand() % (sizeof buf + 1));
        uint32_t c = evs__crc32c(evs__crc32c(0, buf, cut), buf + cut, sizeof buf - cut);
        assert_int_equal(c, whole);
        c = evs__crc32c_sw(evs__crc32c_sw(0, buf, cut), buf + cut, sizeof buf - cut);
        assert_int_equal(c, whole);
    }
    /* Byte at a time. */
    uint32_t c = 0;
    for (size_t i = 0; i < 5000; i++)
        c = evs__crc32c(c, buf + i, 1);
    assert_int_equal(c, evs__crc32c(0, buf, 5000));
    assert_int_equal(evs__crc32c(0, "1234", 4), evs__crc32c(evs__crc32c(0, "12", 2), "34", 2));
}

static void test_hw_matches_sw(void **state)
{
    (void)state;
    uint32_t hw;
    if (!evs__crc32c_hw(&hw, 0, "", 0)) {
        print_message("no hardware CRC32C on this machine/build; skipped\n");
        skip();
    }
    enum { MAX = 5000 };
    static unsigned char buf[MAX + 64];
    fill_random(buf, sizeof buf);
    /* Every length 0..MAX at a rotating alignment, plus all 16 alignments for some. */
    for (size_t len = 0; len <= MAX; len++) {
        size_t align = len % 16;
        uint32_t seed = (uint32_t)next_rand();
        assert_true(evs__crc32c_hw(&hw, seed, buf + align, len));
        assert_int_equal(hw, evs__crc32c_sw(seed, buf + align, len));
    }
    for (int k = 0; k < 300; k++) {
        size_t len = (size_t)(next_rand() % (MAX + 1));
        for (size_t align = 0; align < 16; align++) {
            assert_true(evs__crc32c_hw(&hw, 0, buf + align, len));
            assert_int_equal(hw, evs__crc32c_sw(0, buf + align, len));
        }
    }
}

static void test_hw_matches_sw_large(void **state)
{
    (void)state;
    uint32_t hw;
    if (!evs__crc32c_hw(&hw, 0, "", 0))
        skip();
    /* Around the tier switches: 3*256 and 3*4096 bytes and their multiples. */
    enum { MAX = 3 * 4096 * 5 + 100 };
    static unsigned char buf[MAX + 16];
    fill_random(buf, sizeof buf);
    const size_t edges[] = {767,   768,         769,          775,   776,   1535,
                            1536,  1537,        12287,        12288, 12289, 12288 + 768,
                            24576, 24576 + 767, 3 * 4096 * 5, MAX};
    for (size_t e = 0; e < sizeof edges / sizeof edges[0]; e++) {
        for (size_t align = 0; align < 9; align++) {
            assert_true(evs__crc32c_hw(&hw, 7, buf + align, edges[e]));
            assert_int_equal(hw, evs__crc32c_sw(7, buf + align, edges[e]));
        }
    }
    for (int k = 0; k < 50; k++) {
        size_t len = (size_t)(next_rand() % (MAX + 1));
        assert_true(evs__crc32c_hw(&hw, 0, buf, len));
        assert_int_equal(hw, evs__crc32c_sw(0, buf, len));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors),
        cmocka_unit_test(test_chaining),
        cmocka_unit_test(test_hw_matches_sw),
        cmocka_unit_test(test_hw_matches_sw_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
