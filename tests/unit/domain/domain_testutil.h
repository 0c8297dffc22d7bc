/*
 * domain_testutil.h - a store with a domain of the counter type (counter.h) as a
 * cmocka fixture, a tracer that records what it is told, and a command helper.
 */
#ifndef DOMAIN_TESTUTIL_H
#define DOMAIN_TESTUTIL_H

#include "counter.h"
#include "testutil.h"

typedef struct recorder {
    int commands;
    int notes;
    char last_note[1024];
    int last_rc;
    int last_retries;
    int events_handled;
} recorder;

/* Atomic: the concurrency test runs commands, and so this, from several threads. */
static inline void rec_command(void *user, const evs_command_trace *t)
{
    recorder *r = user;
    __atomic_fetch_add(&r->commands, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&r->last_rc, t->rc, __ATOMIC_RELAXED);
    __atomic_store_n(&r->last_retries, t->retries, __ATOMIC_RELAXED);
}

static inline void rec_note(void *user, const char *note)
{
    recorder *r = user;
    r->notes++;
    snprintf(r->last_note, sizeof r->last_note, "%s", note);
}

static inline void rec_event(void *user, const char *reader, const evs_event *ev, int rc,
                             int64_t duration_ns)
{
    (void)reader, (void)ev, (void)rc, (void)duration_ns;
    ((recorder *)user)->events_handled++;
}

typedef struct dom_fixture {
    tu_fixture fx;
    counter_hooks hooks;
    evs_aggregate_type type;
    recorder rec;
    evs_tracer tracer;
    evs_domain *d;
} dom_fixture;

/* (Re)open the fixture's domain with a counter of this state version and snapshot
 * interval, and `retries` retries. */
static inline void dom_open(dom_fixture *f, uint32_t state_version, uint32_t snapshot_every,
                            int retries)
{
    evs_domain_close(f->d);
    f->type = counter_type(&f->hooks, state_version, snapshot_every);
    f->tracer = (evs_tracer){rec_command, rec_event, rec_note, &f->rec};
    evs_domain_opts o = EVS_DOMAIN_OPTS_INIT;
    o.max_retries = retries;
    o.tracer = &f->tracer;
    const evs_aggregate_type *types[] = {&f->type};
    assert_evs_ok(evs_domain_open(&f->d, f->fx.s, types, 1, &o));
}

static inline int dom_setup(void **state)
{
    dom_fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    tu_tmpdir(f->fx.dir, sizeof f->fx.dir, "domain");
    tu_fx_open(&f->fx, NULL);
    f->hooks.store = f->fx.s;
    dom_open(f, 1, COUNTER_SNAPSHOT_EVERY, 3);
    *state = f;
    return 0;
}

static inline int dom_teardown(void **state)
{
    dom_fixture *f = *state;
    evs_domain_close(f->d);
    evs_close(f->fx.s);
    tu_cleanup(f->fx.dir);
    free(f);
    return 0;
}

static const evs_actor dom_actor = {"user-1", "Ada", "tenant-a", NULL, 0};

/* Run a command with a NUL-terminated payload. */
static inline int dom_cmd(evs_command_result *res, counter *state, dom_fixture *f,
                          const char *command, const char *id, const char *payload,
                          const evs_command_opts *opts)
{
    return evs_command(res, state, f->d, &dom_actor, command, id, payload, strlen(payload), opts);
}

#endif
