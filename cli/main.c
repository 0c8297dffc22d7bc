/*
 * main.c - the evstore command: picks the subcommand, prints the overall help and the
 * version. Each subcommand lives in its own cmd_<name>.c.
 */
#include "cli_common.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    cli_cmd_fn fn;
    const char *summary;
} commands[] = {
    {"init", cli_cmd_init, "create a new, empty store"},
    {"append", cli_cmd_append, "append NDJSON events from standard input"},
    {"read", cli_cmd_read, "print events as NDJSON, filtered by position, stream, type, time"},
    {"streams", cli_cmd_streams, "list the streams with their versions and positions"},
    {"tail", cli_cmd_tail, "print the last events, and with -f new ones as they come"},
    {"subscribe", cli_cmd_subscribe,
     "follow events as NDJSON; with --consumer, durably from a checkpoint"},
    {"consumers", cli_cmd_consumers, "list the durable consumers with checkpoint and lag"},
    {"consumer", cli_cmd_consumer, "reset or delete a durable consumer"},
    {"delete", cli_cmd_delete, "delete a stream (soft or for good) or truncate it before a version"},
    {"meta", cli_cmd_meta, "show or set a stream's retention: max count, max age, truncation"},
    {"retain", cli_cmd_retain, "drop the oldest segments by age or total size"},
    {"discard", cli_cmd_discard, "drop the segments every durable consumer has acknowledged"},
    {"export", cli_cmd_export, "write events as NDJSON, plain, gzip or zstd, to stdout or a file"},
    {"import", cli_cmd_import, "load events from an export or from the seed packages' files"},
    {"stat", cli_cmd_stat, "print the store's figures as one JSON object"},
    {"verify", cli_cmd_verify, "check every record of the log; name file and offset of damage"},
    {"repair", cli_cmd_repair, "cut the log at its first damaged record, saving the rest aside"},
    {"forget", cli_cmd_forget, "erase a subject's events: destroy its encryption keys"},
    {"compact", cli_cmd_compact, "compress the sealed segments with zstd (reads stay the same)"},
    {"backup", cli_cmd_backup, "copy a store while it is in use, verified; incremental"},
    {"archive", cli_cmd_archive, "move sealed segments to an archive directory; read on as before"},
    {"serve", cli_cmd_serve, "serve stores over HTTP to many tenants, with tokens"},
    {"token", cli_cmd_token, "create, list or revoke the server's access tokens"},
    {"tenant", cli_cmd_tenant, "create or list the tenants of a server's root"},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static int print_help(FILE *f)
{
    (void)fputs("usage: evstore COMMAND [DIR] [OPTIONS]\n"
                "\n"
                "An event store for event sourcing. DIR is the store's directory; it may be left\n"
                "out when the environment variable EVSTORE_DIR names it.\n"
                "\n"
                "commands:\n",
                f);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        (void)fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    (void)fputs(
        "  help       this text; 'evstore help COMMAND' or 'evstore COMMAND --help' for one\n"
        "\n"
        "options:\n"
        "  --help, -h     this text\n"
        "  --version      print the version\n"
        "  --             in any command: every argument after it is a name or path, also\n"
        "                 one that starts with '-' (evstore consumer reset DIR -- -old)\n"
        "\n"
        "exit codes (every command):\n"
        "  0 ok   1 error   2 usage   3 conflict (expected version)\n"
        "  4 invalid input   5 corrupt store\n"
        "  6 id conflict (some of a batch's ids are stored already, but not as that batch)\n"
        "  7 the stream was deleted for good (evstore delete --hard)\n",
        f);
    return fflush(f) == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

static cli_cmd_fn find_command(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].fn;
    }
    return NULL;
}

/* `evstore help [COMMAND]`. */
static int run_help(int argc, char **argv)
{
    if (argc < 3)
        return print_help(stdout);
    if (argc > 3)
        return cli_usage("help", "too many arguments");
    if (strcmp(argv[2], "help") == 0 || strcmp(argv[2], "--help") == 0 ||
        strcmp(argv[2], "-h") == 0)
        return print_help(stdout);
    cli_cmd_fn fn = find_command(argv[2]);
    if (fn == NULL) {
        cli_err("help", "unknown command '%s' (try 'evstore help')", argv[2]);
        return CLI_EXIT_USAGE;
    }
    char help_flag[] = "--help";
    char *sub_argv[] = {argv[2], help_flag, NULL};
    return fn(2, sub_argv);
}

int main(int argc, char **argv)
{
    /* A reader that goes away (`evstore read | head`) must show up as EPIPE from
     * write(), so commands can stop quietly, not as a signal that kills the process. */
    (void)signal(SIGPIPE, SIG_IGN);

    if (argc < 2) {
        print_help(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        return run_help(argc, argv);
    if (strcmp(name, "--version") == 0) {
        (void)printf("evstore %s\n", evs_version_string());
        return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
    }
    cli_cmd_fn fn = find_command(name);
    if (fn == NULL) {
        (void)fprintf(stderr, "evstore: unknown command '%s' (try 'evstore help')\n", name);
        return CLI_EXIT_USAGE;
    }
    return fn(argc - 1, argv + 1);
}
