/*
 * cmd_read.c - `evstore read`: print events as NDJSON envelopes, one per line, in
 * position order (or backwards), filtered by position range, stream and version, types,
 * category, prefix and time; or only their data, or only how many there are.
 */
#include "cli_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char read_help[] =
    "usage: evstore read [DIR] [FILTERS] [--data-only | --count]\n"
    "\n"
    "Print events as NDJSON, one object per line, in position order:\n"
    "  {\"pos\":1,\"stream\":\"order-1\",\"version\":0,\"id\":\"<uuid>\",\"type\":\"ItemAdded\",\n"
    "   \"ts\":\"2026-11-23T12:00:00.000000001Z\",\"data\":{...},\"metadata\":{...}}\n"
    "data and metadata are printed exactly as they were appended; metadata is left\n"
    "out when the event has none. The output can be fed to 'evstore append'.\n"
    "\n"
    "filters (all combine with AND):\n" CLI_FILTER_RANGE_HELP CLI_FILTER_SEL_HELP "\n"
    "output:\n"
    "  --data-only        print only each event's data, one per line\n"
    "  --count            print only {\"count\":N}, the number of matching events\n"
    "  --help, -h         this text\n"
    "\n"
    "DIR defaults to $EVSTORE_DIR. The store is opened read-only and never created.\n"
    "Exit codes: 0 ok (also when the reader of the output stops early), 1 error,\n"
    "2 usage, 5 corrupt store.\n";

enum { OPT_DATA_ONLY = CLI_F_COUNT, OPT_COUNT };

static const cli_optdef read_opts[] = {
    CLI_FILTER_SEL_OPTDEFS,
    CLI_FILTER_RANGE_OPTDEFS,
    [OPT_DATA_ONLY] = {"data-only", false, 0},
    [OPT_COUNT] = {"count", false, 0},
    {NULL, false, 0},
};

enum print_mode { PRINT_EVENTS, PRINT_DATA, PRINT_COUNT };

struct read_args {
    const char *dir;
    cli_filter filter;
    enum print_mode mode;
};

/* --data-only or --count. */
static int set_option(void *ctx, int opt, const char *value)
{
    (void)value;
    struct read_args *ra = ctx;
    enum print_mode m = opt == OPT_COUNT ? PRINT_COUNT : PRINT_DATA;
    if (ra->mode != PRINT_EVENTS && ra->mode != m)
        return cli_usage("read", "--data-only and --count exclude each other");
    ra->mode = m;
    return CLI_EXIT_OK;
}

/* Returns an exit code, or -1 for --help. */
static int parse_args(struct read_args *ra, int argc, char **argv)
{
    return cli_filter_parse_args(&ra->filter, &ra->dir, "read", read_opts, CLI_F_COUNT, argc,
                                 argv, set_option, ra);
}

/* Copy the cursor's events (or their data, or their number) to stdout until the end,
 * an error, or a closed pipe. cur is NULL when nothing can match (--limit 0). */
static int print_events(evs_cursor *cur, enum print_mode mode)
{
    cli_out out;
    if (cli_out_init(&out, STDOUT_FILENO, 1u << 20) < 0) {
        cli_err("read", "out of memory");
        return CLI_EXIT_ERROR;
    }
    evs_event ev;
    int rc = 0;
    int64_t count = 0;
    while (cur != NULL && (rc = evs_cursor_next(&ev, cur)) > 0) {
        count++;
        if (mode == PRINT_EVENTS && cli_out_event(&out, &ev) < 0)
            break;
        if (mode == PRINT_DATA) {
            (void)cli_out_write(&out, ev.data, ev.data_len);
            if (cli_out_write(&out, "\n", 1) < 0)
                break;
        }
    }
    if (mode == PRINT_COUNT && rc >= 0) {
        (void)cli_out_str(&out, "{\"count\":");
        (void)cli_out_i64(&out, count);
        (void)cli_out_str(&out, "}\n");
    }
    /* On damage, what was read before it is still printed, then where it is. */
    (void)cli_out_flush(&out);
    int code = rc < 0 ? cli_lib_err("read", rc) : cli_out_report("read", &out);
    cli_out_free(&out);
    return code;
}

int cli_cmd_read(int argc, char **argv)
{
    struct read_args ra = {.dir = NULL, .mode = PRINT_EVENTS};
    if (cli_filter_init(&ra.filter, "read", argc) != CLI_EXIT_OK)
        return CLI_EXIT_ERROR;
    int code = parse_args(&ra, argc, argv);
    if (code < 0)
        code = cli_help(read_help);
    else if (code == CLI_EXIT_OK) {
        evs_store *store = cli_open_readonly("read", ra.dir, &code);
        if (store != NULL) {
            evs_cursor *cur = NULL;
            int rc = ra.filter.limit_zero ? 0 : evs_cursor_open(&cur, store, &ra.filter.query);
            code = rc < 0 ? cli_lib_err("read", rc) : print_events(cur, ra.mode);
            evs_cursor_close(cur);
            evs_close(store);
        }
    }
    cli_filter_free(&ra.filter);
    return code;
}
