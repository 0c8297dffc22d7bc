/*
 * pg_append.c - appends: the head row locked, expected versions, idempotent ids,
 * writer-given times, the new head and its notification, all inside one transaction.
 *
 * Positions (pg_internal.h says why this orders them): the first statement locks
 * evs_head's one row (SELECT ... FOR UPDATE), so every check below runs with no other
 * append in between, in any process or on any machine. The last statement writes the
 * new head back and queues the notification, which PostgreSQL delivers when the
 * transaction commits, and only then.
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

/* The stream's id (0 when it has none yet), last version (-1) and last position. */
static int stream_state(pg_backend *pb, const evs__batch_w *b, int64_t *id, int64_t *last)
{
    pq_params p = {0};
    evs__pq_add_bytes(&p, b->stream, b->stream_len);
    PGresult *r;
    int rc = evs__pq_run(pb, PQS_STREAM_FIND, &p, &r, "looking a stream up");
    if (rc < 0)
        return rc;
    bool row = PQntuples(r) == 1;
    *id = row ? evs__pq_get_i64(r, 0, 0) : 0;
    *last = row ? evs__pq_get_i64(r, 0, 1) : -1;
    PQclear(r);
    return 0;
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

static int add_stream(pg_backend *pb, const evs__batch_w *b, int64_t *id)
{
    pq_params p = {0};
    evs__pq_add_bytes(&p, b->stream, b->stream_len);
    PGresult *r;
    int rc = evs__pq_run(pb, PQS_STREAM_ADD, &p, &r, "adding a stream");
    if (rc < 0)
        return rc;
    *id = PQntuples(r) == 1 ? evs__pq_get_i64(r, 0, 0) : 0;
    PQclear(r);
    return 0;
}

static int insert_event(pg_backend *pb, int64_t pos, int64_t stream_id, int64_t version,
                        int64_t ts, const evs__event_w *e)
{
    pq_params p = {0};
    evs__pq_add_i64(&p, pos);
    evs__pq_add_i64(&p, stream_id);
    evs__pq_add_i64(&p, version);
    evs__pq_add_i64(&p, ts);
    evs__pq_add_bytes(&p, e->type, e->type_len);
    evs__pq_add_bytes(&p, e->data, e->data_len);
    evs__pq_add_bytes(&p, e->meta, e->meta_len);
    evs__pq_add_bytes(&p, e->id, 16);
    PGresult *r;
    int rc = evs__pq_run(pb, PQS_INSERT, &p, &r, "inserting an event");
    if (rc == 0)
        PQclear(r);
    return rc;
}

typedef struct tail {
    int64_t head;
    int64_t last_ts;
    int64_t now;
} tail;

static int append_batch(pg_backend *pb, const evs__batch_w *b, tail *t, evs_append_result *res)
{
    int64_t stream_id, last;
    int rc = stream_state(pb, b, &stream_id, &last);
    if (rc < 0)
        return rc;
    if (b->any_id_given && last >= 0) {
        id_scope sc = {pb, stream_id};
        evs__id_lookup l = {&sc, find_id, id_at};
        bool dup;
        if ((rc = evs__check_duplicate(b, &l, res, &dup)) < 0 || dup)
            return rc;
    }
    if ((rc = evs__check_expected(b, last)) < 0 ||
        (rc = evs__check_given_ts(b, t->last_ts, t->now)) < 0)
        return rc;
    if (!stream_id && (rc = add_stream(pb, b, &stream_id)) < 0)
        return rc;
    res->first_pos = t->head + 1;
    for (size_t i = 0; i < b->count; i++) {
        const evs__event_w *e = &b->events[i];
        int64_t ts = e->ts_ns ? e->ts_ns : t->now > t->last_ts ? t->now : t->last_ts;
        if ((rc = insert_event(pb, t->head + 1, stream_id, last + 1, ts, e)) < 0)
            return rc;
        t->head++;
        t->last_ts = ts;
        last++;
    }
    res->last_pos = t->head;
    res->version = last;
    res->duplicate = 0;
    return 0;
}

/* The new head, with the notification that carries it. */
static int set_head(pg_backend *pb, const tail *t)
{
    pq_params p = {0};
    evs__pq_add_i64(&p, t->head);
    evs__pq_add_i64(&p, t->last_ts);
    evs__pq_add_bytes(&p, pb->channel, strlen(pb->channel));
    PGresult *r;
    int rc = evs__pq_run(pb, PQS_HEAD_SET, &p, &r, "writing the head");
    if (rc == 0)
        PQclear(r);
    return rc;
}

int evs__pq_append_in_tx(pg_backend *pb, const evs__batch_w *batches, size_t batch_count,
                         evs_append_result *out)
{
    int rc = evs__pq_exec(pb, "SAVEPOINT evs_append");
    if (rc < 0)
        return rc;
    tail t = {0, 0, evs__now_ns()};
    int64_t start = 0;
    rc = head_query(pb, PQS_HEAD_LOCK, &t.head, &t.last_ts);
    start = t.head;
    size_t i = 0;
    for (; rc == 0 && i < batch_count; i++)
        rc = append_batch(pb, &batches[i], &t, &out[i]);
    if (rc == 0 && t.head != start)
        rc = set_head(pb, &t);
    if (rc == 0)
        return evs__pq_exec(pb, "RELEASE SAVEPOINT evs_append");
    if (batch_count > 1 && i > 0)
        evs__prefixerr("batch index %zu (of %zu batches)", i - 1, batch_count);
    /* Keep the error of the append, not of its undoing. */
    int code = evs__lasterr_code();
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", evs__lasterr_msg());
    PQclear(PQexec(pb->conn, "ROLLBACK TO SAVEPOINT evs_append; RELEASE SAVEPOINT evs_append"));
    return evs__seterr(code, "%s", msg);
}
