/*
 * sqlite_backend.c - the SQLite backend's handle: open (the schema created or checked),
 * close, sync, statistics, the head and waiting for it, and the method table.
 *
 * Several processes may open one database: SQLite's WAL mode lets readers go on while
 * one writer commits, and its busy timeout (lock_wait_ms) makes writers queue. A wait
 * for new events is woken at once by appends through the same handle; appends from
 * other handles and processes are seen within WAIT_POLL_MS, as SQLite has no way to
 * signal another process.
 */
#include "sqlite_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How often a wait looks at the head for appends by other handles: the latency a
 * subscriber in another process sees, against one indexed query per period. */
#define WAIT_POLL_MS 5

static const evs__backend_methods sqlite_methods;

static sqlite_backend *sb_alloc(const char *path, const evs_options *opts)
{
    sqlite_backend *sb = evs__calloc(1, sizeof *sb);
    if (!sb)
        return NULL;
    sb->path = evs__strndup(path, strlen(path));
    if (!sb->path) {
        evs__free(sb);
        return NULL;
    }
    sb->base.methods = &sqlite_methods;
    sb->opts = *opts;
    sb->readonly = (opts->flags & EVS_OPEN_READONLY) != 0;
    pthread_mutex_init(&sb->mu, NULL);
    pthread_mutex_init(&sb->queue_mu, NULL);
    pthread_cond_init(&sb->queue_cv, NULL);
    pthread_mutex_init(&sb->wait_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sb->wait_cv, &ca);
    pthread_condattr_destroy(&ca);
    return sb;
}

static void sb_free(sqlite_backend *sb)
{
    evs__sq_finalize_all(sb);
    if (sb->db && !sb->borrowed)
        sqlite3_close_v2(sb->db);
    pthread_mutex_destroy(&sb->mu);
    pthread_mutex_destroy(&sb->queue_mu);
    pthread_cond_destroy(&sb->queue_cv);
    pthread_mutex_destroy(&sb->wait_mu);
    pthread_cond_destroy(&sb->wait_cv);
    evs__free(sb->path);
    evs__free(sb);
}

/* Freeing may clobber the error the caller is about to return: keep it. */
static int fail_free(sqlite_backend *sb, int rc)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", evs__lasterr_msg());
    sb_free(sb);
    return evs__seterr(rc, "%s", msg);
}

static const char *sync_pragma(evs_sync_mode mode)
{
    /* FULL: the WAL is synced at every commit. NORMAL: at checkpoints only, so a power
     * loss may take the last commits. OFF: never. */
    return mode == EVS_SYNC_ALWAYS  ? "PRAGMA synchronous=FULL"
           : mode == EVS_SYNC_BATCH ? "PRAGMA synchronous=NORMAL"
                                    : "PRAGMA synchronous=OFF";
}

/* Switching a new database to WAL needs a moment alone with it, and SQLite can report
 * SQLITE_BUSY there without waiting: several processes creating one store at once
 * failed now and then. Retried until lock_wait_ms runs out. */
static int to_wal(sqlite_backend *sb)
{
    int64_t deadline = sb->opts.lock_wait_ms < 0
                           ? INT64_MAX
                           : evs__monotonic_ns() + sb->opts.lock_wait_ms * 1000000LL;
    for (;;) {
        int rc = sqlite3_exec(sb->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return 0;
        if ((rc & 0xff) != SQLITE_BUSY || evs__monotonic_ns() >= deadline)
            return evs__sq_err(sb, rc, "switching to WAL mode");
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

static int db_connect(sqlite_backend *sb)
{
    unsigned flags = sb->opts.flags;
    bool exists = access(sb->path, F_OK) == 0;
    if (!exists && (flags & (EVS_OPEN_NOCREATE | EVS_OPEN_READONLY)))
        return evs__seterr(EVS_ENOTFOUND,
                           "no store at 'sqlite:%s': the database file does not "
                           "exist",
                           sb->path);
    int oflags = SQLITE_OPEN_NOMUTEX |
                 (sb->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    int rc = sqlite3_open_v2(sb->path, &sb->db, oflags, NULL);
    if (rc != SQLITE_OK)
        return evs__sq_err(sb, rc, "cannot open the database");
    sqlite3_extended_result_codes(sb->db, 1);
    int wait = sb->opts.lock_wait_ms < 0 ? INT_MAX : sb->opts.lock_wait_ms;
    sqlite3_busy_timeout(sb->db, wait);
    /* Before WAL: a page size takes effect only on a database not yet written. 8 KiB
     * pages, a cache of up to 64 MiB, reads through a mapping and a checkpoint every
     * 10,000 pages of WAL: measured on the benchmark suite's workloads (bench/RESULTS.md),
     * the settings its own SQLite driver uses. */
    if ((rc = evs__sq_exec(sb, "PRAGMA page_size=8192; PRAGMA cache_size=-65536;"
                               " PRAGMA mmap_size=1073741824; PRAGMA wal_autocheckpoint=10000")) <
        0)
        return rc;
    if (!sb->readonly && (rc = to_wal(sb)) < 0)
        return rc;
    return evs__sq_exec(sb, sync_pragma(sb->opts.sync_mode));
}

/* The schema, checked in a read transaction (no write lock: an application may hold it
 * in the same database), or created in a write transaction when missing: two processes
 * creating the same store at once make it once. */
static int open_schema(sqlite_backend *sb)
{
    unsigned flags = sb->opts.flags;
    bool create = !(flags & (EVS_OPEN_NOCREATE | EVS_OPEN_READONLY)), created = false;
    int rc = evs__sq_exec(sb, "BEGIN");
    if (rc == 0)
        rc = evs__sq_schema_ensure(sb, false, NULL);
    if (rc == EVS_ENOTFOUND && create) {
        sqlite3_exec(sb->db, "ROLLBACK", NULL, NULL, NULL);
        rc = evs__sq_exec(sb, "BEGIN IMMEDIATE");
        if (rc == 0)
            rc = evs__sq_schema_ensure(sb, true, &created);
    }
    if (rc == 0 && (flags & EVS_OPEN_EXCLUSIVE_CREATE) && !created)
        rc = evs__seterr(EVS_EEXIST, "a store already exists at 'sqlite:%s'", sb->path);
    if (rc == 0)
        return evs__sq_exec(sb, "COMMIT");
    sqlite3_exec(sb->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int sqlite_open(evs__backend **out, const char *path, const evs_options *opts)
{
    sqlite_backend *sb = sb_alloc(path, opts);
    if (!sb)
        return evs__seterr(EVS_ENOMEM, "out of memory opening 'sqlite:%s'", path);
    int rc = db_connect(sb);
    if (rc == 0)
        rc = open_schema(sb);
    if (rc == 0)
        rc = evs__sq_prepare_all(sb);
    if (rc < 0)
        return fail_free(sb, rc);
    *out = &sb->base;
    return 0;
}

int evs__sq_open_borrowed(sqlite_backend **out, sqlite3 *db)
{
    evs_options opts = EVS_OPTIONS_INIT;
    const char *file = sqlite3_db_filename(db, "main");
    sqlite_backend *sb = sb_alloc(file && *file ? file : "(memory)", &opts);
    if (!sb)
        return evs__seterr(EVS_ENOMEM, "out of memory appending through a connection");
    sb->db = db;
    sb->borrowed = true;
    int rc = evs__sq_schema_ensure(sb, true, NULL);
    if (rc == 0)
        rc = evs__sq_prepare_all(sb);
    if (rc < 0)
        return fail_free(sb, rc);
    *out = sb;
    return 0;
}

void evs__sq_close_borrowed(sqlite_backend *sb)
{
    sb_free(sb);
}

static int sqlite_close(evs__backend *be)
{
    sqlite_backend *sb = (sqlite_backend *)be;
    evs__sq_finalize_all(sb);
    int rc = sqlite3_close(sb->db);
    if (rc != SQLITE_OK)
        rc = evs__sq_err(sb, rc, "closing the database");
    else
        sb->db = NULL;
    sb_free(sb);
    return rc;
}

static int sqlite_sync(evs__backend *be)
{
    sqlite_backend *sb = (sqlite_backend *)be;
    if (sb->readonly)
        return evs__seterr(EVS_EREADONLY, "store 'sqlite:%s' was opened read-only", sb->path);
    /* A checkpoint syncs the WAL, then the database, unless synchronous is OFF. */
    pthread_mutex_lock(&sb->mu);
    int rc = evs__sq_exec(sb, "PRAGMA synchronous=FULL");
    if (rc == 0)
        rc = evs__sq_exec(sb, "PRAGMA wal_checkpoint(PASSIVE)");
    int back = evs__sq_exec(sb, sync_pragma(sb->opts.sync_mode));
    pthread_mutex_unlock(&sb->mu);
    return rc < 0 ? rc : back;
}

static int head_now(sqlite_backend *sb, int64_t *pos, int64_t *ts)
{
    pthread_mutex_lock(&sb->mu);
    int rc = evs__sq_head_locked(sb, pos, ts);
    pthread_mutex_unlock(&sb->mu);
    return rc;
}

static int sq_compact(evs__backend *be, unsigned int keep, evs_compact_report *report)
{
    (void)keep;
    (void)report;
    return evs__seterr(EVS_ENOTSUP, "store 'sqlite:%s' has no segments to compress",
                       ((sqlite_backend *)be)->path);
}

static int64_t sqlite_head(evs__backend *be)
{
    int64_t pos = 0;
    if (head_now((sqlite_backend *)be, &pos, NULL) < 0)
        return 0;
    return pos;
}

void evs__sq_signal(sqlite_backend *sb)
{
    pthread_mutex_lock(&sb->wait_mu);
    sb->wake_gen++;
    pthread_cond_broadcast(&sb->wait_cv);
    pthread_mutex_unlock(&sb->wait_mu);
}

static void sqlite_wake(evs__backend *be, bool closing)
{
    sqlite_backend *sb = (sqlite_backend *)be;
    pthread_mutex_lock(&sb->wait_mu);
    sb->closing |= closing;
    sb->wake_gen++;
    pthread_cond_broadcast(&sb->wait_cv);
    pthread_mutex_unlock(&sb->wait_mu);
}

static int sqlite_wait(evs__backend *be, int64_t after_pos, int timeout_ms, int64_t *head_out)
{
    sqlite_backend *sb = (sqlite_backend *)be;
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : evs__monotonic_ns() + timeout_ms * 1000000LL;
    for (;;) {
        pthread_mutex_lock(&sb->wait_mu);
        uint64_t gen = sb->wake_gen;
        bool closing = sb->closing;
        pthread_mutex_unlock(&sb->wait_mu);
        if (closing)
            return evs__seterr(EVS_ECLOSED, "the store was closed during the wait");
        if (evs__wait_interrupt && atomic_load(evs__wait_interrupt))
            return evs__seterr(EVS_ETIMEDOUT, "the wait after position %" PRId64 " was interrupted",
                               after_pos);
        int64_t head;
        int rc = head_now(sb, &head, NULL);
        if (rc < 0)
            return rc;
        if (head > after_pos) {
            if (head_out)
                *head_out = head;
            return 0;
        }
        int64_t now = evs__monotonic_ns();
        if (now >= deadline)
            return evs__seterr(EVS_ETIMEDOUT, "no event after position %" PRId64 " within %d ms",
                               after_pos, timeout_ms);
        int64_t until = now + WAIT_POLL_MS * 1000000LL;
        if (until > deadline)
            until = deadline;
        struct timespec ts = {(time_t)(until / 1000000000), (long)(until % 1000000000)};
        pthread_mutex_lock(&sb->wait_mu);
        while (sb->wake_gen == gen && !sb->closing &&
               pthread_cond_timedwait(&sb->wait_cv, &sb->wait_mu, &ts) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&sb->wait_mu);
    }
}

static int query_i64(sqlite_backend *sb, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(sb->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return evs__sq_err(sb, rc, sql);
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : evs__sq_err(sb, rc, sql);
}

static int sqlite_stat(evs__backend *be, evs_stat_info *out)
{
    sqlite_backend *sb = (sqlite_backend *)be;
    memset(out, 0, sizeof *out);
    out->sync_mode = sb->opts.sync_mode;
    int64_t pages = 0, page_size = 0;
    pthread_mutex_lock(&sb->mu);
    /* One read transaction: the figures agree with each other. */
    int rc = evs__sq_exec(sb, "BEGIN");
    if (rc == 0)
        rc = evs__sq_head_locked(sb, &out->last_pos, &out->last_ts_ns);
    if (rc == 0)
        rc = query_i64(sb, "SELECT count(*) FROM evs_streams", &out->stream_count);
    if (rc == 0)
        rc = query_i64(sb, "SELECT ts_ns FROM evs_events ORDER BY pos LIMIT 1", &out->first_ts_ns);
    if (rc == 0)
        rc = query_i64(sb, "PRAGMA page_count", &pages);
    if (rc == 0)
        rc = query_i64(sb, "PRAGMA page_size", &page_size);
    sqlite3_exec(sb->db, "COMMIT", NULL, NULL, NULL);
    pthread_mutex_unlock(&sb->mu);
    /* Positions are gap-free from 1 (evs_verify checks it). */
    out->event_count = out->last_pos;
    out->first_pos = out->last_pos ? 1 : 0;
    out->log_bytes = pages * page_size;
    return rc;
}

/* SQLite keeps its own journal and recovers a crashed writer itself: there is no torn
 * tail of evstore's to cut. */
static int sqlite_retain(const char *path, const evs_retain_opts *opts, evs_retain_report *out)
{
    (void)opts;
    (void)out;
    return evs__seterr(EVS_ENOTSUP,
                       "evs_retain: the sqlite backend keeps no segments to drop ('sqlite:%s'); "
                       "per-stream retention and deletion work on it",
                       path);
}

static int sqlite_repair(const char *path, const evs_repair_opts *opts, evs_repair_report *out)
{
    (void)opts;
    (void)out;
    return evs__seterr(EVS_ENOTSUP,
                       "the sqlite backend has no repair: 'sqlite:%s' is recovered by SQLite "
                       "itself (evs_verify checks it)",
                       path);
}

/* A database file has its own online backup (SQLite's backup API, `sqlite3 .backup`),
 * which knows its pages and locks. */
static int sqlite_backup(evs__backend *be, const char *dest, const evs_backup_opts *opts,
                         evs_backup_report *out)
{
    (void)be;
    (void)opts;
    (void)out;
    return evs__seterr(EVS_ENOTSUP,
                       "evs_backup to '%s': the sqlite backend has no backup of its own; use "
                       "SQLite's online backup (sqlite3 DB '.backup FILE')",
                       dest);
}

/* One database file: there are no sealed segments to move. */
static int sqlite_archive(evs__backend *be, const evs_archive_opts *opts, evs_archive_report *out)
{
    (void)be;
    (void)opts;
    (void)out;
    return evs__seterr(EVS_ENOTSUP, "evs_archive: the sqlite backend keeps one database file "
                                    "and has no segments to archive");
}

static const evs__backend_methods sqlite_methods = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .append = evs__sq_append,
    .sync = sqlite_sync,
    .cursor_open = evs__sq_cursor_open,
    .cursor_next = evs__sq_cursor_next,
    .cursor_close = evs__sq_cursor_close,
    .stream_get = evs__sq_stream_get,
    .streams_open = evs__sq_streams_open,
    .streams_next = evs__sq_streams_next,
    .streams_close = evs__sq_streams_close,
    .stat = sqlite_stat,
    .head = sqlite_head,
    .wait = sqlite_wait,
    .find_time = evs__sq_find_time,
    .verify = evs__sq_verify,
    .consumer_lock = evs__sq_consumer_lock,
    .consumer_unlock = evs__sq_consumer_unlock,
    .checkpoint_load = evs__sq_checkpoint_load,
    .checkpoint_store = evs__sq_checkpoint_store,
    .consumer_delete = evs__sq_consumer_delete,
    .consumer_list = evs__sq_consumer_list,
    .verify_quick = evs__sq_verify_quick,
    .repair = sqlite_repair,
    .retain = sqlite_retain,
    .wake = sqlite_wake,
    .filter_load = evs__sq_filter_load,
    .filter_store = evs__sq_filter_store,
    .compact = sq_compact,
    .backup = sqlite_backup,
    .archive = sqlite_archive,
};

const evs__backend_methods *evs__sqlite_backend_methods(void);

const evs__backend_methods *evs__sqlite_backend_methods(void)
{
    return &sqlite_methods;
}
