/*
 * sqlite_commit.c - appends through a store handle: group commit.
 *
 * With synchronous=FULL every COMMIT syncs the WAL, and threads appending through one
 * handle would each pay a whole sync in turn. Instead an append queues its request; the
 * first thread to find no commit running becomes the leader, takes every request queued
 * so far, writes each inside one IMMEDIATE transaction under a savepoint of its own
 * (evs__sq_append_in_tx: a request that fails rolls back alone, and its positions go to
 * the next request, so no hole is left) and commits them with one sync. Requests that
 * arrive meanwhile wait for the next round; their threads sleep on queue_cv.
 */
#include "sqlite_internal.h"

#include <stdio.h>

typedef struct sq_request {
    const evs__batch_w *batches;
    size_t batch_count;
    evs_append_result *out;
    int rc;
    bool done;
    char msg[1024]; /* the error, for the request's own thread (errors are per thread) */
    struct sq_request *next;
} sq_request;

static void fail_request(sq_request *r, int rc)
{
    r->rc = rc;
    snprintf(r->msg, sizeof r->msg, "%s", evs__lasterr_msg());
}

static int begin(sqlite_backend *sb)
{
    int rc = sqlite3_exec(sb->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        return 0;
    if ((rc & 0xff) == SQLITE_BUSY)
        return evs__seterr(EVS_EBUSY,
                           "store 'sqlite:%s' is busy: another connection holds SQLite's write "
                           "lock past lock_wait_ms (%d ms)",
                           sb->path, sb->opts.lock_wait_ms);
    return evs__sq_err(sb, rc, "starting an append");
}

/* One round: every request of `list` in one transaction. A request's own failure
 * (a conflict, bad ts) costs only its savepoint. Should SQLite end the transaction
 * itself (a full disk, an I/O error), the requests written before in it are lost
 * with it and fail with that error; the round goes on in a new transaction. */
static void commit_round(sqlite_backend *sb, sq_request *list)
{
    pthread_mutex_lock(&sb->mu);
    sq_request *first = list; /* the first request of the open transaction */
    int rc = begin(sb);
    for (sq_request *r = list; r; r = r->next) {
        if (rc < 0) {
            fail_request(r, rc);
            continue;
        }
        r->rc = evs__sq_append_in_tx(sb, r->batches, r->batch_count, r->out);
        if (r->rc < 0)
            fail_request(r, r->rc);
        if (r->rc < 0 && sqlite3_get_autocommit(sb->db)) {
            for (sq_request *w = first; w != r; w = w->next)
                if (w->rc == 0)
                    fail_request(w, r->rc);
            first = r->next;
            rc = begin(sb);
        }
    }
    if (rc == 0) {
        int src = sqlite3_exec(sb->db, "COMMIT", NULL, NULL, NULL);
        if (src != SQLITE_OK) {
            rc = evs__sq_err(sb, src, "committing an append");
            for (sq_request *w = first; w; w = w->next)
                if (w->rc == 0)
                    fail_request(w, rc);
            if (!sqlite3_get_autocommit(sb->db))
                sqlite3_exec(sb->db, "ROLLBACK", NULL, NULL, NULL);
        }
    }
    pthread_mutex_unlock(&sb->mu);
}

int evs__sq_append(evs__backend *be, const evs__batch_w *batches, size_t batch_count,
                   evs_append_result *out)
{
    sqlite_backend *sb = (sqlite_backend *)be;
    if (sb->readonly)
        return evs__seterr(EVS_EREADONLY, "store 'sqlite:%s' was opened read-only", sb->path);
    if (sb->borrowed) /* the outbox: the application's transaction, its thread */
        return evs__sq_append_in_tx(sb, batches, batch_count, out);
    sq_request me = {batches, batch_count, out, 0, false, "", NULL};
    pthread_mutex_lock(&sb->queue_mu);
    sq_request **tail = &sb->queue;
    while (*tail)
        tail = &(*tail)->next;
    *tail = &me;
    while (!me.done) {
        if (sb->committing) {
            pthread_cond_wait(&sb->queue_cv, &sb->queue_mu);
            continue;
        }
        sq_request *list = sb->queue;
        sb->queue = NULL;
        sb->committing = true;
        pthread_mutex_unlock(&sb->queue_mu);
        commit_round(sb, list);
        pthread_mutex_lock(&sb->queue_mu);
        for (sq_request *r = list, *next; r; r = next) {
            next = r->next; /* r belongs to its thread once done is set */
            r->done = true;
        }
        sb->committing = false;
        pthread_cond_broadcast(&sb->queue_cv);
    }
    pthread_mutex_unlock(&sb->queue_mu);
    if (me.rc < 0)
        return evs__seterr(me.rc, "%s", me.msg);
    evs__sq_signal(sb);
    return 0;
}
