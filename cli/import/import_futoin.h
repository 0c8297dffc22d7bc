/*
 * import_futoin.h - what the two files of `evstore import --format futoin` share: the
 * registered consumers (import_futoin_consumers.c) that the event import
 * (import_futoin.c) checkpoints as it commits.
 */
#ifndef EVS_CLI_IMPORT_FUTOIN_H
#define EVS_CLI_IMPORT_FUTOIN_H

#include "evstore.h"
#include "util.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One row of evt_consumers, and the durable consumer it becomes. */
typedef struct fu_consumer {
    char *ident;                              /* futoin's: "<user id>:<component>" */
    const char *file;                         /* the database it came from (borrowed) */
    int64_t last_evt_id;                      /* the last event id futoin delivered to it */
    char name[EVS_MAX_CONSUMER_NAME_LEN + 1]; /* the evstore consumer */
    int64_t checkpoint; /* the position of that event in evstore, once known */
    bool kept;          /* the store has it already (an earlier import): left alone */
} fu_consumer;

typedef struct fu_consumers {
    fu_consumer *v; /* sorted by last_evt_id once loading is done */
    size_t count, cap;
    size_t settled;   /* v[0..settled) have their final checkpoint */
    int64_t last_pos; /* position of the last event imported so far */
} fu_consumers;

/* Add the rows of `db`'s evt_consumers. 0, or -1 with the error reported. */
int fu_consumers_load(fu_consumers *fc, sqlite3 *db, const char *path);
/* Before any event is written: map idents to consumer names, sort, refuse names that
 * collide, and mark those the store has already as kept. `head` is the store's head
 * now. 0, or -1 with the error reported (nothing was imported). */
int fu_consumers_prepare(fu_consumers *fc, evs_store *store, int64_t head);
/* im_committed_fn: event `id` was stored at `pos`; ids come in ascending order. */
void fu_consumers_committed(void *arg, uint64_t id, int64_t pos);
/* After the last event: create the consumers at their checkpoints. Returns an exit
 * code (reported on failure). */
int fu_consumers_create(fu_consumers *fc, evs_store *store);
/* Append ,"consumers":[{"consumer":...,"ident":...,"checkpoint":...},...] to out. */
int fu_consumers_result(const fu_consumers *fc, evs__buf *out);
void fu_consumers_free(fu_consumers *fc);

#endif /* EVS_CLI_IMPORT_FUTOIN_H */
