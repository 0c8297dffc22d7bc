/*
 * import_versions.c - which event of a commit broke its stream's versions. The commits
 * of `evstore import` (import_batch.c) check versions per batch, through the expected
 * version the library checks; when it refuses one, this walks the pending events once
 * more with the store's versions at hand, to name the first event out of line. Slow
 * (a lookup per event), and only ever run once, on the way out.
 */
#include "import.h"

int im_find_gap(im_ctx *ic, size_t *k, int64_t *next)
{
    ap_streams versions = {NULL, 0, 0};
    int found = 0;
    for (size_t i = 0; i < ic->count && found == 0; i++) {
        const im_pending *p = &ic->pend[i];
        const char *stream = ic->arena.ptr + p->stream_off;
        ap_stream_state *st = ap_streams_find(&versions, stream);
        if (st == NULL) {
            evs_stream_info info;
            if (evs_stream_get(&info, ic->store, stream) < 0 ||
                (st = ap_streams_add(&versions, stream)) == NULL) {
                found = -1;
                break;
            }
            st->version = info.last_version;
        }
        if (p->version >= 0 && p->version != st->version + 1) {
            *k = i;
            *next = st->version + 1;
            found = 1;
        }
        /* An event without a version takes the next one all the same. */
        st->version++;
    }
    ap_streams_free(&versions);
    return found;
}
