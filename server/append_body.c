/*
 * append_body.c - an append's body into events: a JSON array of events or NDJSON lines,
 * each parsed by the CLI's line parser (append_line.c), so the fields, limits and
 * messages are `evstore append`'s; and the token's actor written into each event's
 * metadata. No HTTP here: the fuzz target drives it directly.
 */
#include "append.h"
#include "json.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void srv_events_free(srv_events *p)
{
    free(p->lines);
    free(p->meta_off);
    free(p->meta_len);
    evs__buf_free(&p->names);
    evs__buf_free(&p->meta);
}

/* ---- the body into element spans --------------------------------------------------- */

static size_t skip_ws(const char *s, size_t i, size_t len)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* The end of the value starting at i of a body already validated as JSON. */
static size_t value_end(const char *s, size_t i, size_t len)
{
    int depth = 0;
    for (; i < len; i++) {
        char c = s[i];
        if (c == '"') {
            for (i++; i < len && s[i] != '"'; i++) {
                if (s[i] == '\\')
                    i++;
            }
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return i;
            depth--;
        } else if (c == ',' && depth == 0) {
            return i;
        }
    }
    return i;
}

typedef int (*element_fn)(void *ctx, size_t off, size_t len, size_t index);

/* Call fn for each element of a JSON array body. 0, fn's value, or -1 with why. */
static int each_array_element(const char *b, size_t len, element_fn fn, void *ctx, char *why,
                              size_t why_len)
{
    evs__json_error err = {0, NULL};
    if (!evs__json_validate(b, len, EVS_MAX_JSON_DEPTH + 2, &err)) {
        (void)snprintf(why, why_len, "the body is not valid JSON: %s at byte offset %zu",
                       err.reason != NULL ? err.reason : "error", err.offset);
        return -1;
    }
    size_t i = skip_ws(b, 0, len);
    if (i == len || b[i] != '[') {
        (void)snprintf(why, why_len,
                       "the body must be a JSON array of events (or NDJSON with "
                       "Content-Type: application/x-ndjson)");
        return -1;
    }
    i = skip_ws(b, i + 1, len);
    for (size_t k = 0; i < len && b[i] != ']'; k++) {
        size_t end = value_end(b, i, len);
        size_t e = end;
        while (e > i &&
               (b[e - 1] == ' ' || b[e - 1] == '\t' || b[e - 1] == '\n' || b[e - 1] == '\r'))
            e--;
        int rc = fn(ctx, i, e - i, k);
        if (rc != 0)
            return rc;
        i = end < len && b[end] == ',' ? skip_ws(b, end + 1, len) : end;
    }
    return 0;
}

static int each_line(const char *b, size_t len, element_fn fn, void *ctx)
{
    size_t i = 0, k = 0;
    while (i < len) {
        const char *nl = memchr(b + i, '\n', len - i);
        size_t end = nl != NULL ? (size_t)(nl - b) : len;
        size_t e = end > i && b[end - 1] == '\r' ? end - 1 : end;
        int rc = fn(ctx, i, e - i, k++);
        if (rc != 0)
            return rc;
        i = end + 1;
    }
    return 0;
}

/* ---- parsing each element ------------------------------------------------------------ */

struct parse_ctx {
    srv_events *p;
    const char *body;
    const char *path_stream; /* NULL: lines name their streams */
    bool ndjson;
    char why[512];
};

static int parse_one(void *cx, size_t off, size_t len, size_t index)
{
    struct parse_ctx *c = cx;
    srv_events *p = c->p;
    if (p->count == p->cap) {
        size_t cap = p->cap != 0 ? p->cap * 2 : 16;
        ap_line *l = realloc(p->lines, cap * sizeof *l);
        if (l == NULL) {
            (void)snprintf(c->why, sizeof c->why, "out of memory");
            return -2;
        }
        p->lines = l;
        p->cap = cap;
    }
    ap_parse_env env = {&p->names, c->path_stream, p->count > 0 ? &p->lines[p->count - 1] : NULL};
    ap_bad bad;
    const char *where = c->ndjson ? "line" : "event";
    size_t number = c->ndjson ? index + 1 : index;
    ap_line *line = &p->lines[p->count];
    int rc = ap_parse_line(line, &env, c->body, off, len, &bad);
    if (rc == AP_PARSE_BLANK && c->ndjson)
        return 0;
    if (rc == AP_PARSE_NOMEM) {
        (void)snprintf(c->why, sizeof c->why, "out of memory");
        return -2;
    }
    if (rc == AP_PARSE_BLANK) {
        (void)snprintf(c->why, sizeof c->why, "event %zu: not a JSON object", number);
        return -1;
    }
    if (rc != AP_PARSE_OK) {
        if (bad.field[0] != '\0')
            (void)snprintf(c->why, sizeof c->why, "%s %zu: %s: %s", where, number, bad.field,
                           bad.what);
        else
            (void)snprintf(c->why, sizeof c->why, "%s %zu: %s", where, number, bad.what);
        return -1;
    }
    if (c->path_stream != NULL &&
        (line->has_expected || strcmp(p->names.ptr + line->stream_off, c->path_stream) != 0)) {
        (void)snprintf(c->why, sizeof c->why,
                       "%s %zu: %s belongs in the URL here (?expected_version=, "
                       "/streams/{stream}); POST .../append takes them per line",
                       where, number, line->has_expected ? "expected_version" : "stream");
        return -1;
    }
    line->line_no = number;
    p->count++;
    return 0;
}

/* ---- the actor in the metadata --------------------------------------------------------- */

struct meta_copy {
    evs__buf *out;
    bool failed;
};

/* Whether a member's key is "actor", also when written with escapes (\u0061ctor):
 * JSON readers see both as the same key. */
static bool is_actor_key(const evs__json_member *m)
{
    if (!m->key_has_escape)
        return m->key_len == 5 && memcmp(m->key, "actor", 5) == 0;
    char key[32];
    size_t len = 0;
    return m->key_len <= sizeof key &&
           evs__json_unescape(m->key, m->key_len, key, &len, NULL) == 0 && len == 5 &&
           memcmp(key, "actor", 5) == 0;
}

static int copy_member(void *ctx, const evs__json_member *m)
{
    struct meta_copy *mc = ctx;
    if (is_actor_key(m))
        return 0;
    if (evs__buf_append(mc->out, ",\"", 2) != 0 ||
        evs__buf_append(mc->out, m->key, m->key_len) != 0 ||
        evs__buf_append(mc->out, "\":", 2) != 0 ||
        evs__buf_append(mc->out, m->value, m->value_len) != 0)
        mc->failed = true;
    return 0;
}

static int json_str_into(void *ctx, const char *p, size_t len)
{
    return evs__buf_append(ctx, p, len) == 0 ? 0 : -1;
}

/* Each line's metadata with "actor" set to the token's actor, {"id": ...}, the shape the
 * domain layer writes (docs/FORMAT.md); the client's "actor" left out however its key is
 * spelt. */
int srv_events_stamp_actor(srv_events *p, const char *body, const char *actor)
{
    p->meta_off = calloc(p->count + 1, sizeof *p->meta_off);
    p->meta_len = calloc(p->count + 1, sizeof *p->meta_len);
    if (p->meta_off == NULL || p->meta_len == NULL)
        return -1;
    for (size_t i = 0; i < p->count; i++) {
        const ap_line *l = &p->lines[i];
        size_t start = p->meta.len;
        struct meta_copy mc = {&p->meta, false};
        if (evs__buf_append(&p->meta, "{\"actor\":{\"id\":\"", 16) != 0 ||
            evs__json_escape(actor, strlen(actor), json_str_into, &p->meta) != 0 ||
            evs__buf_append(&p->meta, "\"}", 2) != 0)
            return -1;
        if (l->meta_len > 0)
            (void)evs__json_object_walk(body + l->meta_off, l->meta_len, EVS_MAX_JSON_DEPTH,
                                        copy_member, &mc, NULL);
        if (mc.failed || evs__buf_append(&p->meta, "}", 1) != 0)
            return -1;
        p->meta_off[i] = start;
        p->meta_len[i] = p->meta.len - start;
    }
    return 0;
}

/* ---- the append ---------------------------------------------------------------------- */

void srv_events_fill(evs_event_in *ev, const srv_events *p, const char *body)
{
    for (size_t i = 0; i < p->count; i++) {
        const ap_line *l = &p->lines[i];
        ev[i].type = p->names.ptr + l->type_off;
        ev[i].data = body + l->data_off;
        ev[i].data_len = l->data_len;
        if (p->meta_off != NULL) {
            ev[i].metadata = p->meta.ptr + p->meta_off[i];
            ev[i].metadata_len = p->meta_len[i];
        } else {
            ev[i].metadata = l->meta_len > 0 ? body + l->meta_off : NULL;
            ev[i].metadata_len = l->meta_len;
        }
        ev[i].id = l->has_id ? l->id : NULL;
        ev[i].ts_ns = 0;
    }
}

int srv_events_parse(srv_events *p, const char *body, size_t len, bool ndjson,
                     const char *path_stream, char *why, size_t why_len)
{
    struct parse_ctx c = {.p = p, .body = body, .path_stream = path_stream, .ndjson = ndjson};
    int rc = ndjson ? each_line(body, len, parse_one, &c)
                    : each_array_element(body, len, parse_one, &c, c.why, sizeof c.why);
    if (rc == 0 && p->count == 0) {
        (void)snprintf(c.why, sizeof c.why, "the body holds no events");
        rc = -1;
    }
    if (rc != 0)
        (void)snprintf(why, why_len, "%s", c.why);
    return rc;
}
