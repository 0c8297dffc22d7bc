/*
 * syncer.c - making the log durable outside the commit round: evs_sync, and in
 * EVS_SYNC_BATCH mode a thread that syncs the log every sync_interval_ms.
 *
 * syncer_mu keeps the active segment's descriptor from changing under a sync (the
 * writer takes it to open or close the segment). A failed sync poisons the store, as
 * one in the commit round does (see writer.c).
 */
#include "syncer.h"
#include "backend.h"
#include "file_backend.h"
#include "head.h"
#include "sysio.h"
#include "util.h"
#include "writer.h"
#include "writer_state.h"

#include <errno.h>
#include <time.h>

static int sync_now(file_backend *fb)
{
    pthread_mutex_lock(&fb->w->syncer_mu);
    uint64_t pos = atomic_load(&fb->w->unsynced_pos);
    int rc = 0;
    if (fb->w->wfd >= 0 && evs__datasync(fb->w->wfd) < 0)
        rc = evs__poison(fb, errno, "fdatasync of the log failed");
    else if (fb->head_shared)
        evs__head_set_synced(fb, pos);
    pthread_mutex_unlock(&fb->w->syncer_mu);
    return rc;
}

int evs__file_sync(evs__backend *be)
{
    file_backend *fb = (file_backend *)be;
    if (fb->readonly)
        return evs__seterr(EVS_EREADONLY, "store '%s' was opened read-only", fb->dir);
    int rc = evs__writer_check_poison(fb);
    return rc < 0 ? rc : sync_now(fb);
}

static void *syncer_main(void *arg)
{
    file_backend *fb = arg;
    pthread_mutex_lock(&fb->w->syncer_mu);
    uint64_t synced = 0;
    while (!fb->w->syncer_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)fb->opts.sync_interval_ms * 1000000u;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&fb->w->syncer_cv, &fb->w->syncer_mu, &ts);
        uint64_t pos = atomic_load(&fb->w->unsynced_pos);
        if (fb->w->syncer_stop || pos == synced || fb->w->wfd < 0 || atomic_load(&fb->w->poisoned))
            continue;
        if (evs__datasync(fb->w->wfd) < 0) {
            evs__poison(fb, errno, "background fdatasync of the log failed");
            continue;
        }
        synced = pos;
        evs__head_set_synced(fb, pos);
    }
    pthread_mutex_unlock(&fb->w->syncer_mu);
    return NULL;
}

int evs__syncer_start(file_backend *fb)
{
    fb->w->syncer_stop = false;
    if (pthread_create(&fb->w->syncer, NULL, syncer_main, fb) != 0)
        return evs__seterr(EVS_ENOMEM, "cannot start the background sync thread");
    fb->w->syncer_running = true;
    return 0;
}

void evs__syncer_stop(file_backend *fb)
{
    if (!fb->w || !fb->w->syncer_running)
        return;
    pthread_mutex_lock(&fb->w->syncer_mu);
    fb->w->syncer_stop = true;
    pthread_cond_signal(&fb->w->syncer_cv);
    pthread_mutex_unlock(&fb->w->syncer_mu);
    pthread_join(fb->w->syncer, NULL);
    fb->w->syncer_running = false;
}

int evs__syncer_close(file_backend *fb)
{
    int rc = 0;
    evs__syncer_stop(fb);
    if (!fb->readonly && fb->w->wfd >= 0 && fb->opts.sync_mode != EVS_SYNC_ALWAYS &&
        !atomic_load(&fb->w->poisoned)) {
        if (evs__datasync(fb->w->wfd) < 0)
            rc = evs__seterr_errno(errno, "final sync of '%s' failed", fb->dir);
        else
            evs__head_set_synced(fb, atomic_load(&fb->w->unsynced_pos));
    }
    return rc;
}
