/*
 * crc32c.c - CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every
 * record the file backend writes.
 *
 * Two implementations behind one entry point, chosen once at run time:
 *  - hardware: the SSE4.2 crc32 instruction, 8 bytes per instruction. The instruction
 *    has a latency of about 3 cycles but a throughput of one per cycle, so a single
 *    dependency chain runs at a third of the possible speed. Long buffers are therefore
 *    cut into three blocks whose CRCs are computed as three independent chains in one
 *    loop and then joined: crc(A||B) = crc(A)*x^(8|B|) mod P  xor  crc0(B), where crc0
 *    starts from a zero register. The multiplication by the fixed x^(8|B|) is a linear
 *    map on 32-bit values, precomputed as four 256-entry tables (one per input byte).
 *  - software: slicing-by-8 tables, used on CPUs without SSE4.2 and on non-x86 builds.
 *
 * Everything works on the raw CRC register; the standard pre- and post-inversion is
 * applied once per call, which is what makes evs__crc32c(evs__crc32c(0, a), b) chain.
 * Tables are built at first use (pthread_once), which also picks the implementation.
 */
#include "util.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* -DEVS_CRC_PORTABLE builds the portable path only, as on a non-x86 machine. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(EVS_CRC_PORTABLE)
#define EVS_CRC_X86 1
#include <nmmintrin.h>
#else
#define EVS_CRC_X86 0
#endif

#define POLY 0x82F63B78u

/* Per-stream block lengths of the 3-way hardware path, each a multiple of 8. The long
 * block makes the join cost negligible on big buffers; the short one still triples the
 * speed of buffers from 768 bytes up. */
#define LONG_BLOCK  ((size_t)4096)
#define SHORT_BLOCK ((size_t)256)
/* Log records are ~100-300 bytes: three 64-byte lanes in flight hide the crc32
 * instruction's 3-cycle latency on them too. */
#define TINY_BLOCK ((size_t)64)

static uint32_t sw_table[8][256];
static uint32_t shift_long[4][256];  /* x -> x * x^(8*LONG_BLOCK) mod P */
static uint32_t shift_short[4][256]; /* x -> x * x^(8*SHORT_BLOCK) mod P */
static uint32_t shift_tiny[4][256];  /* x -> x * x^(8*TINY_BLOCK) mod P */
#if EVS_CRC_X86
static bool have_hw;
#endif
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static bool ready; /* crc_init has run */

/* a * b mod P in the reflected representation, where bit 31 holds the coefficient of
 * x^0 and bit 0 that of x^31. Walks a's terms from x^0 up while b is multiplied by x. */
static uint32_t gf_mul(uint32_t a, uint32_t b)
{
    uint32_t prod = 0;
    for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
        if (a & m)
            prod ^= b;
        b = (b & 1) ? (b >> 1) ^ POLY : b >> 1;
    }
    return prod;
}

/* x^n mod P by square-and-multiply. */
static uint32_t gf_xpow(uint64_t n)
{
    uint32_t result = 1u << 31; /* x^0 */
    uint32_t sq = 1u << 30;     /* x^1 */
    while (n != 0) {
        if (n & 1)
            result = gf_mul(result, sq);
        sq = gf_mul(sq, sq);
        n >>= 1;
    }
    return result;
}

static void build_shift(uint32_t table[4][256], size_t block_len)
{
    uint32_t k = gf_xpow((uint64_t)block_len * 8);
    for (int byte = 0; byte < 4; byte++)
        for (uint32_t v = 0; v < 256; v++)
            table[byte][v] = gf_mul(v << (8 * byte), k);
}

static inline uint32_t shift_apply(const uint32_t table[4][256], uint32_t crc)
{
    return table[0][crc & 0xFF] ^ table[1][(crc >> 8) & 0xFF] ^ table[2][(crc >> 16) & 0xFF] ^
           table[3][crc >> 24];
}

static void crc_init(void)
{
    for (uint32_t v = 0; v < 256; v++) {
        uint32_t c = v;
        for (int i = 0; i < 8; i++)
            c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
        sw_table[0][v] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int v = 0; v < 256; v++)
            sw_table[t][v] = (sw_table[t - 1][v] >> 8) ^ sw_table[0][sw_table[t - 1][v] & 0xFF];
    build_shift(shift_long, LONG_BLOCK);
    build_shift(shift_short, SHORT_BLOCK);
    build_shift(shift_tiny, TINY_BLOCK);
#if EVS_CRC_X86
    __builtin_cpu_init();
    have_hw = __builtin_cpu_supports("sse4.2");
#endif
    ready = true;
}

/* Initialise when the library is loaded, before any thread exists, so that the hot
 * path tests a plain flag instead of calling pthread_once per checksum (a record
 * checksum is ~30 ns; the call was a tenth of it). */
__attribute__((constructor)) static void crc_init_at_load(void)
{
    pthread_once(&init_once, crc_init);
}

static uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t crc_sw(uint32_t reg, const unsigned char *p, size_t len)
{
    while (len >= 8) {
        uint32_t lo = reg ^ load_le32(p);
        uint32_t hi = load_le32(p + 4);
        reg = sw_table[7][lo & 0xFF] ^ sw_table[6][(lo >> 8) & 0xFF] ^
              sw_table[5][(lo >> 16) & 0xFF] ^ sw_table[4][lo >> 24] ^ sw_table[3][hi & 0xFF] ^
              sw_table[2][(hi >> 8) & 0xFF] ^ sw_table[1][(hi >> 16) & 0xFF] ^
              sw_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        reg = (reg >> 8) ^ sw_table[0][(reg ^ *p++) & 0xFF];
    return reg;
}

#if EVS_CRC_X86
static inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8); /* x86 is little-endian; the instruction wants memory order */
    return v;
}

/* One step of three interleaved chains over blocks of `block` bytes at p, p+block and
 * p+2*block; returns the joined register. */
__attribute__((target("sse4.2"))) static inline uint32_t
crc_hw_3way(uint32_t reg, const unsigned char *p, size_t block, const uint32_t shift[4][256])
{
    uint64_t a = reg, b = 0, c = 0;
    const unsigned char *end = p + block;
    while (p < end) {
        a = _mm_crc32_u64(a, load64(p));
        b = _mm_crc32_u64(b, load64(p + block));
        c = _mm_crc32_u64(c, load64(p + 2 * block));
        p += 8;
    }
    uint32_t r = shift_apply(shift, (uint32_t)a) ^ (uint32_t)b;
    return shift_apply(shift, r) ^ (uint32_t)c;
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t reg, const unsigned char *p,
                                                         size_t len)
{
    while (len >= 3 * LONG_BLOCK) {
        reg = crc_hw_3way(reg, p, LONG_BLOCK, shift_long);
        p += 3 * LONG_BLOCK;
        len -= 3 * LONG_BLOCK;
    }
    while (len >= 3 * SHORT_BLOCK) {
        reg = crc_hw_3way(reg, p, SHORT_BLOCK, shift_short);
        p += 3 * SHORT_BLOCK;
        len -= 3 * SHORT_BLOCK;
    }
    while (len >= 3 * TINY_BLOCK) {
        reg = crc_hw_3way(reg, p, TINY_BLOCK, shift_tiny);
        p += 3 * TINY_BLOCK;
        len -= 3 * TINY_BLOCK;
    }
    uint64_t r = reg;
    while (len >= 8) {
        r = _mm_crc32_u64(r, load64(p));
        p += 8;
        len -= 8;
    }
    reg = (uint32_t)r;
    if (len >= 4) {
        uint32_t v;
        memcpy(&v, p, 4);
        reg = _mm_crc32_u32(reg, v);
        p += 4;
        len -= 4;
    }
    while (len-- > 0)
        reg = _mm_crc32_u8(reg, *p++);
    return reg;
}
#endif

uint32_t evs__crc32c(uint32_t crc, const void *buf, size_t len)
{
    if (__builtin_expect(!ready, 0))
        pthread_once(&init_once, crc_init);
#if EVS_CRC_X86
    if (have_hw)
        return ~crc_hw(~crc, buf, len);
#endif
    return ~crc_sw(~crc, buf, len);
}

uint32_t evs__crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&init_once, crc_init);
    return ~crc_sw(~crc, buf, len);
}

bool evs__crc32c_hw(uint32_t *out, uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&init_once, crc_init);
#if EVS_CRC_X86
    if (have_hw) {
        *out = ~crc_hw(~crc, buf, len);
        return true;
    }
#endif
    (void)out;
    (void)crc;
    (void)buf;
    (void)len;
    return false;
}
