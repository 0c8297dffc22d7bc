/*
 * json_internal.h - what the files of the JSON layer share: the parser state, the
 * one-value parser behind both evs__json_validate and evs__json_object_walk, the string
 * scanner behind the parser and evs__json_escape, and the choice of SIMD code path.
 *
 * Offsets in every error follow one rule, which the unit tests check against a
 * reference parser: the offset of the first byte at which the input stops being the
 * start of some valid document, or the input length when it ends too early. Two
 * exceptions keep messages useful: an ill-formed UTF-8 sequence is reported at its
 * first byte, and a surrogate that does not pair at the backslash of its \u escape.
 */
#ifndef EVS_JSON_INTERNAL_H
#define EVS_JSON_INTERNAL_H

#include "json.h"

#include <stdbool.h>
#include <stddef.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define EVS_JSON_X86 1
#else
#define EVS_JSON_X86 0
#endif

#if EVS_JSON_X86
#include <immintrin.h>
/* Unaligned loads. Going through void * keeps clang's -Wcast-align quiet: the loadu
 * intrinsics do not need alignment. */
#define EVS_LOAD16(p) _mm_loadu_si128((const void *)(p))
#define EVS_LOAD32(p) _mm256_loadu_si256((const void *)(p))
#endif

/* Code paths, slowest first. Scalar is the portable one; SSE2 is part of every x86-64;
 * AVX2 is used only when the CPU (and OS) support it, checked at run time. */
enum { EVS_SIMD_SCALAR = 0, EVS_SIMD_SSE2 = 1, EVS_SIMD_AVX2 = 2 };

/* The deepest nesting the parser's stack can hold (one bit per level, 512 bytes of
 * stack). A larger max_depth is treated as this. */
#define EVS__JSON_STACK_MAX 4096

/* The code path in use: the best the CPU supports unless a test forced another. */
int evs__json_simd_level(void);

/* Tests and benchmarks: force a code path (clamped to what the CPU supports), or -1 for
 * the best available. Returns the level now in effect. Not for production use: it
 * changes the path for every thread. */
int evs__json_force_simd(int level);

typedef struct evs__json_parser {
    const unsigned char *base; /* start of the input; error offsets count from here */
    const unsigned char *end;  /* one past the last input byte */
    evs__json_error *err;      /* never NULL */
    int simd;                  /* EVS_SIMD_* used for this call */
} evs__json_parser;

/* A parser over buf[0, len) (buf NULL: no input) with the SIMD path `simd`, reporting
 * errors to *err, or to *dummy when err is NULL. */
static inline evs__json_parser evs__json_parser_over(const char *buf, size_t len,
                                                     evs__json_error *err,
                                                     evs__json_error *dummy, int simd)
{
    static const unsigned char empty[1];
    const unsigned char *base = buf ? (const unsigned char *)buf : empty;
    evs__json_parser jp = {base, base + (buf ? len : 0), err ? err : dummy, simd};
    return jp;
}

/* Record an error at `at` and return NULL, so that parsers can `return fail(...)`. */
static inline const unsigned char *evs__json_fail(evs__json_parser *jp, const unsigned char *at,
                                                  const char *reason)
{
    jp->err->offset = (size_t)(at - jp->base);
    jp->err->reason = reason;
    return NULL;
}

/* Parse one value starting at p (a non-whitespace byte, or end) with at most
 * max_depth levels of arrays and objects. Returns the first byte after the value, or
 * NULL with jp->err filled. */
const unsigned char *evs__json_parse_value(evs__json_parser *jp, const unsigned char *p,
                                           int max_depth);

/* Parse the rest of a string whose opening quote is just before p. Returns the byte
 * after the closing quote, or NULL. Sets *has_escape when the string has a backslash. */
const unsigned char *evs__json_parse_string(evs__json_parser *jp, const unsigned char *p,
                                            bool *has_escape);

/* Read the escape whose backslash is at p. Returns the byte after it (after both halves
 * of a surrogate pair) and the code point it stands for in *cp, or NULL. at_string_end
 * says what the end of the input is: the end of the string's raw content (unescape: a
 * high surrogate there is lone, a cut escape "truncated") or possibly the middle of the
 * string (validation: "unterminated string"). */
const unsigned char *evs__json_read_escape(evs__json_parser *jp, const unsigned char *p,
                                           unsigned *cp, bool at_string_end);

/* The first byte in [p, end) that a JSON string cannot hold as is ('"', '\\' or a byte
 * below 0x20), or end. *hi becomes non-zero when a byte >= 0x80 occurs before it. */
const unsigned char *evs__json_scan_string(const unsigned char *p, const unsigned char *end,
                                           unsigned *hi, int simd);

/* evs__utf8_validate with a chosen code path. */
bool evs__utf8_validate_simd(const unsigned char *s, size_t len, size_t *bad_off, int simd);

static inline bool evs__json_is_ws(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline const unsigned char *evs__json_skip_ws(const unsigned char *p,
                                                     const unsigned char *end)
{
    while (p < end && evs__json_is_ws(*p))
        p++;
    return p;
}

#endif /* EVS_JSON_INTERNAL_H */
