/*
 * import_ndjson.c - the line parser of `evstore import --format ndjson`: evstore's own
 * envelope lines, as `read` and `export` print them.
 *
 * Ids, streams, versions, types, data and metadata come back as they were. The append
 * time cannot: the store assigns ts at append (it is what orders time queries), so the
 * original ts is kept in the metadata as "imported_ts" (unless the metadata has one
 * already: an import of an import keeps the first). pos is not checked: an export of
 * part of a store imports into positions of its own.
 */
#include "cli_common.h"
#include "evstore.h"
#include "import_parse.h"

#include <stdio.h>
#include <string.h>

enum { N_STREAM, N_TYPE, N_DATA, N_ID, N_META, N_VERSION, N_TS, N_POS, N_COUNT };

static const char *const ndjson_fields[N_COUNT] = {"stream",   "type",    "data", "id",
                                                   "metadata", "version", "ts",   "pos"};

struct nd_walk {
    evs__json_member f[N_COUNT];
    bool seen[N_COUNT];
    char unknown[48];
};

static int nd_member(void *vctx, const evs__json_member *m)
{
    /* Lengths first: one memcmp per member instead of one strlen and compare per field
     * (this runs for every member of every line). */
    static const unsigned char lens[N_COUNT] = {6, 4, 4, 2, 8, 7, 2, 3};
    struct nd_walk *w = vctx;
    for (int i = 0; i < N_COUNT && !m->key_has_escape; i++) {
        if (m->key_len == lens[i] && memcmp(m->key, ndjson_fields[i], lens[i]) == 0) {
            w->f[i] = *m;
            w->seen[i] = true;
            return 0;
        }
    }
    (void)snprintf(w->unknown, sizeof w->unknown, "%.*s", m->key_len > 40 ? 40 : (int)m->key_len,
                   m->key);
    return 1;
}

static int has_imported_ts(void *ctx, const evs__json_member *m)
{
    (void)ctx;
    return im_key_is(m, "imported_ts") ? 1 : 0;
}

/* The metadata to store: the original plus "imported_ts", built in the scratch. */
static void build_meta(im_line *l, const struct nd_walk *w, im_event *ev)
{
    const evs__json_member *meta = w->seen[N_META] ? &w->f[N_META] : NULL;
    if (!w->seen[N_TS] ||
        (meta != NULL && evs__json_object_walk(meta->value, meta->value_len, EVS_MAX_JSON_DEPTH,
                                               has_imported_ts, NULL, NULL) == 1)) {
        ev->meta = meta != NULL ? meta->value : NULL;
        ev->meta_len = meta != NULL ? meta->value_len : 0;
        return;
    }
    char *out = l->scratch + l->scratch_len;
    size_t n = 0;
    memcpy(out, "{\"imported_ts\":", 15);
    n += 15;
    memcpy(out + n, w->f[N_TS].value, w->f[N_TS].value_len);
    n += w->f[N_TS].value_len;
    if (meta != NULL) {
        /* The original's members follow, after its opening brace; "{}" adds none. */
        const char *p = (const char *)memchr(meta->value, '{', meta->value_len) + 1;
        size_t rest = meta->value_len - (size_t)(p - meta->value);
        size_t k = 0;
        while (k < rest && (p[k] == ' ' || p[k] == '\t' || p[k] == '\n' || p[k] == '\r'))
            k++;
        if (p[k] != '}')
            out[n++] = ',';
        memcpy(out + n, p, rest);
        n += rest;
    } else {
        out[n++] = '}';
    }
    ev->meta = out;
    ev->meta_len = n;
    l->scratch_len += n;
}

int im_parse_ndjson(im_line *l, const char *line, size_t len, im_event *ev)
{
    struct nd_walk w;
    memset(&w, 0, sizeof w);
    evs__json_error jerr = {0, NULL};
    int rc = evs__json_object_walk(line, len, EVS_MAX_JSON_DEPTH + 1, nd_member, &w, &jerr);
    if (rc > 0)
        return im_line_bad(l,
                           "unknown field \"%s\" (an evstore envelope has pos, stream, "
                           "version, id, type, ts, data, metadata)",
                           w.unknown);
    if (rc < 0)
        return im_line_bad_json(l, &jerr);
    if (!w.seen[N_TYPE] || !w.seen[N_DATA])
        return im_line_bad(l, "field \"%s\" is missing", w.seen[N_TYPE] ? "data" : "type");
    if (!w.seen[N_STREAM] && l->default_stream == NULL)
        return im_line_bad(l, "field \"stream\" is missing, and no --stream given");
    if (w.seen[N_META] && w.f[N_META].kind != EVS__JSON_OBJECT)
        return im_line_bad(l, "field \"metadata\" must be a JSON object");
    if (w.seen[N_TS] && w.f[N_TS].kind != EVS__JSON_STRING)
        return im_line_bad(l, "field \"ts\" must be a string");
    *ev = IM_EVENT_INIT(l->default_stream, NULL, w.f[N_DATA].value, w.f[N_DATA].value_len);
    if (l->want_ts && w.seen[N_TS] &&
        evs_time_parse(&ev->orig_ts_ns, w.f[N_TS].value + 1, w.f[N_TS].value_len - 2) != 0)
        return im_line_bad(l, "field \"ts\" is not a time: %s", evs_errmsg());
    if (w.seen[N_ID]) {
        /* The id's 16 bytes live in the scratch too: the event outlives this frame. */
        unsigned char *id = (unsigned char *)l->scratch + l->scratch_len;
        if (w.f[N_ID].kind != EVS__JSON_STRING ||
            evs_uuid_parse(id, w.f[N_ID].value + 1, w.f[N_ID].value_len - 2) != 0)
            return im_line_bad(l, "field \"id\" must be a UUID string");
        l->scratch_len += 16;
        ev->id = id;
    }
    if (w.seen[N_VERSION] && (w.f[N_VERSION].kind != EVS__JSON_NUMBER ||
                              !cli_parse_i64(w.f[N_VERSION].value, w.f[N_VERSION].value_len, 0,
                                             INT64_MAX, &ev->version)))
        return im_line_bad(l, "field \"version\" must be a whole number >= 0");
    if (w.seen[N_STREAM] && im_line_string(l, &w.f[N_STREAM], "stream", &ev->stream) < 0)
        return -1;
    if (im_line_string(l, &w.f[N_TYPE], "type", &ev->type) < 0)
        return -1;
    build_meta(l, &w, ev);
    return 0;
}
