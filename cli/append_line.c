/*
 * append_line.c - one NDJSON input line of `evstore append` into an event.
 *
 * The line is walked once with evs__json_object_walk, which also validates it, so a
 * line that passes holds valid JSON in data and metadata. data and metadata stay where
 * they are in the input buffer (stored byte for byte); stream and type are unescaped
 * into the names buffer because the library wants NUL-terminated text.
 *
 * Unknown fields are an error: a misspelt "metdata" silently dropped would lose data.
 * The envelope fields that `evstore read` prints and the store assigns (pos, version,
 * ts) are accepted and ignored, so read's output can be appended to another store.
 */
#include "append.h"
#include "cli_common.h"
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum field { F_STREAM, F_TYPE, F_DATA, F_ID, F_METADATA, F_EXPECTED, F_COUNT, F_IGNORED };

static const char *const field_names[F_COUNT] = {
    "stream", "type", "data", "id", "metadata", "expected_version",
};

static const char *const ignored_names[] = {"pos", "version", "ts"};

struct span {
    const char *p; /* the raw value; NULL when the field is absent */
    size_t len;
    evs__json_kind kind;
};

struct walk_ctx {
    struct span f[F_COUNT];
    ap_bad *bad;
};

static int set_bad(ap_bad *bad, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_bad(ap_bad *bad, const char *field, const char *fmt, ...)
{
    (void)snprintf(bad->field, sizeof bad->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(bad->what, sizeof bad->what, fmt, ap);
    va_end(ap);
    return AP_PARSE_BAD;
}

/* Which field a key names; -1 for an unknown one. */
static int classify_key(const evs__json_member *m)
{
    char key[32];
    size_t key_len = m->key_len;
    const char *k = m->key;
    if (m->key_has_escape) {
        if (key_len > sizeof key)
            return -1;
        evs__json_error jerr;
        if (evs__json_unescape(m->key, m->key_len, key, &key_len, &jerr) != 0)
            return -1;
        k = key;
    }
    for (int i = 0; i < F_COUNT; i++) {
        if (strlen(field_names[i]) == key_len && memcmp(field_names[i], k, key_len) == 0)
            return i;
    }
    for (size_t i = 0; i < sizeof ignored_names / sizeof ignored_names[0]; i++) {
        if (strlen(ignored_names[i]) == key_len && memcmp(ignored_names[i], k, key_len) == 0)
            return F_IGNORED;
    }
    return -1;
}

/* Returns 1 (a positive value: the walk's own failures are -1) for a bad member. */
static int on_member(void *vctx, const evs__json_member *m)
{
    struct walk_ctx *ctx = vctx;
    int f = classify_key(m);
    if (f < 0) {
        char name[64];
        (void)snprintf(name, sizeof name, "%.*s", m->key_len > 40 ? 40 : (int)m->key_len, m->key);
        set_bad(ctx->bad, name,
                "unknown field (allowed: stream, type, data, id, metadata, expected_version)");
        return 1;
    }
    if (f == F_IGNORED)
        return 0;
    if (ctx->f[f].p != NULL) {
        set_bad(ctx->bad, field_names[f], "given twice");
        return 1;
    }
    ctx->f[f] = (struct span){m->value, m->value_len, m->kind};
    return 0;
}

/* Name the top-level key whose value holds byte `err_off` of an object that failed to
 * parse, so "invalid JSON inside data" says "data"; a structural error between members
 * (a missing comma, trailing bytes) names no field. A light scan that tolerates invalid
 * input: it tracks strings, nesting and where each member's value starts and ends. */
static void key_at(const char *s, size_t len, size_t err_off, char *out, size_t out_len)
{
    int depth = 0;
    bool in_str = false, in_value = false, value_done = false;
    size_t str = 0, key = 0, key_len = 0;
    size_t end = err_off < len ? err_off : len;
    out[0] = '\0';
    for (size_t i = 0; i < end; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_str = false;
                if (depth == 1 && !in_value) {
                    key = str;
                    key_len = i - str;
                } else if (depth == 1) {
                    value_done = true;
                }
            }
            continue;
        }
        if (c == '"') {
            in_str = true;
            str = i + 1;
        } else if (c == ':' && depth == 1) {
            in_value = true;
            value_done = false;
        } else if (c == ',' && depth == 1) {
            in_value = false;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
            value_done = value_done || depth == 1;
            in_value = in_value && depth > 0;
        }
    }
    if (in_value && !value_done)
        (void)snprintf(out, out_len, "%.*s", key_len > 40 ? 40 : (int)key_len, s + key);
}

static size_t skip_ws(const char *s, size_t i, size_t len)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    return i;
}

/* Unescape a string field into the names buffer, NUL-terminated, and check it. When it
 * equals the previous line's, share that copy instead. */
static int put_name(size_t *out_off, evs__buf *names, const struct span *sp, bool raw,
                    const char *field, size_t max_len, const size_t *prev_off, ap_bad *bad)
{
    const char *src = raw ? sp->p : sp->p + 1; /* skip the quotes of a JSON string */
    size_t src_len = raw ? sp->len : sp->len - 2;
    if (evs__buf_reserve(names, src_len + 1) < 0)
        return AP_PARSE_NOMEM;
    char *dst = names->ptr + names->len;
    size_t n = src_len;
    evs__json_error jerr;
    if (raw)
        memcpy(dst, src, src_len);
    else if (evs__json_unescape(src, src_len, dst, &n, &jerr) != 0)
        return set_bad(bad, field, "invalid escape: %s", jerr.reason);
    if (n == 0)
        return set_bad(bad, field, "must not be empty");
    if (n > max_len)
        return set_bad(bad, field, "longer than %zu bytes", max_len);
    /* A NUL from \u0000 would cut the C string short; the library rejects the other
     * control characters, but naming the line here is clearer. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)dst[i];
        if (c < 0x20 || c == 0x7f)
            return set_bad(bad, field, "contains a control character");
    }
    dst[n] = '\0';
    if (prev_off != NULL && strcmp(names->ptr + *prev_off, dst) == 0) {
        *out_off = *prev_off;
        return AP_PARSE_OK;
    }
    *out_off = names->len;
    names->len += n + 1;
    return AP_PARSE_OK;
}

static int check_expected(ap_line *out, const struct span *sp, ap_bad *bad)
{
    bool ok = false;
    if (sp->kind == EVS__JSON_STRING)
        ok = cli_parse_expected(sp->p + 1, sp->len - 2, &out->expected);
    else if (sp->kind == EVS__JSON_NUMBER)
        ok = sp->p[0] != '-' && cli_parse_i64(sp->p, sp->len, 0, INT64_MAX, &out->expected);
    if (!ok)
        return set_bad(bad, "expected_version",
                       "must be a version >= 0 or one of \"any\", \"no_stream\", \"exists\"");
    out->has_expected = true;
    return AP_PARSE_OK;
}

/* Everything after a successful walk: presence, kinds and values of the fields. */
static int check_fields(ap_line *out, const ap_parse_env *env, const struct span *f,
                        const char *base, ap_bad *bad)
{
    if (f[F_TYPE].p == NULL)
        return set_bad(bad, "type", "missing");
    if (f[F_TYPE].kind != EVS__JSON_STRING)
        return set_bad(bad, "type", "must be a string");
    if (f[F_DATA].p == NULL)
        return set_bad(bad, "data", "missing");
    if (f[F_STREAM].p != NULL && f[F_STREAM].kind != EVS__JSON_STRING)
        return set_bad(bad, "stream", "must be a string");
    if (f[F_STREAM].p == NULL && env->default_stream == NULL)
        return set_bad(bad, "stream", "missing, and no --stream given");
    if (f[F_METADATA].p != NULL && f[F_METADATA].kind != EVS__JSON_OBJECT)
        return set_bad(bad, "metadata", "must be a JSON object");
    if (f[F_ID].p != NULL) {
        if (f[F_ID].kind != EVS__JSON_STRING ||
            evs_uuid_parse(out->id, f[F_ID].p + 1, f[F_ID].len - 2) != 0)
            return set_bad(bad, "id",
                           "must be a UUID string such as "
                           "\"0b7e0f4e-2c1a-4d5e-9f00-1a2b3c4d5e6f\"");
        out->has_id = true;
    }
    if (f[F_EXPECTED].p != NULL && check_expected(out, &f[F_EXPECTED], bad) != AP_PARSE_OK)
        return AP_PARSE_BAD;
    out->data_off = (size_t)(f[F_DATA].p - base);
    out->data_len = f[F_DATA].len;
    if (f[F_METADATA].p != NULL) {
        out->meta_off = (size_t)(f[F_METADATA].p - base);
        out->meta_len = f[F_METADATA].len;
    }
    if ((uint64_t)out->data_len + out->meta_len > (uint64_t)(EVS_MAX_EVENT_LEN))
        return set_bad(bad, "data", "data and metadata together exceed the 64 MiB limit");

    struct span def = {env->default_stream, 0, EVS__JSON_STRING};
    const struct span *stream = f[F_STREAM].p != NULL ? &f[F_STREAM] : &def;
    if (stream == &def)
        def.len = strlen(def.p);
    int rc = put_name(&out->stream_off, env->names, stream, stream == &def, "stream",
                      EVS_MAX_STREAM_LEN, env->prev != NULL ? &env->prev->stream_off : NULL, bad);
    if (rc != AP_PARSE_OK)
        return rc;
    size_t stream_len = strlen(env->names->ptr + out->stream_off);
    rc = put_name(&out->type_off, env->names, &f[F_TYPE], false, "type", EVS_MAX_TYPE_LEN,
                  env->prev != NULL ? &env->prev->type_off : NULL, bad);
    if (rc != AP_PARSE_OK)
        return rc;
    out->payload_len =
        stream_len + strlen(env->names->ptr + out->type_off) + out->data_len + out->meta_len;
    return AP_PARSE_OK;
}

int ap_parse_line(ap_line *out, const ap_parse_env *env, const char *base, size_t line_off,
                  size_t len, ap_bad *bad)
{
    const char *line = base + line_off;
    memset(out, 0, sizeof *out);
    out->line_off = line_off;
    out->line_len = len;
    size_t start = skip_ws(line, 0, len);
    if (start == len)
        return AP_PARSE_BLANK;
    if (line[start] != '{')
        return set_bad(bad, "", "not a JSON object");

    struct walk_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.bad = bad;
    bad->field[0] = '\0';
    evs__json_error jerr = {0, NULL};
    /* +1: the envelope is a level of nesting the data itself may use. */
    int rc = evs__json_object_walk(line, len, EVS_MAX_JSON_DEPTH + 1, on_member, &ctx, &jerr);
    if (rc > 0)
        return AP_PARSE_BAD; /* on_member filled *bad */
    if (rc < 0) {
        char field[64];
        key_at(line, len, jerr.offset, field, sizeof field);
        return set_bad(bad, field, "not valid JSON: %s at byte offset %zu of the line",
                       jerr.reason != NULL ? jerr.reason : "error", jerr.offset);
    }
    return check_fields(out, env, ctx.f, base, bad);
}
