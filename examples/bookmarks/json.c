/*
 * json.c - the example's minimal JSON reader and string writer (see json.h).
 */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void skip_space(json_in *in)
{
    while (in->p < in->end && (*in->p == ' ' || *in->p == '\t' || *in->p == '\n' || *in->p == '\r'))
        in->p++;
}

static bool take(json_in *in, char ch)
{
    skip_space(in);
    if (in->p < in->end && *in->p == ch) {
        in->p++;
        return true;
    }
    return false;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* One escape after the backslash at in->p; appends to out. */
static bool unescape(json_in *in, char *out, size_t *n)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    char c = *in->p++;
    const char *k = strchr(from, c);
    if (c != 'u') {
        if (!k || !c)
            return false;
        out[(*n)++] = to[k - from];
        return true;
    }
    if (in->end - in->p < 4)
        return false;
    int cp = hex4(in->p);
    in->p += 4;
    if (cp < 0)
        return false;
    /* A high surrogate followed by \uDC00..\uDFFF is one code point. */
    if (cp >= 0xD800 && cp < 0xDC00 && in->end - in->p >= 6 && in->p[0] == '\\' &&
        in->p[1] == 'u') {
        int lo = hex4(in->p + 2);
        if (lo >= 0xDC00 && lo < 0xE000) {
            in->p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
    }
    *n += put_utf8(out + *n, (uint32_t)cp);
    return true;
}

char *json_string(json_in *in)
{
    skip_space(in);
    if (in->p >= in->end || *in->p != '"')
        return NULL;
    const char *start = in->p;
    in->p++;
    /* Decoded text is never longer than its escaped form. */
    char *out = malloc((size_t)(in->end - in->p) + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    while (in->p < in->end && *in->p != '"') {
        if (*in->p == '\\') {
            in->p++;
            if (in->p >= in->end || !unescape(in, out, &n))
                break;
        } else {
            out[n++] = *in->p++;
        }
    }
    if (in->p >= in->end || *in->p != '"') {
        free(out);
        in->p = start;
        return NULL;
    }
    in->p++;
    out[n] = '\0';
    return out;
}

bool json_object(json_in *in, json_member_fn member, void *ctx)
{
    if (!take(in, '{'))
        return false;
    if (take(in, '}'))
        return true;
    do {
        char *key = json_string(in);
        bool ok = key && take(in, ':') && member(in, key, ctx);
        free(key);
        if (!ok)
            return false;
    } while (take(in, ','));
    return take(in, '}');
}

bool json_array(json_in *in, json_item_fn item, void *ctx)
{
    if (!take(in, '['))
        return false;
    if (take(in, ']'))
        return true;
    do {
        if (!item(in, ctx))
            return false;
    } while (take(in, ','));
    return take(in, ']');
}

static bool skip_member(json_in *in, const char *key, void *ctx)
{
    (void)key;
    (void)ctx;
    return json_skip(in);
}

static bool skip_item(json_in *in, void *ctx)
{
    (void)ctx;
    return json_skip(in);
}

bool json_skip(json_in *in)
{
    skip_space(in);
    if (in->p >= in->end)
        return false;
    if (*in->p == '{')
        return json_object(in, skip_member, NULL);
    if (*in->p == '[')
        return json_array(in, skip_item, NULL);
    if (*in->p == '"') {
        char *s = json_string(in);
        free(s);
        return s != NULL;
    }
    /* A number, true, false or null: up to the next delimiter. */
    const char *start = in->p;
    while (in->p < in->end && !strchr(",]} \t\r\n", *in->p))
        in->p++;
    return in->p > start;
}

void json_put_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}
