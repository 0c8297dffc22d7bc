/*
 * suite_phys.c - W10, the physical limits of the machine the suite runs on, measured in
 * the same run as the engines so the ratios against them hold on a noisy box:
 *   W10-fdatasync-4k  append 4 KiB to a file and fdatasync it, again and again: the
 *                     ceiling of durable single-event appends from one thread. The
 *                     runner also runs this probe between W2's repetitions (as
 *                     W2-fdatasync-4k) so the W2 target compares figures taken together;
 *   W10-seqwrite      sequential 1 MiB writes into the page cache, no sync;
 *   W10-seqwrite-sync the same followed by one fdatasync: what the disk takes;
 *   W10-memcpy        copying 64 MiB in memory: the ceiling of any replay.
 */
#define _GNU_SOURCE
#include "suite.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK     (1u << 20)
#define MEMCPY_SZ (64u << 20)
#define MAX_REPS  15

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One rep of append+fdatasync for `seconds`: returns syncs/s; the p50 and p99 latencies (µs) go to
 * the pointers. */
double suite_phys_fsync_rep(const char *path, double seconds, double *p50, double *p99)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    char buf[4096];
    memset(buf, 'x', sizeof buf);
    size_t cap = 1 << 16, n = 0;
    double *lat = malloc(cap * sizeof *lat);
    double t0 = suite_now(), t = t0;
    off_t off = 0;
    while (lat && t - t0 < seconds) {
        double a = suite_now();
        if (pwrite(fd, buf, sizeof buf, off) != (ssize_t)sizeof buf || fdatasync(fd) != 0)
            break;
        off += (off_t)sizeof buf;
        t = suite_now();
        if (n == cap) {
            double *more = realloc(lat, 2 * cap * sizeof *lat);
            if (!more)
                break;
            lat = more, cap *= 2;
        }
        lat[n++] = (t - a) * 1e6;
    }
    close(fd);
    unlink(path);
    double rate = n ? (double)n / (t - t0) : -1;
    if (n) {
        qsort(lat, n, sizeof *lat, cmp_double);
        *p50 = lat[n / 2];
        *p99 = lat[n * 99 / 100];
    }
    free(lat);
    return rate;
}

/* Sequential write of `bytes` in 1 MiB chunks; with sync, one fdatasync at the end. */
static double seq_rep(const char *path, size_t bytes, int sync, const char *chunk)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    double t0 = suite_now();
    int ok = 1;
    for (size_t done = 0; done < bytes && ok; done += CHUNK)
        ok = write(fd, chunk, CHUNK) == (ssize_t)CHUNK;
    if (ok && sync)
        ok = fdatasync(fd) == 0;
    double t = suite_now() - t0;
    close(fd);
    unlink(path);
    return ok ? (double)bytes / t / 1e6 : -1;
}

static double memcpy_rep(char *dst, const char *src)
{
    double t0 = suite_now();
    for (int i = 0; i < 8; i++) {
        memcpy(dst, src, MEMCPY_SZ);
        __asm__ __volatile__("" : : "r"(dst) : "memory"); /* the copy must happen */
    }
    return 8.0 * MEMCPY_SZ / (suite_now() - t0) / 1e6;
}

int suite_phys_run(const char *dir, int reps, double seconds, size_t seq_bytes)
{
    double rate[MAX_REPS], p50[MAX_REPS], p99[MAX_REPS], seq[MAX_REPS], seqs[MAX_REPS],
        mc[MAX_REPS];
    char path[4200];
    if (reps > MAX_REPS)
        reps = MAX_REPS;
    if (mkdir(dir, 0755) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/phys.dat", dir);
    char *src = malloc(MEMCPY_SZ), *dst = malloc(MEMCPY_SZ);
    if (!src || !dst) {
        free(src);
        free(dst);
        return -1;
    }
    memset(src, 'e', MEMCPY_SZ);
    memset(dst, 0, MEMCPY_SZ);
    int rc = 0;
    for (int r = 0; r < reps && rc == 0; r++) {
        rate[r] = suite_phys_fsync_rep(path, seconds, &p50[r], &p99[r]);
        seq[r] = seq_rep(path, seq_bytes, 0, src);
        seqs[r] = seq_rep(path, seq_bytes, 1, src);
        mc[r] = memcpy_rep(dst, src);
        if (rate[r] < 0 || seq[r] < 0 || seqs[r] < 0)
            rc = -1;
    }
    free(src);
    free(dst);
    rmdir(dir);
    if (rc != 0) {
        perror("suite: machine: W10");
        return -1;
    }
    suite_record("machine", "W10-fdatasync-4k", "syncs/s", rate, reps);
    suite_record("machine", "W10-fdatasync-4k-p50", "us", p50, reps);
    suite_record("machine", "W10-fdatasync-4k-p99", "us", p99, reps);
    suite_record("machine", "W10-seqwrite", "MB/s", seq, reps);
    suite_record("machine", "W10-seqwrite-sync", "MB/s", seqs, reps);
    suite_record("machine", "W10-memcpy", "MB/s", mc, reps);
    return 0;
}
