/*
 * suite_open.c - W6: start-up time. How long an engine takes from nothing to the
 * answer of a first query (the store's last position) on a large store, against the
 * same on a store of 10 events (docs/DESIGN.md, invariant 5: open time must not grow with the
 * store). evstore: evs_open + evs_head; SQLite: sqlite3_open_v2 + the pragmas + SELECT
 * max(pos); LMDB: mdb_env_open + the named databases + the last key of the log.
 * A peer that keeps a table of its streams' versions (SQLite, LMDB: versions()) loads
 * it as part of opening, as an appending service does when it starts, and evstore's
 * open has its own stream table ready: that is the main figure. The peers' open
 * without the table (a reader, or a stateless service) is measured beside it.
 *
 * Each repetition opens the two stores alternately OPENS times and keeps the median of
 * each, so a burst of noise from the machine's other tenants hits both alike. Closing
 * is not timed (SQLite checkpoints its WAL there, evstore syncs an unsynced log). The
 * files are in the page cache: this is a process restart, not a machine's cold boot
 * (dropping the caches of a shared machine is not ours to do).
 */
#include "suite_run.h"

#include <stdio.h>

#define OPENS 15

/* One open (with the table of versions loaded, when `versions`) + first query, in µs;
 * -1 on failure or a wrong answer. */
static double open_once(const engine *e, const char *dir, uint64_t events, int versions)
{
    void *db;
    int64_t head = -1;
    double t0 = suite_now();
    if (e->d->reopen(&db, dir) != SUITE_OK)
        return -1;
    int rc = versions ? e->d->versions(db, 1) : SUITE_OK;
    if (rc == SUITE_OK)
        rc = e->d->head(db, &head);
    double t = suite_now() - t0;
    e->d->close(db);
    if (rc != SUITE_OK || head != (int64_t)events) {
        fprintf(stderr, "suite: %s: W6 open of %s: head %lld, expected %llu\n", e->d->name, dir,
                (long long)head, (unsigned long long)events);
        return -1;
    }
    return t * 1e6;
}

/* The main figure (and aux[0], the 10-event store's) with the table of versions loaded;
 * aux[1] and aux[2] the same without it, for the peers that keep one (-1: none). */
double suite_w6_open(engine *e, int rep, uint64_t events)
{
    double tiny[OPENS], large[OPENS], tiny_bare[OPENS], large_bare[OPENS];
    int vers = e->d->versions != NULL;
    for (int i = 0; i < OPENS; i++) {
        tiny[i] = open_once(e, e->tiny_dir, 10, vers);
        large[i] = open_once(e, e->large_dir, events, vers);
        tiny_bare[i] = vers ? open_once(e, e->tiny_dir, 10, 0) : 0;
        large_bare[i] = vers ? open_once(e, e->large_dir, events, 0) : 0;
        if (tiny[i] < 0 || large[i] < 0 || tiny_bare[i] < 0 || large_bare[i] < 0)
            return -1;
    }
    e->aux[0][rep] = suite_median(tiny, OPENS);
    e->aux[1][rep] = vers ? suite_median(large_bare, OPENS) : -1;
    e->aux[2][rep] = vers ? suite_median(tiny_bare, OPENS) : -1;
    return suite_median(large, OPENS);
}

/* Open + read one stream + close, in µs; -1 on failure or a wrong answer. */
static double read_one_once(const engine *e, const char *dir, const char *stream, int64_t want)
{
    void *db;
    int64_t version = -2;
    double t0 = suite_now();
    if (e->d->reopen(&db, dir) != SUITE_OK)
        return -1;
    int rc = e->d->read_one(db, stream, &version);
    double t = suite_now() - t0;
    e->d->close(db);
    if (rc != SUITE_OK || version != want) {
        fprintf(stderr, "suite: %s: W6 read-one of %s in %s: version %lld, expected %lld\n",
                e->d->name, stream, dir, (long long)version, (long long)want);
        return -1;
    }
    return t * 1e6;
}

/* The main figure for the large store, aux[0] for the 10-event store (its stream
 * tiny_stream, at version tiny_want), alternately as W6 does. */
double suite_w6_read_one(engine *e, int rep, const char *stream, int64_t want,
                         const char *tiny_stream, int64_t tiny_want)
{
    double tiny[OPENS], large[OPENS];
    for (int i = 0; i < OPENS; i++) {
        tiny[i] = read_one_once(e, e->tiny_dir, tiny_stream, tiny_want);
        large[i] = read_one_once(e, e->large_dir, stream, want);
        if (tiny[i] < 0 || large[i] < 0)
            return -1;
    }
    e->aux[0][rep] = suite_median(tiny, OPENS);
    return suite_median(large, OPENS);
}
