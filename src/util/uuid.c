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

/* Hex digit values plus one (0: not a hex digit). A table rather than comparisons:
 * branching on digit-or-letter mispredicts on about every other character of a random
 * UUID, and an import parses one per event. */
static const unsigned char hex_plus1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static int hex_value(unsigned char c)
{
    return (int)hex_plus1[c] - 1;
}

/* A character for an error message: itself when printable ASCII, else \xNN. */
static void char_repr(char out[8], unsigned char c)
{
    if (c >= 0x20 && c < 0x7F)
        (void)snprintf(out, 8, "'%c'", c);
    else
        (void)snprintf(out, 8, "\\x%02x", c);
}

/* The first problem of a 36-character text that is not a UUID, as the error. */
static int uuid_problem(const unsigned char *s)
{
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] == '-' : hex_value(s[i]) >= 0)
            continue;
        char r[8];
        char_repr(r, s[i]);
        return evs__seterr(EVS_EINVAL, "bad UUID: character %zu is %s, expected %s", i + 1, r,
                           dash ? "'-'" : "a hex digit");
    }
    return evs__seterr(EVS_EINVAL, "bad UUID");
}

int evs__uuid_parse(unsigned char out[16], const char *text, size_t len)
{
    /* Where each byte's two digits start. */
    static const unsigned char at[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
    if (len != 36)
        return evs__seterr(EVS_EINVAL,
                           "bad UUID: %zu characters, expected 36 "
                           "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                           len);
    const unsigned char *s = (const unsigned char *)text;
    unsigned char id[16];
    bool bad = s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-';
    for (int k = 0; k < 16; k++) {
        unsigned hi = hex_plus1[s[at[k]]], lo = hex_plus1[s[at[k] + 1]];
        bad |= hi == 0 || lo == 0;
        id[k] = (unsigned char)((hi - 1) << 4 | (lo - 1));
    }
    if (bad)
        return uuid_problem(s);
    memcpy(out, id, 16);
    return 0;
}
