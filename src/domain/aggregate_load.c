/*
 * aggregate_load.c - an aggregate's state: the initial state, its newest usable
 * snapshot, then its stream's events after it, folded by the type's apply.
 *
 * A snapshot is trusted only when the stream agrees with it: the loader reads the
 * stream from the snapshot's own version and requires that event to stand at the
 * position the snapshot's append gave it. When it does not, the state is rebuilt from
 * the first event, with a note.
 */
#include "domain_internal.h"

#include <inttypes.h>

int evs__state_init(void *state, const evs_aggregate_type *t)
{
    memset(state, 0, t->state_size);
    if (!t->init)
        return 0;
    int rc = t->init(t->user, state);
    if (rc < 0) {
        evs__state_release(state, t);
        return evs__prefixerr("init of aggregate type '%s'", t->name);
    }
    return 0;
}

void evs__state_release(void *state, const evs_aggregate_type *t)
{
    if (t->release)
        t->release(t->user, state);
}

/* Fold the stream's events from version `from` (-1 = the start) into state. With a
 * snapshot (from >= 0) the first event read must be `from` itself at `from_pos`: it is
 * checked and skipped. Returns 1 when the snapshot was confirmed or none was used, 0
 * when the stream contradicts it (nothing applied), < 0 on error. */
static int fold(evs_aggregate_info *info, void *state, const evs_aggregate_type *t,
                evs_store *store, const char *stream, int64_t from, int64_t from_pos)
{
    evs_query q = EVS_QUERY_INIT;
    q.stream = stream;
    q.from_version = from;
    evs_cursor *c;
    int rc = evs_cursor_open(&c, store, &q);
    if (rc < 0)
        return rc;
    evs_event ev;
    if (from >= 0) {
        rc = evs_cursor_next(&ev, c);
        if (rc <= 0 || ev.version != from || ev.pos != from_pos) {
            evs_cursor_close(c);
            return rc < 0 ? rc : 0;
        }
    }
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        rc = t->apply(t->user, state, &ev);
        if (rc > 0)
            rc = evs__seterr(EVS_EHANDLER, "apply returned %d (not 0 or an EVS_E* code)", rc);
        if (rc < 0) {
            evs_cursor_close(c);
            return evs__prefixerr("replaying %s version %" PRId64 " (position %" PRId64 ")", stream,
                                  ev.version, ev.pos);
        }
        info->version = ev.version;
        info->events_applied++;
    }
    evs_cursor_close(c);
    return rc < 0 ? rc : 1;
}

int evs__aggregate_load(evs_aggregate_info *out, void *state, const evs_domain *d,
                        const evs_aggregate_type *t, const char *stream)
{
    evs_aggregate_info info = {-1, -1, 0};
    int rc = evs__state_init(state, t);
    if (rc < 0)
        return rc;
    int64_t snap_version = -1, snap_pos = 0;
    /* A stream shorter than the interval has no snapshot to look for: most aggregates
     * of a busy domain are short, and the lookup is a cursor of its own. */
    evs_stream_info si = {0};
    if (t->snapshot_every > 0)
        rc = evs_stream_get(&si, evs__domain_store(d), stream);
    if (rc == 0 && t->snapshot_every > 0 && si.event_count >= (int64_t)t->snapshot_every)
        rc = evs__snapshot_read(&snap_version, &snap_pos, state, d, t, stream);
    if (rc == 1) {
        info.version = info.snapshot_version = snap_version;
        rc = fold(&info, state, t, evs__domain_store(d), stream, snap_version, snap_pos);
        if (rc == 0) {
            evs__domain_note(d,
                             "snapshot of %s at version %" PRId64 " ignored (the stream "
                             "has no event %" PRId64 " at position %" PRId64
                             "); loading from its events",
                             stream, snap_version, snap_version, snap_pos);
            info = (evs_aggregate_info){-1, -1, 0};
            evs__state_release(state, t);
            rc = evs__state_init(state, t);
            if (rc == 0)
                rc = fold(&info, state, t, evs__domain_store(d), stream, -1, 0);
        }
    } else if (rc == 0) {
        rc = fold(&info, state, t, evs__domain_store(d), stream, -1, 0);
    }
    if (rc < 0) {
        evs__state_release(state, t);
        return rc;
    }
    if (out)
        *out = info;
    return 0;
}

int evs_aggregate_load(evs_aggregate_info *out, void *state_out, evs_domain *d, const char *type,
                       const char *aggregate_id)
{
    if (!d || !state_out || !type)
        return evs__seterr(EVS_EMISUSE, "evs_aggregate_load: %s is NULL",
                           !d           ? "d"
                           : !state_out ? "state_out"
                                        : "type");
    const evs_aggregate_type *t = evs__domain_type(d, type);
    if (!t)
        return evs__seterr(EVS_ENOTFOUND, "evs_aggregate_load: no aggregate type '%s'", type);
    char *stream;
    int rc = evs__aggregate_stream(&stream, t, aggregate_id);
    if (rc == 0)
        rc = evs__aggregate_load(out, state_out, d, t, stream);
    evs__free(stream);
    if (rc == 0)
        evs__clearerr();
    return rc;
}
