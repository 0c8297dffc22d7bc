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
 * needless work is then caught by the suite itself.
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

/* Report W1 and W3 and check W3's sum against the model; returns the exit status. */
int ref_finish(ref_args *a, const char *engine, double w1_seconds, double w3_seconds,
               const suite_sum *w3);

#endif
