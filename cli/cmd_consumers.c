/*
 * cmd_consumers.c - `evstore consumers`: one JSON line per durable consumer of the
 * store, with its checkpoint, how far it lags behind the head, when it last
 * acknowledged, and whether some process has it open now.
 */
#include "cli_common.h"

#include <string.h>
#include <unistd.h>

static const char consumers_help[] =
    "usage: evstore consumers [DIR]\n"
    "\n"
    "List the store's durable consumers (see 'evstore subscribe --consumer'), sorted\n"
    "by name, one JSON object per line:\n"
    "  {\"consumer\":\"billing\",\"checkpoint\":42,\"lag\":3,\n"
    "   \"ack_ts\":\"2026-11-23T12:00:00.000000001Z\",\"open\":false,\n"
    "   \"filter\":{\"category\":\"order\"}}\n"
    "checkpoint is the last acknowledged position saved (0: none yet), lag the number\n"
    "of positions after it up to the head, ack_ts when that acknowledgement was made\n"
    "(null if unknown), open whether a process has the consumer open right now,\n"
    "filter the filters it keeps ({} = every event; fields stream, from_version,\n"
    "types, category, prefix, since, until), null when it keeps none yet (made by an\n"
    "older evstore: its next subscribe's filters become its own).\n"
    "A consumer whose checkpoint cannot be read shows -1 for checkpoint and lag and\n"
    "an \"error\" field; 'evstore consumer reset' repairs it. A consumer whose\n"
    "checkpoint lies in positions a repair declared lost shows its checkpoint and\n"
    "an \"error\" field: it processed events that are gone; reset it.\n"
    "\n"
    "options:\n"
    "  --help, -h         this text\n"
    "\n"
    "DIR defaults to $EVSTORE_DIR. The store is opened read-only and never created.\n"
    "Exit codes: 0 ok, 1 error, 2 usage, 5 corrupt store.\n";

static const cli_optdef consumers_opts[] = {
    {NULL, false, 0},
};

/* Returns an exit code, or -1 for --help. */
static int parse_args(const char **dir_out, int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "consumers", argc, argv);
    const char *dir = NULL;
    int opt;
    while ((opt = cli_parser_next(&p, consumers_opts)) != CLI_OPT_END) {
        if (opt == CLI_OPT_BAD)
            return CLI_EXIT_USAGE;
        if (opt == CLI_OPT_HELP)
            return -1;
        if (dir != NULL)
            return cli_usage("consumers", "unexpected argument '%s'", p.value);
        dir = p.value;
    }
    *dir_out = cli_store_dir("consumers", dir);
    return *dir_out != NULL ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

static int list(evs_store *store)
{
    evs_consumer_iter *it;
    int rc = evs_consumers_open(&it, store);
    if (rc < 0)
        return cli_lib_err("consumers", rc);
    cli_out out;
    if (cli_out_init(&out, STDOUT_FILENO, 64u << 10) < 0) {
        evs_consumers_close(it);
        cli_err("consumers", "out of memory");
        return CLI_EXIT_ERROR;
    }
    evs_consumer_info ci;
    while ((rc = evs_consumers_next(&ci, it)) > 0 && out.err == 0)
        cli_out_consumer(&out, &ci);
    (void)cli_out_flush(&out);
    int code = rc < 0 ? cli_lib_err("consumers", rc) : cli_out_report("consumers", &out);
    cli_out_free(&out);
    evs_consumers_close(it);
    return code;
}

int cli_cmd_consumers(int argc, char **argv)
{
    const char *dir = NULL;
    int code = parse_args(&dir, argc, argv);
    if (code < 0)
        return cli_help(consumers_help);
    if (code != CLI_EXIT_OK)
        return code;
    evs_store *store = cli_open_readonly("consumers", dir, &code);
    if (store != NULL) {
        code = list(store);
        evs_close(store);
    }
    return code;
}
