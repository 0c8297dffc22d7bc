/*
 * segment_probe.h - helpers for the tests that look inside the file backend at its
 * sealed segments and the directories made from them (the stream and type directory
 * tests). They need src/core and src/file on the include path.
 */
#ifndef EVS_TEST_SEGMENT_PROBE_H
#define EVS_TEST_SEGMENT_PROBE_H

#include "testutil.h"

#include "core.h"
#include "file_backend.h"
#include "segment.h"

#include <stdatomic.h>

/* Options for a store that seals a segment every 64 KiB. */
static inline evs_options tu_small_segments(void)
{
    evs_options o = tu_fast_options();
    o.segment_size = 64u << 10;
    return o;
}

/* The path of the file `ext` ("seg", "sdx", "tdx"...) of segment `first` in store dir. */
static inline void tu_seg_path(const char *dir, uint64_t first, const char *ext, char *buf,
                               size_t len)
{
    snprintf(buf, len, "%s/%020llu.%s", dir, (unsigned long long)first, ext);
}

static inline bool tu_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The segments of the store, first positions, in order (at least 3, at most cap); the
 * last is the one written. */
static inline size_t tu_segments(evs_store *s, uint64_t *firsts, size_t cap)
{
    file_backend *fb = (file_backend *)s->be;
    assert_int_equal(evs__seg_load_all(fb), 0);
    size_t n = evs__seg_count(fb);
    assert_true(n >= 3 && n <= cap);
    for (size_t i = 0; i < n; i++)
        firsts[i] = evs__seg_at(fb, i)->first_pos;
    return n;
}

/* Segment `first` of the store, as its handle has it. */
static inline seg *tu_seg_of(evs_store *s, uint64_t first)
{
    seg *sg = evs__seg_by_first((file_backend *)s->be, first);
    assert_non_null(sg);
    return sg;
}

/* 1 when this handle uses segment `first`'s stream directory, -1 when it found it unfit,
 * 0 when there was none to load. */
static inline int tu_sdx_state(evs_store *s, uint64_t first)
{
    return atomic_load(&tu_seg_of(s, first)->sdx.state);
}

/* The same for its type directory. */
static inline int tu_tdx_state(evs_store *s, uint64_t first)
{
    return atomic_load(&tu_seg_of(s, first)->tdx.state);
}

#endif /* EVS_TEST_SEGMENT_PROBE_H */
