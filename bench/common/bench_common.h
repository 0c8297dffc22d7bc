/*
 * bench_common.h - what the benchmark drivers share: clocks, a deterministic random
 * source, medians, a payload reader and removing a store. Header-only (each driver is
 * one program).
 */
#ifndef EVS_BENCH_COMMON_H
#define EVS_BENCH_COMMON_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static inline double bc_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process (user and system): on a shared machine a run can lose the
 * processor to other work, and the rate per CPU-second shows what the code costs. */
static inline double bc_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int bc_rm_one(const char *p, const struct stat *st, int f, struct FTW *w)
{
    (void)st;
    (void)f;
    (void)w;
    return remove(p);
}

/* Remove the directory tree at dir (a benchmark's store). */
static inline void bc_rmtree(const char *dir)
{
    nftw(dir, bc_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline int bc_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Reads every byte of a payload, eight at a time: a replay is timed for how fast the
 * store hands the bytes over, not for a byte-by-byte sum of them. */
static inline uint64_t bc_touch(const char *p, size_t n)
{
    uint64_t sum = 0, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        sum += w;
    }
    for (; i < n; i++)
        sum += (unsigned char)p[i];
    return sum;
}

/* xorshift: deterministic choices, from the state *s. */
static inline uint64_t bc_rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#endif /* EVS_BENCH_COMMON_H */
