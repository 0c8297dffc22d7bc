/*
 * suite_evstore.c - the suite's evstore driver, through the public API only (evstore.h).
 * Durable stores use EVS_SYNC_ALWAYS (fdatasync before an append returns, concurrent
 * appends share a sync); unsynced ones EVS_SYNC_NONE. A batch is one evs_append_multi of
 * one-event batches, so it is one atomic write and one sync, like one transaction of
 * the SQL peers. evstore generates a UUID per event, which the peers do not store.
 * W9's filtered catch-up is a subscription (evs_subscribe with the filter, from the
 * start, until evs_subscription_next has nothing more), which reads every record's
 * header: evstore keeps no index by type or category.
 */
#include "evstore.h"
#include "suite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int fail(const char *what, int rc)
{
    fprintf(stderr, "suite: evstore: %s: %s (%s)\n", what, evs_errname(rc), evs_errmsg());
    return rc == EVS_ECONFLICT ? SUITE_CONFLICT : SUITE_ERR;
}

static int open_with(void **db, const char *dir, evs_sync_mode sync, unsigned flags)
{
    evs_options o = EVS_OPTIONS_INIT;
    o.sync_mode = sync;
    o.flags = flags;
    evs_store *s;
    int rc = evs_open(&s, dir, &o);
    if (rc < 0)
        return fail("open", rc);
    *db = s;
    return SUITE_OK;
}

static int ev_open(void **db, const char *dir, int durable)
{
    return open_with(db, dir, durable ? EVS_SYNC_ALWAYS : EVS_SYNC_NONE, EVS_OPEN_EXCLUSIVE_CREATE);
}

static int ev_reopen(void **db, const char *dir)
{
    return open_with(db, dir, EVS_SYNC_NONE, EVS_OPEN_NOCREATE);
}

static int ev_head(void *db, int64_t *pos)
{
    *pos = evs_head(db);
    return *pos >= 0 ? SUITE_OK : fail("head", (int)*pos);
}

static int ev_read_one(void *db, const char *stream, int64_t *last_version)
{
    evs_stream_info info;
    int rc = evs_stream_get(&info, db, stream);
    if (rc < 0)
        return fail("stream info", rc);
    evs_query q = EVS_QUERY_INIT;
    q.stream = stream;
    evs_cursor *c;
    if ((rc = evs_cursor_open(&c, db, &q)) < 0)
        return fail("cursor", rc);
    evs_event ev;
    int64_t n = 0;
    uint64_t sum = 0;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        sum += suite_touch(ev.data, ev.data_len);
        n++;
    }
    evs_cursor_close(c);
    if (rc < 0)
        return fail("read one stream", rc);
    *last_version = info.last_version;
    return n == info.last_version + 1 && sum != 1 ? SUITE_OK : SUITE_ERR;
}

/* The store handle is thread-safe: every thread shares it. */
static int ev_conn_open(void **conn, void *db)
{
    *conn = db;
    return SUITE_OK;
}

static void ev_conn_close(void *conn)
{
    (void)conn;
}

static int64_t expect_of(const suite_ev *e)
{
    if (e->expect == SUITE_EXPECT_ANY)
        return EVS_EXPECT_ANY;
    return e->expect < 0 ? EVS_EXPECT_NO_STREAM : e->expect;
}

static int ev_append_batch(void *conn, const suite_ev *ev, size_t n)
{
    evs_event_in in[SUITE_MAX_BATCH];
    evs_batch_in b[SUITE_MAX_BATCH];
    if (n > SUITE_MAX_BATCH)
        return SUITE_ERR;
    for (size_t i = 0; i < n; i++) {
        in[i] = (evs_event_in){suite_ev_type(&ev[i]), ev[i].data, ev[i].data_len, NULL, 0, NULL, 0};
        b[i] = (evs_batch_in){ev[i].stream, expect_of(&ev[i]), &in[i], 1};
    }
    int rc = evs_append_multi(NULL, conn, b, n);
    return rc < 0 ? fail("append_multi", rc) : SUITE_OK;
}

static int ev_append_one(void *conn, const suite_ev *ev)
{
    evs_event_in in = {suite_ev_type(ev), ev->data, ev->data_len, NULL, 0, NULL, 0};
    int rc = evs_append(NULL, conn, ev->stream, expect_of(ev), &in, 1);
    return rc < 0 ? fail("append", rc) : SUITE_OK;
}

/* The cursor decodes every field into `e`; the payload is what the reader touches. */
static int ev_scan(evs_store *s, const evs_query *q, int whole_payload, suite_sum *out)
{
    evs_cursor *c;
    evs_event e;
    int rc = evs_cursor_open(&c, s, q);
    if (rc < 0)
        return fail("cursor_open", rc);
    uint64_t n = 0, bytes = 0, sum = 0;
    while ((rc = evs_cursor_next(&e, c)) > 0) {
        sum += whole_payload ? suite_touch(e.data, e.data_len) : (unsigned char)e.data[0];
        bytes += e.data_len;
        n++;
    }
    evs_cursor_close(c);
    if (rc < 0)
        return fail("cursor_next", rc);
    out->events += n;
    out->bytes += bytes;
    out->checksum += sum;
    return SUITE_OK;
}

static int ev_replay(void *conn, suite_sum *out)
{
    return ev_scan(conn, NULL, 1, out);
}

static int ev_read_stream(void *conn, const char *stream, suite_sum *out)
{
    evs_query q = EVS_QUERY_INIT;
    q.stream = stream;
    return ev_scan(conn, &q, 0, out);
}

static int ev_filtered(void *conn, const suite_filter *f, suite_sum *out)
{
    evs_query q = EVS_QUERY_INIT;
    const char *types[1] = {f->value};
    if (f->by_category) {
        q.category = f->value;
    } else {
        q.types = types;
        q.type_count = 1;
    }
    evs_subscription *sub;
    evs_event e;
    int rc = evs_subscribe(&sub, conn, &q, EVS_FROM_START);
    if (rc < 0)
        return fail("subscribe", rc);
    /* Caught up when there is nothing more without waiting (timeout 0). */
    while ((rc = evs_subscription_next(&e, sub, 0)) > 0) {
        out->checksum += suite_touch(e.data, e.data_len);
        out->bytes += e.data_len;
        out->events++;
    }
    evs_subscription_close(sub);
    return rc < 0 ? fail("subscription_next", rc) : SUITE_OK;
}

static void ev_close(void *db)
{
    int rc = evs_close(db);
    if (rc < 0)
        fail("close", rc);
}

const suite_driver suite_evstore_driver = {
    .name = "evstore",
    .open = ev_open,
    .conn_open = ev_conn_open,
    .conn_close = ev_conn_close,
    .append_batch = ev_append_batch,
    .append_one = ev_append_one,
    .replay = ev_replay,
    .read_stream = ev_read_stream,
    .close = ev_close,
    .reopen = ev_reopen,
    .head = ev_head,
    .read_one = ev_read_one,
    .filtered = ev_filtered,
    .feed = &suite_evstore_feed,
};

/* evstore on its SQLite backend (evsqlite): the store is DIR/events.db, as the raw
 * SQLite driver's, opened through the same public API; everything else as above. */
static int evsq_location(char *buf, size_t len, const char *dir)
{
    if (snprintf(buf, len, "sqlite:%s/events.db", dir) >= (int)len) {
        fprintf(stderr, "suite: evsqlite: path too long\n");
        return SUITE_ERR;
    }
    return SUITE_OK;
}

static int evsq_open(void **db, const char *dir, int durable)
{
    char loc[4200];
    if (mkdir(dir, 0755) != 0) {
        perror("suite: evsqlite: mkdir");
        return SUITE_ERR;
    }
    if (evsq_location(loc, sizeof loc, dir) != SUITE_OK)
        return SUITE_ERR;
    return open_with(db, loc, durable ? EVS_SYNC_ALWAYS : EVS_SYNC_NONE, EVS_OPEN_EXCLUSIVE_CREATE);
}

static int evsq_reopen(void **db, const char *dir)
{
    char loc[4200];
    if (evsq_location(loc, sizeof loc, dir) != SUITE_OK)
        return SUITE_ERR;
    return open_with(db, loc, EVS_SYNC_NONE, EVS_OPEN_NOCREATE);
}

const suite_driver suite_evstore_sqlite_driver = {
    .name = "evsqlite",
    .open = evsq_open,
    .conn_open = ev_conn_open,
    .conn_close = ev_conn_close,
    .append_batch = ev_append_batch,
    .append_one = ev_append_one,
    .replay = ev_replay,
    .read_stream = ev_read_stream,
    .close = ev_close,
    .reopen = evsq_reopen,
    .head = ev_head,
    .filtered = ev_filtered,
};

#ifdef SUITE_HAVE_PG
/* evstore on its PostgreSQL backend (evpg): the store is a schema in the server the raw
 * PostgreSQL driver starts (run it with --engines pg,evpg), named as that driver names
 * its table, opened through the same public API; everything else as above. */
static int evpg_location(char *buf, size_t len, const char *dir)
{
    const char *ci = suite_pg_conninfo();
    const char *port = ci ? strstr(ci, "port=") : NULL;
    if (!port) {
        fprintf(stderr, "suite: evpg: no PostgreSQL server (list pg before evpg)\n");
        return SUITE_ERR;
    }
    char schema[64];
    suite_pg_table(schema, sizeof schema, dir);
    if (snprintf(buf, len, "postgresql://bench@127.0.0.1:%d/postgres?schema=%s",
                 atoi(port + 5), schema) >= (int)len)
        return SUITE_ERR;
    return SUITE_OK;
}

static int evpg_open(void **db, const char *dir, int durable)
{
    char loc[512];
    if (mkdir(dir, 0755) != 0) {
        perror("suite: evpg: mkdir");
        return SUITE_ERR;
    }
    if (evpg_location(loc, sizeof loc, dir) != SUITE_OK)
        return SUITE_ERR;
    return open_with(db, loc, durable ? EVS_SYNC_ALWAYS : EVS_SYNC_NONE, EVS_OPEN_EXCLUSIVE_CREATE);
}

static int evpg_reopen(void **db, const char *dir)
{
    char loc[512];
    if (evpg_location(loc, sizeof loc, dir) != SUITE_OK)
        return SUITE_ERR;
    return open_with(db, loc, EVS_SYNC_NONE, EVS_OPEN_NOCREATE);
}

const suite_driver suite_evstore_pg_driver = {
    .name = "evpg",
    .open = evpg_open,
    .conn_open = ev_conn_open,
    .conn_close = ev_conn_close,
    .append_batch = ev_append_batch,
    .append_one = ev_append_one,
    .replay = ev_replay,
    .read_stream = ev_read_stream,
    .close = ev_close,
    .reopen = evpg_reopen,
    .head = ev_head,
    .filtered = ev_filtered,
};
#endif
