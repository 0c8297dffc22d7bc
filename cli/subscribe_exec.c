/*
 * subscribe_exec.c - a durable consumer's events handed to a command in batches
 * (`evstore subscribe --consumer NAME --exec CMD [ARG...]`).
 *
 * A batch opens with the first event that arrives: the handler starts then, and gets
 * each event of the batch on its standard input as soon as it is read (the lines
 * `subscribe` prints), so it works while the batch fills and evstore never holds more
 * than one buffer of it. The batch closes when it has --batch events, when
 * --batch-wait has passed since it opened, at --limit, or on SIGINT/SIGTERM; then the
 * handler's input is closed and evstore waits for it. Only a handler that exits 0
 * having read all of its input gets its batch acknowledged; anything else stops
 * delivery there with the batch unacknowledged, so the next run starts with it again:
 * at least once, and the only repeats are of a failed batch (or of batches whose
 * acknowledgement was not yet saved when evstore itself died).
 */
#include "subscribe_exec.h"
#include "exec_handler.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The longest single wait: how late a signal is noticed. */
#define WAIT_MS 200

typedef struct batch {
    exec_handler *h; /* NULL while no batch is open */
    cli_out out;     /* the handler's input, buffered */
    int64_t first, last, count;
    int64_t deadline_ns; /* when the batch closes even if not full */
} batch;

static int64_t now_ns(void)
{
    return evs__monotonic_ns();
}

static int batch_open(batch *b, const exec_opts *o)
{
    char why[512];
    if (exec_handler_start(&b->h, o->argv, why, sizeof why) < 0) {
        cli_err("subscribe", "%s", why);
        return CLI_EXIT_ERROR;
    }
    b->out.sink = exec_handler_write;
    b->out.sink_ctx = b->h;
    b->out.err = 0;
    b->out.len = 0;
    b->count = 0;
    b->deadline_ns = now_ns() + o->batch_wait_ms * 1000000;
    return CLI_EXIT_OK;
}

/* Close the open batch: end the handler's input, wait for it, acknowledge on success.
 * Returns the exit code: an error when the handler failed (reported). */
static int batch_close(batch *b, evs_consumer *c, const char *name)
{
    (void)cli_out_flush(&b->out);
    char why[512];
    bool ok = exec_handler_finish(b->h, why, sizeof why);
    b->h = NULL;
    /* Lines that never reached the handler were not handled, however it ended. */
    if (ok && b->out.err != 0) {
        char msg[256];
        if (strerror_r(b->out.err, msg, sizeof msg) != 0)
            (void)snprintf(msg, sizeof msg, "errno %d", b->out.err);
        (void)snprintf(why, sizeof why, "did not get its whole batch (%s)", msg);
        ok = false;
    }
    if (!ok) {
        cli_err("subscribe",
                "consumer '%s': handler %s; its batch (%" PRId64 " events, positions %" PRId64
                "..%" PRId64 ") is not acknowledged and comes again on the next run",
                name, why, b->count, b->first, b->last);
        return CLI_EXIT_ERROR;
    }
    int rc = evs_consumer_ack(c, b->last);
    /* A failed periodic save keeps the acknowledgement for the next save. */
    if (rc < 0 && rc != EVS_EIO && rc != EVS_ENOSPC)
        return cli_lib_err("subscribe", rc);
    return CLI_EXIT_OK;
}

static int batch_add(batch *b, const evs_event *ev)
{
    if (b->count++ == 0)
        b->first = ev->pos;
    b->last = ev->pos;
    return cli_out_event(&b->out, ev);
}

/* The next event: at once when one is there; else, after handing what the open batch
 * holds to its handler, waiting up to wait_ms. */
static int next_event(evs_consumer *c, batch *b, evs_event *ev, int wait_ms)
{
    int rc = evs_consumer_next(ev, c, 0);
    if (rc != 0 || wait_ms == 0)
        return rc;
    if (b->h != NULL)
        (void)cli_out_flush(&b->out);
    return evs_consumer_next(ev, c, wait_ms);
}

/* How long the next wait may last: until the open batch's deadline, or the --timeout,
 * and never more than WAIT_MS. */
static int wait_for(const batch *b, const exec_opts *o, int64_t idle_since)
{
    int64_t left_ms = WAIT_MS;
    if (b->h != NULL)
        left_ms = (b->deadline_ns - now_ns()) / 1000000;
    else if (o->timeout_ms >= 0)
        left_ms = o->timeout_ms - (now_ns() - idle_since) / 1000000;
    if (left_ms > WAIT_MS)
        left_ms = WAIT_MS;
    return left_ms > 0 ? (int)left_ms : 0;
}

static int deliver(evs_consumer *c, const char *name, const exec_opts *o, batch *b,
                   volatile sig_atomic_t *stop)
{
    int64_t delivered = 0;
    int64_t idle_since = now_ns();
    while (!*stop) {
        int wait_ms = wait_for(b, o, idle_since);
        evs_event ev;
        int rc = next_event(c, b, &ev, wait_ms);
        if (rc < 0)
            return cli_lib_err("subscribe", rc);
        if (rc == 0) {
            if (b->h != NULL && now_ns() >= b->deadline_ns) {
                int code = batch_close(b, c, name);
                if (code != CLI_EXIT_OK)
                    return code;
                idle_since = now_ns();
            } else if (b->h == NULL && o->timeout_ms >= 0 && wait_ms == 0) {
                break; /* nothing new for --timeout */
            }
            continue;
        }
        if (b->h == NULL) {
            int code = batch_open(b, o);
            if (code != CLI_EXIT_OK)
                return code;
        }
        (void)batch_add(b, &ev);
        delivered++;
        bool at_limit = o->limit > 0 && delivered >= o->limit;
        /* A sticky output error means the handler is gone: close to learn how it ended. */
        if (b->count >= o->batch || b->out.err != 0 || at_limit) {
            int code = batch_close(b, c, name);
            if (code != CLI_EXIT_OK)
                return code;
            idle_since = now_ns();
        }
        if (at_limit)
            break;
    }
    return CLI_EXIT_OK;
}

int exec_deliver(evs_consumer *c, const char *name, const exec_opts *o, volatile sig_atomic_t *stop)
{
    batch b;
    memset(&b, 0, sizeof b);
    /* Big enough that a batch of typical events goes to the pipe in a few writes. */
    if (cli_out_init(&b.out, -1, 64u << 10) < 0) {
        cli_err("subscribe", "out of memory");
        return CLI_EXIT_ERROR;
    }
    int code = deliver(c, name, o, &b, stop);
    /* Stopped (or a store error) with a batch open: what it holds is whole events, so
     * the handler gets to finish it; its success still counts. */
    if (b.h != NULL) {
        int close_code = batch_close(&b, c, name);
        if (code == CLI_EXIT_OK)
            code = close_code;
    }
    cli_out_free(&b.out);
    return code;
}
