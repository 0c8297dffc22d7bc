/*
 * cmd_init.c - `evstore init`: create a new, empty store, refusing to touch an existing
 * store or a directory that holds anything else.
 *
 * The commands that write (append, import) create a missing store only when given
 * --create, so that a typo in a path is an error; init is the usual way to make one,
 * with a chosen segment size (a store remembers the size it was created with).
 */
#include "cli_common.h"

#include <string.h>
#include <unistd.h>

static const char init_help[] =
    "usage: evstore init [DIR] [--segment-size BYTES] [--sync always|batch|none]\n"
    "\n"
    "Create an empty store in DIR (the directory is created when missing) and print\n"
    "  {\"created\":\"DIR\"}\n"
    "It refuses, changing nothing, when DIR already holds a store, or is not empty.\n"
    "\n"
    "options:\n"
    "  --segment-size BYTES   size of the store's segment files, from 65536 (64 KiB)\n"
    "                         to 1073741824 (1 GiB); a suffix K, M or G multiplies\n"
    "                         by 1024s. The store keeps it. Default 64M.\n"
    "  --sync MODE            how the creation is synced: always (default), batch or\n"
    "                         none. A store does not keep a sync mode: each command\n"
    "                         that writes chooses its own (append --sync).\n"
    "  --help, -h             this text\n"
    "\n"
    "DIR may also be sqlite:PATH: the store's tables in the SQLite database file PATH\n"
    "(made when missing; the database may hold other tables), or\n"
    "postgresql://USER@HOST:PORT/DB?schema=NAME: the store's tables in schema NAME\n"
    "of a PostgreSQL database (any libpq URI; the schema made when missing). There\n"
    "--segment-size does not apply. DIR defaults to $EVSTORE_DIR.\n"
    "Exit codes: 0 created, 1 error (also: already a store, or not empty), 2 usage.\n";

enum { OPT_SEGMENT_SIZE, OPT_SYNC };

static const cli_optdef init_opts[] = {
    [OPT_SEGMENT_SIZE] = {"segment-size", true, 0},
    [OPT_SYNC] = {"sync", true, 0},
    {NULL, false, 0},
};

/* Returns an exit code, or -1 for --help. */
static int parse_args(const char **dir_out, evs_options *opts, int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "init", argc, argv);
    const char *dir = NULL;
    int opt;
    while ((opt = cli_parser_next(&p, init_opts)) != CLI_OPT_END) {
        switch (opt) {
        case CLI_OPT_HELP:
            return -1;
        case CLI_OPT_ARG:
            if (dir != NULL)
                return cli_usage("init", "unexpected argument '%s'", p.value);
            dir = p.value;
            break;
        case OPT_SEGMENT_SIZE:
            if (!cli_parse_size(p.value, &opts->segment_size) || opts->segment_size < (64u << 10) ||
                opts->segment_size > (1u << 30))
                return cli_usage("init",
                                 "--segment-size wants 64K to 1G bytes (65536 to "
                                 "1073741824), not '%s'",
                                 p.value);
            break;
        case OPT_SYNC:
            if (!cli_parse_sync(p.value, &opts->sync_mode))
                return cli_usage("init", "--sync wants always, batch or none, not '%s'", p.value);
            break;
        default:
            return CLI_EXIT_USAGE;
        }
    }
    *dir_out = cli_store_dir("init", dir);
    return *dir_out != NULL ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

int cli_cmd_init(int argc, char **argv)
{
    const char *dir = NULL;
    evs_options opts = EVS_OPTIONS_INIT;
    opts.flags = EVS_OPEN_EXCLUSIVE_CREATE;
    int code = parse_args(&dir, &opts, argc, argv);
    if (code < 0)
        return cli_help(init_help);
    if (code != CLI_EXIT_OK)
        return code;
    evs_store *store;
    int rc = evs_open(&store, dir, &opts);
    /* The library's messages already say what is there and that nothing was done:
     * "a store already exists at 'd'", "'d' is not an evstore store (no meta) and is
     * not empty (it holds 'x'); refusing to create a store there". */
    if (rc < 0)
        return cli_lib_err("init", rc);
    rc = evs_close(store);
    if (rc < 0)
        return cli_lib_err("init", rc);
    cli_out out;
    if (cli_out_init(&out, STDOUT_FILENO, 4096 + strlen(dir) * 6) < 0) {
        cli_err("init", "out of memory");
        return CLI_EXIT_ERROR;
    }
    (void)cli_out_str(&out, "{\"created\":");
    (void)cli_out_json_str(&out, dir, strlen(dir));
    (void)cli_out_str(&out, "}\n");
    (void)cli_out_flush(&out);
    code = cli_out_report("init", &out);
    cli_out_free(&out);
    return code;
}
