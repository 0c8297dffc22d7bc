/*
 * outbox_bank.c - the transactional outbox: a bank transfer that changes the
 * application's own table and records its event in one SQLite transaction
 * (evs_sqlite_append_tx), so that no crash can leave a balance changed without its
 * event, or an event without its change.
 *
 *   outbox_bank DB.db   open two accounts, make three transfers (one refused for lack
 *                       of funds: rolled back, no event), then read the events back
 *                       through the store and check that they explain the balances.
 */
#include "evstore.h"
#include "evstore_sql.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int sql(sqlite3 *db, const char *text)
{
    char *err = NULL;
    if (sqlite3_exec(db, text, NULL, NULL, &err) == SQLITE_OK)
        return 0;
    fprintf(stderr, "bank: %s: %s\n", text, err ? err : sqlite3_errmsg(db));
    sqlite3_free(err);
    return -1;
}

static long long balance(sqlite3 *db, const char *id)
{
    sqlite3_stmt *st;
    long long cents = -1;
    if (sqlite3_prepare_v2(db, "SELECT cents FROM accounts WHERE id = ?1", -1, &st, NULL) == 0) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            cents = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return cents;
}

static int update(sqlite3 *db, const char *id, long long delta)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "UPDATE accounts SET cents = cents + ?2 WHERE id = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, delta);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* One transfer, all or nothing: the two balances and the event. */
static int transfer(sqlite3 *db, const char *from, const char *to, long long cents)
{
    if (sql(db, "BEGIN IMMEDIATE") < 0)
        return -1;
    if (balance(db, from) < cents) {
        printf("transfer %lld from %s to %s: refused, %s has %lld\n", cents, from, to, from,
               balance(db, from));
        return sql(db, "ROLLBACK");
    }
    char data[256], stream[64];
    snprintf(data, sizeof data, "{\"from\":\"%s\",\"to\":\"%s\",\"cents\":%lld}", from, to, cents);
    snprintf(stream, sizeof stream, "account-%s", from);
    evs_event_in ev = {"Transferred", data, strlen(data), NULL, 0, NULL, 0};
    evs_append_result r;
    if (update(db, from, -cents) < 0 || update(db, to, cents) < 0 ||
        evs_sqlite_append_tx(&r, db, stream, EVS_EXPECT_ANY, &ev, 1) < 0) {
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
static int check(const char *path, sqlite3 *db)
{
    char loc[4200];
    snprintf(loc, sizeof loc, "sqlite:%s", path);
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
    printf("%d events; replayed: alice %lld, bob %lld; table: alice %lld, bob %lld\n", n, alice,
           bob, balance(db, "alice"), balance(db, "bob"));
    return rc == 0 && alice == balance(db, "alice") && bob == balance(db, "bob") ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: outbox_bank DB.db\n");
        return 2;
    }
    sqlite3 *db;
    if (sqlite3_open(argv[1], &db) != SQLITE_OK) {
        fprintf(stderr, "bank: cannot open %s\n", argv[1]);
        return 1;
    }
    sqlite3_busy_timeout(db, 5000);
    int rc = sql(db, "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS accounts(id TEXT"
                     " PRIMARY KEY, cents INTEGER NOT NULL); INSERT OR IGNORE INTO accounts"
                     " VALUES('alice', 1000), ('bob', 0)");
    if (rc == 0)
        rc = transfer(db, "alice", "bob", 300);
    if (rc == 0)
        rc = transfer(db, "bob", "alice", 500); /* bob has 300: refused */
    if (rc == 0)
        rc = transfer(db, "bob", "alice", 100);
    if (rc == 0)
        rc = check(argv[1], db);
    sqlite3_close(db);
    return rc == 0 ? 0 : 1;
}
