/*
 * seg_cache.c - loading a sealed segment's directory once per handle.
 *
 * The stream and type directories are caches made in the background after their
 * segment is sealed, maybe by another process. A reader maps one the first time it
 * needs it and keeps the mapping until close; one missing is looked for again later,
 * one damaged or stale is set aside for the handle's life (the reader does without).
 */
#include "seg_cache.h"
#include "file_backend.h"
#include "streamdir.h"
#include "sysio.h"
#include "util.h"

/* Until a directory is there, look for it again at most this often. */
#define RETRY_NS 1000000000LL

/* A sealed segment with no directory fit to use: one from before directories existed,
 * or whose maker died first, or torn by a crash. A writable handle has the builder
 * make its directories again, once; later handles find them. Read-only handles never
 * write. */
static void request_build(file_backend *fb, seg *s, seg_cache *c)
{
    uint64_t len = 0;
    if (fb->readonly || atomic_exchange(&c->requested, true))
        return;
    if (evs__seg_file_size(s, &len) == 0)
        evs__sdx_queue(fb, s->first_pos, len);
    evs__clearerr();
}

const mapping *evs__seg_cache_load(file_backend *fb, seg *s, seg_cache *c, const char *ext,
                                   size_t min_len,
                                   bool (*check)(file_backend *fb, seg *s, const mapping *m))
{
    int state = atomic_load(&c->state);
    if (state != 0)
        return state > 0 ? atomic_load(&c->map) : NULL;
    int64_t now = evs__monotonic_ns();
    if (now < atomic_load(&c->retry_ns))
        return NULL;
    bool missing;
    mapping *m = evs__seg_map_cache(fb, s, ext, min_len, check, &missing);
    evs__clearerr();
    if (!m)
        request_build(fb, s, c);
    if (!m && missing) {
        atomic_store(&c->retry_ns, now + RETRY_NS);
        return NULL;
    }
    mapping *none = NULL;
    if (m && !atomic_compare_exchange_strong(&c->map, &none, m)) {
        evs__sys.munmap((void *)m->base, m->len); /* another thread loaded it first */
        evs__free(m);
    }
    m = atomic_load(&c->map);
    atomic_store(&c->state, m ? 1 : -1);
    return m;
}
