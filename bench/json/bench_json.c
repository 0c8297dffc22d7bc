/*
 * bench_json.c - throughput of the JSON validator (evs_bench_json).
 *
 * Validates each payload shape many times and prints one JSON line per shape:
 *   {"bench":"json_validate","shape":"small","simd":"avx2","payload_bytes":82,
 *    "iterations":...,"ns_per_payload":...,"mb_per_s":...}
 * MB are 10^6 bytes. Each figure is the best of several timed rounds, which is the
 * least disturbed by other processes on a 2-core machine (many short rounds).
 *
 * Shapes: "small" (a typical ~80-byte event), "medium" (a ~1 KiB order with nested
 * objects, arrays, escapes and some non-ASCII text), "medium_pretty" (the same with
 * newlines and 2-space indentation), "large" (a ~1 MiB array of
 * records with long mixed ASCII/UTF-8 strings), "large_ascii" (the same, ASCII only),
 * and "utf8" (evs__utf8_validate alone over ~1 MiB of mostly non-ASCII text).
 *
 * Usage: evs_bench_json [--quick] [--simd=best|scalar|sse2|avx2|all]
 */
#include "json.h"
#include "json_internal.h"

#include <evstore.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char small_payload[] =
    "{\"orderId\":\"order-4711\",\"sku\":\"SKU-123\",\"qty\":3,\"price\":19.99,"
    "\"note\":\"gift wrap\"}";

static const char medium_payload[] =
    "{\"orderId\":\"order-4711\",\"placedAt\":\"2026-11-23T12:00:00.123456789Z\","
    "\"customer\":{\"id\":\"cust-99812\",\"name\":\"Zo\xc3\xab M\xc3\xbcller\","
    "\"email\":\"zoe.mueller@example.com\",\"tier\":\"gold\",\"tags\":[\"returning\","
    "\"newsletter\",\"b2c\"]},\"shipping\":{\"street\":\"Hauptstra\xc3\x9f"
    "e 12\",\"city\":\"M\xc3\xbcnchen\",\"zip\":\"80331\",\"country\":\"DE\","
    "\"express\":false,\"instructions\":\"Leave at the door\\nRing twice\"},"
    "\"items\":[{\"sku\":\"SKU-123\",\"name\":\"Espresso cups, set of 4\",\"qty\":2,"
    "\"price\":19.99,\"discount\":null},{\"sku\":\"SKU-987\",\"name\":\"Milk frother "
    "\\\"Pro\\\"\",\"qty\":1,\"price\":49.5,\"discount\":0.1},{\"sku\":\"SKU-555\","
    "\"name\":\"Coffee beans 1kg\",\"qty\":3,\"price\":24.9,\"discount\":-2.5e-1},"
    "{\"sku\":\"SKU-042\",\"name\":\"Descaler\",\"qty\":1,\"price\":7.95,"
    "\"discount\":null}],\"totals\":{\"net\":176.22,\"tax\":33.48,\"gross\":209.7,"
    "\"currency\":\"EUR\"},\"payment\":{\"method\":\"card\",\"brand\":\"visa\","
    "\"last4\":\"4242\",\"authorized\":true,\"authCode\":\"A1B2C3\"},"
    "\"channel\":\"web\",\"campaign\":{\"id\":\"cmp-2026-winter\",\"source\":"
    "\"newsletter\",\"medium\":\"email\"},\"loyaltyPoints\":2097,\"coupon\":null,"
    "\"giftWrap\":true,\"note\":\"Bitte als Geschenk verpacken \\u2013 danke!\","
    "\"correlation\":[\"3f2b1c9e-6a7d-4e8f-9b0a-1c2d3e4f5a6b\","
    "\"9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b\"]}";

/* Deterministic words for the long strings: mostly ASCII, some Latin-1 supplement,
 * CJK and emoji, the mix of a European product catalogue with user comments. */
static const char *const words_mixed[] = {"the",
                                          "order",
                                          "was",
                                          "shipped",
                                          "quickly",
                                          "and",
                                          "arrived",
                                          "in",
                                          "good",
                                          "condition",
                                          "caf\xc3\xa9",
                                          "gr\xc3\xb6\xc3\x9f"
                                          "e",
                                          "\xe6\x97\xa5\xe6\x9c\xac",
                                          "na\xc3\xafve",
                                          "packaging",
                                          "\xf0\x9f\x98\x80",
                                          "customer",
                                          "service",
                                          "replied",
                                          "within",
                                          "one",
                                          "hour",
                                          "\xe2\x82\xac"
                                          "42"};
static const char *const words_ascii[] = {
    "the",      "order",     "was",     "shipped", "quickly", "and",   "arrived",   "in",
    "good",     "condition", "cafe",    "grosse",  "nihon",   "naive", "packaging", "smile",
    "customer", "service",   "replied", "within",  "one",     "hour",  "eur42"};

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

typedef struct text {
    char *ptr;
    size_t len, cap;
} text;

static void put(text *t, const char *s, size_t n)
{
    if (t->len + n > t->cap) {
        t->cap = (t->len + n) * 2;
        t->ptr = realloc(t->ptr, t->cap);
        if (t->ptr == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    memcpy(t->ptr + t->len, s, n);
    t->len += n;
}

static void puts_(text *t, const char *s)
{
    put(t, s, strlen(s));
}

/* A ~1 MiB array of records, each with a 500..4500-byte text field. */
static text make_large(const char *const *words, size_t nwords)
{
    text t = {NULL, 0, 0};
    char num[64];
    puts_(&t, "[");
    for (int rec = 0; t.len < (1u << 20) - 5000; rec++) {
        snprintf(num, sizeof(num), "%s{\"id\":%d,\"rating\":%u.%u,\"text\":\"", rec ? "," : "", rec,
                 rng() % 5, rng() % 10);
        puts_(&t, num);
        size_t target = t.len + 500 + rng() % 4000;
        while (t.len < target) {
            puts_(&t, words[rng() % nwords]);
            uint32_t r = rng() % 64;
            puts_(&t, r == 0 ? "\\n" : r == 1 ? "\\\"" : r < 6 ? ", " : " ");
        }
        puts_(&t, "\",\"verified\":true,\"tags\":[\"review\",\"import\"]}");
    }
    puts_(&t, "]");
    return t;
}

/* ~1 MiB of text for evs__utf8_validate alone: every word is non-ASCII. */
static text make_utf8(void)
{
    static const char *const w[] = {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "caf\xc3\xa9",
                                    "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",
                                    "\xf0\x9f\x98\x80", "\xce\xb1\xce\xb2\xce\xb3"};
    text t = {NULL, 0, 0};
    while (t.len < (1u << 20)) {
        puts_(&t, w[rng() % 5]);
        puts_(&t, " ");
    }
    return t;
}

/* The medium payload pretty-printed (2-space indent), as some clients send it. */
static text make_pretty(const char *src)
{
    text t = {NULL, 0, 0};
    int depth = 0, in_string = 0;

    for (const char *p = src; *p; p++) {
        char c = *p;
        if (in_string) {
            put(&t, p, 1);
            if (c == '\\')
                put(&t, ++p, 1);
            else if (c == '"')
                in_string = 0;
            continue;
        }
        if (c == '}' || c == ']') {
            depth--;
            puts_(&t, "\n");
            for (int i = 0; i < depth; i++)
                puts_(&t, "  ");
        }
        put(&t, p, 1);
        if (c == '"') {
            in_string = 1;
        } else if (c == ':') {
            puts_(&t, " ");
        } else if (c == '{' || c == '[' || c == ',') {
            depth += c != ',';
            puts_(&t, "\n");
            for (int i = 0; i < depth; i++)
                puts_(&t, "  ");
        }
    }
    return t;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static volatile int sink;

static int run_once(int utf8_only, const char *buf, size_t len)
{
    if (utf8_only)
        return evs__utf8_validate(buf, len, NULL);
    return evs__json_validate(buf, len, EVS_MAX_JSON_DEPTH, NULL);
}

/* Time `iters` validations of buf; returns ns. */
static int64_t time_rounds(int utf8_only, const char *buf, size_t len, long iters)
{
    int ok = 1;
    int64_t t0 = now_ns();
    for (long i = 0; i < iters; i++)
        ok &= run_once(utf8_only, buf, len);
    int64_t dt = now_ns() - t0;
    sink = ok;
    return dt;
}

static void bench(const char *shape, int utf8_only, const char *buf, size_t len, int quick)
{
    static const char *const simd_names[] = {"scalar", "sse2", "avx2"};
    const int64_t round_ns = quick ? 10000000 : 40000000;
    const int rounds = quick ? 5 : 25;
    long iters = 1;
    evs__json_error err = {0, NULL};

    if (!utf8_only && !evs__json_validate(buf, len, EVS_MAX_JSON_DEPTH, &err)) {
        fprintf(stderr, "shape %s does not validate: %s at %zu\n", shape, err.reason, err.offset);
        exit(1);
    }
    /* Calibrate: grow until one round takes about round_ns. */
    for (;;) {
        int64_t dt = time_rounds(utf8_only, buf, len, iters);
        if (dt >= round_ns / 4)
            break;
        iters *= 4;
    }
    int64_t dt = time_rounds(utf8_only, buf, len, iters);
    iters = (long)((double)iters * (double)round_ns / (double)(dt > 0 ? dt : 1)) + 1;

    double best = 0;
    for (int r = 0; r < rounds; r++) {
        double ns = (double)time_rounds(utf8_only, buf, len, iters) / (double)iters;
        if (r == 0 || ns < best)
            best = ns;
    }
    printf("{\"bench\":\"%s\",\"shape\":\"%s\",\"simd\":\"%s\",\"payload_bytes\":%zu,"
           "\"iterations\":%ld,\"ns_per_payload\":%.1f,\"mb_per_s\":%.0f}\n",
           utf8_only ? "utf8_validate" : "json_validate", shape, simd_names[evs__json_simd_level()],
           len, iters, best, (double)len * 1000.0 / best);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int quick = 0, from = -1, to = -1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--simd=all") == 0) {
            from = 0;
            to = EVS_SIMD_AVX2;
        } else if (strncmp(argv[i], "--simd=", 7) == 0) {
            const char *v = argv[i] + 7;
            from = to = strcmp(v, "scalar") == 0 ? 0
                        : strcmp(v, "sse2") == 0 ? 1
                        : strcmp(v, "avx2") == 0 ? 2
                                                 : -1;
        } else {
            fprintf(stderr, "usage: %s [--quick] [--simd=best|scalar|sse2|avx2|all]\n", argv[0]);
            return 2;
        }
    }

    text large = make_large(words_mixed, sizeof(words_mixed) / sizeof(words_mixed[0]));
    text large_ascii = make_large(words_ascii, sizeof(words_ascii) / sizeof(words_ascii[0]));
    text utf8 = make_utf8();
    text pretty = make_pretty(medium_payload);

    for (int level = from; level <= to; level++) {
        if (evs__json_force_simd(level) != level && level >= 0)
            continue; /* the CPU lacks it */
        bench("small", 0, small_payload, sizeof(small_payload) - 1, quick);
        bench("medium", 0, medium_payload, sizeof(medium_payload) - 1, quick);
        bench("medium_pretty", 0, pretty.ptr, pretty.len, quick);
        bench("large", 0, large.ptr, large.len, quick);
        bench("large_ascii", 0, large_ascii.ptr, large_ascii.len, quick);
        bench("utf8", 1, utf8.ptr, utf8.len, quick);
    }
    free(large.ptr);
    free(large_ascii.ptr);
    free(utf8.ptr);
    free(pretty.ptr);
    return 0;
}
