/*
 * sindex_merge.c - merging the stream index's runs, off the append path.
 *
 * Each run the writer adds holds the streams touched since the one before, so runs pile
 * up; a lookup searches them newest first. A thread of the writer's handle merges the
 * newest runs into one whenever the runs to merge together hold at least half as many
 * entries as the oldest of them (size-tiered, as LSM trees do): runs stay few
 * (logarithmic in the number of streams), and each entry is rewritten a logarithmic
 * number of times, not once per run the writer adds.
 *
 * The merged run covers the positions of the runs it replaces; it is written under its
 * own name and renamed into place, then the runs it covers are removed. Readers that
 * mapped them keep their mappings; a reader that lists the runs takes the one reaching
 * furthest. A lock file serialises merges (and whole-index replacements) across
 * processes; a merge that finds it taken is skipped, for the next kick.
 */
#include "file_backend.h"
#include "sindex.h"
#include "util.h"
#include "worker.h"

#include <pthread.h>

#include <string.h>

/* The thread that merges runs, and what it is told. */
struct sidx_merger {
    file_backend *fb;
    evs__worker *worker;
    bool due; /* a run was added since the last look; guarded by the worker's lock */
};

static bool merger_take(void *arg)
{
    sidx_merger *m = arg;
    bool due = m->due;
    m->due = false;
    return due;
}

static void merger_run(void *arg)
{
    sidx_merger *m = arg;
    /* A cache: a merge that fails leaves the runs as they were. */
    int rc;
    while ((rc = evs__sidx_merge_once(m->fb)) > 0 && !evs__worker_stopping(m->worker))
        ;
    if (rc < 0)
        evs__clearerr();
}

/* At close, a merge due is dropped (evs__sidx_merge_tidy does what must be done). */
static const evs__worker_ops merger_ops = {merger_take, merger_run, false};

int evs__sidx_merger_new(file_backend *fb)
{
    sidx_merger *m = evs__calloc(1, sizeof *m);
    evs__worker *w = m ? evs__worker_new(&merger_ops, m) : NULL;
    if (!w) {
        evs__free(m);
        return evs__seterr(EVS_ENOMEM, "out of memory opening '%s'", fb->dir);
    }
    m->fb = fb;
    m->worker = w;
    fb->merge = m;
    return 0;
}

void evs__sidx_merger_free(file_backend *fb)
{
    if (!fb->merge)
        return;
    evs__worker_free(fb->merge->worker);
    evs__free(fb->merge);
    fb->merge = NULL;
}

/* More runs than this and the two newest are merged whatever their sizes. */
#define RUNS_MAX 12

/* The first run of the newest runs due for a merge, or n when none is. */
static size_t pick(sidx_run *const *runs, size_t n)
{
    if (n < 2)
        return n;
    uint64_t newer = evs__sidx_info(runs[n - 1])->entries;
    size_t first = n;
    for (size_t i = n - 1; i-- > 0;) {
        uint64_t here = evs__sidx_info(runs[i])->entries;
        if (here > 2 * newer)
            break;
        newer += here;
        first = i;
    }
    if (first == n && n > RUNS_MAX)
        first = n - 2;
    return first;
}

/* Replace runs[j..j+m) of the table, the ones merged, by `merged` (when the table still
 * has them: a reset while the merge ran leaves them out, and the merged run unused). */
static void swap_in(streamtab *t, sidx_run *const *old, size_t m, sidx_run *merged)
{
    for (size_t j = 0; j + m <= t->run_n; j++) {
        if (memcmp(&t->runs[j], old, m * sizeof *old) != 0)
            continue;
        for (size_t i = 0; i < m; i++)
            evs__sidx_release(t->runs[j + i]);
        t->runs[j] = merged;
        memmove(&t->runs[j + 1], &t->runs[j + m], (t->run_n - j - m) * sizeof *t->runs);
        t->run_n -= m - 1;
        return;
    }
    evs__sidx_release(merged);
}

static int merge_into(file_backend *fb, sidx_run *const *runs, size_t m, sidx_run **out)
{
    const sidx_run *last = runs[m - 1];
    sidx_writer w;
    int rc = evs__sidx_writer_open(&w, fb, evs__sidx_info(runs[0])->from, evs__sidx_info(last)->to);
    if (rc < 0)
        return rc;
    sidx_iter it;
    if ((rc = evs__sidx_iter_init(&it, runs, m)) < 0) {
        evs__sidx_writer_abort(&w);
        return rc;
    }
    uint64_t k;
    stream_val v;
    while ((rc = evs__sidx_iter_next(&it, &k, &v)) > 0)
        if ((rc = evs__sidx_writer_add(&w, k, &v)) < 0)
            break;
    evs__sidx_iter_free(&it);
    if (rc < 0) {
        evs__sidx_writer_abort(&w);
        return rc;
    }
    return evs__sidx_writer_finish(&w, evs__sidx_info(last)->next_seg,
                                   evs__sidx_info(last)->next_off, evs__sidx_info(last)->streams,
                                   fb->opts.sync_mode == EVS_SYNC_ALWAYS, out);
}

int evs__sidx_merge_once(file_backend *fb)
{
    pthread_rwlock_rdlock(&fb->tab_lock);
    streamtab *t = &fb->tab;
    size_t first = pick(t->runs, t->run_n), m = t->run_n - first;
    sidx_run **old = m > 1 ? evs__calloc(m, sizeof *old) : NULL;
    for (size_t i = 0; old && i < m; i++)
        old[i] = evs__sidx_ref(t->runs[first + i]);
    pthread_rwlock_unlock(&fb->tab_lock);
    if (!old)
        return m > 1 ? evs__seterr(EVS_ENOMEM, "out of memory merging the stream index") : 0;
    int lock_fd = evs__sidx_lock_merges(fb, false);
    int rc = lock_fd;
    sidx_run *merged = NULL;
    if (lock_fd >= 0) {
        rc = merge_into(fb, old, m, &merged);
        /* The merged run is in place: the runs it covers go (a failure leaves them, and
         * readers take the merged one anyway). */
        if (rc == 0 && evs__sidx_remove(fb, UINT64_MAX, true) < 0)
            evs__clearerr();
        evs__sidx_unlock_merges(lock_fd);
    }
    if (rc == 0) {
        pthread_rwlock_wrlock(&fb->tab_lock);
        swap_in(t, old, m, merged);
        pthread_rwlock_unlock(&fb->tab_lock);
    }
    for (size_t i = 0; i < m; i++)
        evs__sidx_release(old[i]);
    evs__free(old);
    if (rc == EVS_EBUSY) { /* another process merges: its result will do */
        evs__clearerr();
        return 0;
    }
    return rc < 0 ? rc : 1;
}

void evs__sidx_merge_tidy(file_backend *fb)
{
    for (int i = 0; i < 4; i++) {
        pthread_rwlock_rdlock(&fb->tab_lock);
        bool many = fb->tab.run_n > RUNS_MAX;
        pthread_rwlock_unlock(&fb->tab_lock);
        if (!many || evs__sidx_merge_once(fb) <= 0)
            break;
    }
    evs__clearerr();
}

void evs__sidx_merge_kick(file_backend *fb)
{
    if (!fb->merge)
        return;
    evs__worker_lock(fb->merge->worker);
    evs__worker_wake(fb->merge->worker);
    fb->merge->due = true;
    evs__worker_unlock(fb->merge->worker);
}

void evs__sidx_merge_finish(file_backend *fb)
{
    if (fb->merge)
        evs__worker_finish(fb->merge->worker);
}
