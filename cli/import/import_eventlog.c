/*
 * import_eventlog.c - the line parser of `evstore import --format eventlog`: one line of
 * @rymdtiden/eventlog's daily files,
 *   {"event":{...},"meta":{"id":"..."}}
 *
 * The event object is stored as the data, byte for byte; its "type" (when it is a
 * string) is the type, else "event"; the eventlog id and position (l->seq, see
 * import_eventlog_files.c) go to the metadata as {"eventlog_id":...,"eventlog_pos":...},
 * since the ids are not UUIDs.
 */
#include "evstore.h"
#include "import_parse.h"

#include <stdio.h>
#include <string.h>

struct el_walk {
    evs__json_member event, meta, id;
    bool has_event, has_meta, has_id;
    im_type_stream ts; /* inside "event" */
};

static int el_member(void *vctx, const evs__json_member *m)
{
    struct el_walk *w = vctx;
    if (im_key_is(m, "event")) {
        w->event = *m;
        w->has_event = true;
    } else if (im_key_is(m, "meta")) {
        w->meta = *m;
        w->has_meta = true;
    }
    return 0;
}

static int el_meta_member(void *vctx, const evs__json_member *m)
{
    struct el_walk *w = vctx;
    if (im_key_is(m, "id")) {
        w->id = *m;
        w->has_id = true;
    }
    return 0;
}

int im_parse_eventlog(im_line *l, const char *line, size_t len, im_event *ev)
{
    struct el_walk w;
    memset(&w, 0, sizeof w);
    w.ts.stream_field = l->stream_field;
    evs__json_error jerr = {0, NULL};
    if (evs__json_object_walk(line, len, EVS_MAX_JSON_DEPTH + 2, el_member, &w, &jerr) < 0)
        return im_line_bad_json(l, &jerr);
    if (!w.has_event || w.event.kind != EVS__JSON_OBJECT)
        return im_line_bad(l, "field \"event\" is missing or not an object");
    (void)evs__json_object_walk(w.event.value, w.event.value_len, EVS_MAX_JSON_DEPTH + 1,
                                im_pick_type_stream, &w.ts, NULL);
    if (w.has_meta && w.meta.kind == EVS__JSON_OBJECT)
        (void)evs__json_object_walk(w.meta.value, w.meta.value_len, EVS_MAX_JSON_DEPTH + 1,
                                    el_meta_member, &w, NULL);
    *ev = IM_EVENT_INIT(NULL, "event", w.event.value, w.event.value_len);
    if (w.ts.has_type && im_line_string(l, &w.ts.type, "event.type", &ev->type) < 0)
        return -1;
    if (im_line_stream(l, w.ts.has_stream ? &w.ts.stream : NULL, "event.", &ev->stream) < 0)
        return -1;
    /* The id is copied raw (any JSON value the package wrote), so it is at most the
     * line; the rest of the object fits the scratch's fixed allowance. */
    char *meta = l->scratch + l->scratch_len;
    size_t room = w.has_id ? w.id.value_len + 112 : 112;
    int n;
    if (w.has_id)
        n = snprintf(meta, room, "{\"eventlog_id\":%.*s,\"eventlog_pos\":%lld",
                     (int)w.id.value_len, w.id.value, (long long)l->seq);
    else
        n = snprintf(meta, room, "{\"eventlog_pos\":%lld", (long long)l->seq);
    size_t len_meta = n > 0 ? (size_t)n : 0;
    if (l->file_ts_ns > 0) {
        /* The day of the file: the only time eventlog keeps of an event. */
        memcpy(meta + len_meta, ",\"imported_ts\":\"", 16);
        len_meta += 16;
        len_meta += evs_time_format(meta + len_meta, 40, l->file_ts_ns);
        meta[len_meta++] = '"';
    }
    meta[len_meta++] = '}';
    ev->meta = meta;
    ev->meta_len = len_meta;
    l->scratch_len += ev->meta_len;
    ev->orig_ts_ns = l->file_ts_ns;
    /* The package's own id of the event names it; a line without one, its position. */
    ev->origin = "eventlog";
    if (w.has_id) {
        ev->origin_key = w.id.value;
        ev->origin_key_len = w.id.value_len;
    } else {
        ev->origin_seq = l->seq;
    }
    return 0;
}
