/*
 * pg_cursor.c - reading: cursors, one stream's figures, the stream listing and the
 * time seek.
 *
 * A cursor holds no server-side cursor or transaction between steps: it fetches up to
 * FETCH_ROWS rows at a time, keyed on the last position or version it saw (so a forward
 * cursor reaches events committed after it was opened), keeps the result and hands
 * out views into it until the next fetch. The handle's connection is shared by its
 * threads, each fetch taking it briefly. Positions commit in order (pg_internal.h), so
 * a fetch past position N never misses an event below a position it returns.
 */
#include "pg_internal.h"

#include <inttypes.h>
#include <string.h>

#define FETCH_ROWS 256

enum mode { SCAN_FWD, SCAN_BWD, STREAM_FWD, STREAM_BWD };

static const int mode_stmt[] = {
    [SCAN_FWD] = PQS_SCAN_FWD,
    [SCAN_BWD] = PQS_SCAN_BWD,
    [STREAM_FWD] = PQS_STREAM_FWD,
    [STREAM_BWD] = PQS_STREAM_BWD,
};

struct evs__be_cursor {
    pg_backend *pb;
    const evs__query_c *q;
    enum mode mode;
    int64_t stream_id; /* stream modes: 0 while the stream does not exist */
    int64_t key;       /* the last position (scans) or version (streams) fetched */
    int64_t low;       /* backward scans: the lowest position to give */
    bool done;         /* nothing more will ever come */
    uint64_t emitted;
    PGresult *res; /* the rows fetched last */
    int row, rows;
};

/* The stream's id by name (0 when it has none), its last version and positions. */
static int stream_lookup(pg_backend *pb, const char *name, size_t len, int64_t *id,
                         evs_stream_info *info)
{
    pq_params p = {0};
    evs__pq_add_bytes(&p, name, len);
    PGresult *r;
    int rc = evs__pq_run(pb, PQS_STREAM_FIND, &p, &r, "looking a stream up");
    if (rc < 0)
        return rc;
    bool row = PQntuples(r) == 1;
    *id = row ? evs__pq_get_i64(r, 0, 0) : 0;
    memset(info, 0, sizeof *info);
    info->last_version = row ? evs__pq_get_i64(r, 0, 1) : -1;
    info->last_pos = row ? evs__pq_get_i64(r, 0, 2) : 0;
    PQclear(r);
    if (info->last_version < 0) {
        info->last_pos = 0;
        return 0;
    }
    info->exists = 1;
    info->event_count = info->last_version + 1;
    pq_params v = {0};
    evs__pq_add_i64(&v, *id);
    evs__pq_add_i64(&v, 0);
    if ((rc = evs__pq_run(pb, PQS_AT_VERSION, &v, &r, "reading a stream")) < 0)
        return rc;
    info->first_pos = PQntuples(r) == 1 ? evs__pq_get_i64(r, 0, 1) : 0;
    PQclear(r);
    return 0;
}

static bool row_stops(const evs__be_cursor *c, int64_t pos)
{
    const evs__query_c *q = c->q;
    switch (c->mode) {
    case SCAN_FWD:
    case STREAM_FWD:
        return q->to_pos && pos > q->to_pos;
    case SCAN_BWD:
        return pos < c->low;
    default:
        return q->to_pos && pos < q->to_pos;
    }
}

static bool row_skipped(const evs__be_cursor *c, int64_t pos)
{
    const evs__query_c *q = c->q;
    if (c->mode == STREAM_FWD)
        return pos < q->from_pos;
    if (c->mode == STREAM_BWD)
        return q->from_pos && pos > q->from_pos;
    return false;
}

/* One round trip: up to FETCH_ROWS rows past the key. */
static int fetch_locked(evs__be_cursor *c)
{
    pg_backend *pb = c->pb;
    bool by_stream = c->mode == STREAM_FWD || c->mode == STREAM_BWD;
    if (by_stream && !c->stream_id) {
        evs_stream_info info;
        int rc = stream_lookup(pb, c->q->stream, c->q->stream_len, &c->stream_id, &info);
        if (rc < 0 || !c->stream_id)
            return rc;
    }
    pq_params p = {0};
    evs__pq_add_i64(&p, c->key);
    evs__pq_add_i64(&p, FETCH_ROWS);
    if (by_stream)
        evs__pq_add_i64(&p, c->stream_id);
    PQclear(c->res);
    c->res = NULL;
    c->row = c->rows = 0;
    int rc = evs__pq_run(pb, mode_stmt[c->mode], &p, &c->res, "reading events");
    if (rc < 0)
        return rc;
    c->rows = PQntuples(c->res);
    if (c->rows < FETCH_ROWS && (c->mode == SCAN_BWD || c->mode == STREAM_BWD))
        c->done = true; /* backward there is no more; forward, later appends may come */
    return 0;
}

static int refill(evs__be_cursor *c)
{
    pthread_mutex_lock(&c->pb->mu);
    int rc = evs__pq_ready(c->pb);
    if (rc == 0)
        rc = fetch_locked(c);
    pthread_mutex_unlock(&c->pb->mu);
    return rc;
}

static int start_locked(evs__be_cursor *c, pg_backend *pb, const evs__query_c *q)
{
    int64_t head;
    int rc = evs__pq_head_locked(pb, &head, NULL);
    if (rc < 0)
        return rc;
    if (q->stream) {
        c->mode = q->direction == EVS_BACKWARD ? STREAM_BWD : STREAM_FWD;
        evs_stream_info info;
        if ((rc = stream_lookup(pb, q->stream, q->stream_len, &c->stream_id, &info)) < 0)
            return rc;
        if (c->mode == STREAM_FWD) {
            c->key = (q->from_version < 0 ? 0 : q->from_version) - 1;
            return 0;
        }
        /* Backward from the stream's last version as of now (or from_version). */
        int64_t top = info.last_version;
        if (q->from_version >= 0 && q->from_version < top)
            top = q->from_version;
        c->key = top + 1;
        c->done = !info.exists;
        return 0;
    }
    if (q->direction == EVS_BACKWARD) {
        c->mode = SCAN_BWD;
        int64_t from = q->from_pos > 0 && q->from_pos < head ? q->from_pos : head;
        c->key = from + 1;
        c->low = q->to_pos > 0 ? q->to_pos : 1;
        return 0;
    }
    c->mode = SCAN_FWD;
    c->key = (q->from_pos > 0 ? q->from_pos : 1) - 1;
    return 0;
}

int evs__pq_cursor_open(evs__be_cursor **out, evs__backend *be, const evs__query_c *q)
{
    pg_backend *pb = (pg_backend *)be;
    evs__be_cursor *c = evs__calloc(1, sizeof *c);
    if (!c)
        return evs__seterr(EVS_ENOMEM, "out of memory opening a cursor");
    c->pb = pb;
    c->q = q;
    pthread_mutex_lock(&pb->mu);
    int rc = evs__pq_ready(pb);
    if (rc == 0)
        rc = start_locked(c, pb, q);
    pthread_mutex_unlock(&pb->mu);
    if (rc == 0 && c->mode == SCAN_FWD && q->since_ns) {
        int64_t at;
        rc = evs__pq_find_time(be, q->since_ns, &at);
        if (rc == 0 && at - 1 > c->key)
            c->key = at - 1;
    }
    if (rc < 0) {
        evs__free(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* The next row of the result that passes the filters; 0 when the result is used up. */
static int next_row(evs__be_cursor *c, evs_event *out)
{
    PGresult *r = c->res;
    bool by_stream = c->mode == STREAM_FWD || c->mode == STREAM_BWD;
    while (c->row < c->rows) {
        int i = c->row++;
        int64_t pos = evs__pq_get_i64(r, i, 0);
        if (row_stops(c, pos)) {
            c->done = true;
            return 0;
        }
        c->key = by_stream ? evs__pq_get_i64(r, i, 1) : pos;
        if (row_skipped(c, pos))
            continue;
        const char *stream = PQgetvalue(r, i, 3), *type = PQgetvalue(r, i, 4);
        uint32_t stream_len = (uint32_t)PQgetlength(r, i, 3);
        uint32_t type_len = (uint32_t)PQgetlength(r, i, 4);
        int64_t ts = evs__pq_get_i64(r, i, 2);
        uint32_t type_hash = c->q->type_count ? (uint32_t)evs__hash64(type, type_len) : 0;
        if (!evs__query_match(c->q, stream, stream_len, type, type_len, type_hash, ts))
            continue;
        out->pos = pos;
        out->version = evs__pq_get_i64(r, i, 1);
        out->ts_ns = ts;
        out->stream = stream;
        out->stream_len = stream_len;
        out->type = type;
        out->type_len = type_len;
        out->data = PQgetvalue(r, i, 5);
        out->data_len = (size_t)PQgetlength(r, i, 5);
        bool meta = !PQgetisnull(r, i, 6);
        out->metadata = meta ? PQgetvalue(r, i, 6) : NULL;
        out->metadata_len = meta ? (size_t)PQgetlength(r, i, 6) : 0;
        if (PQgetlength(r, i, 7) == 16)
            memcpy(out->id, PQgetvalue(r, i, 7), 16);
        else
            memset(out->id, 0, 16);
        return 1;
    }
    return 0;
}

int evs__pq_cursor_next(evs__be_cursor *c, evs_event *out)
{
    if (c->q->limit && c->emitted >= c->q->limit)
        return 0;
    bool fetched = false;
    for (;;) {
        if (c->res && next_row(c, out)) {
            c->emitted++;
            return 1;
        }
        /* A short fetch by this call reached the end as it is now; the next call
         * looks again (a forward cursor reaches later appends). */
        if (c->done || (fetched && c->rows < FETCH_ROWS))
            return 0;
        int rc = refill(c);
        if (rc < 0)
            return rc;
        fetched = true;
    }
}

void evs__pq_cursor_close(evs__be_cursor *c)
{
    if (!c)
        return;
    PQclear(c->res);
    evs__free(c);
}

int evs__pq_stream_get(evs__backend *be, const char *stream, uint32_t len, uint64_t hash,
                       evs_stream_info *out)
{
    (void)hash;
    pg_backend *pb = (pg_backend *)be;
    pthread_mutex_lock(&pb->mu);
    int64_t id;
    int rc = evs__pq_ready(pb);
    if (rc == 0)
        rc = stream_lookup(pb, stream, len, &id, out);
    pthread_mutex_unlock(&pb->mu);
    return rc;
}

/* ---- the stream listing: a snapshot taken at open ---------------------------------- */

struct evs__be_streams {
    PGresult *res;
    int row, rows;
    char *prefix; /* a copy: the caller's may go before the iterator */
    size_t prefix_len;
};

int evs__pq_streams_open(evs__be_streams **out, evs__backend *be, const char *prefix,
                         size_t prefix_len)
{
    pg_backend *pb = (pg_backend *)be;
    evs__be_streams *it = evs__calloc(1, sizeof *it);
    if (!it)
        return evs__seterr(EVS_ENOMEM, "out of memory listing streams");
    char *sql = NULL;
    static const char fmt[] =
        "SELECT s.name, l.version, l.pos, f.pos FROM %s.evs_streams s"
        " JOIN LATERAL (SELECT version, pos FROM %s.evs_events WHERE stream_id = s.id"
        " ORDER BY version DESC LIMIT 1) l ON true"
        " JOIN %s.evs_events f ON f.stream_id = s.id AND f.version = 0";
    size_t cap = sizeof fmt + 3 * strlen(pb->qschema);
    int rc = 0;
    if (!(sql = evs__alloc(cap)))
        rc = evs__seterr(EVS_ENOMEM, "out of memory listing streams");
    else
        snprintf(sql, cap, fmt, pb->qschema, pb->qschema, pb->qschema);
    pthread_mutex_lock(&pb->mu);
    if (rc == 0)
        rc = evs__pq_ready(pb);
    if (rc == 0) /* one statement: one snapshot */
        rc = evs__pq_query(pb, sql, &it->res, "listing streams");
    pthread_mutex_unlock(&pb->mu);
    evs__free(sql);
    if (rc < 0) {
        evs__pq_streams_close(it);
        return rc;
    }
    it->rows = PQntuples(it->res);
    it->prefix_len = prefix ? prefix_len : 0;
    if (!(it->prefix = evs__strndup(prefix ? prefix : "", it->prefix_len))) {
        evs__pq_streams_close(it);
        return evs__seterr(EVS_ENOMEM, "out of memory listing streams");
    }
    *out = it;
    return 0;
}

int evs__pq_streams_next(evs__be_streams *it, const char **name, size_t *name_len,
                         evs_stream_info *info)
{
    while (it->row < it->rows) {
        int i = it->row++;
        const char *n = PQgetvalue(it->res, i, 0);
        size_t len = (size_t)PQgetlength(it->res, i, 0);
        if (len < it->prefix_len || memcmp(n, it->prefix, it->prefix_len) != 0)
            continue;
        *name = n;
        *name_len = len;
        memset(info, 0, sizeof *info);
        info->exists = 1;
        info->last_version = evs__pq_get_i64(it->res, i, 1);
        info->event_count = info->last_version + 1;
        info->last_pos = evs__pq_get_i64(it->res, i, 2);
        info->first_pos = evs__pq_get_i64(it->res, i, 3);
        return 1;
    }
    return 0;
}

void evs__pq_streams_close(evs__be_streams *it)
{
    if (!it)
        return;
    PQclear(it->res);
    evs__free(it->prefix);
    evs__free(it);
}

/* ---- time seek --------------------------------------------------------------------- */

int evs__pq_find_time(evs__backend *be, int64_t ts_ns, int64_t *out)
{
    pg_backend *pb = (pg_backend *)be;
    pthread_mutex_lock(&pb->mu);
    int64_t head = 0;
    int rc = evs__pq_ready(pb);
    if (rc == 0)
        rc = evs__pq_head_locked(pb, &head, NULL);
    /* Timestamps never decrease along positions, and positions have no gaps. */
    int64_t lo = 1, hi = head + 1;
    while (rc == 0 && lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        pq_params p = {0};
        evs__pq_add_i64(&p, mid);
        PGresult *r;
        if ((rc = evs__pq_run(pb, PQS_TS_AT, &p, &r, "seeking a time")) < 0)
            break;
        bool row = PQntuples(r) == 1;
        int64_t ts = row ? evs__pq_get_i64(r, 0, 0) : 0;
        PQclear(r);
        if (!row)
            rc = evs__seterr(EVS_ECORRUPT,
                             "%s: position %" PRId64 " is missing; run 'evstore verify'",
                             pb->display, mid);
        else if (ts < ts_ns)
            lo = mid + 1;
        else
            hi = mid;
    }
    pthread_mutex_unlock(&pb->mu);
    *out = lo;
    return rc;
}
