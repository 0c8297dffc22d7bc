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
 * This file has the options and the loop that gathers lines into commits; the commits
 * themselves are in append_commit.c.
 */
#include "append.h"
#include "cli_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char append_help[] =
    "usage: evstore append [DIR] [--stream S] [--expected-version V]\n"
    "                      [--wait SECONDS] [--batch N] [--atomic] [--quiet]\n"
    "                      [--sync always|batch|none] [--create]\n"
    "\n"
    "Append events read from standard input, one JSON object per line:\n"
    "  {\"stream\":\"order-1\",\"type\":\"ItemAdded\",\"data\":{\"sku\":\"A1\"}}\n"
    "Fields: stream (a string; may be left out with --stream), type (a string),\n"
    "data (any JSON value, stored byte for byte), and optionally id (a UUID string;\n"
    "appending the same ids again writes nothing and prints each event's original\n"
    "position), metadata (a JSON object) and expected_version (a number, \"any\",\n"
    "\"no_stream\" or \"exists\"). Unknown fields are an error, except pos, version and\n"
    "ts, which the store assigns and which are ignored, so the output of\n"
    "'evstore read' can be appended to another store. Empty lines are skipped.\n"
    "An event whose metadata has a \"subject\" (a string, e.g. {\"subject\":\"user-42\"})\n"
    "has its data stored encrypted under that subject's key, so that 'evstore forget\n"
    "DIR SUBJECT' can erase it later (the README's \"Erasure\").\n"
    "\n"
    "Lines are committed as they come: what is available at once is gathered (up\n"
    "to --batch events or ~4 MiB) and committed atomically, so a slow producer gets\n"
    "every event stored promptly. For each event, after its commit, one line:\n"
    "  {\"pos\":12,\"stream\":\"order-1\",\"version\":3}\n"
    "\n"
    "options:\n"
    "  --stream S             stream for lines without a \"stream\" field\n"
    "  --expected-version V   what the first batch of each stream expects: a\n"
    "                         version, any, no_stream or exists. After a batch that\n"
    "                         expected a version or no_stream, the stream's next\n"
    "                         batch expects exactly the version that batch left,\n"
    "                         so a concurrent writer shows up as a conflict. A\n"
    "                         line's own expected_version overrides for the batch\n"
    "                         it starts (a batch: consecutive lines of a stream).\n"
    "  --wait SECONDS         how long to wait for another process's writer lock;\n"
    "                         0 fails at once with a \"busy\" error. Default: as long\n"
    "                         as it takes.\n"
    "  --batch N              commit at most N events at a time (default 1000)\n"
    "  --atomic               all of the input in one atomic commit, or nothing\n"
    "  --quiet                print no acknowledgements\n"
    "  --create               create the store when DIR holds none (said on stderr;\n"
    "                         removed again when nothing could be stored)\n"
    "  --sync MODE            always (default: synced to disk before it is\n"
    "                         acknowledged), batch (synced every 10 ms), none\n"
    "                         (left to the operating system)\n"
    "  --help, -h             this text\n"
    "\n"
    "On a bad line, the lines before it are committed, then one message on stderr\n"
    "names the line, the field, what is wrong, and which lines were written. If\n"
    "standard output goes away, appending goes on without acknowledgements.\n"
    "DIR defaults to $EVSTORE_DIR; it must hold a store ('evstore init') unless\n"
    "--create is given.\n"
    "Exit codes: 0 ok, 1 error, 2 usage, 3 conflict (expected version), 4 invalid\n"
    "input, 6 id conflict (some of a batch's ids are in its stream already, but not\n"
    "as that batch: only some of them, or in another order).\n";

enum { OPT_STREAM, OPT_EXPECTED, OPT_WAIT, OPT_BATCH, OPT_ATOMIC, OPT_QUIET, OPT_SYNC, OPT_CREATE };

static const cli_optdef append_opts[] = {
    [OPT_STREAM] = {"stream", true, 0},  [OPT_EXPECTED] = {"expected-version", true, 0},
    [OPT_WAIT] = {"wait", true, 0},      [OPT_BATCH] = {"batch", true, 0},
    [OPT_ATOMIC] = {"atomic", false, 0}, [OPT_QUIET] = {"quiet", false, 0},
    [OPT_SYNC] = {"sync", true, 0},      [OPT_CREATE] = {"create", false, 0},
    {NULL, false, 0},
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

static int set_option(ap_opts *o, int opt, const char *v)
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
    case OPT_CREATE:
        o->create = true;
        return CLI_EXIT_OK;
    case OPT_SYNC:
        if (!cli_parse_sync(v, &o->sync))
            return cli_usage("append", "--sync wants always, batch or none, not '%s'", v);
        return CLI_EXIT_OK;
    default:
        return CLI_EXIT_USAGE;
    }
}

/* Returns an exit code, or -1 for --help. */
static int parse_args(ap_opts *o, int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "append", argc, argv);
    const char *dir = NULL;
    bool batch_given = false;
    int opt;
    while ((opt = cli_parser_next_dir(&p, append_opts, &dir)) != CLI_OPT_END) {
        if (opt == CLI_OPT_BAD)
            return CLI_EXIT_USAGE;
        if (opt == CLI_OPT_HELP)
            return -1;
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

/* ---- the read loop ------------------------------------------------------------------ */

static int bad_line(ap_ctx *ac, uint64_t line_no, const ap_bad *bad)
{
    /* The valid lines before the bad one go in first: a bad line stops the input, it
     * does not take the events before it down with it (unless --atomic). */
    int code = ac->o.atomic ? CLI_EXIT_OK : ap_commit(ac);
    if (code != CLI_EXIT_OK)
        return code;
    char written[128];
    ap_written_clause(written, sizeof written, ac->o.atomic ? 1 : line_no);
    if (bad->field[0] != '\0')
        cli_err("append", "line %llu: field \"%s\": %s; %s", (unsigned long long)line_no,
                bad->field, bad->what, written);
    else
        cli_err("append", "line %llu: %s; %s", (unsigned long long)line_no, bad->what, written);
    return CLI_EXIT_INVALID;
}

static int add_line(ap_ctx *ac, size_t off, size_t len)
{
    if (ac->count == ac->cap) {
        size_t cap = ac->cap == 0 ? 256 : ac->cap * 2;
        ap_line *p = realloc(ac->lines, cap * sizeof *p);
        if (p == NULL)
            return ap_report_oom();
        ac->lines = p;
        ac->cap = cap;
    }
    ap_line *l = &ac->lines[ac->count];
    ap_parse_env env = {&ac->names, ac->o.stream, ac->count > 0 ? l - 1 : NULL};
    ap_bad bad = {"", ""};
    int rc = ap_parse_line(l, &env, ac->in.buf.ptr, off, len, &bad);
    l->line_no = ac->in.line_no;
    if (rc == AP_PARSE_BLANK)
        return CLI_EXIT_OK;
    if (rc == AP_PARSE_NOMEM)
        return ap_report_oom();
    if (rc == AP_PARSE_BAD)
        return bad_line(ac, ac->in.line_no, &bad);
    ac->count++;
    ac->line_bytes += len;
    ac->payload_len += l->payload_len;
    if (!ac->o.atomic) {
        if (ac->count >= ac->o.batch_max || ac->line_bytes >= AP_COMMIT_BYTES)
            return ap_commit(ac);
        return CLI_EXIT_OK;
    }
    if (ac->count > EVS_MAX_BATCH_COUNT || ac->payload_len > (uint64_t)(EVS_MAX_BATCH_LEN) ||
        ac->line_bytes > AP_ATOMIC_MAX_INPUT) {
        ap_bad big = {"", ""};
        (void)snprintf(big.what, sizeof big.what,
                       "the input is larger than one atomic append may be (%u events, %u MiB)",
                       EVS_MAX_BATCH_COUNT, EVS_MAX_BATCH_LEN >> 20);
        return bad_line(ac, ac->in.line_no, &big);
    }
    return CLI_EXIT_OK;
}

static int read_error(ap_ctx *ac, int err)
{
    int code = ac->o.atomic ? CLI_EXIT_OK : ap_commit(ac);
    if (code != CLI_EXIT_OK)
        return code;
    char why[256], written[128];
    if (strerror_r(err, why, sizeof why) != 0)
        why[0] = '\0';
    ap_written_clause(written, sizeof written, ac->o.atomic ? 1 : ac->in.line_no + 1);
    cli_err("append", "reading standard input: %s; %s", why, written);
    return CLI_EXIT_ERROR;
}

static int run(ap_ctx *ac)
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
            return ap_commit(ac);
        if (r == AP_TOO_LONG) {
            ap_bad bad = {"", ""};
            (void)snprintf(bad.what, sizeof bad.what, "%s", AP_TOO_LONG_MSG);
            return bad_line(ac, ac->in.line_no + 1, &bad);
        }
        /* Everything buffered is parsed. If the producer has nothing more for us right
         * now, store and acknowledge what we have before waiting for it. */
        if (!ac->o.atomic && ac->count > 0 && !ap_input_ready(&ac->in)) {
            int code = ap_commit(ac);
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
            return err == ENOMEM ? ap_report_oom() : read_error(ac, err);
    }
}

static void free_ctx(ap_ctx *ac)
{
    ap_input_free(&ac->in);
    evs__buf_free(&ac->names);
    ap_streams_free(&ac->streams);
    free(ac->lines);
    cli_scratch_free(&ac->sc);
    cli_out_free(&ac->out);
}

int cli_cmd_append(int argc, char **argv)
{
    ap_ctx ac;
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
    cli_created made;
    ac.store = cli_open_write("append", ac.o.dir, &opts, ac.o.create, &made, &code);
    if (ac.store == NULL)
        return code;
    ap_input_init(&ac.in, STDIN_FILENO);
    if (cli_out_init(&ac.out, STDOUT_FILENO, 256u << 10) < 0)
        code = ap_report_oom();
    else
        code = run(&ac);
    bool empty = evs_head(ac.store) == 0;
    int rc = evs_close(ac.store);
    if (rc < 0 && code == CLI_EXIT_OK)
        code = cli_lib_err("append", rc);
    if (code != CLI_EXIT_OK && empty)
        cli_discard_created("append", ac.o.dir, &made);
    free_ctx(&ac);
    return code;
}
