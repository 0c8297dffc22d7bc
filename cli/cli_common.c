/*
 * cli_common.c - option parsing, messages, exit codes and argument values shared by
 * every evstore subcommand.
 *
 * The option parser is hand-written rather than getopt_long: getopt_long prints its own
 * messages in its own format (we want "evstore <cmd>: ..." plus a pointer to --help on
 * one line), keeps global state, is a GNU extension outside _POSIX_C_SOURCE, and accepts
 * abbreviations (--str for --stream), which silently change meaning the day a second
 * option with the same prefix is added. Ours is ~60 lines and does exactly what the
 * subcommands need: --name, --name=value, --name value, -h, "--", positional arguments
 * anywhere. After "--" every argument is positional, in every command: that is how a
 * name starting with '-' is given.
 */
#include "cli_common.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_parser_init(cli_parser *p, const char *cmd, int argc, char **argv)
{
    p->cmd = cmd;
    p->argc = argc;
    p->argv = argv;
    p->next = 1; /* argv[0] is the subcommand */
    p->only_args = false;
    p->value = NULL;
}

static int find_opt(const cli_optdef *defs, const char *name, size_t name_len)
{
    for (int i = 0; defs[i].name != NULL; i++) {
        if (strlen(defs[i].name) == name_len && memcmp(defs[i].name, name, name_len) == 0)
            return i;
    }
    return -1;
}

/* The one rule for names that look like options (a consumer '-internal.BENCH', a store
 * '--old'): every command takes them after "--", and says so when it meets one. */
static int unknown_opt(const cli_parser *p, const char *a, size_t len)
{
    cli_usage(p->cmd,
              "unknown option '%.*s'; a name or path that starts with '-' goes after "
              "'--' (evstore %s ... -- %.*s)",
              (int)len, a, p->cmd, (int)len, a);
    return CLI_OPT_BAD;
}

/* "-n 5", "-n5" or "-f": one letter per argument (no bundling like -fn5, which reads
 * ambiguously and nobody needs for two options). */
static int short_opt(cli_parser *p, const cli_optdef *defs, const char *a)
{
    int i = 0;
    while (defs[i].name != NULL && defs[i].short_name != a[1])
        i++;
    if (defs[i].name == NULL || (!defs[i].has_value && a[2] != '\0'))
        return unknown_opt(p, a, strlen(a));
    if (!defs[i].has_value)
        return i;
    if (a[2] != '\0') {
        p->value = a + 2;
    } else if (p->next < p->argc) {
        p->value = p->argv[p->next++];
    } else {
        cli_usage(p->cmd, "option '-%c' needs a value", a[1]);
        return CLI_OPT_BAD;
    }
    return i;
}

int cli_parser_next(cli_parser *p, const cli_optdef *defs)
{
    p->value = NULL;
    if (p->next >= p->argc)
        return CLI_OPT_END;
    const char *a = p->argv[p->next++];
    if (strcmp(a, "--") == 0 && !p->only_args) {
        p->only_args = true;
        if (p->next >= p->argc)
            return CLI_OPT_END;
        p->value = p->argv[p->next++];
        return CLI_OPT_ARG;
    }
    /* "-" alone is an argument (conventionally stdin), not an option. */
    if (p->only_args || a[0] != '-' || a[1] == '\0') {
        p->value = a;
        return CLI_OPT_ARG;
    }
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
        return CLI_OPT_HELP;
    if (a[1] != '-')
        return short_opt(p, defs, a);

    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    size_t name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
    int i = find_opt(defs, name, name_len);
    if (i < 0)
        return unknown_opt(p, a, name_len + 2);
    if (!defs[i].has_value) {
        if (eq != NULL) {
            cli_usage(p->cmd, "option '--%s' takes no value", defs[i].name);
            return CLI_OPT_BAD;
        }
        return i;
    }
    if (eq != NULL) {
        p->value = eq + 1;
    } else if (p->next < p->argc) {
        p->value = p->argv[p->next++];
    } else {
        cli_usage(p->cmd, "option '--%s' needs a value", defs[i].name);
        return CLI_OPT_BAD;
    }
    return i;
}

/* Compose the whole line first so it reaches stderr in one write: messages from
 * concurrent writers to the same terminal or log must not interleave mid-line. */
static void vmsg(const char *cmd, const char *fmt, va_list ap, const char *tail)
    __attribute__((format(printf, 2, 0)));

static void vmsg(const char *cmd, const char *fmt, va_list ap, const char *tail)
{
    char line[8192];
    size_t n = 0;
    int k = snprintf(line, sizeof line, "evstore %s: ", cmd);
    if (k > 0)
        n = (size_t)k < sizeof line ? (size_t)k : sizeof line - 1;
    k = vsnprintf(line + n, sizeof line - n, fmt, ap);
    if (k > 0)
        n = n + (size_t)k < sizeof line ? n + (size_t)k : sizeof line - 1;
    if (tail != NULL) {
        k = snprintf(line + n, sizeof line - n, "%s", tail);
        if (k > 0)
            n = n + (size_t)k < sizeof line ? n + (size_t)k : sizeof line - 1;
    }
    line[n] = '\n';
    (void)fwrite(line, 1, n + 1, stderr);
}

void cli_err(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(cmd, fmt, ap, NULL);
    va_end(ap);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    char tail[96];
    (void)snprintf(tail, sizeof tail, " (try 'evstore %s --help')", cmd);
    va_list ap;
    va_start(ap, fmt);
    vmsg(cmd, fmt, ap, tail);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

int cli_exit_code(int rc)
{
    switch (rc) {
    case EVS_OK:
        return CLI_EXIT_OK;
    case EVS_ECONFLICT:
        return CLI_EXIT_CONFLICT;
    case EVS_EIDCONFLICT:
        return CLI_EXIT_IDCONFLICT;
    case EVS_EDELETED:
        return CLI_EXIT_DELETED;
    case EVS_EINVAL:
        return CLI_EXIT_INVALID;
    case EVS_ECORRUPT:
    case EVS_ELOST: /* events a consumer processed are gone from the log */
        return CLI_EXIT_CORRUPT;
    default:
        return CLI_EXIT_ERROR;
    }
}

/* The library names its function first ("evs_consumer_reset: position ..."), which
 * helps a C programmer; a CLI user named a command, not a function. */
static const char *without_function_name(const char *msg)
{
    if (strncmp(msg, "evs_", 4) != 0)
        return msg;
    const char *p = msg + 4;
    while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')
        p++;
    return p[0] == ':' && p[1] == ' ' ? p + 2 : msg;
}

const char *cli_remedy(const char *cmd, int rc, const char *msg)
{
    /* The library names the damage, not the tool: only the CLI knows whether the one
     * reporting it is verify itself. */
    if (rc != EVS_ECORRUPT || strcmp(cmd, "verify") == 0 || strcmp(cmd, "repair") == 0 ||
        strstr(msg, "'evstore ") != NULL)
        return "";
    return "; run 'evstore verify' to list the damage";
}

int cli_lib_err(const char *cmd, int rc)
{
    const char *msg = evs_errmsg();
    if (msg[0] == '\0')
        msg = evs_errstr(rc);
    cli_err(cmd, "%s%s", without_function_name(msg), cli_remedy(cmd, rc, msg));
    return cli_exit_code(rc);
}

void cli_warn_future_ts(const char *cmd, int64_t last_ts_ns)
{
    /* A second of slack: another machine's clock, or this one stepped by NTP. */
    int64_t ahead = last_ts_ns - evs__now_ns();
    if (ahead <= 1000000000LL)
        return;
    char ts[48];
    size_t n = evs_time_format(ts, sizeof ts, last_ts_ns);
    bool days = ahead > 48 * 3600 * 1000000000LL;
    cli_err(cmd,
            "warning: the last event's time, %.*s, is %.1f %s ahead of this machine's "
            "clock; an event's time never goes backwards, so new events get that time "
            "until the clock passes it",
            (int)n, ts, (double)ahead / (days ? 8.64e13 : 3.6e12), days ? "days" : "hours");
}

int cli_help(const char *text)
{
    (void)fputs(text, stdout);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

bool cli_parse_size(const char *s, uint64_t *out)
{
    size_t len = strlen(s);
    int shift = 0;
    if (len > 1) {
        const char *units = "KMGT";
        const char *u = strchr(units, s[len - 1]);
        if (u != NULL) {
            shift = 10 * (int)(u - units + 1);
            len--;
        }
    }
    int64_t n;
    if (!cli_parse_i64(s, len, 1, (int64_t)1 << 40, &n) || (shift && n > ((int64_t)1 << 62) >> shift))
        return false;
    *out = (uint64_t)n << shift;
    return true;
}

bool cli_parse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == len)
        return false;
    /* Accumulate negatively so INT64_MIN fits. */
    int64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        int d = s[i] - '0';
        if (v < (INT64_MIN + d) / 10)
            return false;
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == INT64_MIN)
            return false;
        v = -v;
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool cli_parse_expected(const char *s, size_t len, int64_t *out)
{
    static const struct {
        const char *name;
        int64_t value;
    } names[] = {{"any", EVS_EXPECT_ANY},
                 {"no_stream", EVS_EXPECT_NO_STREAM},
                 {"exists", EVS_EXPECT_EXISTS}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].name) == len && memcmp(names[i].name, s, len) == 0) {
            *out = names[i].value;
            return true;
        }
    }
    /* A leading sign is not a version: "-1" must be written no_stream. */
    if (len == 0 || s[0] < '0' || s[0] > '9')
        return false;
    return cli_parse_i64(s, len, 0, INT64_MAX, out);
}

bool cli_parse_sync(const char *s, evs_sync_mode *out)
{
    static const char *const names[] = {"always", "batch", "none"};
    static const evs_sync_mode modes[] = {EVS_SYNC_ALWAYS, EVS_SYNC_BATCH, EVS_SYNC_NONE};
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = modes[i];
            return true;
        }
    }
    return false;
}

const char *cli_expected_str(int64_t expected, char buf[24])
{
    switch (expected) {
    case EVS_EXPECT_ANY:
        return "any";
    case EVS_EXPECT_NO_STREAM:
        return "no_stream";
    case EVS_EXPECT_EXISTS:
        return "exists";
    default:
        (void)snprintf(buf, 24, "%lld", (long long)expected);
        return buf;
    }
}

const char *cli_store_dir(const char *cmd, const char *arg)
{
    if (arg != NULL && arg[0] != '\0')
        return arg;
    const char *env = getenv("EVSTORE_DIR");
    if (env != NULL && env[0] != '\0')
        return env;
    cli_usage(cmd, "missing DIR (give it, or set EVSTORE_DIR)");
    return NULL;
}

bool cli_name_ok(const char *option, const char *s, size_t max_len, char *why, size_t why_len)
{
    size_t len = strlen(s);
    if (len == 0) {
        (void)snprintf(why, why_len, "%s must not be empty", option);
        return false;
    }
    if (len > max_len) {
        (void)snprintf(why, why_len, "%s is longer than %zu bytes", option, max_len);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            (void)snprintf(why, why_len, "%s contains a control character at byte %zu",
                           option, i);
            return false;
        }
    }
    return true;
}

bool cli_check_name(const char *cmd, const char *option, const char *s, size_t max_len)
{
    char why[256];
    if (cli_name_ok(option, s, max_len, why, sizeof why))
        return true;
    cli_usage(cmd, "%s", why);
    return false;
}

evs_store *cli_open_readonly(const char *cmd, const char *dir, int *exit_code)
{
    evs_options opts = EVS_OPTIONS_INIT;
    opts.flags = EVS_OPEN_READONLY | EVS_OPEN_NOCREATE;
    evs_store *store = NULL;
    int rc = evs_open(&store, dir, &opts);
    if (rc < 0) {
        *exit_code = cli_lib_err(cmd, rc);
        return NULL;
    }
    *exit_code = CLI_EXIT_OK;
    return store;
}

int cli_parser_next_dir(cli_parser *p, const cli_optdef *opts, const char **dir)
{
    for (;;) {
        int opt = cli_parser_next(p, opts);
        if (opt != CLI_OPT_ARG)
            return opt;
        if (*dir != NULL) {
            cli_usage(p->cmd, "unexpected argument '%s'", p->value);
            return CLI_OPT_BAD;
        }
        *dir = p->value;
    }
}
