/*
 * import_parse.c - what the line parsers of `evstore import` share: the scratch bound,
 * key matching, names unescaped into the scratch, the stream choice, messages.
 */
#include "import_parse.h"

#include "evstore.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Every format writes into the scratch only pieces of the line (unescaping never
 * grows), each at most once, plus a NUL per name and a small fixed envelope: twice
 * the line bounds the pieces with room to spare, and 128 bytes cover the envelope
 * (eventlog's metadata keys and a 20-digit position, the longest). */
size_t im_scratch_need(size_t len)
{
    return 2 * len + 128;
}

int im_line_bad(im_line *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(l->why, sizeof l->why, fmt, ap);
    va_end(ap);
    return -1;
}

int im_line_bad_json(im_line *l, const evs__json_error *jerr)
{
    return im_line_bad(l, "not a JSON object: %s at byte %zu",
                       jerr->reason != NULL ? jerr->reason : "error", jerr->offset);
}

bool im_key_is(const evs__json_member *m, const char *name)
{
    return !m->key_has_escape && strlen(name) == m->key_len &&
           memcmp(m->key, name, m->key_len) == 0;
}

/* Does the key of m equal name[0..len)? */
static bool key_is_n(const evs__json_member *m, const char *name, size_t len)
{
    return !m->key_has_escape && m->key_len == len && memcmp(m->key, name, len) == 0;
}

struct field_find {
    const char *name;
    size_t len;
    evs__json_member m;
    bool found;
};

static int find_member(void *ctx, const evs__json_member *m)
{
    struct field_find *f = ctx;
    if (!key_is_n(m, f->name, f->len))
        return 0;
    f->m = *m;
    f->found = true;
    return 1;
}

bool im_field_at(const evs__json_member *m, const char *path, evs__json_member *out, bool *found)
{
    const char *dot = strchr(path, '.');
    size_t len = dot != NULL ? (size_t)(dot - path) : strlen(path);
    if (!key_is_n(m, path, len))
        return false;
    evs__json_member cur = *m;
    *found = true;
    while (dot != NULL && *found) {
        const char *name = dot + 1;
        dot = strchr(name, '.');
        struct field_find f = {name, dot != NULL ? (size_t)(dot - name) : strlen(name),
                               {NULL, 0, false, NULL, 0, EVS__JSON_INVALID}, false};
        if (cur.kind == EVS__JSON_OBJECT)
            (void)evs__json_object_walk(cur.value, cur.value_len, EVS_MAX_JSON_DEPTH + 1,
                                        find_member, &f, NULL);
        *found = f.found;
        cur = f.m;
    }
    if (*found)
        *out = cur;
    return true;
}

int im_pick_type_stream(void *ctx, const evs__json_member *m)
{
    im_type_stream *w = ctx;
    if (im_key_is(m, "type") && m->kind == EVS__JSON_STRING) {
        w->type = *m;
        w->has_type = true;
    }
    if (w->stream_field != NULL)
        (void)im_field_at(m, w->stream_field, &w->stream, &w->has_stream);
    return 0;
}

int im_line_string(im_line *l, const evs__json_member *m, const char *field, const char **out)
{
    if (m->kind != EVS__JSON_STRING)
        return im_line_bad(l, "field \"%s\" must be a string", field);
    char *dst = l->scratch + l->scratch_len;
    size_t n;
    evs__json_error jerr;
    if (evs__json_unescape(m->value + 1, m->value_len - 2, dst, &n, &jerr) != 0)
        return im_line_bad(l, "field \"%s\": invalid escape: %s", field, jerr.reason);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)dst[i];
        if (c < 0x20 || c == 0x7f)
            return im_line_bad(l, "field \"%s\" contains a control character", field);
    }
    if (n == 0)
        return im_line_bad(l, "field \"%s\" must not be empty", field);
    dst[n] = '\0';
    l->scratch_len += n + 1;
    *out = dst;
    return 0;
}

int im_line_stream(im_line *l, const evs__json_member *m, const char *where, const char **out)
{
    if (l->stream_field == NULL) {
        assert(l->default_stream != NULL);
        *out = l->default_stream;
        return 0;
    }
    char field[96];
    (void)snprintf(field, sizeof field, "%s%.60s", where, l->stream_field);
    if (m == NULL)
        return im_line_bad(l, "field \"%s\" (--stream-field) is missing", field);
    return im_line_string(l, m, field, out);
}
