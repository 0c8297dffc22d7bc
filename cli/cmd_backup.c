/*
 * cmd_backup.c - `evstore backup DIR DEST`: a consistent copy of a store while it is in
 * use (evs_backup), verified, with one JSON summary line on stdout.
 */
#include "cli_common.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char backup_help[] =
    "usage: evstore backup DIR DEST [--copy]\n"
    "\n"
    "Copy the store in DIR to the directory DEST while writers and readers go on.\n"
    "The backup holds every event up to the position committed when it starts, and\n"
    "nothing after. Sealed segments never change: they are hard-linked when DEST is\n"
    "on the store's file system, copied otherwise; the segment being written is\n"
    "copied up to that position. Run it again with the same DEST for an incremental\n"
    "backup: segments the earlier backup holds whole are kept, only new segments\n"
    "and the active one are taken. The new backup is built beside DEST, opened and\n"
    "verified (every checksum, as 'evstore verify'), and then swapped for DEST in\n"
    "one rename: if it is killed, DEST still holds the earlier backup, whole.\n"
    "DEST then opens as a store ('evstore read DEST'); its file 'backup' names the\n"
    "position. Durable consumers' checkpoints are copied too.\n"
    "\n"
    "DEST must be missing, an empty directory, or an earlier backup of this store;\n"
    "not a mount point (name a directory inside it), and not open as a store.\n"
    "stdout gets one line:\n"
    "  {\"ok\":true,\"pos\":N,\"prev_pos\":N,\"segments\":N,\"kept\":N,\"linked\":N,\n"
    "   \"copied\":N,\"bytes_copied\":N,\"bytes\":N,\"events_verified\":N,\"seconds\":S}\n"
    "pos: the backup's last position; prev_pos: the earlier backup's (0: none);\n"
    "kept, linked, copied: segments taken from the earlier backup, hard-linked from\n"
    "the store, copied from it.\n"
    "\n"
    "options:\n"
    "  --copy         copy every segment, never hard-link: the backup shares no disk\n"
    "                 blocks with the store (a hard link survives the store's files\n"
    "                 being deleted, not the disk failing)\n"
    "  --help, -h     this text\n"
    "\n"
    "DIR defaults to $EVSTORE_DIR when only DEST is given.\n"
    "Exit codes: 0 done, 1 error (nothing in DEST changed), 2 usage, 4 DEST unfit\n"
    "(a file, a non-empty directory that is no backup, a mount point), 5 the store\n"
    "is damaged (the backup failed verification; DEST unchanged).\n";

enum { OPT_COPY };

static const cli_optdef backup_opts[] = {
    [OPT_COPY] = {"copy", false, 0},
    {NULL, false, 0},
};

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int print_summary(const evs_backup_report *r, double seconds)
{
    cli_out out;
    if (cli_out_init(&out, STDOUT_FILENO, 4096) < 0) {
        cli_err("backup", "out of memory");
        return CLI_EXIT_ERROR;
    }
    const struct {
        const char *key;
        int64_t v;
    } f[] = {{"{\"ok\":true,\"pos\":", r->pos},
             {",\"prev_pos\":", r->prev_pos},
             {",\"segments\":", r->segments},
             {",\"kept\":", r->segments_kept},
             {",\"linked\":", r->segments_linked},
             {",\"copied\":", r->segments_copied},
             {",\"bytes_copied\":", r->bytes_copied},
             {",\"bytes\":", r->bytes_total},
             {",\"events_verified\":", r->events_verified}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        (void)cli_out_str(&out, f[i].key);
        (void)cli_out_i64(&out, f[i].v);
    }
    char secs[48];
    (void)snprintf(secs, sizeof secs, ",\"seconds\":%.3f}\n", seconds);
    (void)cli_out_str(&out, secs);
    (void)cli_out_flush(&out);
    int code = cli_out_report("backup", &out);
    cli_out_free(&out);
    return code;
}

int cli_cmd_backup(int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "backup", argc, argv);
    const char *args[2] = {NULL, NULL};
    int nargs = 0;
    evs_backup_opts opts = EVS_BACKUP_OPTS_INIT;
    int opt;
    while ((opt = cli_parser_next(&p, backup_opts)) != CLI_OPT_END) {
        if (opt == CLI_OPT_HELP)
            return cli_help(backup_help);
        if (opt == CLI_OPT_ARG) {
            if (nargs == 2)
                return cli_usage("backup", "unexpected argument '%s'", p.value);
            args[nargs++] = p.value;
        } else if (opt == OPT_COPY) {
            opts.flags |= EVS_BACKUP_COPY;
        } else {
            return CLI_EXIT_USAGE;
        }
    }
    if (nargs == 0)
        return cli_usage("backup", "DEST is missing");
    const char *dest = args[nargs - 1];
    const char *dir = cli_store_dir("backup", nargs == 2 ? args[0] : NULL);
    if (dir == NULL)
        return CLI_EXIT_USAGE;

    int code;
    evs_store *store = cli_open_readonly("backup", dir, &code);
    if (store == NULL)
        return code;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    evs_backup_report r;
    int rc = evs_backup(&r, store, dest, &opts);
    code = rc < 0 ? cli_lib_err("backup", rc) : print_summary(&r, seconds_since(&t0));
    evs_close(store);
    return code;
}
