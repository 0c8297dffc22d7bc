/*
 * cli_filter.c - the event filters that read, tail and export share: option values
 * into an evs_query, with the checks across options (--from-version needs --stream,
 * --until after --since) done here once so the commands agree on them.
 */
#include "cli_common.h"
#include "util.h"

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

static int set_time(const char *cmd, const char *option, const char *v, int64_t *out)
{
    int64_t t;
    char why[200];
    if (!cli_parse_time(v, evs__now_ns(), &t, why, sizeof why))
        return cli_usage(cmd,
                         "%s '%s': %s; a time is RFC 3339 (2026-11-23T12:00:00Z), a date "
                         "(2026-11-23), 'now' or a span back from now (-30s, -1.5h, -2w)",
                         option, v, why);
    /* The query's 0 means "no bound"; a time at the epoch itself is 1 ns later. */
    *out = t != 0 ? t : 1;
    return CLI_EXIT_OK;
}

static int set_pos(const char *cmd, const char *option, const char *v, int64_t *out)
{
    if (!cli_parse_i64(v, strlen(v), 0, INT64_MAX, out))
        return cli_usage(cmd, "%s wants a position >= 0, not '%s'", option, v);
    return CLI_EXIT_OK;
}

int cli_filter_set(cli_filter *f, const char *cmd, int opt, const char *v)
{
    evs_query *q = &f->query;
    int64_t n;
    switch (opt) {
    case CLI_F_STREAM:
        if (!cli_check_name(cmd, "--stream", v, EVS_MAX_STREAM_LEN))
            return CLI_EXIT_USAGE;
        q->stream = v;
        return CLI_EXIT_OK;
    case CLI_F_TYPE:
        if (!cli_check_name(cmd, "--type", v, EVS_MAX_TYPE_LEN))
            return CLI_EXIT_USAGE;
        f->types[f->type_count++] = v;
        q->types = f->types;
        q->type_count = f->type_count;
        return CLI_EXIT_OK;
    case CLI_F_CATEGORY:
        if (!cli_check_name(cmd, "--category", v, EVS_MAX_STREAM_LEN))
            return CLI_EXIT_USAGE;
        q->category = v;
        return CLI_EXIT_OK;
    case CLI_F_PREFIX:
        if (!cli_check_name(cmd, "--prefix", v, EVS_MAX_STREAM_LEN))
            return CLI_EXIT_USAGE;
        q->prefix = v;
        return CLI_EXIT_OK;
    case CLI_F_SINCE:
        return set_time(cmd, "--since", v, &q->since_ns);
    case CLI_F_UNTIL:
        return set_time(cmd, "--until", v, &q->until_ns);
    case CLI_F_FROM:
        return set_pos(cmd, "--from", v, &q->from_pos);
    case CLI_F_TO:
        return set_pos(cmd, "--to", v, &q->to_pos);
    case CLI_F_FROM_VERSION:
        if (!cli_parse_i64(v, strlen(v), 0, INT64_MAX, &n))
            return cli_usage(cmd, "--from-version wants a version >= 0, not '%s'", v);
        q->from_version = n;
        f->from_version = true;
        return CLI_EXIT_OK;
    case CLI_F_BACKWARDS:
        q->direction = EVS_BACKWARD;
        return CLI_EXIT_OK;
    case CLI_F_LIMIT:
        if (!cli_parse_i64(v, strlen(v), 0, INT64_MAX, &n))
            return cli_usage(cmd, "--limit wants a count >= 0, not '%s'", v);
        q->limit = (uint64_t)n;
        f->limit_zero = n == 0;
        return CLI_EXIT_OK;
    default:
        return CLI_EXIT_USAGE;
    }
}

int cli_filter_finish(cli_filter *f, const char *cmd)
{
    const evs_query *q = &f->query;
    if (f->from_version && q->stream == NULL)
        return cli_usage(cmd, "--from-version needs --stream");
    if (q->since_ns != 0 && q->until_ns != 0 && q->until_ns <= q->since_ns)
        return cli_usage(cmd, "--until must be later than --since");
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
