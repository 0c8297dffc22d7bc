/*
 * cmd_delete.c - `evstore delete`: delete a stream (it reads as empty, appends go on
 * after its last version), delete it for good (a tombstone: appends refused), or
 * truncate it before a version. All three append one settings event (evstore.h,
 * evs_stream_delete).
 */
#include "cli_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char delete_help[] =
    "usage: evstore delete [DIR] --stream S [--hard | --before VERSION]\n"
    "\n"
    "Delete stream S, or cut its beginning. The events stay in the log (positions never\n"
    "change) but no read, subscription or consumer returns them again.\n"
    "\n"
    "  (neither)          soft delete: S reads as empty; appending to S again goes on\n"
    "                     after its last version, and only the new events are read\n"
    "  --before VERSION   truncate: S's events below VERSION are no longer read (a\n"
    "                     truncation only moves forward)\n"
    "  --hard             delete for good: nothing of S is read again and every later\n"
    "                     append to S fails with exit code 7\n"
    "\n"
    "Prints {\"stream\":S,\"deleted\":\"soft\"|\"hard\"} or {\"stream\":S,\"truncate_before\":V}.\n"
    "'evstore meta DIR --stream S' shows the settings in force.\n"
    "\n"
    "options:\n"
    "  --stream S         the stream (required)\n"
    "  --before VERSION   truncate before this version (0 or more)\n"
    "  --hard             delete for good\n"
    "  --help, -h         this text\n"
    "\n"
    "DIR defaults to $EVSTORE_DIR; the store must exist.\n"
    "Exit codes: 0 ok, 1 error, 2 usage, 4 invalid (a truncation below the one in\n"
    "force), 5 corrupt store, 7 the stream was deleted for good already.\n";

enum { OPT_STREAM, OPT_BEFORE, OPT_HARD };

static const cli_optdef delete_opts[] = {
    [OPT_STREAM] = {"stream", true, 0},
    [OPT_BEFORE] = {"before", true, 0},
    [OPT_HARD] = {"hard", false, 0},
    {NULL, false, 0},
};

struct delete_args {
    const char *dir;
    const char *stream;
    int64_t before;
    bool hard;
};

/* Returns an exit code, or -1 for --help. */
static int parse_args(struct delete_args *da, int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "delete", argc, argv);
    const char *dir = NULL;
    int opt;
    while ((opt = cli_parser_next_dir(&p, delete_opts, &dir)) != CLI_OPT_END) {
        switch (opt) {
        case CLI_OPT_HELP:
            return -1;
        case OPT_STREAM:
            if (!cli_check_name("delete", "--stream", p.value, EVS_MAX_STREAM_LEN))
                return CLI_EXIT_USAGE;
            da->stream = p.value;
            break;
        case OPT_BEFORE:
            if (!cli_parse_i64(p.value, strlen(p.value), 0, INT64_MAX - 1, &da->before))
                return cli_usage("delete", "--before '%s' is not a version (0 or more)",
                                 p.value);
            break;
        case OPT_HARD:
            da->hard = true;
            break;
        default:
            return CLI_EXIT_USAGE;
        }
    }
    if (da->stream == NULL)
        return cli_usage("delete", "--stream S is required");
    if (da->hard && da->before >= 0)
        return cli_usage("delete", "--hard deletes the whole stream; it takes no --before");
    da->dir = cli_store_dir("delete", dir);
    return da->dir != NULL ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

int cli_cmd_delete(int argc, char **argv)
{
    struct delete_args da = {NULL, NULL, -1, false};
    int code = parse_args(&da, argc, argv);
    if (code < 0)
        return cli_help(delete_help);
    if (code != CLI_EXIT_OK)
        return code;
    evs_options opts = EVS_OPTIONS_INIT;
    opts.flags = EVS_OPEN_NOCREATE;
    evs_store *store = NULL;
    int rc = evs_open(&store, da.dir, &opts);
    if (rc < 0)
        return cli_lib_err("delete", rc);
    rc = evs_stream_delete(store, da.stream, da.before, da.hard ? EVS_DELETE_HARD : 0);
    if (rc < 0) {
        code = cli_lib_err("delete", rc);
    } else {
        cli_out out;
        code = CLI_EXIT_ERROR;
        if (cli_out_init(&out, 1, 4096) == 0) {
            char tail[64];
            if (da.before >= 0)
                (void)snprintf(tail, sizeof tail, ",\"truncate_before\":%" PRId64 "}\n",
                               da.before);
            else
                (void)snprintf(tail, sizeof tail, ",\"deleted\":\"%s\"}\n",
                               da.hard ? "hard" : "soft");
            (void)cli_out_str(&out, "{\"stream\":");
            (void)cli_out_json_str(&out, da.stream, strlen(da.stream));
            (void)cli_out_str(&out, tail);
            (void)cli_out_flush(&out);
            code = cli_out_report("delete", &out);
            cli_out_free(&out);
        }
    }
    int crc = evs_close(store);
    return code == CLI_EXIT_OK && crc < 0 ? cli_lib_err("delete", crc) : code;
}
