/*
 * suite_model.c - the event model every engine of the suite is fed: 10,000 streams
 * "order-<k>", each event to a random stream (xorshift with a fixed seed, so every
 * engine and every run sees the same sequence), type ItemAdded, a JSON payload of about
 * 100 bytes or, for the 1 KiB variant, 1024 bytes. The large stores of W6, W7 and W9
 * come from a generator of the same model with 1% rare events (suite_gen). Also the
 * small helpers (clocks, tree removal) the drivers share.
 */
#define _GNU_SOURCE
#include "suite.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 4096 distinct payloads: enough that no engine can profit from repeated values, small
 * enough (4 MiB at 1 KiB) to stay out of the measurement. */
#define POOL_N 4096

uint64_t suite_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

double suite_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t suite_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t suite_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int suite_rmtree(const char *dir)
{
    return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* One payload: a plausible order line. The 1 KiB variant pads a "comment" field so the
 * whole value is exactly `size` bytes. */
static size_t make_payload(char *out, size_t cap, size_t i, size_t size)
{
    int n = snprintf(out, cap,
                     "{\"orderId\":\"order-%05zu\",\"sku\":\"SKU-%04zu\",\"qty\":%zu,"
                     "\"price\":%zu.%02zu,\"currency\":\"EUR\",\"note\":\"gift wrap\"",
                     i % 10000, (i * 7919) % 10000, i % 9 + 1, i % 500, i % 100);
    size_t len = (size_t)n;
    if (size > len + 16) {
        size_t pad = size - len - 14; /* ,"comment":"" and the closing brace */
        len += (size_t)snprintf(out + len, cap - len, ",\"comment\":\"");
        for (size_t j = 0; j < pad; j++)
            out[len++] = (char)('a' + (i + j) % 26);
        out[len++] = '"';
    }
    out[len++] = '}';
    out[len] = '\0';
    return len;
}

int suite_model_init(suite_model *m, size_t events, size_t payload_size, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->pool_n = POOL_N;
    m->pool_stride = (payload_size < 128 ? 128 : payload_size) + 64;
    m->names = malloc(sizeof *m->names * SUITE_STREAMS);
    m->pool = malloc(m->pool_n * m->pool_stride);
    m->pool_len = malloc(sizeof *m->pool_len * m->pool_n);
    m->pool_sum = malloc(sizeof *m->pool_sum * m->pool_n);
    m->seq = malloc(sizeof *m->seq * (events ? events : 1));
    m->counts = calloc(SUITE_STREAMS, sizeof *m->counts);
    if (!m->names || !m->pool || !m->pool_len || !m->pool_sum || !m->seq || !m->counts) {
        suite_model_free(m);
        return -1;
    }
    for (int k = 0; k < SUITE_STREAMS; k++)
        snprintf(m->names[k], sizeof m->names[k], "order-%d", k);
    for (size_t i = 0; i < m->pool_n; i++) {
        char *p = m->pool + i * m->pool_stride;
        m->pool_len[i] = make_payload(p, m->pool_stride, i, payload_size);
        m->pool_sum[i] = suite_touch(p, m->pool_len[i]);
    }
    uint64_t st = seed ? seed : 1;
    m->n = events;
    for (size_t i = 0; i < events; i++) {
        uint32_t k = (uint32_t)(suite_rand(&st) % SUITE_STREAMS);
        m->seq[i] = k;
        m->counts[k]++;
        m->total_sum += m->pool_sum[i % m->pool_n];
        m->total_bytes += m->pool_len[i % m->pool_n];
    }
    return 0;
}

void suite_model_free(suite_model *m)
{
    free(m->names);
    free(m->pool);
    free(m->pool_len);
    free(m->pool_sum);
    free(m->seq);
    free(m->counts);
    memset(m, 0, sizeof *m);
}

void suite_model_event(const suite_model *m, size_t i, suite_ev *out)
{
    size_t p = i % m->pool_n;
    out->stream = m->names[m->seq[i]];
    out->data = m->pool + p * m->pool_stride;
    out->data_len = m->pool_len[p];
    out->expect = SUITE_EXPECT_ANY;
    out->type = NULL;
}

/* ---- the large stores' generator ---- */

uint64_t suite_gen_streams = SUITE_STREAMS;

int suite_gen_init(suite_gen *g, const suite_model *m, uint64_t seed)
{
    memset(g, 0, sizeof *g);
    g->m = m;
    g->names = malloc(sizeof *g->names * suite_gen_streams);
    g->last_version = malloc(sizeof *g->last_version * suite_gen_streams);
    if (!g->names || !g->last_version) {
        suite_gen_free(g);
        return -1;
    }
    for (uint64_t k = 0; k < suite_gen_streams; k++) {
        snprintf(g->names[k], sizeof g->names[k], "%s-%u",
                 k % 100 == 0    ? SUITE_RARE_CATEGORY
                 : k % 1000 == 1 ? SUITE_RARER_CATEGORY
                 : k % 10 == 5   ? SUITE_COMMON_CATEGORY
                                 : "order",
                 (unsigned)(k % 1000000000u));
        g->last_version[k] = -1;
    }
    g->rng = seed ? seed : 1;
    return 0;
}

int suite_gen_copy(suite_gen *dst, const suite_gen *src)
{
    if (suite_gen_init(dst, src->m, 1) != 0)
        return -1;
    char(*names)[24] = dst->names;
    int64_t *lv = dst->last_version;
    *dst = *src;
    dst->names = names, dst->last_version = lv;
    memcpy(names, src->names, sizeof *names * suite_gen_streams);
    memcpy(lv, src->last_version, sizeof *lv * suite_gen_streams);
    return 0;
}

void suite_gen_free(suite_gen *g)
{
    free(g->names);
    free(g->last_version);
    g->names = NULL;
    g->last_version = NULL;
}

static void add_sum(suite_sum *s, size_t len, uint64_t sum)
{
    s->events++;
    s->bytes += len;
    s->checksum += sum;
}

void suite_gen_next(suite_gen *g, suite_ev *out)
{
    const suite_model *m = g->m;
    uint64_t k = suite_rand(&g->rng) % suite_gen_streams;
    size_t p = g->next % m->pool_n;
    out->stream = g->names[k];
    out->data = m->pool + p * m->pool_stride;
    out->data_len = m->pool_len[p];
    out->expect = g->last_version[k]++;
    suite_sum *by_type = g->next % 100 == 99    ? &g->rare_type
                         : g->next % 1000 == 998 ? &g->rarer_type
                         : g->next % 10 == 3     ? &g->common_type
                                                 : NULL;
    suite_sum *by_cat = k % 100 == 0    ? &g->rare_category
                        : k % 1000 == 1 ? &g->rarer_category
                        : k % 10 == 5   ? &g->common_category
                                        : NULL;
    out->type = by_type == &g->rare_type     ? SUITE_RARE_TYPE
                : by_type == &g->rarer_type  ? SUITE_RARER_TYPE
                : by_type == &g->common_type ? SUITE_COMMON_TYPE
                                             : NULL;
    add_sum(&g->all, out->data_len, m->pool_sum[p]);
    if (by_type)
        add_sum(by_type, out->data_len, m->pool_sum[p]);
    if (by_cat)
        add_sum(by_cat, out->data_len, m->pool_sum[p]);
    g->next++;
}
