/*
 * command.c - evs_command: load, check, run, apply, append; again on a conflict.
 *
 * Optimistic concurrency per aggregate: nothing is locked; the append's expected
 * version (the version loaded) is what serialises commands on one aggregate, and a
 * conflict means another writer appended first, so the command is re-run on the newer
 * state. Commands on different aggregates share nothing but the store's commit.
 * The emitted events are applied to the loaded state before the append, so that an
 * apply that refuses them refuses the command with nothing written, and the state the
 * caller gets back is exactly the one the events make.
 */
#include "domain_internal.h"

#include <inttypes.h>

/* Everything one evs_command call carries between its steps. */
typedef struct run {
    evs_domain *d;
    const evs__command_entry *cmd;
    const evs_actor *actor;
    const char *stream;
    int64_t caller_expected; /* EVS_EXPECT_ANY when the caller gave none */
    void *state;
    bool state_live; /* state holds something to release */
    evs_command_ctx ctx;
    evs__buf metadata;
    evs__buf snapshot;
    evs_event_in *events; /* the last attempt's events, for the tracer */
    size_t event_count;
    evs_command_result res;
} run;

/* Apply the emitted events to the loaded state as versions v+1, v+2 ... */
static int apply_emitted(run *r, const evs_event_in *in, size_t n)
{
    const evs_aggregate_type *t = r->cmd->type;
    for (size_t i = 0; i < n; i++) {
        evs_event ev = {0};
        ev.version = r->res.version + 1 + (int64_t)i;
        ev.stream = r->stream;
        ev.stream_len = strlen(r->stream);
        ev.type = in[i].type;
        ev.type_len = strlen(in[i].type);
        ev.data = in[i].data;
        ev.data_len = in[i].data_len;
        ev.metadata = in[i].metadata;
        ev.metadata_len = in[i].metadata_len;
        int rc = t->apply(t->user, r->state, &ev);
        if (rc > 0)
            return evs__seterr(EVS_EHANDLER,
                               "apply of event %zu ('%s') returned %d (not 0 or "
                               "an EVS_E* code)",
                               i, in[i].type, rc);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Whether the events take the aggregate's event count across a multiple of N. */
static bool snapshot_due(const evs_aggregate_type *t, int64_t before, size_t n)
{
    if (t->snapshot_every == 0 || n == 0)
        return false;
    int64_t every = t->snapshot_every, count_before = before + 1;
    return (count_before + (int64_t)n) / every > count_before / every;
}

/* Append the events (and a snapshot when one is due) in one atomic append. */
static int append(run *r, size_t n)
{
    const evs_aggregate_type *t = r->cmd->type;
    int64_t new_version = r->res.version + (int64_t)n;
    evs_batch_in b[2] = {{r->stream, r->res.version, r->events, n}, {0}};
    size_t batches = 1;
    evs_event_in snap_ev;
    char *snap_stream = NULL;
    r->snapshot.len = 0;
    if (snapshot_due(t, r->res.version, n)) {
        int rc = evs__snapshot_stream(&snap_stream, r->stream);
        if (rc == 0)
            rc = evs__snapshot_encode(&r->snapshot, t, r->state, r->stream, new_version);
        if (rc == 0) {
            snap_ev =
                (evs_event_in){"snapshot", r->snapshot.ptr, r->snapshot.len, NULL, 0, NULL, 0};
            b[1] = (evs_batch_in){snap_stream, EVS_EXPECT_ANY, &snap_ev, 1};
            batches = 2;
        } else {
            evs__domain_note(r->d, "no snapshot of %s at version %" PRId64 ": %s", r->stream,
                             new_version, evs_errmsg());
        }
    }
    evs_append_result out[2];
    int rc = evs_append_multi(out, evs__domain_store(r->d), b, batches);
    evs__free(snap_stream);
    if (rc == 0) {
        r->res.version = out[0].version;
        r->res.first_pos = out[0].first_pos;
        r->res.last_pos = out[0].last_pos;
        r->res.event_count = n;
        r->res.snapshot_written = batches == 2;
    }
    return rc;
}

/* One attempt: load, run the handler, apply, append. */
static int attempt(run *r)
{
    const evs_aggregate_type *t = r->cmd->type;
    if (r->state_live)
        evs__state_release(r->state, t);
    r->state_live = false;
    evs_aggregate_info info;
    int rc = evs__aggregate_load(&info, r->state, r->d, t, r->stream);
    if (rc < 0)
        return rc;
    r->state_live = true;
    r->res.version = info.version;
    r->res.snapshot_version = info.snapshot_version;
    if (r->caller_expected != EVS_EXPECT_ANY && r->caller_expected != info.version)
        return evs__seterr(EVS_ECONFLICT,
                           "%s on %s: expected version %" PRId64 " but the aggregate is at "
                           "version %" PRId64,
                           r->cmd->name, r->stream, r->caller_expected, info.version);
    evs__ctx_reset(&r->ctx);
    r->ctx.version = info.version;
    rc = r->cmd->def->handler(t->user, &r->ctx, r->state, r->ctx.payload, r->ctx.payload_len);
    if (rc > 0)
        return evs__seterr(EVS_EHANDLER, "the handler returned %d (not 0 or an EVS_E* code)", rc);
    if (rc < 0)
        return rc;
    size_t n = r->ctx.count;
    evs__free(r->events);
    r->events = evs__calloc(n ? n : 1, sizeof *r->events);
    if (!r->events)
        return evs__seterr(EVS_ENOMEM, "%s on %s: out of memory", r->cmd->name, r->stream);
    evs__ctx_events(&r->ctx, r->events, r->metadata.ptr, r->metadata.len);
    r->event_count = n;
    rc = apply_emitted(r, r->events, n);
    if (rc < 0 || n == 0)
        return rc;
    return append(r, n);
}

static int prepare(run *r, const char *command, const char *aggregate_id, const char *payload,
                   size_t payload_len, const evs_command_opts *o)
{
    r->cmd = evs__domain_command(r->d, command);
    if (!r->cmd)
        return evs__seterr(EVS_ENOTFOUND, "evs_command: no aggregate type has command '%s'",
                           command);
    int rc = evs__actor_check(r->actor);
    if (rc < 0)
        return evs__prefixerr("%s", command);
    if (!evs__actor_allowed(r->actor, r->cmd->def))
        return evs__seterr(EVS_EFORBIDDEN,
                           "%s: actor '%s' holds none of the roles the command requires "
                           "(first: '%s', %zu in all)",
                           command, r->actor->id, r->cmd->def->roles[0], r->cmd->def->role_count);
    if (!payload || evs_json_validate(payload, payload_len) < 0)
        return payload ? evs__prefixerr("%s: payload", command)
                       : evs__seterr(EVS_EINVAL, "%s: payload is NULL", command);
    char *stream;
    rc = evs__aggregate_stream(&stream, r->cmd->type, aggregate_id);
    if (rc < 0)
        return evs__prefixerr("%s", command);
    r->stream = stream;
    unsigned char id[16];
    rc = evs__uuid_v4(id);
    if (rc < 0)
        return rc;
    evs__uuid_format(r->res.command_id, id);
    const char *corr = o->correlation_id ? o->correlation_id : r->res.command_id;
    const char *cause = o->causation_id ? o->causation_id : r->res.command_id;
    rc = evs__command_metadata(&r->metadata, r->actor, command, r->res.command_id, corr, cause);
    if (rc < 0)
        return evs__prefixerr("%s", command);
    r->ctx = (evs_command_ctx){r->actor,      aggregate_id, -1, payload, payload_len,
                               EVS__BUF_INIT, NULL,         0,  0};
    r->state = evs__alloc(r->cmd->type->state_size);
    if (!r->state)
        return evs__seterr(EVS_ENOMEM, "%s: out of memory for the state", command);
    return 0;
}

static void trace(const run *r, const evs_command_opts *o, int rc, int64_t t0)
{
    const evs_tracer *tr = evs__domain_tracer(r->d);
    if (!tr || !tr->command || !r->cmd)
        return;
    evs_command_trace t = {r->cmd->name,
                           r->cmd->type->name,
                           r->stream ? r->stream : "",
                           r->actor,
                           o->correlation_id ? o->correlation_id : r->res.command_id,
                           o->causation_id ? o->causation_id : r->res.command_id,
                           evs__monotonic_ns() - t0,
                           r->res.version,
                           rc == 0 ? r->events : NULL,
                           rc == 0 ? r->res.event_count : 0,
                           r->res.retries,
                           rc};
    tr->command(tr->user, &t);
}

int evs_command(evs_command_result *out, void *state_out, evs_domain *d, const evs_actor *actor,
                const char *command, const char *aggregate_id, const char *payload,
                size_t payload_len, const evs_command_opts *opts)
{
    int64_t t0 = evs__monotonic_ns();
    evs_command_opts o = EVS_COMMAND_OPTS_INIT;
    bool opts_ok = !opts || (opts->version >= 1 && opts->version <= EVS_COMMAND_OPTS_VERSION);
    if (opts && opts_ok)
        o = *opts;
    run r = {.d = d,
             .actor = actor,
             .caller_expected = o.expected_version,
             .metadata = EVS__BUF_INIT,
             .snapshot = EVS__BUF_INIT};
    r.res.version = -1;
    r.res.snapshot_version = -1;
    if (out)
        *out = r.res;
    if (!d || !command)
        return evs__seterr(EVS_EMISUSE, "evs_command: %s is NULL", d ? "command" : "d");
    if (!opts_ok)
        return evs__seterr(EVS_EINVAL, "evs_command: opts.version %u is not 1..%u", opts->version,
                           EVS_COMMAND_OPTS_VERSION);
    int rc = 0;
    if (o.expected_version < EVS_EXPECT_NO_STREAM && o.expected_version != EVS_EXPECT_ANY)
        rc = evs__seterr(EVS_EINVAL,
                         "evs_command: expected_version %" PRId64 " is not a version, "
                         "EVS_EXPECT_NO_STREAM or EVS_EXPECT_ANY",
                         o.expected_version);
    if (rc == 0)
        rc = prepare(&r, command, aggregate_id, payload, payload_len, &o);
    for (int tries = 0; rc == 0; tries++) {
        evs__reject_field_clear();
        rc = attempt(&r);
        if (rc != EVS_ECONFLICT || o.expected_version != EVS_EXPECT_ANY)
            break;
        if (tries == evs__domain_max_retries(d)) {
            rc = evs__prefixerr("%s on %s: gave up after %d retries", command, r.stream, tries);
            break;
        }
        r.res.retries++;
        rc = 0;
    }
    if (rc == EVS_EARGUMENT)
        (void)snprintf(r.res.field, sizeof r.res.field, "%s", evs__reject_field());
    if (rc < 0 && rc != EVS_ECONFLICT && r.stream)
        rc = evs__prefixerr("%s on %s", command, r.stream);
    trace(&r, &o, rc, t0);
    if (rc == 0 && state_out)
        memcpy(state_out, r.state, r.cmd->type->state_size);
    else if (r.state_live)
        evs__state_release(r.state, r.cmd->type);
    if (out)
        *out = r.res;
    evs__free(r.state);
    evs__free((char *)r.stream);
    evs__free(r.events);
    evs__ctx_free(&r.ctx);
    evs__buf_free(&r.metadata);
    evs__buf_free(&r.snapshot);
    if (rc == 0)
        evs__clearerr();
    return rc;
}
