/*
 * commit_scratch.h - the arrays one evs_append_multi_positions call of `append` and of
 * `import` fills: events, batches, results, positions, each batch's first line
 * (commit_scratch.c).
 */
#ifndef EVS_CLI_COMMIT_SCRATCH_H
#define EVS_CLI_COMMIT_SCRATCH_H

#include "evstore.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cli_commit_scratch {
    evs_event_in *events;
    evs_batch_in *batches;
    evs_append_result *results;
    int64_t *positions;  /* each event's position, as the library found it */
    size_t *batch_first; /* index of each batch's first event (or line) */
    size_t cap;          /* entries every array has room for */
} cli_commit_scratch;

/* Room for cap entries in every array: 0, or -1 when out of memory (cap then stays as
 * it was, so a failure part-way leaves every array at least at the old size). */
int cli_scratch_reserve(cli_commit_scratch *sc, size_t cap);
void cli_scratch_free(cli_commit_scratch *sc);

#endif /* EVS_CLI_COMMIT_SCRATCH_H */
