/*
 * cmd_meta.c - `evstore meta`: show a stream's lifecycle settings, or change its
 * retention (max count, max age) and truncation (evstore.h, evs_stream_meta_set).
 */
#include "cli_common.h"

#include <stdio.h>
#include <string.h>

static const char meta_help[] =
    "usage: evstore meta [DIR] --stream S [--max-count N] [--max-age SPAN]\n"
    "                    [--truncate-before VERSION]\n"
    "\n"
    "Show stream S's lifecycle settings, or change them. Reads leave out the events the\n"
    "settings exclude; the events stay in the log and keep their positions.\n"
    "Without a setting it prints what is in force:\n"
    "  {\"stream\":S,\"truncate_before\":0,\"max_count\":0,\"max_age_ns\":0,\"deleted\":false}\n"
    "(0 = not set). With one it changes those given, keeps the others, and prints the\n"
    "new settings in the same form.\n"
    "\n"
    "options:\n"
    "  --stream S                 the stream (required; it need not exist yet)\n"
    "  --max-count N              read only S's newest N events; 'none' to unset\n"
    "  --max-age SPAN             read only S's events younger than SPAN: a number\n"
    "                             and a unit, s, m, h, d or w (30d, 1.5h); 'none'\n"
    "  --truncate-before VERSION  S's events below VERSION are no longer read; it\n"
    "                             only moves forward\n"
    "  --help, -h                 this text\n"
    "\n"
    "DIR defaults to $EVSTORE_DIR; the store must exist.\n"
    "Exit codes: 0 ok, 1 error, 2 usage, 4 invalid (a truncation below the one in\n"
    "force), 5 corrupt store, 7 S was deleted for good (its settings are final).\n";

enum { OPT_STREAM, OPT_MAX_COUNT, OPT_MAX_AGE, OPT_TRUNCATE };

static const cli_optdef meta_opts[] = {
    [OPT_STREAM] = {"stream", true, 0},
    [OPT_MAX_COUNT] = {"max-count", true, 0},
    [OPT_MAX_AGE] = {"max-age", true, 0},
    [OPT_TRUNCATE] = {"truncate-before", true, 0},
    {NULL, false, 0},
};

struct meta_args {
    const char *dir;
    const char *stream;
    int64_t max_count, max_age_ns, truncate_before; /* -1: not given */
};

static int parse_setting(int opt, const char *v, struct meta_args *ma)
{
    char why[128];
    if (opt == OPT_MAX_COUNT) {
        if (strcmp(v, "none") == 0)
            ma->max_count = 0;
        else if (!cli_parse_i64(v, strlen(v), 1, INT64_MAX / 2, &ma->max_count))
            return cli_usage("meta", "--max-count '%s' is not a count (1 or more, or none)", v);
    } else if (opt == OPT_MAX_AGE) {
        if (strcmp(v, "none") == 0)
            ma->max_age_ns = 0;
        else if (!cli_parse_duration(v, &ma->max_age_ns, why, sizeof why))
            return cli_usage("meta", "--max-age '%s': %s", v, why);
        else if (ma->max_age_ns <= 0)
            return cli_usage("meta", "--max-age '%s' is no time at all", v);
    } else if (!cli_parse_i64(v, strlen(v), 0, INT64_MAX / 2, &ma->truncate_before)) {
        return cli_usage("meta", "--truncate-before '%s' is not a version (0 or more)", v);
    }
    return CLI_EXIT_OK;
}

/* Returns an exit code, or -1 for --help. */
static int parse_args(struct meta_args *ma, int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "meta", argc, argv);
    const char *dir = NULL;
    int opt, code;
    while ((opt = cli_parser_next_dir(&p, meta_opts, &dir)) != CLI_OPT_END) {
        switch (opt) {
        case CLI_OPT_HELP:
            return -1;
        case OPT_STREAM:
            if (!cli_check_name("meta", "--stream", p.value, EVS_MAX_STREAM_LEN))
                return CLI_EXIT_USAGE;
            ma->stream = p.value;
            break;
        case OPT_MAX_COUNT:
        case OPT_MAX_AGE:
        case OPT_TRUNCATE:
            if ((code = parse_setting(opt, p.value, ma)) != CLI_EXIT_OK)
                return code;
            break;
        default:
            return CLI_EXIT_USAGE;
        }
    }
    if (ma->stream == NULL)
        return cli_usage("meta", "--stream S is required");
    ma->dir = cli_store_dir("meta", dir);
    return ma->dir != NULL ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

static int print_meta(const char *stream, const evs_stream_meta *m)
{
    cli_out out;
    if (cli_out_init(&out, 1, 4096) < 0) {
        cli_err("meta", "out of memory");
        return CLI_EXIT_ERROR;
    }
    (void)cli_out_str(&out, "{\"stream\":");
    (void)cli_out_json_str(&out, stream, strlen(stream));
    (void)cli_out_str(&out, ",\"truncate_before\":");
    (void)cli_out_i64(&out, m->truncate_before);
    (void)cli_out_str(&out, ",\"max_count\":");
    (void)cli_out_i64(&out, m->max_count);
    (void)cli_out_str(&out, ",\"max_age_ns\":");
    (void)cli_out_i64(&out, m->max_age_ns);
    (void)cli_out_str(&out, m->deleted ? ",\"deleted\":true}\n" : ",\"deleted\":false}\n");
    (void)cli_out_flush(&out);
    int code = cli_out_report("meta", &out);
    cli_out_free(&out);
    return code;
}

int cli_cmd_meta(int argc, char **argv)
{
    struct meta_args ma = {NULL, NULL, -1, -1, -1};
    int code = parse_args(&ma, argc, argv);
    if (code < 0)
        return cli_help(meta_help);
    if (code != CLI_EXIT_OK)
        return code;
    bool change = ma.max_count >= 0 || ma.max_age_ns >= 0 || ma.truncate_before >= 0;
    evs_options opts = EVS_OPTIONS_INIT;
    opts.flags = EVS_OPEN_NOCREATE | (change ? 0 : EVS_OPEN_READONLY);
    evs_store *store = NULL;
    int rc = evs_open(&store, ma.dir, &opts);
    if (rc < 0)
        return cli_lib_err("meta", rc);
    evs_stream_meta m;
    rc = evs_stream_meta_get(&m, store, ma.stream);
    if (rc == 0 && change) {
        if (ma.max_count >= 0)
            m.max_count = ma.max_count;
        if (ma.max_age_ns >= 0)
            m.max_age_ns = ma.max_age_ns;
        if (ma.truncate_before >= 0)
            m.truncate_before = ma.truncate_before;
        rc = m.deleted ? EVS_EDELETED : evs_stream_meta_set(store, ma.stream, &m);
        if (rc == EVS_EDELETED && m.deleted) {
            cli_err("meta", "stream '%s' was deleted for good; its settings are final",
                    ma.stream);
            evs_close(store);
            return CLI_EXIT_DELETED;
        }
    }
    code = rc < 0 ? cli_lib_err("meta", rc) : print_meta(ma.stream, &m);
    int crc = evs_close(store);
    return code == CLI_EXIT_OK && crc < 0 ? cli_lib_err("meta", crc) : code;
}
