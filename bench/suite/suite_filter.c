/*
 * suite_filter.c - W9: a subscriber whose filter selects 1% of the events catches up
 * over a large store. The figure is the store's events per second of catch-up (events
 * in the store / time until the last match is delivered): for an engine that reads
 * every event to find the matches (evstore, LMDB, a SQL engine kept off its indexes)
 * that is its scanning rate; for a SQL engine on an index it is the same yardstick,
 * though the index spares it the reading.
 *
 * Each repetition opens the store afresh (a catch-up starts from a process that has
 * just started) and checks that exactly the matching events came back, with the byte
 * sum of their payloads.
 */
#include "suite_run.h"

#include <stdio.h>

double suite_w9_filtered(engine *e, const suite_filter *f, uint64_t events, const suite_sum *want)
{
    void *db, *conn;
    if (e->d->reopen(&db, e->large_dir) != SUITE_OK)
        return -1;
    if (e->d->conn_open(&conn, db) != SUITE_OK) {
        e->d->close(db);
        return -1;
    }
    suite_sum got = {0, 0, 0};
    double t0 = suite_now();
    int rc = e->d->filtered(conn, f, &got);
    double t = suite_now() - t0;
    e->d->conn_close(conn);
    e->d->close(db);
    if (rc != SUITE_OK)
        return -1;
    if (got.events != want->events || got.checksum != want->checksum) {
        fprintf(stderr,
                "suite: %s: W9 %s %s returned %llu events (checksum %llu), expected %llu (%llu)\n",
                e->d->name, f->by_category ? "category" : "type", f->value,
                (unsigned long long)got.events, (unsigned long long)got.checksum,
                (unsigned long long)want->events, (unsigned long long)want->checksum);
        return -1;
    }
    return (double)events / t;
}
