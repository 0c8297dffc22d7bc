/*
 * cmd_forget.c - `evstore forget`: erase a subject's events by destroying its keys
 * (evs_forget); the events stay, reading as erased.
 */
#include "cli_common.h"

#include <string.h>
#include <unistd.h>

static const char forget_help[] =
    "usage: evstore forget [DIR] SUBJECT\n"
    "\n"
    "Erase every event appended with SUBJECT (their metadata's \"subject\"): destroy\n"
    "the subject's keys in the store's key file, durably, and print\n"
    "  {\"forgotten\":\"SUBJECT\",\"keys\":N}\n"
    "From then on those events read as erased: their data is {\"$erased\":true}, while\n"
    "position, stream, version, id, type, time and metadata stay. Events appended\n"
    "with SUBJECT later get a new key. There is no undo, except a backup of the key\n"
    "file taken before (see the README, \"Erasure\").\n"
    "\n"
    "options:\n"
    "  --help, -h   this text\n"
    "\n"
    "With one argument, it is SUBJECT and DIR is $EVSTORE_DIR.\n"
    "Exit codes: 0 forgotten, 1 error (also: the subject has no key: never used, or\n"
    "forgotten already), 2 usage, 4 invalid subject, 5 damaged key file (nothing\n"
    "changed).\n";

static const cli_optdef forget_opts[] = {
    {NULL, false, 0},
};

int cli_cmd_forget(int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "forget", argc, argv);
    const char *args[2] = {NULL, NULL};
    size_t n = 0;
    int opt;
    while ((opt = cli_parser_next(&p, forget_opts)) != CLI_OPT_END) {
        if (opt == CLI_OPT_HELP)
            return cli_help(forget_help);
        if (opt != CLI_OPT_ARG)
            return CLI_EXIT_USAGE;
        if (n == 2)
            return cli_usage("forget", "unexpected argument '%s'", p.value);
        args[n++] = p.value;
    }
    if (n == 0)
        return cli_usage("forget", "SUBJECT is missing");
    const char *subject = args[n - 1];
    const char *dir = cli_store_dir("forget", n == 2 ? args[0] : NULL);
    if (!dir)
        return CLI_EXIT_USAGE;
    evs_options opts = EVS_OPTIONS_INIT;
    opts.flags = EVS_OPEN_NOCREATE;
    evs_store *store;
    int rc = evs_open(&store, dir, &opts);
    if (rc < 0)
        return cli_lib_err("forget", rc);
    size_t keys = 0;
    rc = evs_forget(&keys, store, subject);
    int code = rc < 0 ? cli_lib_err("forget", rc) : CLI_EXIT_OK;
    int close_rc = evs_close(store);
    if (code != CLI_EXIT_OK)
        return code;
    if (close_rc < 0)
        return cli_lib_err("forget", close_rc);
    cli_out out;
    if (cli_out_init(&out, STDOUT_FILENO, 4096 + strlen(subject) * 6) < 0) {
        cli_err("forget", "out of memory");
        return CLI_EXIT_ERROR;
    }
    (void)cli_out_str(&out, "{\"forgotten\":");
    (void)cli_out_json_str(&out, subject, strlen(subject));
    (void)cli_out_str(&out, ",\"keys\":");
    (void)cli_out_i64(&out, (int64_t)keys);
    (void)cli_out_str(&out, "}\n");
    (void)cli_out_flush(&out);
    code = cli_out_report("forget", &out);
    cli_out_free(&out);
    return code;
}
