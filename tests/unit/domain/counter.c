/*
 * counter.c - the domain tests' aggregate type (see counter.h).
 */
#include "counter.h"

#include <stdio.h>
#include <string.h>

static int read_n(int64_t *n, const char *payload, size_t len)
{
    if (evs_json_get_int64(n, payload, len, "n") != 1 || *n <= 0)
        return evs_reject_argument("n", "must be a positive integer");
    return 0;
}

static int add(void *user, evs_command_ctx *ctx, const void *state, const char *payload, size_t len)
{
    counter_hooks *h = user;
    int64_t n;
    (void)state;
    __atomic_fetch_add(&h->handler_runs, 1, __ATOMIC_RELAXED); /* threads share it */
    int rc = read_n(&n, payload, len);
    return rc < 0 ? rc : evs_command_emit(ctx, "Added", NULL, 0);
}

static int sub(void *user, evs_command_ctx *ctx, const void *state, const char *payload, size_t len)
{
    const counter *c = state;
    counter_hooks *h = user;
    int64_t n;
    __atomic_fetch_add(&h->handler_runs, 1, __ATOMIC_RELAXED); /* threads share it */
    int rc = read_n(&n, payload, len);
    if (rc < 0)
        return rc;
    if (c->value < n)
        return evs_reject_precondition("the counter is %lld, less than %lld", (long long)c->value,
                                       (long long)n);
    return evs_command_emit(ctx, "Subtracted", NULL, 0);
}

/* Subtracts without checking: the apply refuses a negative counter. */
static int sub_unchecked(void *user, evs_command_ctx *ctx, const void *state, const char *payload,
                         size_t len)
{
    (void)state, (void)payload, (void)len, (void)user;
    return evs_command_emit(ctx, "Subtracted", "{\"n\":1000000}", 13);
}

static int add_twice(void *user, evs_command_ctx *ctx, const void *state, const char *payload,
                     size_t len)
{
    (void)state, (void)payload, (void)len, (void)user;
    int rc = evs_command_emit(ctx, "Added", "{\"n\":1}", 7);
    return rc < 0 ? rc : evs_command_emit(ctx, "Added", "{\"n\":2}", 7);
}

static int nothing(void *user, evs_command_ctx *ctx, const void *state, const char *payload,
                   size_t len)
{
    (void)ctx, (void)state, (void)payload, (void)len;
    __atomic_fetch_add(&((counter_hooks *)user)->handler_runs, 1, __ATOMIC_RELAXED);
    return 0;
}

/* Another writer appends to this aggregate while the handler runs, on the first
 * interfere_runs runs: the command's append then meets a conflict. */
static int interfere(void *user, evs_command_ctx *ctx, const void *state, const char *payload,
                     size_t len)
{
    counter_hooks *h = user;
    (void)state, (void)payload, (void)len;
    __atomic_fetch_add(&h->handler_runs, 1, __ATOMIC_RELAXED); /* threads share it */
    if (h->interfere_runs > 0) {
        h->interfere_runs--;
        char stream[256];
        (void)snprintf(stream, sizeof stream, "counter-%s", evs_command_aggregate_id(ctx));
        evs_event_in e = {"Added", "{\"n\":100}", 9, NULL, 0, NULL, 0};
        int rc = evs_append(NULL, h->store, stream, EVS_EXPECT_ANY, &e, 1);
        if (rc < 0)
            return rc;
    }
    return evs_command_emit(ctx, "Added", "{\"n\":1}", 7);
}

/* A handler that returns neither 0 nor an error code. */
static int positive(void *user, evs_command_ctx *ctx, const void *state, const char *payload,
                    size_t len)
{
    (void)state, (void)payload, (void)len, (void)user;
    int rc = evs_command_emit(ctx, "Added", "{\"n\":1}", 7);
    return rc < 0 ? rc : 7;
}

static int is_type(const evs_event *ev, const char *type)
{
    return ev->type_len == strlen(type) && !memcmp(ev->type, type, ev->type_len);
}

static int apply(void *user, void *state, const evs_event *ev)
{
    counter *c = state;
    int64_t n;
    (void)user;
    if (evs_json_get_int64(&n, ev->data, ev->data_len, "n") != 1)
        return evs_reject_argument("n", "missing from event %lld", (long long)ev->version);
    if (is_type(ev, "Subtracted")) {
        if (c->value < n)
            return evs_reject_precondition("the counter would go below zero");
        n = -n;
    }
    c->value += n;
    c->events++;
    return 0;
}

static const char *const admin_roles[] = {"admin", "owner"};

static const evs_command_def commands[] = {
    {"Add", add, NULL, 0},
    {"Sub", sub, NULL, 0},
    {"SubUnchecked", sub_unchecked, NULL, 0},
    {"AddTwice", add_twice, NULL, 0},
    {"Nothing", nothing, NULL, 0},
    {"Interfere", interfere, NULL, 0},
    {"AdminAdd", add, admin_roles, 2},
    {"Positive", positive, NULL, 0},
};

evs_aggregate_type counter_type(counter_hooks *hooks, uint32_t state_version,
                                uint32_t snapshot_every)
{
    evs_aggregate_type t = {EVS_AGGREGATE_TYPE_VERSION,
                            "counter",
                            sizeof(counter),
                            NULL,
                            apply,
                            NULL,
                            commands,
                            sizeof commands / sizeof commands[0],
                            state_version,
                            snapshot_every,
                            NULL,
                            NULL,
                            hooks};
    return t;
}
