/*
 * evstore_sql.h - evstore's second public header: appending events inside a transaction
 * the application has open on its own database connection (the transactional outbox).
 *
 * The events are part of the application's transaction: they become visible if and only
 * if it commits, together with the application's own changes, so a crash can never
 * leave a change without its event or an event without its change. A rollback leaves
 * no event and no hole in the positions. Expected-version and id conflicts are reported
 * by the call itself, before the application commits.
 *
 * The database must be the store's: for SQLite the same file a store location
 * "sqlite:PATH" names, for PostgreSQL the database of a location
 * "postgresql://...?schema=NAME", with the schema named in the call (the store's tables,
 * all named evs_*, sit beside the application's; docs/SQL.md). Include sqlite3.h or
 * libpq-fe.h before or after this header; this one names the connection types only as
 * `struct sqlite3` and `struct pg_conn` (libpq's PGconn), so that neither evstore.h nor
 * this header needs a database library to compile.
 */
#ifndef EVSTORE_SQL_H
#define EVSTORE_SQL_H

#include "evstore.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sqlite3;
struct pg_conn;

/** Append `count` events to `stream` inside the transaction open on `db`, with the
 *  checks and results of evs_append (expected version, idempotent ids, JSON, sizes).
 *  The store's tables are created in the transaction when the database has none.
 *
 *  Open the transaction with BEGIN IMMEDIATE: it takes SQLite's write lock at once, and
 *  the positions are then handed out in commit order. After a plain BEGIN that read
 *  first, another connection's commit in between makes the append fail with EVS_EBUSY
 *  (SQLite cannot upgrade the stale read); roll back and retry.
 *
 *  On failure nothing of the append is in the transaction (it rolls back to a savepoint
 *  of its own), and the transaction stays open: the application decides whether to roll
 *  back or to go on without the events. Subscribers in other handles see the events
 *  within a few milliseconds of the commit.
 *
 *  @param out  receives the result (positions as they will be once committed); may be
 *              NULL.
 *  @return 0; EVS_EMISUSE (db is NULL, or no transaction is open on it); EVS_ECONFLICT;
 *          EVS_EIDCONFLICT; EVS_EINVAL; EVS_EFORMAT (the database holds a schema this
 *          evstore does not know); EVS_EBUSY; EVS_EIO; EVS_ENOSPC; EVS_ENOMEM.
 *  One thread at a time per connection, as SQLite requires. */
EVS_API int evs_sqlite_append_tx(evs_append_result *out, struct sqlite3 *db, const char *stream,
                                 int64_t expected_version, const evs_event_in *events,
                                 size_t count);

/** evs_sqlite_append_tx for several batches (as evs_append_multi_positions): all of
 *  them or none go into the transaction. `positions` may be NULL. */
EVS_API int evs_sqlite_append_multi_tx(evs_append_result *out, int64_t *positions,
                                       struct sqlite3 *db, const evs_batch_in *batches,
                                       size_t batch_count);

/** Append `count` events to `stream` of the store in schema `schema` (NULL: "evstore",
 *  the default of a location without one) inside the transaction open on the libpq
 *  connection `conn`, with the checks and results of evs_append. The store's tables are
 *  created in the transaction when the schema has none.
 *
 *  The append locks the store's head row (docs/SQL.md) until the application's
 *  transaction ends: every other append to the store, in any process, waits for that
 *  commit or rollback, which is what keeps positions in commit order. Commit soon after
 *  the append. Use READ COMMITTED, PostgreSQL's default (under REPEATABLE READ or
 *  SERIALIZABLE a concurrent append makes the call fail with EVS_EBUSY; roll back and
 *  retry).
 *
 *  On failure nothing of the append is in the transaction (it rolls back to a savepoint
 *  of its own) and the transaction stays usable: the application decides whether to
 *  roll back or to go on without the events. Subscribers are notified when, and only
 *  if, the transaction commits.
 *
 *  @param out  receives the result (positions as they will be once committed); may be
 *              NULL.
 *  @return 0; EVS_EMISUSE (conn is NULL, no transaction is open on it, or it has
 *          failed); EVS_EINVAL (also a bad schema name); EVS_ECONFLICT; EVS_EIDCONFLICT;
 *          EVS_EFORMAT (the schema holds a store this evstore does not know); EVS_EBUSY;
 *          EVS_EIO; EVS_ENOSPC; EVS_ENOMEM.
 *  One thread at a time per connection, as libpq requires. */
EVS_API int evs_pg_append_tx(evs_append_result *out, struct pg_conn *conn, const char *schema,
                             const char *stream, int64_t expected_version,
                             const evs_event_in *events, size_t count);

/** evs_pg_append_tx for several batches (as evs_append_multi_positions): all of them or
 *  none go into the transaction. `positions` may be NULL. */
EVS_API int evs_pg_append_multi_tx(evs_append_result *out, int64_t *positions,
                                   struct pg_conn *conn, const char *schema,
                                   const evs_batch_in *batches, size_t batch_count);

#ifdef __cplusplus
}
#endif

#endif /* EVSTORE_SQL_H */
