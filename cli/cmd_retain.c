/*
 * cmd_retain.c - `evstore retain` (drop the oldest sealed segments by age or total
 * size) and `evstore discard` (drop those every durable consumer has acknowledged).
 * Both need the store to themselves, as repair does (evstore.h, evs_retain).
 */
#include "cli_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char retain_help[] =
    "usage: evstore retain [DIR] [--max-age SPAN] [--max-size BYTES] [--dry-run]\n"
    "\n"
    "Drop the oldest sealed segments (whole files of events), oldest first: those whose\n"
    "newest event is older than SPAN, and then as many as it takes to bring the log's\n"
    "files down to BYTES. The segment being written stays. Positions never change: the\n"
    "log starts later, reads begin at its new start, and a stream whose first events\n"
    "went reads from its first kept version. Prints\n"
    "  {\"segments_dropped\":N,\"bytes_dropped\":N,\"old_start\":POS,\"new_start\":POS}\n"
    "\n"
    "options:\n"
    "  --max-age SPAN     a number and a unit: s, m, h, d or w (30d)\n"
    "  --max-size BYTES   with an optional K, M, G or T suffix (10G)\n"
    "  --dry-run          say what would be dropped; change nothing\n"
    "  --help, -h         this text\n"
    "\n"
    "It needs the store to itself: it fails with exit code 1 (busy) while any process\n"
    "has it open, readers included. A crash at any moment leaves the old start with\n"
    "every segment, or the new one. DIR defaults to $EVSTORE_DIR.\n"
    "Exit codes: 0 ok, 1 error (busy, no store), 2 usage, 5 corrupt store.\n";

static const char discard_help[] =
    "usage: evstore discard [DIR] [--consumer NAME]... [--dry-run]\n"
    "\n"
    "Drop the sealed segments whose events every durable consumer has acknowledged\n"
    "(with --consumer, every one named), oldest first, as 'evstore retain' drops them.\n"
    "Prints what retain prints.\n"
    "\n"
    "options:\n"
    "  --consumer NAME    count only this consumer's checkpoint; repeat it for several\n"
    "  --dry-run          say what would be dropped; change nothing\n"
    "  --help, -h         this text\n"
    "\n"
    "It needs the store to itself, as retain does. DIR defaults to $EVSTORE_DIR.\n"
    "Exit codes: 0 ok, 1 error (busy, no store, a named consumer missing), 2 usage,\n"
    "4 invalid (the store has no durable consumer), 5 corrupt store or checkpoint.\n";

/* What an option does, whichever command's table it comes from. */
enum { OPT_MAX_AGE, OPT_MAX_SIZE, OPT_DRY_RUN, OPT_CONSUMER };

static const cli_optdef retain_opts[] = {
    {"max-age", true, 0},
    {"max-size", true, 0},
    {"dry-run", false, 0},
    {NULL, false, 0},
};
static const int retain_ids[] = {OPT_MAX_AGE, OPT_MAX_SIZE, OPT_DRY_RUN};

static const cli_optdef discard_opts[] = {
    {"consumer", true, 0},
    {"dry-run", false, 0},
    {NULL, false, 0},
};
static const int discard_ids[] = {OPT_CONSUMER, OPT_DRY_RUN};

struct retain_args {
    const char *dir;
    evs_retain_opts opts;
    const char **consumers;
    size_t consumer_count;
};

static int parse_value(const char *cmd, int opt, const char *v, struct retain_args *ra)
{
    char why[128];
    uint64_t bytes;
    switch (opt) {
    case OPT_MAX_AGE:
        if (!cli_parse_duration(v, &ra->opts.max_age_ns, why, sizeof why))
            return cli_usage(cmd, "--max-age '%s': %s", v, why);
        if (ra->opts.max_age_ns <= 0)
            return cli_usage(cmd, "--max-age '%s' is no time at all", v);
        return CLI_EXIT_OK;
    case OPT_MAX_SIZE:
        if (!cli_parse_size(v, &bytes))
            return cli_usage(cmd, "--max-size '%s' is not a size (1 or more bytes, K, M, G, T)",
                             v);
        ra->opts.max_bytes = (int64_t)bytes;
        return CLI_EXIT_OK;
    case OPT_DRY_RUN:
        ra->opts.flags |= EVS_RETAIN_DRY_RUN;
        return CLI_EXIT_OK;
    case OPT_CONSUMER:
        ra->consumers[ra->consumer_count++] = v;
        return CLI_EXIT_OK;
    default:
        return CLI_EXIT_USAGE;
    }
}

/* Returns an exit code, or -1 for --help. */
static int parse_args(const char *cmd, const cli_optdef *defs, const int *ids,
                      struct retain_args *ra, int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, cmd, argc, argv);
    const char *dir = NULL;
    int opt, code;
    while ((opt = cli_parser_next_dir(&p, defs, &dir)) != CLI_OPT_END) {
        if (opt == CLI_OPT_HELP)
            return -1;
        if (opt < 0 || (code = parse_value(cmd, ids[opt], p.value, ra)) != CLI_EXIT_OK)
            return opt < 0 ? CLI_EXIT_USAGE : code;
    }
    ra->dir = cli_store_dir(cmd, dir);
    return ra->dir != NULL ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

static int print_report(const char *cmd, const evs_retain_report *r, bool dry)
{
    if (printf("{\"segments_dropped\":%" PRId64 ",\"bytes_dropped\":%" PRId64
               ",\"old_start\":%" PRId64 ",\"new_start\":%" PRId64 "%s}\n",
               r->segments_dropped, r->bytes_dropped, r->old_start, r->new_start,
               dry ? ",\"dry_run\":true" : "") < 0 ||
        fflush(stdout) != 0) {
        cli_err(cmd, "cannot write the report");
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}

int cli_cmd_retain(int argc, char **argv)
{
    struct retain_args ra = {NULL, EVS_RETAIN_OPTS_INIT, NULL, 0};
    int code = parse_args("retain", retain_opts, retain_ids, &ra, argc, argv);
    if (code < 0)
        return cli_help(retain_help);
    if (code != CLI_EXIT_OK)
        return code;
    if (!ra.opts.max_age_ns && !ra.opts.max_bytes)
        return cli_usage("retain", "give --max-age or --max-size (or both)");
    evs_retain_report rep;
    int rc = evs_retain(&rep, ra.dir, &ra.opts);
    if (rc < 0)
        return cli_lib_err("retain", rc);
    return print_report("retain", &rep, (ra.opts.flags & EVS_RETAIN_DRY_RUN) != 0);
}

int cli_cmd_discard(int argc, char **argv)
{
    const char *names[256];
    struct retain_args ra = {NULL, EVS_RETAIN_OPTS_INIT, names, 0};
    int consumers = 0;
    for (int i = 1; i < argc; i++)
        consumers += strncmp(argv[i], "--consumer", 10) == 0;
    if (consumers > 256)
        return cli_usage("discard", "at most 256 --consumer options");
    int code = parse_args("discard", discard_opts, discard_ids, &ra, argc, argv);
    if (code < 0)
        return cli_help(discard_help);
    if (code != CLI_EXIT_OK)
        return code;
    evs_retain_report rep;
    int rc = evs_discard(&rep, ra.dir, ra.consumers, ra.consumer_count, ra.opts.flags);
    if (rc < 0)
        return cli_lib_err("discard", rc);
    return print_report("discard", &rep, (ra.opts.flags & EVS_RETAIN_DRY_RUN) != 0);
}
