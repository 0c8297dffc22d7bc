/*
 * http_params.c - query parameters into the CLI's read filters: the same names as the
 * options of `evstore read` (from_version for --from-version), the same checks and
 * messages, through cli_filter_apply.
 */
#include "server.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

static const char *const filter_params[CLI_F_COUNT] = {
    "stream", "type", "category",     "prefix",    "since", "until",
    "from",   "to",   "from_version", "backwards", "limit",
};

struct walk {
    cli_filter *f;
    bool stream_route;
    const char *const *extra;
    char why[512];
    bool bad;
};

static bool is_extra(const char *const *extra, const char *key)
{
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
        if (strcmp(extra[i], key) == 0)
            return true;
    }
    return false;
}

bool srv_filter_param(cli_filter *f, bool stream_route, const char *key, const char *value,
                      char *why, size_t why_len)
{
    int opt = -1;
    for (int i = 0; i < CLI_F_COUNT; i++) {
        if (strcmp(filter_params[i], key) == 0)
            opt = i;
    }
    /* A whole-stream route takes its stream from the path, and reads in version order. */
    bool allowed =
        opt >= 0 && (stream_route ? opt != CLI_F_STREAM && opt != CLI_F_FROM && opt != CLI_F_TO
                                  : opt != CLI_F_FROM_VERSION);
    if (!allowed) {
        (void)snprintf(why, why_len, "unknown query parameter '%s'", key);
        return false;
    }
    if (opt == CLI_F_BACKWARDS && value != NULL && strcmp(value, "0") == 0)
        return true;
    return cli_filter_apply(f, opt, value != NULL ? value : "", why, why_len);
}

static enum MHD_Result one_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    struct walk *w = cls;
    if (is_extra(w->extra, key))
        return MHD_YES;
    if (!srv_filter_param(w->f, w->stream_route, key, value, w->why, sizeof w->why)) {
        w->bad = true;
        return MHD_NO;
    }
    return MHD_YES;
}

int srv_params_filter(srv_req *r, cli_filter *f, const char *path_stream, const char *const *extra,
                      int *reply_rc)
{
    int n = MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, NULL, NULL);
    if (cli_filter_init(f, "serve", n > 0 ? n : 1) != CLI_EXIT_OK) {
        *reply_rc = srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
        return -1;
    }
    f->query_names = true;
    struct walk w = {.f = f, .stream_route = path_stream != NULL, .extra = extra};
    (void)MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, one_param, &w);
    if (!w.bad && path_stream != NULL &&
        !cli_filter_apply(f, CLI_F_STREAM, path_stream, w.why, sizeof w.why))
        w.bad = true;
    if (!w.bad && !cli_filter_check(f, w.why, sizeof w.why))
        w.bad = true;
    if (w.bad) {
        *reply_rc = srv_error(r, MHD_HTTP_BAD_REQUEST, "invalid_input", "%s", w.why);
        cli_filter_free(f);
        return -1;
    }
    return 0;
}

bool srv_param_i64(srv_req *r, const char *name, int64_t min, int64_t max, int64_t *out,
                   int *reply_rc)
{
    const char *v = srv_param(r, name);
    if (v == NULL)
        return true;
    if (!cli_parse_i64(v, strlen(v), min, max, out)) {
        *reply_rc = srv_error(r, MHD_HTTP_BAD_REQUEST, "invalid_input",
                              "%s wants a number from %lld to %lld, not '%s'", name, (long long)min,
                              (long long)max, v);
        return false;
    }
    return true;
}
