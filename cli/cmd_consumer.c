/*
 * cmd_consumer.c - `evstore consumer reset|delete`: move a durable consumer's
 * checkpoint (to replay events, or to skip them), or remove the consumer. Both refuse,
 * with exit code 1, while the consumer is open somewhere, since the running process
 * would overwrite the change with its own next save.
 */
#include "cli_common.h"

#include <string.h>
#include <unistd.h>

static const char consumer_help[] =
    "usage: evstore consumer reset [DIR] NAME [--to POS]\n"
    "       evstore consumer delete [DIR] NAME\n"
    "\n"
    "Manage a durable consumer (see 'evstore subscribe --consumer' and\n"
    "'evstore consumers').\n"
    "\n"
    "  reset    set NAME's checkpoint to POS (default 0: deliver every event again;\n"
    "           at most the store's head), durably; the filters it keeps stay.\n"
    "           Also repairs a damaged checkpoint (a damaged filter is dropped: the\n"
    "           next subscribe's filters are kept). Prints\n"
    "           {\"consumer\":NAME,\"checkpoint\":POS}.\n"
    "  delete   remove NAME and its checkpoint. Prints {\"deleted\":NAME}.\n"
    "\n"
    "options:\n"
    "  --to POS           reset: the new checkpoint; the next subscribe starts at POS+1\n"
    "  --help, -h         this text\n"
    "\n"
    "Both fail with exit code 1 when no consumer NAME exists, or when it is open\n"
    "(a subscribe is running with it): stop that first.\n"
    "DIR defaults to $EVSTORE_DIR (then NAME is the only argument); the store must\n"
    "exist. A NAME that starts with '-' goes after '--': consumer reset DIR -- -x.\n"
    "Exit codes: 0 ok, 1 error (no such consumer, busy), 2 usage, 4 invalid (bad name,\n"
    "POS past the head or in positions a repair declared lost), 5 corrupt store.\n";

enum { OPT_TO };

static const cli_optdef consumer_opts[] = {
    [OPT_TO] = {"to", true, 0},
    {NULL, false, 0},
};

enum action { ACT_RESET, ACT_DELETE };

struct consumer_args {
    const char *cmd; /* "consumer reset" or "consumer delete", for messages */
    enum action action;
    const char *dir;
    const char *name;
    int64_t to;
    bool to_given;
};

/* Returns an exit code, or -1 for --help. argv[0] is the action. */
static int parse_args(struct consumer_args *ca, int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, ca->cmd, argc, argv);
    const char *args[2] = {NULL, NULL};
    int nargs = 0;
    int opt;
    while ((opt = cli_parser_next(&p, consumer_opts)) != CLI_OPT_END) {
        if (opt == CLI_OPT_BAD)
            return CLI_EXIT_USAGE;
        if (opt == CLI_OPT_HELP)
            return -1;
        if (opt == CLI_OPT_ARG) {
            if (nargs == 2)
                return cli_usage(ca->cmd, "unexpected argument '%s'", p.value);
            args[nargs++] = p.value;
        } else {
            if (ca->action != ACT_RESET)
                return cli_usage(ca->cmd, "--to is for 'consumer reset'");
            if (!cli_parse_i64(p.value, strlen(p.value), 0, INT64_MAX, &ca->to))
                return cli_usage(ca->cmd, "--to wants a position >= 0, not '%s'", p.value);
            ca->to_given = true;
        }
    }
    if (nargs == 0)
        return cli_usage(ca->cmd, "missing the consumer NAME");
    /* One argument is the name (the store from $EVSTORE_DIR); two are DIR NAME. */
    ca->name = args[nargs - 1];
    ca->dir = cli_store_dir(ca->cmd, nargs == 2 ? args[0] : NULL);
    return ca->dir != NULL ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

/* The library's messages name the function; these say what to do about it. */
static int report(const struct consumer_args *ca, int rc)
{
    if (rc == EVS_EBUSY) {
        cli_err(ca->cmd,
                "consumer '%s' is busy: it is open in another process (a running "
                "'evstore subscribe --consumer %s'?); stop that first",
                ca->name, ca->name);
        return CLI_EXIT_ERROR;
    }
    if (rc == EVS_ENOTFOUND) {
        cli_err(ca->cmd, "no consumer '%s' in store '%s' (see 'evstore consumers')", ca->name,
                ca->dir);
        return CLI_EXIT_ERROR;
    }
    return cli_lib_err(ca->cmd, rc);
}

static int print_result(const struct consumer_args *ca)
{
    cli_out out;
    if (cli_out_init(&out, STDOUT_FILENO, 4096) < 0) {
        cli_err(ca->cmd, "out of memory");
        return CLI_EXIT_ERROR;
    }
    if (ca->action == ACT_RESET) {
        (void)cli_out_str(&out, "{\"consumer\":");
        (void)cli_out_json_str(&out, ca->name, strlen(ca->name));
        (void)cli_out_str(&out, ",\"checkpoint\":");
        (void)cli_out_i64(&out, ca->to);
    } else {
        (void)cli_out_str(&out, "{\"deleted\":");
        (void)cli_out_json_str(&out, ca->name, strlen(ca->name));
    }
    (void)cli_out_str(&out, "}\n");
    (void)cli_out_flush(&out);
    int code = cli_out_report(ca->cmd, &out);
    cli_out_free(&out);
    return code;
}

int cli_cmd_consumer(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc >= 2)
            return cli_help(consumer_help);
        return cli_usage("consumer", "missing the action: reset or delete");
    }
    struct consumer_args ca = {.to = 0, .to_given = false};
    if (strcmp(argv[1], "reset") == 0) {
        ca.cmd = "consumer reset";
        ca.action = ACT_RESET;
    } else if (strcmp(argv[1], "delete") == 0) {
        ca.cmd = "consumer delete";
        ca.action = ACT_DELETE;
    } else {
        return cli_usage("consumer", "unknown action '%s' (reset or delete)", argv[1]);
    }
    int code = parse_args(&ca, argc - 1, argv + 1);
    if (code < 0)
        return cli_help(consumer_help);
    if (code != CLI_EXIT_OK)
        return code;
    /* Not read-only: both change the store's consumers/ directory. */
    evs_options opts = EVS_OPTIONS_INIT;
    opts.flags = EVS_OPEN_NOCREATE;
    evs_store *store = NULL;
    int rc = evs_open(&store, ca.dir, &opts);
    if (rc < 0)
        return cli_lib_err(ca.cmd, rc);
    rc = ca.action == ACT_RESET ? evs_consumer_reset(store, ca.name, ca.to)
                                : evs_consumer_delete(store, ca.name);
    code = rc < 0 ? report(&ca, rc) : print_result(&ca);
    evs_close(store);
    return code;
}
