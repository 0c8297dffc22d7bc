/*
 * cmd_stat.c - `evstore stat`: the store's figures (evs_stat) as one JSON object.
 */
#include "cli_common.h"

#include <unistd.h>

static const char stat_help[] =
    "usage: evstore stat [DIR]\n"
    "\n"
    "Print the store's figures as one JSON object on one line:\n"
    "  events, streams, segments, bytes (of the segment files up to the log's end:\n"
    "  headers, records and their padding), first_pos, last_pos (0 when empty),\n"
    "  first_ts, last_ts (RFC 3339 UTC, null when empty), segment_size (the store's,\n"
    "  in bytes) and lost_positions (positions a repair declared lost: no event has\n"
    "  them; events leaves them out), as the library reports them. The sync mode is\n"
    "  not a property of the store but of each handle that appends (append --sync).\n"
    "  A last_ts ahead of this machine's clock gets a warning on stderr: new events\n"
    "  are stamped with it until the clock passes it.\n"
    "\n"
    "stat takes constant time: its figures come from the head page, the stream index\n"
    "and the segment files' names and sizes, not from reading the events. So it does\n"
    "not find damage inside the log (a flipped byte in an event is still counted, and\n"
    "exit 0); it fails (exit 5) only when what it reads is damaged (the records it\n"
    "indexes past the stream index's last run, the first event, the lost file). To\n"
    "know whether every event is intact, run 'evstore verify'.\n"
    "\n"
    "options:\n"
    "  --help, -h     this text\n"
    "\n"
    "DIR defaults to $EVSTORE_DIR. The store is opened read-only and never created.\n"
    "\n"
    "Exit codes: 0 ok, 1 error, 2 usage, 5 corrupt store.\n";

static const cli_optdef stat_opts[] = {{NULL, false, 0}};

static int print_stat(const evs_stat_info *st)
{
    cli_out out;
    if (cli_out_init(&out, STDOUT_FILENO, 4096) < 0) {
        cli_err("stat", "out of memory");
        return CLI_EXIT_ERROR;
    }
    cli_out_stat(&out, st);
    (void)cli_out_flush(&out);
    int code = cli_out_report("stat", &out);
    cli_out_free(&out);
    return code;
}

int cli_cmd_stat(int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "stat", argc, argv);
    const char *dir = NULL;
    int opt;
    while ((opt = cli_parser_next(&p, stat_opts)) != CLI_OPT_END) {
        if (opt == CLI_OPT_HELP)
            return cli_help(stat_help);
        if (opt != CLI_OPT_ARG)
            return CLI_EXIT_USAGE;
        if (dir != NULL)
            return cli_usage("stat", "unexpected argument '%s'", p.value);
        dir = p.value;
    }
    dir = cli_store_dir("stat", dir);
    if (dir == NULL)
        return CLI_EXIT_USAGE;

    int code;
    evs_store *store = cli_open_readonly("stat", dir, &code);
    if (store == NULL)
        return code;
    evs_stat_info st;
    int rc = evs_stat(&st, store);
    code = rc < 0 ? cli_lib_err("stat", rc) : print_stat(&st);
    if (rc == 0 && st.event_count > 0)
        cli_warn_future_ts("stat", st.last_ts_ns);
    evs_close(store);
    return code;
}
