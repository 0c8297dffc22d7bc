/*
 * ref_lmdb.c - the reference LMDB driver (ref.h): W1 and W3 written as plainly as
 * possible, to check the suite's LMDB driver against.
 *
 * The suite's layout: one environment, two named databases: log (big-endian position ->
 * version, ts, stream length, type length, stream, type, payload) and idx (stream, NUL,
 * big-endian version -> position), the idx put with MDB_NOOVERWRITE so that a version
 * given twice is refused. Default sync: every commit is synced. A batch of 1,000 events
 * is one write transaction; each event's version comes from an array of the streams'
 * last versions. W3 walks log with a cursor, decodes every field and sums every payload
 * byte, once unmeasured and once measured (the suite's W3 is warm the same way).
 *
 * TUNING "writemap" opens the environment with MDB_WRITEMAP: how the suite's choice
 * was measured.
 */
#include "ref.h"
#include "suite_tuning.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH     1000
#define HDR_BYTES 20 /* version 8, ts 8, stream length 2, type length 2 */

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "ref lmdb: %s: %s\n", what, mdb_strerror(rc));
    return -1;
}

/* One event at position pos, version version, in write transaction t. */
static int put(MDB_txn *t, MDB_dbi log, MDB_dbi idx, const suite_model *m, size_t i, uint64_t pos,
               uint64_t version, int64_t ts)
{
    const char *stream = m->names[m->seq[i]];
    size_t slen = strlen(stream), tlen = strlen(SUITE_EVENT_TYPE), p = i % m->pool_n;
    unsigned char pk[8], ik[32];
    put_be64(pk, pos);
    MDB_val key = {8, pk}, val = {HDR_BYTES + slen + tlen + m->pool_len[p], NULL};
    int rc = mdb_put(t, log, &key, &val, MDB_APPEND | MDB_RESERVE);
    if (rc)
        return rc;
    unsigned char *r = val.mv_data;
    put_be64(r, version);
    put_be64(r + 8, (uint64_t)ts);
    r[16] = (unsigned char)(slen >> 8), r[17] = (unsigned char)slen;
    r[18] = (unsigned char)(tlen >> 8), r[19] = (unsigned char)tlen;
    memcpy(r + HDR_BYTES, stream, slen);
    memcpy(r + HDR_BYTES + slen, SUITE_EVENT_TYPE, tlen);
    memcpy(r + HDR_BYTES + slen + tlen, m->pool + p * m->pool_stride, m->pool_len[p]);
    memcpy(ik, stream, slen + 1); /* with its NUL */
    put_be64(ik + slen + 1, version);
    MDB_val ikey = {slen + 9, ik}, ival = {8, pk};
    return mdb_put(t, idx, &ikey, &ival, MDB_NOOVERWRITE);
}

typedef struct lm_store {
    MDB_env *env;
    MDB_dbi log, idx;
} lm_store;

static int append_all(void *ctx, const suite_model *m, int64_t *last)
{
    lm_store *s = ctx;
    int rc = 0;
    for (size_t i = 0; i < m->n && rc == 0; i += BATCH) {
        MDB_txn *t;
        if ((rc = mdb_txn_begin(s->env, NULL, 0, &t)) != 0)
            break;
        int64_t ts = suite_wall_ns();
        for (size_t j = i; j < i + BATCH && j < m->n && rc == 0; j++)
            rc = put(t, s->log, s->idx, m, j, j + 1, (uint64_t)++last[m->seq[j]], ts);
        rc = rc ? (mdb_txn_abort(t), rc) : mdb_txn_commit(t);
    }
    return rc ? fail("append", rc) : 0;
}

static int replay(void *ctx, suite_sum *out)
{
    lm_store *s = ctx;
    MDB_txn *t;
    MDB_cursor *cur;
    MDB_val key, val;
    *out = (suite_sum){0, 0, 0};
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t);
    if (rc)
        return fail("read txn", rc);
    if ((rc = mdb_cursor_open(t, s->log, &cur)) == 0) {
        for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
            const unsigned char *r = val.mv_data;
            uint64_t version = 0, ts = 0;
            for (int b = 0; b < 8; b++)
                version = version << 8 | r[b], ts = ts << 8 | r[8 + b];
            size_t slen = (size_t)r[16] << 8 | r[17], tlen = (size_t)r[18] << 8 | r[19];
            if (val.mv_size < HDR_BYTES + slen + tlen || version == ~0ull || ts == 0) {
                rc = MDB_CORRUPTED;
                break;
            }
            size_t dlen = val.mv_size - HDR_BYTES - slen - tlen;
            out->checksum += suite_touch(r + HDR_BYTES + slen + tlen, dlen);
            out->bytes += dlen;
            out->events++;
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(t);
    return rc == MDB_NOTFOUND ? 0 : fail("replay", rc);
}

int main(int argc, char **argv)
{
    ref_args a;
    if (ref_start(&a, argc, argv, "writemap") != 0)
        return 2;
    unsigned flags = SUITE_LMDB_FLAGS;
    if (a.tuning && !strcmp(a.tuning, "writemap"))
        flags |= MDB_WRITEMAP;
    else if (a.tuning && *a.tuning)
        return fprintf(stderr, "ref lmdb: unknown tuning '%s'\n", a.tuning), 2;
    static const ref_engine lmdb = {"lmdb", append_all, NULL, replay};
    lm_store s;
    MDB_txn *t;
    int rc = mdb_env_create(&s.env);
    if (!rc)
        rc = mdb_env_set_maxdbs(s.env, 2);
    if (!rc)
        rc = mdb_env_set_mapsize(s.env, SUITE_LMDB_MAP_SIZE);
    if (!rc)
        rc = mdb_env_open(s.env, a.dir, flags, 0644);
    if (!rc)
        rc = mdb_txn_begin(s.env, NULL, 0, &t);
    if (!rc && !(rc = mdb_dbi_open(t, "log", MDB_CREATE, &s.log)))
        rc = mdb_dbi_open(t, "idx", MDB_CREATE, &s.idx);
    if (!rc)
        rc = mdb_txn_commit(t);
    if (rc)
        return fail("open", rc), 1;
    rc = ref_run(&a, &lmdb, &s);
    mdb_env_close(s.env);
    return rc;
}
