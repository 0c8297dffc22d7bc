/*
 * import_ses.c - the line parser of `evstore import --format simple-event-sourcing`: one
 * line of @mountainpass/simple-event-sourcing's jsonl chunks, which is one event as the
 * application handed it to the package's store() (its README: es.store({ ts: Date.now(),
 * name: 'event' + i })), serialised as one JSON value.
 *
 * The package gives events no envelope: no type, no stream, no id. So the value is the
 * data, byte for byte (surrounding whitespace aside); an object's "type", when it is a
 * string, is the type, else "event"; the stream is --stream (default "ses") or the
 * object's --stream-field. The event's index, the number the package hands its
 * consumers with each event and that their snapshots record (0-based, across all
 * chunks in order: l->seq), goes to the metadata as {"ses_index":N}, so a read model
 * built from the package can be matched to positions in evstore.
 */
#include "evstore.h"
#include "import_parse.h"

#include <stdio.h>
#include <string.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int im_parse_ses(im_line *l, const char *line, size_t len, im_event *ev)
{
    evs__json_error jerr = {0, NULL};
    if (!evs__json_validate(line, len, EVS_MAX_JSON_DEPTH, &jerr))
        return im_line_bad(l, "not JSON: %s at byte %zu",
                           jerr.reason != NULL ? jerr.reason : "error", jerr.offset);
    size_t start = 0, end = len;
    while (start < end && is_space(line[start]))
        start++;
    while (end > start && is_space(line[end - 1]))
        end--;
    im_type_stream w;
    memset(&w, 0, sizeof w);
    w.stream_field = l->stream_field;
    if (line[start] == '{')
        (void)evs__json_object_walk(line + start, end - start, EVS_MAX_JSON_DEPTH, im_pick_type_stream, &w,
                                    NULL);
    *ev = IM_EVENT_INIT(NULL, "event", line + start, end - start);
    if (w.has_type && im_line_string(l, &w.type, "type", &ev->type) < 0)
        return -1;
    if (im_line_stream(l, w.has_stream ? &w.stream : NULL, "", &ev->stream) < 0)
        return -1;
    char *meta = l->scratch + l->scratch_len;
    int n = snprintf(meta, 64, "{\"ses_index\":%lld}", (long long)l->seq);
    ev->meta = meta;
    ev->meta_len = n > 0 ? (size_t)n : 0;
    l->scratch_len += ev->meta_len;
    ev->origin = "simple-event-sourcing";
    ev->origin_seq = l->seq;
    ev->origin_key = ev->stream;
    ev->origin_key_len = strlen(ev->stream);
    return 0;
}
