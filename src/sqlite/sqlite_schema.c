/*
 * sqlite_schema.c - the store's tables in an SQLite database: created on first use,
 * checked on every open, and the handle's prepared statements.
 *
 * A database that holds other tables (the application's, for the outbox) is fine: every
 * table of the store is named evs_*. The schema carries its version in evs_meta; a
 * database whose version this evstore does not know is refused, never misread
 * (docs/SQL.md).
 */
#include "sqlite_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char schema_sql[] =
    "CREATE TABLE evs_meta(key TEXT PRIMARY KEY NOT NULL, value NOT NULL);"
    "CREATE TABLE evs_streams(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE evs_events("
    " pos INTEGER PRIMARY KEY,"
    " stream_id INTEGER NOT NULL REFERENCES evs_streams(id),"
    " version INTEGER NOT NULL,"
    " ts_ns INTEGER NOT NULL,"
    " type TEXT NOT NULL,"
    " data TEXT NOT NULL,"
    " metadata TEXT,"
    " id BLOB NOT NULL CHECK (length(id) = 16),"
    " UNIQUE(stream_id, version));"
    "CREATE INDEX evs_events_by_id ON evs_events(stream_id, id);"
    "CREATE TABLE evs_consumers(name TEXT PRIMARY KEY NOT NULL, pos INTEGER NOT NULL,"
    " ts_ns INTEGER NOT NULL, filter TEXT);";

static const char *const stmt_sql[SQ_COUNT] = {
    [SQ_HEAD] = "SELECT pos, ts_ns FROM evs_events ORDER BY pos DESC LIMIT 1",
    [SQ_STREAM_FIND] = "SELECT id FROM evs_streams WHERE name = ?1",
    [SQ_STREAM_ADD] = "INSERT INTO evs_streams(name) VALUES(?1)",
    [SQ_STREAM_LAST] = "SELECT version, pos FROM evs_events WHERE stream_id = ?1"
                       " ORDER BY version DESC LIMIT 1",
    [SQ_INSERT] = "INSERT INTO evs_events(pos, stream_id, version, ts_ns, type, data, metadata, id)"
                  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    /* Without INDEXED BY the planner may walk the whole stream in version order (the
     * UNIQUE index sorts for it) instead of seeking the id: quadratic appends. */
    [SQ_ID_FIND] = "SELECT version, pos FROM evs_events INDEXED BY evs_events_by_id"
                   " WHERE stream_id = ?1 AND id = ?2 ORDER BY version DESC LIMIT 1",
    [SQ_AT_VERSION] = "SELECT id, pos FROM evs_events WHERE stream_id = ?1 AND version = ?2",
#define COLS                                                                                       \
    "SELECT e.pos, e.version, e.ts_ns, s.name, e.type, e.data, e.metadata, e.id"                   \
    " FROM evs_events e JOIN evs_streams s ON s.id = e.stream_id"
    [SQ_SCAN_FWD] = COLS " WHERE e.pos > ?1 ORDER BY e.pos LIMIT ?2",
    [SQ_SCAN_BWD] = COLS " WHERE e.pos < ?1 ORDER BY e.pos DESC LIMIT ?2",
    [SQ_STREAM_FWD] = COLS " WHERE e.stream_id = ?3 AND e.version > ?1 ORDER BY e.version LIMIT ?2",
    [SQ_STREAM_BWD] = COLS " WHERE e.stream_id = ?3 AND e.version < ?1"
                           " ORDER BY e.version DESC LIMIT ?2",
#undef COLS
};

int evs__sq_err(sqlite_backend *sb, int sqlite_rc, const char *what)
{
    int code;
    switch (sqlite_rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = EVS_EBUSY;
        break;
    case SQLITE_FULL:
        code = EVS_ENOSPC;
        break;
    case SQLITE_NOMEM:
        code = EVS_ENOMEM;
        break;
    case SQLITE_CORRUPT:
        code = EVS_ECORRUPT;
        break;
    case SQLITE_NOTADB:
        code = EVS_EFORMAT;
        break;
    case SQLITE_READONLY:
        code = EVS_EREADONLY;
        break;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISUSE:
        code = EVS_EMISUSE;
        break;
    default:
        code = EVS_EIO;
    }
    const char *msg = sb->db ? sqlite3_errmsg(sb->db) : sqlite3_errstr(sqlite_rc);
    return evs__seterr(code, "sqlite:%s: %s: %s", sb->path ? sb->path : "(connection)", what, msg);
}

int evs__sq_exec(sqlite_backend *sb, const char *sql)
{
    int rc = sqlite3_exec(sb->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : evs__sq_err(sb, rc, sql);
}

/* Does table `name` exist? *out; 0 or an error. */
static int has_table(sqlite_backend *sb, const char *name, bool *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        sb->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return evs__sq_err(sb, rc, "reading the schema");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : evs__sq_err(sb, rc, "reading the schema");
}

static int read_version(sqlite_backend *sb, int64_t *version)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(sb->db, "SELECT value FROM evs_meta WHERE key = 'schema_version'",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return evs__sq_err(sb, rc, "reading the schema version");
    rc = sqlite3_step(st);
    bool ok = rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER;
    *version = ok ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return evs__sq_err(sb, rc, "reading the schema version");
    if (!ok)
        return evs__seterr(EVS_EFORMAT,
                           "sqlite:%s: table evs_meta has no schema_version: not an evstore "
                           "schema, or a damaged one",
                           sb->path);
    return 0;
}

/* Schema 1 is the first: there is nothing older to upgrade from yet. A later schema
 * adds its step here (from version v to v + 1, in the same transaction as the check),
 * so that a store made by an older evstore is upgraded, never misread. */
static int check_version(sqlite_backend *sb, int64_t version)
{
    if (version == EVS_SQL_SCHEMA_VERSION)
        return 0;
    if (version > EVS_SQL_SCHEMA_VERSION)
        return evs__seterr(EVS_EFORMAT,
                           "sqlite:%s: the store's schema is version %" PRId64
                           ", made by a newer evstore; this one reads version %d (upgrade "
                           "evstore)",
                           sb->path, version, EVS_SQL_SCHEMA_VERSION);
    return evs__seterr(EVS_EFORMAT,
                       "sqlite:%s: schema version %" PRId64
                       " is not one any evstore wrote (the first is 1): damaged evs_meta",
                       sb->path, version);
}

static int create_schema(sqlite_backend *sb)
{
    int rc = evs__sq_exec(sb, schema_sql);
    if (rc < 0)
        return rc;
    char sql[160];
    snprintf(sql, sizeof sql,
             "INSERT INTO evs_meta VALUES('schema_version', %d), ('created_ns', %" PRId64 ")",
             EVS_SQL_SCHEMA_VERSION, evs__now_ns());
    return evs__sq_exec(sb, sql);
}

int evs__sq_schema_ensure(sqlite_backend *sb, bool create, bool *created)
{
    bool meta, events;
    if (created)
        *created = false;
    int rc = has_table(sb, "evs_meta", &meta);
    if (rc == 0)
        rc = has_table(sb, "evs_events", &events);
    if (rc < 0)
        return rc;
    if (meta) {
        int64_t version;
        rc = read_version(sb, &version);
        return rc < 0 ? rc : check_version(sb, version);
    }
    if (events)
        return evs__seterr(EVS_EFORMAT,
                           "sqlite:%s: has a table evs_events but no evs_meta: not an evstore "
                           "schema; refusing to use it",
                           sb->path);
    if (!create)
        return evs__seterr(EVS_ENOTFOUND,
                           "sqlite:%s: the database holds no store; create one with "
                           "'evstore init sqlite:%s'",
                           sb->path, sb->path);
    rc = create_schema(sb);
    if (rc == 0 && created)
        *created = true;
    return rc;
}

int evs__sq_prepare_all(sqlite_backend *sb)
{
    for (int i = 0; i < SQ_COUNT; i++) {
        int rc = sqlite3_prepare_v3(sb->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &sb->st[i],
                                    NULL);
        if (rc != SQLITE_OK) {
            int err = evs__sq_err(sb, rc, "preparing statements");
            evs__sq_finalize_all(sb);
            return err;
        }
    }
    return 0;
}

void evs__sq_finalize_all(sqlite_backend *sb)
{
    for (int i = 0; i < SQ_COUNT; i++) {
        sqlite3_finalize(sb->st[i]);
        sb->st[i] = NULL;
    }
}
