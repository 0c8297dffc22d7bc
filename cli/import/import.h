/*
 * import.h - the parts of `evstore import` shared by its files:
 *   import_source.c          an input's bytes, decompressed by what its first bytes say
 *                            (gzip, zstd or plain)
 *   import_input.c           an input split into lines
 *   import_lines.c           the walk over line-based inputs: parse, gather, report
 *   import_parse.h           the line parsers, one file per format (fuzzed)
 *   import_eventlog_files.c  eventlog's daily files, found by template, in date order
 *   import_ses_files.c       simple-event-sourcing's chunks, found and put in order
 *   import_futoin.c          futoin-eventstream's SQLite tables, merged by id
 *   import_futoin_consumers.c  its registered consumers, as durable consumers
 *   import_id.c              the ids of events their source gives none (UUIDv5)
 *   import_resume.c          a commit that overlaps what an earlier run stored
 *   import_batch.c           gathers events and commits them in large evs_append_multi
 *                            calls; messages naming file and line
 *   import_versions.c        which event of a refused commit broke its stream's versions
 *   import_progress.c        the progress bar on a terminal
 *   cmd_import.c             options, the choice of format, the final report
 */
#ifndef EVS_CLI_IMPORT_H
#define EVS_CLI_IMPORT_H

#include "append.h"
#include "cli_common.h"
#include "commit_scratch.h"
#include "evstore.h"
#include "import_parse.h"
#include "json.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- input -------------------------------------------------------------------------- */

typedef enum im_codec { IM_PLAIN, IM_GZIP, IM_ZSTD } im_codec;

/* An input's bytes, decompressed. The codec is chosen by the first bytes (gzip's and
 * zstd's magic numbers), never by the file name, so a renamed or piped file reads the
 * same. */
typedef struct im_source {
    int fd;
    im_codec codec;
    unsigned char *raw; /* bytes read from fd, not yet decoded */
    size_t raw_len;     /* valid bytes in raw */
    size_t raw_off;     /* decoded up to here */
    size_t raw_cap;
    bool raw_eof;      /* fd has no more */
    void *dec;         /* z_stream * or ZSTD_DStream *; void so only import_source.c
                        * needs their headers */
    bool in_frame;     /* inside a gzip member or zstd frame (an end here is a cut) */
    unsigned members;  /* gzip members or zstd frames finished */
    uint64_t raw_read; /* bytes read from fd so far (for progress) */
} im_source;

/* Take fd (closed by im_source_close) and sniff its codec. 0, or -1 with *why. */
int im_source_open(im_source *s, int fd, char *why, size_t why_len);
/* Up to cap decoded bytes into dst: the count, 0 at the end, -1 on an error (*why). */
ssize_t im_source_read(im_source *s, char *dst, size_t cap, char *why, size_t why_len);
void im_source_close(im_source *s);

typedef struct im_input {
    im_source src;
    const char *path;
    evs__buf buf;
    size_t scan; /* offset of the next line in buf */
    bool eof;
    uint64_t line_no; /* of the last line handed out, 1-based */
} im_input;

/* Open `path` ("-" = standard input). 0, or -1 with *why ("cannot open: ..."). */
int im_input_open(im_input *in, const char *path, char *why, size_t why_len);
/* The next line, without its newline: 1 with *line and *len (valid until the next call),
 * 0 at the end, -1 on a read error or an over-long line (*why says which). */
int im_input_next(im_input *in, const char **line, size_t *len, char *why, size_t why_len);
void im_input_close(im_input *in);
/* A new string "dir/name" (just name when dir is NULL), for free(); NULL out of memory. */
char *im_path_join(const char *dir, const char *name);

/* ---- progress ----------------------------------------------------------------------- */

/* A bar on standard error when it is a terminal, never into a pipe or a file. */
typedef struct im_progress {
    bool tty;
    bool shown;      /* a bar is on the screen */
    int64_t last_ns; /* when it was last drawn */
    uint64_t done;   /* input bytes (or rows) read so far */
    uint64_t total;  /* all of them, or 0 when unknown (standard input, a pipe) */
    bool rows;       /* done and total count rows, not bytes */
} im_progress;

/* Sum the sizes of the inputs into p->total; unknown (0) once one is not a regular
 * file. */
void im_progress_size_files(im_progress *p, char *const *paths, size_t count);
/* Redraw (at most ten times a second) with `events` imported so far. */
void im_progress_show(im_progress *p, int64_t events);
/* Take the bar off the screen, before a message or at the end. */
void im_progress_clear(im_progress *p);

/* ---- ids ---------------------------------------------------------------------------- */

/* SHA-1 for the ids, set up once (OpenSSL's types, named by their struct tags so that
 * only import_id.c includes OpenSSL). */
typedef struct im_id {
    struct evp_md_st *md;
    struct evp_md_ctx_st *ctx;
} im_id;

int im_id_init(im_id *g); /* 0, or -1 (out of memory, or no SHA-1) */
void im_id_free(im_id *g);
/* The id of an event from its origin (ev->origin must be set). 0, or -1. */
int im_id_derive(im_id *g, const im_event *ev, unsigned char out[16]);

/* ---- events and commits -------------------------------------------------------------- */

/* A pending event: offsets into the arena, which moves as it grows. */
typedef struct im_pending {
    size_t stream_off, type_off, data_off, meta_off;
    size_t data_len, meta_len;
    int64_t version;
    bool has_id;
    unsigned char id[16];
    int64_t ts_ns; /* the source's time of the event (for --keep-ts), or 0 */
    bool cut_before; /* starts a batch of its own (import_retry.c) */
    const char *file; /* borrowed: lives until the import ends */
    uint64_t line;    /* or the row id, for formats of rows */
} im_pending;

/* Called for each committed event, in order, with its line (or row id) and position. */
typedef void (*im_committed_fn)(void *arg, uint64_t line, int64_t pos);

typedef struct im_ctx {
    evs_store *store;
    const char *default_stream; /* --stream, or the format's default */
    const char *stream_field;   /* --stream-field, or NULL */
    bool keep_ts;               /* --keep-ts: each event's ts is its source's time */
    im_id ids;                  /* for events without an id */
    /* Where the reader is, for messages: file and line, or file and row id. */
    const char *file;
    uint64_t line;
    bool rows; /* `line` is a row id (futoin) */
    /* Pending events. */
    evs__buf arena;
    im_pending *pend;
    size_t count, cap;
    im_committed_fn committed;
    void *committed_arg;
    /* Commit scratch (positions: when `committed` wants them). */
    cli_commit_scratch sc;
    /* Per-line scratch for the parsers (im_line.scratch). */
    evs__buf scratch;
    /* Figures. */
    int64_t imported;
    int64_t duplicates; /* events of batches the store already held (same ids) */
    im_progress progress;
    evs__buf result;        /* members a format adds to the final line: ,"merged":N ... */
    const char *last_file; /* last committed event's place, for messages */
    uint64_t last_line;
} im_ctx;

/* Hand over one event; commits when enough are gathered. Returns an exit code. */
int im_add(im_ctx *ic, const im_event *ev);
/* Commit what is pending. Returns an exit code (reported on failure). */
int im_commit(im_ctx *ic);
/* Set up ic->sc.events and ic->sc.batches for pend[0..n) (scratch reserved): the batch count. */
size_t im_build_batches(im_ctx *ic, size_t n);
/* Append pend[0..n) in one call: the library's return code; on success the figures, the
 * positions and the place of the last event are brought up to date. */
int im_append_pending(im_ctx *ic, size_t n);
/* A refused commit that overlaps what the store holds (import_retry.c): cut its batches
 * after each stream's last stored event. The number of cuts (0: no overlap), or -1. */
int im_split_overlaps(im_ctx *ic);
/* A commit refused with EVS_EINVAL: store what comes before the refused event and
 * report that at its line. An exit code (reported), or a library code to report. */
int im_commit_to_refused(im_ctx *ic);
/* Bad input at the current file and line: commit what came before, then one message
 * saying what is wrong, how much was imported and where to resume. Returns
 * CLI_EXIT_INVALID (or the commit's failure). */
int im_bad(im_ctx *ic, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A read error (or over-long line) at the current file and line: like im_bad, exit 1. */
int im_read_error(im_ctx *ic, const char *why);
void im_ctx_free(im_ctx *ic);

/* The message for an event whose version does not follow: stream, its version, the
 * version it should have had. */
#define IM_GAP_FMT                                                                                 \
    "stream '%s' has version %lld, but the next version of that stream is %lld (counting "         \
    "the store and the input so far): versions must follow each other without gaps"
/* In a commit the store refused for an expected version: the first pending event whose
 * version does not follow the store and the events before it. 1 with *k its index and
 * *next the version it should have, 0 when every one follows (the conflict was
 * elsewhere), -1 when the store cannot say (evs_errmsg). */
int im_find_gap(im_ctx *ic, size_t *k, int64_t *next);

/* ---- formats ------------------------------------------------------------------------ */

/* How a line format numbers its lines for the parser (im_line.seq). */
typedef struct im_seq {
    int64_t next;  /* per event: the next event's number (tiny's index, ses's index) */
    bool per_line; /* instead: seq = next + line number - 1 (eventlog's positions) */
    int64_t file_ts_ns; /* the time of the file's events (eventlog's day), or 0 */
} im_seq;

/* Read `path` line by line; parse each non-blank line with `parse` and add its event.
 * Unreadable input and bad lines are reported with file and line. Returns an exit
 * code. */
int im_lines_file(im_ctx *ic, const char *path, im_parse_fn parse, im_seq *seq);
/* The same over several paths, in the order given; commits at the end. */
int im_lines_files(im_ctx *ic, char *const *paths, size_t count, im_parse_fn parse,
                   bool seq_per_file);

/* eventlog takes every file name template at once: files are walked in date order. */
int im_eventlog_files(im_ctx *ic, char **templates, size_t count);
/* simple-event-sourcing: directories and files, walked in chunk order. */
int im_ses_files(im_ctx *ic, char **paths, size_t count);
/* futoin-eventstream: SQLite database files; creates the consumers at the end. */
int im_futoin_files(im_ctx *ic, char **paths, size_t count);

#endif /* EVS_CLI_IMPORT_H */
