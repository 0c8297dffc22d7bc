/*
 * import_retry.c - what `evstore import` does with a commit the store refused, before
 * it gives up on it:
 *
 *  - An overlap with an earlier run. Imported events carry stable ids (import_id.c), and
 *    a batch whose ids a stream holds already writes nothing. A run that stopped at a bad
 *    line stored everything before it, so when the corrected input is imported again,
 *    one batch per stream may hold both the last events stored and the first ones that
 *    were not: the store refuses that (only some of its ids are there). Such a batch is
 *    cut after the stream's last stored event, and the commit tried again: the first
 *    part is a duplicate, the rest is written.
 *  - One event the store will not take (EVS_EINVAL: a ts before the store's last with
 *    --keep-ts, say). The commit is tried in halves, each half that is taken stays, until
 *    the event is found; it is then reported at its own line, with everything before it
 *    stored, as for a bad line.
 *
 * Both only run when a commit failed: an import that overlaps nothing pays for neither.
 */
#include "import.h"

#include <stdio.h>
#include <string.h>

/* The id of the stream's last event, into id. 1 found, 0 the stream is empty, -1. */
static int last_id(evs_store *store, const char *stream, unsigned char id[16])
{
    evs_stream_info info;
    if (evs_stream_get(&info, store, stream) < 0)
        return -1;
    if (!info.exists)
        return 0;
    evs_query q = EVS_QUERY_INIT;
    q.from_pos = info.last_pos;
    q.to_pos = info.last_pos;
    evs_cursor *c;
    if (evs_cursor_open(&c, store, &q) < 0)
        return -1;
    evs_event ev;
    int rc = evs_cursor_next(&ev, c);
    if (rc > 0)
        memcpy(id, ev.id, 16);
    evs_cursor_close(c);
    return rc > 0 ? 1 : -1;
}

int im_split_overlaps(im_ctx *ic)
{
    size_t nb = im_build_batches(ic, ic->count);
    int cuts = 0;
    for (size_t b = 0; b < nb; b++) {
        size_t first = ic->sc.batch_first[b], count = ic->sc.batches[b].count;
        if (count < 2 || !ic->pend[first].has_id)
            continue;
        unsigned char id[16];
        int rc = last_id(ic->store, ic->sc.batches[b].stream, id);
        if (rc < 0)
            return -1;
        /* The last event of the batch stored means all of it is: the store sees to
         * that batch itself. */
        for (size_t i = 0; rc > 0 && i + 1 < count; i++) {
            const im_pending *p = &ic->pend[first + i];
            if (p->has_id && memcmp(p->id, id, 16) == 0) {
                ic->pend[first + i + 1].cut_before = true;
                cuts++;
                break;
            }
        }
    }
    return cuts;
}

/* The first k pending events were committed: the rest move to the front. */
static void drop_front(im_ctx *ic, size_t k)
{
    memmove(ic->pend, ic->pend + k, (ic->count - k) * sizeof *ic->pend);
    ic->count -= k;
}

int im_commit_to_refused(im_ctx *ic)
{
    /* Whether a prefix of the pending events is refused grows with its length (each
     * event is judged on its own and on what comes before it), so halving finds the
     * first refused event, and every half that is taken is stored on the way. */
    size_t n = ic->count;
    while (n > 1) {
        size_t half = n / 2;
        int rc = im_append_pending(ic, half);
        if (rc == 0) {
            drop_front(ic, half);
            n -= half;
        } else if (rc == EVS_EINVAL) {
            n = half;
        } else {
            return rc;
        }
    }
    int rc = im_append_pending(ic, 1);
    if (rc == 0) { /* taken alone after all: on with the rest */
        drop_front(ic, 1);
        return im_commit(ic);
    }
    if (rc != EVS_EINVAL)
        return rc;
    char what[700];
    (void)snprintf(what, sizeof what, "the store refused the event: %s", evs_errmsg());
    const im_pending *p = &ic->pend[0];
    ic->file = p->file;
    ic->line = p->line;
    ic->count = 0;
    ic->arena.len = 0;
    return im_bad(ic, "%s", what);
}
