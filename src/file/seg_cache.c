/*
 * seg_cache.c - loading a sealed segment's directory once per handle.
 *
 * The stream and type directories are caches made in the background after their
 * segment is sealed, maybe by another process. A reader maps one the first time it
 * needs it and keeps the mapping until close; one missing is looked for again later,
 * one damaged or stale is set aside for the handle's life (the reader does without).
 */
#include "seg_cache.h"
#include "evstore.h"
#include "file_backend.h"
#include "format.h"
#include "streamdir.h"
#include "sysio.h"
#include "util.h"

#include <string.h>

_Static_assert(SDX_OFF_MAGIC == TDX_OFF_MAGIC && SDX_OFF_FMT == TDX_OFF_FMT &&
                   SDX_OFF_FIRST == TDX_OFF_FIRST && SDX_OFF_SEGLEN == TDX_OFF_SEGLEN &&
                   SDX_OFF_COUNT == TDX_OFF_COUNT && SDX_OFF_LASTOFF == TDX_OFF_LASTOFF &&
                   SDX_OFF_LASTCRC == TDX_OFF_LASTCRC && SDX_OFF_CRC == TDX_OFF_CRC,
               "the .sdx and .tdx headers share these fields' places");

void evs__seg_cache_header_put(unsigned char *h, const char *magic, uint64_t first_pos,
                               uint64_t seg_len, uint64_t count, uint32_t last_off,
                               uint32_t last_crc)
{
    memcpy(h + SDX_OFF_MAGIC, magic, 8);
    evs__put_u32(h + SDX_OFF_FMT, EVS_FORMAT_VERSION);
    evs__put_u64(h + SDX_OFF_FIRST, first_pos);
    evs__put_u64(h + SDX_OFF_SEGLEN, seg_len);
    evs__put_u64(h + SDX_OFF_COUNT, count);
    evs__put_u32(h + SDX_OFF_LASTOFF, last_off);
    evs__put_u32(h + SDX_OFF_LASTCRC, last_crc);
}

bool evs__seg_cache_header_fits(file_backend *fb, seg *s, const unsigned char *h,
                                const char *magic, uint64_t *count)
{
    *count = evs__get_u64(h + SDX_OFF_COUNT);
    return memcmp(h + SDX_OFF_MAGIC, magic, 8) == 0 &&
           evs__get_u32(h + SDX_OFF_CRC) == evs__crc32c(0, h, SDX_OFF_CRC) &&
           evs__get_u32(h + SDX_OFF_FMT) == EVS_FORMAT_VERSION &&
           evs__get_u64(h + SDX_OFF_FIRST) == s->first_pos && *count != 0 &&
           *count <= UINT32_MAX &&
           evs__seg_tail_matches(fb, s, evs__get_u64(h + SDX_OFF_SEGLEN),
                                 evs__get_u32(h + SDX_OFF_LASTOFF),
                                 evs__get_u32(h + SDX_OFF_LASTCRC), s->first_pos + *count - 1);
}

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
