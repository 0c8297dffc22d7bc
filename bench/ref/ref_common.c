/*
 * ref_common.c - the reference drivers' command line, model and report (ref.h).
 */
#include "ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int ref_start(ref_args *a, int argc, char **argv, const char *usage_tuning)
{
    char *end = NULL;
    unsigned long events = argc >= 4 ? strtoul(argv[2], &end, 10) : 0;
    unsigned long payload = argc >= 4 ? strtoul(argv[3], NULL, 10) : 0;
    if (argc < 4 || argc > 5 || events < 1 || *end || payload < 100 || payload > 65536) {
        fprintf(stderr, "usage: %s DIR EVENTS PAYLOAD [%s]\n", argv[0], usage_tuning);
        return -1;
    }
    a->dir = argv[1];
    a->tuning = argc == 5 ? argv[4] : NULL;
    if (mkdir(a->dir, 0755) != 0) {
        perror(a->dir);
        return -1;
    }
    if (suite_model_init(&a->model, events, payload, SUITE_MODEL_SEED) != 0) {
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        return -1;
    }
    return 0;
}

static int finish(ref_args *a, const char *engine, double w1_seconds, double w3_seconds,
                  const suite_sum *w3)
{
    const suite_model *m = &a->model;
    int ok = w3->events == m->n && w3->checksum == m->total_sum;
    if (!ok)
        fprintf(stderr, "ref %s: W3 read %llu events (checksum %llu), expected %zu (%llu)\n",
                engine, (unsigned long long)w3->events, (unsigned long long)w3->checksum, m->n,
                (unsigned long long)m->total_sum);
    printf("W1 %.1f\nW3 %.1f\n", (double)m->n / w1_seconds, (double)w3->events / w3_seconds);
    suite_model_free(&a->model);
    return ok && fflush(stdout) == 0 ? 0 : 1;
}

int ref_run(ref_args *a, const ref_engine *e, void *ctx)
{
    suite_sum sum;
    int64_t *last = malloc(sizeof *last * SUITE_STREAMS);
    if (!last)
        return 1;
    for (int k = 0; k < SUITE_STREAMS; k++)
        last[k] = -1;
    double t0 = suite_now();
    int rc = e->append_all(ctx, &a->model, last);
    double w1 = suite_now() - t0;
    free(last);
    if (rc != 0)
        return 1;
    if ((e->settle && e->settle(ctx) != 0) || e->replay(ctx, &sum) != 0) /* the warm-up */
        return 1;
    t0 = suite_now();
    if (e->replay(ctx, &sum) != 0)
        return 1;
    return finish(a, e->name, w1, suite_now() - t0, &sum);
}
