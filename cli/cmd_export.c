/*
 * cmd_export.c - `evstore export`: the events `read` would print, exactly as it prints
 * them, to standard output or to a file, optionally gzip- or zstd-compressed. Where the
 * bytes go, and how a file appears only complete, is export_sink.c's.
 */
#include "cli_common.h"
#include "export_sink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char export_help[] =
    "usage: evstore export [DIR] [FILTERS] [-o FILE] [--gzip | --zstd]\n"
    "\n"
    "Write the events that match the filters as NDJSON, exactly as 'evstore read'\n"
    "prints them, to standard output or to FILE. 'evstore import --format ndjson'\n"
    "reads it back (compressed or not: it tells by the content).\n"
    "\n"
    "options:\n"
    "  -o FILE, --output FILE   write to FILE instead of standard output. FILE appears\n"
    "                           only once complete (written beside it, synced, then\n"
    "                           renamed; until then the file has no name, so an\n"
    "                           export killed midway leaves nothing behind), and then\n"
    "                           one line goes to standard output:\n"
    "                           {\"exported\":N,\"file\":\"FILE\"}\n"
    "  --gzip                   compress with gzip\n"
    "  --zstd                   compress with zstd (faster than gzip, smaller output;\n"
    "                           the frames carry a checksum of their content)\n"
    "  --help, -h               this text\n"
    "\n"
    "filters (all combine with AND):\n" CLI_FILTER_RANGE_HELP CLI_FILTER_SEL_HELP "\n"
    "DIR defaults to $EVSTORE_DIR. The store is opened read-only and never created.\n"
    "Exit codes: 0 ok, 1 error, 2 usage, 5 corrupt store.\n";

enum { OPT_OUTPUT = CLI_F_COUNT, OPT_GZIP, OPT_ZSTD };

static const cli_optdef export_opts[] = {
    CLI_FILTER_SEL_OPTDEFS,
    CLI_FILTER_RANGE_OPTDEFS,
    [OPT_OUTPUT] = {"output", true, 'o'},
    [OPT_GZIP] = {"gzip", false, 0},
    [OPT_ZSTD] = {"zstd", false, 0},
    {NULL, false, 0},
};

struct export_args {
    const char *dir;
    cli_filter filter;
    const char *output; /* NULL: standard output */
    ex_codec codec;
};

/* -o, --gzip or --zstd. */
static int set_option(void *ctx, int opt, const char *value)
{
    struct export_args *ea = ctx;
    if (opt == OPT_OUTPUT) {
        if (value[0] == '\0')
            return cli_usage("export", "-o wants a file name");
        ea->output = value;
        return CLI_EXIT_OK;
    }
    ex_codec codec = opt == OPT_GZIP ? EX_GZIP : EX_ZSTD;
    if (ea->codec != EX_PLAIN && ea->codec != codec)
        return cli_usage("export", "--gzip and --zstd exclude each other");
    ea->codec = codec;
    return CLI_EXIT_OK;
}

/* Returns an exit code, or -1 for --help. */
static int parse_args(struct export_args *ea, int argc, char **argv)
{
    return cli_filter_parse_args(&ea->filter, &ea->dir, "export", export_opts, CLI_F_COUNT,
                                 argc, argv, set_option, ea);
}

static void report_errno(const char *what, const char *path, int err)
{
    char why[256];
    if (strerror_r(err, why, sizeof why) != 0)
        why[0] = '\0';
    cli_err("export", "%s '%s': %s", what, path, why);
}

static int copy_events(evs_cursor *cur, cli_out *out, ex_sink *s, const char *path)
{
    evs_event ev;
    int rc = 0;
    while (cur != NULL && (rc = evs_cursor_next(&ev, cur)) > 0) {
        if (cli_out_event(out, &ev) < 0)
            break;
        s->written++;
    }
    (void)cli_out_flush(out);
    if (rc < 0)
        return cli_lib_err("export", rc);
    if (out->err != 0 && path != NULL) {
        report_errno("cannot write", path, out->err);
        return CLI_EXIT_ERROR;
    }
    return cli_out_report("export", out);
}

static int print_summary(int64_t count, const char *path)
{
    cli_out o;
    if (cli_out_init(&o, STDOUT_FILENO, 4096) < 0) {
        cli_err("export", "out of memory");
        return CLI_EXIT_ERROR;
    }
    (void)cli_out_str(&o, "{\"exported\":");
    (void)cli_out_i64(&o, count);
    (void)cli_out_str(&o, ",\"file\":");
    (void)cli_out_json_str(&o, path, strlen(path));
    (void)cli_out_str(&o, "}\n");
    (void)cli_out_flush(&o);
    int code = cli_out_report("export", &o);
    cli_out_free(&o);
    return code;
}

static int export_store(evs_store *store, struct export_args *ea)
{
    evs_cursor *cur = NULL;
    int rc = ea->filter.limit_zero ? 0 : evs_cursor_open(&cur, store, &ea->filter.query);
    if (rc < 0)
        return cli_lib_err("export", rc);
    ex_sink s;
    cli_out out = {0};
    int code = CLI_EXIT_ERROR;
    if (ex_sink_open(&s, ea->output, ea->codec, &out) == 0)
        code = copy_events(cur, &out, &s, ea->output);
    /* A reader of stdout that went away (EPIPE) is not an error, but the stream is cut. */
    if (ex_sink_close(&s, ea->output, code == CLI_EXIT_OK && out.err == 0) < 0 &&
        code == CLI_EXIT_OK && out.err == 0)
        code = CLI_EXIT_ERROR;
    cli_out_free(&out);
    evs_cursor_close(cur);
    if (code == CLI_EXIT_OK && ea->output != NULL)
        code = print_summary(s.written, ea->output);
    return code;
}

int cli_cmd_export(int argc, char **argv)
{
    struct export_args ea = {.dir = NULL, .output = NULL, .codec = EX_PLAIN};
    if (cli_filter_init(&ea.filter, "export", argc) != CLI_EXIT_OK)
        return CLI_EXIT_ERROR;
    int code = parse_args(&ea, argc, argv);
    if (code < 0)
        code = cli_help(export_help);
    else if (code == CLI_EXIT_OK) {
        evs_store *store = cli_open_readonly("export", ea.dir, &code);
        if (store != NULL) {
            code = export_store(store, &ea);
            evs_close(store);
        }
    }
    cli_filter_free(&ea.filter);
    return code;
}
