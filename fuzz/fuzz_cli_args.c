/*
 * fuzz_cli_args.c - fuzz target for the CLI's hand-written argument handling
 * (cli/cli_common.c, cli/cli_filter.c): the option parser, the filter options every
 * reading command shares, and the value parsers (integers, expected versions, times).
 *
 * The input is a command line: arguments separated by NUL bytes, each in an exact-size
 * heap copy so that a read past one is a heap overflow ASan reports. It is parsed with
 * an option table like `evstore tail`'s (the shared filters and range, a value option
 * with a short form, a flag with a short form), the way the commands parse theirs.
 *
 * Checks beyond "no crash": the parser always ends (each call consumes an argument or
 * ends), returns only an option index or a CLI_OPT_* value, and a value it hands out
 * lies inside one of the arguments; integers that parse stay in their range.
 */
#include "cli_common.h"
#include "evstore.h"
#include "fuzz_common.h"

#include <stdbool.h>
#include <string.h>

#define MAX_ARGS 48

enum { OPT_LINES = CLI_F_COUNT, OPT_FOLLOW, OPT_EXPECTED, OPT_TIMEOUT };

static const cli_optdef opts[] = {
    CLI_FILTER_SEL_OPTDEFS,
    CLI_FILTER_RANGE_OPTDEFS,
    [OPT_LINES] = {"lines", true, 'n'},
    [OPT_FOLLOW] = {"follow", false, 'f'},
    [OPT_EXPECTED] = {"expected-version", true, 0},
    [OPT_TIMEOUT] = {"timeout", true, 0},
    {NULL, false, 0},
};

static bool inside_an_arg(const char *v, char **argv, int argc)
{
    for (int i = 0; i < argc; i++)
        if (v >= argv[i] && v <= argv[i] + strlen(argv[i]))
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    argv[argc++] = strdup("tail");
    for (size_t start = 0; start <= size && argc < MAX_ARGS;) {
        const uint8_t *nul = memchr(data + start, 0, size - start);
        size_t len = nul ? (size_t)(nul - (data + start)) : size - start;
        char *a = malloc(len + 1);
        FZ_CHECK(a != NULL);
        memcpy(a, data + start, len);
        a[len] = '\0';
        argv[argc++] = a;
        start += len + 1;
    }
    argv[argc] = NULL;

    cli_filter f;
    FZ_CHECK(cli_filter_init(&f, "tail", argc) == CLI_EXIT_OK);
    cli_parser p;
    cli_parser_init(&p, "tail", argc, argv);
    const char *dir = NULL;
    bool ok = true;
    for (int steps = 0;; steps++) {
        FZ_CHECK(steps <= argc); /* every call consumes at least one argument */
        int opt = cli_parser_next_dir(&p, opts, &dir);
        if (opt == CLI_OPT_END || opt == CLI_OPT_HELP)
            break;
        if (opt == CLI_OPT_BAD) {
            ok = false;
            break;
        }
        FZ_CHECK(opt >= 0 && opt < (int)(sizeof opts / sizeof opts[0]) - 1);
        FZ_CHECK(!opts[opt].has_value || (p.value && inside_an_arg(p.value, argv, argc)));
        int64_t v;
        if (opt < CLI_F_COUNT) {
            if (cli_filter_set(&f, "tail", opt, p.value) != CLI_EXIT_OK)
                ok = false;
        } else if (opt == OPT_LINES) {
            if (cli_parse_i64(p.value, strlen(p.value), 0, 1000000, &v))
                FZ_CHECK(v >= 0 && v <= 1000000);
        } else if (opt == OPT_EXPECTED) {
            if (cli_parse_expected(p.value, strlen(p.value), &v)) {
                char buf[24];
                FZ_CHECK(cli_expected_str(v, buf) != NULL);
            }
        } else if (opt == OPT_TIMEOUT) {
            char why[200];
            (void)cli_parse_time(p.value, 0, &v, why, sizeof why);
        }
    }
    if (ok)
        (void)cli_filter_finish(&f, "tail");
    if (dir)
        FZ_CHECK(inside_an_arg(dir, argv, argc));
    cli_filter_free(&f);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return 0;
}
