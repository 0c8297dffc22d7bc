/*
 * streamdir.h - stream directories of sealed segments: where each stream's records are
 * (streamdir.c).
 */
#ifndef EVS_FILE_STREAMDIR_H
#define EVS_FILE_STREAMDIR_H

#include "format.h"
#include "segment.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct file_backend file_backend;

/* Make the stream directory of segment s, sealed with its records ending at `end`.
 * A cache: without it, whole-stream reads follow the links instead. */
int evs__sdx_build(file_backend *fb, seg *s, uint64_t end);
/* Have the directory of a segment just sealed made in the background (the writer, at a
 * roll); evs__sdx_finish makes what is still queued and ends the thread (at close). */
void evs__sdx_queue(file_backend *fb, uint64_t first_pos, uint64_t end);
void evs__sdx_finish(file_backend *fb);
/* The handle's builder of stream directories, fb->sdx: made at open (EVS_ENOMEM when
 * out of memory), freed at close after evs__sdx_finish (NULL is fine). */
typedef struct sdx_builder sdx_builder;
int evs__sdx_builder_new(file_backend *fb);
void evs__sdx_builder_free(file_backend *fb);
/* The entries of sealed segment s in the bucket of stream hash `hash`, in position
 * order (other streams' among them): *entries, *n. false when s has no directory fit
 * to use (missing, damaged, or not made from the segment as it is). */
bool evs__sdx_bucket(file_backend *fb, seg *s, uint64_t hash, const unsigned char **entries,
                     size_t *n);
/* Stop using s's directory in this handle: it pointed at a record it does not describe. */
void evs__sdx_distrust(seg *s);
static inline uint64_t evs__sdx_entry_hash(const unsigned char *e)
{
    return evs__get_u64(e + SDX_ENT_HASH);
}
static inline uint64_t evs__sdx_entry_pos(const seg *s, const unsigned char *e)
{
    return s->first_pos + evs__get_u32(e + SDX_ENT_REL);
}
static inline uint32_t evs__sdx_entry_off(const unsigned char *e)
{
    return evs__get_u32(e + SDX_ENT_OFF);
}

#endif /* EVS_FILE_STREAMDIR_H */
