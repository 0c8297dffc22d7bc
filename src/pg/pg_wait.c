/*
 * pg_wait.c - waiting for new events: LISTEN/NOTIFY, with a catch-up read.
 *
 * Every append's transaction notifies the store's channel ("evs:" + schema) with its
 * new head; PostgreSQL delivers it when, and only if, the transaction commits, so a
 * notified head is committed and visible. A handle's first wait starts a listener
 * thread with a connection of its own that LISTENs and wakes the waiters (no polling).
 *
 * Notifications can be missed: the listener's connection breaks (a server restart),
 * or is down while an append commits. A waiter therefore never trusts silence: it
 * reads the head from the table before it sleeps, after every reconnection of the
 * listener, and at least every CATCHUP_MS. A lost notification costs latency, never an
 * event.
 */
#define _GNU_SOURCE
#include "pg_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The longest a waiter sleeps without reading the head itself. */
#define CATCHUP_MS 1000
/* The listener's pause before it connects again after losing its connection. */
#define RECONNECT_MS 100

typedef struct pg_listener {
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* waiters sleep here; broadcast at every change of gen */
    uint64_t gen;       /* bumped by notifications, reconnections, wakes */
    int64_t known_head; /* the highest committed head notified or appended here */
    bool closing;       /* evs_close: every wait returns EVS_ECLOSED */
    bool started;
    bool stop; /* the listener thread is to end */
    pthread_t thread;
    int pipe[2]; /* wakes the listener's poll when it is to stop */
    PGconn *conn;
} pg_listener;

static void bump_locked(pg_listener *l)
{
    l->gen++;
    pthread_cond_broadcast(&l->cv);
}

static void note_head(pg_listener *l, int64_t head)
{
    pthread_mutex_lock(&l->mu);
    if (head > l->known_head)
        l->known_head = head;
    bump_locked(l);
    pthread_mutex_unlock(&l->mu);
}

/* Connect and LISTEN; NULL when the server cannot be reached now. */
static PGconn *listen_conn(pg_backend *pb)
{
    PGconn *conn;
    if (evs__pq_connect(pb, &conn) < 0)
        return NULL;
    char *channel = PQescapeIdentifier(conn, pb->channel, strlen(pb->channel));
    char sql[200];
    snprintf(sql, sizeof sql, "LISTEN %s", channel ? channel : "\"\"");
    PQfreemem(channel);
    PGresult *r = PQexec(conn, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* Wait for the socket (or the stop pipe) up to ms; false when told to stop. */
static bool sleep_on(pg_listener *l, int fd, int ms)
{
    struct pollfd p[2] = {{l->pipe[0], POLLIN, 0}, {fd, POLLIN, 0}};
    int rc = poll(p, fd >= 0 ? 2 : 1, ms);
    if (rc < 0 && errno != EINTR)
        return false;
    pthread_mutex_lock(&l->mu);
    bool stop = l->stop;
    pthread_mutex_unlock(&l->mu);
    return !stop;
}

static void *listener_main(void *arg)
{
    pg_backend *pb = arg;
    pg_listener *l = pb->listener;
    evs__clearerr();
    for (;;) {
        if (!l->conn) {
            l->conn = listen_conn(pb);
            evs__clearerr();
            if (!l->conn) {
                if (!sleep_on(l, -1, RECONNECT_MS))
                    break;
                continue;
            }
            /* Notifications sent while no connection listened are lost: waiters read
             * the head again. */
            note_head(l, 0);
        }
        if (!sleep_on(l, PQsocket(l->conn), CATCHUP_MS))
            break;
        if (!PQconsumeInput(l->conn)) {
            PQfinish(l->conn);
            l->conn = NULL;
            note_head(l, 0);
            continue;
        }
        PGnotify *n;
        int64_t head = 0;
        bool any = false;
        while ((n = PQnotifies(l->conn)) != NULL) {
            int64_t h = strtoll(n->extra, NULL, 10);
            if (h > head)
                head = h;
            any = true;
            PQfreemem(n);
        }
        if (any)
            note_head(l, head);
    }
    PQfinish(l->conn);
    l->conn = NULL;
    return NULL;
}

static pg_listener *listener_get(pg_backend *pb)
{
    /* Made once, under the handle's queue mutex, which nothing holds for long. */
    pthread_mutex_lock(&pb->queue_mu);
    pg_listener *l = pb->listener;
    if (!l && (l = evs__calloc(1, sizeof *l)) != NULL) {
        pthread_mutex_init(&l->mu, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&l->cv, &ca);
        pthread_condattr_destroy(&ca);
        l->pipe[0] = l->pipe[1] = -1;
        pb->listener = l;
    }
    pthread_mutex_unlock(&pb->queue_mu);
    return l;
}

static int listener_start(pg_backend *pb, pg_listener *l)
{
    pthread_mutex_lock(&l->mu);
    int rc = 0;
    if (!l->started) {
        if (pipe2(l->pipe, O_CLOEXEC) < 0)
            rc = evs__seterr_errno(errno, "cannot make a pipe for the listener of %s",
                                   pb->display);
        else if ((rc = pthread_create(&l->thread, NULL, listener_main, pb)) != 0)
            rc = evs__seterr_errno(rc, "cannot start the listener of %s", pb->display);
        else
            l->started = true;
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void evs__pq_listener_free(pg_backend *pb)
{
    pg_listener *l = pb->listener;
    if (!l)
        return;
    if (l->started) {
        pthread_mutex_lock(&l->mu);
        l->stop = true;
        pthread_mutex_unlock(&l->mu);
        ssize_t w = write(l->pipe[1], "x", 1);
        (void)w;
        pthread_join(l->thread, NULL);
    }
    if (l->pipe[0] >= 0) {
        close(l->pipe[0]);
        close(l->pipe[1]);
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    evs__free(l);
    pb->listener = NULL;
}

void evs__pq_signal(pg_backend *pb, int64_t head)
{
    /* The listener is made by the first wait, perhaps on another thread meanwhile. */
    pthread_mutex_lock(&pb->queue_mu);
    pg_listener *l = pb->listener;
    pthread_mutex_unlock(&pb->queue_mu);
    if (l)
        note_head(l, head);
}

void evs__pq_wake(evs__backend *be, bool closing)
{
    pg_listener *l = listener_get((pg_backend *)be);
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->closing |= closing;
    bump_locked(l);
    pthread_mutex_unlock(&l->mu);
}

/* The head as the table has it now. */
static int read_head(pg_backend *pb, int64_t *head)
{
    pthread_mutex_lock(&pb->mu);
    int rc = evs__pq_ready(pb);
    if (rc == 0)
        rc = evs__pq_head_locked(pb, head, NULL);
    pthread_mutex_unlock(&pb->mu);
    return rc;
}

int evs__pq_wait(evs__backend *be, int64_t after_pos, int timeout_ms, int64_t *head_out)
{
    pg_backend *pb = (pg_backend *)be;
    pg_listener *l = listener_get(pb);
    if (!l)
        return evs__seterr(EVS_ENOMEM, "out of memory waiting on %s", pb->display);
    int rc = listener_start(pb, l);
    if (rc < 0)
        return rc;
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : evs__monotonic_ns() + timeout_ms * 1000000LL;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        uint64_t gen = l->gen;
        bool closing = l->closing;
        int64_t known = l->known_head;
        pthread_mutex_unlock(&l->mu);
        if (closing)
            return evs__seterr(EVS_ECLOSED, "the store was closed during the wait");
        if (evs__wait_interrupt && atomic_load(evs__wait_interrupt))
            return evs__seterr(EVS_ETIMEDOUT, "the wait after position %" PRId64 " was interrupted",
                               after_pos);
        /* A notified head is committed: no need to read it. Anything else (the first
         * look, a reconnection of the listener, a wake, the catch-up period) reads the
         * table. */
        int64_t head = known;
        if (head <= after_pos && (rc = read_head(pb, &head)) < 0)
            return rc;
        if (head > after_pos) {
            if (head_out)
                *head_out = head;
            return 0;
        }
        int64_t now = evs__monotonic_ns();
        if (now >= deadline)
            return evs__seterr(EVS_ETIMEDOUT, "no event after position %" PRId64 " within %d ms",
                               after_pos, timeout_ms);
        int64_t until = now + CATCHUP_MS * 1000000LL;
        if (until > deadline)
            until = deadline;
        struct timespec ts = {(time_t)(until / 1000000000), (long)(until % 1000000000)};
        pthread_mutex_lock(&l->mu);
        int w = 0;
        while (l->gen == gen && !l->closing && w != ETIMEDOUT)
            w = pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        pthread_mutex_unlock(&l->mu);
    }
}
