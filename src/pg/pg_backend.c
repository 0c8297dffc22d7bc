/*
 * pg_backend.c - the PostgreSQL backend's handle: open (the schema created or checked),
 * close, sync, statistics, the head, and the method table.
 *
 * Any number of processes, on any number of machines, may open one store: PostgreSQL
 * serialises their appends through the head row (pg_append.c) and wakes their waiters
 * with notifications (pg_wait.c).
 */
#include "pg_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const evs__backend_methods pg_methods;

static pg_backend *pb_alloc(const evs_options *opts)
{
    pg_backend *pb = evs__calloc(1, sizeof *pb);
    if (!pb)
        return NULL;
    pb->base.methods = &pg_methods;
    pb->opts = *opts;
    pb->readonly = (opts->flags & EVS_OPEN_READONLY) != 0;
    pthread_mutex_init(&pb->mu, NULL);
    pthread_mutex_init(&pb->queue_mu, NULL);
    pthread_cond_init(&pb->queue_cv, NULL);
    return pb;
}

static void pb_free(pg_backend *pb)
{
    evs__pq_listener_free(pb);
    if (pb->conn && !pb->borrowed)
        PQfinish(pb->conn);
    evs__pq_free_statements(pb);
    pthread_mutex_destroy(&pb->mu);
    pthread_mutex_destroy(&pb->queue_mu);
    pthread_cond_destroy(&pb->queue_cv);
    evs__free(pb->conninfo);
    evs__free(pb->display);
    evs__free(pb->schema);
    evs__free(pb);
}

/* Freeing may clobber the error the caller is about to return: keep it. */
static int fail_free(pg_backend *pb, int rc)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", evs__lasterr_msg());
    pb_free(pb);
    return evs__seterr(rc, "%s", msg);
}

/* The schema checked, or created when missing, in one transaction. */
static int open_schema(pg_backend *pb)
{
    unsigned flags = pb->opts.flags;
    bool create = !(flags & (EVS_OPEN_NOCREATE | EVS_OPEN_READONLY)), created = false;
    int rc = evs__pq_exec(pb, "BEGIN");
    if (rc == 0)
        rc = evs__pq_schema_ensure(pb, create, &created);
    if (rc == 0 && (flags & EVS_OPEN_EXCLUSIVE_CREATE) && !created)
        rc = evs__seterr(EVS_EEXIST, "a store already exists at %s", pb->display);
    if (rc == 0)
        return evs__pq_exec(pb, "COMMIT");
    PQclear(PQexec(pb->conn, "ROLLBACK"));
    return rc;
}

static int pg_open(evs__backend **out, const char *location, const evs_options *opts)
{
    pg_backend *pb = pb_alloc(opts);
    if (!pb)
        return evs__seterr(EVS_ENOMEM, "out of memory opening '%s'", location);
    int rc = evs__pq_parse_location(pb, location);
    if (rc == 0)
        rc = evs__pq_connect(pb, &pb->conn);
    if (rc == 0)
        rc = open_schema(pb);
    if (rc == 0)
        rc = evs__pq_ready(pb);
    if (rc < 0)
        return fail_free(pb, rc);
    *out = &pb->base;
    return 0;
}

int evs__pq_open_borrowed(pg_backend **out, PGconn *conn, const char *schema)
{
    evs_options opts = EVS_OPTIONS_INIT;
    pg_backend *pb = pb_alloc(&opts);
    if (!pb)
        return evs__seterr(EVS_ENOMEM, "out of memory appending through a connection");
    pb->conn = conn;
    pb->borrowed = true;
    size_t len = strlen(schema);
    int rc = 0;
    char display[200];
    snprintf(display, sizeof display, "postgresql://%s:%s/%s?schema=%.*s", PQhost(conn),
             PQport(conn), PQdb(conn), EVS_PG_MAX_SCHEMA, schema);
    if (!(pb->schema = evs__strndup(schema, len)) ||
        !(pb->display = evs__strndup(display, strlen(display))))
        rc = evs__seterr(EVS_ENOMEM, "out of memory appending through a connection");
    else
        rc = evs__pq_check_schema_name(schema);
    if (rc == 0) {
        snprintf(pb->channel, sizeof pb->channel, "evs:%s", schema);
        rc = evs__pq_statements(pb);
    }
    if (rc == 0)
        rc = evs__pq_schema_ensure(pb, true, NULL);
    if (rc < 0)
        return fail_free(pb, rc);
    *out = pb;
    return 0;
}

void evs__pq_close_borrowed(pg_backend *pb)
{
    pb_free(pb);
}

static int pg_close(evs__backend *be)
{
    pb_free((pg_backend *)be);
    return 0;
}

/* With synchronous_commit on, every commit was flushed before it returned; otherwise
 * the WAL up to now is flushed here. */
static int pg_sync(evs__backend *be)
{
    pg_backend *pb = (pg_backend *)be;
    if (pb->readonly)
        return evs__seterr(EVS_EREADONLY, "store %s was opened read-only", pb->display);
    if (pb->opts.sync_mode == EVS_SYNC_ALWAYS)
        return 0;
    pthread_mutex_lock(&pb->mu);
    /* A synchronous commit waits for the WAL up to its own record, and so for every
     * commit before it. It must write something to have a record: the head row, as it
     * is. */
    int rc = evs__pq_ready(pb);
    if (rc == 0)
        rc = evs__pq_exec(pb, "BEGIN; SET LOCAL synchronous_commit = on");
    if (rc == 0) {
        char sql[200];
        snprintf(sql, sizeof sql, "UPDATE %s.evs_head SET pos = pos; COMMIT", pb->qschema);
        rc = evs__pq_exec(pb, sql);
        if (rc < 0)
            PQclear(PQexec(pb->conn, "ROLLBACK"));
    }
    pthread_mutex_unlock(&pb->mu);
    return rc;
}

static int64_t pg_head(evs__backend *be)
{
    pg_backend *pb = (pg_backend *)be;
    int64_t pos = 0;
    pthread_mutex_lock(&pb->mu);
    if (evs__pq_ready(pb) < 0 || evs__pq_head_locked(pb, &pos, NULL) < 0)
        pos = 0;
    pthread_mutex_unlock(&pb->mu);
    return pos;
}

static int pg_stat(evs__backend *be, evs_stat_info *out)
{
    pg_backend *pb = (pg_backend *)be;
    memset(out, 0, sizeof *out);
    out->sync_mode = pb->opts.sync_mode;
    char sql[700];
    /* One statement: the figures agree with each other. */
    snprintf(sql, sizeof sql,
             "SELECT h.pos, h.ts_ns, (SELECT count(*) FROM %1$s.evs_streams),"
             " coalesce((SELECT ts_ns FROM %1$s.evs_events WHERE pos = 1), 0),"
             " pg_total_relation_size('%1$s.evs_events'::regclass)"
             " FROM %1$s.evs_head h",
             pb->qschema);
    pthread_mutex_lock(&pb->mu);
    int rc = evs__pq_ready(pb);
    PGresult *r = NULL;
    if (rc == 0 && (rc = evs__pq_query(pb, sql, &r, "reading the store's figures")) == 0 &&
        PQntuples(r) != 1) {
        PQclear(r);
        rc = evs__seterr(EVS_ECORRUPT, "%s: table evs_head has no row (it always has one)",
                         pb->display);
    }
    pthread_mutex_unlock(&pb->mu);
    if (rc < 0)
        return rc;
    out->last_pos = evs__pq_get_i64(r, 0, 0);
    out->last_ts_ns = evs__pq_get_i64(r, 0, 1);
    out->stream_count = evs__pq_get_i64(r, 0, 2);
    out->first_ts_ns = evs__pq_get_i64(r, 0, 3);
    out->log_bytes = evs__pq_get_i64(r, 0, 4);
    PQclear(r);
    /* Positions are gap-free from 1 (evs_verify checks it). */
    out->event_count = out->last_pos;
    out->first_pos = out->last_pos ? 1 : 0;
    return 0;
}

/* PostgreSQL recovers from a crash by its own WAL: there is no torn tail of evstore's
 * to cut. */
static int pg_compact(evs__backend *be, unsigned int keep, evs_compact_report *report)
{
    (void)be;
    (void)keep;
    (void)report;
    return evs__seterr(EVS_ENOTSUP,
                       "the PostgreSQL backend has no segments to compress (PostgreSQL "
                       "compresses large values itself)");
}

static int pg_backup(evs__backend *be, const char *dest, const evs_backup_opts *opts,
                     evs_backup_report *out)
{
    (void)be;
    (void)opts;
    (void)out;
    return evs__seterr(EVS_ENOTSUP,
                       "evs_backup to '%s': the PostgreSQL backend has no backup of its own; "
                       "use PostgreSQL's (pg_dump, or pg_basebackup with WAL archiving)",
                       dest);
}

static int pg_archive(evs__backend *be, const evs_archive_opts *opts, evs_archive_report *out)
{
    (void)be;
    (void)opts;
    (void)out;
    return evs__seterr(EVS_ENOTSUP,
                       "evs_archive: the PostgreSQL backend keeps its events in tables and has "
                       "no segments to archive");
}

static int pg_retain(const char *location, const evs_retain_opts *opts, evs_retain_report *out)
{
    (void)opts;
    (void)out;
    return evs__seterr(EVS_ENOTSUP,
                       "evs_retain: the PostgreSQL backend keeps no segments to drop ('%s'); "
                       "per-stream retention and deletion work on it",
                       location);
}

static int pg_repair(const char *location, const evs_repair_opts *opts, evs_repair_report *out)
{
    (void)opts;
    (void)out;
    return evs__seterr(EVS_ENOTSUP,
                       "the PostgreSQL backend has no repair: '%s' is recovered by PostgreSQL "
                       "itself (evs_verify checks it)",
                       location);
}

static const evs__backend_methods pg_methods = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .append = evs__pq_append,
    .sync = pg_sync,
    .cursor_open = evs__pq_cursor_open,
    .cursor_next = evs__pq_cursor_next,
    .cursor_close = evs__pq_cursor_close,
    .stream_get = evs__pq_stream_get,
    .streams_open = evs__pq_streams_open,
    .streams_next = evs__pq_streams_next,
    .streams_close = evs__pq_streams_close,
    .stat = pg_stat,
    .head = pg_head,
    .wait = evs__pq_wait,
    .find_time = evs__pq_find_time,
    .verify = evs__pq_verify,
    .consumer_lock = evs__pq_consumer_lock,
    .consumer_unlock = evs__pq_consumer_unlock,
    .checkpoint_load = evs__pq_checkpoint_load,
    .checkpoint_store = evs__pq_checkpoint_store,
    .consumer_delete = evs__pq_consumer_delete,
    .consumer_list = evs__pq_consumer_list,
    .verify_quick = evs__pq_verify_quick,
    .repair = pg_repair,
    .wake = evs__pq_wake,
    .filter_load = evs__pq_filter_load,
    .filter_store = evs__pq_filter_store,
    .compact = pg_compact,
    .backup = pg_backup,
    .archive = pg_archive,
    .retain = pg_retain,
};

const evs__backend_methods *evs__pg_backend_methods(void);

const evs__backend_methods *evs__pg_backend_methods(void)
{
    return &pg_methods;
}
