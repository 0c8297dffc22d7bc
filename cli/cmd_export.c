/*
 * cmd_export.c - `evstore export`: the events `read` would print, exactly as it prints
 * them, to standard output or to a file, optionally gzip-compressed.
 *
 * A file is written whole or not at all: into a temporary file beside it, synced, then
 * renamed over the target and the directory synced, so a crash or an error never
 * leaves a half-written export where a complete one is expected (and an older export
 * of the same name stays until the new one is complete).
 */
#include "cli_common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char export_help[] =
    "usage: evstore export [DIR] [FILTERS] [-o FILE] [--gzip]\n"
    "\n"
    "Write the events that match the filters as NDJSON, exactly as 'evstore read'\n"
    "prints them, to standard output or to FILE. 'evstore import --format ndjson'\n"
    "reads it back (compressed or not).\n"
    "\n"
    "options:\n"
    "  -o FILE, --output FILE   write to FILE instead of standard output. FILE appears\n"
    "                           only once complete (written beside it, synced, then\n"
    "                           renamed), and then one line goes to standard output:\n"
    "                           {\"exported\":N,\"file\":\"FILE\"}\n"
    "  --gzip                   compress with gzip\n"
    "  --help, -h               this text\n"
    "\n"
    "filters (all combine with AND):\n" CLI_FILTER_RANGE_HELP CLI_FILTER_SEL_HELP "\n"
    "DIR defaults to $EVSTORE_DIR. The store is opened read-only and never created.\n"
    "Exit codes: 0 ok, 1 error, 2 usage, 5 corrupt store.\n";

enum { OPT_OUTPUT = CLI_F_COUNT, OPT_GZIP };

static const cli_optdef export_opts[] = {
    CLI_FILTER_SEL_OPTDEFS,          CLI_FILTER_RANGE_OPTDEFS, [OPT_OUTPUT] = {"output", true, 'o'},
    [OPT_GZIP] = {"gzip", false, 0}, {NULL, false, 0},
};

struct export_args {
    const char *dir;
    cli_filter filter;
    const char *output; /* NULL: standard output */
    bool gzip;
};

/* Where the bytes go: a descriptor, through gzip or not. */
struct sink {
    int fd;
    gzFile gz;       /* NULL without --gzip */
    char *tmp_path;  /* the temporary file of -o, NULL for stdout */
    int64_t written; /* events */
};

/* Returns an exit code, or -1 for --help. */
static int parse_args(struct export_args *ea, int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "export", argc, argv);
    const char *dir = NULL;
    int opt;
    while ((opt = cli_parser_next_dir(&p, export_opts, &dir)) != CLI_OPT_END) {
        int code = CLI_EXIT_OK;
        if (opt == CLI_OPT_BAD)
            return CLI_EXIT_USAGE;
        if (opt == CLI_OPT_HELP)
            return -1;
        if (opt < CLI_F_COUNT) {
            code = cli_filter_set(&ea->filter, "export", opt, p.value);
        } else if (opt == OPT_OUTPUT) {
            if (p.value[0] == '\0')
                return cli_usage("export", "-o wants a file name");
            ea->output = p.value;
        } else {
            ea->gzip = true;
        }
        if (code != CLI_EXIT_OK)
            return code;
    }
    int code = cli_filter_finish(&ea->filter, "export");
    if (code != CLI_EXIT_OK)
        return code;
    ea->dir = cli_store_dir("export", dir);
    return ea->dir != NULL ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

static int gz_sink(void *ctx, const char *p, size_t len, int *err)
{
    struct sink *s = ctx;
    while (len > 0) {
        unsigned chunk = len > (1u << 30) ? 1u << 30 : (unsigned)len;
        errno = 0;
        int n = gzwrite(s->gz, p, chunk);
        if (n <= 0) {
            *err = errno != 0 ? errno : EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void report_errno(const char *what, const char *path, int err)
{
    char why[256];
    if (strerror_r(err, why, sizeof why) != 0)
        why[0] = '\0';
    cli_err("export", "%s '%s': %s", what, path, why);
}

/* Create the temporary file beside `path`, with the permissions a plain creat() would
 * have given (mkstemp makes it 0600). */
static int open_temp(struct sink *s, const char *path)
{
    size_t len = strlen(path) + 16;
    s->tmp_path = malloc(len);
    if (s->tmp_path == NULL) {
        cli_err("export", "out of memory");
        return -1;
    }
    (void)snprintf(s->tmp_path, len, "%s.tmp.XXXXXX", path);
    s->fd = mkstemp(s->tmp_path);
    if (s->fd < 0) {
        report_errno("cannot create a file beside", path, errno);
        free(s->tmp_path);
        s->tmp_path = NULL;
        return -1;
    }
    mode_t mask = umask(0);
    (void)umask(mask);
    (void)fchmod(s->fd, 0666 & ~mask);
    return 0;
}

static int sink_open(struct sink *s, const struct export_args *ea, cli_out *out)
{
    memset(s, 0, sizeof *s);
    s->fd = STDOUT_FILENO;
    if (ea->output != NULL && open_temp(s, ea->output) < 0)
        return -1;
    if (cli_out_init(out, s->fd, 1u << 20) < 0) {
        cli_err("export", "out of memory");
        return -1;
    }
    if (ea->gzip) {
        /* gzclose closes the descriptor it was given: give it a duplicate, so the file
         * can still be synced (or stdout still closed by exit) afterwards. */
        int dfd = dup(s->fd);
        s->gz = dfd >= 0 ? gzdopen(dfd, "wb6") : NULL;
        if (s->gz == NULL) {
            if (dfd >= 0)
                (void)close(dfd);
            cli_err("export", "cannot start gzip compression");
            return -1;
        }
        out->sink = gz_sink;
        out->sink_ctx = s;
    }
    return 0;
}

/* Finish the output: the gzip trailer, and for a file, sync, rename, sync the directory.
 * On failure (or when ok is false) the temporary file is removed. */
static int sink_close(struct sink *s, const char *path, bool ok)
{
    if (s->gz != NULL) {
        int zrc = gzclose(s->gz);
        if (ok && zrc != Z_OK) {
            report_errno("writing the end of the gzip stream to", path ? path : "stdout",
                         errno != 0 ? errno : EIO);
            ok = false;
        }
    }
    if (s->tmp_path == NULL)
        return ok ? 0 : -1;
    if (ok && fsync(s->fd) < 0) {
        report_errno("cannot sync", s->tmp_path, errno);
        ok = false;
    }
    if (close(s->fd) < 0 && ok) {
        report_errno("cannot close", s->tmp_path, errno);
        ok = false;
    }
    if (ok && rename(s->tmp_path, path) < 0) {
        report_errno("cannot rename the finished export to", path, errno);
        ok = false;
    }
    if (!ok) {
        (void)unlink(s->tmp_path);
    } else {
        /* The rename itself is durable only once the directory is synced. */
        char *slash = strrchr(s->tmp_path, '/');
        if (slash != NULL)
            slash[slash == s->tmp_path ? 1 : 0] = '\0';
        int dfd = open(slash != NULL ? s->tmp_path : ".", O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            (void)fsync(dfd);
            (void)close(dfd);
        }
    }
    free(s->tmp_path);
    s->tmp_path = NULL;
    return ok ? 0 : -1;
}

static int copy_events(evs_cursor *cur, cli_out *out, struct sink *s, const char *path)
{
    evs_event ev;
    int rc = 0;
    while (cur != NULL && (rc = evs_cursor_next(cur, &ev)) > 0) {
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
    struct sink s;
    cli_out out = {0};
    int code = CLI_EXIT_ERROR;
    if (sink_open(&s, ea, &out) == 0)
        code = copy_events(cur, &out, &s, ea->output);
    /* A reader of stdout that went away (EPIPE) is not an error, but the stream is cut. */
    if (sink_close(&s, ea->output, code == CLI_EXIT_OK && out.err == 0) < 0 &&
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
    struct export_args ea = {.dir = NULL, .output = NULL, .gzip = false};
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
