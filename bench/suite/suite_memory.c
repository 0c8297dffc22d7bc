/*
 * suite_memory.c - W7: how much anonymous memory an engine holds at the end of a full
 * replay of a large store (docs/DESIGN.md, invariant 7: memory stays flat while reading).
 *
 * Each engine replays in a fresh child process of its own (suite_child.c), which reads
 * its RssAnon from /proc/self/status before opening the store and again at the end of
 * the replay, before closing. RssAnon is what the process's heap and stacks keep
 * resident; a store mapped from its files (evstore's segments, LMDB's data file) is
 * page cache the kernel can drop, counted in RssFile, not here. For PostgreSQL the
 * server backend that ran the query is reported beside the client.
 */
#include "suite_run.h"

#include <stdio.h>
#include <string.h>

#define KIB_PER_MIB 1024.0

double suite_w7_memory(engine *e, int rep, const suite_sum *want)
{
    const char *const args[] = {"replay", e->d->name, e->large_dir, NULL};
    suite_child c;
    char line[256];
    if (suite_child_start(&c, args) != 0) {
        perror("suite: W7 child");
        return -1;
    }
    int got = suite_child_line(&c, line, sizeof line);
    int ok = suite_child_finish(&c) == 0 && got == 0;
    unsigned long long events, checksum;
    long base, end, server;
    double seconds;
    if (!ok || sscanf(line, "%llu %llu %ld %ld %ld %lf", &events, &checksum, &base, &end, &server,
                      &seconds) != 6) {
        fprintf(stderr, "suite: %s: W7 child failed\n", e->d->name);
        return -1;
    }
    if (events != want->events || checksum != want->checksum) {
        fprintf(stderr,
                "suite: %s: W7 replay read %llu events (checksum %llu), expected %llu (%llu)\n",
                e->d->name, events, checksum, (unsigned long long)want->events,
                (unsigned long long)want->checksum);
        return -1;
    }
    e->aux[0][rep] = base / KIB_PER_MIB;
    e->aux[1][rep] = server >= 0 ? server / KIB_PER_MIB : -1;
    e->aux[2][rep] = (double)events / seconds;
    return end / KIB_PER_MIB;
}

/* The child: replay ENGINE DIR. Prints "events checksum base_kib end_kib server_kib
 * seconds" (server_kib -1 when there is no server). */
int suite_memory_child(int argc, char **argv)
{
    const suite_driver *d = argc == 2 ? suite_driver_named(argv[0]) : NULL;
    if (!d || !d->reopen)
        return 2;
    long base = suite_rss_anon_kib(0);
    void *db, *conn;
    if (d->reopen(&db, argv[1]) != SUITE_OK)
        return 1;
    if (d->conn_open(&conn, db) != SUITE_OK) {
        d->close(db);
        return 1;
    }
    suite_sum sum = {0, 0, 0};
    double t0 = suite_now();
    int rc = d->replay(conn, &sum);
    double t = suite_now() - t0;
    long end = suite_rss_anon_kib(0);
    long server = d->server_pid ? suite_rss_anon_kib(d->server_pid(conn)) : -1;
    d->conn_close(conn);
    d->close(db);
    if (rc != SUITE_OK)
        return 1;
    printf("%llu %llu %ld %ld %ld %.6f\n", (unsigned long long)sum.events,
           (unsigned long long)sum.checksum, base, end, server, t);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* W7 "read one": a fresh process opens the large store, reads one stream whole and
 * reports its RssAnon before opening and at the end, before closing: what a process
 * that serves one aggregate costs, whatever the number of streams in the store. */
double suite_w7_read_one(engine *e, int rep, const char *stream, int64_t want)
{
    const char *const args[] = {"one", e->d->name, e->large_dir, stream, NULL};
    suite_child c;
    char line[256];
    if (suite_child_start(&c, args) != 0) {
        perror("suite: W7 read-one child");
        return -1;
    }
    int got = suite_child_line(&c, line, sizeof line);
    int ok = suite_child_finish(&c) == 0 && got == 0;
    long long version;
    long base, end;
    if (!ok || sscanf(line, "%lld %ld %ld", &version, &base, &end) != 3 || version != want) {
        fprintf(stderr, "suite: %s: W7 read-one child failed\n", e->d->name);
        return -1;
    }
    e->aux[0][rep] = base / KIB_PER_MIB;
    return end / KIB_PER_MIB;
}

/* The child: ENGINE DIR STREAM. Prints "last_version base_kib end_kib". */
int suite_read_one_child(int argc, char **argv)
{
    const suite_driver *d = argc == 3 ? suite_driver_named(argv[0]) : NULL;
    if (!d || !d->reopen || !d->read_one)
        return 2;
    long base = suite_rss_anon_kib(0);
    void *db;
    if (d->reopen(&db, argv[1]) != SUITE_OK)
        return 1;
    int64_t version = -2;
    int rc = d->read_one(db, argv[2], &version);
    long end = suite_rss_anon_kib(0);
    d->close(db);
    if (rc != SUITE_OK)
        return 1;
    printf("%lld %ld %ld\n", (long long)version, base, end);
    return fflush(stdout) == 0 ? 0 : 1;
}
