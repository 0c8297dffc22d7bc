/*
 * cmd_read.c - `evstore read`: print events as NDJSON envelopes, one per line, in
 * position order, optionally filtered by start position, stream and types.
 */
#include "cli_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char read_help[] =
    "usage: evstore read [DIR] [--from POS] [--stream S] [--type T]... [--limit N]\n"
    "\n"
    "Print events as NDJSON, one object per line, in position order:\n"
    "  {\"pos\":1,\"stream\":\"order-1\",\"version\":0,\"id\":\"<uuid>\",\"type\":\"ItemAdded\",\n"
    "   \"ts\":\"2026-11-23T12:00:00.000000001Z\",\"data\":{...},\"metadata\":{...}}\n"
    "data and metadata are printed exactly as they were appended; metadata is left\n"
    "out when the event has none. The output can be fed to 'evstore append'.\n"
    "\n"
    "options:\n"
    "  --from POS     start at the first event with position >= POS\n"
    "  --stream S     only the events of stream S\n"
    "  --type T       only events of type T; give it several times for any of them\n"
    "  --limit N      stop after N events\n"
    "  --help, -h     this text\n"
    "\n"
    "DIR defaults to $EVSTORE_DIR. The store is opened read-only and never created.\n"
    "Exit codes: 0 ok (also when the reader of the output stops early), 1 error,\n"
    "2 usage, 5 corrupt store.\n";

enum { OPT_FROM, OPT_STREAM, OPT_TYPE, OPT_LIMIT };

static const cli_optdef read_opts[] = {
    [OPT_FROM] = {"from", true},
    [OPT_STREAM] = {"stream", true},
    [OPT_TYPE] = {"type", true},
    [OPT_LIMIT] = {"limit", true},
    {NULL, false},
};

struct read_args {
    const char *dir;
    evs_query query;
    const char **types; /* argv strings, so only the array is owned */
    size_t type_count;
    bool limit_zero; /* --limit 0: print nothing (the query's 0 means no limit) */
};

static int parse_args(struct read_args *ra, int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "read", argc, argv);
    const char *dir = NULL;
    int64_t n;
    int opt;
    while ((opt = cli_parser_next(&p, read_opts)) != CLI_OPT_END) {
        switch (opt) {
        case CLI_OPT_BAD:
            return CLI_EXIT_USAGE;
        case CLI_OPT_HELP:
            return -1;
        case CLI_OPT_ARG:
            if (dir != NULL)
                return cli_usage("read", "unexpected argument '%s'", p.value);
            dir = p.value;
            break;
        case OPT_FROM:
            if (!cli_parse_i64(p.value, strlen(p.value), 0, INT64_MAX, &n))
                return cli_usage("read", "--from wants a position >= 0, not '%s'", p.value);
            ra->query.from_pos = n;
            break;
        case OPT_STREAM:
            if (!cli_check_name("read", "--stream", p.value, EVS_MAX_STREAM_LEN))
                return CLI_EXIT_USAGE;
            ra->query.stream = p.value;
            break;
        case OPT_TYPE:
            if (!cli_check_name("read", "--type", p.value, EVS_MAX_TYPE_LEN))
                return CLI_EXIT_USAGE;
            ra->types[ra->type_count++] = p.value;
            break;
        case OPT_LIMIT:
            if (!cli_parse_i64(p.value, strlen(p.value), 0, INT64_MAX, &n))
                return cli_usage("read", "--limit wants a count >= 0, not '%s'", p.value);
            ra->query.limit = (uint64_t)n;
            ra->limit_zero = n == 0;
            break;
        default:
            return CLI_EXIT_USAGE;
        }
    }
    ra->dir = cli_store_dir("read", dir);
    if (ra->dir == NULL)
        return CLI_EXIT_USAGE;
    if (ra->type_count > 0) {
        ra->query.types = ra->types;
        ra->query.type_count = ra->type_count;
    }
    return CLI_EXIT_OK;
}

/* Copy the cursor's events to stdout until the end, an error, or a closed pipe. */
static int print_events(evs_cursor *cur)
{
    cli_out out;
    if (cli_out_init(&out, STDOUT_FILENO, 1u << 20) < 0) {
        cli_err("read", "out of memory");
        return CLI_EXIT_ERROR;
    }
    evs_event ev;
    int rc;
    while ((rc = evs_cursor_next(cur, &ev)) > 0) {
        if (cli_out_event(&out, &ev) < 0)
            break;
    }
    /* On damage, what was read before it is still printed, then where it is. */
    (void)cli_out_flush(&out);
    int code = rc < 0 ? cli_lib_err("read", rc) : cli_out_report("read", &out);
    cli_out_free(&out);
    return code;
}

int cli_cmd_read(int argc, char **argv)
{
    evs_query q = EVS_QUERY_INIT;
    struct read_args ra = {.dir = NULL, .query = q, .types = NULL, .type_count = 0};
    /* At most one --type per argument, so argc bounds the array. */
    ra.types = calloc((size_t)argc, sizeof *ra.types);
    if (ra.types == NULL) {
        cli_err("read", "out of memory");
        return CLI_EXIT_ERROR;
    }
    int code = parse_args(&ra, argc, argv);
    if (code < 0) {
        free(ra.types);
        return cli_help(read_help);
    }
    if (code != CLI_EXIT_OK) {
        free(ra.types);
        return code;
    }
    evs_store *store = cli_open_readonly("read", ra.dir, &code);
    if (store != NULL) {
        evs_cursor *cur = NULL;
        int rc = ra.limit_zero ? 0 : evs_cursor_open(&cur, store, &ra.query);
        if (rc < 0)
            code = cli_lib_err("read", rc);
        else if (cur != NULL)
            code = print_events(cur);
        evs_cursor_close(cur);
        evs_close(store);
    }
    free(ra.types);
    return code;
}
