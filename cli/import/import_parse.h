/*
 * import_parse.h - the line parsers of `evstore import`: each turns one input line of
 * its format into one event, or says what is wrong with it. They touch no store and no
 * file, so the fuzz targets (fuzz/fuzz_import_*.c) call them exactly as the importer
 * does:
 *   import_parse.c     what the parsers share: the scratch bound, keys, names
 *   import_ndjson.c    evstore's own envelope lines
 *   import_tiny.c      tiny-event-sourcing's log.ndjson
 *   import_eventlog.c  @rymdtiden/eventlog's lines
 *   import_ses.c       @mountainpass/simple-event-sourcing's jsonl chunks
 */
#ifndef EVS_CLI_IMPORT_PARSE_H
#define EVS_CLI_IMPORT_PARSE_H

#include "json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One event as a parser hands it over. Everything is borrowed: from the line, or from
 * the line's scratch, until the next line. */
typedef struct im_event {
    const char *stream; /* NUL-terminated */
    const char *type;   /* NUL-terminated */
    const char *data;
    size_t data_len;
    const char *meta; /* a JSON object, or NULL */
    size_t meta_len;
    const unsigned char *id; /* 16 bytes, or NULL */
    int64_t version;         /* the version the event must get, or -1 for any */
    /* Where the event is in its source, so that an event without an id gets the same
     * one on every import (import_id.c): the format's name, the event's number in the
     * source (-1: none) and a key (its stream with a number, else the source's own id
     * of the event, raw). origin NULL: nothing to derive from (a random id). */
    const char *origin;
    int64_t origin_seq;
    const char *origin_key;
    size_t origin_key_len;
    int64_t orig_ts_ns; /* the time the source gives the event, UTC ns; 0: none */
} im_event;

/* An event with nothing but its stream, type and data set: the rest is filled in. */
#define IM_EVENT_INIT(stream, type, data, data_len)                                               \
    ((im_event){(stream), (type), (data), (data_len), NULL, 0, NULL, -1, NULL, -1, NULL, 0, 0})

/* What a parser may use besides the line itself. */
typedef struct im_line {
    const char *default_stream; /* --stream or the format's default; NULL: none */
    const char *stream_field;   /* --stream-field, or NULL */
    /* The format's running number for this line: tiny-event-sourcing's expected index,
     * simple-event-sourcing's event index, eventlog's position. */
    int64_t seq;
    /* The time of the events of this file (eventlog's day), UTC ns, or 0. */
    int64_t file_ts_ns;
    /* --keep-ts: the parser also reads each event's own time into orig_ts_ns (it
     * costs a parse per line, so only when it is used). */
    bool want_ts;
    /* Where unescaped names and rebuilt data or metadata go: im_scratch_need(len)
     * bytes, which is enough for every format, so nothing here ever reallocates and
     * the pointers in the event stay valid. */
    char *scratch;
    size_t scratch_len; /* bytes used */
    char why[512];      /* what is wrong, when a parser returns -1 */
} im_line;

/* The scratch a line of len bytes may need, for any format. */
size_t im_scratch_need(size_t len);

/* Each parses line[0..len) (not blank; no newline) into *out: 0, or -1 with l->why. */
typedef int (*im_parse_fn)(im_line *l, const char *line, size_t len, im_event *out);

int im_parse_ndjson(im_line *l, const char *line, size_t len, im_event *out);
int im_parse_tiny(im_line *l, const char *line, size_t len, im_event *out);
int im_parse_eventlog(im_line *l, const char *line, size_t len, im_event *out);
int im_parse_ses(im_line *l, const char *line, size_t len, im_event *out);

/* ---- for the parsers ---------------------------------------------------------------- */

/* Set l->why (printf-style) and return -1. */
int im_line_bad(im_line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "not a JSON object: <reason> at byte N" into l->why; returns -1. */
int im_line_bad_json(im_line *l, const evs__json_error *jerr);
/* True when the member's key is `name` (keys with escapes never match: the formats
 * write plain keys). */
bool im_key_is(const evs__json_member *m, const char *name);

/* --stream-field is a dotted path ("data.sku": member sku of member data); a name with a
 * dot in it cannot be named. True when m is the member the path starts at (its first
 * part); *out is then the member the whole path names, found when the function returns
 * true and *found is set. */
bool im_field_at(const evs__json_member *m, const char *path, evs__json_member *out, bool *found);

/* What an event object says of its own type and stream: its "type" member when that
 * is a string, and the member named by --stream-field (the eventlog and
 * simple-event-sourcing formats). */
typedef struct im_type_stream {
    const char *stream_field; /* NULL: no --stream-field */
    evs__json_member type, stream;
    bool has_type, has_stream;
} im_type_stream;

/* An evs__json_object_walk callback that fills the im_type_stream `ctx`. */
int im_pick_type_stream(void *ctx, const evs__json_member *m);
/* Unescape the JSON string member m into the scratch, NUL-terminated; `field` names it
 * in messages. 0 with *out, or -1 when it is not a string, is empty or holds a
 * control character (names may hold none). */
int im_line_string(im_line *l, const evs__json_member *m, const char *field, const char **out);
/* The stream from l->stream_field when it is set (m is that member of the event, or
 * NULL when the event has none; `where` names the object in messages), else
 * l->default_stream. 0 or -1. */
int im_line_stream(im_line *l, const evs__json_member *m, const char *where, const char **out);

#endif /* EVS_CLI_IMPORT_PARSE_H */
