/*
 * json_validate.c - the strict RFC 8259 parser behind evs__json_validate and
 * evs__json_object_walk.
 *
 * It runs on every append, so it is built for speed on the payloads events carry
 * (objects of short keys and values, now and then a long text):
 *  - one loop with an explicit stack of one bit per level (object or array) instead of
 *    recursion, so depth costs no C stack and hostile nesting cannot overflow it;
 *  - strings are scanned 16 bytes at a time with SSE2 (32 with AVX2 once a string
 *    proves long) for the bytes that need a closer look: '"', '\\', controls, and
 *    bytes >= 0x80, whose runs are then checked by the UTF-8 validator in one call;
 *  - numbers and literals are matched byte by byte against the grammar with no
 *    conversion: validation never needs their values.
 * Parts: string scanning, strings and escapes, numbers and literals, the value loop,
 * and the public entry point.
 */
#include "json_internal.h"

#include <stdint.h>
#include <string.h>

static inline const unsigned char *fail(evs__json_parser *jp, const unsigned char *at,
                                        const char *reason)
{
    return evs__json_fail(jp, at, reason);
}

/* ---- string scanning -------------------------------------------------------------- */

/* Bytes a string cannot hold as is: '"', '\\' and the controls below 0x20. */
static inline bool is_stop(unsigned char c)
{
    return c == '"' || c == '\\' || c < 0x20;
}

#if EVS_JSON_X86
/* Long strings go on 32 bytes at a time. Returns at a stop byte, or when fewer than
 * 32 bytes remain (the caller finishes those). */
__attribute__((target("avx2"))) static const unsigned char *
scan_avx2(const unsigned char *p, const unsigned char *end, unsigned *hi)
{
    const __m256i quote = _mm256_set1_epi8('"'), bslash = _mm256_set1_epi8('\\');
    const __m256i space = _mm256_set1_epi8(0x20);

    while (end - p >= 32) {
        __m256i v = EVS_LOAD32(p);
        /* Signed compare: bytes >= 0x80 count as "below 0x20" too and are removed
         * again with the high-bit mask. */
        __m256i s = _mm256_or_si256(_mm256_cmpeq_epi8(v, quote), _mm256_cmpeq_epi8(v, bslash));
        s = _mm256_or_si256(s, _mm256_cmpgt_epi8(space, v));
        unsigned high = (unsigned)_mm256_movemask_epi8(v);
        unsigned stop = (unsigned)_mm256_movemask_epi8(s) & ~high;
        if (stop) {
            unsigned k = (unsigned)__builtin_ctz(stop);
            *hi |= high & ((1u << k) - 1);
            return p + k;
        }
        *hi |= high;
        p += 32;
    }
    return p;
}

/* Index of the first stop byte in the 16 bytes at p, or 16. */
static inline unsigned stop_sse2(const unsigned char *p, unsigned *hi)
{
    const __m128i v = EVS_LOAD16(p);
    __m128i s =
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
    s = _mm_or_si128(s, _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
    unsigned high = (unsigned)_mm_movemask_epi8(v);
    unsigned stop = (unsigned)_mm_movemask_epi8(s) & ~high;
    if (stop) {
        unsigned k = (unsigned)__builtin_ctz(stop);
        *hi |= high & ((1u << k) - 1);
        return k;
    }
    *hi |= high;
    return 16;
}
#endif

/* Eight bytes at a time without SIMD: true when the word at p may hold a stop byte or
 * a byte >= 0x80 (never false when it does). */
static inline bool word_needs_look(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t w, q, b;
    memcpy(&w, p, 8);
    q = w ^ (ones * '"');
    b = w ^ (ones * '\\');
    /* With no byte >= 0x80, (w - 0x20..) & ~w flags exactly the bytes below 0x20. */
    return ((w | ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs) != 0;
}

static inline const unsigned char *scan_string(const unsigned char *p, const unsigned char *end,
                                               unsigned *hi, int simd)
{
#if EVS_JSON_X86
    if (simd >= EVS_SIMD_SSE2) {
        for (int blocks = 0; end - p >= 16; blocks++) {
            /* Most strings end in the first block; AVX2 pays off on the long ones. */
            if (blocks == 4 && simd >= EVS_SIMD_AVX2)
                p = scan_avx2(p, end, hi);
            if (end - p < 16)
                break;
            unsigned k = stop_sse2(p, hi);
            if (k < 16)
                return p + k;
            p += 16;
        }
    }
#else
    (void)simd;
#endif
    for (;;) {
        while (end - p >= 8 && !word_needs_look(p))
            p += 8;
        const unsigned char *stop = end - p >= 8 ? p + 8 : end;
        for (; p < stop; p++) {
            if (is_stop(*p))
                return p;
            *hi |= *p & 0x80u;
        }
        if (p == end)
            return p;
    }
}

const unsigned char *evs__json_scan_string(const unsigned char *p, const unsigned char *end,
                                           unsigned *hi, int simd)
{
    return scan_string(p, end, hi, simd);
}

/* ---- strings and escapes ---------------------------------------------------------- */

static const signed char hex_val[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
}; /* digit value + 1; 0 = not a hex digit */

/* The four hex digits at p. */
static const unsigned char *read_hex4(evs__json_parser *jp, const unsigned char *p, unsigned *cp,
                                      const char *eoi_reason)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        if (p + i == jp->end)
            return fail(jp, jp->end, eoi_reason);
        int d = hex_val[p[i]];
        if (d == 0)
            return fail(jp, p + i, "invalid escape");
        v = v * 16 + (unsigned)(d - 1);
    }
    *cp = v;
    return p + 4;
}

const unsigned char *evs__json_read_escape(evs__json_parser *jp, const unsigned char *p,
                                           unsigned *cp, bool at_string_end)
{
    static const char lone[] = "lone surrogate in \\u escape";
    const char *eoi = at_string_end ? "truncated escape" : "unterminated string";
    const unsigned char *end = jp->end, *q;
    unsigned low;

    if (end - p < 2)
        return fail(jp, end, eoi);
    switch (p[1]) {
    case '"':
    case '\\':
    case '/':
        *cp = p[1];
        return p + 2;
    case 'b':
        *cp = '\b';
        return p + 2;
    case 'f':
        *cp = '\f';
        return p + 2;
    case 'n':
        *cp = '\n';
        return p + 2;
    case 'r':
        *cp = '\r';
        return p + 2;
    case 't':
        *cp = '\t';
        return p + 2;
    case 'u':
        break;
    default:
        return fail(jp, p + 1, "invalid escape");
    }
    q = read_hex4(jp, p + 2, cp, eoi);
    if (q == NULL || *cp < 0xD800 || *cp > 0xDFFF)
        return q;
    if (*cp >= 0xDC00)
        return fail(jp, p, lone);
    /* A high surrogate: only the escape of a low surrogate may follow. Where the input ends
     * inside a string, more input could still pair it; where it ends the string, not. */
    if (!at_string_end && (q == end || (q[0] == '\\' && end - q < 2)))
        return fail(jp, end, eoi);
    if (end - q < 2 || q[0] != '\\' || q[1] != 'u')
        return fail(jp, p, lone);
    const unsigned char *r = read_hex4(jp, q + 2, &low, eoi);
    if (r == NULL)
        return NULL;
    if (low < 0xDC00 || low > 0xDFFF)
        return fail(jp, p, lone);
    *cp = 0x10000 + ((*cp - 0xD800) << 10) + (low - 0xDC00);
    return r;
}

/* The general case: any length, escapes, non-ASCII. */
static const unsigned char *parse_string_slow(evs__json_parser *jp, const unsigned char *p,
                                              bool *has_escape)
{
    const unsigned char *end = jp->end;
    for (;;) {
        const unsigned char *run = p;
        unsigned hi = 0;
        size_t bad;

        p = scan_string(p, end, &hi, jp->simd);
        /* A run ends at an ASCII byte, so no UTF-8 sequence spans two runs. */
        if (hi && !evs__utf8_validate_simd(run, (size_t)(p - run), &bad, jp->simd))
            return fail(jp, run + bad, "invalid UTF-8");
        if (p == end)
            return fail(jp, end, "unterminated string");
        if (*p == '"')
            return p + 1;
        if (*p != '\\')
            return fail(jp, p, "control character in string");
        unsigned cp;
        *has_escape = true;
        p = evs__json_read_escape(jp, p, &cp, false);
        if (p == NULL)
            return NULL;
    }
}

__attribute__((always_inline)) static inline const unsigned char *
parse_string(evs__json_parser *jp, const unsigned char *p, bool *has_escape)
{
#if EVS_JSON_X86
    /* Most keys and values are short ASCII without escapes: one block decides. */
    if (jp->simd >= EVS_SIMD_SSE2 && jp->end - p >= 16) {
        const __m128i v = EVS_LOAD16(p);
        unsigned quote = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
        /* Backslashes, controls and (signed compare) bytes >= 0x80. */
        __m128i s = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')),
                                 _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
        unsigned other = (unsigned)_mm_movemask_epi8(s);
        /* Done when a quote comes before every other interesting byte. Computing this
         * from the masks, rather than loading p[k], keeps the dependency chain short. */
        if (quote != 0 && (other & (quote - 1) & ~quote) == 0)
            return p + __builtin_ctz(quote) + 1;
    }
#endif
    return parse_string_slow(jp, p, has_escape);
}

const unsigned char *evs__json_parse_string(evs__json_parser *jp, const unsigned char *p,
                                            bool *has_escape)
{
    return parse_string(jp, p, has_escape);
}

/* ---- numbers and literals --------------------------------------------------------- */

static inline bool is_digit(unsigned char c)
{
    return (unsigned)(c - '0') < 10;
}

static inline const unsigned char *skip_digits(const unsigned char *p, const unsigned char *end)
{
    while (p < end && is_digit(*p))
        p++;
    return p;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static inline const unsigned char *parse_number(evs__json_parser *jp, const unsigned char *p)
{
    const unsigned char *end = jp->end;

    if (*p == '-' && ++p == end)
        return fail(jp, end, "invalid number");
    if (*p == '0')
        p++;
    else if (is_digit(*p))
        p = skip_digits(p + 1, end);
    else
        return fail(jp, p, "invalid number");
    if (p < end && *p == '.') {
        if (++p == end || !is_digit(*p))
            return fail(jp, p, "invalid number");
        p = skip_digits(p + 1, end);
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || !is_digit(*p))
            return fail(jp, p, "invalid number");
        p = skip_digits(p + 1, end);
    }
    return p;
}

static inline const unsigned char *parse_literal(evs__json_parser *jp, const unsigned char *p,
                                                 const char *lit, size_t n)
{
    if ((size_t)(jp->end - p) >= n && memcmp(p, lit, n) == 0)
        return p + n;
    for (size_t i = 0;; i++) {
        if (p + i == jp->end)
            return fail(jp, jp->end, "invalid literal");
        if (p[i] != (unsigned char)lit[i])
            return fail(jp, p + i, "invalid literal");
    }
}

/* ---- the value loop --------------------------------------------------------------- */

static inline const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end)
{
    /* Compact JSON has no whitespace: one compare decides. */
    if (p<end && * p> ' ')
        return p;
    return evs__json_skip_ws(p, end);
}

/* One bit per open level: set for an object, clear for an array. */
#define STACK_SET(s, d)   ((s)[(d) >> 6] |= (uint64_t)1 << ((d)&63))
#define STACK_CLEAR(s, d) ((s)[(d) >> 6] &= ~((uint64_t)1 << ((d)&63)))
#define STACK_TEST(s, d)  (((s)[(d) >> 6] >> ((d)&63)) & 1)

const unsigned char *evs__json_parse_value(evs__json_parser *jp, const unsigned char *p,
                                           int max_depth)
{
    uint64_t stack[EVS__JSON_STACK_MAX / 64];
    const unsigned char *end = jp->end;
    bool has_escape; /* unused here */
    int depth = 0;
    bool in_object = false; /* the innermost open container, cached from the stack */

    if (max_depth > EVS__JSON_STACK_MAX)
        max_depth = EVS__JSON_STACK_MAX;

value: /* p is at the first byte of a value, or at the end */
    if (p == end)
        return fail(jp, end, "unexpected end of input");
    switch (*p) {
    case '"':
        p = parse_string(jp, p + 1, &has_escape);
        break;
    case '{':
    case '[': {
        in_object = *p == '{';
        if (depth >= max_depth)
            return fail(jp, p, "nesting deeper than max_depth");
        if (in_object)
            STACK_SET(stack, depth);
        else
            STACK_CLEAR(stack, depth);
        depth++;
        p = skip_ws(p + 1, end);
        if (p < end && *p == (in_object ? '}' : ']')) {
            p++;
            goto close;
        }
        if (in_object)
            goto key;
        goto value;
    }
    case 't':
        p = parse_literal(jp, p, "true", 4);
        break;
    case 'f':
        p = parse_literal(jp, p, "false", 5);
        break;
    case 'n':
        p = parse_literal(jp, p, "null", 4);
        break;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        p = parse_number(jp, p);
        break;
    default:
        return fail(jp, p, "unexpected character");
    }
    if (p == NULL)
        return NULL;

after: /* a value just ended at p */
    if (depth == 0)
        return p;
    p = skip_ws(p, end);
    if (p == end)
        return fail(jp, end, "unexpected end of input");
    if (in_object) {
        if (*p == ',') {
            p = skip_ws(p + 1, end);
            goto key;
        }
        if (*p != '}')
            return fail(jp, p, "expected ',' or '}' after object member");
    } else {
        if (*p == ',') {
            p = skip_ws(p + 1, end);
            goto value;
        }
        if (*p != ']')
            return fail(jp, p, "expected ',' or ']' after array element");
    }
    p++;
close: /* the container at depth just ended before p */
    depth--;
    in_object = depth > 0 && STACK_TEST(stack, depth - 1);
    goto after;

key: /* p is where a member's key must start */
    if (p == end)
        return fail(jp, end, "unexpected end of input");
    if (*p != '"')
        return fail(jp, p, "expected '\"' to start an object key");
    p = parse_string(jp, p + 1, &has_escape);
    if (p == NULL)
        return NULL;
    p = skip_ws(p, end);
    if (p == end)
        return fail(jp, end, "unexpected end of input");
    if (*p != ':')
        return fail(jp, p, "expected ':' after object key");
    p = skip_ws(p + 1, end);
    goto value;
}

/* ---- entry point ------------------------------------------------------------------ */

bool evs__json_validate(const char *buf, size_t len, int max_depth, evs__json_error *err)
{
    evs__json_error dummy;
    evs__json_parser jp = evs__json_parser_over(buf, len, err, &dummy, evs__json_simd_level());
    const unsigned char *p = skip_ws(jp.base, jp.end);

    p = evs__json_parse_value(&jp, p, max_depth);
    if (p == NULL)
        return false;
    p = skip_ws(p, jp.end);
    if (p != jp.end) {
        fail(&jp, p, "trailing characters after the value");
        return false;
    }
    return true;
}
