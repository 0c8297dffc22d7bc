/*
 * ref.h - what the reference drivers (ref_sqlite.c, ref_lmdb.c) share: their command
 * line, the suite's event model, and how they report.
 *
 * A reference driver is the plainest program that does the suite's W1 (bulk append in
 * batches of 1,000, one durable commit per batch) and W3 (replay of everything, every
 * field decoded, every payload byte touched) on one engine, with the suite's schema and
 * events, and with each event's version known to the program as an application that
 * has loaded its aggregates knows it. The suite runs them beside its own drivers and
 * fails when its driver is more than 20% slower (issue 26): a peer driver that does
 * needless work is then caught by the suite itself. They share the suite's model and
 * settings (suite_model.c, suite_tuning.h) but, on purpose, none of its drivers' code:
 * the few lines that look alike (a record's encoding, a row's decoding) are written
 * again here, so that a slow line in a driver is not also in its yardstick.
 *
 *   evs_ref_<engine> DIR EVENTS PAYLOAD [TUNING]
 *
 * DIR must not exist; it is made and left for the caller to remove. Prints
 * "W1 <events/s>" and "W3 <events/s>", and exits 0 only when W3 read back every event
 * with the model's byte checksum.
 */
#ifndef REF_H
#define REF_H

#include "suite.h"

typedef struct ref_args {
    const char *dir;
    const char *tuning; /* the engine's own extra setting, or NULL */
    suite_model model;
} ref_args;

/* Parse argv and build the model; on bad arguments print the usage and return -1. */
int ref_start(ref_args *a, int argc, char **argv, const char *usage_tuning);

/* What a reference driver does, on its store `ctx`; each returns 0 or -1 (said). */
typedef struct ref_engine {
    const char *name;
    /* W1; last[k] is stream k's last version (-1: none yet), for it to keep */
    int (*append_all)(void *ctx, const suite_model *m, int64_t *last);
    int (*settle)(void *ctx);                 /* after W1, untimed; NULL: none */
    int (*replay)(void *ctx, suite_sum *out); /* W3 */
} ref_engine;

/* Time W1, settle, then W3 once unmeasured and once measured; print both rates, check
 * W3's sum against the model and free it. Returns the exit status. */
int ref_run(ref_args *a, const ref_engine *e, void *ctx);

#endif
