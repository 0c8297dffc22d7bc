/*
 * writer.c - the append path's front: the commit queue, the writer's state, and the
 * poisoned state a failed sync leaves.
 *
 * Group commit: appending threads queue their requests; one of them becomes the
 * leader, takes every queued request, and commits them together in one round
 * (commit.c). Threads that queued while the leader worked form the next group, so under
 * load many appends share one fdatasync. In `always` mode a new leader also waits a
 * little for the threads its predecessor just released (gather_stragglers): without
 * that, groups alternate between those who queued during a sync and those released by
 * it, and each sync carries about half of the appending threads.
 */
#define _GNU_SOURCE
#include "writer.h"
#include "active_segment.h"
#include "backend.h"
#include "commit.h"
#include "file_backend.h"
#include "format.h"
#include "head.h"
#include "idset.h"
#include "lock.h"
#include "sindex.h"
#include "streamtab.h"
#include "sysio.h"
#include "util.h"
#include "writer_state.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define IDSET_MAX (1u << 22) /* ids kept at most (a table of 128 MiB at most) */

/* Tells appending threads apart: its address is unique to each thread. */
static _Thread_local char appender_token;

int evs__poison(file_backend *fb, int err, const char *what)
{
    /* The failing call reports the cause itself (EVS_ENOSPC for a full disk, else
     * EVS_EIO); every later write gets EVS_EFATAL with the same words. */
    int rc = evs__seterr_errno(err, "%s; store '%s' refuses writes until reopened", what, fb->dir);
    int expected = 0;
    if (atomic_compare_exchange_strong(&fb->w->poisoned, &expected, rc))
        snprintf(fb->w->poison_msg, sizeof fb->w->poison_msg, "%s", evs__lasterr_msg());
    return rc;
}

uint64_t evs__writer_id_reads(const file_backend *fb)
{
    return fb->w ? fb->w->id_reads : 0;
}

int evs__writer_check_poison(file_backend *fb)
{
    if (atomic_load(&fb->w->poisoned))
        return evs__seterr(EVS_EFATAL, "earlier failure: %s", fb->w->poison_msg);
    return 0;
}

/* ---- the commit queue ------------------------------------------------------------ */

static bool queued(const file_backend *fb, const void *who)
{
    for (const append_req *r = fb->w->queue_head; r; r = r->next)
        if (r->who == who)
            return true;
    return false;
}

/* Are threads of the last round still to queue again? */
static bool stragglers_out(const file_backend *fb)
{
    for (size_t i = 0; i < fb->w->last_group_n; i++)
        if (!queued(fb, fb->w->last_group[i]))
            return true;
    return false;
}

/* With commit_mu held, as the new leader, before taking the queue. The threads of the
 * round that just ended are on their way back with their next append, a few
 * microseconds of CPU away; the sync we are about to start costs hundreds. So when the
 * last round ended only just now, wait for them, for at most half a sync. A thread
 * that does not come back costs that wait once: the next round remembers only who was
 * in this one. A thread alone never waits for itself, and after an idle moment nobody
 * waits at all. Only the last of them to queue wakes the leader (evs__file_append):
 * waking it at each arrival only to find the round still short cost about 3% of the
 * 8-thread rate here (medians of 11 alternated runs). */
static void gather_stragglers(file_backend *fb)
{
    int64_t patience = fb->w->sync_ns_avg / 2;
    int64_t now = evs__monotonic_ns();
    if (patience <= 0 || now - fb->w->last_round_end_ns > patience)
        return;
    int64_t deadline = now + patience;
    struct timespec ts = {(time_t)(deadline / 1000000000), (long)(deadline % 1000000000)};
    fb->w->gathering = true;
    while (stragglers_out(fb) &&
           pthread_cond_timedwait(&fb->w->gather_cv, &fb->w->commit_mu, &ts) == 0)
        ;
    fb->w->gathering = false;
}

/* With commit_mu held: remember who is in the round about to be committed. */
static void note_group(file_backend *fb, const append_req *list)
{
    fb->w->last_group_n = 0;
    for (const append_req *r = list; r && fb->w->last_group_n < GATHER_MAX; r = r->next)
        fb->w->last_group[fb->w->last_group_n++] = r->who;
}

int evs__file_append(evs__backend *be, const evs__batch_w *batches, size_t batch_count,
                     evs_append_result *out)
{
    file_backend *fb = (file_backend *)be;
    if (fb->readonly)
        return evs__seterr(EVS_EREADONLY, "store '%s' was opened read-only", fb->dir);
    int rc = evs__writer_check_poison(fb);
    if (rc < 0)
        return rc;
    append_req req;
    memset(&req, 0, sizeof req);
    req.batches = batches;
    req.batch_count = batch_count;
    req.out = out;
    req.who = &appender_token;

    pthread_mutex_lock(&fb->w->commit_mu);
    if (fb->w->queue_tail)
        fb->w->queue_tail->next = &req;
    else
        fb->w->queue_head = &req;
    fb->w->queue_tail = &req;
    if (fb->w->gathering && !stragglers_out(fb))
        pthread_cond_signal(&fb->w->gather_cv);
    while (!req.done) {
        if (!fb->w->leader_active) {
            /* Lead one round: everything queued so far, this request included. */
            fb->w->leader_active = true;
            if (fb->opts.sync_mode == EVS_SYNC_ALWAYS)
                gather_stragglers(fb);
            append_req *list = fb->w->queue_head;
            fb->w->queue_head = fb->w->queue_tail = NULL;
            note_group(fb, list);
            pthread_mutex_unlock(&fb->w->commit_mu);
            evs__commit_round(fb, list);
            pthread_mutex_lock(&fb->w->commit_mu);
            for (append_req *r = list; r;) {
                append_req *next = r->next;
                r->done = true; /* after this, r may vanish: its owner returns */
                r = next;
            }
            fb->w->last_round_end_ns = evs__monotonic_ns();
            fb->w->leader_active = false;
            pthread_cond_broadcast(&fb->w->commit_cv);
            break;
        }
        pthread_cond_wait(&fb->w->commit_cv, &fb->w->commit_mu);
    }
    pthread_mutex_unlock(&fb->w->commit_mu);
    if (req.rc < 0)
        return evs__seterr(req.rc, "%s", req.msg);
    return 0;
}

/* ---- at close ------------------------------------------------------------------------ */

/* At close, index what the stream index does not cover yet, so that the next process
 * to read streams does not scan it. A run costs what it holds, not the store's size.
 * Best effort: never blocks. */
void evs__writer_snapshot_at_close(file_backend *fb)
{
    if (fb->readonly || atomic_load(&fb->w->poisoned) || fb->w->bytes_since_snap == 0)
        return;
    if (evs__wlock_acquire(fb, 0) < 0) {
        evs__clearerr();
        return;
    }
    head_view h;
    evs__head_read(fb, &h);
    pthread_rwlock_wrlock(&fb->tab_lock);
    if (evs__tab_catch_up_writer(fb, &h) == 0 &&
        (fb->w->wfd < 0 || evs__datasync(fb->w->wfd) == 0)) {
        evs__head_set_synced(fb, h.pos);
        (void)evs__tab_persist(fb, true);
    }
    pthread_rwlock_unlock(&fb->tab_lock);
    evs__sidx_merge_finish(fb); /* a merge under way ends first */
    evs__sidx_merge_tidy(fb);
    evs__wlock_release(fb);
    evs__clearerr();
}

/* ---- the writer's state --------------------------------------------------------------- */

int evs__writer_new(file_backend *fb)
{
    writer *w = evs__calloc(1, sizeof *w);
    if (!w)
        return evs__seterr(EVS_ENOMEM, "out of memory opening '%s'", fb->dir);
    w->ids = evs__idset_new(IDSET_MAX);
    if (!w->ids) {
        evs__free(w);
        return evs__seterr(EVS_ENOMEM, "out of memory opening '%s'", fb->dir);
    }
    w->wfd = w->widx_fd = -1;
    pthread_mutex_init(&w->commit_mu, NULL);
    pthread_cond_init(&w->commit_cv, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* gathering deadlines are monotonic */
    pthread_cond_init(&w->gather_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w->syncer_mu, NULL);
    pthread_cond_init(&w->syncer_cv, NULL);
    fb->w = w;
    return 0;
}

void evs__writer_free(file_backend *fb)
{
    writer *w = fb->w;
    if (!w)
        return;
    evs__active_close(fb);
    evs__buf_free(&w->wbuf);
    evs__buf_free(&w->ibuf);
    evs__free(w->undo);
    evs__idset_free(w->ids);
    pthread_mutex_destroy(&w->commit_mu);
    pthread_cond_destroy(&w->commit_cv);
    pthread_cond_destroy(&w->gather_cv);
    pthread_mutex_destroy(&w->syncer_mu);
    pthread_cond_destroy(&w->syncer_cv);
    evs__free(w);
    fb->w = NULL;
}
