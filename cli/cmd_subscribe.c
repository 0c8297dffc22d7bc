/*
 * cmd_subscribe.c - `evstore subscribe`: print matching events as NDJSON and keep
 * following new ones. With --consumer NAME it is a durable consumer: it starts after
 * the consumer's checkpoint and acknowledges each event once its line is written, so a
 * pipeline `evstore subscribe --consumer N | handler` resumes where it stopped.
 * With --live it is a live subscription (evs_subscribe_live): from the head, no
 * checkpoint, skipping ahead when it falls more than --max-lag positions behind.
 * Otherwise a plain subscription from --from POS, the start or the end.
 *
 * With --exec CMD [ARG...] (a consumer only) the events go to runs of CMD in batches
 * instead, each acknowledged only when its run succeeded (subscribe_exec.c).
 *
 * All read through evs_consumer_next / evs_subscription_next, which sleep on the
 * store's futex; the wait is cut into short slices so that a signal, a closed stdout
 * or the --timeout is noticed promptly even when no event arrives.
 */
#include "cli_common.h"
#include "subscribe_exec.h"
#include "util.h"

#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char subscribe_help[] =
    "usage: evstore subscribe [DIR] --consumer NAME [--refilter] [FILTERS] [--limit N]\n"
    "                         [--timeout S]\n"
    "       evstore subscribe [DIR] --consumer NAME [--refilter] [FILTERS] [--limit N]\n"
    "                         [--timeout S] [--batch N] [--batch-wait S]\n"
    "                         --exec CMD [ARG...]\n"
    "       evstore subscribe [DIR] [--from POS | --from-end] [FILTERS] [--limit N]\n"
    "                         [--timeout S]\n"
    "       evstore subscribe [DIR] --live [--max-lag N] [FILTERS] [--limit N]\n"
    "                         [--timeout S]\n"
    "\n"
    "Print the events that match the filters as NDJSON, in the form 'evstore read'\n"
    "prints, then keep printing matching events as any process appends them, until\n"
    "interrupted (SIGINT, SIGTERM), the reader of the output goes away, N events were\n"
    "printed (--limit), or nothing new came for S seconds (--timeout); all of these\n"
    "end with exit code 0.\n"
    "\n"
    "With --consumer NAME it is a durable consumer (created on first use): it starts\n"
    "after NAME's checkpoint, the last event it acknowledged, so a restarted subscribe\n"
    "carries on where the last one stopped.\n"
    "ACK RULE: an event is acknowledged only after its line has been completely\n"
    "written to standard output (the output is flushed after every event); on exit\n"
    "the consumer is closed, which saves the checkpoint. An event whose line was not\n"
    "fully written is never acknowledged and is printed again by the next subscribe,\n"
    "so 'evstore subscribe --consumer NAME | handler' delivers every event at least\n"
    "once: make the handler idempotent. 'Written' means handed to the pipe: lines\n"
    "still in the pipe when the handler dies are acknowledged but were not handled;\n"
    "use 'evstore consumer reset' to replay from a position the handler trusts, or\n"
    "give the handler to --exec (below), which acknowledges only what it handled.\n"
    "Only one process may use a consumer at a time: a second subscribe with the same\n"
    "NAME fails with exit code 1 ('busy').\n"
    "The consumer keeps the filters of its first run ('evstore consumers' shows them):\n"
    "a checkpoint only says which events these filters delivered. A run with other\n"
    "filters fails with exit code 4 showing both, unless --refilter is given: then\n"
    "the consumer keeps the new filters from its checkpoint on, and events at or\n"
    "before the checkpoint that only the new filters match are never printed (reset\n"
    "the consumer to an earlier position to see them). A relative --since or --until\n"
    "is a new time at every run: give a consumer an absolute one.\n"
    "\n"
    "With --exec CMD [ARG...] (the rest of the command line; no shell: write\n"
    "--exec sh -c 'SCRIPT' for one) the events go to CMD instead of standard output,\n"
    "in batches: evstore starts CMD, writes the batch's lines (the ones subscribe\n"
    "prints) to its standard input as they are read, closes it, and waits. A batch\n"
    "is acknowledged only when CMD exits 0 having read all of its input; CMD exiting\n"
    "otherwise, killed by a signal, or leaving lines unread stops subscribe with\n"
    "exit code 1 and a message saying how CMD ended and which positions stay\n"
    "unacknowledged. The next run starts with that batch again: every event is\n"
    "handled at least once, and only a failed batch is repeated. CMD's standard\n"
    "output and error are subscribe's. A batch closes at N events (--batch), S\n"
    "seconds after its first event (--batch-wait), at --limit, or on SIGINT/SIGTERM\n"
    "(CMD then finishes the batch it has).\n"
    "\n"
    "With --live it is a live subscription, for dashboards and notifications where\n"
    "only what happens now matters: it starts at the head (as --from-end), keeps no\n"
    "checkpoint and acknowledges nothing, and when it falls more than N positions\n"
    "behind the head (--max-lag) it skips ahead to the newest N instead of working\n"
    "through the backlog, saying on stderr how many positions it skipped. Events it\n"
    "skips, and those appended while it is not running, are never printed: at most\n"
    "once, where --consumer is at least once.\n"
    "\n"
    "options:\n"
    "  --consumer NAME    durable consumer NAME (A-Z a-z 0-9 . _ -, up to 128 bytes)\n"
    "  --refilter         with --consumer: keep these filters from now on (see above)\n"
    "  --from POS         without --consumer: start at position POS (default: the\n"
    "                     first event)\n"
    "  --from-end         without --consumer: only events appended from now on\n"
    "  --live             a live subscription (see above)\n"
    "  --max-lag N        with --live: the most positions it may fall behind before\n"
    "                     it skips (N >= 1, default 1000)\n"
    "  --limit N          stop after N events (N >= 1)\n"
    "  --exec CMD [ARG...]  with --consumer: hand the events to CMD in batches (see\n"
    "                     above); must come last\n"
    "  --batch N          with --exec: at most N events a batch (default 1000)\n"
    "  --batch-wait S     with --exec: close a batch S seconds after its first event\n"
    "                     even if it is not full (default 0.1)\n"
    "  --timeout S        stop when nothing new came for S seconds (may be a decimal,\n"
    "                     0.5; 0: stop as soon as the stored events are "
    "printed)\n" CLI_FILTER_SEL_HELP "  --help, -h         this text\n"
    "\n"
    "DIR defaults to $EVSTORE_DIR; the store must exist. See also 'evstore consumers'\n"
    "and 'evstore consumer reset|delete'.\n"
    "Exit codes: 0 ok, 1 error (also: consumer busy, --exec's CMD failed), 2 usage,\n"
    "4 invalid (bad consumer name, filters other than the consumer keeps), 5 corrupt\n"
    "store, or a consumer whose checkpoint lies in positions a repair declared lost\n"
    "(reset it first).\n";

enum {
    OPT_CONSUMER = CLI_F_SEL_COUNT,
    OPT_FROM,
    OPT_FROM_END,
    OPT_LIVE,
    OPT_MAX_LAG,
    OPT_LIMIT,
    OPT_TIMEOUT,
    OPT_EXEC,
    OPT_BATCH,
    OPT_BATCH_WAIT,
    OPT_REFILTER
};

static const cli_optdef subscribe_opts[] = {
    CLI_FILTER_SEL_OPTDEFS,
    [OPT_CONSUMER] = {"consumer", true, 0},
    [OPT_FROM] = {"from", true, 0},
    [OPT_FROM_END] = {"from-end", false, 0},
    [OPT_LIVE] = {"live", false, 0},
    [OPT_MAX_LAG] = {"max-lag", true, 0},
    [OPT_LIMIT] = {"limit", true, 0},
    [OPT_TIMEOUT] = {"timeout", true, 0},
    [OPT_EXEC] = {"exec", false, 0},
    [OPT_BATCH] = {"batch", true, 0},
    [OPT_BATCH_WAIT] = {"batch-wait", true, 0},
    [OPT_REFILTER] = {"refilter", false, 0},
    {NULL, false, 0},
};

/* The longest single wait: how late a signal or a closed stdout may be noticed. */
#define WAIT_MS 200

/* --timeout at most this many seconds, so the milliseconds fit any arithmetic. */
#define MAX_TIMEOUT_S 1000000000LL

/* --max-lag without a value: enough backlog for a burst, little enough to stay current. */
#define DEFAULT_MAX_LAG 1000

struct subscribe_args {
    const char *dir;
    cli_filter filter;
    const char *consumer; /* NULL: a plain subscription */
    int64_t from;         /* EVS_FROM_START, EVS_FROM_END or a position */
    bool from_given;
    bool live;
    int64_t max_lag; /* 0: not given */
    int64_t limit;      /* 0: no limit */
    int64_t timeout_ms; /* -1: none */
    char *const *exec_argv; /* --exec's command, NULL-terminated; NULL: print */
    int64_t batch;          /* 0: not given */
    int64_t batch_wait_ms;  /* -1: not given */
    bool refilter;
};

/* The source of events: exactly one of the two is set. */
struct source {
    evs_consumer *consumer;
    evs_subscription *sub;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Seconds with up to 3 decimals into milliseconds; false when s is not that. */
static bool parse_seconds(const char *s, int64_t *ms)
{
    const char *dot = strchr(s, '.');
    size_t int_len = dot != NULL ? (size_t)(dot - s) : strlen(s);
    int64_t whole;
    if (int_len == 0 || s[0] == '-' || s[0] == '+' ||
        !cli_parse_i64(s, int_len, 0, MAX_TIMEOUT_S, &whole))
        return false;
    int64_t frac = 0;
    if (dot != NULL) {
        size_t n = strlen(dot + 1);
        if (n == 0 || n > 3 || dot[1] == '-' || dot[1] == '+' ||
            !cli_parse_i64(dot + 1, n, 0, 999, &frac))
            return false;
        for (; n < 3; n++)
            frac *= 10;
    }
    *ms = whole * 1000 + frac;
    return true;
}

static int set_option(struct subscribe_args *sa, int opt, const char *v)
{
    switch (opt) {
    case OPT_CONSUMER:
        sa->consumer = v;
        return CLI_EXIT_OK;
    case OPT_FROM:
        if (!cli_parse_i64(v, strlen(v), 0, INT64_MAX, &sa->from))
            return cli_usage("subscribe", "--from wants a position >= 0, not '%s'", v);
        if (sa->from_given)
            return cli_usage("subscribe", "--from and --from-end exclude each other");
        sa->from_given = true;
        return CLI_EXIT_OK;
    case OPT_FROM_END:
        if (sa->from_given)
            return cli_usage("subscribe", "--from and --from-end exclude each other");
        sa->from = EVS_FROM_END;
        sa->from_given = true;
        return CLI_EXIT_OK;
    case OPT_LIVE:
        sa->live = true;
        return CLI_EXIT_OK;
    case OPT_REFILTER:
        sa->refilter = true;
        return CLI_EXIT_OK;
    case OPT_MAX_LAG:
        if (!cli_parse_i64(v, strlen(v), 1, INT64_MAX, &sa->max_lag))
            return cli_usage("subscribe", "--max-lag wants a number of positions >= 1, not '%s'",
                             v);
        return CLI_EXIT_OK;
    case OPT_LIMIT:
        if (!cli_parse_i64(v, strlen(v), 1, INT64_MAX, &sa->limit))
            return cli_usage("subscribe", "--limit wants a count >= 1, not '%s'", v);
        return CLI_EXIT_OK;
    case OPT_TIMEOUT:
        if (!parse_seconds(v, &sa->timeout_ms))
            return cli_usage("subscribe", "--timeout wants seconds >= 0 (5, 0.5), not '%s'", v);
        return CLI_EXIT_OK;
    case OPT_BATCH:
        if (!cli_parse_i64(v, strlen(v), 1, EVS_MAX_BATCH_COUNT, &sa->batch))
            return cli_usage("subscribe", "--batch wants a count from 1 to %u, not '%s'",
                             EVS_MAX_BATCH_COUNT, v);
        return CLI_EXIT_OK;
    case OPT_BATCH_WAIT:
        if (!parse_seconds(v, &sa->batch_wait_ms))
            return cli_usage("subscribe", "--batch-wait wants seconds >= 0 (1, 0.05), not '%s'", v);
        return CLI_EXIT_OK;
    default:
        return cli_filter_set(&sa->filter, "subscribe", opt, v);
    }
}

/* Returns an exit code, or -1 for --help. */
static int parse_args(struct subscribe_args *sa, int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "subscribe", argc, argv);
    const char *dir = NULL;
    int opt;
    while ((opt = cli_parser_next(&p, subscribe_opts)) != CLI_OPT_END) {
        if (opt == CLI_OPT_BAD)
            return CLI_EXIT_USAGE;
        if (opt == CLI_OPT_HELP)
            return -1;
        if (opt == OPT_EXEC) {
            /* The rest of the line is the command, word for word: no shell, no second
             * round of quoting. */
            if (p.next >= argc)
                return cli_usage("subscribe", "--exec wants a command after it");
            sa->exec_argv = &argv[p.next];
            break;
        }
        int code;
        if (opt == CLI_OPT_ARG) {
            if (dir != NULL)
                return cli_usage("subscribe", "unexpected argument '%s'", p.value);
            dir = p.value;
            code = CLI_EXIT_OK;
        } else {
            code = set_option(sa, opt, p.value);
        }
        if (code != CLI_EXIT_OK)
            return code;
    }
    /* A consumer's start is its checkpoint; a --from would silently disagree with it. */
    if (sa->consumer != NULL && sa->from_given)
        return cli_usage("subscribe", "--from and --from-end are for subscriptions without "
                                      "--consumer (use 'evstore consumer reset --to POS')");
    /* A live subscription starts at the head and keeps nothing: a start or a name would
     * be ignored, so they are refused. */
    if (sa->live && (sa->consumer != NULL || sa->from_given))
        return cli_usage("subscribe", "--live starts at the head and keeps no checkpoint: it "
                                      "excludes --consumer, --from and --from-end");
    if (sa->max_lag != 0 && !sa->live)
        return cli_usage("subscribe", "--max-lag is for --live subscriptions");
    /* Batches are acknowledged, so they need a consumer to acknowledge them to. */
    if (sa->exec_argv != NULL && sa->consumer == NULL)
        return cli_usage("subscribe", "--exec needs --consumer NAME (a batch is "
                                      "acknowledged to a durable consumer)");
    if (sa->refilter && sa->consumer == NULL)
        return cli_usage("subscribe", "--refilter is for --consumer NAME");
    if (sa->exec_argv == NULL && (sa->batch != 0 || sa->batch_wait_ms >= 0))
        return cli_usage("subscribe", "--batch and --batch-wait are for --exec");
    int code = cli_filter_finish(&sa->filter, "subscribe");
    if (code != CLI_EXIT_OK)
        return code;
    sa->dir = cli_store_dir("subscribe", dir);
    return sa->dir != NULL ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

/* True when standard output is a pipe or socket whose reader went away (as in tail):
 * on a quiet store EPIPE would only show up with the next event, maybe never. */
static bool output_gone(void)
{
    struct pollfd pfd = {.fd = STDOUT_FILENO, .events = POLLOUT, .revents = 0};
    return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLERR | POLLHUP)) != 0;
}

static int source_next(struct source *src, evs_event *ev, int timeout_ms)
{
    if (src->consumer != NULL)
        return evs_consumer_next(ev, src->consumer, timeout_ms);
    return evs_subscription_next(ev, src->sub, timeout_ms);
}

/* Acknowledge ev_pos. A failed periodic save (EIO, ENOSPC) keeps the acknowledgement
 * for the next save, so only other errors stop the command. */
static int ack(struct source *src, int64_t pos)
{
    if (src->consumer == NULL)
        return 0;
    int rc = evs_consumer_ack(src->consumer, pos);
    return rc == EVS_EIO || rc == EVS_ENOSPC ? 0 : rc;
}

/* A live subscription that skipped says so on stderr, once per jump, so that a reader of
 * the output can tell a quiet store from a lost backlog. */
static void note_skips(const struct source *src, const struct subscribe_args *sa,
                       int64_t *reported)
{
    int64_t skipped = src->sub ? evs_subscription_skipped(src->sub) : 0;
    if (skipped == *reported)
        return;
    cli_err("subscribe",
            "live: skipped %" PRId64 " positions to stay within %" PRId64
            " of the head (%" PRId64 " in all)",
            skipped - *reported, sa->max_lag ? sa->max_lag : (int64_t)DEFAULT_MAX_LAG, skipped);
    *reported = skipped;
}

static int run(struct source *src, const struct subscribe_args *sa, cli_out *out)
{
    int64_t printed = 0, skips_reported = 0;
    int64_t idle_since = evs__monotonic_ns();
    while (!stop_requested && !output_gone()) {
        int wait_ms = WAIT_MS;
        int64_t left = 0;
        if (sa->timeout_ms >= 0) {
            left = sa->timeout_ms - (evs__monotonic_ns() - idle_since) / 1000000;
            if (left < wait_ms)
                wait_ms = left > 0 ? (int)left : 0;
        }
        evs_event ev;
        int rc = source_next(src, &ev, wait_ms);
        if (rc < 0)
            return cli_lib_err("subscribe", rc);
        note_skips(src, sa, &skips_reported);
        if (rc == 0) {
            /* --timeout ends the run only when a look found nothing once the idle time
             * was up: printing a backlog slowly never cuts it short, and --timeout 0
             * stops right after the catch-up. */
            if (sa->timeout_ms >= 0 && left <= wait_ms)
                break;
            continue;
        }
        idle_since = evs__monotonic_ns();
        /* The ack rule: the line goes out whole (flushed) before its ack, so a crash or
         * a closed pipe in between costs a repeat, never a lost event. */
        (void)cli_out_event(out, &ev);
        if (cli_out_flush(out) < 0)
            break;
        rc = ack(src, ev.pos);
        if (rc < 0)
            return cli_lib_err("subscribe", rc);
        if (sa->limit > 0 && ++printed >= sa->limit)
            break;
    }
    return cli_out_report("subscribe", out);
}

/* The filter consumer `name` keeps, as `evstore consumers` shows it (NULL: none, or no
 * such consumer). The caller frees it. */
static char *kept_filter(evs_store *store, const char *name)
{
    evs_consumer_iter *it;
    if (evs_consumers_open(&it, store) < 0)
        return NULL;
    char *copy = NULL;
    evs_consumer_info ci;
    while (copy == NULL && evs_consumers_next(&ci, it) > 0) {
        if (strcmp(ci.name, name) == 0 && ci.filter != NULL)
            copy = strdup(ci.filter);
    }
    evs_consumers_close(it);
    return copy;
}

/* --refilter says what it did when it changed anything: the checkpoint stayed. */
static void note_refilter(evs_store *store, const struct source *src, const char *name,
                          const char *before)
{
    char *after = kept_filter(store, name);
    if (after != NULL && (before == NULL || strcmp(before, after) != 0))
        cli_err("subscribe",
                "consumer '%s' now keeps the filter %s (was %s); its checkpoint stays at "
                "%" PRId64 ": events up to it that only the new filter matches are not "
                "printed (reset the consumer to an earlier position to see them)",
                name, after, before ? before : "none", evs_consumer_checkpoint(src->consumer));
    free(after);
}

static int open_consumer(struct source *src, evs_store *store, const struct subscribe_args *sa)
{
    if (!sa->refilter)
        return evs_consumer_open(&src->consumer, store, sa->consumer, &sa->filter.query);
    char *before = kept_filter(store, sa->consumer);
    int rc = evs_consumer_open_v2(&src->consumer, store, sa->consumer, &sa->filter.query,
                                  EVS_CONSUMER_REFILTER);
    if (rc == 0)
        note_refilter(store, src, sa->consumer, before);
    free(before);
    return rc;
}

static int open_source(struct source *src, evs_store *store, const struct subscribe_args *sa)
{
    int rc;
    if (sa->consumer != NULL) {
        rc = open_consumer(src, store, sa);
        if (rc == EVS_EBUSY) {
            cli_err("subscribe",
                    "consumer '%s' is busy: another process (a running 'evstore subscribe "
                    "--consumer %s'?) has it open",
                    sa->consumer, sa->consumer);
            return CLI_EXIT_ERROR;
        }
    } else if (sa->live) {
        rc = evs_subscribe_live(&src->sub, store, &sa->filter.query,
                                sa->max_lag ? sa->max_lag : DEFAULT_MAX_LAG);
    } else {
        rc = evs_subscribe(&src->sub, store, &sa->filter.query, sa->from);
    }
    return rc < 0 ? cli_lib_err("subscribe", rc) : CLI_EXIT_OK;
}

static int exec_store(struct source *src, const struct subscribe_args *sa)
{
    exec_opts eo = {
        .argv = sa->exec_argv,
        .batch = sa->batch ? sa->batch : EXEC_DEFAULT_BATCH,
        .batch_wait_ms = sa->batch_wait_ms >= 0 ? sa->batch_wait_ms : EXEC_DEFAULT_WAIT_MS,
        .limit = sa->limit,
        .timeout_ms = sa->timeout_ms,
    };
    return exec_deliver(src->consumer, sa->consumer, &eo, &stop_requested);
}

static int subscribe_store(evs_store *store, const struct subscribe_args *sa)
{
    struct source src = {NULL, NULL};
    int code = open_source(&src, store, sa);
    if (code != CLI_EXIT_OK)
        return code;
    if (sa->exec_argv != NULL) {
        code = exec_store(&src, sa);
        int rc = evs_consumer_close(src.consumer);
        return rc < 0 && code == CLI_EXIT_OK ? cli_lib_err("subscribe", rc) : code;
    }
    cli_out out;
    /* One event per flush, so the buffer only needs to hold a typical line. */
    if (cli_out_init(&out, STDOUT_FILENO, 64u << 10) < 0) {
        cli_err("subscribe", "out of memory");
        code = CLI_EXIT_ERROR;
    } else {
        code = run(&src, sa, &out);
        cli_out_free(&out);
    }
    /* Closing saves the checkpoint; a failed save means repeats of events already
     * handled, which is worth a message and an error exit. */
    int rc = evs_consumer_close(src.consumer);
    if (rc < 0 && code == CLI_EXIT_OK)
        code = cli_lib_err("subscribe", rc);
    evs_subscription_close(src.sub);
    return code;
}

int cli_cmd_subscribe(int argc, char **argv)
{
    struct subscribe_args sa = {.from = EVS_FROM_START, .timeout_ms = -1, .batch_wait_ms = -1};
    if (cli_filter_init(&sa.filter, "subscribe", argc) != CLI_EXIT_OK)
        return CLI_EXIT_ERROR;
    int code = parse_args(&sa, argc, argv);
    if (code != CLI_EXIT_OK) {
        cli_filter_free(&sa.filter);
        return code < 0 ? cli_help(subscribe_help) : code;
    }
    /* No SA_RESTART: a signal should cut a wait short, not resume it. */
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = on_signal;
    sigemptyset(&act.sa_mask);
    (void)sigaction(SIGINT, &act, NULL);
    (void)sigaction(SIGTERM, &act, NULL);
    /* Not read-only: a consumer saves its checkpoint, and a read-only handle's wait is
     * not woken at once by a writer (see tail). NOCREATE: subscribe never makes a store. */
    evs_options opts = EVS_OPTIONS_INIT;
    opts.flags = EVS_OPEN_NOCREATE;
    evs_store *store = NULL;
    int rc = evs_open(&store, sa.dir, &opts);
    if (rc < 0) {
        code = cli_lib_err("subscribe", rc);
    } else {
        code = subscribe_store(store, &sa);
        evs_close(store);
    }
    cli_filter_free(&sa.filter);
    return code;
}
