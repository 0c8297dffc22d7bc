/*
 * readmodel.c - a read model: a durable consumer whose progress is its state file.
 *
 * Two records of progress exist, the consumer's checkpoint and the state file's
 * position, and only the state file's counts: it is written together with the state it
 * describes, in one atomic replace. So opening moves the checkpoint to the state's
 * position (backwards too: a state restored from a backup replays what came after it),
 * and a save acknowledges only once the state is durable. The checkpoint then merely
 * mirrors the state, which is what `evstore consumers` shows as the read model's lag.
 *
 * Order at open: the consumer's lock first, then any write to the state file, so that
 * a second process opening the same read model fails with EVS_EBUSY before it can
 * touch the file.
 */
#include "sub_internal.h"

#include <inttypes.h>

struct evs_readmodel {
    evs_consumer *c;
    evs_state *st;
};

/* A state at a position the store does not have cannot be resumed. */
static int check_position(evs_store *store, const char *name, const evs_state_info *info)
{
    int64_t head = evs_head(store);
    if (info->pos <= head)
        return 0;
    return evs__seterr(EVS_ECORRUPT,
                       "read model '%s': state file '%s' reflects position %" PRId64
                       " but the store's head is %" PRId64 ": the state belongs to another "
                       "store, or the log lost its last events; replay it (EVS_STATE_REPLAY)",
                       name, info->path, info->pos, head);
}

int evs_readmodel_open(evs_readmodel **out, evs_store *store, const char *name,
                       const evs_query *filter, evs_state *state)
{
    const char *fn = "evs_readmodel_open";
    if (!out || !state) {
        evs_state_close(state);
        if (out)
            *out = NULL;
        return evs__seterr(EVS_EMISUSE, "%s: %s is NULL", fn, out ? "state" : "out");
    }
    *out = NULL;
    evs_state_info info;
    evs_state_get(&info, state);
    int rc = evs__check_store(store, fn);
    if (rc == 0)
        rc = check_position(store, name ? name : "(null)", &info);
    evs_readmodel *rm = rc == 0 ? evs__calloc(1, sizeof *rm) : NULL;
    if (rc == 0 && !rm)
        rc = evs__seterr(EVS_ENOMEM, "out of memory opening read model '%s'", name);
    if (rc == 0)
        rc = evs__consumer_open_at(&rm->c, store, name, filter, info.pos, fn);
    /* Not from the file: write the fresh start now, under the consumer's lock. */
    if (rc == 0 && info.origin != EVS_STATE_LOADED)
        rc = evs_state_save(state, info.json, info.json_len, 0);
    if (rc != 0 || !rm) {
        if (rm)
            (void)evs__consumer_close(rm->c); /* rc is the failure to report */
        evs__free(rm);
        evs_state_close(state);
        return rc;
    }
    rm->st = state;
    *out = rm;
    evs__clearerr();
    return 0;
}

const evs_state *evs_readmodel_state(const evs_readmodel *rm)
{
    return rm ? rm->st : NULL;
}

int evs_readmodel_next(evs_event *out, evs_readmodel *rm, int timeout_ms)
{
    if (!rm)
        return evs__seterr(EVS_EMISUSE, "evs_readmodel_next: read model is NULL");
    return evs_consumer_next(out, rm->c, timeout_ms);
}

int evs__readmodel_save_at(evs_readmodel *rm, const char *json, size_t json_len, int64_t pos)
{
    int rc = evs_state_save(rm->st, json, json_len, pos);
    if (rc < 0)
        return evs__prefixerr("read model '%s'", evs__consumer_name(rm->c));
    /* The state is durable: the checkpoint may follow. A failed periodic checkpoint
     * write is retried by the consumer and costs nothing here, since the state file,
     * not the checkpoint, says where to resume. */
    if (pos > evs_consumer_checkpoint(rm->c)) {
        rc = evs_consumer_ack(rm->c, pos);
        if (rc < 0 && rc != EVS_EIO && rc != EVS_ENOSPC)
            return rc;
    }
    evs__clearerr();
    return 0;
}

int evs_readmodel_save(evs_readmodel *rm, const char *json, size_t json_len)
{
    if (!rm)
        return evs__seterr(EVS_EMISUSE, "evs_readmodel_save: read model is NULL");
    return evs__readmodel_save_at(rm, json, json_len, evs__consumer_scanned(rm->c));
}

void evs_readmodel_close(evs_readmodel *rm)
{
    if (!rm)
        return;
    /* Nothing to report: a read model's progress is its state file, saved before; the
     * consumer's checkpoint only mirrors it. */
    if (evs__consumer_close(rm->c) < 0)
        evs__clearerr();
    evs_state_close(rm->st);
    evs__free(rm);
}

evs_consumer *evs__readmodel_consumer(evs_readmodel *rm)
{
    return rm->c;
}

const char *evs__readmodel_name(const evs_readmodel *rm)
{
    return evs__consumer_name(rm->c);
}
