/*
 * sqlite_cursor.c - reading: cursors, one stream's figures, the stream listing and the
 * time seek.
 *
 * A cursor holds no SQLite statement between steps: it fetches up to FETCH_ROWS
 * rows at a time (keyed on the last position or version it saw, so a forward cursor
 * reaches events committed after it was opened), copies the ones that pass the query's
 * filters into its own buffer and lets go of the connection, which other threads of the
 * handle share. Memory stays bounded by one fetch.
 */
#include "sqlite_internal.h"

#include <inttypes.h>
#include <string.h>

#define FETCH_ROWS  256
#define FETCH_BYTES (1u << 20) /* a fetch stops early once it copied this much */

enum mode { SCAN_FWD, SCAN_BWD, STREAM_FWD, STREAM_BWD };

/* The handle's statement for each mode (sqlite_schema.c), used under its mutex. */
static const int mode_stmt[] = {
    [SCAN_FWD] = SQ_SCAN_FWD,
    [SCAN_BWD] = SQ_SCAN_BWD,
    [STREAM_FWD] = SQ_STREAM_FWD,
    [STREAM_BWD] = SQ_STREAM_BWD,
};

/* One fetched event: offsets into the cursor's byte buffer. */
typedef struct row {
    int64_t pos, version, ts;
    size_t stream, stream_len, type, type_len, data, data_len, meta, meta_len;
    bool has_meta;
    unsigned char id[16];
} row;

struct evs__be_cursor {
    sqlite_backend *sb;
    const evs__query_c *q;
    enum mode mode;
    int64_t stream_id; /* stream modes: 0 while the stream does not exist */
    int64_t key;       /* the last position (scans) or version (streams) fetched */
    int64_t low;       /* backward scans: the lowest position to give */
    bool done;         /* nothing more will ever come */
    uint64_t emitted;
    row rows[FETCH_ROWS];
    size_t n, at;
    evs__buf bytes;
};

static int find_stream(sqlite_backend *sb, const char *name, size_t len, int64_t *id)
{
    sqlite3_stmt *st = sb->st[SQ_STREAM_FIND];
    sqlite3_bind_text(st, 1, name, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : evs__sq_err(sb, rc, "looking a stream up");
}

/* The stream's last version (-1 when none) and the positions of its first and last. */
static int stream_figures(sqlite_backend *sb, int64_t id, evs_stream_info *out)
{
    memset(out, 0, sizeof *out);
    out->last_version = -1;
    if (!id)
        return 0;
    sqlite3_stmt *st = sb->st[SQ_STREAM_LAST];
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->exists = 1;
        out->last_version = sqlite3_column_int64(st, 0);
        out->last_pos = sqlite3_column_int64(st, 1);
        out->event_count = out->last_version + 1;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return evs__sq_err(sb, rc, "reading a stream");
    if (!out->exists)
        return 0;
    st = sb->st[SQ_AT_VERSION];
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, 0);
    rc = sqlite3_step(st);
    out->first_pos = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : evs__sq_err(sb, rc, "reading a stream");
}

static size_t keep_bytes(evs__be_cursor *c, const void *p, size_t len, int *rc)
{
    size_t off = c->bytes.len;
    if (*rc == 0 && len && evs__buf_append(&c->bytes, p, len) < 0)
        *rc = EVS_ENOMEM;
    return off;
}

/* Is this row past the end (stop), or outside the positions asked for (skip)? */
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

/* Copy the row if it passes the filters. */
static int take_row(evs__be_cursor *c, sqlite3_stmt *st, int64_t pos)
{
    const char *stream = (const char *)sqlite3_column_text(st, 3);
    size_t stream_len = (size_t)sqlite3_column_bytes(st, 3);
    const char *type = (const char *)sqlite3_column_text(st, 4);
    size_t type_len = (size_t)sqlite3_column_bytes(st, 4);
    int64_t ts = sqlite3_column_int64(st, 2);
    uint32_t type_hash = c->q->type_count ? (uint32_t)evs__hash64(type, type_len) : 0;
    if (!stream || !type ||
        !evs__query_match(c->q, stream, (uint32_t)stream_len, type, (uint32_t)type_len, type_hash,
                          ts))
        return 0;
    row *r = &c->rows[c->n];
    int rc = 0;
    r->pos = pos;
    r->version = sqlite3_column_int64(st, 1);
    r->ts = ts;
    r->stream = keep_bytes(c, stream, stream_len, &rc);
    r->stream_len = stream_len;
    r->type = keep_bytes(c, type, type_len, &rc);
    r->type_len = type_len;
    const void *data = sqlite3_column_text(st, 5);
    r->data_len = (size_t)sqlite3_column_bytes(st, 5);
    r->data = keep_bytes(c, data, r->data_len, &rc);
    r->has_meta = sqlite3_column_type(st, 6) != SQLITE_NULL;
    const void *meta = r->has_meta ? sqlite3_column_text(st, 6) : NULL;
    r->meta_len = r->has_meta ? (size_t)sqlite3_column_bytes(st, 6) : 0;
    r->meta = keep_bytes(c, meta, r->meta_len, &rc);
    const void *id = sqlite3_column_blob(st, 7);
    if (sqlite3_column_bytes(st, 7) == 16)
        memcpy(r->id, id, 16);
    else
        memset(r->id, 0, 16);
    if (rc < 0)
        return evs__seterr(EVS_ENOMEM, "out of memory reading events");
    c->n++;
    return 0;
}

/* One round trip: scan up to FETCH_ROWS rows past the key. *scanned tells how many. */
static int fetch_locked(evs__be_cursor *c, size_t *scanned)
{
    sqlite_backend *sb = c->sb;
    *scanned = 0;
    bool by_stream = c->mode == STREAM_FWD || c->mode == STREAM_BWD;
    if (by_stream && !c->stream_id) {
        int rc = find_stream(sb, c->q->stream, c->q->stream_len, &c->stream_id);
        if (rc < 0 || !c->stream_id)
            return rc;
    }
    sqlite3_stmt *st = sb->st[mode_stmt[c->mode]];
    sqlite3_bind_int64(st, 1, c->key);
    sqlite3_bind_int64(st, 2, FETCH_ROWS);
    if (by_stream)
        sqlite3_bind_int64(st, 3, c->stream_id);
    int rc = 0, src;
    while (rc == 0 && (src = sqlite3_step(st)) == SQLITE_ROW) {
        ++*scanned;
        int64_t pos = sqlite3_column_int64(st, 0);
        if (row_stops(c, pos)) {
            c->done = true;
            break;
        }
        c->key = by_stream ? sqlite3_column_int64(st, 1) : pos;
        if (!row_skipped(c, pos))
            rc = take_row(c, st, pos);
        if (c->bytes.len >= FETCH_BYTES)
            break;
    }
    if (rc == 0 && src != SQLITE_ROW && src != SQLITE_DONE)
        rc = evs__sq_err(sb, src, "reading events");
    sqlite3_reset(st);
    return rc;
}

static int refill(evs__be_cursor *c)
{
    c->n = c->at = 0;
    c->bytes.len = 0;
    pthread_mutex_lock(&c->sb->mu);
    int rc = 0;
    while (rc == 0 && c->n == 0 && !c->done) {
        size_t scanned;
        rc = fetch_locked(c, &scanned);
        if (rc == 0 && scanned < FETCH_ROWS && c->n == 0) {
            /* At the end: backward there is no more; forward, later appends may come. */
            if (c->mode == SCAN_BWD || c->mode == STREAM_BWD)
                c->done = true;
            break;
        }
    }
    pthread_mutex_unlock(&c->sb->mu);
    return rc;
}

static int start_locked(evs__be_cursor *c, sqlite_backend *sb, const evs__query_c *q)
{
    int64_t head;
    int rc = evs__sq_head_locked(sb, &head, NULL);
    if (rc < 0)
        return rc;
    if (q->stream) {
        c->mode = q->direction == EVS_BACKWARD ? STREAM_BWD : STREAM_FWD;
        if ((rc = find_stream(sb, q->stream, q->stream_len, &c->stream_id)) < 0)
            return rc;
        if (c->mode == STREAM_FWD) {
            c->key = (q->from_version < 0 ? 0 : q->from_version) - 1;
            return 0;
        }
        /* Backward from the stream's last version as of now (or from_version). */
        evs_stream_info info;
        if ((rc = stream_figures(sb, c->stream_id, &info)) < 0)
            return rc;
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

int evs__sq_cursor_open(evs__be_cursor **out, evs__backend *be, const evs__query_c *q)
{
    sqlite_backend *sb = (sqlite_backend *)be;
    evs__be_cursor *c = evs__calloc(1, sizeof *c);
    if (!c)
        return evs__seterr(EVS_ENOMEM, "out of memory opening a cursor");
    c->sb = sb;
    c->q = q;
    pthread_mutex_lock(&sb->mu);
    int rc = start_locked(c, sb, q);
    pthread_mutex_unlock(&sb->mu);
    if (rc == 0 && c->mode == SCAN_FWD && q->since_ns) {
        int64_t at;
        rc = evs__sq_find_time(be, q->since_ns, &at);
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

int evs__sq_cursor_next(evs__be_cursor *c, evs_event *out)
{
    if (c->q->limit && c->emitted >= c->q->limit)
        return 0;
    if (c->at == c->n) {
        int rc = refill(c);
        if (rc < 0)
            return rc;
        if (c->n == 0)
            return 0;
    }
    const row *r = &c->rows[c->at++];
    const char *b = c->bytes.ptr;
    out->pos = r->pos;
    out->version = r->version;
    out->ts_ns = r->ts;
    out->stream = b + r->stream;
    out->stream_len = r->stream_len;
    out->type = b + r->type;
    out->type_len = r->type_len;
    out->data = b + r->data;
    out->data_len = r->data_len;
    out->metadata = r->has_meta ? b + r->meta : NULL;
    out->metadata_len = r->meta_len;
    memcpy(out->id, r->id, 16);
    c->emitted++;
    return 1;
}

void evs__sq_cursor_close(evs__be_cursor *c)
{
    if (!c)
        return;
    evs__buf_free(&c->bytes);
    evs__free(c);
}

int evs__sq_stream_get(evs__backend *be, const char *stream, uint32_t len, uint64_t hash,
                       evs_stream_info *out)
{
    (void)hash;
    sqlite_backend *sb = (sqlite_backend *)be;
    pthread_mutex_lock(&sb->mu);
    int64_t id;
    int rc = find_stream(sb, stream, len, &id);
    if (rc == 0)
        rc = stream_figures(sb, id, out);
    pthread_mutex_unlock(&sb->mu);
    return rc;
}

/* ---- the stream listing: a snapshot taken at open ---------------------------------- */

typedef struct listed {
    size_t name, name_len;
    evs_stream_info info;
} listed;

struct evs__be_streams {
    listed *items;
    size_t n, cap, at;
    evs__buf names;
};

static int list_add(evs__be_streams *it, const char *name, size_t len, const evs_stream_info *info)
{
    if (it->n == it->cap) {
        size_t cap = it->cap ? it->cap * 2 : 64;
        listed *n = evs__realloc(it->items, cap * sizeof *n);
        if (!n)
            return evs__seterr(EVS_ENOMEM, "out of memory listing streams");
        it->items = n;
        it->cap = cap;
    }
    listed *l = &it->items[it->n];
    l->name = it->names.len;
    l->name_len = len;
    l->info = *info;
    static const char nul = '\0';
    if (evs__buf_append(&it->names, name, len) < 0 || evs__buf_append(&it->names, &nul, 1) < 0)
        return evs__seterr(EVS_ENOMEM, "out of memory listing streams");
    it->n++;
    return 0;
}

static int list_locked(sqlite_backend *sb, evs__be_streams *it, const char *prefix,
                       size_t prefix_len)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(sb->db, "SELECT id, name FROM evs_streams", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return evs__sq_err(sb, rc, "listing streams");
    int err = 0;
    while (err == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        if (!name || len < prefix_len || memcmp(name, prefix, prefix_len) != 0)
            continue;
        evs_stream_info info;
        err = stream_figures(sb, sqlite3_column_int64(st, 0), &info);
        if (err == 0 && info.exists)
            err = list_add(it, name, len, &info);
    }
    if (err == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
        err = evs__sq_err(sb, rc, "listing streams");
    sqlite3_finalize(st);
    return err;
}

int evs__sq_streams_open(evs__be_streams **out, evs__backend *be, const char *prefix,
                         size_t prefix_len)
{
    sqlite_backend *sb = (sqlite_backend *)be;
    evs__be_streams *it = evs__calloc(1, sizeof *it);
    if (!it)
        return evs__seterr(EVS_ENOMEM, "out of memory listing streams");
    pthread_mutex_lock(&sb->mu);
    /* One read transaction: a consistent snapshot. */
    int rc = evs__sq_exec(sb, "BEGIN");
    if (rc == 0) {
        rc = list_locked(sb, it, prefix ? prefix : "", prefix_len);
        sqlite3_exec(sb->db, "COMMIT", NULL, NULL, NULL);
    }
    pthread_mutex_unlock(&sb->mu);
    if (rc < 0) {
        evs__sq_streams_close(it);
        return rc;
    }
    *out = it;
    return 0;
}

int evs__sq_streams_next(evs__be_streams *it, const char **name, size_t *name_len,
                         evs_stream_info *info)
{
    if (it->at == it->n)
        return 0;
    const listed *l = &it->items[it->at++];
    *name = (const char *)it->names.ptr + l->name;
    *name_len = l->name_len;
    *info = l->info;
    return 1;
}

void evs__sq_streams_close(evs__be_streams *it)
{
    if (!it)
        return;
    evs__free(it->items);
    evs__buf_free(&it->names);
    evs__free(it);
}

/* ---- time seek --------------------------------------------------------------------- */

int evs__sq_find_time(evs__backend *be, int64_t ts_ns, int64_t *out)
{
    sqlite_backend *sb = (sqlite_backend *)be;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&sb->mu);
    int64_t head;
    int rc = evs__sq_head_locked(sb, &head, NULL);
    if (rc == 0) {
        int src = sqlite3_prepare_v2(sb->db, "SELECT ts_ns FROM evs_events WHERE pos = ?1", -1, &st,
                                     NULL);
        if (src != SQLITE_OK)
            rc = evs__sq_err(sb, src, "preparing the time seek");
    }
    /* Timestamps never decrease along positions, and positions have no gaps. */
    int64_t lo = 1, hi = head + 1;
    while (rc == 0 && lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        sqlite3_bind_int64(st, 1, mid);
        int src = sqlite3_step(st);
        int64_t ts = src == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        if (src != SQLITE_ROW)
            rc = src == SQLITE_DONE ? evs__seterr(EVS_ECORRUPT,
                                                  "sqlite:%s: position %" PRId64
                                                  " is missing; run 'evstore verify'",
                                                  sb->path, mid)
                                    : evs__sq_err(sb, src, "seeking a time");
        else if (ts < ts_ns)
            lo = mid + 1;
        else
            hi = mid;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&sb->mu);
    *out = lo;
    return rc;
}
