/*
 * sindex.h - the persistent stream index: runs of stream-index/ (sindex.c) and merging
 * them (sindex_merge.c). The stream table (streamtab.c) is its user.
 */
#ifndef EVS_FILE_SINDEX_H
#define EVS_FILE_SINDEX_H

#include "path.h"
#include "streamtab.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

sidx_run *evs__sidx_ref(sidx_run *r);
void evs__sidx_release(sidx_run *r); /* unmapped with its last reference */
void evs__sidx_release_all(sidx_run **runs, size_t n);
/* What a run's header says. */
typedef struct sidx_run_info {
    uint64_t from, to;           /* it holds the streams with events in (from, to] */
    uint64_t next_seg;           /* the segment holding position to+1 */
    uint32_t next_off;           /* that position's offset there */
    uint64_t streams;            /* streams in the store at `to` */
    uint64_t entries;            /* entries in the run */
} sidx_run_info;
const sidx_run_info *evs__sidx_info(const sidx_run *r);
/* The crc field of the record at pos (0 when it cannot be read). */
uint32_t evs__sidx_record_crc(file_backend *fb, uint64_t pos);
/* The chain of runs from position 0 that open, are this store's and match the log, up
 * to position max_to: *out (oldest first, owned), *n. */
int evs__sidx_load(file_backend *fb, uint64_t max_to, sidx_run ***out, size_t *n);
/* The newest entry of stream `name` (key: its hash, 1 for 0) in runs[0..n): 1 found,
 * 0 not there, EVS_ECORRUPT when a page is damaged or the entry disagrees with the
 * log (the record at its last position must be the stream's, with its version). */
int evs__sidx_find(file_backend *fb, sidx_run *const *runs, size_t n, const char *name,
                   uint32_t len, uint64_t key, stream_val *out);
/* The name of the stream an entry describes, read from its last record (checked): 0;
 * 1 when that record lies before the log's start (retention dropped it): no name. */
int evs__sidx_name(file_backend *fb, uint64_t key, const stream_val *v, const char **name,
                   uint32_t *len);
/* Every stream of runs[0..n) once, newest entry, in (key, first position) order. */
typedef struct sidx_iter {
    sidx_run *const *runs;
    size_t n;
    uint64_t *at;                /* each run's next entry */
} sidx_iter;
int evs__sidx_iter_init(sidx_iter *it, sidx_run *const *runs, size_t n);
/* 1 and the next entry, 0 at the end, or EVS_ECORRUPT (a damaged page). */
int evs__sidx_iter_next(sidx_iter *it, uint64_t *key, stream_val *v);
void evs__sidx_iter_free(sidx_iter *it);
/* Writing run (from, to]: entries added in (key, first position) order. */
typedef struct sidx_writer {
    file_backend *fb;
    uint64_t from, to;
    int fd;
    char tmp[STORE_TMP_PATH_MAX];
    unsigned char *buf;          /* pages gathered for one write */
    size_t buf_pages;            /* full pages in buf */
    uint32_t in_page;            /* entries in the page being filled */
    uint64_t page_no;
    uint64_t file_off;
    uint64_t entries;
} sidx_writer;
int evs__sidx_writer_open(sidx_writer *w, file_backend *fb, uint64_t from, uint64_t to);
int evs__sidx_writer_add(sidx_writer *w, uint64_t key, const stream_val *v);
/* Write the header, rename into place, and map the run (*out). */
int evs__sidx_writer_finish(sidx_writer *w, uint64_t next_seg, uint64_t next_off,
                            uint64_t streams, bool durable, sidx_run **out);
void evs__sidx_writer_abort(sidx_writer *w);
/* The lock that serialises merges and whole-index replacements across processes: its
 * fd, or EVS_EBUSY (only when !wait) or another error. */
int evs__sidx_lock_merges(file_backend *fb, bool wait);
void evs__sidx_unlock_merges(int fd);
/* Remove the runs that reach past `above`, leftovers of dead writers, and (superseded)
 * runs that a merged run covers. The caller holds the merge lock. */
int evs__sidx_remove(file_backend *fb, uint64_t above, bool superseded);
/* The handle's merger (fb->merge): its thread starts on the first kick. Freeing it ends
 * the thread (evs__sidx_merge_finish). */
typedef struct sidx_merger sidx_merger;
int evs__sidx_merger_new(file_backend *fb);
void evs__sidx_merger_free(file_backend *fb);
/* Merge the newest runs of the handle's chain in the background when they are due
 * (the writer, after it persisted a run); evs__sidx_merge_finish ends the thread. */
void evs__sidx_merge_kick(file_backend *fb);
void evs__sidx_merge_finish(file_backend *fb);
/* One merge, if due, in the calling thread: 1 merged, 0 nothing due, or an error. */
int evs__sidx_merge_once(file_backend *fb);
/* At close, in the calling thread: merge while the chain is longer than a lookup should
 * search (a store opened, appended to and closed many times adds a run each time). */
void evs__sidx_merge_tidy(file_backend *fb);

#endif /* EVS_FILE_SINDEX_H */
