/*
 * cli_common.h - what every evstore subcommand shares: the long-option parser, the
 * exit-code mapping, one-line messages on stderr, number parsing, and the buffered
 * stdout writer with the event envelope printer (cli_output.c).
 *
 * The CLI uses only include/evstore.h plus the generic helpers of src/util and src/json.
 */
#ifndef EVS_CLI_COMMON_H
#define EVS_CLI_COMMON_H

#include "evstore.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes, the same for every subcommand (documented in `evstore help`). */
#define CLI_EXIT_OK       0
#define CLI_EXIT_ERROR    1
#define CLI_EXIT_USAGE    2
#define CLI_EXIT_CONFLICT 3 /* EVS_ECONFLICT */
#define CLI_EXIT_INVALID  4 /* EVS_EINVAL or a bad input line */
#define CLI_EXIT_CORRUPT  5 /* EVS_ECORRUPT */
#define CLI_EXIT_IDCONFLICT 6 /* EVS_EIDCONFLICT: ids already stored, but not as this batch */
#define CLI_EXIT_DELETED  7 /* EVS_EDELETED: the stream was deleted for good */

/* A subcommand: argv[0] is its name ("append"); returns the exit code. */
typedef int (*cli_cmd_fn)(int argc, char **argv);

int cli_cmd_append(int argc, char **argv);
int cli_cmd_read(int argc, char **argv);
int cli_cmd_stat(int argc, char **argv);
int cli_cmd_verify(int argc, char **argv);
int cli_cmd_compact(int argc, char **argv);
int cli_cmd_repair(int argc, char **argv);
int cli_cmd_backup(int argc, char **argv);
int cli_cmd_archive(int argc, char **argv);
int cli_cmd_streams(int argc, char **argv);
int cli_cmd_tail(int argc, char **argv);
int cli_cmd_init(int argc, char **argv);
int cli_cmd_export(int argc, char **argv);
int cli_cmd_import(int argc, char **argv);
int cli_cmd_subscribe(int argc, char **argv);
int cli_cmd_consumers(int argc, char **argv);
int cli_cmd_consumer(int argc, char **argv);
int cli_cmd_forget(int argc, char **argv);
int cli_cmd_delete(int argc, char **argv);
int cli_cmd_meta(int argc, char **argv);
int cli_cmd_retain(int argc, char **argv);
int cli_cmd_discard(int argc, char **argv);
/* The server's commands, in server/. */
int cli_cmd_serve(int argc, char **argv);
int cli_cmd_token(int argc, char **argv);
int cli_cmd_tenant(int argc, char **argv);

/* ---- option parsing ---------------------------------------------------------------- */

/* One accepted option. Long options (plus -h for --help, and a short form where an
 * option has one): they read the same in
 * scripts years later, and no abbreviations are accepted, so adding an option can never
 * change what an existing command line means. */
typedef struct cli_optdef {
    const char *name; /* without the dashes: "stream" for --stream */
    bool has_value;   /* --name VALUE or --name=VALUE */
    char short_name;  /* 0, or the letter of a short form (-n 5, -n5, -f): only for the
                       * few options that habit from other tools spells short */
} cli_optdef;

typedef struct cli_parser {
    const char *cmd; /* subcommand name, for messages */
    int argc;
    char **argv;
    int next;          /* index of the next argv element to look at */
    bool only_args;    /* "--" was seen: the rest are positional */
    const char *value; /* the option's value, or the positional argument */
} cli_parser;

#define CLI_OPT_ARG  (-1) /* a positional argument, in p->value */
#define CLI_OPT_END  (-2) /* no more arguments */
#define CLI_OPT_BAD  (-3) /* usage error; the message was printed */
#define CLI_OPT_HELP (-4) /* --help or -h */

void cli_parser_init(cli_parser *p, const char *cmd, int argc, char **argv);

/* The next option: its index in `defs` (terminated by a {NULL} entry), or one of the
 * CLI_OPT_* values above. */
int cli_parser_next(cli_parser *p, const cli_optdef *defs);

/* ---- messages and exit codes ------------------------------------------------------- */

/* "evstore <cmd>: <message>" as one line on stderr. */
void cli_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A usage error: the message plus a pointer to --help on one line; returns
 * CLI_EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cli_parser_next for subcommands whose one positional argument is DIR: stores it in
 * *dir, reports a second one as a usage error (CLI_OPT_BAD, message printed), and
 * returns everything else as cli_parser_next does. */
int cli_parser_next_dir(cli_parser *p, const cli_optdef *opts, const char **dir);

/* Report the library's last error (evs_errmsg) for `rc` and return its exit code. */
int cli_lib_err(const char *cmd, int rc);
/* What to do about the library's message `msg` for `rc`, to append to it: damage
 * (EVS_ECORRUPT) found by any command but verify and repair gets "; run 'evstore
 * verify' ..."; verify's own report already names the damage, and a message that names
 * a remedy ('evstore ...') keeps its own. "" otherwise. */
const char *cli_remedy(const char *cmd, int rc, const char *msg);
/* Warn on stderr when the store's last event time is ahead of this machine's clock:
 * appends are then stamped with that time until the clock passes it. */
void cli_warn_future_ts(const char *cmd, int64_t last_ts_ns);

/* The exit code for a library return code. */
int cli_exit_code(int rc);

/* Write a help text to stdout; returns CLI_EXIT_OK. */
int cli_help(const char *text);

/* ---- argument values --------------------------------------------------------------- */

/* Parse a decimal integer in [min, max]; false when s is not one. */
bool cli_parse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out);

/* BYTES with an optional K, M, G or T suffix (powers of 1024), 1 to 2^40 before the
 * suffix; false when s is not one. */
bool cli_parse_size(const char *s, uint64_t *out);

/* Parse an expected version: a number >= 0, "any", "no_stream" or "exists". */
bool cli_parse_expected(const char *s, size_t len, int64_t *out);

/* Parse a sync mode: "always", "batch" or "none". */
bool cli_parse_sync(const char *s, evs_sync_mode *out);

/* The text form of an expected version, for messages ("any", "no_stream", "7"). */
const char *cli_expected_str(int64_t expected, char buf[24]);

/* The store directory: `arg` when given, else $EVSTORE_DIR; NULL (usage error printed)
 * when neither is set. */
const char *cli_store_dir(const char *cmd, const char *arg);

/* Check a stream name given on the command line (non-empty, not too long, no control
 * characters); prints a usage error and returns false when it is bad. */
bool cli_check_name(const char *cmd, const char *option, const char *s, size_t max_len);
/* The same check without printing: false with the reason in `why`. */
bool cli_name_ok(const char *option, const char *s, size_t max_len, char *why, size_t why_len);

/* Open the store for reading only (never created, never repaired). Reports a failure
 * and returns its exit code through *exit_code. */
evs_store *cli_open_readonly(const char *cmd, const char *dir, int *exit_code);

/* What cli_open_write made: the store, and its directory too. */
typedef struct cli_created {
    bool store;
    bool dir;
} cli_created;

/* Open the store in `dir` to write to it (cli_create.c). A missing store is created
 * only when `create` is set (--create), and then announced on stderr; without it the
 * message says how to make one. Returns the handle, or NULL with the exit code in
 * *exit_code (reported). */
evs_store *cli_open_write(const char *cmd, const char *dir, const evs_options *opts, bool create,
                          cli_created *made, int *exit_code);
/* After a command that created the store failed with nothing stored: remove the store
 * again (and its directory when that was made too), saying so on stderr. */
void cli_discard_created(const char *cmd, const char *dir, const cli_created *made);

/* ---- event filters (cli_filter.c) -------------------------------------------------- */

/* The filters that read, tail and export share, as option indexes. A command lists
 * CLI_FILTER_SEL_OPTDEFS (which events) and, where a range makes sense,
 * CLI_FILTER_RANGE_OPTDEFS (where to start and stop) first in its option table, so the
 * indexes below are the same in every command, and numbers its own options from
 * CLI_F_SEL_COUNT or CLI_F_COUNT on. */
enum {
    CLI_F_STREAM,
    CLI_F_TYPE,
    CLI_F_CATEGORY,
    CLI_F_PREFIX,
    CLI_F_SINCE,
    CLI_F_UNTIL,
    CLI_F_SEL_COUNT,
    CLI_F_FROM = CLI_F_SEL_COUNT,
    CLI_F_TO,
    CLI_F_FROM_VERSION,
    CLI_F_BACKWARDS,
    CLI_F_LIMIT,
    CLI_F_COUNT
};

#define CLI_FILTER_SEL_OPTDEFS                                                                     \
    {"stream", true, 0}, {"type", true, 0}, {"category", true, 0}, {"prefix", true, 0},            \
        {"since", true, 0},                                                                        \
    {                                                                                              \
        "until", true, 0                                                                           \
    }
#define CLI_FILTER_RANGE_OPTDEFS                                                                   \
    {"from", true, 0}, {"to", true, 0}, {"from-version", true, 0}, {"backwards", false, 0},        \
    {                                                                                              \
        "limit", true, 0                                                                           \
    }

/* Help lines for the options above, to paste into a command's help text. */
#define CLI_FILTER_SEL_HELP                                                                        \
    "  --stream S         only the events of stream S (in version order)\n"                        \
    "  --type T           only events of type T; repeat it for any of several types\n"             \
    "  --category C       only streams of category C: named C or starting with C-\n"               \
    "  --prefix P         only streams whose name starts with P\n"                                 \
    "  --since TIME       only events appended at or after TIME\n"                                 \
    "  --until TIME       only events appended before TIME\n"                                      \
    "                     TIME: RFC 3339 (2026-11-23T12:00:00Z, any offset), a date\n"             \
    "                     (2026-11-23: midnight UTC), now, or back from now: -10s,\n"              \
    "                     -30m, -1.5h, -2d, -1w (at most 3660 days)\n"
#define CLI_FILTER_RANGE_HELP                                                                      \
    "  --from POS         start at position POS (the first event >= POS; with\n"                   \
    "                     --backwards, the first <= POS)\n"                                        \
    "  --to POS           stop after position POS (with --backwards: stop below it);\n"            \
    "                     --from and --to are inclusive either way\n"                              \
    "  --from-version V   with --stream: start at version V of the stream\n"                       \
    "  --backwards        newest first\n"                                                          \
    "  --limit N          stop after N events\n"

typedef struct cli_filter {
    evs_query query;
    const char **types; /* argv strings, so only the array is owned */
    size_t type_count;
    bool limit_zero;   /* --limit 0: select nothing (the query's 0 means no limit) */
    bool from_version; /* --from-version was given */
    bool query_names;  /* messages name query parameters (from_version), not options */
} cli_filter;

/* Start from "everything, forward". argc bounds the number of --type options.
 * Returns 0, or CLI_EXIT_ERROR (out of memory, reported). */
int cli_filter_init(cli_filter *f, const char *cmd, int argc);
void cli_filter_free(cli_filter *f);
/* Apply option `opt` (a CLI_F_* index) with its value. Returns CLI_EXIT_OK or
 * CLI_EXIT_USAGE (reported). */
int cli_filter_set(cli_filter *f, const char *cmd, int opt, const char *value);
/* Checks across options, once all are parsed. CLI_EXIT_OK or CLI_EXIT_USAGE. */
int cli_filter_finish(cli_filter *f, const char *cmd);
/* A command's own option (not a filter) with its value, applied to ctx. CLI_EXIT_OK,
 * or an exit code with the problem reported. */
typedef int (*cli_own_option_fn)(void *ctx, int opt, const char *value);
/* The argument loop of the commands that take filters: the options numbered below
 * `filter_count` (CLI_F_SEL_COUNT or CLI_F_COUNT) go to *f, the others to own(); then
 * cli_filter_finish, and the store directory into *dir. Returns an exit code, or -1
 * for --help. */
int cli_filter_parse_args(cli_filter *f, const char **dir, const char *cmd,
                          const cli_optdef *opts, int filter_count, int argc, char **argv,
                          cli_own_option_fn own, void *ctx);
/* cli_filter_set and cli_filter_finish without printing, for the server: false with the
 * reason in `why` (naming the option as f->query_names says). */
bool cli_filter_apply(cli_filter *f, int opt, const char *value, char *why, size_t why_len);
bool cli_filter_check(const cli_filter *f, char *why, size_t why_len);
/* A time for --since/--until (cli_time.c): RFC 3339, a bare date YYYY-MM-DD (midnight
 * UTC), "now", or '-' then a number (a fraction allowed) then s, m, h, d or w: now
 * minus that, at most 3660 days back. False when it is none of these, with the reason
 * in `why`. */
bool cli_parse_time(const char *s, int64_t now_ns, int64_t *out, char *why, size_t why_len);
/* A span of time (cli_time.c): a number (a fraction allowed) then s, m, h, d or w, at
 * most 3660 days, into nanoseconds. False with the reason in `why`. */
bool cli_parse_duration(const char *s, int64_t *out, char *why, size_t why_len);

/* ---- buffered output --------------------------------------------------------------- */

/* A large output buffer written with write(2). Errors are sticky: after the first
 * failed write every call is a no-op returning -1, and `err` holds the errno (EPIPE
 * when the reader went away, e.g. `| head`). */
typedef struct cli_out {
    int fd;
    /* When set, full buffers go to sink(sink_ctx, ...) instead of write(2) on fd (export
     * --gzip). It returns 0, or -1 with an errno value in *err. */
    int (*sink)(void *sink_ctx, const char *p, size_t len, int *err);
    void *sink_ctx;
    char *buf;
    size_t len; /* bytes waiting in buf */
    size_t cap;
    int err; /* errno of the first failed write, 0 while all is well */
} cli_out;

int cli_out_init(cli_out *o, int fd, size_t cap); /* 0, or -1 out of memory */
void cli_out_free(cli_out *o);
int cli_out_flush(cli_out *o);
/* Append bytes; the signature fits evs__json_write_fn so escapes go straight in. */
int cli_out_write(void *ctx, const char *p, size_t len);
int cli_out_str(cli_out *o, const char *s);
int cli_out_i64(cli_out *o, int64_t v);
/* s as a JSON string, quotes included, escaped as JSON requires. */
int cli_out_json_str(cli_out *o, const char *s, size_t len);

/* One event as the NDJSON envelope, in this order: pos, stream, version, id, type, ts,
 * data, metadata (left out when the event has none), then a newline. */
int cli_out_event(cli_out *o, const evs_event *ev);

/* A stream's line of `evstore streams`: stream, version, events, first_pos, last_pos,
 * then a newline (cli_records.c). Returns -1 after a failed write. */
int cli_out_stream(cli_out *o, const char *name, size_t len, const evs_stream_info *info);
/* The same object without its closing brace and newline, for callers that add fields
 * (the server's paged stream list adds last_ts). Returns -1 after a failed write. */
int cli_out_stream_fields(cli_out *o, const char *name, size_t len, const evs_stream_info *info);
/* The category rule of the library's queries: the name is C, or starts with "C-". */
bool cli_stream_in_category(const char *name, size_t len, const char *cat);
/* The object `evstore stat` prints, then a newline. */
void cli_out_stat(cli_out *o, const evs_stat_info *st);
/* A consumer's line of `evstore consumers`, then a newline. */
void cli_out_consumer(cli_out *o, const evs_consumer_info *ci);

/* Report a failed write on stdout (silently for EPIPE) and return the exit code:
 * 0 for EPIPE, because a reader that stopped early (`| head`) is not an error. */
int cli_out_report(const char *cmd, const cli_out *o);

#endif /* EVS_CLI_COMMON_H */
