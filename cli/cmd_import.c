/*
 * cmd_import.c - `evstore import`: load events from files in evstore's own NDJSON or in
 * the formats of the seed packages (tiny-event-sourcing, @rymdtiden/eventlog,
 * @mountainpass/simple-event-sourcing, futoin-eventstream). This file has the options
 * and the choice of format; import.h lists where the rest is.
 */
#include "import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char import_help[] =
    "usage: evstore import [DIR] --format FORMAT PATH... [--stream S | --stream-field F]\n"
    "                      [--sync always|batch|none] [--keep-ts] [--create]\n"
    "\n"
    "Append the events of PATH... (\"-\" for standard input), in order, in large atomic\n"
    "commits. Compressed input (gzip or zstd) is recognised by its content, whatever\n"
    "the file is called.\n"
    "\n"
    "formats:\n"
    "  ndjson                evstore's own lines, as 'read' and 'export' print them. Ids,\n"
    "                        streams, versions, types, data and metadata are kept; each\n"
    "                        event must get the version it had (a gap is an error). The\n"
    "                        store sets ts itself, so the original goes into the\n"
    "                        metadata as \"imported_ts\". --stream: for lines without one.\n"
    "  tiny-event-sourcing   tiny-event-sourcing's log.ndjson: \"type\" is the type, the\n"
    "                        other fields but \"index\" are the data; \"index\" must match\n"
    "                        the line order and goes to the metadata as {\"tiny_index\":N}.\n"
    "                        Stream: --stream (default \"tiny\") or the field named by\n"
    "                        --stream-field.\n"
    "  eventlog              @rymdtiden/eventlog's daily files: PATH is the file name\n"
    "                        template, e.g. 'data/events-%y-%m-%d.log' (quoted; %Y works\n"
    "                        too), or the files themselves, each dated by the YYYY-MM-DD\n"
    "                        in its name. Day files may be compressed (NAME.gz,\n"
    "                        NAME.zst); another ending, or a day twice, is refused by\n"
    "                        name. Files are read in date order. Lines\n"
    "                        {\"event\":{...},\"meta\":{...}}: the event is the data, its\n"
    "                        \"type\" the type (else \"event\"); metadata {\"eventlog_id\":\n"
    "                        ...,\"eventlog_pos\":YYYYMMDDnnnnnnnn,\"imported_ts\":DAY}.\n"
    "                        Stream: --stream (default \"eventlog\") or --stream-field,\n"
    "                        a field of the event.\n"
    "  simple-event-sourcing @mountainpass/simple-event-sourcing's chunks: PATHs are\n"
    "                        directories (their *.jsonl, *.jsonl.gz, *.jsonl.zst files)\n"
    "                        or files, read in natural order of their names (chunk-9\n"
    "                        before chunk-10). Each line is one event: the data as is;\n"
    "                        its \"type\" (a string) the type, else \"event\"; metadata\n"
    "                        {\"ses_index\":N}, the package's 0-based event index. Stream:\n"
    "                        --stream (default \"ses\") or --stream-field.\n"
    "  futoin                futoin-eventstream's SQLite databases (opened read-only):\n"
    "                        the rows of evt_queue and evt_history, merged by id (an id\n"
    "                        in both is one event when both rows agree, else an error);\n"
    "                        type as is, data the JSON of its column, metadata\n"
    "                        {\"futoin_id\":ID,\"imported_ts\":TS} with futoin's ts as\n"
    "                        RFC 3339 (the store sets ts itself, as for ndjson).\n"
    "                        Each consumer of evt_consumers becomes a durable consumer\n"
    "                        (':' in its ident becomes '.', a leading '-' becomes '_')\n"
    "                        checkpointed at the position of the last event futoin\n"
    "                        delivered to it; one the store has already is kept as it\n"
    "                        is (\"kept\":true). Stream: --stream (default \"futoin\") or\n"
    "                        --stream-field, a field of the data.\n"
    "\n"
    "options:\n"
    "  --format FORMAT     one of the above (required)\n"
    "  --stream S          the stream to import into (see the formats)\n"
    "  --stream-field F    take each event's stream from its field F, a dotted path\n"
    "                      (data.sku: member sku of member data); not for ndjson,\n"
    "                      whose lines name their stream and version\n"
    "  --sync MODE         always (default), batch or none, as for append\n"
    "  --keep-ts           each event's ts is its source's time (ndjson's ts, futoin's\n"
    "                      ts, eventlog's day) instead of the import's, so --since and\n"
    "                      time queries find migrated events; times must not go\n"
    "                      backwards, also against the store's last event (else the\n"
    "                      import stops at the first line that does)\n"
    "  --create            create the store when DIR holds none (said on stderr;\n"
    "                      removed again when nothing could be imported)\n"
    "  --help, -h          this text\n"
    "\n"
    "At the end, one line: {\"imported\":N}, plus \"duplicates\":M when batches were\n"
    "already in the store with the same ids (nothing written for them); futoin adds\n"
    "\"merged\" (rows in two tables, imported once) and \"consumers\".\n"
    "Commits are atomic batches of up to 10000 events (512 KiB). Bad or unreadable\n"
    "input stops the import: every event before it is committed, none from it on, and\n"
    "one message names the file and line (or row id), says what is wrong and through\n"
    "which line events were imported; that line is where the rest starts. futoin\n"
    "consumers are created only once all events are in. On a terminal, a progress bar\n"
    "is shown on standard error (never when it is a pipe or a file).\n"
    "Every event gets a stable id: its own (ndjson) or one derived from its place in\n"
    "the source (a UUIDv5), so importing the same input again writes only what is\n"
    "missing: after a failure, run the same import over the corrected input.\n"
    "DIR defaults to $EVSTORE_DIR; it must hold a store ('evstore init') unless\n"
    "--create is given.\n"
    "Exit codes: 0 ok, 1 error, 2 usage, 3 conflict, 4 invalid input, 6 id conflict\n"
    "(some of a batch's ids are in its stream already, but not as that batch).\n";

enum { OPT_FORMAT, OPT_STREAM, OPT_STREAM_FIELD, OPT_SYNC, OPT_KEEP_TS, OPT_CREATE };

static const cli_optdef import_opts[] = {
    [OPT_FORMAT] = {"format", true, 0},
    [OPT_STREAM] = {"stream", true, 0},
    [OPT_STREAM_FIELD] = {"stream-field", true, 0},
    [OPT_SYNC] = {"sync", true, 0},
    [OPT_KEEP_TS] = {"keep-ts", false, 0},
    [OPT_CREATE] = {"create", false, 0},
    {NULL, false, 0},
};

enum format { FMT_NONE, FMT_NDJSON, FMT_TINY, FMT_EVENTLOG, FMT_SES, FMT_FUTOIN };

/* Each format's name and the stream its events go to without --stream. */
static const struct {
    const char *name;
    const char *default_stream;
} formats[] = {
    [FMT_NDJSON] = {"ndjson", NULL},           [FMT_TINY] = {"tiny-event-sourcing", "tiny"},
    [FMT_EVENTLOG] = {"eventlog", "eventlog"}, [FMT_SES] = {"simple-event-sourcing", "ses"},
    [FMT_FUTOIN] = {"futoin", "futoin"},
};
#define FORMAT_COUNT (sizeof formats / sizeof formats[0])

struct import_args {
    const char *dir;
    enum format format;
    const char *stream;
    const char *stream_field;
    evs_sync_mode sync;
    bool keep_ts;
    bool create;
    char **paths; /* argv strings; the array is owned */
    size_t path_count;
};

static int set_option(struct import_args *ia, int opt, const char *v)
{
    switch (opt) {
    case OPT_FORMAT:
        for (size_t f = FMT_NDJSON; f < FORMAT_COUNT; f++)
            if (strcmp(v, formats[f].name) == 0)
                ia->format = (enum format)f;
        if (ia->format == FMT_NONE)
            return cli_usage("import",
                             "--format wants ndjson, tiny-event-sourcing, eventlog, "
                             "simple-event-sourcing or futoin, not '%s'",
                             v);
        return CLI_EXIT_OK;
    case OPT_STREAM:
        if (!cli_check_name("import", "--stream", v, EVS_MAX_STREAM_LEN))
            return CLI_EXIT_USAGE;
        ia->stream = v;
        return CLI_EXIT_OK;
    case OPT_STREAM_FIELD:
        if (v[0] == '\0')
            return cli_usage("import", "--stream-field must not be empty");
        ia->stream_field = v;
        return CLI_EXIT_OK;
    case OPT_SYNC:
        if (!cli_parse_sync(v, &ia->sync))
            return cli_usage("import", "--sync wants always, batch or none, not '%s'", v);
        return CLI_EXIT_OK;
    case OPT_KEEP_TS:
        ia->keep_ts = true;
        return CLI_EXIT_OK;
    case OPT_CREATE:
        ia->create = true;
        return CLI_EXIT_OK;
    default:
        return CLI_EXIT_USAGE;
    }
}

/* Positional arguments: DIR first, then the paths. With EVSTORE_DIR set and one
 * argument only, that one is a path. Returns an exit code, or -1 for --help. */
static int parse_args(struct import_args *ia, int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "import", argc, argv);
    char **args = ia->paths;
    size_t n = 0;
    int opt;
    while ((opt = cli_parser_next(&p, import_opts)) != CLI_OPT_END) {
        if (opt == CLI_OPT_BAD)
            return CLI_EXIT_USAGE;
        if (opt == CLI_OPT_HELP)
            return -1;
        int code = opt == CLI_OPT_ARG ? CLI_EXIT_OK : set_option(ia, opt, p.value);
        if (opt == CLI_OPT_ARG)
            args[n++] = (char *)p.value;
        if (code != CLI_EXIT_OK)
            return code;
    }
    if (ia->format == FMT_NONE)
        return cli_usage("import", "--format is required");
    if (ia->stream != NULL && ia->stream_field != NULL)
        return cli_usage("import", "--stream and --stream-field exclude each other");
    if (ia->format == FMT_NDJSON && ia->stream_field != NULL)
        return cli_usage("import", "--stream-field is not for ndjson: its lines name their "
                                   "stream, and their versions count in it");
    if (ia->keep_ts && (ia->format == FMT_TINY || ia->format == FMT_SES))
        return cli_usage("import", "--keep-ts: %s keeps no time of its events",
                         formats[ia->format].name);
    const char *env = getenv("EVSTORE_DIR");
    bool dir_from_env = n == 1 && env != NULL && env[0] != '\0';
    ia->dir = cli_store_dir("import", dir_from_env || n == 0 ? NULL : args[0]);
    if (ia->dir == NULL)
        return CLI_EXIT_USAGE;
    ia->paths = dir_from_env ? args : args + 1;
    ia->path_count = dir_from_env ? n : n - 1;
    if (ia->path_count == 0)
        return cli_usage("import", "no input: give one or more PATHs");
    return CLI_EXIT_OK;
}

static int run(im_ctx *ic, const struct import_args *ia)
{
    switch (ia->format) {
    case FMT_EVENTLOG:
        return im_eventlog_files(ic, ia->paths, ia->path_count);
    case FMT_SES:
        return im_ses_files(ic, ia->paths, ia->path_count);
    case FMT_FUTOIN:
        return im_futoin_files(ic, ia->paths, ia->path_count);
    case FMT_TINY:
        return im_lines_files(ic, ia->paths, ia->path_count, im_parse_tiny, true);
    default:
        return im_lines_files(ic, ia->paths, ia->path_count, im_parse_ndjson, false);
    }
}

static int print_result(const im_ctx *ic)
{
    cli_out out;
    if (cli_out_init(&out, STDOUT_FILENO, 256 + ic->result.len) < 0) {
        cli_err("import", "out of memory");
        return CLI_EXIT_ERROR;
    }
    (void)cli_out_str(&out, "{\"imported\":");
    (void)cli_out_i64(&out, ic->imported);
    if (ic->duplicates > 0) {
        (void)cli_out_str(&out, ",\"duplicates\":");
        (void)cli_out_i64(&out, ic->duplicates);
    }
    if (ic->result.len > 0)
        (void)cli_out_write(&out, ic->result.ptr, ic->result.len);
    (void)cli_out_str(&out, "}\n");
    (void)cli_out_flush(&out);
    int code = cli_out_report("import", &out);
    cli_out_free(&out);
    return code;
}

int cli_cmd_import(int argc, char **argv)
{
    struct import_args ia;
    memset(&ia, 0, sizeof ia);
    ia.sync = EVS_SYNC_ALWAYS;
    ia.paths = calloc((size_t)argc + 1, sizeof *ia.paths);
    if (ia.paths == NULL) {
        cli_err("import", "out of memory");
        return CLI_EXIT_ERROR;
    }
    char **owned = ia.paths;
    int code = parse_args(&ia, argc, argv);
    if (code != CLI_EXIT_OK) {
        free(owned);
        return code < 0 ? cli_help(import_help) : code;
    }
    im_ctx ic;
    memset(&ic, 0, sizeof ic);
    ic.default_stream = ia.stream != NULL ? ia.stream : formats[ia.format].default_stream;
    ic.stream_field = ia.stream_field;
    ic.keep_ts = ia.keep_ts;
    ic.progress.tty = isatty(STDERR_FILENO) == 1;
    if (im_id_init(&ic.ids) < 0) {
        free(owned);
        cli_err("import", "cannot set up SHA-1 (OpenSSL) for the events' ids");
        return CLI_EXIT_ERROR;
    }
    evs_options opts = EVS_OPTIONS_INIT;
    opts.sync_mode = ia.sync;
    cli_created made;
    ic.store = cli_open_write("import", ia.dir, &opts, ia.create, &made, &code);
    if (ic.store == NULL) {
        im_id_free(&ic.ids);
        free(owned);
        return code;
    }
    code = run(&ic, &ia);
    im_progress_clear(&ic.progress);
    bool empty = evs_head(ic.store) == 0;
    int rc = evs_close(ic.store);
    if (rc < 0 && code == CLI_EXIT_OK)
        code = cli_lib_err("import", rc);
    if (code != CLI_EXIT_OK && empty)
        cli_discard_created("import", ia.dir, &made);
    if (code == CLI_EXIT_OK)
        code = print_result(&ic);
    im_ctx_free(&ic);
    im_id_free(&ic.ids);
    free(owned);
    return code;
}
