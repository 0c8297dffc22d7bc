/*
 * pg_commit.c - appends through a store handle: group commit.
 *
 * Appends are serialised by the head row (pg_append.c), so each transaction waits for
 * the one before it to commit, and with synchronous_commit on every commit waits for
 * its WAL flush. Threads appending through one handle share that wait instead of paying
 * it in turn: an append queues its request; the first thread to find no commit running
 * becomes the leader, takes every request queued so far, writes each inside one
 * transaction under a savepoint of its own (a request that fails rolls back alone, and
 * its positions go to the next request: no hole) and commits them together. Requests
 * that arrive meanwhile wait for the next round.
 */
#include "pg_internal.h"

#include <stdio.h>

typedef struct pq_request {
    const evs__batch_w *batches;
    size_t batch_count;
    evs_append_result *out;
    int rc;
    bool done;
    char msg[1024]; /* the error, for the request's own thread (errors are per thread) */
    struct pq_request *next;
} pq_request;

static void fail_request(pq_request *r, int rc)
{
    r->rc = rc;
    snprintf(r->msg, sizeof r->msg, "%s", evs__lasterr_msg());
}

static int begin(pg_backend *pb)
{
    int rc = evs__pq_ready(pb);
    if (rc == 0)
        rc = evs__pq_exec(pb, "BEGIN");
    /* The server ended the session since the last use (a restart): nothing was sent
     * yet, so a new session may take the append. */
    if (rc < 0 && PQstatus(pb->conn) != CONNECTION_OK && (rc = evs__pq_ready(pb)) == 0)
        rc = evs__pq_exec(pb, "BEGIN");
    return rc;
}

/* Fail every request of [from, to) that had succeeded: their transaction is gone. */
static void fail_written(pq_request *from, pq_request *to, int rc)
{
    for (pq_request *w = from; w != to; w = w->next)
        if (w->rc == 0)
            fail_request(w, rc);
}

/* One round: every request of `list` in one transaction. *head the last position
 * committed (0 when none). */
static void commit_round(pg_backend *pb, pq_request *list, int64_t *head)
{
    *head = 0;
    pthread_mutex_lock(&pb->mu);
    pq_request *first = list; /* the first request of the open transaction */
    int rc = begin(pb);
    for (pq_request *r = list; r; r = r->next) {
        if (rc < 0) {
            fail_request(r, rc);
            continue;
        }
        r->rc = evs__pq_append_in_tx(pb, r->batches, r->batch_count, r->out);
        if (r->rc < 0)
            fail_request(r, r->rc);
        if (r->rc < 0 && PQtransactionStatus(pb->conn) != PQTRANS_INTRANS) {
            /* Not the request's own failure: the transaction or the connection broke. */
            fail_written(first, r, r->rc);
            PQclear(PQexec(pb->conn, "ROLLBACK"));
            first = r->next;
            rc = begin(pb);
        }
    }
    if (rc == 0) {
        rc = evs__pq_exec(pb, "COMMIT");
        if (rc < 0) {
            fail_written(first, NULL, rc);
            PQclear(PQexec(pb->conn, "ROLLBACK"));
        }
    }
    for (pq_request *r = first; rc == 0 && r; r = r->next)
        for (size_t i = 0; r->rc == 0 && i < r->batch_count; i++)
            if (r->out[i].last_pos > *head)
                *head = r->out[i].last_pos;
    pthread_mutex_unlock(&pb->mu);
}

int evs__pq_append(evs__backend *be, const evs__batch_w *batches, size_t batch_count,
                   evs_append_result *out)
{
    pg_backend *pb = (pg_backend *)be;
    if (pb->readonly)
        return evs__seterr(EVS_EREADONLY, "store %s was opened read-only", pb->display);
    if (pb->borrowed) /* the outbox: the application's transaction, its thread */
        return evs__pq_append_in_tx(pb, batches, batch_count, out);
    pq_request me = {batches, batch_count, out, 0, false, "", NULL};
    int64_t head = 0;
    pthread_mutex_lock(&pb->queue_mu);
    pq_request **tail = &pb->queue;
    while (*tail)
        tail = &(*tail)->next;
    *tail = &me;
    while (!me.done) {
        if (pb->committing) {
            pthread_cond_wait(&pb->queue_cv, &pb->queue_mu);
            continue;
        }
        pq_request *list = pb->queue;
        pb->queue = NULL;
        pb->committing = true;
        pthread_mutex_unlock(&pb->queue_mu);
        commit_round(pb, list, &head);
        pthread_mutex_lock(&pb->queue_mu);
        for (pq_request *r = list, *next; r; r = next) {
            next = r->next; /* r belongs to its thread once done is set */
            r->done = true;
        }
        pb->committing = false;
        pthread_cond_broadcast(&pb->queue_cv);
    }
    pthread_mutex_unlock(&pb->queue_mu);
    if (me.rc < 0)
        return evs__seterr(me.rc, "%s", me.msg);
    if (head)
        evs__pq_signal(pb, head);
    return 0;
}
