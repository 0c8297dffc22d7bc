/*
 * cmd_backup.c - `evstore backup DIR DEST`: a consistent copy of a store while it is in
 * use (evs_backup), verified, with one JSON summary line on stdout; or, with
 * --to-stdout, the same backup as a tar stream.
 */
#include "cli_common.h"
#include "tar_writer.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char backup_help[] =
    "usage: evstore backup DIR DEST [--copy]\n"
    "       evstore backup DIR --to-stdout >FILE.tar\n"
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
    "  --to-stdout    write the backup to stdout as a tar archive (POSIX ustar) of\n"
    "                 one folder named as DIR, instead of into DEST: it is made,\n"
    "                 hard-linked and verified, in a temporary folder beside DIR,\n"
    "                 then streamed and removed. 'tar -x' gives a store that opens.\n"
    "                 Refused when stdout is a terminal.\n"
    "  --help, -h     this text\n"
    "\n"
    "DIR defaults to $EVSTORE_DIR when only DEST is given.\n"
    "Exit codes: 0 done, 1 error (nothing in DEST changed), 2 usage, 4 DEST unfit\n"
    "(a file, a non-empty directory that is no backup, a mount point), 5 the store\n"
    "is damaged (the backup failed verification; DEST unchanged).\n";

enum { OPT_COPY, OPT_TO_STDOUT };

static const cli_optdef backup_opts[] = {
    [OPT_COPY] = {"copy", false, 0},
    [OPT_TO_STDOUT] = {"to-stdout", false, 0},
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

/* Remove the temporary backup made for --to-stdout: files, and folders one level down. */
static void remove_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[8192];
    while (d && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        (void)snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) < 0 && depth > 0)
            remove_tree(path, depth - 1);
    }
    if (d)
        closedir(d);
    char why[256] = "";
    if (rmdir(dir) < 0 && errno != ENOENT && strerror_r(errno, why, sizeof why) == 0)
        cli_err("backup", "cannot remove the temporary backup '%s': %s", dir, why);
}

/* --to-stdout: the backup in a temporary folder beside the store, as a tar stream. */
static int backup_to_stdout(evs_store *store, const char *dir, const evs_backup_opts *opts)
{
    if (isatty(STDOUT_FILENO))
        return cli_usage("backup", "--to-stdout writes a tar archive: redirect stdout to a file "
                                   "or a pipe");
    char parent[4096], tmp[4400];
    (void)snprintf(parent, sizeof parent, "%s", dir);
    size_t len = strlen(parent);
    while (len > 1 && parent[len - 1] == '/')
        parent[--len] = '\0';
    char *slash = strrchr(parent, '/');
    const char *base = slash ? slash + 1 : parent;
    char top[256];
    if (strlen(base) >= sizeof top)
        return cli_usage("backup", "--to-stdout: the store's folder name is too long");
    memcpy(top, base, strlen(base) + 1);
    if (!top[0] || !strcmp(top, ".") || !strcmp(top, ".."))
        (void)snprintf(top, sizeof top, "store");
    if (slash == parent)
        (void)snprintf(tmp, sizeof tmp, "/.%s.evstore-tar-%ld", top, (long)getpid());
    else if (slash) {
        *slash = '\0';
        (void)snprintf(tmp, sizeof tmp, "%s/.%s.evstore-tar-%ld", parent, top, (long)getpid());
    } else {
        (void)snprintf(tmp, sizeof tmp, ".%s.evstore-tar-%ld", top, (long)getpid());
    }
    evs_backup_report r;
    int rc = evs_backup(&r, store, tmp, opts);
    if (rc < 0)
        return cli_lib_err("backup", rc);
    char why[512];
    int code = CLI_EXIT_OK;
    if (tar_write_dir(STDOUT_FILENO, tmp, top, why, sizeof why) < 0) {
        cli_err("backup", "%s", why);
        code = CLI_EXIT_ERROR;
    }
    remove_tree(tmp, 1);
    return code;
}

int cli_cmd_backup(int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "backup", argc, argv);
    const char *args[2] = {NULL, NULL};
    int nargs = 0;
    evs_backup_opts opts = EVS_BACKUP_OPTS_INIT;
    bool to_stdout = false;
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
        } else if (opt == OPT_TO_STDOUT) {
            to_stdout = true;
        } else {
            return CLI_EXIT_USAGE;
        }
    }
    if (to_stdout && nargs == 2)
        return cli_usage("backup", "--to-stdout takes no DEST");
    if (nargs == 0 && !to_stdout)
        return cli_usage("backup", "DEST is missing");
    const char *dest = to_stdout ? NULL : args[nargs - 1];
    const char *dir =
        cli_store_dir("backup", nargs == 2 || (to_stdout && nargs == 1) ? args[0] : NULL);
    if (dir == NULL)
        return CLI_EXIT_USAGE;

    int code;
    evs_store *store = cli_open_readonly("backup", dir, &code);
    if (store == NULL)
        return code;
    if (to_stdout) {
        code = backup_to_stdout(store, dir, &opts);
        evs_close(store);
        return code;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    evs_backup_report r;
    int rc = evs_backup(&r, store, dest, &opts);
    code = rc < 0 ? cli_lib_err("backup", rc) : print_summary(&r, seconds_since(&t0));
    evs_close(store);
    return code;
}
