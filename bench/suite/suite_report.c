/*
 * suite_report.c - what the suite measured: one JSON line per measurement as it is
 * recorded (median, min and max of the repetitions), and at the end the markdown
 * tables: ratios evstore/peer, latencies, group commit, W6-W9, and the targets
 * met or missed. Tables print only what was measured in this run; a workload an engine
 * cannot do shows "-" and the notes under the table say why.
 */
#include "suite_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RESULTS 512

static result results[MAX_RESULTS];
static int nresults;

int suite_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double suite_median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, suite_cmp_double);
    /* Median of an even count: the mean of the middle two. */
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void suite_record(const char *eng, const char *workload, const char *unit, double *v, int n)
{
    double s[MAX_REPS];
    memcpy(s, v, sizeof *s * (size_t)n);
    double med = suite_median(s, (size_t)n);
    printf("{\"engine\":\"%s\",\"workload\":\"%s\",\"median\":%.1f,\"min\":%.1f,\"max\":%.1f,"
           "\"unit\":\"%s\",\"reps\":%d}\n",
           eng, workload, med, s[0], s[n - 1], unit, n);
    fflush(stdout);
    if (nresults < MAX_RESULTS) {
        result *r = &results[nresults++];
        snprintf(r->engine, sizeof r->engine, "%s", eng);
        snprintf(r->workload, sizeof r->workload, "%s", workload);
        snprintf(r->unit, sizeof r->unit, "%s", unit);
        r->median = med, r->min = s[0], r->max = s[n - 1];
    }
}

const result *suite_find(const char *eng, const char *workload)
{
    for (int i = 0; i < nresults; i++)
        if (!strcmp(results[i].engine, eng) && !strcmp(results[i].workload, workload))
            return &results[i];
    return NULL;
}

const char *suite_size_label(uint64_t n, char *buf, size_t cap)
{
    if (n >= 1000000 && n % 1000000 == 0)
        snprintf(buf, cap, "%lluM", (unsigned long long)(n / 1000000));
    else if (n >= 1000 && n % 1000 == 0)
        snprintf(buf, cap, "%lluk", (unsigned long long)(n / 1000));
    else
        snprintf(buf, cap, "%llu", (unsigned long long)n);
    return buf;
}

/* A cell: the median of (eng, wl) with `decimals`, or "-" when not measured. */
static void cell(const char *eng, const char *wl, int decimals)
{
    const result *r = suite_find(eng, wl);
    printf(" | ");
    r ? printf("%.*f", decimals, r->median) : printf("-");
}

static void ratio_cell(const char *ne, const char *nw, const char *de, const char *dw)
{
    const result *n = suite_find(ne, nw), *d = suite_find(de, dw);
    printf(" | ");
    n &&d && d->median > 0 ? printf("%.2f", n->median / d->median) : printf("-");
}

static const char *const peers[] = {"sqlite", "lmdb", "pg", "machine"};

/* The ratio table: each peer at its best (for SQLite and LMDB: with the table of
 * versions), then the rows "-stateless", the same peers reading every version from the
 * store, against the same evstore figure. */
static void print_ratios(void)
{
    static const char *const wls[] = {"W1", "W1u", "W2-1t",        "W2-8t",       "W3",
                                      "W4", "W5",  "W1-stateless", "W5-stateless"};
    int any = 0;
    for (size_t w = 0; w < sizeof wls / sizeof *wls; w++)
        any |= suite_find("evstore", wls[w]) != NULL;
    if (!any)
        return;
    printf("\n| workload | unit | evstore | sqlite | lmdb | pg | ev/sqlite | ev/lmdb | ev/pg |\n"
           "|---|---|--:|--:|--:|--:|--:|--:|--:|\n");
    for (size_t w = 0; w < sizeof wls / sizeof *wls; w++) {
        char own[64]; /* evstore's workload: W1 for W1-stateless */
        const char *dash = strstr(wls[w], "-stateless");
        snprintf(own, sizeof own, "%.*s", dash ? (int)(dash - wls[w]) : (int)sizeof own - 1,
                 wls[w]);
        const result *ev = suite_find("evstore", own);
        if (!ev || (dash && !suite_find("sqlite", wls[w]) && !suite_find("lmdb", wls[w]) &&
                    !suite_find("pg", wls[w])))
            continue;
        printf("| %s | %s | %.0f", wls[w], ev->unit, ev->median);
        for (int p = 0; p < 3; p++)
            cell(peers[p], wls[w], 0);
        for (int p = 0; p < 3; p++)
            ratio_cell("evstore", own, peers[p], wls[w]);
        printf(" |\n");
    }
    if (suite_find("evstore", "W1") &&
        (suite_find("sqlite", "W1-stateless") || suite_find("lmdb", "W1-stateless")))
        printf("\nPeers at their best: each keeps its streams' last versions in memory, as "
               "evstore does, so an append reads none back. -stateless: the same peers reading "
               "every stream's version from the store (a stateless service), against the same "
               "evstore figure. Every target is computed against the best case.\n");
}

static void print_w2(void)
{
    if (!suite_find("evstore", "W2-1t"))
        return;
    printf("\nW2 latency, median of the repetitions' percentiles (us):\n\n"
           "| workload | evstore | sqlite | lmdb | pg | fdatasync probe |\n"
           "|---|--:|--:|--:|--:|--:|\n");
    static const char *const lats[] = {"W2-1t-p50", "W2-1t-p99", "W2-8t-p50", "W2-8t-p99"};
    for (size_t l = 0; l < sizeof lats / sizeof *lats; l++) {
        char probe[32];
        snprintf(probe, sizeof probe, "W2-fdatasync-4k%s", lats[l] + 5);
        printf("| %s", lats[l]);
        cell("evstore", lats[l], 0);
        for (int p = 0; p < 4; p++)
            cell(peers[p], p == 3 ? probe : lats[l], 0);
        printf(" |\n");
    }
    /* Issue 5's group commit: each engine's own 8-thread/1-thread ratio, side by side. */
    static const char *const engs[] = {"evstore", "sqlite", "lmdb", "pg"};
    static const char *const how[] = {"EVS_SYNC_ALWAYS (fdatasync, group commit)",
                                      "WAL, synchronous=FULL", "default (sync per commit)",
                                      "synchronous_commit=on"};
    printf("\nGroup commit: durable single-event appends (W2), 8 threads against 1 thread, "
           "same run:\n\n"
           "| engine | durability | 1 thread (events/s) | 8 threads (events/s) | 8 / 1 |\n"
           "|---|---|--:|--:|--:|\n");
    for (int i = 0; i < 4; i++) {
        if (!suite_find(engs[i], "W2-1t"))
            continue;
        printf("| %s | %s", engs[i], how[i]);
        cell(engs[i], "W2-1t", 0);
        cell(engs[i], "W2-8t", 0);
        ratio_cell(engs[i], "W2-8t", engs[i], "W2-1t");
        printf(" |\n");
    }
}

static void print_w6(const char *mid, const char *large)
{
    char wl[64], tiny[64];
    snprintf(tiny, sizeof tiny, "W6-open-10-vs-%s", large);
    if (!suite_find("evstore", tiny))
        return;
    static const char *const engs[] = {"evstore", "sqlite", "lmdb"};
    printf("\nW6, start-up: open + first query (the last position), median of the "
           "repetitions' medians (us):\n\n| store | evstore | sqlite | lmdb |\n|---|--:|--:|--:|\n"
           "| 10 events");
    for (int i = 0; i < 3; i++)
        cell(engs[i], tiny, 1);
    const char *sizes[] = {mid, large};
    for (int s = 0; s < 2; s++) {
        snprintf(wl, sizeof wl, "W6-open-%s", sizes[s]);
        printf(" |\n| %s events", sizes[s]);
        for (int i = 0; i < 3; i++)
            cell(engs[i], wl, 1);
    }
    printf(" |\n| %s / 10", large);
    for (int i = 0; i < 3; i++)
        ratio_cell(engs[i], wl, engs[i], tiny);
    /* The peers without their table of versions: what a reader or a stateless service
     * pays to start. */
    snprintf(tiny, sizeof tiny, "W6-open-stateless-10-vs-%s", large);
    printf(" |\n| stateless: 10 events");
    for (int i = 0; i < 3; i++)
        cell(engs[i], tiny, 1);
    for (int s = 0; s < 2; s++) {
        snprintf(wl, sizeof wl, "W6-open-stateless-%s", sizes[s]);
        printf(" |\n| stateless: %s events", sizes[s]);
        for (int i = 0; i < 3; i++)
            cell(engs[i], wl, 1);
    }
    printf(" |\n\nSQLite and LMDB load their table of stream versions as part of opening (as "
           "an appending service does when it starts); stateless: opened without it. "
           "PostgreSQL is left out: its start-up is the server's, and opening is a "
           "connection.\n");
}

static void print_w7(const char *mid, const char *large)
{
    char wl[64];
    snprintf(wl, sizeof wl, "W7-RssAnon-%s", large);
    if (!suite_find("evstore", wl))
        return;
    static const char *const engs[] = {"evstore", "sqlite", "lmdb", "pg"};
    printf("\nW7, anonymous memory (RssAnon, MiB) at the end of a full replay, each engine in a "
           "fresh child process:\n\n"
           "| store | evstore | sqlite | lmdb | pg client | pg server backend |\n"
           "|---|--:|--:|--:|--:|--:|\n");
    const char *sizes[] = {mid, large};
    for (int s = 0; s < 2; s++) {
        printf("| %s events, child before opening", sizes[s]);
        snprintf(wl, sizeof wl, "W7-base-%s", sizes[s]);
        for (int i = 0; i < 4; i++)
            cell(engs[i], wl, 1);
        printf(" | - |\n| %s events, end of replay", sizes[s]);
        snprintf(wl, sizeof wl, "W7-RssAnon-%s", sizes[s]);
        for (int i = 0; i < 4; i++)
            cell(engs[i], wl, 1);
        snprintf(wl, sizeof wl, "W7-server-%s", sizes[s]);
        cell("pg", wl, 1);
        printf(" |\n");
    }
    printf("| replay rate at %s (events/s)", large);
    snprintf(wl, sizeof wl, "W7-rate-%s", large);
    for (int i = 0; i < 4; i++)
        cell(engs[i], wl, 0);
    printf(" | - |\n");
}

static void print_w8(void)
{
    if (!suite_find("evstore", "W8-inproc-p50"))
        return;
    printf("\nW8, append-to-delivery latency through a subscription, sync none (us, median of "
           "the repetitions):\n\n"
           "| path | evstore p50 | p99 | max | pg p50 | p99 | max |\n"
           "|---|--:|--:|--:|--:|--:|--:|\n");
    static const char *const paths[] = {"inproc", "xproc"};
    static const char *const label[] = {"in-process (appender thread -> subscriber thread)",
                                        "cross-process (appender process -> subscriber process)"};
    static const char *const engs[] = {"evstore", "pg"};
    for (int p = 0; p < 2; p++) {
        printf("| %s", label[p]);
        for (int e = 0; e < 2; e++) {
            static const char *const q[] = {"p50", "p99", "max"};
            for (int k = 0; k < 3; k++) {
                char wl[64];
                snprintf(wl, sizeof wl, "W8-%s-%s", paths[p], q[k]);
                cell(engs[e], wl, 1);
            }
        }
        printf(" |\n");
    }
    printf("\nevstore: evs_subscribe from the end + evs_subscription_next (futex wake-up). "
           "pg: LISTEN/NOTIFY, then a SELECT of the new rows (both connections go through the "
           "server process either way). SQLite and LMDB have no push: a subscriber must poll.\n");
}

/* W9's filters, as suite_large.c names them: 1%, 0.1% and 10% of the events. */
static const struct {
    const char *wl, *what;
} w9_rows[] = {
    {"W9-type", "type " SUITE_RARE_TYPE " (1%)"},
    {"W9-category", "category " SUITE_RARE_CATEGORY " (1%)"},
    {"W9-type-0.1pct", "type " SUITE_RARER_TYPE " (0.1%)"},
    {"W9-category-0.1pct", "category " SUITE_RARER_CATEGORY " (0.1%)"},
    {"W9-type-10pct", "type " SUITE_COMMON_TYPE " (10%)"},
    {"W9-category-10pct", "category " SUITE_COMMON_CATEGORY " (10%)"},
};
#define W9_ROWS (sizeof w9_rows / sizeof w9_rows[0])

/* The fastest peer on W9 filter wl (or wl's index variant, in *wl_out): its engine, or
 * NULL when no peer ran it. */
static const char *w9_best_peer(const char *wl, char *wl_out, size_t len)
{
    static const char *const engines_w9[] = {"lmdb", "sqlite", "pg"};
    const char *best = NULL;
    double best_rate = 0;
    for (int index = 0; index < 2; index++) {
        char w[64];
        snprintf(w, sizeof w, "%s%s", wl, index ? "-index" : "");
        for (size_t e = 0; e < sizeof engines_w9 / sizeof *engines_w9; e++) {
            const result *r = suite_find(engines_w9[e], w);
            if (r && r->median > best_rate) {
                best_rate = r->median;
                best = engines_w9[e];
                snprintf(wl_out, len, "%s", w);
            }
        }
    }
    return best;
}

static void print_w9(const char *large)
{
    if (!suite_find("evstore", "W9-type"))
        return;
    printf("\nW9, filtered catch-up over the %s store: events of the store per second until "
           "the last match is delivered:\n\n"
           "| filter | evstore | lmdb | sqlite, full read | sqlite, index | pg, full read | "
           "pg, index | evstore / best peer |\n|---|--:|--:|--:|--:|--:|--:|--:|\n",
           large);
    for (size_t i = 0; i < W9_ROWS; i++) {
        const char *wl = w9_rows[i].wl;
        char wi[64], best_wl[64];
        snprintf(wi, sizeof wi, "%s-index", wl);
        printf("| %s", w9_rows[i].what);
        cell("evstore", wl, 0);
        cell("lmdb", wl, 0);
        cell("sqlite", wl, 0);
        cell("sqlite", wi, 0);
        cell("pg", wl, 0);
        cell("pg", wi, 0);
        const char *best = w9_best_peer(wl, best_wl, sizeof best_wl);
        if (best)
            ratio_cell("evstore", wl, best, best_wl);
        else
            printf(" | -");
        printf(" |\n");
    }
    printf("\nevstore: a subscription from the start with the filter, read until it has "
           "nothing more (the sealed segments through their type directories, the segment "
           "being written by a scan). lmdb: a full read filtering each record. SQLite and "
           "PostgreSQL: `SELECT ... WHERE type = ? ORDER BY pos` (category: `stream >= "
           "'refund-' AND stream < 'refund.'`), full read = no index allowed (SQLite NOT "
           "INDEXED, PostgreSQL enable_indexscan/bitmapscan off), index = an index on (type, "
           "pos), or the UNIQUE (stream, version) index for the category.\n");
}


/* One target row: num/den when den_wl is set, else num alone; at_most: the figure must
 * not exceed the bound. */
static void target_row(const char *label, const char *ne, const char *nw, const char *de,
                       const char *dw, double bound, int at_most, const char *goal)
{
    const result *n = suite_find(ne, nw), *d = dw ? suite_find(de, dw) : NULL;
    if (!n || (dw && (!d || d->median <= 0))) {
        printf("| %s | - | %s | not measured |\n", label, goal);
        return;
    }
    double v = dw ? n->median / d->median : n->median;
    int met = at_most ? v <= bound : v >= bound;
    printf("| %s | %.*f | %s | %s |\n", label, v >= 100 ? 0 : 2, v, goal,
           met ? "met" : "**MISSED**");
}

/* W9's targets: 2x SQLite on its index at 1%, and ahead of every peer at each filter. */
static void w9_targets(const char *large)
{
    char label[160], best_wl[64];
    snprintf(label, sizeof label, "W9 evstore / SQLite index, type 1%% over %s", large);
    target_row(label, "evstore", "W9-type", "sqlite", "W9-type-index", 2, 0, ">= 2x");
    snprintf(label, sizeof label, "W9 evstore / SQLite index, category 1%% over %s", large);
    target_row(label, "evstore", "W9-category", "sqlite", "W9-category-index", 2, 0, ">= 2x");
    for (size_t i = 0; i < W9_ROWS; i++) {
        const char *best = w9_best_peer(w9_rows[i].wl, best_wl, sizeof best_wl);
        snprintf(label, sizeof label, "W9 evstore / best peer (%s%s), %s", best ? best : "-",
                 best && strstr(best_wl, "-index") ? ", index" : "", w9_rows[i].what);
        if (best)
            target_row(label, "evstore", w9_rows[i].wl, best, best_wl, 1, 0, ">= 1x");
        else
            printf("| %s | - | >= 1x | not measured |\n", label);
    }
}

static void print_targets(const char *mid, const char *large)
{
    printf("\n| target | figure | goal | status |\n|---|--:|---|---|\n");
    target_row("W1 evstore / SQLite", "evstore", "W1", "sqlite", "W1", 20, 0, ">= 20x");
    target_row("W1 evstore / LMDB unsynced", "evstore", "W1", "lmdb", "W1u", 5, 0, ">= 5x");
    target_row("W2 1 thread / one fdatasync per append", "evstore", "W2-1t", "machine",
               "W2-fdatasync-4k", 1 / 1.2, 0, ">= 0.83 (within 1.2x)");
    target_row("W2 8 threads / evstore 1 thread", "evstore", "W2-8t", "evstore", "W2-1t", 5, 0,
               ">= 5x");
    target_row("W2 8 threads / PostgreSQL 8 threads", "evstore", "W2-8t", "pg", "W2-8t", 2, 0,
               ">= 2x");
    target_row("W3 evstore / LMDB", "evstore", "W3", "lmdb", "W3", 2, 0, ">= 2x");
    target_row("W4 evstore / LMDB", "evstore", "W4", "lmdb", "W4", 5, 0, ">= 5x");
    target_row("W5 evstore / SQLite", "evstore", "W5", "sqlite", "W5", 20, 0, ">= 20x");

    char label[128], a[64], b[64];
    snprintf(a, sizeof a, "W6-open-%s", large);
    snprintf(b, sizeof b, "W6-open-10-vs-%s", large);
    snprintf(label, sizeof label, "W6 evstore open(%s) / open(10)", large);
    target_row(label, "evstore", a, "evstore", b, 2, 1, "<= 2");
    snprintf(label, sizeof label, "W6 evstore open(%s), us", large);
    target_row(label, "evstore", a, NULL, NULL, 10000, 1, "< 10 ms");
    snprintf(a, sizeof a, "W7-RssAnon-%s", large);
    snprintf(b, sizeof b, "W7-RssAnon-%s", mid);
    snprintf(label, sizeof label, "W7 evstore RssAnon after replaying %s, MiB", large);
    target_row(label, "evstore", a, NULL, NULL, 64, 1, "< 64 MiB");
    snprintf(label, sizeof label, "W7 evstore RssAnon %s / %s (flat)", large, mid);
    target_row(label, "evstore", a, "evstore", b, 1.1, 1, "<= 1.1");
    target_row("W8 evstore in-process p99, us", "evstore", "W8-inproc-p99", NULL, NULL, 100, 1,
               "< 100 us");
    target_row("W8 evstore cross-process p99, us", "evstore", "W8-xproc-p99", NULL, NULL, 1000, 1,
               "< 1 ms");
    snprintf(label, sizeof label, "W9 evstore type filter over %s, events/s", large);
    target_row(label, "evstore", "W9-type", NULL, NULL, 20e6, 0, ">= 20,000,000/s");
    snprintf(label, sizeof label, "W9 evstore category filter over %s, events/s", large);
    target_row(label, "evstore", "W9-category", NULL, NULL, 20e6, 0, ">= 20,000,000/s");
    w9_targets(large);
}

void suite_print_tables(void)
{
    char mid[24], large[24];
    suite_size_label(cfg.large / 10, mid, sizeof mid);
    suite_size_label(cfg.large, large, sizeof large);
    print_ratios();
    print_w2();
    print_w6(mid, large);
    print_w7(mid, large);
    print_w8();
    print_w9(large);
    print_targets(mid, large);
    fflush(stdout);
}
