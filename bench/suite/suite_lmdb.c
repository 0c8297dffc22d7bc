/*
 * suite_lmdb.c - the suite's LMDB driver: an event log on LMDB as a C programmer would
 * lay it out. One environment, two named databases:
 *   log  key = position (8 bytes, big-endian so keys sort in position order),
 *        value = version, ts, stream length, type length, stream, type, payload;
 *   idx  key = stream, NUL, version (8 bytes big-endian), value = position.
 * A stream's last version is the last idx key with the stream's prefix. Durable stores
 * use LMDB's default (sync at every commit); unsynced ones MDB_NOSYNC. Write
 * transactions serialise on LMDB's own writer lock, so threads share the environment.
 * W9's filtered catch-up is a read of the whole log that checks each record's type or
 * stream: this layout has no index by type or category (what a C programmer would add
 * is a third database; the full read is the like-for-like comparison with evstore).
 *
 * Its best case (issue 26): the driver keeps its streams' last versions in memory
 * (suite_versions.h; loaded from idx when a store is opened, two cursor moves a stream),
 * so an append names its version and reads nothing back; MDB_NOOVERWRITE on idx still
 * turns away a wrong one. The stateless variant (versions(db, 0)) finds each stream's
 * last version in idx. The table is touched only inside write transactions, which
 * LMDB's writer lock serialises.
 */
#define _GNU_SOURCE
#include "suite.h"
#include "suite_versions.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "suite_tuning.h"

#define KEY_MAX   64
#define HDR_BYTES 20 /* version 8, ts 8, stream length 2, type length 2 */

typedef struct lm_db {
    MDB_env *env;
    MDB_dbi log, idx;
    suite_versions *vers;
    int stateless; /* 1: every version is read from idx */
} lm_db;

/* A reader keeps one read transaction, reset between reads and renewed (cheap). */
typedef struct lm_conn {
    lm_db *db;
    MDB_txn *rtxn;
} lm_conn;

static int fail(const char *what, int rc)
{
    fprintf(stderr, "suite: lmdb: %s: %s\n", what, mdb_strerror(rc));
    return SUITE_ERR;
}

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* The environment at dir (which exists) and its two databases; create: make them. */
static int env_open(void **out, const char *dir, int durable, int create)
{
    lm_db *db = calloc(1, sizeof *db);
    if (!db || !(db->vers = suite_versions_new())) {
        free(db);
        return SUITE_ERR;
    }
    if (!create)
        suite_versions_forget(db->vers, 0); /* not loaded: versions(db, 1) loads it */
    MDB_txn *t;
    int rc = mdb_env_create(&db->env);
    if (!rc)
        rc = mdb_env_set_maxdbs(db->env, 2);
    if (!rc)
        rc = mdb_env_set_mapsize(db->env, SUITE_LMDB_MAP_SIZE);
    if (!rc)
        rc = mdb_env_open(db->env, dir, MDB_NOTLS | SUITE_LMDB_FLAGS | (durable ? 0 : MDB_NOSYNC),
                          0644);
    if (!rc)
        rc = mdb_txn_begin(db->env, NULL, create ? 0 : MDB_RDONLY, &t);
    if (!rc) {
        /* Handles opened in a read-only transaction stay valid once it commits. */
        unsigned flags = create ? MDB_CREATE : 0;
        rc = mdb_dbi_open(t, "log", flags, &db->log);
        if (!rc)
            rc = mdb_dbi_open(t, "idx", flags, &db->idx);
        rc = rc ? (mdb_txn_abort(t), rc) : mdb_txn_commit(t);
    }
    if (rc) {
        mdb_env_close(db->env);
        suite_versions_free(db->vers);
        free(db);
        return fail("open", rc);
    }
    *out = db;
    return SUITE_OK;
}

static int lm_open(void **out, const char *dir, int durable)
{
    if (mkdir(dir, 0755) != 0) {
        perror("suite: lmdb: mkdir");
        return SUITE_ERR;
    }
    return env_open(out, dir, durable, 1);
}

static int lm_reopen(void **out, const char *dir)
{
    return env_open(out, dir, 0, 0);
}

static int lm_conn_open(void **out, void *p)
{
    lm_conn *c = calloc(1, sizeof *c);
    if (!c)
        return SUITE_ERR;
    c->db = p;
    *out = c;
    return SUITE_OK;
}

static void lm_conn_close(void *p)
{
    lm_conn *c = p;
    if (c && c->rtxn)
        mdb_txn_abort(c->rtxn);
    free(c);
}

/* idx key of (stream, version); returns its length. */
static size_t idx_key(unsigned char *k, const char *stream, size_t slen, uint64_t version)
{
    memcpy(k, stream, slen);
    k[slen] = 0;
    put_be64(k + slen + 1, version);
    return slen + 9;
}

/* The stream's last version, -1 when it has none: seek just past the stream's keys
 * ("stream\x01" sorts after every "stream\0...") and step back one. */
static int last_version(MDB_cursor *cur, const char *stream, size_t slen, int64_t *out)
{
    unsigned char k[KEY_MAX];
    memcpy(k, stream, slen);
    k[slen] = 1;
    MDB_val key = {slen + 1, k}, val;
    int rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    if (rc == 0)
        rc = mdb_cursor_get(cur, &key, &val, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
    *out = -1;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    const unsigned char *f = key.mv_data;
    if (key.mv_size == slen + 9 && f[slen] == 0 && memcmp(f, stream, slen) == 0)
        *out = (int64_t)get_be64(f + slen + 1);
    return 0;
}

/* Add one event at position pos inside write transaction t. */
static int put_event(MDB_txn *t, lm_db *db, MDB_cursor *icur, const suite_ev *e, uint64_t pos,
                     int64_t ts)
{
    const char *type = suite_ev_type(e);
    size_t slen = strlen(e->stream), tlen = strlen(type);
    if (slen + 9 > KEY_MAX)
        return MDB_BAD_VALSIZE;
    int64_t last = db->stateless ? SUITE_VERSION_UNKNOWN : suite_versions_get(db->vers, e->stream);
    int rc = last == SUITE_VERSION_UNKNOWN ? last_version(icur, e->stream, slen, &last) : 0;
    if (rc)
        return rc;
    if (e->expect != SUITE_EXPECT_ANY && e->expect != last)
        return MDB_KEYEXIST; /* reported as a conflict */
    uint64_t version = (uint64_t)(last + 1);
    unsigned char pk[8], ik[KEY_MAX];
    put_be64(pk, pos);
    MDB_val key = {8, pk}, val = {HDR_BYTES + slen + tlen + e->data_len, NULL};
    /* MDB_RESERVE: build the record in place in the page, no extra copy. */
    if ((rc = mdb_put(t, db->log, &key, &val, MDB_APPEND | MDB_RESERVE)) != 0)
        return rc;
    unsigned char *r = val.mv_data;
    put_be64(r, version);
    put_be64(r + 8, (uint64_t)ts);
    r[16] = (unsigned char)(slen >> 8), r[17] = (unsigned char)slen;
    r[18] = (unsigned char)(tlen >> 8), r[19] = (unsigned char)tlen;
    memcpy(r + HDR_BYTES, e->stream, slen);
    memcpy(r + HDR_BYTES + slen, type, tlen);
    memcpy(r + HDR_BYTES + slen + tlen, e->data, e->data_len);
    MDB_val ikey = {idx_key(ik, e->stream, slen, version), ik}, ival = {8, pk};
    rc = mdb_put(t, db->idx, &ikey, &ival, MDB_NOOVERWRITE);
    if (!rc && !db->stateless) /* on ENOMEM it forgets: safe */
        suite_versions_set(db->vers, e->stream, (int64_t)version);
    return rc;
}

static int lm_append_batch(void *p, const suite_ev *ev, size_t n)
{
    lm_db *db = ((lm_conn *)p)->db;
    MDB_txn *t;
    MDB_cursor *lcur = NULL, *icur = NULL;
    int rc = mdb_txn_begin(db->env, NULL, 0, &t);
    if (rc)
        return fail("txn_begin", rc);
    if (!(rc = mdb_cursor_open(t, db->log, &lcur)))
        rc = mdb_cursor_open(t, db->idx, &icur);
    uint64_t pos = 0;
    MDB_val key, val;
    if (!rc) {
        rc = mdb_cursor_get(lcur, &key, &val, MDB_LAST);
        if (rc == 0)
            pos = get_be64(key.mv_data);
        else if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    int64_t ts = suite_wall_ns();
    for (size_t i = 0; i < n && !rc; i++)
        rc = put_event(t, db, icur, &ev[i], ++pos, ts);
    mdb_cursor_close(lcur);
    mdb_cursor_close(icur);
    if (rc) {
        mdb_txn_abort(t);
        suite_versions_forget(db->vers, 0); /* what it learnt was rolled back */
        return rc == MDB_KEYEXIST ? SUITE_CONFLICT : fail("put", rc);
    }
    rc = mdb_txn_commit(t);
    if (rc)
        suite_versions_forget(db->vers, 0);
    return rc ? fail("commit", rc) : SUITE_OK;
}

/* The large stores' load: append_batch's transaction, ten times larger (the expected
 * versions it then checks are right). */
static int lm_load(void *p, const suite_ev *ev, size_t n)
{
    return lm_append_batch(p, ev, n);
}

static int lm_append_one(void *p, const suite_ev *ev)
{
    return lm_append_batch(p, ev, 1);
}

/* Does f select the record with this stream and type? (A category C is the streams
 * named "C-..."; the suite makes no stream named C alone.) */
static int selects(const suite_filter *f, const char *stream, size_t slen, const char *type,
                   size_t tlen)
{
    size_t n = strlen(f->value);
    if (f->by_category)
        return slen > n && stream[n] == '-' && !memcmp(stream, f->value, n);
    return tlen == n && !memcmp(type, f->value, n);
}

static int read_txn(lm_conn *c)
{
    int rc =
        c->rtxn ? mdb_txn_renew(c->rtxn) : mdb_txn_begin(c->db->env, NULL, MDB_RDONLY, &c->rtxn);
    return rc ? fail("read txn", rc) : SUITE_OK;
}

/* Decode one log record as a reader would and add its payload to *out. With a filter,
 * only a record it selects counts. */
static int decode_if(const MDB_val *v, int whole_payload, const suite_filter *f, suite_sum *out)
{
    const unsigned char *r = v->mv_data;
    if (v->mv_size < HDR_BYTES)
        return SUITE_ERR;
    uint64_t version = get_be64(r), ts = get_be64(r + 8);
    size_t slen = (size_t)r[16] << 8 | r[17], tlen = (size_t)r[18] << 8 | r[19];
    if (HDR_BYTES + slen + tlen > v->mv_size || (version == ~0ull && ts == ~0ull))
        return SUITE_ERR;
    if (f &&
        !selects(f, (const char *)r + HDR_BYTES, slen, (const char *)r + HDR_BYTES + slen, tlen))
        return SUITE_OK;
    const unsigned char *d = r + HDR_BYTES + slen + tlen;
    size_t dlen = v->mv_size - HDR_BYTES - slen - tlen;
    out->checksum += whole_payload ? suite_touch(d, dlen) : d[0];
    out->bytes += dlen;
    out->events++;
    return SUITE_OK;
}

static int decode(const MDB_val *v, int whole_payload, suite_sum *out)
{
    return decode_if(v, whole_payload, NULL, out);
}

/* Every record of the log in position order, decoded (those f selects, when f). */
static int read_log(lm_conn *c, const suite_filter *f, suite_sum *out)
{
    if (read_txn(c) != SUITE_OK)
        return SUITE_ERR;
    MDB_cursor *cur;
    MDB_val key, val;
    int rc = mdb_cursor_open(c->rtxn, c->db->log, &cur);
    if (!rc) {
        for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
            if (decode_if(&val, 1, f, out) != SUITE_OK) {
                rc = MDB_CORRUPTED;
                break;
            }
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_reset(c->rtxn);
    return rc == MDB_NOTFOUND ? SUITE_OK : fail("replay", rc);
}

static int lm_replay(void *p, suite_sum *out)
{
    return read_log(p, NULL, out);
}

static int lm_filtered(void *p, const suite_filter *f, suite_sum *out)
{
    return read_log(p, f, out);
}

static int lm_head(void *p, int64_t *pos)
{
    lm_db *db = p;
    MDB_txn *t;
    MDB_cursor *cur;
    MDB_val key, val;
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &t);
    if (rc)
        return fail("head", rc);
    if (!(rc = mdb_cursor_open(t, db->log, &cur))) {
        rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
        *pos = rc == 0 ? (int64_t)get_be64(key.mv_data) : 0;
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(t);
    return rc == 0 || rc == MDB_NOTFOUND ? SUITE_OK : fail("head", rc);
}

static int lm_read_stream(void *p, const char *stream, suite_sum *out)
{
    lm_conn *c = p;
    size_t slen = strlen(stream);
    if (slen + 9 > KEY_MAX || read_txn(c) != SUITE_OK)
        return SUITE_ERR;
    MDB_cursor *cur;
    unsigned char k[KEY_MAX];
    MDB_val key = {idx_key(k, stream, slen, 0), k}, val, ev;
    int rc = mdb_cursor_open(c->rtxn, c->db->idx, &cur);
    if (!rc) {
        for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0;
             rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
            const unsigned char *f = key.mv_data;
            if (key.mv_size != slen + 9 || f[slen] != 0 || memcmp(f, stream, slen) != 0)
                break; /* past the stream's keys */
            MDB_val pk = {8, val.mv_data};
            if ((rc = mdb_get(c->rtxn, c->db->log, &pk, &ev)) != 0)
                break;
            if (decode(&ev, 0, out) != SUITE_OK) {
                rc = MDB_CORRUPTED;
                break;
            }
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_reset(c->rtxn);
    return rc == 0 || rc == MDB_NOTFOUND ? SUITE_OK : fail("read stream", rc);
}

/* Every stream's last version into the table: for each stream of idx, seek past its
 * keys and step back to its last one (last_version), then on to the next stream. */
static int load_versions(lm_db *db, MDB_txn *t)
{
    MDB_cursor *cur;
    MDB_val key, val;
    int rc = mdb_cursor_open(t, db->idx, &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        char stream[KEY_MAX];
        size_t slen = key.mv_size - 9;
        if (key.mv_size < 9 || slen >= KEY_MAX || ((char *)key.mv_data)[slen] != 0) {
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy(stream, key.mv_data, slen + 1);
        int64_t last;
        if ((rc = last_version(cur, stream, slen, &last)) != 0)
            break;
        if (suite_versions_set(db->vers, stream, last) != 0) {
            rc = ENOMEM;
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Inside a write transaction (aborted: nothing is written), so that no append runs
 * beside the change. */
static int lm_versions(void *p, int on)
{
    lm_db *db = p;
    MDB_txn *t;
    int rc = mdb_txn_begin(db->env, NULL, 0, &t);
    if (rc)
        return fail("versions", rc);
    db->stateless = !on;
    suite_versions_forget(db->vers, on);
    if (on && (rc = load_versions(db, t)) != 0)
        suite_versions_forget(db->vers, 0);
    mdb_txn_abort(t);
    return rc ? fail("version load", rc) : SUITE_OK;
}

static void lm_close(void *p)
{
    lm_db *db = p;
    mdb_env_close(db->env);
    suite_versions_free(db->vers);
    free(db);
}

const suite_driver suite_lmdb_driver = {
    .name = "lmdb",
    .open = lm_open,
    .conn_open = lm_conn_open,
    .conn_close = lm_conn_close,
    .append_batch = lm_append_batch,
    .append_one = lm_append_one,
    .replay = lm_replay,
    .read_stream = lm_read_stream,
    .close = lm_close,
    .reopen = lm_reopen,
    .load = lm_load,
    .versions = lm_versions,
    .head = lm_head,
    .filtered = lm_filtered,
};
