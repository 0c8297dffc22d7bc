/*
 * file_backend.h - the file backend's handle, which every file of src/file is handed, and
 * opening one for repair (file_backend.c).
 *
 * The handle holds what the modules share: the store's directory and options, the
 * locks' descriptors, the head page, the segment list and the stream table. State that
 * belongs to one module alone is that module's struct, reached through an opaque
 * pointer: the writer's (fb->w, writer_state.h), the stream-directory builder's
 * (fb->sdx, streamdir.c) and the stream index's merger (fb->merge, sindex_merge.c). docs/DESIGN.md maps the modules.
 *
 * Locking order (never take an earlier one while holding a later one):
 *   commit_mu (the writer's in-process leader election) -> writer flock -> tab_lock
 *   -> stream-index/MERGE flock -> seg_lock -> map_mu.
 */
#ifndef EVS_FILE_FILE_BACKEND_H
#define EVS_FILE_FILE_BACKEND_H

#include "backend.h"
#include "lost_ranges.h"
#include "segment.h"
#include "streamtab.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct file_backend {
    evs__backend base;
    char *dir;
    evs_options opts;
    bool readonly;
    unsigned char store_id[16];
    uint64_t store_segment_size; /* the segment size in evstore.meta */
    lost_range *lost;            /* the `lost` file, read at open (fixed while open: only
                                  * repair, with no handle open, changes it) */
    size_t lost_n;
    uint64_t log_start;          /* the log's first position: 1, or past the segments that
                                  * retention dropped (the `start` file, log_start.c; fixed
                                  * while open: only retention, with no handle open,
                                  * moves it) */

    int lock_fd;                 /* LOCK file, flock()ed while appending */
    int open_fd;                 /* OPEN file, flock()ed shared for the handle's life
                                  * (exclusively by repair); -1 when it could not be had */
    unsigned char *head;         /* the shared head page (HEAD_LEN bytes, MAP_SHARED) */
    bool head_shared;            /* false: a private page (read-only store) */
    _Atomic uint32_t head_stuck_seq; /* odd sequence left by a writer that died mid-publish
                                      * (evs__head_read waits for it once, not per read) */
    bool head_had_identity;      /* the page was this store's when mapped (maybe of an
                                  * earlier boot): its synced position means something */
    unsigned char boot_id[16];   /* this machine's boot id */

    pthread_rwlock_t seg_lock;   /* guards segs/seg_count */
    seg **segs;
    size_t seg_count;
    size_t seg_cap;
    seg *dropped;                /* segments removed by recovery, freed at close */
    pthread_mutex_t map_mu;      /* serialises remapping; guards `retired` */
    mapping *retired;

    pthread_rwlock_t tab_lock;   /* guards tab */
    streamtab tab;

    struct writer *w;            /* the append path's state (writer_state.h) */
    atomic_bool closing;         /* evs_close was called: waits end (evs__head_wake) */

    /* Makes the stream directories of the segments this handle sealed (streamdir.c). */
    struct sdx_builder *sdx;
    /* Merges the stream index's runs in the background (sindex_merge.c). */
    struct sidx_merger *merge;
    /* Compresses sealed segments in the background when the options ask (compactor.c). */
    struct compactor *zc;
} file_backend;

/* A handle for repair: the open lock held exclusively and the writer lock held, the head
 * page mapped (*head_fresh: it is not this boot's page of this store) and the segments
 * listed; nothing recovered. It is read-only until evs__fb_repair_writable (which maps
 * the head page for writing, creating it when missing). */
int evs__fb_open_for_repair(file_backend **out, const char *path, bool dry_run,
                            bool *head_fresh);
int evs__fb_repair_writable(file_backend *fb);
void evs__fb_free(file_backend *fb);

/* The file backend's method table (for opening a store of its own, e.g. a backup). */
const evs__backend_methods *evs__file_backend_methods(void);

#endif /* EVS_FILE_FILE_BACKEND_H */
