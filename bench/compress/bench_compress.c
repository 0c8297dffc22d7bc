/*
 * bench_compress.c - compressed sealed segments against plain ones (issue 22): the size
 * ratio, replay (every event in position order, every payload byte read) and whole-stream
 * reads, on two sets of events: the core benchmark's (~100-byte JSON, 10,000 streams)
 * and a realistic JSON mix (several event types of 150-600 bytes: ids, timestamps,
 * addresses, line items, free text). One store per set is written, copied, and the copy
 * compacted (evs_compact); then the two are read in turn, a fresh handle each time, and
 * the median of the repetitions compared. Segments of 4 MiB, so that all but a sliver
 * of the log is sealed. Public API only.
 */
#define _XOPEN_SOURCE 700
#include "bench_common.h"
#include "evstore.h"

#include <dirent.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STREAMS      10000
#define STREAM_READS 2000

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_compress: %s failed: %d %s\n", what, rc, evs_errmsg());
    exit(1);
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    return bc_rnd(&rng_state);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bc_cmp_double);
    return v[n / 2];
}

/* The core benchmark's payload for stream k (bench/core/bench_core.c). */
static size_t core_event(long i, int k, char *buf, size_t cap, const char **type)
{
    (void)i;
    *type = "ItemAdded";
    return (size_t)snprintf(buf, cap,
                            "{\"orderId\":\"order-%05d\",\"sku\":\"SKU-%04d\",\"qty\":%d,"
                            "\"price\":%d.99,\"note\":\"gift wrap please\"}",
                            k, k % 9973, k % 7 + 1, k % 100);
}

static const char *const FIRST[] = {"Anna", "Ben",  "Chloe", "David", "Emma", "Felix", "Grace",
                                    "Hugo", "Isla", "Jonas", "Klara", "Liam", "Mia",   "Noah"};
static const char *const LAST[] = {"Smith",  "Müller",   "Dubois",   "Rossi",  "García", "Nowak",
                                   "Jansen", "Svensson", "Kowalski", "Murphy", "Novak"};
static const char *const CITY[] = {"Berlin",   "Lyon",   "Milano", "Sevilla", "Kraków", "Utrecht",
                                   "Göteborg", "Dublin", "Brno",   "Porto",   "Graz"};
static const char *const PRODUCT[] = {
    "espresso machine", "running shoes", "desk lamp",        "yoga mat",    "headphones",
    "backpack",         "water bottle",  "coffee beans 1kg", "notebook A5", "phone case"};
static const char *const NOTE[] = {
    "",        "please leave at the door", "call before delivery", "gift, no invoice in the parcel",
    "fragile", "second floor, ring twice"};

static void uuid(char *out)
{
    uint64_t a = rnd(), b = rnd();
    snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
             ((unsigned)(b >> 48) & 0x3fff) | 0x8000, (unsigned long long)(b & 0xffffffffffffull));
}

/* A realistic mix: what an order service's streams hold. */
static size_t mix_event(long i, int k, char *buf, size_t cap, const char **type)
{
    char id[40], cust[40];
    uuid(id);
    snprintf(cust, sizeof cust, "cust-%06d", (int)(rnd() % 50000));
    long long ts = 1767225600LL + i * 3;
    int sec = (int)(ts % 60), min = (int)(ts / 60 % 60), hour = (int)(ts / 3600 % 24);
    int kind = (int)(rnd() % 10);
    if (kind < 2) {
        *type = "OrderPlaced";
        int lines = 1 + (int)(rnd() % 4);
        size_t n =
            (size_t)snprintf(buf, cap,
                             "{\"orderId\":\"order-%05d\",\"eventId\":\"%s\",\"customerId\":\"%s\","
                             "\"placedAt\":\"2026-01-%02dT%02d:%02d:%02dZ\",\"currency\":\"EUR\","
                             "\"shipTo\":{\"name\":\"%s %s\",\"street\":\"%s %d\",\"city\":\"%s\","
                             "\"postcode\":\"%05d\",\"country\":\"%s\"},\"lines\":[",
                             k, id, cust, 1 + (int)(i / 28800 % 28), hour, min, sec,
                             FIRST[rnd() % 14], LAST[rnd() % 11], "Hauptstraße", (int)(rnd() % 200),
                             CITY[rnd() % 11], (int)(rnd() % 99999), (rnd() & 1) ? "DE" : "FR");
        for (int l = 0; l < lines && n < cap; l++)
            n += (size_t)snprintf(
                buf + n, cap - n,
                "%s{\"sku\":\"SKU-%05d\",\"name\":\"%s\",\"qty\":%d,\"unitPrice\":%d.%02d}",
                l ? "," : "", (int)(rnd() % 20000), PRODUCT[rnd() % 10], 1 + (int)(rnd() % 3),
                5 + (int)(rnd() % 300), (int)(rnd() % 100));
        n += (size_t)snprintf(buf + n, cap - n, "],\"note\":\"%s\"}", NOTE[rnd() % 6]);
        return n;
    }
    if (kind < 5) {
        *type = "PaymentCaptured";
        return (size_t)snprintf(
            buf, cap,
            "{\"orderId\":\"order-%05d\",\"paymentId\":\"%s\",\"amount\":%d.%02d,"
            "\"currency\":\"EUR\",\"method\":\"%s\",\"capturedAt\":"
            "\"2026-01-%02dT%02d:%02d:%02dZ\",\"provider\":{\"name\":\"acme-pay\","
            "\"reference\":\"ap_%016llx\"}}",
            k, id, 10 + (int)(rnd() % 900), (int)(rnd() % 100), (rnd() & 1) ? "card" : "sepa",
            1 + (int)(i / 28800 % 28), hour, min, sec, (unsigned long long)rnd());
    }
    if (kind < 8) {
        *type = "ShipmentDispatched";
        return (size_t)snprintf(
            buf, cap,
            "{\"orderId\":\"order-%05d\",\"shipmentId\":\"%s\",\"carrier\":\"%s\","
            "\"trackingNumber\":\"%c%c%09d%s\",\"warehouse\":\"%s-%d\","
            "\"dispatchedAt\":\"2026-01-%02dT%02d:%02d:%02dZ\",\"parcels\":%d}",
            k, id, (rnd() & 1) ? "DHL" : "DPD", 'A' + (int)(rnd() % 26), 'A' + (int)(rnd() % 26),
            (int)(rnd() % 1000000000), "DE", CITY[rnd() % 11], (int)(rnd() % 4),
            1 + (int)(i / 28800 % 28), hour, min, sec, 1 + (int)(rnd() % 3));
    }
    *type = "CustomerNoteAdded";
    return (size_t)snprintf(
        buf, cap,
        "{\"orderId\":\"order-%05d\",\"noteId\":\"%s\",\"author\":\"%s %s\","
        "\"text\":\"Customer asked about the delivery date of the %s; told "
        "them it ships from %s within two working days.\",\"visibleToCustomer\":%s}",
        k, id, FIRST[rnd() % 14], LAST[rnd() % 11], PRODUCT[rnd() % 10], CITY[rnd() % 11],
        (rnd() & 1) ? "true" : "false");
}

typedef size_t (*event_fn)(long i, int k, char *buf, size_t cap, const char **type);

static void build(const char *dir, long events, event_fn make)
{
    evs_options o = EVS_OPTIONS_INIT;
    o.sync_mode = EVS_SYNC_NONE;
    o.segment_size = 4u << 20; /* most of the log sealed, so most of it compressed */
    evs_store *s;
    int rc = evs_open(&s, dir, &o);
    if (rc < 0)
        die("open", rc);
    enum { BATCH = 1000 };
    static evs_event_in ev[BATCH];
    static evs_batch_in bi[BATCH];
    static char data[BATCH][2048], names[BATCH][32];
    for (long done = 0; done < events; done += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            int k = (int)(rnd() % STREAMS);
            snprintf(names[i], sizeof names[i], "order-%d", k);
            ev[i].data = data[i];
            ev[i].data_len = make(done + i, k, data[i], sizeof data[i], &ev[i].type);
            bi[i] = (evs_batch_in){names[i], EVS_EXPECT_ANY, &ev[i], 1};
        }
        if ((rc = evs_append_multi(NULL, s, bi, BATCH)) < 0)
            die("append", rc);
    }
    if ((rc = evs_close(s)) < 0)
        die("close", rc);
}

/* Bytes of the files of dir whose names end with `ext`. */
static uint64_t bytes_of(const char *dir, const char *ext)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    uint64_t sum = 0;
    char path[4200];
    size_t el = strlen(ext);
    while (d && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (n > el && strcmp(e->d_name + n - el, ext) == 0 && stat(path, &st) == 0)
            sum += (uint64_t)st.st_size;
    }
    if (d)
        closedir(d);
    return sum;
}

/* One replay of the store at dir, a fresh handle: events per second, and per second of
 * this process's CPU time into *per_cpu (on a loaded machine the wall clock also counts
 * the time other work held the processors). */
static double replay(const char *dir, long events, uint64_t *sum, double *per_cpu)
{
    evs_options o = EVS_OPTIONS_INIT;
    o.flags = EVS_OPEN_READONLY;
    evs_store *s;
    evs_cursor *c;
    evs_event e;
    int rc = evs_open(&s, dir, &o);
    if (rc < 0 || (rc = evs_cursor_open(&c, s, NULL)) < 0)
        die("replay open", rc);
    long n = 0;
    double t0 = bc_now_s(), c0 = bc_cpu_s();
    while ((rc = evs_cursor_next(&e, c)) > 0) {
        *sum += bc_touch(e.data, e.data_len);
        n++;
    }
    double t = bc_now_s() - t0;
    *per_cpu = (double)n / (bc_cpu_s() - c0);
    if (rc < 0 || n != events)
        die("replay", rc);
    evs_cursor_close(c);
    evs_close(s);
    return (double)n / t;
}

/* STREAM_READS whole streams (the same ones for both stores), a fresh handle: streams
 * per second, and per second of CPU time into *per_cpu. */
static double stream_reads(const char *dir, uint64_t seed, uint64_t *sum, double *per_cpu)
{
    evs_options o = EVS_OPTIONS_INIT;
    o.flags = EVS_OPEN_READONLY;
    evs_store *s;
    int rc = evs_open(&s, dir, &o);
    if (rc < 0)
        die("stream open", rc);
    uint64_t keep = rng_state;
    rng_state = seed;
    char name[32];
    double t0 = bc_now_s(), c0 = bc_cpu_s();
    for (int i = 0; i < STREAM_READS; i++) {
        snprintf(name, sizeof name, "order-%d", (int)(rnd() % STREAMS));
        evs_query q = EVS_QUERY_INIT;
        q.stream = name;
        evs_cursor *c;
        evs_event e;
        if ((rc = evs_cursor_open(&c, s, &q)) < 0)
            die("stream cursor", rc);
        while ((rc = evs_cursor_next(&e, c)) > 0)
            *sum += bc_touch(e.data, e.data_len);
        if (rc < 0)
            die("stream read", rc);
        evs_cursor_close(c);
    }
    double t = bc_now_s() - t0;
    *per_cpu = STREAM_READS / (bc_cpu_s() - c0);
    rng_state = keep;
    evs_close(s);
    return STREAM_READS / t;
}

static void run_set(const char *base, const char *set, long events, int reps, event_fn make)
{
    char plain[4096], packed[4096], cmd[9000];
    snprintf(plain, sizeof plain, "%s/evs-zb-%d-%s-plain", base, (int)getpid(), set);
    snprintf(packed, sizeof packed, "%s/evs-zb-%d-%s-zstd", base, (int)getpid(), set);
    build(plain, events, make);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", plain, packed);
    if (system(cmd) != 0)
        die("copy", -1);
    evs_store *s;
    evs_options o = EVS_OPTIONS_INIT;
    int rc = evs_open(&s, packed, &o);
    evs_compact_report rep;
    double t0 = bc_now_s();
    if (rc < 0 || (rc = evs_compact(s, 0, &rep)) < 0)
        die("compact", rc);
    double compact_s = bc_now_s() - t0;
    evs_close(s);
    uint64_t data_plain = bytes_of(plain, ".seg"),
             data_packed = bytes_of(packed, ".seg") + bytes_of(packed, ".zseg");
    printf("{\"set\":\"%s\",\"events\":%ld,\"segments_compressed\":%" PRId64
           ",\"sealed_plain_bytes\":%" PRId64 ",\"sealed_compressed_bytes\":%" PRId64
           ",\"ratio_sealed\":%.2f,\"log_plain_bytes\":%" PRIu64 ",\"log_bytes_after\":%" PRIu64
           ",\"ratio_log\":%.2f,\"compact_MBps\":%.1f}\n",
           set, events, rep.segments, rep.plain_bytes, rep.compressed_bytes,
           (double)rep.plain_bytes / (double)rep.compressed_bytes, data_plain, data_packed,
           (double)data_plain / (double)data_packed, (double)rep.plain_bytes / compact_s / 1e6);
    double rp[15], rz[15], sp[15], sz[15], crp[15], crz[15], csp[15], csz[15];
    uint64_t sum = 0, seed = 0x9e3779b97f4a7c15ull;
    for (int r = 0; r < reps; r++) { /* interleaved, so that drift hits both alike */
        rp[r] = replay(plain, events, &sum, &crp[r]);
        rz[r] = replay(packed, events, &sum, &crz[r]);
        sp[r] = stream_reads(plain, seed + (uint64_t)r, &sum, &csp[r]);
        sz[r] = stream_reads(packed, seed + (uint64_t)r, &sum, &csz[r]);
    }
    double mrp = median(rp, reps), mrz = median(rz, reps), msp = median(sp, reps),
           msz = median(sz, reps), mcrp = median(crp, reps), mcrz = median(crz, reps),
           mcsp = median(csp, reps), mcsz = median(csz, reps);
    printf("{\"set\":\"%s\",\"replay_plain\":%.0f,\"replay_compressed\":%.0f,\"unit\":\"events/s\","
           "\"ratio\":%.2f,\"per_cpu_plain\":%.0f,\"per_cpu_compressed\":%.0f,"
           "\"ratio_per_cpu\":%.2f,\"reps\":%d}\n",
           set, mrp, mrz, mrz / mrp, mcrp, mcrz, mcrz / mcrp, reps);
    printf("{\"set\":\"%s\",\"stream_reads_plain\":%.0f,\"stream_reads_compressed\":%.0f,"
           "\"unit\":\"streams/s\",\"ratio\":%.2f,\"per_cpu_plain\":%.0f,"
           "\"per_cpu_compressed\":%.0f,\"ratio_per_cpu\":%.2f,\"reps\":%d}\n",
           set, msp, msz, msz / msp, mcsp, mcsz, mcsz / mcsp, reps);
    if (sum == 42)
        printf("#\n");
    fflush(stdout);
    bc_rmtree(plain);
    bc_rmtree(packed);
}

int main(int argc, char **argv)
{
    long events = 1000000;
    int reps = 5;
    const char *base = "/tmp";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--events") && i + 1 < argc)
            events = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            base = argv[++i];
        else if (!strcmp(argv[i], "--quick"))
            events = 200000;
        else {
            fprintf(stderr, "usage: %s [--events N] [--reps R] [--dir DIR] [--quick]\n", argv[0]);
            return 2;
        }
    }
    if (events < 1000 || reps < 1)
        return 2;
    if (reps > 15)
        reps = 15;
    events -= events % 1000;
    run_set(base, "core", events, reps, core_event);
    run_set(base, "json_mix", events, reps, mix_event);
    return 0;
}
