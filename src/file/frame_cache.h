/*
 * frame_cache.h - the process's cache of decompressed frames of compressed segments
 * (frame_cache.c), bounded, least recently used first out.
 */
#ifndef EVS_FILE_FRAME_CACHE_H
#define EVS_FILE_FRAME_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Frames kept at most, by default: 1024 (64 MiB of 64 KiB frames). */
#define FRAME_CACHE_DEFAULT 1024

/* If frame i of `owner` is cached, copy its bytes [in, in + n) into out: true. */
bool evs__fcache_get(const void *owner, uint32_t i, size_t in, size_t n, void *out);
/* A buffer of cap bytes to decompress a frame into: the least recently used frame's
 * when the cache is full, else a new one; NULL when out of memory. Give it back with
 * evs__fcache_put, or free it (evs__free). */
unsigned char *evs__fcache_take(size_t cap);
/* Keep buf (cap bytes, from evs__fcache_take) as frame i of owner. */
void evs__fcache_put(const void *owner, uint32_t i, unsigned char *buf, size_t cap);
/* Drop every frame of owner (it is being freed). */
void evs__fcache_forget(const void *owner);
/* How many frames to keep at most (tests set it low to make frames go); 0 = default. */
void evs__fcache_set_limit(size_t frames);

#endif /* EVS_FILE_FRAME_CACHE_H */
