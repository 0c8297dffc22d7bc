/*
 * sqlite_outbox.c - evs_sqlite_append_tx: an append inside the application's own
 * transaction. The core checks the events (evs__append_through) and the backend writes
 * them as for any append, on a backend made around the borrowed connection, without
 * BEGIN or COMMIT of its own: the application's transaction decides.
 */
#include "evstore_sql.h"
#include "sqlite_internal.h"

static int append_tx(evs_append_result *out, int64_t *positions, sqlite3 *db,
                     const evs_batch_in *batches, size_t batch_count, const char *fn)
{
    if (!db)
        return evs__seterr(EVS_EMISUSE, "%s: db is NULL", fn);
    if (sqlite3_get_autocommit(db))
        return evs__seterr(EVS_EMISUSE,
                           "%s: no transaction is open on the connection (BEGIN IMMEDIATE "
                           "first: the events are to commit with it)",
                           fn);
    sqlite_backend *sb;
    int rc = evs__sq_open_borrowed(&sb, db);
    if (rc < 0)
        return rc;
    rc = evs__append_through(sb->base.methods, &sb->base, NULL, NULL, out, positions, batches, batch_count);
    evs__sq_close_borrowed(sb);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

int evs_sqlite_append_multi_tx(evs_append_result *out, int64_t *positions, struct sqlite3 *db,
                               const evs_batch_in *batches, size_t batch_count)
{
    return append_tx(out, positions, db, batches, batch_count, "evs_sqlite_append_multi_tx");
}

int evs_sqlite_append_tx(evs_append_result *out, struct sqlite3 *db, const char *stream,
                         int64_t expected_version, const evs_event_in *events, size_t count)
{
    evs_batch_in b = {stream, expected_version, events, count};
    return append_tx(out, NULL, db, &b, 1, "evs_sqlite_append_tx");
}
