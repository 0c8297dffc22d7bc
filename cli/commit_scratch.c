/*
 * commit_scratch.c - growing and freeing a commit's arrays together.
 */
#include "commit_scratch.h"

#include <stdlib.h>

int cli_scratch_reserve(cli_commit_scratch *sc, size_t cap)
{
    if (cap <= sc->cap)
        return 0;
    evs_event_in *ev = realloc(sc->events, cap * sizeof *ev);
    if (ev == NULL)
        return -1;
    sc->events = ev;
    evs_batch_in *bt = realloc(sc->batches, cap * sizeof *bt);
    if (bt == NULL)
        return -1;
    sc->batches = bt;
    evs_append_result *res = realloc(sc->results, cap * sizeof *res);
    if (res == NULL)
        return -1;
    sc->results = res;
    int64_t *pos = realloc(sc->positions, cap * sizeof *pos);
    if (pos == NULL)
        return -1;
    sc->positions = pos;
    size_t *first = realloc(sc->batch_first, cap * sizeof *first);
    if (first == NULL)
        return -1;
    sc->batch_first = first;
    sc->cap = cap;
    return 0;
}

void cli_scratch_free(cli_commit_scratch *sc)
{
    free(sc->events);
    free(sc->batches);
    free(sc->results);
    free(sc->positions);
    free(sc->batch_first);
    *sc = (cli_commit_scratch){0};
}
