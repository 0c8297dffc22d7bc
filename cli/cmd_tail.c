/*
 * cmd_tail.c - `evstore tail`: the last N events matching the filters, in position
 * order, and with -f every matching event appended after them, by any process, as it is
 * committed.
 *
 * Following is a forward cursor that is stepped again after it reports the end (it sees
 * later commits as it reaches them), with evs_wait in between: a futex in the store's
 * shared head page, so an idle follower costs nothing and wakes as soon as a writer
 * commits. The wait has a finite timeout so a signal or a closed stdout is noticed
 * within a fraction of a second even when no event arrives.
 */
#include "cli_common.h"

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static const char tail_help[] =
    "usage: evstore tail [DIR] [FILTERS] [-n N] [-f]\n"
    "\n"
    "Print the last N events that match the filters, oldest first, as NDJSON in the\n"
    "form 'evstore read' prints. With -f, keep printing matching events as they are\n"
    "appended, by this or any other process, until interrupted (SIGINT, SIGTERM) or\n"
    "until the reader of the output goes away; both end with exit code 0.\n"
    "\n"
    "options:\n"
    "  -n N, --lines N    how many past events to print first (default 10; 0: none)\n"
    "  -f, --follow       then wait for new events and print them as they "
    "come\n" CLI_FILTER_SEL_HELP "  --help, -h         this text\n"
    "\n"
    "DIR defaults to $EVSTORE_DIR; the store must exist.\n"
    "Exit codes: 0 ok, 1 error, 2 usage, 5 corrupt store.\n";

enum { OPT_LINES = CLI_F_SEL_COUNT, OPT_FOLLOW };

static const cli_optdef tail_opts[] = {
    CLI_FILTER_SEL_OPTDEFS,
    [OPT_LINES] = {"lines", true, 'n'},
    [OPT_FOLLOW] = {"follow", false, 'f'},
    {NULL, false, 0},
};

/* How long one wait lasts at most: the delay before a signal or a closed stdout is
 * noticed when no event arrives. */
#define WAIT_MS 200

struct tail_args {
    const char *dir;
    cli_filter filter;
    int64_t lines;
    bool follow;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* -n or -f. */
static int set_option(void *ctx, int opt, const char *value)
{
    struct tail_args *ta = ctx;
    if (opt == OPT_FOLLOW) {
        ta->follow = true;
        return CLI_EXIT_OK;
    }
    if (!cli_parse_i64(value, strlen(value), 0, EVS_MAX_BATCH_COUNT, &ta->lines))
        return cli_usage("tail", "-n wants a count from 0 to %u, not '%s'", EVS_MAX_BATCH_COUNT,
                         value);
    return CLI_EXIT_OK;
}

/* Returns an exit code, or -1 for --help. */
static int parse_args(struct tail_args *ta, int argc, char **argv)
{
    return cli_filter_parse_args(&ta->filter, &ta->dir, "tail", tail_opts, CLI_F_SEL_COUNT, argc,
                                 argv, set_option, ta);
}

/* The position to print from so that the last `lines` matching events up to `head` are
 * printed: found by reading backwards, which costs only those events (or the scan
 * back to the oldest match). */
static int find_start(evs_store *store, const struct tail_args *ta, int64_t head, int64_t *out)
{
    *out = head + 1;
    if (ta->lines == 0 || head == 0)
        return 0;
    evs_query q = ta->filter.query;
    q.direction = EVS_BACKWARD;
    q.from_pos = head;
    q.limit = (uint64_t)ta->lines;
    /* A stream query starts from a version, not a position. */
    q.from_version = -1;
    evs_cursor *cur;
    int rc = evs_cursor_open(&cur, store, &q);
    if (rc < 0)
        return rc;
    evs_event ev;
    while ((rc = evs_cursor_next(&ev, cur)) > 0)
        *out = ev.pos;
    evs_cursor_close(cur);
    return rc;
}

/* True when standard output is a pipe or socket whose reader went away: then nothing
 * will ever be read again, and waiting for events to find out by EPIPE could take
 * forever on a quiet store. */
static bool output_gone(void)
{
    struct pollfd pfd = {.fd = STDOUT_FILENO, .events = POLLOUT, .revents = 0};
    return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLERR | POLLHUP)) != 0;
}

/* Print what the cursor has, then, when following, wait for more and repeat. */
static int run(evs_store *store, evs_cursor *cur, bool follow, cli_out *out)
{
    for (;;) {
        /* Taken before stepping: the wait below returns at once if anything was
         * committed after this, so no commit slips between the end and the wait. */
        int64_t head = evs_head(store);
        evs_event ev;
        int rc;
        while ((rc = evs_cursor_next(&ev, cur)) > 0 && !stop_requested) {
            if (cli_out_event(out, &ev) < 0)
                break;
        }
        (void)cli_out_flush(out);
        if (rc < 0)
            return cli_lib_err("tail", rc);
        if (!follow || out->err != 0)
            return cli_out_report("tail", out);
        while (!stop_requested && !output_gone()) {
            rc = evs_wait(NULL, store, head, WAIT_MS);
            if (rc == 0)
                break;
            if (rc != EVS_ETIMEDOUT)
                return cli_lib_err("tail", rc);
        }
        if (stop_requested || output_gone())
            return CLI_EXIT_OK;
    }
}

static int tail_store(evs_store *store, struct tail_args *ta)
{
    int64_t head = evs_head(store);
    int64_t start;
    int rc = find_start(store, ta, head, &start);
    if (rc < 0)
        return cli_lib_err("tail", rc);
    evs_query q = ta->filter.query;
    q.from_pos = start;
    /* Without -f, stop where the store ended when we looked, so "the last N" holds. */
    q.to_pos = ta->follow ? 0 : head;
    if (!ta->follow && start > head)
        return CLI_EXIT_OK;
    evs_cursor *cur;
    rc = evs_cursor_open(&cur, store, &q);
    if (rc < 0)
        return cli_lib_err("tail", rc);
    cli_out out;
    int code;
    if (cli_out_init(&out, STDOUT_FILENO, 256u << 10) < 0) {
        cli_err("tail", "out of memory");
        code = CLI_EXIT_ERROR;
    } else {
        code = run(store, cur, ta->follow, &out);
        cli_out_free(&out);
    }
    evs_cursor_close(cur);
    return code;
}

int cli_cmd_tail(int argc, char **argv)
{
    struct tail_args ta = {.dir = NULL, .lines = 10, .follow = false};
    if (cli_filter_init(&ta.filter, "tail", argc) != CLI_EXIT_OK)
        return CLI_EXIT_ERROR;
    int code = parse_args(&ta, argc, argv);
    if (code != CLI_EXIT_OK) {
        cli_filter_free(&ta.filter);
        return code < 0 ? cli_help(tail_help) : code;
    }
    evs_store *store = NULL;
    if (ta.follow) {
        /* No SA_RESTART: a signal should cut a wait short, not resume it. */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        (void)sigaction(SIGINT, &sa, NULL);
        (void)sigaction(SIGTERM, &sa, NULL);
        /* Not read-only: a read-only handle's wait is not woken by the writer's futex
         * wake at once. NOCREATE: tail never makes a store. */
        evs_options opts = EVS_OPTIONS_INIT;
        opts.flags = EVS_OPEN_NOCREATE;
        int rc = evs_open(&store, ta.dir, &opts);
        if (rc < 0)
            code = cli_lib_err("tail", rc);
    } else {
        store = cli_open_readonly("tail", ta.dir, &code);
    }
    if (store != NULL) {
        code = tail_store(store, &ta);
        evs_close(store);
    }
    cli_filter_free(&ta.filter);
    return code;
}
