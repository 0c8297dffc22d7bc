/*
 * counter.h - the aggregate type the domain tests run: a counter with commands for
 * every path of evs_command (refusals, roles, several events, none, a refusing apply,
 * a concurrent writer), and snapshots every COUNTER_SNAPSHOT_EVERY events.
 */
#ifndef COUNTER_H
#define COUNTER_H

#include "evstore_domain.h"

#define COUNTER_SNAPSHOT_EVERY 10

typedef struct counter {
    int64_t value;
    int64_t events; /* events applied */
} counter;

/* The counter type, snapshots every COUNTER_SNAPSHOT_EVERY events. Its `user` is a
 * counter_hooks. */
typedef struct counter_hooks {
    evs_store *store;   /* for Interfere's own appends */
    int interfere_runs; /* Interfere appends behind the command's back on this many
                         * runs; decremented per run */
    int handler_runs;   /* every handler call, counted */
} counter_hooks;

evs_aggregate_type counter_type(counter_hooks *hooks, uint32_t state_version,
                                uint32_t snapshot_every);

#endif
