/*
 * syncer.c - making the log durable outside the commit round: evs_sync, and in
 * EVS_SYNC_BATCH mode a thread that syncs the log every sync_interval_ms.
 *
 * syncer_mu keeps the active segment's descriptor from changing under a sync (the
 * writer takes it to open or close the segment). A failed sync poisons the store, as
 * one in the commit round does (see writer.c).
 */
#include "file_internal.h"
#include "sysio.h"

#include <errno.h>
#include <time.h>

static int sync_now(file_backend *fb)
{
    pthread_mutex_lock(&fb->syncer_mu);
    uint64_t pos = atomic_load(&fb->unsynced_pos);
    int rc = 0;
    if (fb->wfd >= 0 && evs__datasync(fb->wfd) < 0)
        rc = evs__poison(fb, errno, "fdatasync of the log failed");
    else if (fb->head_shared)
        evs__head_set_synced(fb, pos);
    pthread_mutex_unlock(&fb->syncer_mu);
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
    pthread_mutex_lock(&fb->syncer_mu);
    uint64_t synced = 0;
    while (!fb->syncer_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)fb->opts.sync_interval_ms * 1000000u;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&fb->syncer_cv, &fb->syncer_mu, &ts);
        uint64_t pos = atomic_load(&fb->unsynced_pos);
        if (fb->syncer_stop || pos == synced || fb->wfd < 0 || atomic_load(&fb->poisoned))
            continue;
        if (evs__datasync(fb->wfd) < 0) {
            evs__poison(fb, errno, "background fdatasync of the log failed");
            continue;
        }
        synced = pos;
        evs__head_set_synced(fb, pos);
    }
    pthread_mutex_unlock(&fb->syncer_mu);
    return NULL;
}

int evs__syncer_start(file_backend *fb)
{
    fb->syncer_stop = false;
    if (pthread_create(&fb->syncer, NULL, syncer_main, fb) != 0)
        return evs__seterr(EVS_ENOMEM, "cannot start the background sync thread");
    fb->syncer_running = true;
    return 0;
}

void evs__syncer_stop(file_backend *fb)
{
    if (!fb->syncer_running)
        return;
    pthread_mutex_lock(&fb->syncer_mu);
    fb->syncer_stop = true;
    pthread_cond_signal(&fb->syncer_cv);
    pthread_mutex_unlock(&fb->syncer_mu);
    pthread_join(fb->syncer, NULL);
    fb->syncer_running = false;
}

int evs__syncer_close(file_backend *fb)
{
    int rc = 0;
    evs__syncer_stop(fb);
    if (!fb->readonly && fb->wfd >= 0 && fb->opts.sync_mode != EVS_SYNC_ALWAYS &&
        !atomic_load(&fb->poisoned)) {
        if (evs__datasync(fb->wfd) < 0)
            rc = evs__seterr_errno(errno, "final sync of '%s' failed", fb->dir);
        else
            evs__head_set_synced(fb, atomic_load(&fb->unsynced_pos));
    }
    return rc;
}
