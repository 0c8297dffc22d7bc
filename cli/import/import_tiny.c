/*
 * import_tiny.c - the line parser of `evstore import --format tiny-event-sourcing`: the
 * package's log.ndjson, one event per line, the event's own fields at the top level
 * plus a 0-based "index" that the package assigns in line order.
 *
 * The index is checked against the line order (l->seq): the package's read models
 * record the index of the last event they processed, so an edited log whose indexes no
 * longer match its lines (a line deleted with jq, say) would silently shift every read
 * model; better to stop at the first disagreement and say where. "type" becomes the
 * event type; the other fields but the index make the data, in their order, byte for
 * byte; the index goes to the metadata as {"tiny_index":N}, where the other formats
 * keep their source positions too, and names the event's id (import_id.c).
 */
#include "cli_common.h"
#include "evstore.h"
#include "import_parse.h"

#include <stdio.h>
#include <string.h>

struct tiny_walk {
    const char *stream_field;
    char *data; /* the data object being built, in the scratch */
    size_t len;
    const evs__json_member *type, *index, *stream;
    evs__json_member type_m, index_m, stream_m;
};

static int tiny_member(void *vctx, const evs__json_member *m)
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
    bool found = false;
    if (w->stream_field != NULL && im_field_at(m, w->stream_field, &w->stream_m, &found) && found)
        w->stream = &w->stream_m;
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

int im_parse_tiny(im_line *l, const char *line, size_t len, im_event *ev)
{
    struct tiny_walk w;
    memset(&w, 0, sizeof w);
    w.stream_field = l->stream_field;
    /* The data first (at most the line: each member costs what it cost in the line),
     * then the names after it. */
    w.data = l->scratch + l->scratch_len;
    evs__json_error jerr = {0, NULL};
    if (evs__json_object_walk(line, len, EVS_MAX_JSON_DEPTH + 1, tiny_member, &w, &jerr) < 0)
        return im_line_bad_json(l, &jerr);
    if (w.len == 0)
        w.data[w.len++] = '{';
    w.data[w.len++] = '}';
    l->scratch_len += w.len;
    int64_t index;
    if (w.index == NULL)
        return im_line_bad(l, "field \"index\" is missing");
    if (w.index->kind != EVS__JSON_NUMBER ||
        !cli_parse_i64(w.index->value, w.index->value_len, 0, INT64_MAX, &index))
        return im_line_bad(l, "field \"index\" must be a whole number >= 0");
    if (index != l->seq)
        return im_line_bad(l,
                           "index %lld disagrees with the line order, which makes this event "
                           "number %lld (counting from 0)",
                           (long long)index, (long long)l->seq);
    if (w.type == NULL)
        return im_line_bad(l, "field \"type\" is missing");
    *ev = IM_EVENT_INIT(NULL, NULL, w.data, w.len);
    if (im_line_string(l, w.type, "type", &ev->type) < 0)
        return -1;
    if (im_line_stream(l, w.stream, "", &ev->stream) < 0)
        return -1;
    char *meta = l->scratch + l->scratch_len;
    int n = snprintf(meta, 64, "{\"tiny_index\":%lld}", (long long)index);
    ev->meta = meta;
    ev->meta_len = n > 0 ? (size_t)n : 0;
    l->scratch_len += ev->meta_len;
    ev->origin = "tiny-event-sourcing";
    ev->origin_seq = index;
    ev->origin_key = ev->stream;
    ev->origin_key_len = strlen(ev->stream);
    return 0;
}
