/*
 * cmd_append.c - `evstore append`: store NDJSON events read from standard input.
 *
 * It streams: lines are gathered while more input is immediately available and
 * committed as soon as the producer pauses, or at --batch events or ~4 MiB, so a slow
 * producer gets each event stored and acknowledged promptly while a file is loaded in
 * large, cheap commits. A commit is one evs_append_multi call (atomic over all its
 * batches) with one batch per run of consecutive lines of the same stream. An event's
 * acknowledgement is printed only after the commit holding it returned.
 *
 * Parts: options; per-batch expected versions; the commit and its acknowledgements;
 * error reports that say which lines were written; the read loop.
 */
#include "append.h"
#include "cli_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char append_help[] =
    "usage: evstore append [DIR] [--stream S] [--expected-version V] [--wait SECONDS]\n"
    "                      [--batch N] [--atomic] [--quiet] [--sync always|batch|none]\n"
    "\n"
    "Append events read from standard input, one JSON object per line:\n"
    "  {\"stream\":\"order-1\",\"type\":\"ItemAdded\",\"data\":{\"sku\":\"A1\"}}\n"
    "Fields: stream (string; may be left out with --stream), type (string), data (any\n"
    "JSON value, stored byte for byte), and optionally id (a UUID string: appending the\n"
    "same ids again writes nothing and prints the original positions), metadata (a JSON\n"
    "object) and expected_version (a number, \"any\", \"no_stream\" or \"exists\").\n"
    "Unknown fields are an error, except pos, version and ts, which the store assigns and\n"
    "which are ignored, so the output of 'evstore read' can be appended elsewhere.\n"
    "Empty lines are skipped.\n"
    "\n"
    "Lines are committed as they come: whatever is available at once is gathered (up to\n"
    "--batch events or ~4 MiB) and committed atomically, so a slow producer gets every\n"
    "event stored promptly. For each event, after its commit, one line is printed:\n"
    "  {\"pos\":12,\"stream\":\"order-1\",\"version\":3}\n"
    "\n"
    "options:\n"
    "  --stream S              stream for lines without a \"stream\" field\n"
    "  --expected-version V    expectation for the first batch of each stream: a version,\n"
    "                          any, no_stream or exists. After a batch that expected a\n"
    "                          version or no_stream, the stream's next batch expects\n"
    "                          exactly the version that batch left, so a concurrent writer\n"
    "                          shows up as a conflict. A line's own expected_version\n"
    "                          overrides for the batch it starts.\n"
    "  --wait SECONDS          how long to wait for another process's writer lock; 0 fails\n"
    "                          at once with a \"busy\" error. Default: as long as it takes.\n"
    "  --batch N               commit at most N events at a time (default 1000)\n"
    "  --atomic                all of the input in one atomic commit, or nothing\n"
    "  --quiet                 print no acknowledgements\n"
    "  --sync MODE             always (default; fdatasync before acknowledging), batch\n"
    "                          (sync every 10 ms), none (leave it to the OS)\n"
    "  --help, -h              this text\n"
    "\n"
    "On a bad line, the lines before it are committed, then one message on stderr names\n"
    "the line, the field and what is wrong, and which lines were written. If standard\n"
    "output goes away, appending continues without acknowledgements.\n"
    "DIR defaults to $EVSTORE_DIR and is created when missing.\n"
    "Exit codes: 0 ok, 1 error, 2 usage, 3 conflict, 4 invalid input.\n";

/* Commit once this many bytes of input lines are gathered, whatever --batch says. */
#define COMMIT_BYTES     ((size_t)4 << 20)
/* --atomic keeps the whole input in memory: refuse input past twice what one append may
 * carry, before memory use gets silly. */
#define ATOMIC_MAX_INPUT ((size_t)(EVS_MAX_BATCH_LEN)*2)

enum { OPT_STREAM, OPT_EXPECTED, OPT_WAIT, OPT_BATCH, OPT_ATOMIC, OPT_QUIET, OPT_SYNC };

static const cli_optdef append_opts[] = {
    [OPT_STREAM] = {"stream", true},  [OPT_EXPECTED] = {"expected-version", true},
    [OPT_WAIT] = {"wait", true},      [OPT_BATCH] = {"batch", true},
    [OPT_ATOMIC] = {"atomic", false}, [OPT_QUIET] = {"quiet", false},
    [OPT_SYNC] = {"sync", true},      {NULL, false},
};

struct append_opts {
    const char *dir;
    const char *stream; /* --stream, or NULL */
    bool has_expected;
    int64_t expected; /* --expected-version */
    int wait_ms;      /* -1: wait as long as it takes */
    size_t batch_max; /* events per commit */
    bool atomic;
    bool quiet;
    evs_sync_mode sync;
};

struct append_ctx {
    struct append_opts o;
    evs_store *store;
    ap_input in;
    evs_buf names; /* unescaped stream and type names of the pending lines */
    ap_streams streams;
    ap_line *lines; /* pending lines, in input order */
    size_t count;
    size_t cap;
    size_t line_bytes;    /* raw bytes of the pending lines */
    uint64_t payload_len; /* the library's measure of the pending events */
    /* Scratch for one commit, kept between commits. */
    evs_event_in *events;
    evs_batch_in *batches;
    evs_append_result *results;
    size_t *batch_first; /* index in lines[] of each batch's first line */
    size_t scratch_cap;
    cli_out out;
};

/* ---- options ------------------------------------------------------------------------ */

/* Seconds as a decimal ("2", "0.25") to milliseconds; at most ~23 days, so the result
 * fits lock_wait_ms. */
static bool parse_seconds(const char *s, int *out_ms)
{
    const char *dot = strchr(s, '.');
    size_t int_len = dot != NULL ? (size_t)(dot - s) : strlen(s);
    if (s[0] == '+' || s[0] == '-' || (int_len == 0 && (dot == NULL || dot[1] == '\0')))
        return false;
    int64_t whole = 0;
    if (int_len > 0 && !cli_parse_i64(s, int_len, 0, 2000000, &whole))
        return false;
    int64_t ms = whole * 1000;
    int64_t scale = 100;
    for (const char *p = dot != NULL ? dot + 1 : ""; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
        ms += (*p - '0') * scale;
        scale /= 10;
    }
    *out_ms = (int)ms;
    return true;
}

static int set_option(struct append_opts *o, int opt, const char *v)
{
    int64_t n;
    switch (opt) {
    case OPT_STREAM:
        if (!cli_check_name("append", "--stream", v, EVS_MAX_STREAM_LEN))
            return CLI_EXIT_USAGE;
        o->stream = v;
        return CLI_EXIT_OK;
    case OPT_EXPECTED:
        if (!cli_parse_expected(v, strlen(v), &o->expected))
            return cli_usage("append",
                             "--expected-version wants a version >= 0, any, "
                             "no_stream or exists, not '%s'",
                             v);
        o->has_expected = true;
        return CLI_EXIT_OK;
    case OPT_WAIT:
        if (!parse_seconds(v, &o->wait_ms))
            return cli_usage("append", "--wait wants seconds >= 0, not '%s'", v);
        return CLI_EXIT_OK;
    case OPT_BATCH:
        if (!cli_parse_i64(v, strlen(v), 1, EVS_MAX_BATCH_COUNT, &n))
            return cli_usage("append", "--batch wants a count from 1 to %u, not '%s'",
                             EVS_MAX_BATCH_COUNT, v);
        o->batch_max = (size_t)n;
        return CLI_EXIT_OK;
    case OPT_ATOMIC:
        o->atomic = true;
        return CLI_EXIT_OK;
    case OPT_QUIET:
        o->quiet = true;
        return CLI_EXIT_OK;
    case OPT_SYNC:
        if (strcmp(v, "always") == 0)
            o->sync = EVS_SYNC_ALWAYS;
        else if (strcmp(v, "batch") == 0)
            o->sync = EVS_SYNC_BATCH;
        else if (strcmp(v, "none") == 0)
            o->sync = EVS_SYNC_NONE;
        else
            return cli_usage("append", "--sync wants always, batch or none, not '%s'", v);
        return CLI_EXIT_OK;
    default:
        return CLI_EXIT_USAGE;
    }
}

/* Returns an exit code, or -1 for --help. */
static int parse_args(struct append_opts *o, int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "append", argc, argv);
    const char *dir = NULL;
    bool batch_given = false;
    int opt;
    while ((opt = cli_parser_next(&p, append_opts)) != CLI_OPT_END) {
        if (opt == CLI_OPT_BAD)
            return CLI_EXIT_USAGE;
        if (opt == CLI_OPT_HELP)
            return -1;
        if (opt == CLI_OPT_ARG) {
            if (dir != NULL)
                return cli_usage("append", "unexpected argument '%s'", p.value);
            dir = p.value;
            continue;
        }
        int code = set_option(o, opt, p.value);
        if (code != CLI_EXIT_OK)
            return code;
        batch_given = batch_given || opt == OPT_BATCH;
    }
    if (o->atomic && batch_given)
        return cli_usage("append", "--atomic and --batch exclude each other");
    o->dir = cli_store_dir("append", dir);
    return o->dir != NULL ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

/* ---- messages ----------------------------------------------------------------------- */

/* "lines 1-16 were written, lines 17 and after were not", for the first line that was
 * not written. */
static void written_clause(char *buf, size_t len, uint64_t first_unwritten)
{
    unsigned long long w = (unsigned long long)first_unwritten - 1;
    if (w == 0)
        (void)snprintf(buf, len, "no lines were written");
    else if (w == 1)
        (void)snprintf(buf, len, "line 1 was written, lines 2 and after were not");
    else
        (void)snprintf(buf, len, "lines 1-%llu were written, lines %llu and after were not", w,
                       w + 1);
}

static void line_range(char *buf, size_t len, uint64_t first, uint64_t last)
{
    if (first == last)
        (void)snprintf(buf, len, "line %llu", (unsigned long long)first);
    else
        (void)snprintf(buf, len, "lines %llu-%llu", (unsigned long long)first,
                       (unsigned long long)last);
}

static int report_oom(void)
{
    cli_err("append", "out of memory");
    return CLI_EXIT_ERROR;
}

/* The number after `word` in msg (e.g. "batch 2"), or -1. */
static long long number_after(const char *msg, const char *word)
{
    const char *p = strstr(msg, word);
    if (p == NULL)
        return -1;
    p += strlen(word);
    if (*p < '0' || *p > '9')
        return -1;
    long long n = 0;
    while (*p >= '0' && *p <= '9' && n < 1000000000LL)
        n = n * 10 + (*p++ - '0');
    return n;
}

/* A failed evs_append_multi: nothing of this commit was written. Name the lines of the
 * batch the library's message points at (it names the batch index), or of the commit. */
static int report_commit_error(const struct append_ctx *ac, int rc, size_t batch_count)
{
    const char *msg = evs_errmsg();
    if (msg[0] == '\0')
        msg = evs_errstr(rc);
    long long b = batch_count == 1 ? 0 : number_after(msg, "batch ");
    size_t first = 0, last = ac->count - 1;
    if (b >= 0 && (size_t)b < batch_count) {
        first = ac->batch_first[b];
        last = (size_t)b + 1 < batch_count ? ac->batch_first[b + 1] - 1 : ac->count - 1;
    }
    char lines[64], written[128];
    line_range(lines, sizeof lines, ac->lines[first].line_no, ac->lines[last].line_no);
    written_clause(written, sizeof written, ac->lines[0].line_no);
    cli_err("append", "%s: %s; %s", lines, msg, written);
    return cli_exit_code(rc);
}

/* ---- commits ------------------------------------------------------------------------ */

/* The expected version of a batch of `count` events starting with line `first`, and
 * the stream's state as this batch leaves it. */
static int batch_expected(struct append_ctx *ac, const ap_line *first, const char *stream,
                          size_t count, int64_t *out)
{
    ap_stream_state *st = ap_streams_find(&ac->streams, stream);
    bool from_option = st == NULL && ac->o.has_expected && !first->has_expected;
    int64_t e = EVS_EXPECT_ANY;
    if (first->has_expected)
        e = first->expected;
    else if (st != NULL && st->pinned)
        e = st->version;
    else if (from_option)
        e = ac->o.expected;
    bool is_explicit = first->has_expected || from_option;
    bool pins = e >= 0 || e == EVS_EXPECT_NO_STREAM;
    /* A stream needs remembering once it pins a version, or so that --expected-version
     * is not applied to it a second time. */
    if (st == NULL && (pins || ac->o.has_expected)) {
        st = ap_streams_add(&ac->streams, stream);
        if (st == NULL)
            return -1;
    }
    if (st != NULL && pins) {
        st->pinned = true;
        st->version = (e >= 0 ? e : -1) + (int64_t)count;
    } else if (st != NULL && is_explicit) {
        st->pinned = false;
    }
    *out = e;
    return 0;
}

static int reserve_scratch(struct append_ctx *ac)
{
    if (ac->count <= ac->scratch_cap)
        return 0;
    size_t cap = ac->scratch_cap == 0 ? 256 : ac->scratch_cap;
    while (cap < ac->count)
        cap *= 2;
    /* scratch_cap grows only once all four arrays did, so a failure part-way leaves
     * every array at least at the old size. */
    evs_event_in *ev = realloc(ac->events, cap * sizeof *ev);
    if (ev == NULL)
        return -1;
    ac->events = ev;
    evs_batch_in *bt = realloc(ac->batches, cap * sizeof *bt);
    if (bt == NULL)
        return -1;
    ac->batches = bt;
    evs_append_result *res = realloc(ac->results, cap * sizeof *res);
    if (res == NULL)
        return -1;
    ac->results = res;
    size_t *first = realloc(ac->batch_first, cap * sizeof *first);
    if (first == NULL)
        return -1;
    ac->batch_first = first;
    ac->scratch_cap = cap;
    return 0;
}

/* Turn the pending lines into events and batches. Returns the batch count, or 0 when
 * out of memory. */
static size_t build_batches(struct append_ctx *ac)
{
    if (reserve_scratch(ac) < 0)
        return 0;
    const char *base = ac->in.buf.ptr;
    const char *names = ac->names.ptr;
    size_t nb = 0;
    for (size_t i = 0; i < ac->count; i++) {
        const ap_line *l = &ac->lines[i];
        ac->events[i] =
            (evs_event_in){names + l->type_off, base + l->data_off,
                           l->data_len,         l->meta_len > 0 ? base + l->meta_off : NULL,
                           l->meta_len,         l->has_id ? l->id : NULL};
        /* Equal names of consecutive lines share one copy (append_line.c), so comparing
         * offsets compares the names. */
        if (i == 0 || l->stream_off != ac->lines[i - 1].stream_off || l->has_expected) {
            ac->batch_first[nb] = i;
            ac->batches[nb] = (evs_batch_in){names + l->stream_off, 0, &ac->events[i], 0};
            nb++;
        }
        ac->batches[nb - 1].count++;
    }
    for (size_t b = 0; b < nb; b++) {
        const ap_line *first = &ac->lines[ac->batch_first[b]];
        if (batch_expected(ac, first, ac->batches[b].stream, ac->batches[b].count,
                           &ac->batches[b].expected_version) < 0)
            return 0;
    }
    return nb;
}

static void print_acks(struct append_ctx *ac, size_t batch_count)
{
    cli_out *o = &ac->out;
    for (size_t b = 0; b < batch_count; b++) {
        const evs_batch_in *bt = &ac->batches[b];
        const evs_append_result *r = &ac->results[b];
        size_t stream_len = strlen(bt->stream);
        for (size_t k = 0; k < bt->count; k++) {
            (void)cli_out_write(o, "{\"pos\":", 7);
            (void)cli_out_i64(o, r->first_pos + (int64_t)k);
            (void)cli_out_write(o, ",\"stream\":", 10);
            (void)cli_out_json_str(o, bt->stream, stream_len);
            (void)cli_out_write(o, ",\"version\":", 11);
            (void)cli_out_i64(o, r->version - (int64_t)(bt->count - 1 - k));
            (void)cli_out_write(o, "}\n", 2);
        }
    }
    /* Flushed per commit, so a consumer of the acknowledgements hears at once. */
    (void)cli_out_flush(o);
}

static int commit(struct append_ctx *ac)
{
    if (ac->count == 0)
        return CLI_EXIT_OK;
    size_t nb = build_batches(ac);
    if (nb == 0)
        return report_oom();
    int rc = evs_append_multi(ac->results, ac->store, ac->batches, nb);
    if (rc < 0)
        return report_commit_error(ac, rc, nb);
    /* The library's versions are the truth (they also cover duplicate batches); the
     * last batch of a stream in this commit leaves its state. */
    for (size_t b = 0; b < nb; b++) {
        ap_stream_state *st = ap_streams_find(&ac->streams, ac->batches[b].stream);
        if (st != NULL && st->pinned)
            st->version = ac->results[b].version;
    }
    if (!ac->o.quiet)
        print_acks(ac, nb);
    uint64_t next_line = ac->lines[ac->count - 1].line_no + 1;
    ac->count = 0;
    ac->line_bytes = 0;
    ac->payload_len = 0;
    ac->names.len = 0;
    if (ac->out.err != 0 && ac->out.err != EPIPE) {
        char written[128];
        written_clause(written, sizeof written, next_line);
        cli_out_report("append", &ac->out);
        cli_err("append", "stopped after the acknowledgement failed; %s", written);
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}

/* ---- the read loop ------------------------------------------------------------------ */

static int bad_line(struct append_ctx *ac, uint64_t line_no, const ap_bad *bad)
{
    /* The valid lines before the bad one go in first: a bad line stops the input, it
     * does not take the events before it down with it (unless --atomic). */
    int code = ac->o.atomic ? CLI_EXIT_OK : commit(ac);
    if (code != CLI_EXIT_OK)
        return code;
    char written[128];
    written_clause(written, sizeof written, ac->o.atomic ? 1 : line_no);
    if (bad->field[0] != '\0')
        cli_err("append", "line %llu: field \"%s\": %s; %s", (unsigned long long)line_no,
                bad->field, bad->what, written);
    else
        cli_err("append", "line %llu: %s; %s", (unsigned long long)line_no, bad->what, written);
    return CLI_EXIT_INVALID;
}

static int add_line(struct append_ctx *ac, size_t off, size_t len)
{
    if (ac->count == ac->cap) {
        size_t cap = ac->cap == 0 ? 256 : ac->cap * 2;
        ap_line *p = realloc(ac->lines, cap * sizeof *p);
        if (p == NULL)
            return report_oom();
        ac->lines = p;
        ac->cap = cap;
    }
    ap_line *l = &ac->lines[ac->count];
    ap_parse_env env = {&ac->names, ac->o.stream, ac->count > 0 ? l - 1 : NULL};
    ap_bad bad;
    int rc = ap_parse_line(l, &env, ac->in.buf.ptr, off, len, &bad);
    l->line_no = ac->in.line_no;
    if (rc == AP_PARSE_BLANK)
        return CLI_EXIT_OK;
    if (rc == AP_PARSE_NOMEM)
        return report_oom();
    if (rc == AP_PARSE_BAD)
        return bad_line(ac, ac->in.line_no, &bad);
    ac->count++;
    ac->line_bytes += len;
    ac->payload_len += l->payload_len;
    if (!ac->o.atomic) {
        if (ac->count >= ac->o.batch_max || ac->line_bytes >= COMMIT_BYTES)
            return commit(ac);
        return CLI_EXIT_OK;
    }
    if (ac->count > EVS_MAX_BATCH_COUNT || ac->payload_len > (uint64_t)(EVS_MAX_BATCH_LEN) ||
        ac->line_bytes > ATOMIC_MAX_INPUT) {
        ap_bad big = {"", ""};
        (void)snprintf(big.what, sizeof big.what,
                       "the input is larger than one atomic append may be (%u events, %u MiB)",
                       EVS_MAX_BATCH_COUNT, EVS_MAX_BATCH_LEN >> 20);
        return bad_line(ac, ac->in.line_no, &big);
    }
    return CLI_EXIT_OK;
}

static int read_error(struct append_ctx *ac, int err)
{
    int code = ac->o.atomic ? CLI_EXIT_OK : commit(ac);
    if (code != CLI_EXIT_OK)
        return code;
    char why[256], written[128];
    if (strerror_r(err, why, sizeof why) != 0)
        why[0] = '\0';
    written_clause(written, sizeof written, ac->o.atomic ? 1 : ac->in.line_no + 1);
    cli_err("append", "reading standard input: %s; %s", why, written);
    return CLI_EXIT_ERROR;
}

static int run(struct append_ctx *ac)
{
    for (;;) {
        size_t off, len;
        int r = ap_input_next(&ac->in, &off, &len);
        if (r == AP_LINE) {
            int code = add_line(ac, off, len);
            if (code != CLI_EXIT_OK)
                return code;
            continue;
        }
        if (r == AP_EOF)
            return commit(ac);
        if (r == AP_TOO_LONG) {
            ap_bad bad = {"", ""};
            (void)snprintf(bad.what, sizeof bad.what, "longer than %zu bytes", AP_MAX_LINE_LEN);
            return bad_line(ac, ac->in.line_no + 1, &bad);
        }
        /* Everything buffered is parsed. If the producer has nothing more for us right
         * now, store and acknowledge what we have before waiting for it. */
        if (!ac->o.atomic && ac->count > 0 && !ap_input_ready(&ac->in)) {
            int code = commit(ac);
            if (code != CLI_EXIT_OK)
                return code;
        }
        size_t keep = ac->count > 0 ? ac->lines[0].line_off : ac->in.scan;
        size_t shift;
        int err = ap_input_fill(&ac->in, keep, &shift);
        for (size_t i = 0; shift > 0 && i < ac->count; i++) {
            ac->lines[i].line_off -= shift;
            ac->lines[i].data_off -= shift;
            ac->lines[i].meta_off -= ac->lines[i].meta_len > 0 ? shift : 0;
        }
        if (err != 0)
            return err == ENOMEM ? report_oom() : read_error(ac, err);
    }
}

static void free_ctx(struct append_ctx *ac)
{
    ap_input_free(&ac->in);
    evs__buf_free(&ac->names);
    ap_streams_free(&ac->streams);
    free(ac->lines);
    free(ac->events);
    free(ac->batches);
    free(ac->results);
    free(ac->batch_first);
    cli_out_free(&ac->out);
}

int cli_cmd_append(int argc, char **argv)
{
    struct append_ctx ac;
    memset(&ac, 0, sizeof ac);
    ac.o.wait_ms = -1;
    ac.o.batch_max = 1000;
    ac.o.sync = EVS_SYNC_ALWAYS;
    int code = parse_args(&ac.o, argc, argv);
    if (code < 0)
        return cli_help(append_help);
    if (code != CLI_EXIT_OK)
        return code;

    evs_options opts = EVS_OPTIONS_INIT;
    opts.sync_mode = ac.o.sync;
    opts.lock_wait_ms = ac.o.wait_ms;
    int rc = evs_open(&ac.store, ac.o.dir, &opts);
    if (rc < 0)
        return cli_lib_err("append", rc);
    ap_input_init(&ac.in, STDIN_FILENO);
    if (cli_out_init(&ac.out, STDOUT_FILENO, 256u << 10) < 0)
        code = report_oom();
    else
        code = run(&ac);
    rc = evs_close(ac.store);
    if (rc < 0 && code == CLI_EXIT_OK)
        code = cli_lib_err("append", rc);
    free_ctx(&ac);
    return code;
}
