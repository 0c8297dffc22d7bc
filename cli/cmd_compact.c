/*
 * cmd_compact.c - `evstore compact`: compress the store's sealed segments with zstd
 * (evs_compact) and print what it did as one JSON line.
 */
#include "cli_common.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char compact_help[] =
    "usage: evstore compact [DIR] [--keep N]\n"
    "\n"
    "Compress the store's sealed segments with zstd, each into independent frames of\n"
    "64 KiB so that a read decompresses only what it touches. Reads, subscriptions,\n"
    "consumers, export and verify work the same afterwards. The segment appends go to\n"
    "is never compressed. Writers and readers may run meanwhile; a crash at any moment\n"
    "leaves each segment whole, plain or compressed. A segment's records are checked\n"
    "first: a damaged segment is left plain (and named on stderr), the others are\n"
    "still compressed. stdout gets one summary line:\n"
    "  {\"compressed\":N,\"already\":N,\"damaged\":N,\"plain_bytes\":N,\n"
    "   \"compressed_bytes\":N}\n"
    "A writer can do the same in the background: the option compress_after of\n"
    "evs_open (see the README, \"Compression\").\n"
    "\n"
    "options:\n"
    "  --keep N       leave the newest N sealed segments plain (default 0)\n"
    "  --help, -h     this text\n"
    "\n"
    "DIR defaults to $EVSTORE_DIR.\n"
    "Exit codes: 0 done, 5 a segment was left plain for damage, 1 other errors (e.g. no\n"
    "store there, read-only), 2 usage.\n";

enum { OPT_KEEP };

static const cli_optdef compact_opts[] = {
    [OPT_KEEP] = {"keep", true, 0},
    {NULL, false, 0},
};

static int print_summary(const evs_compact_report *r)
{
    cli_out out;
    if (cli_out_init(&out, STDOUT_FILENO, 512) < 0) {
        cli_err("compact", "out of memory");
        return CLI_EXIT_ERROR;
    }
    (void)cli_out_str(&out, "{\"compressed\":");
    (void)cli_out_i64(&out, r->segments);
    (void)cli_out_str(&out, ",\"already\":");
    (void)cli_out_i64(&out, r->already);
    (void)cli_out_str(&out, ",\"damaged\":");
    (void)cli_out_i64(&out, r->damaged);
    (void)cli_out_str(&out, ",\"plain_bytes\":");
    (void)cli_out_i64(&out, r->plain_bytes);
    (void)cli_out_str(&out, ",\"compressed_bytes\":");
    (void)cli_out_i64(&out, r->compressed_bytes);
    (void)cli_out_str(&out, "}\n");
    (void)cli_out_flush(&out);
    int code = cli_out_report("compact", &out);
    cli_out_free(&out);
    return code;
}

int cli_cmd_compact(int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "compact", argc, argv);
    const char *dir = NULL;
    int64_t keep = 0;
    int opt;
    while ((opt = cli_parser_next_dir(&p, compact_opts, &dir)) != CLI_OPT_END) {
        if (opt == CLI_OPT_HELP)
            return cli_help(compact_help);
        if (opt != OPT_KEEP)
            return CLI_EXIT_USAGE;
        if (!cli_parse_i64(p.value, strlen(p.value), 0, 1000000000, &keep))
            return cli_usage("compact", "--keep wants a count from 0, not '%s'", p.value);
    }
    dir = cli_store_dir("compact", dir);
    if (dir == NULL)
        return CLI_EXIT_USAGE;
    int code;
    evs_options opts = EVS_OPTIONS_INIT;
    opts.flags = EVS_OPEN_NOCREATE;
    evs_store *store = NULL;
    int rc = evs_open(&store, dir, &opts);
    if (rc == EVS_ENOTFOUND) {
        cli_err("compact", "there is no store in '%s'", dir);
        return CLI_EXIT_ERROR;
    }
    if (rc < 0)
        return cli_lib_err("compact", rc);
    evs_compact_report report;
    rc = evs_compact(store, (unsigned int)keep, &report);
    if (rc < 0 && rc != EVS_ECORRUPT) {
        code = cli_lib_err("compact", rc);
    } else {
        if (rc == EVS_ECORRUPT)
            cli_err("compact", "%s", evs_errmsg());
        code = print_summary(&report);
        if (code == CLI_EXIT_OK && rc == EVS_ECORRUPT)
            code = CLI_EXIT_CORRUPT;
    }
    evs_close(store);
    return code;
}
