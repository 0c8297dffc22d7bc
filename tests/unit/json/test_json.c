/*
 * test_json.c - unit tests for src/json: validation (numbers, literals, structure,
 * strings, escapes, surrogates, UTF-8, depth, SIMD block boundaries), the object walk,
 * unescape/escape, and a randomized comparison against a small recursive reference
 * validator written here for clarity rather than speed.
 *
 * Every input is copied into a heap buffer of exactly its length, so that a read past
 * the end is an AddressSanitizer error. The validator's tests run once per code path
 * (scalar, SSE2, AVX2 where the CPU has it). The randomized test prints its seed on
 * failure; EVS_TEST_SEED=<n> replays it and EVS_TEST_ITERS=<n> runs longer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "json.h"
#include "json_internal.h"

#include <evstore.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- helpers ---------------------------------------------------------------------- */

static char *dup_exact(const void *s, size_t len)
{
    char *p = malloc(len ? len : 1);
    assert_non_null(p);
    if (len)
        memcpy(p, s, len);
    return p;
}

/* A printable rendering of an input for failure messages (static buffer). */
static const char *show(const void *s, size_t len)
{
    static char out[1024];
    const unsigned char *p = s;
    size_t o = 0;
    for (size_t i = 0; i < len && o + 8 < sizeof(out); i++) {
        if (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '\\')
            out[o++] = (char)p[i];
        else
            o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", p[i]);
    }
    if (o + 8 >= sizeof(out))
        memcpy(out + o, "...", 3), o += 3;
    out[o] = '\0';
    return out;
}

/* ---- reference validator ---------------------------------------------------------- */
/* Recursive descent, one byte at a time, straight from RFC 8259 and Unicode table 3-7.
 * Error offsets follow the rule in json_internal.h. */

typedef struct ref {
    const unsigned char *s;
    size_t len, pos, err;
    int depth, max_depth;
} ref;

static bool ref_fail(ref *r, size_t at)
{
    r->err = at;
    return false;
}

static int ref_peek(const ref *r)
{
    return r->pos < r->len ? r->s[r->pos] : -1;
}

static void ref_ws(ref *r)
{
    int c;
    while ((c = ref_peek(r)) == ' ' || c == '\t' || c == '\n' || c == '\r')
        r->pos++;
}

/* Length of the well-formed UTF-8 sequence at s[pos], or 0. */
static size_t ref_utf8_char(const unsigned char *s, size_t len, size_t pos)
{
    static const struct {
        unsigned char first_lo, first_hi, n, lo, hi;
    } rows[] = {{0xC2, 0xDF, 2, 0x80, 0xBF}, {0xE0, 0xE0, 3, 0xA0, 0xBF},
                {0xE1, 0xEC, 3, 0x80, 0xBF}, {0xED, 0xED, 3, 0x80, 0x9F},
                {0xEE, 0xEF, 3, 0x80, 0xBF}, {0xF0, 0xF0, 4, 0x90, 0xBF},
                {0xF1, 0xF3, 4, 0x80, 0xBF}, {0xF4, 0xF4, 4, 0x80, 0x8F}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (s[pos] < rows[i].first_lo || s[pos] > rows[i].first_hi)
            continue;
        size_t n = rows[i].n;
        if (pos + n > len || s[pos + 1] < rows[i].lo || s[pos + 1] > rows[i].hi)
            return 0;
        for (size_t k = 2; k < n; k++) {
            if (s[pos + k] < 0x80 || s[pos + k] > 0xBF)
                return 0;
        }
        return n;
    }
    return 0;
}

static bool ref_utf8(const unsigned char *s, size_t len, size_t *bad)
{
    for (size_t i = 0; i < len;) {
        size_t n = s[i] < 0x80 ? 1 : ref_utf8_char(s, len, i);
        if (n == 0) {
            *bad = i;
            return false;
        }
        i += n;
    }
    return true;
}

static bool ref_value(ref *r);

static bool ref_literal(ref *r, const char *lit)
{
    for (; *lit; lit++, r->pos++) {
        if (ref_peek(r) != (unsigned char)*lit)
            return ref_fail(r, r->pos);
    }
    return true;
}

static bool ref_digits(ref *r)
{
    int c = ref_peek(r);
    if (c < '0' || c > '9')
        return ref_fail(r, r->pos);
    while ((c = ref_peek(r)) >= '0' && c <= '9')
        r->pos++;
    return true;
}

static bool ref_number(ref *r)
{
    if (ref_peek(r) == '-')
        r->pos++;
    if (ref_peek(r) == '0')
        r->pos++;
    else if (!ref_digits(r))
        return false;
    if (ref_peek(r) == '.') {
        r->pos++;
        if (!ref_digits(r))
            return false;
    }
    if (ref_peek(r) == 'e' || ref_peek(r) == 'E') {
        r->pos++;
        if (ref_peek(r) == '+' || ref_peek(r) == '-')
            r->pos++;
        if (!ref_digits(r))
            return false;
    }
    return true;
}

static bool ref_hex4(ref *r, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++, r->pos++) {
        int c = ref_peek(r), d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return ref_fail(r, r->pos);
        *v = *v * 16 + (unsigned)d;
    }
    return true;
}

static bool ref_escape(ref *r)
{
    size_t start = r->pos++;
    int c = ref_peek(r);
    unsigned v, lo;

    if (c > 0 && strchr("\"\\/bfnrt", c)) {
        r->pos++;
        return true;
    }
    if (c != 'u')
        return ref_fail(r, r->pos);
    r->pos++;
    if (!ref_hex4(r, &v))
        return false;
    if (v >= 0xDC00 && v <= 0xDFFF)
        return ref_fail(r, start);
    if (v < 0xD800 || v > 0xDBFF)
        return true;
    if (ref_peek(r) != '\\')
        return ref_fail(r, ref_peek(r) < 0 ? r->pos : start);
    r->pos++;
    if (ref_peek(r) != 'u')
        return ref_fail(r, ref_peek(r) < 0 ? r->pos : start);
    r->pos++;
    if (!ref_hex4(r, &lo))
        return false;
    if (lo < 0xDC00 || lo > 0xDFFF)
        return ref_fail(r, start);
    return true;
}

static bool ref_string(ref *r)
{
    r->pos++;
    for (;;) {
        int c = ref_peek(r);
        if (c < 0x20) /* the end (-1) or a control character */
            return ref_fail(r, r->pos);
        if (c == '"') {
            r->pos++;
            return true;
        }
        if (c == '\\') {
            if (!ref_escape(r))
                return false;
        } else if (c < 0x80) {
            r->pos++;
        } else {
            size_t n = ref_utf8_char(r->s, r->len, r->pos);
            if (n == 0)
                return ref_fail(r, r->pos);
            r->pos += n;
        }
    }
}

/* Arrays and objects: `close` is ']' or '}'. */
static bool ref_container(ref *r, int close)
{
    if (r->depth >= r->max_depth)
        return ref_fail(r, r->pos);
    r->depth++;
    r->pos++;
    ref_ws(r);
    if (ref_peek(r) == close) {
        r->pos++;
        r->depth--;
        return true;
    }
    for (;;) {
        if (close == '}') {
            if (ref_peek(r) != '"')
                return ref_fail(r, r->pos);
            if (!ref_string(r))
                return false;
            ref_ws(r);
            if (ref_peek(r) != ':')
                return ref_fail(r, r->pos);
            r->pos++;
            ref_ws(r);
        }
        if (!ref_value(r))
            return false;
        ref_ws(r);
        if (ref_peek(r) == ',') {
            r->pos++;
            ref_ws(r);
            continue;
        }
        if (ref_peek(r) != close)
            return ref_fail(r, r->pos);
        r->pos++;
        r->depth--;
        return true;
    }
}

static bool ref_value(ref *r)
{
    int c = ref_peek(r);
    switch (c) {
    case '{':
        return ref_container(r, '}');
    case '[':
        return ref_container(r, ']');
    case '"':
        return ref_string(r);
    case 't':
        return ref_literal(r, "true");
    case 'f':
        return ref_literal(r, "false");
    case 'n':
        return ref_literal(r, "null");
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return ref_number(r);
        return ref_fail(r, r->pos);
    }
}

static bool ref_validate(const void *s, size_t len, int max_depth, size_t *err)
{
    ref r = {s, len, 0, 0, 0, max_depth > EVS__JSON_STACK_MAX ? EVS__JSON_STACK_MAX : max_depth};
    ref_ws(&r);
    bool ok = ref_value(&r);
    if (ok) {
        ref_ws(&r);
        if (r.pos != len)
            ok = ref_fail(&r, r.pos);
    }
    *err = r.err;
    return ok;
}

/* ---- checking one document -------------------------------------------------------- */

/* Validate s and compare with the expectation and with the reference. */
static void check_doc(const void *s, size_t len, int max_depth, bool want_ok, size_t want_off,
                      const char *want_reason, int line)
{
    char *buf = dup_exact(s, len);
    evs__json_error err = {12345, NULL};
    bool ok = evs__json_validate(buf, len, max_depth, &err);
    size_t ref_off = 0;
    bool ref_ok = ref_validate(buf, len, max_depth, &ref_off);

    if (ok != want_ok || (!ok && (err.offset != want_off || err.reason == NULL)))
        fail_msg("line %d: [%s]: got %s at %zu (%s), want %s at %zu", line, show(s, len),
                 ok ? "valid" : "invalid", err.offset, err.reason ? err.reason : "-",
                 want_ok ? "valid" : "invalid", want_off);
    if (!ok && want_reason && strcmp(err.reason, want_reason) != 0)
        fail_msg("line %d: [%s]: reason '%s', want '%s'", line, show(s, len), err.reason,
                 want_reason);
    if (ref_ok != ok || (!ok && ref_off != err.offset))
        fail_msg("line %d: [%s]: reference says %s at %zu", line, show(s, len),
                 ref_ok ? "valid" : "invalid", ref_off);
    free(buf);
}

#define OK(lit) check_doc(lit, sizeof(lit) - 1, EVS_MAX_JSON_DEPTH, true, 0, NULL, __LINE__)
#define BAD(lit, off)                                                                              \
    check_doc(lit, sizeof(lit) - 1, EVS_MAX_JSON_DEPTH, false, off, NULL, __LINE__)
#define BADR(lit, off, why)                                                                        \
    check_doc(lit, sizeof(lit) - 1, EVS_MAX_JSON_DEPTH, false, off, why, __LINE__)

/* ---- numbers, literals, structure ------------------------------------------------- */

static void test_numbers(void **state)
{
    (void)state;
    OK("0");
    OK("-0");
    OK("1");
    OK("-1");
    OK("10");
    OK("1234567890");
    OK("0.5");
    OK("-0.5");
    OK("0.5e-3");
    OK("1E+2");
    OK("1e2");
    OK("1E2");
    OK("1e-0");
    OK("1e+0");
    OK("0e0");
    OK("-0.0e-0");
    OK("-1.25e+10");
    OK("123.456e789");
    OK("  7  ");
    OK("[1,-2,3.5,4e1,0,-0,0.0]");
    OK("{\"a\":-0.0}");
    OK("99999999999999999999999999999999999999999999999999999999999999999999999999");

    BADR("01", 1, "trailing characters after the value");
    BAD("-01", 2);
    BAD("00", 1);
    BAD("[01]", 2);
    BADR("1.", 2, "invalid number");
    BAD("0.", 2);
    BAD("1.e5", 2);
    BAD("[1.]", 3);
    BADR(".5", 0, "unexpected character");
    BAD("+1", 0);
    BADR("-", 1, "invalid number");
    BAD("-a", 1);
    BAD("[-]", 2);
    BAD("- 1", 1);
    BAD("--1", 1);
    BADR("1e", 2, "invalid number");
    BAD("1E", 2);
    BADR("1e+", 3, "invalid number");
    BAD("1e-", 3);
    BAD("1ea", 2);
    BAD("1e+a", 3);
    BAD("1.5e", 4);
    BAD("1..2", 2);
    BAD("1.2.3", 3);
    BAD("1e5.5", 3);
    BAD("1e5e5", 3);
    BAD("0x10", 1);
    BAD("1_000", 1);
    BAD("Infinity", 0);
    BAD("-Infinity", 1);
    BAD("NaN", 0);
    BAD("[1,]", 3);
    BAD("1 2", 2);
    BAD("\xd9\xa1", 0); /* ARABIC-INDIC DIGIT ONE */
}

static void test_literals(void **state)
{
    (void)state;
    OK("true");
    OK("false");
    OK("null");
    OK(" [true,false,null] ");
    BADR("tru", 3, "invalid literal");
    BADR("trUe", 2, "invalid literal");
    BAD("True", 0);
    BAD("t", 1);
    BAD("nul", 3);
    BAD("nulll", 4);
    BAD("falsey", 5);
    BAD("fals", 4);
    BAD("[tru]", 4);
    BAD("truefalse", 4);
    BAD("nil", 1);
    BAD("undefined", 0);
}

static void test_whitespace_and_trailing(void **state)
{
    (void)state;
    BADR("", 0, "unexpected end of input");
    BADR(" ", 1, "unexpected end of input");
    BAD("\t\n\r ", 4);
    OK(" \t\n\r1 \t\n\r");
    BAD("\f1", 0); /* form feed is not JSON whitespace */
    BAD("\v1", 0); /* nor vertical tab */
    BAD("\xc2\xa0"
        "1",
        0);                   /* nor NO-BREAK SPACE */
    BAD("\xef\xbb\xbf{}", 0); /* a byte order mark is not accepted */
    BADR("{} x", 3, "trailing characters after the value");
    BAD("[] []", 3);
    BAD("1,", 1);
    BAD("\"a\"\"b\"", 3);
    BAD("{}\x00", 2);
    BAD("null\n\n?", 6);
    check_doc("1\x00", 2, EVS_MAX_JSON_DEPTH, false, 1, NULL, __LINE__);

    evs__json_error err = {99, NULL};
    assert_false(evs__json_validate(NULL, 0, 10, &err));
    assert_int_equal(err.offset, 0);
    assert_false(evs__json_validate(NULL, 0, 10, NULL));
    assert_true(evs__json_validate("1", 1, 10, NULL)); /* err may be NULL */
}

static void test_structure(void **state)
{
    (void)state;
    OK("{}");
    OK("[]");
    OK(" { } ");
    OK("[ ]");
    OK("{\"a\":{}}");
    OK("[[],[[]],{}]");
    OK(" { \"a\" : [ 1 , 2 ] , \"b\" : { } , \"\" : \"\" } ");
    OK("{\"a\":1,\"a\":2}"); /* duplicate keys are valid JSON */
    OK("\n{\n  \"k\": [\n    true\n  ]\n}\n");

    BADR("[", 1, "unexpected end of input");
    BAD("[1", 2);
    BAD("[1,", 3);
    BAD("{", 1);
    BAD("{\"a\"", 4);
    BAD("{\"a\":", 5);
    BAD("{\"a\":1", 6);
    BADR("{\"a\" 1}", 5, "expected ':' after object key");
    BADR("{a:1}", 1, "expected '\"' to start an object key");
    BADR("{\"a\":1,}", 7, "expected '\"' to start an object key");
    BAD("{,}", 1);
    BAD("[,1]", 1);
    BADR("[1 2]", 3, "expected ',' or ']' after array element");
    BADR("{\"a\":1 \"b\":2}", 7, "expected ',' or '}' after object member");
    BAD("[1,,2]", 3);
    BAD("]", 0);
    BAD("}", 0);
    BAD(":", 0);
    BAD(",", 0);
    BAD("{\"a\":1]", 6);
    BAD("[1}", 2);
    BAD("{1:2}", 1);
    BAD("{\"a\"::1}", 5);
    BAD("{\"a\":}", 5);
    BAD("[\"a\":1]", 4);
    BAD("{'a':1}", 1);
    BAD("['a']", 1);
    BAD("[1]]", 3);
    BAD("{\"a\":{}", 7);
    BAD("/* c */ 1", 0);
    BAD("[1,2 // c\n]", 5);
}

/* ---- strings ---------------------------------------------------------------------- */

static void test_string_escapes(void **state)
{
    (void)state;
    OK("\"\"");
    OK("\"abc\"");
    OK("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
    OK("\"\\u0000\"");
    OK("\"\\u00e9\\u00E9\"");
    OK("\"\\uABCD\\uabcd\\uAbCd\"");
    OK("\"\\uD7FF\\uE000\\uFFFF\"");
    OK("\"\\uD83D\\uDE00\""); /* U+1F600 */
    OK("\"\\ud83d\\ude00\"");
    OK("\"\\uD800\\uDC00\\uDBFF\\uDFFF\"");
    OK("\"x\\uD834\\uDD1Ey\"");
    OK("\"\x7f\""); /* DEL needs no escape */
    OK("{\"\\u0041\\n\":\"\\t\"}");

    BADR("\"\\a\"", 2, "invalid escape");
    BAD("\"\\x41\"", 2);
    BAD("\"\\U0041\"", 2);
    BAD("\"\\'\"", 2);
    BAD("\"\\0\"", 2);
    BAD("\"\\ \"", 2);
    BAD("\"\\\xc3\xa9\"", 2);
    BADR("\"\\u12\"", 5, "invalid escape");
    BAD("\"\\u12G4\"", 5);
    BAD("\"\\uG\"", 3);
    BAD("\"\\u-123\"", 3);
    BADR("\"\\", 2, "unterminated string");
    BAD("\"\\u", 3);
    BAD("\"\\u0", 4);
    BAD("\"\\u004", 6);
    BADR("\"abc", 4, "unterminated string");
    BAD("\"", 1);
    BAD("[\"a]", 4);
    BAD("{\"a:1}", 6);
}

static void test_surrogates(void **state)
{
    (void)state;
    const char *lone = "lone surrogate in \\u escape";
    BADR("\"\\uD800\"", 1, lone);
    BAD("\"\\uD800x\"", 1);
    BAD("\"\\uDBFF\"", 1);
    BADR("\"\\uDC00\"", 1, lone);
    BAD("\"\\uDFFF\"", 1);
    BAD("\"a\\uDC00\"", 2);
    BAD("\"\\uDC00\\uD800\"", 1); /* reversed */
    BAD("\"\\uD800\\uD800\"", 1); /* two highs */
    BAD("\"\\uD800\\uE000\"", 1);
    BAD("\"\\uD800\\u0041\"", 1);
    BAD("\"\\uD800\\n\"", 1);
    BAD("\"\\uD800\\\\uDC00\"", 1);
    BAD("\"\\uD800 \\uDC00\"", 1);
    BAD("\"\\uD800\xed\xb0\x80\"", 1);
    BAD("\"\\uD83D\\uDE00\\uDE00\"", 13); /* a pair, then a lone low */
    BADR("\"\\uD800", 7, "unterminated string");
    BAD("\"\\uD800\\", 8);
    BAD("\"\\uD800\\u", 9);
    BAD("\"\\uD800\\uDC0", 12);
    BADR("\"\\uD800\\uDC0\"", 12, "invalid escape");
    BAD("\"\\uD800\\uZZZZ\"", 9);
}

static void test_control_characters(void **state)
{
    (void)state;
    for (int c = 0; c < 0x20; c++) {
        char doc[] = "\"ab?cd\"";
        doc[3] = (char)c;
        check_doc(doc, 7, 8, false, 3, "control character in string", __LINE__);
        char key[] = "{\"k?\":1}";
        key[3] = (char)c;
        check_doc(key, 8, 8, false, 3, NULL, __LINE__);
        /* Outside strings, only the four whitespace bytes are allowed. */
        char arr[] = "[1,?2]";
        arr[3] = (char)c;
        bool ws = c == ' ' || c == '\t' || c == '\n' || c == '\r';
        check_doc(arr, 6, 8, ws, ws ? 0 : 3, NULL, __LINE__);
    }
}

static void test_utf8_in_strings(void **state)
{
    (void)state;
    const char *bad = "invalid UTF-8";
    OK("\"\xc2\x80\xdf\xbf\"");
    OK("\"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\"");
    OK("\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\xf3\xbf\xbf\xbf\"");
    OK("\"Zo\xc3\xab M\xc3\xbcller \xe2\x82\xac \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\"");
    OK("{\"caf\xc3\xa9\":\"\xc3\xa9\"}");
    /* overlong forms */
    BADR("\"\xc0\x80\"", 1, bad);
    BAD("\"\xc1\xbf\"", 1);
    BAD("\"\xe0\x80\x80\"", 1);
    BAD("\"\xe0\x9f\xbf\"", 1);
    BAD("\"\xf0\x80\x80\x80\"", 1);
    BAD("\"\xf0\x8f\xbf\xbf\"", 1);
    /* UTF-16 surrogates encoded in UTF-8 */
    BAD("\"\xed\xa0\x80\"", 1);
    BAD("\"\xed\xbf\xbf\"", 1);
    BAD("\"\xed\xa0\xbd\xed\xb8\x80\"", 1);
    /* above U+10FFFF, and bytes that never occur */
    BAD("\"\xf4\x90\x80\x80\"", 1);
    BAD("\"\xf5\x80\x80\x80\"", 1);
    BAD("\"\xf7\xbf\xbf\xbf\"", 1);
    BAD("\"\xf8\x88\x80\x80\x80\"", 1);
    BAD("\"\xfc\x84\x80\x80\x80\x80\"", 1);
    BAD("\"\xfe\"", 1);
    BAD("\"\xff\"", 1);
    /* truncated sequences */
    BAD("\"\xc3\"", 1);
    BAD("\"a\xe2\x82\"", 2);
    BAD("\"\xf0\x9f\x98\"", 1);
    BAD("\"\xf0\x9f\x98"
        "a\"",
        1);
    BAD("\"\xe2\x82\\n\"", 1);
    BAD("\"\xc3", 1);
    BAD("\"\xe2\x82", 1);
    /* stray continuation bytes */
    BAD("\"\x80\"", 1);
    BAD("\"\xbf\"", 1);
    BAD("\"a\x80\"", 2);
    BAD("\"\xc3\xa9\xa9\"", 3);
    BAD("\"\xe2\x82\xac\x80\"", 4);
    /* non-ASCII outside strings */
    BAD("\xc3\xa9", 0);
    BAD("[1,\xc3\xa9]", 3);
}

/* A special byte sequence at every offset of a long string, the string itself at every
 * alignment: covers the 16- and 32-byte blocks, the switch from SSE2 to AVX2 and the
 * tails. */
static void test_string_block_boundaries(void **state)
{
    enum { BODY = 200 };
    static const struct {
        const char *bytes;
        size_t n;
        int err_delta; /* -1: valid; else error offset relative to the special */
    } specials[] = {
        {"\"", 1, 1},
        {"\\q", 2, 1},
        {"\\n", 2, -1},
        {"\\u00e9", 6, -1},
        {"\\uD800", 6, 0},
        {"\x01", 1, 0},
        {"\x1f", 1, 0},
        {"\x00", 1, 0},
        {"\x7f", 1, -1},
        {"\xff", 1, 0},
        {"\x80", 1, 0},
        {"\xc3\xa9", 2, -1},
        {"\xc3", 1, 0},
        {"\xe2\x82", 2, 0},
        {"\xed\xa0\x80", 3, 0},
        {"\xe2\x82\xac", 3, -1},
        {"\xf0\x9f\x98\x80", 4, -1},
        {"\xf4\x90\x80\x80", 4, 0},
        {"\xc0\xaf", 2, 0},
    };
    (void)state;
    unsigned char doc[40 + BODY + 2];

    for (size_t pre = 0; pre < 33; pre++) {
        for (size_t k = 0; k <= 150; k++) {
            for (size_t s = 0; s < sizeof(specials) / sizeof(specials[0]); s++) {
                size_t len = 0;
                memset(doc, ' ', pre);
                len = pre;
                doc[len++] = '"';
                memset(doc + len, 'a', BODY);
                memcpy(doc + len + k, specials[s].bytes, specials[s].n);
                len += BODY;
                doc[len++] = '"';
                bool ok = specials[s].err_delta < 0;
                size_t off = pre + 1 + k + (size_t)(ok ? 0 : specials[s].err_delta);
                check_doc(doc, len, 4, ok, off, NULL, __LINE__);
            }
            /* A plain string of length k, and the same cut before its closing quote. */
            memset(doc, ' ', pre);
            doc[pre] = '"';
            memset(doc + pre + 1, 'b', k);
            doc[pre + 1 + k] = '"';
            check_doc(doc, pre + k + 2, 4, true, 0, NULL, __LINE__);
            check_doc(doc, pre + k + 1, 4, false, pre + k + 1, NULL, __LINE__);
        }
    }
}

/* ---- depth ------------------------------------------------------------------------ */

/* n levels: "[[[...]]]", or {"a":{"a":...}} when obj, or alternating when mixed. */
static char *nested(int n, int style, size_t *len_out)
{
    size_t cap = (size_t)n * 8 + 8, len = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    for (int i = 0; i < n; i++) {
        bool obj = style == 1 || (style == 2 && i % 2);
        if (obj) {
            memcpy(s + len, "{\"a\":", 5);
            len += 5;
        } else {
            s[len++] = '[';
        }
    }
    s[len++] = '1';
    for (int i = n - 1; i >= 0; i--) {
        bool obj = style == 1 || (style == 2 && i % 2);
        s[len++] = obj ? '}' : ']';
    }
    *len_out = len;
    return s;
}

/* Offset of the first byte of level `level` (0-based) in a nested() document. */
static size_t level_offset(int level, int style)
{
    size_t off = 0;
    for (int i = 0; i < level; i++)
        off += (style == 1 || (style == 2 && i % 2)) ? 5 : 1;
    return off;
}

static void test_depth(void **state)
{
    static const int depths[] = {1, 2, 3, 63, 64, 65, 127, 128, 129, 511, 512, 4095, 4096};
    (void)state;
    for (size_t d = 0; d < sizeof(depths) / sizeof(depths[0]); d++) {
        for (int style = 0; style < 3; style++) {
            int max = depths[d];
            size_t len;
            char *s = nested(max, style, &len);
            check_doc(s, len, max, true, 0, NULL, __LINE__);
            free(s);
            s = nested(max + 1, style, &len);
            check_doc(s, len, max, false, level_offset(max, style), "nesting deeper than max_depth",
                      __LINE__);
            free(s);
        }
    }
    /* max_depth 0 allows scalars only; negative is the same. */
    check_doc("1", 1, 0, true, 0, NULL, __LINE__);
    check_doc("[]", 2, 0, false, 0, NULL, __LINE__);
    check_doc(" {}", 3, -5, false, 1, NULL, __LINE__);
    /* Siblings do not add up: depth is nesting, not count. */
    check_doc("[[1],[2],{\"a\":[3]}]", 19, 2, false, 14, NULL, __LINE__);
    check_doc("[[1],[2],{\"a\":3}]", 17, 2, true, 0, NULL, __LINE__);

    /* Beyond the stack: max_depth is capped at EVS__JSON_STACK_MAX. */
    size_t len;
    char *s = nested(EVS__JSON_STACK_MAX, 0, &len);
    check_doc(s, len, 1000000, true, 0, NULL, __LINE__);
    free(s);
    s = nested(EVS__JSON_STACK_MAX + 1, 0, &len);
    check_doc(s, len, 1000000, false, EVS__JSON_STACK_MAX, NULL, __LINE__);
    free(s);

    /* A hostile megabyte of '[' costs no C stack. */
    size_t n = 1u << 20;
    char *deep = malloc(n);
    assert_non_null(deep);
    memset(deep, '[', n);
    evs__json_error err;
    assert_false(evs__json_validate(deep, n, EVS_MAX_JSON_DEPTH, &err));
    assert_int_equal(err.offset, EVS_MAX_JSON_DEPTH);
    free(deep);
}

/* ---- evs__utf8_validate ----------------------------------------------------------- */

/* Where a sequence is put: at `pos` of a buffer of `len` bytes of ASCII, or when
 * from_end, `pos` bytes before the end (then pos = len - n - from_end). The set covers
 * both 16- and 32-byte block edges and every way the last block can overlap the tail. */
static const struct {
    size_t len, pos;
    bool from_end;
} utf8_slots[] = {
    {44, 0, false},
    {45, 1, false},
    {57, 13, false},
    {58, 14, false},
    {59, 15, false},
    {60, 16, false},
    {73, 29, false},
    {74, 30, false},
    {75, 31, false},
    {76, 32, false},
    {77, 33, false},
    {105, 61, false},
    {106, 62, false},
    {107, 63, false},
    {108, 64, false},
    {32, 0, true},
    {32, 2, true},
    {37, 0, true},
    {37, 1, true},
    {62, 0, true},
    {62, 1, true},
    {63, 0, true},
    {63, 1, true},
    {63, 2, true},
    {64, 0, true},
    {64, 1, true},
    {65, 0, true},
    {95, 0, true},
    {95, 2, true},
    {7, 0, true},
    /* across the start of the last full block, when the tail is 30 or 31 bytes */
    {63, 29, false},
    {63, 30, false},
    {63, 31, false},
    {62, 30, false},
    {62, 31, false},
    {95, 61, false},
    {95, 62, false},
    {95, 63, false},
    {94, 62, false},
    {94, 63, false},
};
#define NSLOTS (sizeof(utf8_slots) / sizeof(utf8_slots[0]))

/* seq in every slot, under every code path: all must agree with the reference on
 * validity and offset. */
static void check_utf8_all(const unsigned char *seq, size_t n, char **bufs)
{
    for (size_t b = 0; b < NSLOTS; b++) {
        size_t len = utf8_slots[b].len;
        size_t pos = utf8_slots[b].from_end ? len - n - utf8_slots[b].pos : utf8_slots[b].pos;
        unsigned char *buf = (unsigned char *)bufs[b];
        memcpy(buf + pos, seq, n);
        size_t want = 0;
        bool want_ok = ref_utf8(buf, len, &want);
        for (int level = EVS_SIMD_SCALAR; level <= EVS_SIMD_AVX2; level++) {
            evs__json_force_simd(level);
            size_t got = 99999;
            bool ok = evs__utf8_validate((const char *)buf, len, &got);
            if (ok != want_ok || (!ok && got != want))
                fail_msg("utf8 [%s] at %zu of %zu, simd %d: got %d at %zu, want %d at %zu",
                         show(seq, n), pos, len, evs__json_simd_level(), ok, got, want_ok, want);
        }
        memset(buf + pos, 'a', n);
    }
}

static int group_simd = -1; /* the code path of the running group */

static void test_utf8_exhaustive(void **state)
{
    static const unsigned char tails[] = {0x00, 0x7F, 0x80, 0x8F, 0x90,
                                          0x9F, 0xA0, 0xBF, 0xC0, 0xFF};
    char *bufs[NSLOTS];
    unsigned char seq[4];
    (void)state;

    for (size_t b = 0; b < NSLOTS; b++) {
        bufs[b] = malloc(utf8_slots[b].len);
        assert_non_null(bufs[b]);
        memset(bufs[b], 'a', utf8_slots[b].len);
    }
    for (unsigned a = 0; a < 256; a++) {
        seq[0] = (unsigned char)a;
        check_utf8_all(seq, 1, bufs);
        for (unsigned b = 0; b < 256; b++) {
            seq[1] = (unsigned char)b;
            check_utf8_all(seq, 2, bufs);
            if (a < 0xE0)
                continue;
            for (size_t c = 0; c < sizeof(tails); c++) {
                seq[2] = tails[c];
                check_utf8_all(seq, 3, bufs);
                if (a < 0xF0)
                    continue;
                for (size_t d = 0; d < sizeof(tails); d += 3) {
                    seq[3] = tails[d];
                    check_utf8_all(seq, 4, bufs);
                }
            }
        }
    }
    for (size_t b = 0; b < NSLOTS; b++)
        free(bufs[b]);
    evs__json_force_simd(group_simd);
}

static void test_utf8_api(void **state)
{
    size_t bad = 77;
    (void)state;
    assert_true(evs__utf8_validate("", 0, &bad));
    assert_true(evs__utf8_validate(NULL, 0, NULL));
    assert_true(evs__utf8_validate("abc", 3, NULL));
    assert_false(evs__utf8_validate("ab\xff", 3, NULL));
    assert_false(evs__utf8_validate("ab\xff", 3, &bad));
    assert_int_equal(bad, 2);

    /* Long texts: errors far from the start and mixed content, every code path. */
    size_t n = 4804; /* ends with a 4-byte sequence */
    char *s = malloc(n);
    assert_non_null(s);
    for (size_t i = 0; i + 4 <= n; i += 4)
        memcpy(s + i,
               i % 12 == 0   ? "\xf0\x9f\x98\x80"
               : i % 12 == 4 ? "\xe2\x82\xac "
                             : "ab\xc3\xa9",
               4);
    assert_true(evs__utf8_validate(s, n, &bad));
    for (size_t at = 4000; at < 4070; at++) {
        char saved = s[at];
        s[at] = (char)0xC0;
        size_t want;
        assert_false(ref_utf8((unsigned char *)s, n, &want));
        assert_false(evs__utf8_validate(s, n, &bad));
        assert_int_equal(bad, want);
        s[at] = saved;
    }
    assert_false(evs__utf8_validate(s, n - 1, &bad)); /* cuts the last sequence */
    assert_int_equal(bad, n - 4);
    free(s);
}

/* ---- object walk ------------------------------------------------------------------ */

typedef struct walk_log {
    int count;
    int stop_at; /* return 42 from this member (0-based), or -1 */
    evs__json_member m[16];
} walk_log;

static int log_member(void *ctx, const evs__json_member *m)
{
    walk_log *log = ctx;
    if (log->count < 16)
        log->m[log->count] = *m;
    return log->count++ == log->stop_at ? 42 : 0;
}

static void expect_member(const evs__json_member *m, const char *key, bool esc, const char *value,
                          evs__json_kind kind)
{
    assert_int_equal(m->key_len, strlen(key));
    assert_memory_equal(m->key, key, m->key_len);
    assert_int_equal(m->key_has_escape, esc);
    assert_int_equal(m->value_len, strlen(value));
    assert_memory_equal(m->value, value, m->value_len);
    assert_int_equal(m->kind, kind);
}

static int walk(const char *text, int max_depth, walk_log *log, evs__json_error *err)
{
    size_t len = strlen(text);
    char *buf = dup_exact(text, len);
    int rc = evs__json_object_walk(buf, len, max_depth, log_member, log, err);
    /* Members point into buf: compare before freeing by copying the log's view. */
    static char keep[4096];
    assert_true(len < sizeof(keep));
    memcpy(keep, buf, len);
    for (int i = 0; i < log->count && i < 16; i++) {
        log->m[i].key = keep + (log->m[i].key - buf);
        log->m[i].value = keep + (log->m[i].value - buf);
    }
    free(buf);
    return rc;
}

static void test_walk(void **state)
{
    walk_log log = {0, -1, {{0}}};
    evs__json_error err = {0, NULL};
    (void)state;

    assert_int_equal(walk(" { \"a\" : 1 , \"b\":\"x\\\"y\",\"c\":{\"d\":[1,2,{\"e\":null}]},"
                          "\"d\\u00e9\\n\":[ ],\"\":true,\"f\":false,\"g\":null,\"h\":-1.5e3 } ",
                          EVS_MAX_JSON_DEPTH, &log, &err),
                     0);
    assert_int_equal(log.count, 8);
    expect_member(&log.m[0], "a", false, "1", EVS__JSON_NUMBER);
    expect_member(&log.m[1], "b", false, "\"x\\\"y\"", EVS__JSON_STRING);
    expect_member(&log.m[2], "c", false, "{\"d\":[1,2,{\"e\":null}]}", EVS__JSON_OBJECT);
    expect_member(&log.m[3], "d\\u00e9\\n", true, "[ ]", EVS__JSON_ARRAY);
    expect_member(&log.m[4], "", false, "true", EVS__JSON_TRUE);
    expect_member(&log.m[5], "f", false, "false", EVS__JSON_FALSE);
    expect_member(&log.m[6], "g", false, "null", EVS__JSON_NULL);
    expect_member(&log.m[7], "h", false, "-1.5e3", EVS__JSON_NUMBER);

    log = (walk_log){0, -1, {{0}}};
    assert_int_equal(walk("{}", 1, &log, &err), 0);
    assert_int_equal(walk(" \n{ }\t", 1, &log, &err), 0);
    assert_int_equal(log.count, 0);

    /* A non-zero callback result stops the walk and is returned. */
    log = (walk_log){0, 1, {{0}}};
    assert_int_equal(walk("{\"a\":1,\"b\":2,\"c\":3}", 8, &log, &err), 42);
    assert_int_equal(log.count, 2);

    static const struct {
        const char *text;
        int max_depth;
        size_t off;
        const char *reason;
    } bad[] = {
        {"", 8, 0, "unexpected end of input"},
        {"  ", 8, 2, "unexpected end of input"},
        {"[1]", 8, 0, "not a JSON object"},
        {"  1", 8, 2, "not a JSON object"},
        {"\"s\"", 8, 0, "not a JSON object"},
        {"x", 8, 0, "not a JSON object"},
        {"{", 8, 1, "unexpected end of input"},
        {"{\"a\"", 8, 4, "unexpected end of input"},
        {"{\"a\":", 8, 5, "unexpected end of input"},
        {"{\"a\":1", 8, 6, "unexpected end of input"},
        {"{\"a\":1,", 8, 7, "unexpected end of input"},
        {"{\"a\":1,}", 8, 7, "expected '\"' to start an object key"},
        {"{\"a\" 1}", 8, 5, "expected ':' after object key"},
        {"{\"a\":1 \"b\":2}", 8, 7, "expected ',' or '}' after object member"},
        {"{\"a\":tru}", 8, 8, "invalid literal"},
        {"{\"a\":1} x", 8, 8, "trailing characters after the value"},
        {"{\"a\":1}}", 8, 7, "trailing characters after the value"},
        {"{\"a\":[1,2}", 8, 9, "expected ',' or ']' after array element"},
        {"{\"a\\x\":1}", 8, 4, "invalid escape"},
        {"{\"\xff\":1}", 8, 2, "invalid UTF-8"},
        {"{\"a\":[1]}", 1, 5, "nesting deeper than max_depth"},
        {"{\"a\":[[1]]}", 2, 6, "nesting deeper than max_depth"},
        {"{}", 0, 0, "nesting deeper than max_depth"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        log = (walk_log){0, -1, {{0}}};
        err = (evs__json_error){0, NULL};
        if (walk(bad[i].text, bad[i].max_depth, &log, &err) != -1 || err.offset != bad[i].off ||
            strcmp(err.reason, bad[i].reason) != 0)
            fail_msg("walk [%s]: got offset %zu (%s), want %zu (%s)", bad[i].text, err.offset,
                     err.reason ? err.reason : "-", bad[i].off, bad[i].reason);
    }
    log = (walk_log){0, -1, {{0}}};
    assert_int_equal(walk("{\"a\":[1]}", 2, &log, &err), 0);
    assert_int_equal(evs__json_object_walk(NULL, 0, 8, log_member, &log, NULL), -1);
}

/* ---- unescape and escape ---------------------------------------------------------- */

static void check_unescape(const char *raw, const char *want, size_t want_len)
{
    size_t len = strlen(raw), out_len = 999;
    char *in = dup_exact(raw, len), *out = malloc(len + 1);
    assert_non_null(out);
    evs__json_error err = {0, NULL};
    if (evs__json_unescape(in, len, out, &out_len, &err) != 0)
        fail_msg("unescape [%s]: %s at %zu", raw, err.reason, err.offset);
    assert_int_equal(out_len, want_len);
    assert_memory_equal(out, want, want_len);
    /* In place gives the same. */
    assert_int_equal(evs__json_unescape(in, len, in, &out_len, &err), 0);
    assert_int_equal(out_len, want_len);
    assert_memory_equal(in, want, want_len);
    free(in);
    free(out);
}

static void test_unescape(void **state)
{
    (void)state;
    check_unescape("", "", 0);
    check_unescape("plain text", "plain text", 10);
    check_unescape("\\\"\\\\\\/\\b\\f\\n\\r\\t", "\"\\/\b\f\n\r\t", 8);
    check_unescape("a\\u0041b", "aAb", 3);
    check_unescape("\\u0000", "\0", 1);
    check_unescape("\\u00e9\\u00E9", "\xc3\xa9\xc3\xa9", 4);
    check_unescape("\\u07FF\\u0800", "\xdf\xbf\xe0\xa0\x80", 5);
    check_unescape("\\u20AC", "\xe2\x82\xac", 3);
    check_unescape("\\uFFFF", "\xef\xbf\xbf", 3);
    check_unescape("\\uD83D\\uDE00", "\xf0\x9f\x98\x80", 4);
    check_unescape("\\uD800\\uDC00", "\xf0\x90\x80\x80", 4);
    check_unescape("\\uDBFF\\uDFFF", "\xf4\x8f\xbf\xbf", 4);
    check_unescape("caf\xc3\xa9 \\n", "caf\xc3\xa9 \n", 7);

    static const struct {
        const char *raw;
        size_t off;
        const char *reason;
    } bad[] = {
        {"\\q", 1, "invalid escape"},
        {"ab\\", 3, "truncated escape"},
        {"\\u12", 4, "truncated escape"},
        {"\\u12x4", 4, "invalid escape"},
        {"\\uD800", 0, "lone surrogate in \\u escape"},
        {"ab\\uDC00", 2, "lone surrogate in \\u escape"},
        {"\\uD800\\n", 0, "lone surrogate in \\u escape"},
        {"\\uD800\\u0041", 0, "lone surrogate in \\u escape"},
        {"\\uD800\\uDC", 10, "truncated escape"},
        {"\\uD800\\", 0, "lone surrogate in \\u escape"},
        {"\\uD800\\u", 8, "truncated escape"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = strlen(bad[i].raw), out_len;
        char *in = dup_exact(bad[i].raw, len), out[32];
        evs__json_error err = {0, NULL};
        assert_int_equal(evs__json_unescape(in, len, out, &out_len, &err), -1);
        if (err.offset != bad[i].off || strcmp(err.reason, bad[i].reason) != 0)
            fail_msg("unescape [%s]: %s at %zu", bad[i].raw, err.reason, err.offset);
        free(in);
    }
}

typedef struct sink {
    char buf[8192];
    size_t len;
    int calls;
    int fail_at; /* return -7 on this call (1-based), or 0 */
} sink;

static int sink_write(void *ctx, const char *p, size_t len)
{
    sink *s = ctx;
    if (++s->calls == s->fail_at)
        return -7;
    assert_true(len > 0);
    assert_true(s->len + len <= sizeof(s->buf));
    memcpy(s->buf + s->len, p, len);
    s->len += len;
    return 0;
}

static void check_escape(const char *in, size_t len, const char *want, int want_calls)
{
    sink s = {{0}, 0, 0, 0};
    char *buf = dup_exact(in, len);
    assert_int_equal(evs__json_escape(buf, len, sink_write, &s), 0);
    if (s.len != strlen(want) || memcmp(s.buf, want, s.len) != 0)
        fail_msg("escape [%s]: got [%.*s]", show(in, len), (int)s.len, s.buf);
    if (want_calls >= 0)
        assert_int_equal(s.calls, want_calls);
    free(buf);
}

static void test_escape(void **state)
{
    (void)state;
    check_escape("", 0, "", 0);
    check_escape("hello, world: a long run of safe bytes, 0123456789", 50,
                 "hello, world: a long run of safe bytes, 0123456789", 1);
    check_escape("caf\xc3\xa9 \xf0\x9f\x98\x80 / \x7f", 14, "caf\xc3\xa9 \xf0\x9f\x98\x80 / \x7f",
                 1);
    check_escape("a\"b\\c", 5, "a\\\"b\\\\c", 5);
    check_escape("\b\f\n\r\t", 5, "\\b\\f\\n\\r\\t", 5);
    check_escape("\x00\x01\x1f", 3, "\\u0000\\u0001\\u001f", 3);
    check_escape("x\x0by", 3, "x\\u000by", 3);

    char all[32];
    char want[32 * 6 + 1];
    size_t want_len = 0;
    for (int c = 0; c < 32; c++) {
        static const char *const names[32] = {
            ['\b'] = "\\b", ['\f'] = "\\f", ['\n'] = "\\n", ['\r'] = "\\r", ['\t'] = "\\t"};
        all[c] = (char)c;
        if (names[c])
            want_len += (size_t)snprintf(want + want_len, sizeof(want) - want_len, "%s", names[c]);
        else
            want_len += (size_t)snprintf(want + want_len, sizeof(want) - want_len, "\\u%04x", c);
    }
    check_escape(all, 32, want, 32);

    /* The writer's error stops the walk and is returned. */
    sink s = {{0}, 0, 0, 2};
    assert_int_equal(evs__json_escape("ab\ncd\"ef", 8, sink_write, &s), -7);
    assert_int_equal(s.calls, 2);
    assert_int_equal(evs__json_escape(NULL, 0, sink_write, &s), 0);
}

/* ---- randomized ------------------------------------------------------------------- */

typedef struct text {
    unsigned char *p;
    size_t len, cap;
} text;

static void put(text *t, const void *s, size_t n)
{
    if (t->len + n > t->cap) {
        t->cap = (t->len + n) * 2 + 64;
        t->p = realloc(t->p, t->cap);
        assert_non_null(t->p);
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
}

static void putc_(text *t, int c)
{
    unsigned char b = (unsigned char)c;
    put(t, &b, 1);
}

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Du) >> 32) % n;
}

static void put_utf8(text *t, unsigned cp)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp, n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | cp >> 6), b[1] = (unsigned char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | cp >> 18);
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F)), n = 4;
    }
    put(t, b, n);
}

/* A random scalar value (no surrogates), biased to the edges of each UTF-8 length. */
static unsigned rand_code_point(void)
{
    static const unsigned edges[] = {0x80,    0x7FF,    0x800, 0xD7FF, 0xE000, 0xFFFF,
                                     0x10000, 0x10FFFF, 0xE9,  0x20AC, 0x1F600};
    if (rnd(3) == 0)
        return edges[rnd(sizeof(edges) / sizeof(edges[0]))];
    unsigned cp = 0x80 + rnd(0x110000 - 0x80);
    return cp >= 0xD800 && cp <= 0xDFFF ? cp - 0x800 : cp;
}

static void gen_ws(text *t)
{
    static const char ws[] = " \t\n\r";
    if (rnd(4) == 0) {
        for (uint32_t n = 1 + rnd(3); n; n--)
            putc_(t, ws[rnd(4)]);
    }
}

static void gen_string(text *t, size_t max_len)
{
    static const char *const esc[] = {"\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"};
    char u[16];
    size_t target = rnd(4) == 0 ? rnd((uint32_t)max_len + 1) : rnd(12);
    size_t start = t->len;
    putc_(t, '"');
    while (t->len - start < target) {
        uint32_t r = rnd(20);
        if (r < 12) {
            int c;
            do
                c = 0x20 + (int)rnd(0x60);
            while (c == '"' || c == '\\');
            putc_(t, c);
        } else if (r < 14) {
            const char *e = esc[rnd(8)];
            put(t, e, strlen(e));
        } else if (r < 15) {
            unsigned cp = rand_code_point();
            if (cp >= 0x10000) {
                cp -= 0x10000;
                snprintf(u, sizeof(u), "\\u%04X\\u%04x", 0xD800 + (cp >> 10),
                         0xDC00 + (cp & 0x3FF));
            } else {
                snprintf(u, sizeof(u), rnd(2) ? "\\u%04x" : "\\u%04X", rnd(2) ? cp : rnd(0x80));
            }
            put(t, u, strlen(u));
        } else {
            put_utf8(t, rand_code_point());
        }
    }
    putc_(t, '"');
}

static void gen_number(text *t)
{
    if (rnd(2))
        putc_(t, '-');
    if (rnd(4) == 0) {
        putc_(t, '0');
    } else {
        putc_(t, '1' + (int)rnd(9));
        for (uint32_t n = rnd(rnd(8) == 0 ? 30 : 4); n; n--)
            putc_(t, '0' + (int)rnd(10));
    }
    if (rnd(3) == 0) {
        putc_(t, '.');
        for (uint32_t n = 1 + rnd(6); n; n--)
            putc_(t, '0' + (int)rnd(10));
    }
    if (rnd(4) == 0) {
        putc_(t, rnd(2) ? 'e' : 'E');
        if (rnd(2))
            putc_(t, rnd(2) ? '+' : '-');
        for (uint32_t n = 1 + rnd(3); n; n--)
            putc_(t, '0' + (int)rnd(10));
    }
}

static void gen_value(text *t, int depth, int *budget)
{
    uint32_t r = depth >= 8 || *budget <= 0 ? 4 + rnd(6) : rnd(10);
    (*budget)--;
    if (r < 4) {
        bool obj = r < 2;
        putc_(t, obj ? '{' : '[');
        gen_ws(t);
        for (uint32_t n = rnd(6), i = 0; i < n; i++) {
            if (i) {
                putc_(t, ',');
                gen_ws(t);
            }
            if (obj) {
                gen_string(t, 40);
                gen_ws(t);
                putc_(t, ':');
                gen_ws(t);
            }
            gen_value(t, depth + 1, budget);
            gen_ws(t);
        }
        putc_(t, obj ? '}' : ']');
    } else if (r < 7) {
        gen_string(t, 300);
    } else if (r < 9) {
        gen_number(t);
    } else {
        static const char *const lits[] = {"true", "false", "null"};
        const char *l = lits[rnd(3)];
        put(t, l, strlen(l));
    }
}

static int count_member(void *ctx, const evs__json_member *m)
{
    (void)m;
    (*(int *)ctx)++;
    return 0;
}

/* Validator, reference and (for objects) the walk must agree on validity and offset. */
static void check_agree(const unsigned char *doc, size_t len, int max_depth, uint64_t seed,
                        int iter, const char *what)
{
    char *buf = dup_exact(doc, len);
    evs__json_error err = {0, NULL};
    size_t ref_off = 0;
    bool ok = evs__json_validate(buf, len, max_depth, &err);
    bool ref_ok = ref_validate(buf, len, max_depth, &ref_off);
    if (ok != ref_ok || (!ok && err.offset != ref_off))
        fail_msg("seed %llu (rerun with EVS_TEST_SEED=%llu), iteration %d, %s, max_depth %d: "
                 "validator says %s at %zu (%s), reference %s at %zu: [%s]",
                 (unsigned long long)seed, (unsigned long long)seed, iter, what, max_depth,
                 ok ? "valid" : "invalid", err.offset, err.reason ? err.reason : "-",
                 ref_ok ? "valid" : "invalid", ref_off, show(doc, len));
    size_t i = 0;
    while (i < len && evs__json_is_ws(doc[i]))
        i++;
    if (i < len && doc[i] == '{') {
        int members = 0;
        evs__json_error werr = {0, NULL};
        int rc = evs__json_object_walk(buf, len, max_depth, count_member, &members, &werr);
        if ((rc == 0) != ok || (!ok && werr.offset != err.offset))
            fail_msg("seed %llu (rerun with EVS_TEST_SEED=%llu), iteration %d, %s: walk "
                     "returned %d at %zu, validate %d at %zu: [%s]",
                     (unsigned long long)seed, (unsigned long long)seed, iter, what, rc,
                     werr.offset, ok, err.offset, show(doc, len));
    }
    free(buf);
}

static void mutate(text *t)
{
    static const unsigned char interesting[] = {
        '"',  '\\', '{',  '}',  '[',  ']',  ',',  ':',  ' ',  '\n', 'u',  'D',
        'd',  'C',  '0',  '9',  '-',  '+',  'e',  '.',  't',  'n',  0x00, 0x1F,
        0x7F, 0x80, 0xBF, 0xC0, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFF};
    size_t at = t->len ? rnd((uint32_t)t->len) : 0;
    unsigned char b = rnd(2) ? interesting[rnd(sizeof(interesting))] : (unsigned char)rnd(256);
    switch (rnd(4)) {
    case 0: /* insert */
        putc_(t, 0);
        memmove(t->p + at + 1, t->p + at, t->len - 1 - at);
        t->p[at] = b;
        break;
    case 1: /* delete */
        if (t->len) {
            memmove(t->p + at, t->p + at + 1, t->len - at - 1);
            t->len--;
        }
        break;
    case 2: /* truncate */
        t->len = at;
        break;
    default: /* replace */
        if (t->len)
            t->p[at] = b;
        break;
    }
}

/* The seed of a randomized test: EVS_TEST_SEED, or a new one each run. */
static uint64_t test_seed(void)
{
    const char *env = getenv("EVS_TEST_SEED");
    if (env)
        return strtoull(env, NULL, 10);
    return ((uint64_t)time(NULL) * 2654435761u) ^ (uint64_t)clock();
}

static void test_random_documents(void **state)
{
    const char *env_iters = getenv("EVS_TEST_ITERS");
    uint64_t seed = test_seed();
    int iters = env_iters ? (int)strtol(env_iters, NULL, 10) : 1500;
    text doc = {NULL, 0, 0}, m = {NULL, 0, 0};
    (void)state;

    rng_state = seed | 1;
    for (int it = 0; it < iters; it++) {
        int budget = 40;
        doc.len = 0;
        gen_ws(&doc);
        gen_value(&doc, 0, &budget);
        gen_ws(&doc);
        check_agree(doc.p, doc.len, EVS_MAX_JSON_DEPTH, seed, it, "generated");
        if (!evs__json_validate((const char *)doc.p, doc.len, EVS_MAX_JSON_DEPTH, NULL))
            fail_msg("seed %llu (rerun with EVS_TEST_SEED=%llu), iteration %d: generated "
                     "document is invalid: [%s]",
                     (unsigned long long)seed, (unsigned long long)seed, it, show(doc.p, doc.len));
        for (int k = 0; k < 25; k++) {
            m.len = 0;
            put(&m, doc.p, doc.len);
            for (uint32_t n = 1 + (rnd(4) == 0 ? rnd(3) : 0); n; n--)
                mutate(&m);
            int max_depth = rnd(4) == 0 ? (int)rnd(6) : EVS_MAX_JSON_DEPTH;
            check_agree(m.p, m.len, max_depth, seed, it, "mutated");
        }
    }
    free(doc.p);
    free(m.p);
}

/* Random text through escape, then validate as a string, then unescape: the same. */
static void test_escape_round_trip(void **state)
{
    uint64_t seed = test_seed();
    text in = {NULL, 0, 0};
    (void)state;

    rng_state = seed | 1;
    for (int it = 0; it < 2000; it++) {
        in.len = 0;
        for (uint32_t n = rnd(rnd(8) == 0 ? 300 : 20); n; n--) {
            uint32_t r = rnd(10);
            if (r < 5)
                putc_(&in, (int)rnd(0x80));
            else if (r < 7)
                putc_(&in, "\"\\\n\t/"[rnd(5)]);
            else
                put_utf8(&in, rand_code_point());
        }
        sink s = {{0}, 0, 0, 0};
        putc_(&in, 0); /* so that in.p is non-NULL; not part of the text */
        in.len--;
        s.buf[s.len++] = '"';
        assert_int_equal(evs__json_escape((const char *)in.p, in.len, sink_write, &s), 0);
        s.buf[s.len++] = '"';
        evs__json_error err = {0, NULL};
        if (!evs__json_validate(s.buf, s.len, 1, &err))
            fail_msg("seed %llu (rerun with EVS_TEST_SEED=%llu): escaped text does not "
                     "validate: %s at %zu: [%s]",
                     (unsigned long long)seed, (unsigned long long)seed, err.reason, err.offset,
                     show(s.buf, s.len));
        char out[8192];
        size_t out_len;
        if (evs__json_unescape(s.buf + 1, s.len - 2, out, &out_len, &err) != 0 ||
            out_len != in.len || memcmp(out, in.p, in.len) != 0)
            fail_msg("seed %llu (rerun with EVS_TEST_SEED=%llu): round trip changed [%s]",
                     (unsigned long long)seed, (unsigned long long)seed, show(in.p, in.len));
    }
    free(in.p);
}

/* ---- runner ----------------------------------------------------------------------- */

static int setup_scalar(void **state)
{
    (void)state;
    group_simd = evs__json_force_simd(EVS_SIMD_SCALAR);
    return 0;
}

static int setup_sse2(void **state)
{
    (void)state;
    group_simd = evs__json_force_simd(EVS_SIMD_SSE2);
    return 0;
}

static int setup_avx2(void **state)
{
    (void)state;
    group_simd = evs__json_force_simd(EVS_SIMD_AVX2);
    return 0;
}

int main(void)
{
    const struct CMUnitTest per_path[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_whitespace_and_trailing),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_surrogates),
        cmocka_unit_test(test_control_characters),
        cmocka_unit_test(test_utf8_in_strings),
        cmocka_unit_test(test_string_block_boundaries),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_utf8_api),
        cmocka_unit_test(test_walk),
        cmocka_unit_test(test_unescape),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_escape_round_trip),
        cmocka_unit_test(test_random_documents),
    };
    const struct CMUnitTest once[] = {
        cmocka_unit_test(test_utf8_exhaustive),
    };
    int failed = 0;

    failed += cmocka_run_group_tests_name("json/scalar", per_path, setup_scalar, NULL);
    failed += cmocka_run_group_tests_name("json/sse2", per_path, setup_sse2, NULL);
    failed += cmocka_run_group_tests_name("json/avx2", per_path, setup_avx2, NULL);
    failed += cmocka_run_group_tests_name("json/utf8", once, setup_avx2, NULL);
    return failed ? 1 : 0;
}
