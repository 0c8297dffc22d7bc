/*
 * uuid.c - version 4 UUIDs (RFC 4122 section 4.4) and their 36-character text form.
 * The random bytes, and what keeps them unique across threads and fork(), are
 * random.c's.
 */
#include "evstore.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

int evs__uuid_v4(unsigned char out[16])
{
    int rc = evs__random_bytes(out, 16);
    if (rc < 0)
        return rc;
    out[6] = (unsigned char)((out[6] & 0x0F) | 0x40); /* version 4 */
    out[8] = (unsigned char)((out[8] & 0x3F) | 0x80); /* variant 10xx */
    return 0;
}

static const char hex_lower[16] = "0123456789abcdef";

void evs__uuid_format(char buf[37], const unsigned char id[16])
{
    char *o = buf;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex_lower[id[i] >> 4];
        *o++ = hex_lower[id[i] & 0x0F];
    }
    *o = '\0';
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20; /* ASCII letters: fold to lower case */
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* A character for an error message: itself when printable ASCII, else \xNN. */
static void char_repr(char out[8], unsigned char c)
{
    if (c >= 0x20 && c < 0x7F)
        (void)snprintf(out, 8, "'%c'", c);
    else
        (void)snprintf(out, 8, "\\x%02x", c);
}

int evs__uuid_parse(unsigned char out[16], const char *text, size_t len)
{
    if (len != 36)
        return evs__seterr(EVS_EINVAL,
                           "bad UUID: %zu characters, expected 36 "
                           "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                           len);
    const unsigned char *s = (const unsigned char *)text;
    unsigned char id[16];
    size_t i = 0;
    for (int k = 0; k < 16; k++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                char r[8];
                char_repr(r, s[i]);
                return evs__seterr(EVS_EINVAL, "bad UUID: character %zu is %s, expected '-'", i + 1,
                                   r);
            }
            i++;
        }
        int hi = hex_value(s[i]);
        int lo = hex_value(s[i + 1]);
        if (hi < 0 || lo < 0) {
            size_t at = hi < 0 ? i : i + 1;
            char r[8];
            char_repr(r, s[at]);
            return evs__seterr(EVS_EINVAL, "bad UUID: character %zu is %s, expected a hex digit",
                               at + 1, r);
        }
        id[k] = (unsigned char)(hi << 4 | lo);
        i += 2;
    }
    memcpy(out, id, 16);
    return 0;
}
