/*
 * json_walk.c - the little parsing evstore does beyond validation: walking the members
 * of one object (an NDJSON input line, a metadata object), turning a string's raw bytes
 * into text (evs__json_unescape) and text into a string body (evs__json_escape).
 *
 * The walk reuses the validator's value parser for every member value, so it accepts
 * exactly what evs__json_validate accepts and reports the same offsets.
 */
#include "json_internal.h"

#include <string.h>

/* ---- object walk ------------------------------------------------------------------ */

static evs__json_kind kind_of(unsigned char c)
{
    switch (c) {
    case '{':
        return EVS__JSON_OBJECT;
    case '[':
        return EVS__JSON_ARRAY;
    case '"':
        return EVS__JSON_STRING;
    case 't':
        return EVS__JSON_TRUE;
    case 'f':
        return EVS__JSON_FALSE;
    case 'n':
        return EVS__JSON_NULL;
    default:
        return EVS__JSON_NUMBER;
    }
}

/* Parse `"key": value` at p (the key's opening quote) into *m. Returns the byte after
 * the value, or NULL. */
static const unsigned char *parse_member(evs__json_parser *jp, const unsigned char *p,
                                         int max_depth, evs__json_member *m)
{
    const unsigned char *key = p + 1;

    m->key_has_escape = false;
    p = evs__json_parse_string(jp, key, &m->key_has_escape);
    if (p == NULL)
        return NULL;
    m->key = (const char *)key;
    m->key_len = (size_t)(p - 1 - key);
    p = evs__json_skip_ws(p, jp->end);
    if (p == jp->end)
        return evs__json_fail(jp, p, "unexpected end of input");
    if (*p != ':')
        return evs__json_fail(jp, p, "expected ':' after object key");
    p = evs__json_skip_ws(p + 1, jp->end);
    const unsigned char *value = p;
    p = evs__json_parse_value(jp, p, max_depth - 1);
    if (p == NULL)
        return NULL;
    m->value = (const char *)value;
    m->value_len = (size_t)(p - value);
    m->kind = kind_of(*value);
    return p;
}

int evs__json_object_walk(const char *buf, size_t len, int max_depth, evs__json_member_cb cb,
                          void *ctx, evs__json_error *err)
{
    evs__json_error dummy;
    evs__json_parser jp = evs__json_parser_over(buf, len, err, &dummy, evs__json_simd_level());
    const unsigned char *p = evs__json_skip_ws(jp.base, jp.end);

    if (p == jp.end) {
        evs__json_fail(&jp, p, "unexpected end of input");
        return -1;
    }
    if (*p != '{') {
        evs__json_fail(&jp, p, "not a JSON object");
        return -1;
    }
    if (max_depth < 1) {
        evs__json_fail(&jp, p, "nesting deeper than max_depth");
        return -1;
    }
    p = evs__json_skip_ws(p + 1, jp.end);
    if (p < jp.end && *p == '}')
        goto close;
    for (;;) {
        evs__json_member m;
        if (p == jp.end) {
            evs__json_fail(&jp, p, "unexpected end of input");
            return -1;
        }
        if (*p != '"') {
            evs__json_fail(&jp, p, "expected '\"' to start an object key");
            return -1;
        }
        p = parse_member(&jp, p, max_depth, &m);
        if (p == NULL)
            return -1;
        int rc = cb(ctx, &m);
        if (rc != 0)
            return rc;
        p = evs__json_skip_ws(p, jp.end);
        if (p < jp.end && *p == ',') {
            p = evs__json_skip_ws(p + 1, jp.end);
            continue;
        }
        if (p < jp.end && *p == '}')
            goto close;
        evs__json_fail(&jp, p,
                       p == jp.end ? "unexpected end of input"
                                   : "expected ',' or '}' after object member");
        return -1;
    }

close:
    p = evs__json_skip_ws(p + 1, jp.end);
    if (p != jp.end) {
        evs__json_fail(&jp, p, "trailing characters after the value");
        return -1;
    }
    return 0;
}

/* ---- unescape --------------------------------------------------------------------- */

static size_t put_utf8(unsigned char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Bytes other than escapes are copied as they are; checking them is the validator's
 * job. out may equal raw (in-place): output never overtakes input, because every
 * escape is at least as long as the UTF-8 it becomes (\uXXXX = 6 bytes -> at most 3,
 * a surrogate pair = 12 -> 4), and each escape is read before its output is written. */
int evs__json_unescape(const char *raw, size_t raw_len, char *out, size_t *out_len,
                       evs__json_error *err)
{
    evs__json_error dummy;
    evs__json_parser jp = evs__json_parser_over(raw, raw_len, err, &dummy, EVS_SIMD_SCALAR);
    const unsigned char *p = jp.base;
    unsigned char *o = (unsigned char *)out;

    while (p < jp.end) {
        const unsigned char *bs = memchr(p, '\\', (size_t)(jp.end - p));
        size_t n = (size_t)((bs ? bs : jp.end) - p);
        if (o != p)
            memmove(o, p, n);
        o += n;
        p += n;
        if (bs == NULL)
            break;
        unsigned cp;
        p = evs__json_read_escape(&jp, p, &cp, true);
        if (p == NULL)
            return -1;
        o += put_utf8(o, cp);
    }
    *out_len = (size_t)(o - (unsigned char *)out);
    return 0;
}

/* ---- escape ----------------------------------------------------------------------- */

/* The escape for one byte that cannot appear raw in a string. */
static size_t escape_byte(char *e, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    static const char short_form[32] = {
        ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};
    e[0] = '\\';
    if (c == '"' || c == '\\') {
        e[1] = (char)c;
        return 2;
    }
    if (short_form[c]) {
        e[1] = short_form[c];
        return 2;
    }
    memcpy(e + 1, "u00", 3);
    e[4] = hex[c >> 4];
    e[5] = hex[c & 0xF];
    return 6;
}

int evs__json_escape(const char *s, size_t len, evs__json_write_fn write, void *ctx)
{
    if (s == NULL || len == 0)
        return 0;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    int simd = evs__json_simd_level();

    while (p < end) {
        unsigned hi = 0; /* unused: s is valid UTF-8 already */
        const unsigned char *stop = evs__json_scan_string(p, end, &hi, simd);
        int rc;
        if (stop > p && (rc = write(ctx, (const char *)p, (size_t)(stop - p))) != 0)
            return rc;
        if (stop == end)
            break;
        char e[6];
        if ((rc = write(ctx, e, escape_byte(e, *stop))) != 0)
            return rc;
        p = stop + 1;
    }
    return 0;
}
