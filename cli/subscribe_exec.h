/*
 * subscribe_exec.h - `evstore subscribe --consumer NAME --exec CMD [ARG...]`
 * (subscribe_exec.c): a durable consumer's events handed to a command in batches, each
 * acknowledged only when the command that got it succeeded.
 */
#ifndef EVS_CLI_SUBSCRIBE_EXEC_H
#define EVS_CLI_SUBSCRIBE_EXEC_H

#include "cli_common.h"

#include <signal.h>

/* Events per batch when --batch is not given, and the longest wait for a batch to fill
 * after its first event when --batch-wait is not (see bench/RESULTS.md). */
#define EXEC_DEFAULT_BATCH   1000
#define EXEC_DEFAULT_WAIT_MS 100

typedef struct exec_opts {
    char *const *argv;     /* the handler command and its arguments, NULL-terminated */
    int64_t batch;         /* the most events in one batch, >= 1 */
    int64_t batch_wait_ms; /* how long an open batch waits for more events */
    int64_t limit;         /* stop after this many events delivered; 0: no limit */
    int64_t timeout_ms;    /* stop when nothing new came for this long; -1: never */
} exec_opts;

/* Deliver consumer c's events to runs of the handler until *stop is set, the limit
 * or the timeout is reached, or a run fails (reported on stderr: how the handler
 * ended and which positions stay unacknowledged). Returns the exit code. */
int exec_deliver(evs_consumer *c, const char *name, const exec_opts *o,
                 volatile sig_atomic_t *stop);

#endif /* EVS_CLI_SUBSCRIBE_EXEC_H */
