/*
 * pg_outbox.c - evs_pg_append_tx: an append inside the application's own transaction.
 * The core checks the events (evs__append_through) and the backend writes them as for
 * any append, on a backend made around the borrowed connection, without BEGIN or
 * COMMIT of its own: the application's transaction decides. The head row it locks stays
 * locked until the application commits or rolls back, which is what keeps positions in
 * commit order across the application's transactions and everyone else's appends.
 */
#include "evstore_sql.h"
#include "pg_internal.h"

static int append_tx(evs_append_result *out, int64_t *positions, PGconn *conn,
                     const char *schema, const evs_batch_in *batches, size_t batch_count,
                     const char *fn)
{
    if (!conn)
        return evs__seterr(EVS_EMISUSE, "%s: conn is NULL", fn);
    PGTransactionStatusType ts = PQtransactionStatus(conn);
    if (ts != PQTRANS_INTRANS)
        return evs__seterr(EVS_EMISUSE, "%s: %s", fn,
                           ts == PQTRANS_INERROR
                               ? "the connection's transaction has failed (roll it back)"
                           : ts == PQTRANS_IDLE ? "no transaction is open on the connection "
                                                  "(BEGIN first: the events are to commit with it)"
                                                : "the connection is busy or broken");
    pg_backend *pb;
    int rc = evs__pq_open_borrowed(&pb, conn, schema ? schema : "evstore");
    if (rc < 0)
        return evs__prefixerr("%s", fn);
    rc = evs__append_through(pb->base.methods, &pb->base, NULL, NULL, out, positions, batches,
                             batch_count);
    evs__pq_close_borrowed(pb);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

int evs_pg_append_multi_tx(evs_append_result *out, int64_t *positions, struct pg_conn *conn,
                           const char *schema, const evs_batch_in *batches, size_t batch_count)
{
    return append_tx(out, positions, conn, schema, batches, batch_count,
                     "evs_pg_append_multi_tx");
}

int evs_pg_append_tx(evs_append_result *out, struct pg_conn *conn, const char *schema,
                     const char *stream, int64_t expected_version, const evs_event_in *events,
                     size_t count)
{
    evs_batch_in b = {stream, expected_version, events, count};
    return append_tx(out, NULL, conn, schema, &b, 1, "evs_pg_append_tx");
}
