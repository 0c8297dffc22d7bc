/*
 * hash.c - evs__hash64, the 64-bit hash of stream names and event types.
 *
 * The value is stored on disk (stream index), so it must never change and must not
 * depend on the machine: input words are assembled little-endian byte by byte (the
 * compiler turns that into one load on little-endian CPUs), and the arithmetic is plain
 * 64-bit integer math.
 *
 * Shape: a state seeded with the length, then for each 16-byte chunk one "fold"
 * (64x64 -> 128-bit multiply, high half xor low half) of the two words, keyed with
 * constants and the running state. The last 1..16 bytes are read as two possibly
 * overlapping words, which covers every byte exactly enough that, for a given length,
 * different inputs give different word pairs. A final avalanche spreads every input bit
 * over all 64 output bits. Not cryptographic: an adversary can build collisions.
 *
 * Test vectors in tests/unit/util/test_hash.c pin the output; changing anything here
 * changes the on-disk format.
 */
#include "util.h"

#include <stdint.h>

/* Odd constants with well-spread bits (fractional parts of sqrt(2), sqrt(3), e, pi). */
#define K0 0x6A09E667F3BCC909ull
#define K1 0xBB67AE8584CAA73Bull
#define K2 0xB7E151628AED2A6Bull
#define K3 0x243F6A8885A308D3ull

static inline uint64_t fold_mul(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    __extension__ typedef unsigned __int128 u128;
    u128 m = (u128)a * b;
    return (uint64_t)m ^ (uint64_t)(m >> 64);
#else
    uint64_t a_lo = a & 0xFFFFFFFFu, a_hi = a >> 32;
    uint64_t b_lo = b & 0xFFFFFFFFu, b_hi = b >> 32;
    uint64_t ll = a_lo * b_lo, lh = a_lo * b_hi, hl = a_hi * b_lo, hh = a_hi * b_hi;
    uint64_t mid = (ll >> 32) + (lh & 0xFFFFFFFFu) + (hl & 0xFFFFFFFFu);
    uint64_t lo = (ll & 0xFFFFFFFFu) | (mid << 32);
    uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    return lo ^ hi;
#endif
}

static inline uint64_t le64(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

static inline uint64_t le32(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
}

uint64_t evs__hash64(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    size_t n = len;
    uint64_t h = K0 ^ fold_mul((uint64_t)len ^ K3, K1);

    while (n > 16) {
        /* xor-ing h back in keeps the state even when a word cancels its key and the
         * product is zero. */
        h ^= fold_mul(le64(p) ^ K2, le64(p + 8) ^ h);
        p += 16;
        n -= 16;
    }

    uint64_t a, b;
    if (n > 8) {
        a = le64(p);
        b = le64(p + n - 8);
    } else if (n >= 4) {
        a = le32(p);
        b = le32(p + n - 4);
    } else if (n > 0) {
        a = (uint64_t)p[0] | (uint64_t)p[n / 2] << 8 | (uint64_t)p[n - 1] << 16;
        b = 0;
    } else {
        a = 0;
        b = 0;
    }
    h ^= fold_mul(a ^ K2, b ^ h ^ K3);

    /* Avalanche: xor-shift / multiply rounds, each a bijection on 64 bits. */
    h ^= h >> 32;
    h *= 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return h;
}
