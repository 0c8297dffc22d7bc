/*
 * pg_append.c - appends: the head row locked, expected versions, idempotent ids,
 * writer-given times, the new head and its notification, all inside one transaction.
 *
 * Positions (pg_internal.h says why this orders them): the first statement locks
 * evs_head's one row (SELECT ... FOR UPDATE), so every check below runs with no other
 * append in between, in any process or on any machine. The last statement writes the
 * new head back and queues the notification, which PostgreSQL delivers when the
 * transaction commits, and only then.
 *
 * Round trips: the statements go in libpq pipelines, each read back after one sync.
 * The first takes the savepoint, the head row and every batch's stream; the second
 * every insert, the new head and the savepoint's release. An append costs two round
 * trips (and the commit) whatever its size; only a batch with ids of its own in a
 * stream that has events adds the lookups of idempotence.
 */
#include "pg_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int head_query(pg_backend *pb, int which, int64_t *pos, int64_t *ts)
{
    PGresult *r;
    int rc = evs__pq_run(pb, which, NULL, &r, "reading the head");
    if (rc < 0)
        return rc;
    bool row = PQntuples(r) == 1;
    int64_t p = row ? evs__pq_get_i64(r, 0, 0) : 0, t = row ? evs__pq_get_i64(r, 0, 1) : 0;
    PQclear(r);
    if (!row)
        return evs__seterr(EVS_ECORRUPT,
                           "%s: table evs_head has no row (it always has one): damaged schema",
                           pb->display);
    *pos = p;
    if (ts)
        *ts = t;
    return 0;
}

int evs__pq_head_locked(pg_backend *pb, int64_t *pos, int64_t *ts)
{
    return head_query(pb, PQS_HEAD, pos, ts);
}

typedef struct id_scope {
    pg_backend *pb;
    int64_t stream_id;
} id_scope;

static int find_id(void *ctx, const unsigned char *id, bool *found, int64_t *version,
                   int64_t *pos)
{
    id_scope *sc = ctx;
    pq_params p = {0};
    evs__pq_add_i64(&p, sc->stream_id);
    evs__pq_add_bytes(&p, id, 16);
    PGresult *r;
    int rc = evs__pq_run(sc->pb, PQS_ID_FIND, &p, &r, "looking an event id up");
    if (rc < 0)
        return rc;
    *found = PQntuples(r) == 1;
    if (*found) {
        *version = evs__pq_get_i64(r, 0, 0);
        *pos = evs__pq_get_i64(r, 0, 1);
    }
    PQclear(r);
    return 0;
}

static int id_at(void *ctx, int64_t version, const unsigned char *id, bool *same, int64_t *pos)
{
    id_scope *sc = ctx;
    pq_params p = {0};
    evs__pq_add_i64(&p, sc->stream_id);
    evs__pq_add_i64(&p, version);
    PGresult *r;
    int rc = evs__pq_run(sc->pb, PQS_AT_VERSION, &p, &r, "reading an event id");
    if (rc < 0)
        return rc;
    bool row = PQntuples(r) == 1;
    *same = row && PQgetlength(r, 0, 0) == 16 && memcmp(PQgetvalue(r, 0, 0), id, 16) == 0;
    *pos = row ? evs__pq_get_i64(r, 0, 1) : 0;
    PQclear(r);
    return 0;
}

/* ---- pipelines: statements sent without waiting, read back after one sync ---------- */

typedef struct pipeline {
    pg_backend *pb;
    int rc; /* the first failure to send */
    bool open;
} pipeline;

static void pipe_start(pipeline *pl, pg_backend *pb)
{
    pl->pb = pb;
    pl->rc = 0;
    pl->open = true;
    if (!PQenterPipelineMode(pb->conn))
        pl->rc = evs__pq_fail(pb, NULL, "entering pipeline mode");
}

/* Statement `which`, or the text `sql` when which < 0. */
static void pipe_send(pipeline *pl, int which, const char *sql, const pq_params *p)
{
    static const pq_params none = {0};
    pg_backend *pb = pl->pb;
    if (pl->rc)
        return;
    if (!p)
        p = &none;
    int ok;
    if (which >= 0 && pb->prepared) {
        char name[16];
        snprintf(name, sizeof name, "evs_%d", which);
        ok = PQsendQueryPrepared(pb->conn, name, p->n, p->value, p->length, p->format, 1);
    } else {
        ok = PQsendQueryParams(pb->conn, which >= 0 ? pb->sql[which] : sql, p->n, NULL, p->value,
                               p->length, p->format, 1);
    }
    if (!ok)
        pl->rc = evs__pq_fail(pb, NULL, "sending a statement");
}

/* Sync and read every result: out[i] is the i-th statement's (when out is given; the
 * caller clears them), the first error is returned. An INSERT that wrote no row is an
 * error too (its stream was not found). */
static int pipe_finish(pipeline *pl, PGresult **out, int cap)
{
    pg_backend *pb = pl->pb;
    int rc = pl->rc;
    bool synced = PQpipelineSync(pb->conn) == 1;
    if (!synced && rc == 0)
        rc = evs__pq_fail(pb, NULL, "sending a pipeline");
    for (int i = 0;;) {
        PGresult *r = PQgetResult(pb->conn);
        if (!r) {
            if (!synced || PQstatus(pb->conn) != CONNECTION_OK)
                break;
            continue; /* the end of one statement's results */
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        bool bad = st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK;
        if (rc == 0 && bad) {
            rc = evs__pq_fail(pb, r, "appending");
            r = NULL;
        } else if (rc == 0 && !strncmp(PQcmdStatus(r), "INSERT", 6) && !strcmp(PQcmdTuples(r), "0")) {
            rc = evs__seterr(EVS_ECORRUPT, "%s: an event's stream row is missing", pb->display);
        }
        if (r && out && i < cap && rc == 0)
            out[i] = r;
        else
            PQclear(r);
        i++;
    }
    PQexitPipelineMode(pb->conn);
    pl->open = false;
    return rc;
}

/* ---- the append ---------------------------------------------------------------------- */

/* A stream as this append leaves it. */
typedef struct stream_state {
    int64_t id;   /* 0 while unknown: none yet, or added by this append */
    int64_t last; /* the last version, -1 when the stream has none */
    bool added;   /* its row is sent in this append */
} stream_state;

typedef struct tail {
    int64_t head;
    int64_t last_ts;
    int64_t now;
} tail;

typedef struct appending {
    pg_backend *pb;
    const evs__batch_w *batches;
    size_t count;
    stream_state *state; /* by batch; a stream named again uses its first batch's */
    size_t *first;       /* the first batch of each batch's stream */
    pipeline wr;         /* the inserts, sent as they are decided */
    tail t;
} appending;

static bool same_stream(const evs__batch_w *a, const evs__batch_w *b)
{
    return a->stream_hash == b->stream_hash && a->stream_len == b->stream_len &&
           memcmp(a->stream, b->stream, a->stream_len) == 0;
}

/* The first pipeline: the savepoint, the head row locked, every stream's state. */
static int read_states(appending *a)
{
    pg_backend *pb = a->pb;
    PGresult **res = evs__calloc(a->count + 2, sizeof *res);
    if (!res)
        return evs__seterr(EVS_ENOMEM, "out of memory appending to %s", pb->display);
    pipeline pl;
    pipe_start(&pl, pb);
    pipe_send(&pl, -1, "SAVEPOINT evs_append", NULL);
    pipe_send(&pl, PQS_HEAD_LOCK, NULL, NULL);
    for (size_t i = 0; i < a->count; i++) {
        size_t j = 0;
        while (!same_stream(&a->batches[j], &a->batches[i]))
            j++;
        a->first[i] = j;
        if (j != i)
            continue;
        pq_params p = {0};
        evs__pq_add_bytes(&p, a->batches[i].stream, a->batches[i].stream_len);
        pipe_send(&pl, PQS_STREAM_FIND, NULL, &p);
    }
    int rc = pipe_finish(&pl, res, (int)a->count + 2);
    if (rc == 0 && PQntuples(res[1]) != 1)
        rc = evs__seterr(EVS_ECORRUPT,
                         "%s: table evs_head has no row (it always has one): damaged schema",
                         pb->display);
    if (rc == 0) {
        a->t.head = evs__pq_get_i64(res[1], 0, 0);
        a->t.last_ts = evs__pq_get_i64(res[1], 0, 1);
    }
    for (size_t i = 0, k = 2; rc == 0 && i < a->count; i++) {
        if (a->first[i] != i)
            continue;
        PGresult *r = res[k++];
        bool row = PQntuples(r) == 1;
        a->state[i].id = row ? evs__pq_get_i64(r, 0, 0) : 0;
        a->state[i].last = row ? evs__pq_get_i64(r, 0, 1) : -1;
    }
    for (size_t i = 0; i < a->count + 2; i++)
        PQclear(res[i]);
    evs__free(res);
    return rc;
}

/* Idempotence needs the stream's rows: the inserts sent so far go first, and the id of
 * a stream this append added is read back. */
static int duplicate_check(appending *a, const evs__batch_w *b, stream_state *st,
                           evs_append_result *res, bool *dup)
{
    int rc = a->wr.open ? pipe_finish(&a->wr, NULL, 0) : 0;
    if (rc == 0 && !st->id) {
        pq_params p = {0};
        evs__pq_add_bytes(&p, b->stream, b->stream_len);
        PGresult *r;
        if ((rc = evs__pq_run(a->pb, PQS_STREAM_FIND, &p, &r, "looking a stream up")) < 0)
            return rc;
        st->id = PQntuples(r) == 1 ? evs__pq_get_i64(r, 0, 0) : 0;
        PQclear(r);
    }
    if (rc < 0)
        return rc;
    id_scope sc = {a->pb, st->id};
    evs__id_lookup l = {&sc, find_id, id_at};
    return evs__check_duplicate(b, &l, res, dup);
}

static void send_insert(appending *a, const evs__batch_w *b, int64_t version, int64_t ts,
                        const evs__event_w *e)
{
    pq_params p = {0};
    evs__pq_add_i64(&p, a->t.head + 1);
    evs__pq_add_bytes(&p, b->stream, b->stream_len);
    evs__pq_add_i64(&p, version);
    evs__pq_add_i64(&p, ts);
    evs__pq_add_bytes(&p, e->type, e->type_len);
    evs__pq_add_bytes(&p, e->data, e->data_len);
    evs__pq_add_bytes(&p, e->meta, e->meta_len);
    evs__pq_add_bytes(&p, e->id, 16);
    pipe_send(&a->wr, PQS_INSERT, NULL, &p);
}

static int append_batch(appending *a, size_t i, evs_append_result *res)
{
    const evs__batch_w *b = &a->batches[i];
    stream_state *st = &a->state[a->first[i]];
    tail *t = &a->t;
    int rc;
    if (b->any_id_given && st->last >= 0) {
        bool dup;
        if ((rc = duplicate_check(a, b, st, res, &dup)) < 0 || dup)
            return rc;
    }
    if ((rc = evs__check_expected(b, st->last)) < 0 ||
        (rc = evs__check_given_ts(b, t->last_ts, t->now)) < 0)
        return rc;
    if (!a->wr.open)
        pipe_start(&a->wr, a->pb);
    if (!st->id && !st->added) {
        pq_params p = {0};
        evs__pq_add_bytes(&p, b->stream, b->stream_len);
        pipe_send(&a->wr, PQS_STREAM_ADD, NULL, &p);
        st->added = true;
    }
    res->first_pos = t->head + 1;
    for (size_t k = 0; k < b->count; k++) {
        const evs__event_w *e = &b->events[k];
        int64_t ts = e->ts_ns ? e->ts_ns : t->now > t->last_ts ? t->now : t->last_ts;
        send_insert(a, b, st->last + 1, ts, e);
        t->head++;
        t->last_ts = ts;
        st->last++;
    }
    res->last_pos = t->head;
    res->version = st->last;
    res->duplicate = 0;
    return a->wr.rc;
}

/* The new head, with the notification that carries it. */
static void send_head(appending *a)
{
    pq_params p = {0};
    evs__pq_add_i64(&p, a->t.head);
    evs__pq_add_i64(&p, a->t.last_ts);
    evs__pq_add_bytes(&p, a->pb->channel, strlen(a->pb->channel));
    pipe_send(&a->wr, PQS_HEAD_SET, NULL, &p);
}

int evs__pq_append_in_tx(pg_backend *pb, const evs__batch_w *batches, size_t batch_count,
                         evs_append_result *out)
{
    appending a = {pb, batches, batch_count, NULL, NULL, {0}, {0, 0, evs__now_ns()}};
    a.state = evs__calloc(batch_count, sizeof *a.state);
    a.first = evs__calloc(batch_count, sizeof *a.first);
    if (!a.state || !a.first) {
        evs__free(a.state);
        evs__free(a.first);
        return evs__seterr(EVS_ENOMEM, "out of memory appending to %s", pb->display);
    }
    int rc = read_states(&a);
    bool saved = rc == 0; /* the savepoint exists */
    int64_t start = a.t.head;
    size_t i = 0;
    for (; rc == 0 && i < batch_count; i++)
        rc = append_batch(&a, i, &out[i]);
    if (rc == 0) {
        if (!a.wr.open)
            pipe_start(&a.wr, pb);
        if (a.t.head != start)
            send_head(&a);
        pipe_send(&a.wr, -1, "RELEASE SAVEPOINT evs_append", NULL);
    }
    if (a.wr.open) {
        int frc = pipe_finish(&a.wr, NULL, 0);
        if (rc == 0)
            rc = frc;
    }
    evs__free(a.state);
    evs__free(a.first);
    if (rc == 0)
        return 0;
    if (batch_count > 1 && i > 0 && i <= batch_count)
        evs__prefixerr("batch index %zu (of %zu batches)", i - 1, batch_count);
    /* Keep the error of the append, not of its undoing. */
    int code = evs__lasterr_code();
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", evs__lasterr_msg());
    if (saved || PQtransactionStatus(pb->conn) == PQTRANS_INERROR)
        PQclear(PQexec(pb->conn, "ROLLBACK TO SAVEPOINT evs_append; RELEASE SAVEPOINT evs_append"));
    return evs__seterr(code, "%s", msg);
}
