/*
 * import_tiny.c - `evstore import --format tiny-event-sourcing`: the package's
 * log.ndjson, one event per line, the event's own fields at the top level plus a
 * 0-based "index" that the package assigns in line order.
 *
 * The index is checked against the line order: the package's read models record the
 * index of the last event they processed, so an edited log whose indexes no longer
 * match its lines (a line deleted with jq, say) would silently shift every read model;
 * better to stop at the first disagreement and say where. "type" becomes the event
 * type; the other fields but the index make the data, in their order, byte for byte.
 */
#include "import.h"

#include <string.h>

struct tiny_walk {
    im_ctx *ic;
    char *data; /* the data object being built, in the scratch */
    size_t len;
    const evs_json_member *type, *index, *stream;
    evs_json_member type_m, index_m, stream_m;
};

static int tiny_member(void *vctx, const evs_json_member *m)
{
    struct tiny_walk *w = vctx;
    if (im_key_is(m, "index")) {
        w->index_m = *m;
        w->index = &w->index_m;
        return 0;
    }
    if (im_key_is(m, "type")) {
        w->type_m = *m;
        w->type = &w->type_m;
        return 0;
    }
    if (w->ic->stream_field != NULL && im_key_is(m, w->ic->stream_field)) {
        w->stream_m = *m;
        w->stream = &w->stream_m;
    }
    /* "key":value, raw: the key keeps its escapes, the value its bytes. */
    char sep = w->len == 0 ? '{' : ',';
    w->data[w->len++] = sep;
    w->data[w->len++] = '"';
    memcpy(w->data + w->len, m->key, m->key_len);
    w->len += m->key_len;
    w->data[w->len++] = '"';
    w->data[w->len++] = ':';
    memcpy(w->data + w->len, m->value, m->value_len);
    w->len += m->value_len;
    return 0;
}

static int tiny_line(im_ctx *ic, const char *line, size_t len, int64_t expected_index)
{
    struct tiny_walk w;
    memset(&w, 0, sizeof w);
    w.ic = ic;
    w.data = ic->scratch.ptr;
    evs_json_error jerr = {0, NULL};
    if (evs__json_object_walk(line, len, EVS_MAX_JSON_DEPTH + 1, tiny_member, &w, &jerr) < 0)
        return im_bad(ic, "not a JSON object: %s at byte %zu",
                      jerr.reason != NULL ? jerr.reason : "error", jerr.offset);
    if (w.len == 0)
        w.data[w.len++] = '{';
    w.data[w.len++] = '}';
    ic->scratch.len = w.len;
    int64_t index;
    if (w.index == NULL)
        return im_bad(ic, "field \"index\" is missing");
    if (w.index->kind != EVS_JSON_NUMBER ||
        !cli_parse_i64(w.index->value, w.index->value_len, 0, INT64_MAX, &index))
        return im_bad(ic, "field \"index\" must be a whole number >= 0");
    if (index != expected_index)
        return im_bad(ic,
                      "index %lld disagrees with the line order, which makes this event "
                      "number %lld (counting from 0)",
                      (long long)index, (long long)expected_index);
    if (w.type == NULL)
        return im_bad(ic, "field \"type\" is missing");
    im_event ev = {ic->default_stream, NULL, w.data, w.len, NULL, 0, NULL, -1};
    int code = CLI_EXIT_OK;
    if (im_string(ic, w.type, "type", &ev.type, &code) < 0)
        return code;
    if (ic->stream_field != NULL) {
        if (w.stream == NULL)
            return im_bad(ic, "field \"%s\" (--stream-field) is missing", ic->stream_field);
        if (im_string(ic, w.stream, ic->stream_field, &ev.stream, &code) < 0)
            return code;
    }
    return im_add(ic, &ev);
}

static int tiny_each(im_ctx *ic, const char *line, size_t len, uint64_t line_no, void *arg)
{
    (void)line_no;
    int64_t *index = arg;
    return tiny_line(ic, line, len, (*index)++);
}

int im_tiny_file(im_ctx *ic, const char *path)
{
    /* The data (at most the line, plus a brace) first, then the names after it. */
    int64_t index = 0;
    return im_each_line(ic, path, 64, tiny_each, &index);
}
