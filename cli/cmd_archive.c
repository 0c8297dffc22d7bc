/*
 * cmd_archive.c - `evstore archive DIR [--to ADIR] [--older-than AGE] [--keep-size
 * BYTES]`: move sealed segments to the store's archive directory (evs_archive), with
 * one JSON summary line on stdout.
 */
#include "cli_common.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char archive_help[] =
    "usage: evstore archive [DIR] [--to ADIR] [--older-than AGE] [--keep-size BYTES]\n"
    "\n"
    "Move sealed segments of the store to its archive directory (another disk or\n"
    "mount), oldest first. Reads of archived events go on working, for every command\n"
    "and every process, only as fast as the archive's disk. The segment being\n"
    "written never moves; the caches made from segments stay in DIR.\n"
    "Which segments: those sealed longer ago than AGE (--older-than), and all but\n"
    "the newest BYTES of log (--keep-size); with neither, every sealed segment.\n"
    "--to ADIR sets the archive directory and keeps it, with the rules given, as the\n"
    "store's policy: later runs without options (from cron, say) apply it again.\n"
    "Each move copies the segment into ADIR, syncs it, compares it byte for byte\n"
    "and only then removes it from DIR: if it is killed, the segment is in one place\n"
    "or both (then read from DIR, and the next run finishes the move), never lost.\n"
    "stdout gets one line:\n"
    "  {\"ok\":true,\"moved\":N,\"moved_bytes\":N,\"archived\":N,\"archived_bytes\":N,\n"
    "   \"local\":N,\"local_bytes\":N}\n"
    "moved: segments this run moved; archived, local: segments in ADIR and in DIR.\n"
    "\n"
    "options:\n"
    "  --to ADIR           the archive directory (must exist; not DIR itself)\n"
    "  --older-than AGE    a number then s, m, h, d or w (30d: thirty days)\n"
    "  --keep-size BYTES   with K, M, G or T (powers of 1024): 10G keeps the newest\n"
    "                      10 GiB of log in DIR\n"
    "  --help, -h          this text\n"
    "\n"
    "DIR defaults to $EVSTORE_DIR.\n"
    "Exit codes: 0 done, 1 error (the segment being moved stays where it was),\n"
    "2 usage, 4 invalid (no archive directory given or kept, ADIR is DIR, the archive\n"
    "would move while segments are in it), 5 an archived copy differs from its\n"
    "segment (the segment stays in DIR).\n";

enum { OPT_TO, OPT_OLDER_THAN, OPT_KEEP_SIZE };

static const cli_optdef archive_opts[] = {
    [OPT_TO] = {"to", true, 0},
    [OPT_OLDER_THAN] = {"older-than", true, 0},
    [OPT_KEEP_SIZE] = {"keep-size", true, 0},
    {NULL, false, 0},
};

/* AGE: what --since takes after its '-' (cli_parse_time), as a duration in ns. */
static bool parse_age(const char *s, int64_t *out)
{
    char back[64], why[128];
    int64_t t;
    if (strlen(s) + 2 > sizeof back || s[0] == '-' || s[0] == '+')
        return false;
    (void)snprintf(back, sizeof back, "-%s", s);
    if (!cli_parse_time(back, 0, &t, why, sizeof why) || t >= 0)
        return false;
    *out = -t;
    return true;
}

static int print_summary(const evs_archive_report *r)
{
    char line[512];
    int n = snprintf(line, sizeof line,
                     "{\"ok\":true,\"moved\":%lld,\"moved_bytes\":%lld,\"archived\":%lld,"
                     "\"archived_bytes\":%lld,\"local\":%lld,\"local_bytes\":%lld}\n",
                     (long long)r->segments_moved, (long long)r->bytes_moved,
                     (long long)r->segments_archived, (long long)r->bytes_archived,
                     (long long)r->segments_local, (long long)r->bytes_local);
    if (write(STDOUT_FILENO, line, (size_t)n) != n) {
        cli_err("archive", "cannot write to stdout");
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}

int cli_cmd_archive(int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "archive", argc, argv);
    const char *dir = NULL;
    evs_archive_opts opts = EVS_ARCHIVE_OPTS_INIT;
    uint64_t keep;
    int opt;
    while ((opt = cli_parser_next_dir(&p, archive_opts, &dir)) != CLI_OPT_END) {
        if (opt == CLI_OPT_HELP)
            return cli_help(archive_help);
        if (opt == OPT_TO) {
            opts.dir = p.value;
        } else if (opt == OPT_OLDER_THAN) {
            if (!parse_age(p.value, &opts.older_than_ns))
                return cli_usage("archive", "--older-than wants an age such as 30d or 12h, not "
                                            "'%s'",
                                 p.value);
        } else if (opt == OPT_KEEP_SIZE) {
            if (!cli_parse_size(p.value, &keep) || keep > (uint64_t)INT64_MAX)
                return cli_usage("archive", "--keep-size wants bytes such as 10G, not '%s'",
                                 p.value);
            opts.keep_bytes = (int64_t)keep;
        } else {
            return CLI_EXIT_USAGE;
        }
    }
    dir = cli_store_dir("archive", dir);
    if (dir == NULL)
        return CLI_EXIT_USAGE;
    evs_options o = EVS_OPTIONS_INIT;
    cli_created made;
    int code;
    evs_store *store = cli_open_write("archive", dir, &o, false, &made, &code);
    if (store == NULL)
        return code;
    evs_archive_report r;
    int rc = evs_archive(&r, store, &opts);
    code = rc < 0 ? cli_lib_err("archive", rc) : print_summary(&r);
    evs_close(store);
    return code;
}
