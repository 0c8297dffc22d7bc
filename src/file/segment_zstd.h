/*
 * segment_zstd.h - compressed sealed segments (<first position>.zseg, segment_zstd.c):
 * making one from a sealed segment, and reading one as if it were the plain file.
 */
#ifndef EVS_FILE_SEGMENT_ZSTD_H
#define EVS_FILE_SEGMENT_ZSTD_H

#include "segment.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A compressed segment open for reading: its file, its checked frame table and the
 * plain bytes decompressed so far. Its fields are segment_zstd.c's. */
typedef struct zseg zseg;

/* Open segment s's compressed file and check its header and frame table: its
 * descriptor, with *out the state to read it through and *region the mapping its plain
 * bytes are decompressed into (owned by the caller from then on: s->data); or a
 * negative EVS_E* (EVS_ENOTFOUND when there is no such file, nothing set; EVS_ECORRUPT
 * naming the file and byte offset of what is wrong). */
int evs__zseg_open(const file_backend *fb, seg *s, zseg **out, mapping **region);
/* The plain segment's length in bytes, and how many of them a frame holds. */
uint64_t evs__zseg_plain_len(const zseg *z);
uint32_t evs__zseg_frame_len(const zseg *z);
/* Decompress the frames that hold plain bytes [from, to) into the region, each checked
 * against its checksum first: 0, or EVS_ECORRUPT naming the file, frame and byte offset
 * (nothing is written for a damaged frame). Thread-safe. */
int evs__zseg_fill(zseg *z, uint64_t from, uint64_t to);
/* Copy plain bytes [off, off + len), which must lie within the plain length, into buf.
 * Frames not decompressed into the region already are decompressed into the process's
 * bounded frame cache (frame_cache.c), not into the region: reads through a compressed
 * segment cost no memory that grows with the log. The count copied: all of len, or fewer when a
 * later frame is damaged (the bytes before it still read); the error of evs__zseg_fill when the
 * first frame is. Thread-safe. */
int64_t evs__zseg_copy(zseg *z, void *buf, uint64_t off, size_t len);
/* How many frames are decompressed into the region now, and how many times a frame was
 * decompressed so far (for tests). */
size_t evs__zseg_frames_filled(zseg *z);
uint64_t evs__zseg_frames_decompressed(zseg *z);
/* Close the file and free what evs__zseg_open made, but the region (NULL is fine). */
void evs__zseg_free(zseg *z);

/* What compressing one segment came to. */
typedef struct zseg_result {
    bool done;           /* the compressed file replaced the plain one; false: there was no
                          * plain file (compressed before) */
    uint64_t plain_len;  /* when done: the plain file's bytes */
    uint64_t packed_len; /* and the compressed file's */
} zseg_result;

/* Compress sealed segment first_pos, whose records must all lie below `next` (the next
 * segment's first position), crash-safely: the compressed file is written
 * under a temporary name, synced, renamed into place and the directory synced before
 * the plain file is removed. A crash leaves the plain file, or both (readers then use
 * the plain one, the next compaction does it again), or the compressed one. Records are
 * checked (checksums, positions) before, and the frames against the plain bytes after
 * compressing; a damaged segment is left alone: EVS_ECORRUPT naming file and offset. */
int evs__zseg_compress(file_backend *fb, uint64_t first_pos, uint64_t next, zseg_result *out);

/* Repair's first step for a compressed segment: when its frame table or a frame is
 * damaged, replace it by its plain file, crash-safely (temporary file, sync, rename,
 * directory sync, then the compressed file removed), with zeros where frames could not
 * be decompressed, so that repair finds the damage at its plain offset and keeps the
 * rest. A damaged table is walked past (zstd frames tell their own length). Nothing is
 * written when it is whole. *bad_frames: frames lost. EVS_ECORRUPT (nothing written)
 * when its header is damaged. */
int evs__zseg_expand_damaged(file_backend *fb, uint64_t first_pos, uint32_t *bad_frames);

/* Is `name` the temporary file of a compression, "<20 digits>.zseg.<pid>.tmp", whose
 * process is gone? */
bool evs__zseg_stale_temp(const char *name);

#endif /* EVS_FILE_SEGMENT_ZSTD_H */
