/*
 * suite_ref.c - the check of the peers' drivers against the reference drivers (issue
 * 26). bench/ref holds, for SQLite, LMDB and PostgreSQL, the plainest program that does
 * W1 and W3 on that engine with the suite's schema, events and settings (ref.h). After
 * each W1 repetition of such a peer, settled, the suite runs its reference program on a
 * store of its own and keeps the program's W1 and W3 rates; at the end it sets the
 * medians beside its own driver's and, in a run of full size, fails when the driver
 * reaches less than 80% of the reference: a peer made slow by its driver is caught by
 * the suite itself.
 *
 * The programs are found beside the suite's own binary (bench/suite/evs_bench_suite
 * and bench/ref/evs_ref_<engine> in the build tree). A peer without one is said so and
 * not checked.
 */
#define _GNU_SOURCE
#include "suite_run.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REF_FLOOR         0.8 /* the driver must reach this share of the reference's rate */
/* Below this many events (--quick, --events), a W3 repetition lasts a few milliseconds,
 * and on a shared machine one preemption moved it by 2x or more: the check is printed,
 * FAIL lines included, but does not set the exit status. */
#define REF_JUDGED_EVENTS 1000000

static const char *const checked[] = {"sqlite", "lmdb", "pg"}; /* the peers bench/ref covers */

static struct {
    double w1[MAX_REPS], w3[MAX_REPS];
    int reps;   /* repetitions run */
    int failed; /* a run failed or read back wrong: no figure */
} refs[MAX_ENGINES];

static int has_ref(const engine *e)
{
    for (size_t i = 0; i < sizeof checked / sizeof *checked; i++)
        if (!strcmp(e->d->name, checked[i]))
            return 1;
    return 0;
}

/* The reference program of `engine`, beside this binary; 0 when it is there. */
static int ref_path(char *out, size_t cap, const char *eng)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    snprintf(out, cap, "%s/../ref/evs_ref_%s", dirname(self), eng);
    return access(out, X_OK);
}

void suite_ref_rep(engine *e, int rep)
{
    int i = (int)(e - engines);
    char prog[4200], dir[4096], events[32], payload[32], w1[128], w3[128];
    if (!has_ref(e) || refs[i].failed)
        return;
    if (ref_path(prog, sizeof prog, e->d->name) != 0) {
        fprintf(stderr, "suite: %s: no reference driver at %s: its driver goes unchecked\n",
                e->d->name, prog);
        refs[i].failed = 1;
        return;
    }
    suite_settle(); /* as before every measurement */
    suite_store_dir(dir, sizeof dir, e, "ref", rep);
    snprintf(events, sizeof events, "%zu", cfg.events);
    snprintf(payload, sizeof payload, "%zu", cfg.payload);
    const char *const argv[] = {prog, dir, events, payload, NULL};
    suite_child c;
    double r1 = -1, r3 = -1;
    if (suite_child_exec(&c, prog, argv) == 0) {
        int got =
            suite_child_line(&c, w1, sizeof w1) == 0 && suite_child_line(&c, w3, sizeof w3) == 0;
        if (suite_child_finish(&c) == 0 && got) {
            sscanf(w1, "W1 %lf", &r1);
            sscanf(w3, "W3 %lf", &r3);
        }
    }
    suite_rmtree(dir);
    if (r1 <= 0 || r3 <= 0) {
        fprintf(stderr, "suite: %s: the reference driver failed (%s)\n", e->d->name, prog);
        refs[i].failed = 1;
        return;
    }
    refs[i].w1[rep] = r1;
    refs[i].w3[rep] = r3;
    refs[i].reps = rep + 1;
}

void suite_ref_record(int reps)
{
    for (int i = 0; i < nengines; i++) {
        char name[32];
        if (refs[i].failed || refs[i].reps != reps)
            continue;
        snprintf(name, sizeof name, "%s-ref", engines[i].d->name);
        suite_record(name, "W1", "events/s", refs[i].w1, reps);
        suite_record(name, "W3", "events/s", refs[i].w3, reps);
    }
}

int suite_ref_check(void)
{
    static const char *const wls[] = {"W1", "W3"};
    int failures = 0, header = 0;
    for (int i = 0; i < nengines; i++) {
        const char *eng = engines[i].d->name;
        char name[32];
        snprintf(name, sizeof name, "%s-ref", eng);
        for (size_t w = 0; w < sizeof wls / sizeof *wls; w++) {
            const result *d = suite_find(eng, wls[w]), *r = suite_find(name, wls[w]);
            if (!has_ref(&engines[i]) || !d) /* this peer or workload was not run */
                continue;
            if (!header++)
                printf("\nPeer drivers against the reference drivers (bench/ref), same run; a "
                       "driver must reach %.0f%% of its reference's rate%s:\n\n"
                       "| engine | workload | suite driver | reference | driver / reference "
                       "| status |\n|---|---|--:|--:|--:|---|\n",
                       REF_FLOOR * 100,
                       cfg.events < REF_JUDGED_EVENTS
                           ? " (not judged: fewer than 1,000,000 events, too short to tell)"
                           : "");
            if (!r) {
                printf("| %s | %s | %.0f | - | - | **FAIL**: no reference figure |\n", eng, wls[w],
                       d->median);
                failures++;
                continue;
            }
            double q = d->median / r->median;
            int ok = q >= REF_FLOOR;
            printf("| %s | %s | %.0f | %.0f | %.2f | %s |\n", eng, wls[w], d->median, r->median, q,
                   ok ? "ok" : "**FAIL**");
            if (!ok)
                fprintf(stderr,
                        "suite: FAIL: the %s driver's %s is %.2f of its reference driver's "
                        "(%.0f against %.0f events/s; at least %.2f needed)\n",
                        eng, wls[w], q, d->median, r->median, REF_FLOOR);
            failures += !ok;
        }
    }
    fflush(stdout);
    return cfg.events < REF_JUDGED_EVENTS ? 0 : failures;
}
