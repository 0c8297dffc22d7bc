/*
 * import.h - the parts of `evstore import` shared by its files:
 *   import_input.c     reads an input file (plain or gzip, sniffed by zlib) line by line
 *   import_batch.c     gathers events and commits them in large evs_append_multi calls
 *   import_ndjson.c    evstore's own envelope lines (what read and export print)
 *   import_tiny.c      tiny-event-sourcing's log.ndjson
 *   import_eventlog.c  @rymdtiden/eventlog's daily log files
 *   cmd_import.c       options, the walk over the inputs, the final report
 */
#ifndef EVS_CLI_IMPORT_H
#define EVS_CLI_IMPORT_H

#include "append.h"
#include "cli_common.h"
#include "evstore.h"
#include "json.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- input -------------------------------------------------------------------------- */

typedef struct im_input {
    void *gz; /* gzFile; void here so only import_input.c needs zlib.h */
    const char *path;
    evs_buf buf;
    size_t scan; /* offset of the next line in buf */
    bool eof;
    uint64_t line_no; /* of the last line handed out, 1-based */
} im_input;

/* Open `path` ("-" = standard input). 0, or -1 with the error reported. */
int im_input_open(im_input *in, const char *path);
/* The next line, without its newline: 1 with *line and *len (valid until the next call),
 * 0 at the end, -1 on a read error or an over-long line (*why says which). */
int im_input_next(im_input *in, const char **line, size_t *len, char *why, size_t why_len);
void im_input_close(im_input *in);

/* ---- events and commits -------------------------------------------------------------- */

/* One event as a format reader hands it over; everything is borrowed for the call. */
typedef struct im_event {
    const char *stream; /* NUL-terminated */
    const char *type;   /* NUL-terminated */
    const char *data;
    size_t data_len;
    const char *meta; /* a JSON object, or NULL */
    size_t meta_len;
    const unsigned char *id; /* 16 bytes, or NULL */
    int64_t version;         /* the version the event must get, or -1 for any */
} im_event;

/* A pending event: offsets into the arena, which moves as it grows. */
typedef struct im_pending {
    size_t stream_off, type_off, data_off, meta_off;
    size_t data_len, meta_len;
    int64_t version;
    bool has_id;
    unsigned char id[16];
    const char *file; /* borrowed: lives until the import ends */
    uint64_t line;
} im_pending;

typedef struct im_ctx {
    evs_store *store;
    const char *default_stream; /* --stream, or the format's default */
    const char *stream_field;   /* --stream-field, or NULL */
    /* Where the reader is, for messages. */
    const char *file;
    uint64_t line;
    /* Pending events. */
    evs_buf arena;
    im_pending *pend;
    size_t count, cap;
    ap_streams versions; /* last version per stream, for formats that carry versions */
    /* Commit scratch. */
    evs_event_in *events;
    evs_batch_in *batches;
    evs_append_result *results;
    size_t *batch_first;
    size_t scratch_cap;
    /* Per-line scratch for readers: unescaped names, rebuilt data or metadata. */
    evs_buf scratch;
    /* Figures. */
    int64_t imported;
    int64_t duplicates; /* events of batches the store already held (same ids) */
    uint64_t bytes_in;
    bool progress; /* stderr is a terminal */
    int64_t last_progress_ns;
    const char *last_file; /* last committed event's place, for messages */
    uint64_t last_line;
} im_ctx;

/* Hand over one event; commits when enough are gathered. Returns an exit code. */
int im_add(im_ctx *ic, const im_event *ev);
/* Commit what is pending. Returns an exit code (reported on failure). */
int im_commit(im_ctx *ic);
/* Bad input at the current file and line: commit what came before, then one message
 * saying what is wrong and how much was imported. Returns CLI_EXIT_INVALID (or the
 * commit's failure). */
int im_bad(im_ctx *ic, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A read error (or over-long line) at the current file and line: like im_bad, exit 1. */
int im_read_error(im_ctx *ic, const char *why);
void im_ctx_free(im_ctx *ic);

/* Unescape a JSON string member into ic->scratch, NUL-terminated; *out points into the
 * scratch, which the reader reserved for the whole line beforehand (so it does not
 * move). Returns 0, or -1 when it is not a string, is empty, or has a control
 * character (then im_bad was called and *code holds its result). */
int im_string(im_ctx *ic, const evs_json_member *m, const char *field, const char **out, int *code);
/* True when the member's key is `name` (keys with escapes never match: the formats
 * write plain keys). */
bool im_key_is(const evs_json_member *m, const char *name);

/* ---- formats ------------------------------------------------------------------------ */

/* Each imports one input path and returns an exit code. */
/* Read `path` line by line and call fn for each non-blank line (line_no 1-based) after
 * making room for 2 * len + slack bytes in ic->scratch (emptied first), so pointers a
 * line handler keeps into it stay valid for that line. Read errors name file and line.
 * Stops at the first exit code that is not CLI_EXIT_OK and returns it. */
typedef int (*im_line_fn)(im_ctx *ic, const char *line, size_t len, uint64_t line_no, void *arg);
int im_each_line(im_ctx *ic, const char *path, size_t slack, im_line_fn fn, void *arg);

int im_ndjson_file(im_ctx *ic, const char *path);
int im_tiny_file(im_ctx *ic, const char *path);
/* eventlog takes every file name template at once: files are walked in date order. */
int im_eventlog_files(im_ctx *ic, char **templates, size_t count);

#endif /* EVS_CLI_IMPORT_H */
