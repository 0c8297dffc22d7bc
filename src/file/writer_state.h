/*
 * writer_state.h - the writer's state, one per handle (fb->w). Its fields are for the
 * files of the append path alone: writer.c (the commit queue, poisoning), commit.c (one
 * commit round), active_segment.c (the segment appended to, zeros ahead) and syncer.c.
 * Every other file sees `struct writer` only through writer.h and syncer.h.
 *
 * Who may touch what: the commit queue and gathering fields under commit_mu; the rest
 * of the round's state only by the commit leader (who holds the writer flock); the
 * active segment's descriptors change under syncer_mu, which the syncer holds while it
 * syncs them.
 */
#ifndef EVS_FILE_WRITER_STATE_H
#define EVS_FILE_WRITER_STATE_H

#include "idset.h"
#include "streamtab.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* How many appending threads of the last commit round a new leader remembers, and may
 * wait for (see gather_stragglers in writer.c). */
#define GATHER_MAX 32

struct append_req; /* commit.h */

struct writer {
    /* The commit queue (writer.c). */
    pthread_mutex_t commit_mu;
    pthread_cond_t commit_cv;
    struct append_req *queue_head;
    struct append_req *queue_tail;
    bool leader_active;
    /* Gathering (EVS_SYNC_ALWAYS): a new leader waits briefly for the threads of the
     * round just finished to queue again, so that they share its sync (writer.c). */
    pthread_cond_t gather_cv; /* signalled on enqueue while `gathering` */
    bool gathering;
    const void *last_group[GATHER_MAX]; /* appender tokens of the last round */
    size_t last_group_n;
    int64_t last_round_end_ns; /* monotonic */
    int64_t sync_ns_avg;       /* moving average of the log's fdatasync */

    /* The active segment (active_segment.c). */
    bool zeros_paused; /* the disk had no room for zeros ahead */
    int wfd;           /* active segment, O_RDWR; -1 until needed */
    int widx_fd;       /* its .idx */
    uint64_t wseg;     /* first pos of the active segment */

    /* One round's buffers and how to undo its changes to the stream table (commit.c). */
    evs__buf wbuf; /* encoded records of one commit */
    evs__buf ibuf; /* their .idx entries */
    tab_undo *undo;
    size_t undo_len;
    size_t undo_cap;
    /* Fingerprints of the writer-supplied ids this handle appended or read, with where
     * each was. Lets a batch with its own ids skip walking a stream the handle created
     * (a miss proves the ids are new), and a retry start where its last id is. Dropped
     * when it grows past its cap. */
    id_set *ids;
    uint64_t id_reads; /* records the duplicate checks read (evs__writer_id_reads) */
    uint64_t bytes_since_snap; /* log bytes appended since the last snapshot */

    /* A failed sync or a write that could not be undone poisons the store: every later
     * write fails with EVS_EFATAL and this message, until the store is reopened. */
    _Atomic int poisoned;
    char poison_msg[512];

    /* EVS_SYNC_BATCH: a thread that syncs the log every sync_interval_ms (syncer.c). */
    pthread_t syncer;
    bool syncer_running;
    pthread_mutex_t syncer_mu;
    pthread_cond_t syncer_cv;
    bool syncer_stop;
    _Atomic uint64_t unsynced_pos; /* last position written but maybe not synced */
};

#endif /* EVS_FILE_WRITER_STATE_H */
