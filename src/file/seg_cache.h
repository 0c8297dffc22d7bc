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

typedef struct file_backend file_backend;

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
