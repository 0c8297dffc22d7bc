/*
 * utf8.c - UTF-8 validation (evs__utf8_validate and the JSON string checks) and the
 * choice of SIMD code path that the JSON layer shares.
 *
 * Three implementations give the same answer and the same offset (the first byte of
 * the first ill-formed sequence, a stray continuation byte being a sequence of its own):
 *  - scalar: skips ASCII 8 bytes at a time and checks each multi-byte sequence against
 *    the table of well-formed byte sequences (Unicode 15, table 3-7);
 *  - SSE2: the same, skipping ASCII 16 bytes at a time;
 *  - AVX2: checks 32 bytes per step with no branch per character, using the published
 *    "lookup" method of Keiser and Lemire (2021): each pair of adjacent bytes is
 *    classified through three 16-entry tables indexed by nibbles, and a separate test
 *    requires continuation bytes exactly where a 3- or 4-byte lead demands them. When a
 *    block fails, the scalar code reruns from the last character boundary to find the
 *    exact offset, so error reporting has only one implementation.
 */
#include "json_internal.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* ---- code path selection ---------------------------------------------------------- */

/* -1 until first use. Relaxed atomics: every thread computes the same value. */
static atomic_int simd_best = -1;
static atomic_int simd_forced = -1;

static int detect_simd(void)
{
#if EVS_JSON_X86
    __builtin_cpu_init();
    /* libgcc and compiler-rt report avx2 only when the OS saves the YMM registers. */
    if (__builtin_cpu_supports("avx2"))
        return EVS_SIMD_AVX2;
    return EVS_SIMD_SSE2;
#else
    return EVS_SIMD_SCALAR;
#endif
}

static int best_simd(void)
{
    int best = atomic_load_explicit(&simd_best, memory_order_relaxed);
    if (best < 0) {
        best = detect_simd();
        atomic_store_explicit(&simd_best, best, memory_order_relaxed);
    }
    return best;
}

int evs__json_simd_level(void)
{
    int forced = atomic_load_explicit(&simd_forced, memory_order_relaxed);
    return forced >= 0 ? forced : best_simd();
}

int evs__json_force_simd(int level)
{
    int best = best_simd();
    if (level > best)
        level = best;
    atomic_store_explicit(&simd_forced, level < 0 ? -1 : level, memory_order_relaxed);
    return evs__json_simd_level();
}

/* ---- scalar ----------------------------------------------------------------------- */

/* Length of the well-formed multi-byte sequence at s (s[0] >= 0x80, avail >= 1 bytes
 * readable), or 0 when it is ill-formed or cut short. */
static size_t seq_len(const unsigned char *s, size_t avail)
{
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t n;

    if (c < 0xC2) /* continuation byte, or the overlong leads 0xC0 0xC1 */
        return 0;
    if (c < 0xE0) {
        n = 2;
    } else if (c < 0xF0) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* below is an overlong 2-byte form */
        else if (c == 0xED)
            hi = 0x9F; /* above are the surrogates U+D800..DFFF */
    } else if (c < 0xF5) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; /* below is an overlong 3-byte form */
        else if (c == 0xF4)
            hi = 0x8F; /* above is past U+10FFFF */
    } else {
        return 0;
    }
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    }
    return n;
}

static bool utf8_scalar(const unsigned char *s, size_t len, size_t i, size_t *bad_off)
{
    while (i < len) {
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if ((w & 0x8080808080808080u) == 0) {
                i += 8;
                continue;
            }
        }
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = seq_len(s + i, len - i);
        if (n == 0) {
            *bad_off = i;
            return false;
        }
        i += n;
    }
    return true;
}

#if EVS_JSON_X86
/* ---- SSE2 ------------------------------------------------------------------------- */

static bool utf8_sse2(const unsigned char *s, size_t len, size_t *bad_off)
{
    size_t i = 0;

    while (len - i >= 16) {
        unsigned m = (unsigned)_mm_movemask_epi8(EVS_LOAD16(s + i));
        if (m == 0) {
            i += 16;
            continue;
        }
        i += (size_t)__builtin_ctz(m);
        /* Non-ASCII text (CJK, Cyrillic) comes in runs: stay scalar through a run. */
        do {
            size_t n = seq_len(s + i, len - i);
            if (n == 0) {
                *bad_off = i;
                return false;
            }
            i += n;
        } while (i < len && s[i] >= 0x80);
    }
    return utf8_scalar(s, len, i, bad_off);
}

/* ---- AVX2 ------------------------------------------------------------------------- */

/* Error classes of a byte pair (prev, cur). Each is a product of a set of high
 * nibbles of prev, a set of low nibbles of prev and a set of high nibbles of cur, so
 * ANDing one lookup per nibble yields exactly the classes the pair falls in. */
#define TOO_SHORT 0x01 /* lead byte followed by a non-continuation */
#define TOO_LONG  0x02 /* ASCII followed by a continuation */
#define OVERLONG3 0x04 /* E0 80..9F */
#define TOO_LARGE 0x08 /* F4 90..BF, F5..FF 90..BF */
#define SURROGATE 0x10 /* ED A0..BF */
#define OVERLONG2 0x20 /* C0 or C1 then a continuation */
#define OVERLONG4 0x40 /* F0 80..8F; also F5..FF 80..8F */
#define TWO_CONTS 0x80 /* continuation after continuation: fine only as 3rd/4th byte */

#define CONT_ALL (TOO_LONG | TWO_CONTS | OVERLONG2)
#define LOW_ANY  (TOO_SHORT | TOO_LONG | TWO_CONTS)

/* clang-format off */
static const unsigned char prev_high_tbl[16] = {
    TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, /* 0..7 */
    TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS,                                     /* 8..B */
    TOO_SHORT | OVERLONG2,                                                          /* C */
    TOO_SHORT,                                                                      /* D */
    TOO_SHORT | OVERLONG3 | SURROGATE,                                              /* E */
    TOO_SHORT | TOO_LARGE | OVERLONG4,                                              /* F */
};

static const unsigned char prev_low_tbl[16] = {
    LOW_ANY | OVERLONG2 | OVERLONG3 | OVERLONG4,            /* 0 */
    LOW_ANY | OVERLONG2,                                    /* 1 */
    LOW_ANY, LOW_ANY,                                       /* 2, 3 */
    LOW_ANY | TOO_LARGE,                                    /* 4 */
    LOW_ANY | TOO_LARGE | OVERLONG4, LOW_ANY | TOO_LARGE | OVERLONG4,
    LOW_ANY | TOO_LARGE | OVERLONG4, LOW_ANY | TOO_LARGE | OVERLONG4,
    LOW_ANY | TOO_LARGE | OVERLONG4, LOW_ANY | TOO_LARGE | OVERLONG4,
    LOW_ANY | TOO_LARGE | OVERLONG4, LOW_ANY | TOO_LARGE | OVERLONG4, /* 5..C */
    LOW_ANY | TOO_LARGE | OVERLONG4 | SURROGATE,            /* D */
    LOW_ANY | TOO_LARGE | OVERLONG4, LOW_ANY | TOO_LARGE | OVERLONG4, /* E, F */
};

static const unsigned char cur_high_tbl[16] = {
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
    CONT_ALL | OVERLONG3 | OVERLONG4,                       /* 0x80..0x8F */
    CONT_ALL | OVERLONG3 | TOO_LARGE,                       /* 0x90..0x9F */
    CONT_ALL | TOO_LARGE | SURROGATE,                       /* 0xA0..0xAF */
    CONT_ALL | TOO_LARGE | SURROGATE,                       /* 0xB0..0xBF */
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
};
/* clang-format on */

/* The last three bytes of a block may start sequences that continue in the next one:
 * a byte above these limits at the matching position is an unfinished lead. */
static const unsigned char tail_limit_tbl[32] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xEF, 0xDF, 0xBF};

__attribute__((target("avx2"))) static inline __m256i tbl_avx2(const unsigned char *t)
{
    return _mm256_broadcastsi128_si256(EVS_LOAD16(t));
}

/* Non-zero bytes where block `in` (preceded by block `prev`) is ill-formed. */
__attribute__((target("avx2"))) static inline __m256i check_avx2(__m256i in, __m256i prev)
{
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    /* The input shifted right by 1, 2 and 3 bytes, pulling in the end of prev. */
    __m256i carry = _mm256_permute2x128_si256(prev, in, 0x21);
    __m256i prev1 = _mm256_alignr_epi8(in, carry, 15);
    __m256i prev2 = _mm256_alignr_epi8(in, carry, 14);
    __m256i prev3 = _mm256_alignr_epi8(in, carry, 13);

    __m256i p_hi = _mm256_and_si256(_mm256_srli_epi16(prev1, 4), low4);
    __m256i p_lo = _mm256_and_si256(prev1, low4);
    __m256i c_hi = _mm256_and_si256(_mm256_srli_epi16(in, 4), low4);
    __m256i cls = _mm256_and_si256(_mm256_shuffle_epi8(tbl_avx2(prev_high_tbl), p_hi),
                                   _mm256_shuffle_epi8(tbl_avx2(prev_low_tbl), p_lo));
    cls = _mm256_and_si256(cls, _mm256_shuffle_epi8(tbl_avx2(cur_high_tbl), c_hi));

    /* A byte must be a continuation after a continuation exactly when it is the 3rd
     * byte of an E0..FF lead or the 4th of an F0..FF lead. */
    __m256i third = _mm256_subs_epu8(prev2, _mm256_set1_epi8((char)0xDF));
    __m256i fourth = _mm256_subs_epu8(prev3, _mm256_set1_epi8((char)0xEF));
    __m256i must = _mm256_cmpgt_epi8(_mm256_or_si256(third, fourth), _mm256_setzero_si256());
    must = _mm256_and_si256(must, _mm256_set1_epi8((char)0x80));
    return _mm256_xor_si256(cls, must);
}

/* A block failed at or after i: rerun the scalar check from the character boundary
 * at or just before i (everything before it passed). */
static bool utf8_locate(const unsigned char *s, size_t len, size_t i, size_t *bad_off)
{
    for (int k = 0; k < 3 && i > 0 && (s[i - 1] & 0xC0) == 0x80; k++)
        i--;
    if (i > 0 && s[i - 1] >= 0xC0)
        i--;
    return utf8_scalar(s, len, i, bad_off);
}

/* len >= 32 */
__attribute__((target("avx2"))) static bool utf8_avx2(const unsigned char *s, size_t len,
                                                      size_t *bad_off)
{
    const __m256i limit = EVS_LOAD32(tail_limit_tbl);
    __m256i prev = _mm256_setzero_si256(), unfinished = _mm256_setzero_si256();
    __m256i err;
    size_t i = 0;

    for (; len - i >= 32; i += 32) {
        __m256i in = EVS_LOAD32(s + i);
        if (_mm256_movemask_epi8(in) == 0) {
            err = unfinished; /* an ASCII block cannot finish a sequence */
            unfinished = _mm256_setzero_si256();
        } else {
            err = check_avx2(in, prev);
            unfinished = _mm256_subs_epu8(in, limit);
        }
        if (!_mm256_testz_si256(err, err))
            return utf8_locate(s, len, i, bad_off);
        prev = in;
    }
    if (i == len) /* nothing left but the end, which must not cut a sequence */
        err = unfinished;
    else {
        /* The last 32 bytes, overlapping bytes already checked (checking them again finds
         * nothing new), with the three bytes before them as the carry. This avoids
         * copying the tail, which costs more than the check on short runs. */
        size_t b = len - 32;
        uint32_t before = 0;
        for (size_t j = 1; j <= 3 && j <= b; j++)
            before |= (uint32_t)s[b - j] << (32 - 8 * j);
        __m256i in = EVS_LOAD32(s + b);
        err = check_avx2(in, _mm256_set_epi32((int)before, 0, 0, 0, 0, 0, 0, 0));
        err = _mm256_or_si256(err, _mm256_subs_epu8(in, limit));
        i = b;
    }
    if (!_mm256_testz_si256(err, err))
        return utf8_locate(s, len, i, bad_off);
    return true;
}
#endif /* EVS_JSON_X86 */

bool evs__utf8_validate_simd(const unsigned char *s, size_t len, size_t *bad_off, int simd)
{
#if EVS_JSON_X86
    if (simd >= EVS_SIMD_AVX2 && len >= 32)
        return utf8_avx2(s, len, bad_off);
    if (simd >= EVS_SIMD_SSE2)
        return utf8_sse2(s, len, bad_off);
#else
    (void)simd;
#endif
    return utf8_scalar(s, len, 0, bad_off);
}

bool evs__utf8_validate(const char *s, size_t len, size_t *bad_off)
{
    size_t dummy;
    if (len == 0)
        return true;
    return evs__utf8_validate_simd((const unsigned char *)s, len, bad_off ? bad_off : &dummy,
                                   evs__json_simd_level());
}
