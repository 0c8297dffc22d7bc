/*
 * cli_filter.c - the event filters that read, tail and export share: option values
 * into an evs_query, with the checks across options (--from-version needs --stream,
 * --until after --since) done here once so the commands agree on them.
 */
#include "cli_common.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_filter_init(cli_filter *f, const char *cmd, int argc)
{
    evs_query q = EVS_QUERY_INIT;
    memset(f, 0, sizeof *f);
    f->query = q;
    /* At most one --type per argument, so argc bounds the array. */
    f->types = calloc((size_t)argc + 1, sizeof *f->types);
    if (f->types == NULL) {
        cli_err(cmd, "out of memory");
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}

void cli_filter_free(cli_filter *f)
{
    free(f->types);
    f->types = NULL;
}

/* How an option is spelt in messages: "--from-version" on the command line,
 * "from_version" as a query parameter of the server. */
static const char *opt_name(const cli_filter *f, int opt)
{
    static const char *const cli[CLI_F_COUNT] = {
        "--stream", "--type",  "--category",     "--prefix",    "--since",  "--until",
        "--from",   "--to",    "--from-version", "--backwards", "--limit",
    };
    static const char *const query[CLI_F_COUNT] = {
        "stream", "type", "category",     "prefix",    "since", "until",
        "from",   "to",   "from_version", "backwards", "limit",
    };
    return f->query_names ? query[opt] : cli[opt];
}

static bool set_time(const char *option, const char *v, int64_t *out, char *why, size_t why_len)
{
    int64_t t;
    char reason[200];
    if (!cli_parse_time(v, evs__now_ns(), &t, reason, sizeof reason)) {
        (void)snprintf(why, why_len,
                       "%s '%s': %s; a time is RFC 3339 (2026-11-23T12:00:00Z), a date "
                       "(2026-11-23), 'now' or a span back from now (-30s, -1.5h, -2w)",
                       option, v, reason);
        return false;
    }
    /* The query's 0 means "no bound"; a time at the epoch itself is 1 ns later. */
    *out = t != 0 ? t : 1;
    return true;
}

static bool set_count(const char *option, const char *v, const char *what, int64_t *out,
                      char *why, size_t why_len)
{
    if (cli_parse_i64(v, strlen(v), 0, INT64_MAX, out))
        return true;
    (void)snprintf(why, why_len, "%s wants a %s >= 0, not '%s'", option, what, v);
    return false;
}

bool cli_filter_apply(cli_filter *f, int opt, const char *v, char *why, size_t why_len)
{
    evs_query *q = &f->query;
    const char *name = opt_name(f, opt);
    int64_t n;
    switch (opt) {
    case CLI_F_STREAM:
    case CLI_F_TYPE:
    case CLI_F_CATEGORY:
    case CLI_F_PREFIX:
        if (!cli_name_ok(name, v, opt == CLI_F_TYPE ? EVS_MAX_TYPE_LEN : EVS_MAX_STREAM_LEN, why,
                         why_len))
            return false;
        if (opt == CLI_F_STREAM)
            q->stream = v;
        else if (opt == CLI_F_CATEGORY)
            q->category = v;
        else if (opt == CLI_F_PREFIX)
            q->prefix = v;
        else {
            f->types[f->type_count++] = v;
            q->types = f->types;
            q->type_count = f->type_count;
        }
        return true;
    case CLI_F_SINCE:
        return set_time(name, v, &q->since_ns, why, why_len);
    case CLI_F_UNTIL:
        return set_time(name, v, &q->until_ns, why, why_len);
    case CLI_F_FROM:
        return set_count(name, v, "position", &q->from_pos, why, why_len);
    case CLI_F_TO:
        return set_count(name, v, "position", &q->to_pos, why, why_len);
    case CLI_F_FROM_VERSION:
        if (!set_count(name, v, "version", &n, why, why_len))
            return false;
        q->from_version = n;
        f->from_version = true;
        return true;
    case CLI_F_BACKWARDS:
        q->direction = EVS_BACKWARD;
        return true;
    case CLI_F_LIMIT:
        if (!set_count(name, v, "count", &n, why, why_len))
            return false;
        q->limit = (uint64_t)n;
        f->limit_zero = n == 0;
        return true;
    default:
        (void)snprintf(why, why_len, "unknown filter option %d", opt);
        return false;
    }
}

int cli_filter_set(cli_filter *f, const char *cmd, int opt, const char *v)
{
    char why[512];
    if (!cli_filter_apply(f, opt, v, why, sizeof why))
        return cli_usage(cmd, "%s", why);
    return CLI_EXIT_OK;
}

bool cli_filter_check(const cli_filter *f, char *why, size_t why_len)
{
    const evs_query *q = &f->query;
    if (f->from_version && q->stream == NULL) {
        (void)snprintf(why, why_len, "%s needs %s", opt_name(f, CLI_F_FROM_VERSION),
                       opt_name(f, CLI_F_STREAM));
        return false;
    }
    if (q->since_ns != 0 && q->until_ns != 0 && q->until_ns <= q->since_ns) {
        (void)snprintf(why, why_len, "%s must be later than %s", opt_name(f, CLI_F_UNTIL),
                       opt_name(f, CLI_F_SINCE));
        return false;
    }
    return true;
}

int cli_filter_finish(cli_filter *f, const char *cmd)
{
    char why[256];
    if (!cli_filter_check(f, why, sizeof why))
        return cli_usage(cmd, "%s", why);
    return CLI_EXIT_OK;
}

int cli_filter_parse_args(cli_filter *f, const char **dir, const char *cmd,
                          const cli_optdef *opts, int filter_count, int argc, char **argv,
                          cli_own_option_fn own, void *ctx)
{
    cli_parser p;
    cli_parser_init(&p, cmd, argc, argv);
    const char *dir_arg = NULL;
    int opt;
    while ((opt = cli_parser_next_dir(&p, opts, &dir_arg)) != CLI_OPT_END) {
        if (opt == CLI_OPT_BAD)
            return CLI_EXIT_USAGE;
        if (opt == CLI_OPT_HELP)
            return -1;
        int code = opt < filter_count ? cli_filter_set(f, cmd, opt, p.value)
                                      : own(ctx, opt, p.value);
        if (code != CLI_EXIT_OK)
            return code;
    }
    int code = cli_filter_finish(f, cmd);
    if (code != CLI_EXIT_OK)
        return code;
    *dir = cli_store_dir(cmd, dir_arg);
    return *dir != NULL ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}
