/*
 * push.c - push delivery: a thread that takes events from a pull source (subscription,
 * durable consumer or read model) and hands each to the application's handler.
 *
 * The thread is the pull loop an application would write, nothing more: next, handler,
 * ack. It fetches an event only after the handler returned, so there is no queue
 * between the log and the handler and memory does not grow with a slow handler
 * (backpressure is the loop itself, as eventlog's consume() waits for its promise).
 *
 * Stopping. The thread points evs__wait_interrupt at its stop flag, and a stop sets
 * the flag and wakes the store's waiters (evs__store_wake): the thread's wait returns
 * at once, and an idle thread sleeps until an event or a stop comes.
 *
 * Progress. `done_pos` is what the thread has finished with: the last event its
 * handler accepted, or, when the source reports nothing new, everything the source has
 * scanned. It is what status.position shows and what a read model's state is saved at;
 * an event fetched but not handled (a stop came between) is not part of it.
 *
 * Errors belong to the thread that made them (evs_errmsg is per thread), so the first
 * error is copied into the handle and raised again, in the caller's thread, by
 * evs_push_wait and evs_push_close.
 */
#include "sub_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

typedef enum source_kind { SRC_SUBSCRIPTION, SRC_CONSUMER, SRC_READMODEL } source_kind;

struct evs_push {
    source_kind kind;
    evs_subscription *sub; /* exactly one of the three, owned */
    evs_consumer *c;
    evs_readmodel *rm;
    evs_store *store; /* the source's, for waking the thread */
    evs_push_fn fn;
    evs_dump_fn dump; /* read models */
    void *user;
    int64_t save_interval_ns; /* read models */

    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mu;
    pthread_cond_t changed; /* status.position moved, or delivery ended */
    evs_push_status status; /* under mu */
    char msg[512];          /* the message of status.error, under mu */

    /* The thread's own. */
    int64_t done_pos;
    bool dirty;       /* read model: events applied since the last save */
    int64_t saved_at; /* read model: monotonic ns of the last save */
};

/* The push whose thread this is (NULL on the application's threads): tells a call from
 * inside a handler from any other. */
static _Thread_local const evs_push *running_push;

/* ---- the source ------------------------------------------------------------------- */

static int source_next(evs_push *p, evs_event *ev, int timeout_ms)
{
    switch (p->kind) {
    case SRC_SUBSCRIPTION:
        return evs_subscription_next(ev, p->sub, timeout_ms);
    case SRC_CONSUMER:
        return evs_consumer_next(ev, p->c, timeout_ms);
    case SRC_READMODEL:
        return evs_readmodel_next(ev, p->rm, timeout_ms);
    }
    return EVS_EMISUSE;
}

static int64_t source_scanned(const evs_push *p)
{
    switch (p->kind) {
    case SRC_SUBSCRIPTION:
        return evs_subscription_position(p->sub);
    case SRC_CONSUMER:
        return evs__consumer_scanned(p->c);
    case SRC_READMODEL:
        return evs__consumer_scanned(evs__readmodel_consumer(p->rm));
    }
    return 0;
}

static void source_close(evs_push *p)
{
    evs_subscription_close(p->sub);
    /* finish() flushed the consumer and reported a failure; nothing is left to save. */
    (void)evs__consumer_close(p->c);
    evs_readmodel_close(p->rm);
}

/* "consumer 'billing'", for messages. */
static void source_name(const evs_push *p, char *buf, size_t len)
{
    if (p->kind == SRC_CONSUMER)
        snprintf(buf, len, "consumer '%s'", evs__consumer_name(p->c));
    else if (p->kind == SRC_READMODEL)
        snprintf(buf, len, "read model '%s'", evs__readmodel_name(p->rm));
    else
        snprintf(buf, len, "subscription");
}

/* ---- status ----------------------------------------------------------------------- */

/* Record the error that ends delivery (the first one wins) with the thread's message. */
static int fail(evs_push *p, int rc)
{
    pthread_mutex_lock(&p->mu);
    if (p->status.error == 0) {
        p->status.error = rc;
        snprintf(p->msg, sizeof p->msg, "%s", evs_errmsg());
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* The handler (or a read model's dump, at pos 0) refused. */
static int refuse(evs_push *p, const evs_event *ev, int handler_rc)
{
    char who[EVS_MAX_CONSUMER_NAME_LEN + 32];
    source_name(p, who, sizeof who);
    if (ev)
        evs__seterr(EVS_EHANDLER,
                    "%s: the handler returned %d for the event at position %" PRId64
                    " (stream '%.*s', type '%.*s'); delivery stopped there, the event is "
                    "not acknowledged",
                    who, handler_rc, ev->pos, (int)(ev->stream_len > 200 ? 200 : ev->stream_len),
                    ev->stream, (int)ev->type_len, ev->type);
    else
        evs__seterr(EVS_EHANDLER, "%s: dump returned %d; delivery stopped, the state was not saved",
                    who, handler_rc);
    pthread_mutex_lock(&p->mu);
    p->status.handler_rc = handler_rc;
    p->status.error_pos = ev ? ev->pos : 0;
    pthread_mutex_unlock(&p->mu);
    return fail(p, EVS_EHANDLER);
}

/* Publish progress and wake evs_push_wait. */
static void publish(evs_push *p, bool accepted)
{
    pthread_mutex_lock(&p->mu);
    p->status.position = p->done_pos;
    if (accepted)
        p->status.delivered++;
    if (p->kind == SRC_SUBSCRIPTION)
        p->status.skipped = evs_subscription_skipped(p->sub);
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->mu);
}

/* ---- read model saving ------------------------------------------------------------ */

static bool save_due(const evs_push *p)
{
    return p->dirty && evs__monotonic_ns() - p->saved_at >= p->save_interval_ns;
}

static int save_state(evs_push *p)
{
    const char *json = NULL;
    size_t len = 0;
    int drc = p->dump(p->user, &json, &len);
    if (drc != 0)
        return refuse(p, NULL, drc);
    int rc = evs__readmodel_save_at(p->rm, json, len, p->done_pos);
    if (rc < 0)
        return fail(p, rc);
    p->dirty = false;
    p->saved_at = evs__monotonic_ns();
    return 0;
}

/* How long the next wait may last: until an event or a stop comes, or until a read
 * model's save falls due. */
static int wait_ms(const evs_push *p)
{
    if (p->kind != SRC_READMODEL || !p->dirty)
        return -1;
    int64_t left = p->save_interval_ns - (evs__monotonic_ns() - p->saved_at);
    if (left <= 0)
        return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms < INT32_MAX ? (int)ms : INT32_MAX;
}

/* ---- the thread ------------------------------------------------------------------- */

/* Wait for the log to grow past what the source has read. 0 also when the wait timed
 * out or was interrupted by a stop (the loop looks at both); a closed store ends
 * delivery. */
static int sleep_on_store(evs_push *p)
{
    int rc = evs_wait(NULL, p->store, source_scanned(p), wait_ms(p));
    if (rc == EVS_ETIMEDOUT) {
        evs__clearerr();
        return 0;
    }
    return rc < 0 ? fail(p, rc) : 0;
}

/* The handler accepted ev. */
static int accepted(evs_push *p, const evs_event *ev)
{
    p->done_pos = ev->pos;
    if (p->kind == SRC_CONSUMER) {
        int rc = evs_consumer_ack(p->c, ev->pos);
        /* A failed periodic save keeps the ack for the next one (evs_consumer_ack). */
        if (rc < 0 && rc != EVS_EIO && rc != EVS_ENOSPC)
            return fail(p, rc);
    }
    if (p->kind == SRC_READMODEL) {
        p->dirty = true;
        if (save_due(p))
            return save_state(p);
    }
    return 0;
}

/* Nothing new: everything scanned is done. */
static int idle(evs_push *p)
{
    int64_t scanned = source_scanned(p);
    if (scanned > p->done_pos)
        p->done_pos = scanned;
    if (p->kind == SRC_READMODEL && save_due(p))
        return save_state(p);
    return 0;
}

/* After a stop (rc 0) save what is done; after a failure save nothing more than what
 * is already acknowledged. */
static int finish(evs_push *p, int rc)
{
    if (p->kind == SRC_CONSUMER) {
        /* Everything acknowledged is worth keeping, also after a refusal. */
        int frc = evs_consumer_flush(p->c);
        if (frc < 0 && rc == 0)
            rc = fail(p, frc);
    }
    if (p->kind == SRC_READMODEL && rc == 0 && p->dirty)
        rc = save_state(p);
    return rc;
}

static void *push_main(void *arg)
{
    evs_push *p = arg;
    running_push = p;
    evs__wait_interrupt = &p->stop;
    int rc = 0;
    while (rc == 0 && !atomic_load(&p->stop)) {
        evs_event ev;
        int got = source_next(p, &ev, 0);
        if (got < 0) {
            rc = fail(p, got);
            break;
        }
        if (got == 0) {
            /* Nothing new: publish how far the source has read (past events its filter
             * left out), then sleep on the store until the log grows past that, a save
             * falls due or a stop comes. Sleeping here rather than in the source means
             * that progress through events the filter skips is published too. */
            rc = idle(p);
            publish(p, false);
            if (rc == 0)
                rc = sleep_on_store(p);
            continue;
        }
        /* A stop that came while fetching: leave this event to the next run. */
        if (atomic_load(&p->stop))
            break;
        int hrc = p->fn(p->user, &ev);
        rc = hrc != 0 ? refuse(p, &ev, hrc) : accepted(p, &ev);
        if (hrc == 0)
            publish(p, true);
    }
    (void)finish(p, rc); /* an error it meets is recorded by fail() */
    pthread_mutex_lock(&p->mu);
    p->status.running = 0;
    p->status.position = p->done_pos;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- starting --------------------------------------------------------------------- */

static int init_sync(evs_push *p)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return -1;
    /* Waits measure time on the monotonic clock, like every other wait in evstore. */
    int rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&p->changed, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        return -1;
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        pthread_cond_destroy(&p->changed);
        return -1;
    }
    return 0;
}

/* Start the thread for a push whose source is set; frees p (closing the source) on
 * failure. */
static int start(evs_push **out, evs_push *p, const char *fn)
{
    p->store = p->kind == SRC_SUBSCRIPTION ? evs__subscription_store(p->sub)
               : p->kind == SRC_CONSUMER   ? evs__consumer_store(p->c)
                                           : evs__consumer_store(evs__readmodel_consumer(p->rm));
    p->done_pos = source_scanned(p);
    p->status.position = p->done_pos;
    p->status.running = 1;
    p->saved_at = evs__monotonic_ns();
    int err = 0;
    if (init_sync(p) < 0) {
        source_close(p);
        evs__free(p);
        return evs__seterr(EVS_ENOMEM, "%s: cannot set up the thread's lock", fn);
    }
    /* The thread inherits a full signal mask: the application's signals go to its own
     * threads, and a handler is never interrupted by one. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(&p->thread, NULL, push_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        pthread_cond_destroy(&p->changed);
        pthread_mutex_destroy(&p->mu);
        source_close(p);
        evs__free(p);
        return evs__seterr_errno(err, "%s: cannot start the delivery thread", fn);
    }
    *out = p;
    evs__clearerr();
    return 0;
}

/* The checks every constructor makes. `missing` names a NULL callback, or is NULL. */
static evs_push *new_push(evs_push **out, bool has_source, const char *missing, const char *fn,
                          int *rc)
{
    *rc = 0;
    if (out)
        *out = NULL;
    if (!out || !has_source)
        *rc = evs__seterr(EVS_EMISUSE, "%s: %s is NULL", fn, out ? "the source" : "out");
    else if (missing)
        *rc = evs__seterr(EVS_EINVAL, "%s: %s is NULL", fn, missing);
    evs_push *p = NULL;
    if (*rc == 0 && !(p = evs__calloc(1, sizeof *p)))
        *rc = evs__seterr(EVS_ENOMEM, "%s: out of memory", fn);
    return p;
}

int evs_push_subscription(evs_push **out, evs_subscription *sub, evs_push_fn fn, void *user)
{
    int rc;
    evs_push *p =
        new_push(out, sub != NULL, fn ? NULL : "the handler", "evs_push_subscription", &rc);
    if (!p) {
        evs_subscription_close(sub);
        return rc;
    }
    p->kind = SRC_SUBSCRIPTION;
    p->sub = sub;
    p->fn = fn;
    p->user = user;
    return start(out, p, "evs_push_subscription");
}

int evs_push_consumer(evs_push **out, evs_consumer *c, evs_push_fn fn, void *user)
{
    int rc;
    evs_push *p = new_push(out, c != NULL, fn ? NULL : "the handler", "evs_push_consumer", &rc);
    if (!p) {
        (void)evs__consumer_close(c); /* rc, the reason, is what the caller needs */
        return rc;
    }
    p->kind = SRC_CONSUMER;
    p->c = c;
    p->fn = fn;
    p->user = user;
    return start(out, p, "evs_push_consumer");
}

int evs_push_readmodel(evs_push **out, evs_readmodel *rm, evs_push_fn apply, evs_dump_fn dump,
                       void *user, unsigned int save_interval_ms)
{
    int rc;
    const char *missing = !apply ? "apply" : !dump ? "dump" : NULL;
    evs_push *p = new_push(out, rm != NULL, missing, "evs_push_readmodel", &rc);
    if (!p) {
        evs_readmodel_close(rm);
        return rc;
    }
    p->kind = SRC_READMODEL;
    p->rm = rm;
    p->fn = apply;
    p->dump = dump;
    p->user = user;
    p->save_interval_ns = (int64_t)save_interval_ms * 1000000;
    return start(out, p, "evs_push_readmodel");
}

/* ---- controlling ------------------------------------------------------------------ */

static bool on_push_thread(const evs_push *p)
{
    return running_push == p;
}

int evs_push_stop(evs_push *p)
{
    if (!p)
        return evs__seterr(EVS_EMISUSE, "evs_push_stop: push is NULL");
    atomic_store(&p->stop, true);
    evs__store_wake(p->store);
    evs__clearerr();
    return 0;
}

/* The error that ended delivery, raised in this thread. Under p->mu. */
static int raise_error(const evs_push *p)
{
    return evs__seterr(p->status.error, "%s", p->msg);
}

int evs_push_wait(evs_push *p, int64_t pos, int timeout_ms)
{
    if (!p)
        return evs__seterr(EVS_EMISUSE, "evs_push_wait: push is NULL");
    if (on_push_thread(p))
        return evs__seterr(EVS_EMISUSE, "evs_push_wait: called from inside the handler, it "
                                        "would wait for itself");
    if (timeout_ms < -1)
        return evs__seterr(EVS_EINVAL, "evs_push_wait: timeout_ms %d is not -1, 0 or positive",
                           timeout_ms);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (timeout_ms > 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
        if (deadline.tv_nsec >= 1000000000) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000;
        }
    }
    pthread_mutex_lock(&p->mu);
    while (p->status.running && p->status.position < pos && timeout_ms != 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&p->changed, &p->mu);
        else if (pthread_cond_timedwait(&p->changed, &p->mu, &deadline) == ETIMEDOUT)
            break;
    }
    int rc = 0;
    if (p->status.position >= pos)
        rc = 1;
    else if (!p->status.running && p->status.error != 0)
        rc = raise_error(p);
    pthread_mutex_unlock(&p->mu);
    if (rc >= 0)
        evs__clearerr();
    return rc;
}

void evs_push_get(evs_push_status *out, evs_push *p)
{
    memset(out, 0, sizeof *out);
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    *out = p->status;
    pthread_mutex_unlock(&p->mu);
}

int evs_push_close(evs_push_status *out, evs_push *p)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!p)
        return 0;
    if (on_push_thread(p))
        return evs__seterr(EVS_EMISUSE, "evs_push_close: called from inside the handler; "
                                        "call evs_push_stop there and close from another "
                                        "thread");
    atomic_store(&p->stop, true);
    evs__store_wake(p->store);
    pthread_join(p->thread, NULL);
    source_close(p);
    if (out)
        *out = p->status;
    int rc = p->status.error;
    if (rc < 0)
        raise_error(p);
    else
        evs__clearerr();
    pthread_cond_destroy(&p->changed);
    pthread_mutex_destroy(&p->mu);
    evs__free(p);
    return rc;
}
