/*
 * compactor.c - which sealed segments to compress, and the writer's background thread
 * that compresses them (segment_zstd.c does the compressing).
 *
 * A segment is compressed only once it is sealed for good: another segment follows it
 * and that segment's first record is synced, so no recovery can make it the last
 * segment again, the one appends go to. Compressing takes no lock: the plain file never
 * changes once sealed, and two compactors of one segment (two processes) write the same
 * frames under their own temporary names, so whichever rename comes last leaves a whole
 * file. Repair, which rewrites segments, runs only while no handle is open.
 */
#define _GNU_SOURCE
#include "compactor.h"
#include "file_backend.h"
#include "head.h"
#include "segment.h"
#include "segment_zstd.h"
#include "syncer.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct compactor {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool running;
    atomic_bool stop;
    bool kicked;
};

/* Is segment i of n sealed for good, with at least `after` segments after it? */
static bool eligible(file_backend *fb, size_t i, size_t n, unsigned int after, uint64_t *next)
{
    if (after == 0 || i + after >= n)
        return false;
    seg *nx = evs__seg_at(fb, i + 1);
    if (!nx)
        return false;
    *next = nx->first_pos;
    return evs__head_synced(fb) >= nx->first_pos;
}

/* evs__compact_sealed, stopping between two segments once *stop is set. */
static int compact_until(file_backend *fb, unsigned int after, evs_compact_report *report,
                         const atomic_bool *stop)
{
    evs_compact_report local;
    if (!report)
        report = &local;
    if (fb->readonly)
        return evs__seterr(EVS_EREADONLY, "store '%s' was opened read-only", fb->dir);
    size_t n = evs__seg_count(fb);
    /* A store written without syncs (or whose writer has not synced lately) gets its
     * sealed segments synced first, rather than left plain. */
    if (n >= 2 && after > 0 && n > after) {
        seg *last_next = evs__seg_at(fb, n - after);
        if (last_next && evs__head_synced(fb) < last_next->first_pos) {
            int rc = evs__file_sync(&fb->base);
            if (rc < 0)
                return rc;
        }
    }
    int first_bad = 0;
    char bad_msg[600] = "";
    for (size_t i = 0; i < n && !(stop && atomic_load(stop)); i++) {
        uint64_t next = 0;
        seg *s = evs__seg_at(fb, i);
        if (!s || !eligible(fb, i, n, after, &next))
            continue;
        zseg_result r;
        int rc = evs__zseg_compress(fb, s->first_pos, next, &r);
        if (rc == EVS_ECORRUPT) {
            report->damaged++;
            if (!first_bad) {
                first_bad = rc;
                snprintf(bad_msg, sizeof bad_msg, "%s", evs__lasterr_msg());
            }
            continue;
        }
        if (rc < 0)
            return rc;
        if (!r.done) {
            report->already++;
            continue;
        }
        report->segments++;
        report->plain_bytes += (int64_t)r.plain_len;
        report->compressed_bytes += (int64_t)r.packed_len;
    }
    if (first_bad)
        return evs__seterr(first_bad, "%s", bad_msg);
    return 0;
}

int evs__compact_sealed(file_backend *fb, unsigned int after, evs_compact_report *report)
{
    return compact_until(fb, after, report, NULL);
}

int evs__file_compact(evs__backend *be, unsigned int keep, evs_compact_report *report)
{
    return evs__compact_sealed((file_backend *)be, keep + 1, report);
}

/* ---- in the background ----------------------------------------------------------- */

int evs__compactor_new(file_backend *fb)
{
    if (fb->readonly || fb->opts.compress_after == 0)
        return 0;
    compactor *c = evs__calloc(1, sizeof *c);
    if (!c)
        return evs__seterr(EVS_ENOMEM, "out of memory opening '%s'", fb->dir);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    fb->zc = c;
    return 0;
}

static void *compactor_main(void *arg)
{
    file_backend *fb = arg;
    compactor *c = fb->zc;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->kicked && !c->stop)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->stop)
            break;
        c->kicked = false;
        pthread_mutex_unlock(&c->mu);
        /* A segment it cannot compress (damaged) stays plain and readable, its damage
         * reported by verify; the writer goes on. */
        (void)compact_until(fb, fb->opts.compress_after, NULL, &c->stop);
        evs__clearerr();
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

void evs__compactor_kick(file_backend *fb)
{
    compactor *c = fb->zc;
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    if (!c->running && !c->stop)
        c->running = pthread_create(&c->thread, NULL, compactor_main, fb) == 0;
    c->kicked = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void evs__compactor_finish(file_backend *fb)
{
    compactor *c = fb->zc;
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    bool running = c->running;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (running)
        pthread_join(c->thread, NULL);
    c->running = false;
}

void evs__compactor_free(file_backend *fb)
{
    compactor *c = fb->zc;
    if (!c)
        return;
    evs__compactor_finish(fb);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    evs__free(c);
    fb->zc = NULL;
}
