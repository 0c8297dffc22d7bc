/*
 * append.h - the parts of `evstore append` shared by its files:
 *   append_input.c    reads standard input in large blocks and hands out lines
 *   append_line.c     turns one NDJSON line into an event (or says what is wrong)
 *   append_streams.c  per-stream expected-version state across commits
 *   append_commit.c   one commit: batches, expected versions, acknowledgements
 *   cmd_append.c      options and the loop that gathers lines into commits
 */
#ifndef EVS_CLI_APPEND_H
#define EVS_CLI_APPEND_H

#include "cli_common.h"
#include "commit_scratch.h"
#include "evstore.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The longest input line: one event's data and metadata may hold EVS_MAX_EVENT_LEN
 * bytes, plus room for the envelope (stream, type, id, escapes, whitespace). */
#define AP_MAX_LINE_LEN ((size_t)(EVS_MAX_EVENT_LEN) + ((size_t)1 << 20))

/* What a line over AP_MAX_LINE_LEN is told: the limit that matters is the event's. */
#define AP_TOO_LONG_MSG                                                                            \
    "longer than 65 MiB; an event's data and metadata may take 64 MiB together at most"

/* The UTF-8 byte-order mark some editors put at the start of a file: skipped there. */
#define AP_UTF8_BOM     "\xEF\xBB\xBF"
#define AP_UTF8_BOM_LEN 3

/* Bytes to skip at the start of the first line: the BOM's length, or 0. */
static inline size_t ap_bom_len(const char *line, size_t len)
{
    return len >= AP_UTF8_BOM_LEN && memcmp(line, AP_UTF8_BOM, AP_UTF8_BOM_LEN) == 0
               ? AP_UTF8_BOM_LEN
               : 0;
}

/* ---- input -------------------------------------------------------------------------- */

typedef struct ap_input {
    int fd;
    evs__buf buf;     /* bytes read: lines handed out, then the unparsed rest */
    size_t scan;     /* offset of the next line to hand out */
    size_t searched; /* [scan, searched) is known to hold no newline */
    bool eof;
    uint64_t line_no; /* number of the last line handed out (1-based) */
} ap_input;

#define AP_LINE     1 /* a line is in *off, *len */
#define AP_NEED     0 /* no complete line buffered: read more (or commit first) */
#define AP_EOF      (-1)
#define AP_TOO_LONG (-2) /* the line being read is longer than AP_MAX_LINE_LEN */

void ap_input_init(ap_input *in, int fd);
void ap_input_free(ap_input *in);
/* The next complete line (without its newline; a last line without one counts at end of
 * input). Offsets stay valid until ap_input_fill shifts them. */
int ap_input_next(ap_input *in, size_t *off, size_t *len);
/* True when more input (or the end of it) can be read without waiting. */
bool ap_input_ready(const ap_input *in);
/* Drop the bytes before keep_from (the first line still needed), then read once
 * (blocking). *shift receives how far the kept bytes moved towards the start.
 * Returns 0, or an errno value (ENOMEM included). */
int ap_input_fill(ap_input *in, size_t keep_from, size_t *shift);

/* ---- one line ----------------------------------------------------------------------- */

/* An event parsed from a line. Offsets, not pointers: the input buffer and the names
 * buffer may move as they grow, until the commit turns these into evs_event_in. */
typedef struct ap_line {
    uint64_t line_no;
    size_t line_off; /* in the input buffer */
    size_t line_len;
    size_t data_off; /* in the input buffer, raw JSON */
    size_t data_len;
    size_t meta_off;    /* in the input buffer, raw JSON object */
    size_t meta_len;    /* 0 when the line has no metadata */
    size_t stream_off;  /* in the names buffer, NUL-terminated, unescaped */
    size_t type_off;    /* in the names buffer, NUL-terminated, unescaped */
    size_t payload_len; /* stream + type + data + metadata bytes, the library's measure */
    int64_t expected;   /* the line's own expected version, when has_expected */
    bool has_expected;
    bool has_id;
    unsigned char id[16];
} ap_line;

/* What is wrong with a rejected line. */
typedef struct ap_bad {
    char field[72]; /* the field's name, or "" when the line as a whole is wrong */
    char what[200];
} ap_bad;

/* Strings the parser needs besides the line. */
typedef struct ap_parse_env {
    evs__buf *names;             /* unescaped stream and type names are appended here */
    const char *default_stream; /* --stream, or NULL */
    const ap_line *prev;        /* the previous line of the same commit, or NULL: equal
                                 * names are shared instead of stored again */
} ap_parse_env;

#define AP_PARSE_OK    0
#define AP_PARSE_BLANK 1    /* empty or whitespace only: not an event */
#define AP_PARSE_BAD   (-1) /* *bad says why */
#define AP_PARSE_NOMEM (-2)

/* Parse line[0..len), found at offset line_off of `base`, into *out. */
int ap_parse_line(ap_line *out, const ap_parse_env *env, const char *base, size_t line_off,
                  size_t len, ap_bad *bad);

/* ---- per-stream expectations -------------------------------------------------------- */

typedef struct ap_stream_state {
    char *name; /* NULL for an empty slot */
    uint64_t hash;
    bool pinned;     /* the next batch expects exactly `version` */
    int64_t version; /* the stream's last version as this invocation left it */
} ap_stream_state;

typedef struct ap_streams {
    ap_stream_state *slots;
    size_t cap; /* a power of two, or 0 */
    size_t count;
} ap_streams;

ap_stream_state *ap_streams_find(const ap_streams *m, const char *name);
ap_stream_state *ap_streams_add(ap_streams *m, const char *name); /* NULL: out of memory */
void ap_streams_free(ap_streams *m);

/* ---- the command's state and its commits --------------------------------------------- */

/* Commit once this many bytes of input lines are gathered, whatever --batch says. */
#define AP_COMMIT_BYTES     ((size_t)4 << 20)
/* --atomic keeps the whole input in memory: refuse input past twice what one append may
 * carry, before memory use gets silly. */
#define AP_ATOMIC_MAX_INPUT (2 * (size_t)(EVS_MAX_BATCH_LEN))

typedef struct ap_opts {
    const char *dir;
    const char *stream; /* --stream, or NULL */
    bool has_expected;
    int64_t expected; /* --expected-version */
    int wait_ms;      /* -1: wait as long as it takes */
    size_t batch_max; /* events per commit */
    bool atomic;
    bool quiet;
    bool create; /* --create: make the store when it is missing */
    evs_sync_mode sync;
} ap_opts;

typedef struct ap_ctx {
    ap_opts o;
    evs_store *store;
    ap_input in;
    evs__buf names; /* unescaped stream and type names of the pending lines */
    ap_streams streams;
    ap_line *lines; /* pending lines, in input order */
    size_t count;
    size_t cap;
    size_t line_bytes;    /* raw bytes of the pending lines */
    uint64_t payload_len; /* the library's measure of the pending events */
    /* Scratch for one commit, kept between commits (batch_first: an index in lines[]). */
    cli_commit_scratch sc;
    cli_out out; /* acknowledgements */
} ap_ctx;

/* Commit the pending lines (if any) and print their acknowledgements. Returns the exit
 * code: CLI_EXIT_OK, or the failure's, already reported. */
int ap_commit(ap_ctx *ac);

/* "lines 1-16 were written, lines 17 and after were not", for the first line that was
 * not written. */
void ap_written_clause(char *buf, size_t len, uint64_t first_unwritten);

/* Report running out of memory; returns CLI_EXIT_ERROR. */
int ap_report_oom(void);

#endif /* EVS_CLI_APPEND_H */
