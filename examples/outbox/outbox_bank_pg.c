/*
 * outbox_bank_pg.c - the transactional outbox on PostgreSQL: a bank transfer that
 * changes the application's own table and records its event in one PostgreSQL
 * transaction (evs_pg_append_tx), so that no crash can leave a balance changed without
 * its event, or an event without its change.
 *
 *   outbox_bank_pg URI SCHEMA   URI a libpq connection URI (postgresql://user@host:port/db),
 *                               SCHEMA the store's schema; the accounts table goes in
 *                               the same schema. Open two accounts, make three
 *                               transfers (one refused for lack of funds: rolled back,
 *                               no event), then read the events back through the store
 *                               (URI?schema=SCHEMA) and check that they explain the
 *                               balances.
 */
#include "evstore.h"
#include "evstore_sql.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *schema;

static int sql(PGconn *db, const char *text)
{
    PGresult *r = PQexec(db, text);
    ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 0;
    fprintf(stderr, "bank: %s: %s", text, PQerrorMessage(db));
    return -1;
}

/* The balance, locked for this transaction (FOR UPDATE), or -1. */
static long long balance(PGconn *db, const char *id)
{
    char text[200];
    snprintf(text, sizeof text, "SELECT cents FROM \"%s\".accounts WHERE id = $1 FOR UPDATE",
             schema);
    const char *values[1] = {id};
    PGresult *r = PQexecParams(db, text, 1, NULL, values, NULL, NULL, 0);
    long long cents = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        cents = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return cents;
}

static int update(PGconn *db, const char *id, long long delta)
{
    char text[200], d[32];
    snprintf(text, sizeof text, "UPDATE \"%s\".accounts SET cents = cents + $2 WHERE id = $1",
             schema);
    snprintf(d, sizeof d, "%lld", delta);
    const char *values[2] = {id, d};
    PGresult *r = PQexecParams(db, text, 2, NULL, values, NULL, NULL, 0);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(r);
    return rc;
}

/* One transfer, all or nothing: the two balances and the event. */
static int transfer(PGconn *db, const char *from, const char *to, long long cents)
{
    if (sql(db, "BEGIN") < 0)
        return -1;
    long long have = balance(db, from);
    if (have < cents) {
        printf("transfer %lld from %s to %s: refused, %s has %lld\n", cents, from, to, from,
               have);
        return sql(db, "ROLLBACK");
    }
    char data[256], stream[64];
    snprintf(data, sizeof data, "{\"from\":\"%s\",\"to\":\"%s\",\"cents\":%lld}", from, to, cents);
    snprintf(stream, sizeof stream, "account-%s", from);
    evs_event_in ev = {"Transferred", data, strlen(data), NULL, 0, NULL, 0};
    evs_append_result r;
    if (update(db, from, -cents) < 0 || update(db, to, cents) < 0 ||
        evs_pg_append_tx(&r, db, schema, stream, EVS_EXPECT_ANY, &ev, 1) < 0) {
        fprintf(stderr, "bank: transfer failed: %s\n", evs_errmsg());
        sql(db, "ROLLBACK");
        return -1;
    }
    if (sql(db, "COMMIT") < 0)
        return -1;
    printf("transfer %lld from %s to %s: event at position %lld\n", cents, from, to,
           (long long)r.first_pos);
    return 0;
}

/* Replay the events from the store and compare with the table. */
static int check(const char *uri, PGconn *db)
{
    char loc[1200];
    snprintf(loc, sizeof loc, "%s?schema=%s", uri, schema);
    evs_store *store;
    if (evs_open(&store, loc, NULL) < 0) {
        fprintf(stderr, "bank: %s\n", evs_errmsg());
        return -1;
    }
    evs_query q = EVS_QUERY_INIT;
    q.category = "account";
    evs_cursor *c;
    long long alice = 1000, bob = 0;
    int n = 0, rc = evs_cursor_open(&c, store, &q);
    evs_event e;
    while (rc == 0 && (rc = evs_cursor_next(&e, c)) > 0) {
        char data[256]; /* an event's data is not NUL-terminated */
        snprintf(data, sizeof data, "%.*s", (int)e.data_len, e.data);
        long long cents = 0;
        const char *p = strstr(data, "\"cents\":");
        if (p)
            sscanf(p + 8, "%lld", &cents);
        bool from_alice = e.stream_len == 13 && memcmp(e.stream, "account-alice", 13) == 0;
        alice += from_alice ? -cents : cents;
        bob += from_alice ? cents : -cents;
        n++;
        rc = 0;
    }
    evs_cursor_close(c);
    evs_close(store);
    sql(db, "BEGIN");
    long long table_alice = balance(db, "alice"), table_bob = balance(db, "bob");
    sql(db, "COMMIT");
    printf("%d events; replayed: alice %lld, bob %lld; table: alice %lld, bob %lld\n", n, alice,
           bob, table_alice, table_bob);
    return rc == 0 && alice == table_alice && bob == table_bob ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: outbox_bank_pg URI SCHEMA\n");
        return 2;
    }
    schema = argv[2];
    PGconn *db = PQconnectdb(argv[1]);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "bank: cannot connect: %s", PQerrorMessage(db));
        PQfinish(db);
        return 1;
    }
    char setup[400];
    snprintf(setup, sizeof setup,
             "SET client_min_messages = warning; CREATE SCHEMA IF NOT EXISTS \"%1$s\";"
             " CREATE TABLE IF NOT EXISTS \"%1$s\".accounts(id text PRIMARY KEY,"
             " cents bigint NOT NULL); INSERT INTO \"%1$s\".accounts VALUES ('alice', 1000),"
             " ('bob', 0) ON CONFLICT DO NOTHING",
             schema);
    int rc = sql(db, setup);
    if (rc == 0)
        rc = transfer(db, "alice", "bob", 300);
    if (rc == 0)
        rc = transfer(db, "bob", "alice", 500); /* bob has 300: refused */
    if (rc == 0)
        rc = transfer(db, "bob", "alice", 100);
    if (rc == 0)
        rc = check(argv[1], db);
    PQfinish(db);
    return rc == 0 ? 0 : 1;
}
