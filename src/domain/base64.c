/*
 * base64.c - RFC 4648 base64 with padding, for snapshot states inside JSON strings.
 */
#include "domain_internal.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int evs__base64_encode(evs__buf *out, const unsigned char *p, size_t len)
{
    int rc = evs__buf_reserve(out, (len + 2) / 3 * 4);
    if (rc < 0)
        return rc;
    char *o = out->ptr + out->len;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = alphabet[(v >> 6) & 63];
        *o++ = alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    out->len = (size_t)(o - out->ptr);
    return 0;
}

static int digit_of(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int evs__base64_decode(evs__buf *out, const char *text, size_t len)
{
    if (len % 4 != 0)
        return evs__seterr(EVS_EINVAL, "base64 text of %zu characters (not a multiple of 4)", len);
    size_t pad = len >= 1 && text[len - 1] == '=' ? (len >= 2 && text[len - 2] == '=' ? 2 : 1) : 0;
    int rc = evs__buf_reserve(out, len / 4 * 3);
    if (rc < 0)
        return rc;
    unsigned char *o = (unsigned char *)out->ptr + out->len;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        for (size_t k = 0; k < 4; k++) {
            bool padding = i + k >= len - pad;
            int d = padding ? 0 : digit_of(text[i + k]);
            if (d < 0)
                return evs__seterr(EVS_EINVAL, "not a base64 character at offset %zu", i + k);
            v = v << 6 | (uint32_t)d;
        }
        size_t n = i + 4 == len ? 3 - pad : 3;
        for (size_t k = 0; k < n; k++)
            *o++ = (unsigned char)(v >> (16 - 8 * k));
    }
    out->len = (size_t)((char *)o - out->ptr);
    return 0;
}
