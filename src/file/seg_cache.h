/*
 * seg_cache.h - a sealed segment's directories (its stream directory, streamdir.c, and
 * its type directory, typedir.c), found and mapped once per handle (seg_cache.c).
 */
#ifndef EVS_FILE_SEG_CACHE_H
#define EVS_FILE_SEG_CACHE_H

#include "segment.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct file_backend file_backend;

/* The fields whose place the headers of both directories share (docs/FORMAT.md): the
 * magic, the format version, the segment's first position and its length, the records
 * (count) and the last one's offset and checksum. The caller puts its own fields and
 * then the header's checksum. */
void evs__seg_cache_header_put(unsigned char *h, const char *magic, uint64_t first_pos,
                               uint64_t seg_len, uint64_t count, uint32_t last_off,
                               uint32_t last_crc);
/* Whether the header h has the magic, its checksum and this format, and says it was
 * made from segment s as it is now (same length, same last record) with 1 to
 * UINT32_MAX records (*count). No error is left set. */
bool evs__seg_cache_header_fits(file_backend *fb, seg *s, const unsigned char *h,
                                const char *magic, uint64_t *count);
/* Load s's directory `ext` ("sdx" or "tdx"), held in c (&s->sdx or &s->tdx), once per
 * handle: its mapping when one of at least min_len bytes is there and check accepts
 * it, else NULL. A file not there yet is looked for again at most once a second; one
 * unfit to use is not looked at again, and a writable handle has the builder make it
 * again (once). No error is left set. */
const mapping *evs__seg_cache_load(file_backend *fb, seg *s, seg_cache *c, const char *ext,
                                   size_t min_len,
                                   bool (*check)(file_backend *fb, seg *s, const mapping *m));
/* The builder made the directory: this handle's readers look for it again at once. */
static inline void evs__seg_cache_made(seg_cache *c)
{
    atomic_store(&c->retry_ns, 0);
}
/* Stop using the directory in this handle: it led a reader astray. */
static inline void evs__seg_cache_distrust(seg_cache *c)
{
    atomic_store(&c->state, -1);
}

#endif /* EVS_FILE_SEG_CACHE_H */
