/*
 * pg_schema.c - the store's tables in a PostgreSQL schema: created on first use,
 * checked on every open, and the statements the backend runs, with the schema's name
 * filled in.
 *
 * The schema may hold other tables (the application's): every table of the store is
 * named evs_*. The version is kept in evs_meta; a schema whose version this evstore
 * does not know is refused, never misread (docs/SQL.md). Two processes creating one
 * store at once are serialised by a transaction-scoped advisory lock on the schema's
 * name, so the second finds what the first made.
 */
#include "pg_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* %1$s is the quoted schema. */
static const char schema_sql[] =
    "CREATE SCHEMA IF NOT EXISTS %1$s;"
    "CREATE TABLE %1$s.evs_meta(key text PRIMARY KEY, value text NOT NULL);"
    /* One row: the last position and its ts. Appends lock it first (pg_append.c). */
    "CREATE TABLE %1$s.evs_head(only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),"
    " pos bigint NOT NULL, ts_ns bigint NOT NULL);"
    "INSERT INTO %1$s.evs_head VALUES (true, 0, 0);"
    "CREATE TABLE %1$s.evs_streams(id bigserial PRIMARY KEY, name text NOT NULL UNIQUE);"
    "CREATE TABLE %1$s.evs_events("
    " pos bigint PRIMARY KEY,"
    " stream_id bigint NOT NULL,"
    " version bigint NOT NULL,"
    " ts_ns bigint NOT NULL,"
    " type text NOT NULL,"
    " data text NOT NULL,"
    " metadata text,"
    " id bytea NOT NULL CHECK (length(id) = 16),"
    " UNIQUE (stream_id, version));"
    "CREATE INDEX evs_events_by_id ON %1$s.evs_events(stream_id, id);"
    "CREATE TABLE %1$s.evs_consumers(name text PRIMARY KEY, pos bigint NOT NULL,"
    " ts_ns bigint NOT NULL, filter text);";

#define COLS                                                                                       \
    "SELECT e.pos, e.version, e.ts_ns, s.name, e.type, e.data, e.metadata, e.id"                   \
    " FROM %1$s.evs_events e JOIN %1$s.evs_streams s ON s.id = e.stream_id"

static const char *const stmt_sql[PQS_COUNT] = {
    [PQS_HEAD] = "SELECT pos, ts_ns FROM %1$s.evs_head",
    [PQS_HEAD_LOCK] = "SELECT pos, ts_ns FROM %1$s.evs_head FOR UPDATE",
    [PQS_HEAD_SET] = "UPDATE %1$s.evs_head SET pos = $1::bigint, ts_ns = $2::bigint"
                     " RETURNING pg_notify($3::text, $1::bigint::text)",
    [PQS_STREAM_FIND] = "SELECT s.id, coalesce(l.version, -1), coalesce(l.pos, 0)"
                        " FROM %1$s.evs_streams s LEFT JOIN LATERAL (SELECT version, pos"
                        " FROM %1$s.evs_events WHERE stream_id = s.id ORDER BY version DESC"
                        " LIMIT 1) l ON true WHERE s.name = $1",
    [PQS_STREAM_ADD] = "INSERT INTO %1$s.evs_streams(name) VALUES ($1) RETURNING id",
    /* The stream by name: its row may be inserted earlier in the same pipeline. */
    [PQS_INSERT] = "INSERT INTO %1$s.evs_events(pos, stream_id, version, ts_ns, type, data,"
                   " metadata, id) SELECT $1::bigint, s.id, $3::bigint, $4::bigint, $5::text,"
                   " $6::text, $7::text, $8::bytea FROM %1$s.evs_streams s WHERE s.name ="
                   " $2::text",
    [PQS_ID_FIND] = "SELECT version, pos FROM %1$s.evs_events WHERE stream_id = $1 AND id = $2"
                    " ORDER BY version DESC LIMIT 1",
    [PQS_AT_VERSION] = "SELECT id, pos FROM %1$s.evs_events WHERE stream_id = $1 AND version = $2",
    [PQS_SCAN_FWD] = COLS " WHERE e.pos > $1 ORDER BY e.pos LIMIT $2",
    [PQS_SCAN_BWD] = COLS " WHERE e.pos < $1 ORDER BY e.pos DESC LIMIT $2",
    [PQS_STREAM_FWD] = COLS " WHERE e.stream_id = $3 AND e.version > $1 ORDER BY e.version"
                            " LIMIT $2",
    [PQS_STREAM_BWD] = COLS " WHERE e.stream_id = $3 AND e.version < $1 ORDER BY e.version DESC"
                            " LIMIT $2",
    [PQS_TS_AT] = "SELECT ts_ns FROM %1$s.evs_events WHERE pos = $1",
};
#undef COLS

/* The SQL text with the schema in place of %1$s; NULL when out of memory. */
static char *with_schema(const char *fmt, const char *qschema)
{
    size_t cap = strlen(fmt) + 16 * strlen(qschema) + 1;
    char *out = evs__alloc(cap);
    if (out) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(out, cap, fmt, qschema);
#pragma GCC diagnostic pop
    }
    return out;
}

int evs__pq_statements(pg_backend *pb)
{
    /* A quoted identifier: "name" with every " doubled (what PQescapeIdentifier makes,
     * without needing a connection). */
    size_t len = strlen(pb->schema);
    pb->qschema = evs__alloc(2 * len + 3);
    if (!pb->qschema)
        return evs__seterr(EVS_ENOMEM, "out of memory opening %s", pb->display);
    char *q = pb->qschema;
    *q++ = '"';
    for (size_t i = 0; i < len; i++) {
        if (pb->schema[i] == '"')
            *q++ = '"';
        *q++ = pb->schema[i];
    }
    *q++ = '"';
    *q = '\0';
    for (int i = 0; i < PQS_COUNT; i++)
        if (!(pb->sql[i] = with_schema(stmt_sql[i], pb->qschema)))
            return evs__seterr(EVS_ENOMEM, "out of memory opening %s", pb->display);
    return 0;
}

void evs__pq_free_statements(pg_backend *pb)
{
    for (int i = 0; i < PQS_COUNT; i++) {
        evs__free(pb->sql[i]);
        pb->sql[i] = NULL;
    }
    evs__free(pb->qschema);
    pb->qschema = NULL;
}

/* One row, one column of a query with the schema filled in, as text; *has_row. */
static int query_text(pg_backend *pb, const char *fmt, char *out, size_t cap, bool *has_row)
{
    char *sql = with_schema(fmt, pb->qschema);
    if (!sql)
        return evs__seterr(EVS_ENOMEM, "out of memory reading the schema");
    PGresult *r = PQexec(pb->conn, sql);
    evs__free(sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return evs__pq_fail(pb, r, "reading the schema");
    *has_row = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0);
    snprintf(out, cap, "%s", *has_row ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return 0;
}

/* Do the store's tables evs_meta and evs_events exist? Both in one statement, so in one
 * snapshot: read one by one, a creation committed between the two reads shows
 * evs_events without evs_meta. From the catalog tables with the statement's own
 * snapshot: a schema another session made while this one waited for the creation lock
 * is seen (to_regclass may answer from an older catalog view). */
static int has_tables(pg_backend *pb, bool *meta, bool *events)
{
    const char *values[1] = {pb->schema};
    PGresult *r = PQexecParams(pb->conn,
                               "SELECT coalesce(bool_or(c.relname = 'evs_meta'), false),"
                               " coalesce(bool_or(c.relname = 'evs_events'), false)"
                               " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
                               " ON n.oid = c.relnamespace WHERE n.nspname = $1"
                               " AND c.relname IN ('evs_meta', 'evs_events')",
                               1, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return evs__pq_fail(pb, r, "reading the schema");
    *meta = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    *events = PQntuples(r) == 1 && PQgetvalue(r, 0, 1)[0] == 't';
    PQclear(r);
    return 0;
}

/* Schema 1 is the first: there is nothing older to upgrade from yet. A later schema
 * adds its step here (from version v to v + 1, in the transaction of the check), so
 * that a store made by an older evstore is upgraded, never misread. */
static int check_version(pg_backend *pb)
{
    char text[64] = "";
    bool row = false;
    int rc = query_text(pb, "SELECT value FROM %1$s.evs_meta WHERE key = 'schema_version'", text,
                        sizeof text, &row);
    if (rc < 0)
        return rc;
    char *end = text;
    long long version = row ? strtoll(text, &end, 10) : 0;
    if (!row || !*text || *end)
        return evs__seterr(EVS_EFORMAT,
                           "%s: table evs_meta has no schema_version: not an evstore schema, "
                           "or a damaged one",
                           pb->display);
    if (version == EVS_PG_SCHEMA_VERSION)
        return 0;
    if (version > EVS_PG_SCHEMA_VERSION)
        return evs__seterr(EVS_EFORMAT,
                           "%s: the store's schema is version %lld, made by a newer evstore; "
                           "this one reads version %d (upgrade evstore)",
                           pb->display, version, EVS_PG_SCHEMA_VERSION);
    return evs__seterr(EVS_EFORMAT,
                       "%s: schema version %lld is not one any evstore wrote (the first is 1): "
                       "damaged evs_meta",
                       pb->display, version);
}

static int create_schema(pg_backend *pb)
{
    char *sql = with_schema(schema_sql, pb->qschema);
    if (!sql)
        return evs__seterr(EVS_ENOMEM, "out of memory creating the schema");
    int rc = evs__pq_exec(pb, sql);
    evs__free(sql);
    if (rc < 0)
        return rc;
    char meta[300];
    snprintf(meta, sizeof meta,
             "INSERT INTO %s.evs_meta VALUES ('schema_version', '%d'), ('created_ns', '%" PRId64
             "')",
             pb->qschema, EVS_PG_SCHEMA_VERSION, evs__now_ns());
    return evs__pq_exec(pb, meta);
}

/* What is there: the version checked, or why the schema is not a store. *missing when
 * it has none of the store's tables. */
static int look(pg_backend *pb, bool *missing)
{
    bool meta = false, events = false;
    *missing = false;
    int rc = has_tables(pb, &meta, &events);
    if (rc < 0)
        return rc;
    if (meta)
        return check_version(pb);
    if (events)
        return evs__seterr(EVS_EFORMAT,
                           "%s: has a table evs_events but no evs_meta: not an evstore schema; "
                           "refusing to use it",
                           pb->display);
    *missing = true;
    return 0;
}

int evs__pq_schema_ensure(pg_backend *pb, bool create, bool *created)
{
    if (created)
        *created = false;
    bool missing;
    int rc = look(pb, &missing);
    if (rc < 0 || !missing)
        return rc;
    if (!create)
        return evs__seterr(EVS_ENOTFOUND,
                           "%s: the database holds no store in schema '%s'; create one with "
                           "'evstore init'",
                           pb->display, pb->schema);
    /* Only a creation takes the lock (to the end of the transaction: of the application's
     * too, for the outbox), and looks again under it. */
    char sql[100];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%" PRId64 ")",
             (int64_t)evs__hash64(pb->schema, strlen(pb->schema)));
    if ((rc = evs__pq_exec(pb, sql)) < 0 || (rc = look(pb, &missing)) < 0 || !missing)
        return rc;
    rc = create_schema(pb);
    if (rc == 0 && created)
        *created = true;
    return rc;
}
