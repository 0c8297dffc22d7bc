/*
 * evstore_domain.h - aggregates, commands, actors, snapshots, event handlers and a
 * tracer: the level an application thinks in, built on libevstore's public interface
 * (evstore.h), in the same library.
 *
 * Model. An aggregate type has a name, which is the category of its streams: aggregate
 * "calc1" of type "calculator" lives in stream "calculator-calc1". Its state is the
 * application's own struct, folded from the stream's events by the type's `apply`.
 * A command names a handler of the type; the handler reads the state and the command's
 * JSON payload and emits events (evs_command_emit) or rejects the command with a typed
 * error (evs_reject_argument, evs_reject_precondition). evs_command loads the
 * aggregate, runs the handler, applies the new events to the state and appends them
 * with the loaded version as the expected version, retrying on a conflict.
 *
 * Errors. As in evstore.h: 0 or a negative EVS_E* code, with evs_errmsg(). A command's
 * own refusals have codes of their own, never returned by storage:
 * EVS_EARGUMENT (a field of the payload is wrong: the message and
 * evs_command_result.field name it), EVS_EPRECONDITION (the state does not allow the
 * command), EVS_EFORBIDDEN (the actor lacks every role the command accepts). Anything
 * else comes from the store (EVS_ECONFLICT, EVS_EIO ...).
 *
 * Conventions are evstore.h's: out-parameters first, the application's context pointer
 * first in its callbacks, versioned structs (evs_aggregate_type, evs_domain_opts,
 * evs_command_opts) accepted at every version from 1 to the library's own.
 *
 * Threads. An evs_domain is immutable once open: any number of threads may run commands
 * through it at once. Commands on different aggregates wait for nothing but the store's
 * commit; commands on one aggregate are serialised by expected versions (a conflict
 * reloads and runs the handler again), so no update is lost. An evs_reader belongs to
 * one thread at a time.
 *
 * Tenants. One store is one tenant for evs_domain. evs_tenant_domains runs the same
 * aggregate types over every tenant of a registry (evstore_tenant.h), with one call
 * per command naming the tenant (or taking the actor's).
 */
#ifndef EVSTORE_DOMAIN_H
#define EVSTORE_DOMAIN_H

#include "evstore.h"
#include "evstore_tenant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------- */
/* Actors                                                                               */
/* ---------------------------------------------------------------------------------- */

/** Who runs a command. Borrowed by evs_command for the duration of the call. Every
 *  event the command appends names the actor in its metadata (id, name, tenant). */
typedef struct evs_actor {
    const char *id;           /* required: 1..256 bytes of valid UTF-8 */
    const char *name;         /* or NULL */
    const char *tenant;       /* or NULL */
    const char *const *roles; /* role_count NUL-terminated names, or NULL */
    size_t role_count;
} evs_actor;

/* ---------------------------------------------------------------------------------- */
/* Command handlers                                                                     */
/* ---------------------------------------------------------------------------------- */

/** The command being run, handed to its handler. Valid only during the handler call. */
typedef struct evs_command_ctx evs_command_ctx;

/** A command handler. `state` is the aggregate's state as loaded (read-only); the
 *  payload is the command's JSON value (NOT NUL-terminated). Emit events with
 *  evs_command_emit; zero events is allowed (the command then appends nothing). The
 *  handler may run more than once for one evs_command (a conflict runs it again on the
 *  reloaded state), so it must have no effect outside its emits.
 *  @return 0 to accept; to refuse, return what evs_reject_argument or
 *          evs_reject_precondition returns (or any negative EVS_E* code, which
 *          evs_command returns as it is; a positive value refuses with
 *          EVS_EHANDLER). Nothing is appended when it refuses. */
typedef int (*evs_command_fn)(void *user, evs_command_ctx *ctx, const void *state,
                              const char *payload, size_t payload_len);

/** Emit an event of `type` from a handler. `data` is a JSON value, copied; NULL
 *  emits the command's payload (the seed's default). The event is appended only when
 *  the handler returns 0 and the type's apply accepts it.
 *  @return 0; EVS_EINVAL (bad type or data: the message says which); EVS_ENOMEM;
 *          EVS_EMISUSE (ctx is NULL). */
EVS_API int evs_command_emit(evs_command_ctx *ctx, const char *type, const char *data,
                             size_t data_len);

/** The actor running the command (borrowed, valid during the handler call). */
EVS_API const evs_actor *evs_command_actor(const evs_command_ctx *ctx);

/** The aggregate's id ("calc1", NUL-terminated) and its version as loaded (-1: new).
 *  Borrowed, valid during the handler call. */
EVS_API const char *evs_command_aggregate_id(const evs_command_ctx *ctx);
EVS_API int64_t evs_command_aggregate_version(const evs_command_ctx *ctx);

/** Refuse a command because payload field `field` is wrong. Sets the calling thread's
 *  message ("invalid argument 'digit': must be one of 0-9", from fmt) and returns
 *  EVS_EARGUMENT, so a handler writes `return evs_reject_argument("digit", "...")`.
 *  evs_command reports `field` in evs_command_result.field. Also usable from apply. */
EVS_API int evs_reject_argument(const char *field, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/** Refuse a command because the state does not allow it ("missing right side").
 *  Sets the message from fmt and returns EVS_EPRECONDITION. Also usable from apply. */
EVS_API int evs_reject_precondition(const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/** One command of an aggregate type. */
typedef struct evs_command_def {
    const char *name; /* unique among the commands of every type of a domain:
                       * 1..128 bytes of A-Z a-z 0-9 '_' '.' '-' */
    evs_command_fn handler;
    const char *const *roles; /* the actor must hold at least one of these; NULL (or
                               * role_count 0) = any actor */
    size_t role_count;
} evs_command_def;

/* ---------------------------------------------------------------------------------- */
/* Aggregate types                                                                      */
/* ---------------------------------------------------------------------------------- */

/** A writer handed to a type's encode: append `len` bytes. @return 0 or EVS_ENOMEM. */
typedef int (*evs_write_fn)(void *wctx, const void *bytes, size_t len);

#define EVS_AGGREGATE_TYPE_VERSION 1

/** An aggregate type. The library keeps a copy of the struct (not of what it points
 *  to: the strings and the command table must outlive the domain). State lives in
 *  blocks of state_size bytes the library allocates; a state that owns memory (a JSON
 *  document, a list) frees it in `release`. */
typedef struct evs_aggregate_type {
    unsigned int version; /* EVS_AGGREGATE_TYPE_VERSION */
    const char *name;     /* the stream category: 1..128 bytes of A-Z a-z 0-9 '_'
                           * '.' (no '-', which separates it from the id) */
    size_t state_size;    /* bytes of the state struct, >= 1 */
    /* The initial state: called on zeroed bytes. NULL = all zero. @return 0 or an
     * EVS_E* code. */
    int (*init)(void *user, void *state);
    /* Fold one event into the state. Called when loading (stored events) and by
     * evs_command on the events its handler emitted, before they are appended: a
     * refusal here (evs_reject_precondition ...) refuses the command. It must depend on
     * the event's type, data, metadata and version only: during a command the
     * position is 0 and the time is 0. @return 0 or an EVS_E* code. */
    int (*apply)(void *user, void *state, const evs_event *ev);
    /* Free what the state owns (not the block itself). NULL = nothing. */
    void (*release)(void *user, void *state);
    const evs_command_def *commands;
    size_t command_count;
    uint32_t state_version;  /* >= 1. Snapshots record it; bump it whenever apply, the
                              * state's layout or encode changes, and every snapshot
                              * taken before is ignored (and rebuilt from events). */
    uint32_t snapshot_every; /* write a snapshot when a command's events make the
                              * aggregate's event count cross a multiple of this; 0 =
                              * never */
    /* Snapshot encoding. NULL encode and decode = the state's state_size bytes as they
     * are (right for a struct with no pointers, on machines of one byte order). encode
     * writes the state through `write`; decode rebuilds it from those bytes into an
     * initialised state, leaving it releasable even when it fails. @return 0 or an
     * EVS_E* code (a failed decode makes the snapshot ignored). */
    int (*encode)(void *user, const void *state, evs_write_fn write, void *wctx);
    int (*decode)(void *user, void *state, const char *bytes, size_t len);
    void *user; /* handed to every callback of the type, first */
} evs_aggregate_type;

/* ---------------------------------------------------------------------------------- */
/* Tracer                                                                               */
/* ---------------------------------------------------------------------------------- */

/** What one evs_command did, for evs_tracer.command. Borrowed for the call. */
typedef struct evs_command_trace {
    const char *command;
    const char *aggregate_type;
    const char *stream; /* "calculator-calc1" */
    const evs_actor *actor;
    const char *correlation_id; /* as written in the events' metadata */
    const char *causation_id;
    int64_t duration_ns;        /* the whole call, loads and retries included */
    int64_t version;            /* the aggregate's version after the call (-1: none) */
    const evs_event_in *events; /* the events appended (none when rc != 0) */
    size_t event_count;
    int retries; /* runs after a conflict */
    int rc;      /* 0, EVS_ECONFLICT (retries exhausted or the caller's
                  * expected version), a refusal, or a storage error */
} evs_command_trace;

/** Optional callbacks; any may be NULL. Called on the thread that runs the command or
 *  the reader; they must not run commands themselves. */
typedef struct evs_tracer {
    /* After every evs_command, whatever its outcome. */
    void (*command)(void *user, const evs_command_trace *trace);
    /* After every event an evs_reader handled: the reader's name, the event, the
     * handler's return and its duration. */
    void (*event)(void *user, const char *reader, const evs_event *ev, int rc, int64_t duration_ns);
    /* Something worth knowing that is not an error, one line: a snapshot ignored
     * (damaged, stale, of another state version) or not written. */
    void (*note)(void *user, const char *note);
    void *user;
} evs_tracer;

/* ---------------------------------------------------------------------------------- */
/* Domains and the command call                                                         */
/* ---------------------------------------------------------------------------------- */

/** A set of aggregate types over one store: the seed's CommandHandler. */
typedef struct evs_domain evs_domain;

#define EVS_DOMAIN_OPTS_VERSION 1

/** Options for evs_domain_open; start from EVS_DOMAIN_OPTS_INIT. */
typedef struct evs_domain_opts {
    unsigned int version;     /* EVS_DOMAIN_OPTS_VERSION */
    int max_retries;          /* runs after a conflict before evs_command gives up with
                               * EVS_ECONFLICT; default 3, 0 = none */
    const evs_tracer *tracer; /* copied; NULL = none */
} evs_domain_opts;

#define EVS_DOMAIN_OPTS_INIT                                                                       \
    {                                                                                              \
        EVS_DOMAIN_OPTS_VERSION, 3, NULL                                                           \
    }

/** Open a domain of `type_count` aggregate types over `store` (which must outlive it).
 *  @return 0; EVS_EINVAL (a bad type: the message names it and the field, e.g. two
 *          types of one name, a command name used twice, state_size 0, apply NULL,
 *          only one of encode/decode); EVS_ENOMEM; EVS_EMISUSE (out or store NULL).
 *  Thread-safe. Close it with evs_domain_close. */
EVS_API int evs_domain_open(evs_domain **out, evs_store *store,
                            const evs_aggregate_type *const *types, size_t type_count,
                            const evs_domain_opts *opts);

/** Close a domain (no command may still be running on it). NULL is ignored. */
EVS_API void evs_domain_close(evs_domain *d);

#define EVS_COMMAND_OPTS_VERSION 1

/** Options for one evs_command; start from EVS_COMMAND_OPTS_INIT. */
typedef struct evs_command_opts {
    unsigned int version;       /* EVS_COMMAND_OPTS_VERSION */
    int64_t expected_version;   /* EVS_EXPECT_ANY (default): load, run, append, retry on
                                 * a conflict. A version >= 0, or EVS_EXPECT_NO_STREAM
                                 * for a new aggregate: the caller's own expectation,
                                 * checked against the loaded version and by the
                                 * append; a mismatch is EVS_ECONFLICT at once, with
                                 * no retry. */
    const char *correlation_id; /* written in every event's metadata; NULL = the
                                 * command's own id (a new UUID) */
    const char *causation_id;   /* NULL = the command's own id */
} evs_command_opts;

#define EVS_COMMAND_OPTS_INIT                                                                      \
    {                                                                                              \
        EVS_COMMAND_OPTS_VERSION, EVS_EXPECT_ANY, NULL, NULL                                       \
    }

/** What evs_command did. */
typedef struct evs_command_result {
    int64_t version;   /* the aggregate's version after the command (-1: it has no
                        * events); on EVS_ECONFLICT the version last loaded */
    int64_t first_pos; /* positions of the events appended, first_pos..last_pos
                        * (consecutive); 0 and 0 when none were */
    int64_t last_pos;
    size_t event_count;       /* events appended */
    int retries;              /* runs after a conflict */
    int64_t snapshot_version; /* the snapshot the last load started from (-1: none) */
    int snapshot_written;     /* 1 when a snapshot was appended with the events */
    char command_id[37];      /* the command's UUID, as in the events' metadata */
    char field[129];          /* with EVS_EARGUMENT: the payload field named */
} evs_command_result;

/** Run `command` on aggregate `aggregate_id` of the type that has the command.
 *
 *  Loads the aggregate (its newest usable snapshot, then the events after it), checks
 *  the actor's roles, runs the handler, applies the emitted events to the state, and
 *  appends them in one atomic append to the aggregate's stream with the loaded version
 *  as the expected version. On EVS_ECONFLICT (another writer got there first) it
 *  reloads and runs again, up to the domain's max_retries times, unless the caller
 *  gave its own expected version. When the appended events cross a multiple of the
 *  type's snapshot_every, a snapshot of the new state is written in the same atomic
 *  append (to the reserved stream "$snapshot-<stream>", docs/FORMAT.md).
 *
 *  Every event's metadata is a JSON object: {"actor":{"id","name","tenant"},
 *  "command","command_id","correlation_id","causation_id"} (name and tenant only when
 *  given), so the log says who did what and why.
 *
 *  @param out        receives the result; may be NULL.
 *  @param state_out  receives the state after the command: state_size bytes the caller
 *                    owns from then on (call the type's release on it when it has one),
 *                    or NULL. Written only on success.
 *  @param payload    the command's JSON value (validated), e.g. {"digit":"1"}.
 *  @param opts       NULL = EVS_COMMAND_OPTS_INIT.
 *  @return 0; EVS_EARGUMENT, EVS_EPRECONDITION (refused by the handler or by apply:
 *          nothing appended); EVS_EFORBIDDEN (the actor holds none of the command's
 *          roles: the message names them); EVS_ECONFLICT (retries exhausted, or the
 *          caller's expected version is not the aggregate's: the message names both);
 *          EVS_ENOTFOUND (no type has the command); EVS_EINVAL (bad aggregate id,
 *          payload or actor); the store's errors (EVS_EIO, EVS_ENOSPC, EVS_EFATAL,
 *          EVS_ECORRUPT ...), and whatever other negative code a handler or apply
 *          returned (a positive one is EVS_EHANDLER, naming the value).
 *  Thread-safe. */
EVS_API int evs_command(evs_command_result *out, void *state_out, evs_domain *d,
                        const evs_actor *actor, const char *command, const char *aggregate_id,
                        const char *payload, size_t payload_len, const evs_command_opts *opts);

/** What evs_aggregate_load found. */
typedef struct evs_aggregate_info {
    int64_t version;          /* the aggregate's version (-1: no events) */
    int64_t snapshot_version; /* the snapshot the load started from (-1: none used) */
    int64_t events_applied;   /* events folded after it */
} evs_aggregate_info;

/** Load aggregate `aggregate_id` of type `type` as evs_command does: its newest usable
 *  snapshot, then the events after it. A snapshot that is damaged (bad checksum,
 *  malformed, refused by decode), stale (of another state_version) or that does not
 *  match the stream (a version past its end, another position) is ignored, with a
 *  note to the tracer: the state is then folded from the events.
 *  @param out        may be NULL.
 *  @param state_out  receives the state (state_size bytes, owned by the caller as for
 *                    evs_command); required.
 *  @return 0 (a missing aggregate is its initial state at version -1); EVS_ENOTFOUND (no
 *          such type); EVS_EINVAL (bad id); the store's read errors; what init or apply
 *          returned while folding stored events (the message names the version).
 *  Thread-safe. */
EVS_API int evs_aggregate_load(evs_aggregate_info *out, void *state_out, evs_domain *d,
                               const char *type, const char *aggregate_id);

/* ---------------------------------------------------------------------------------- */
/* Commands per tenant                                                                  */
/* ---------------------------------------------------------------------------------- */

/** One set of aggregate types over every tenant of a registry: a domain per tenant,
 *  opened over the tenant's store (evs_tenants_get) on its first use and kept. */
typedef struct evs_tenant_domains evs_tenant_domains;

/** Open a set over `tenants` (which must outlive it). Nothing is opened yet; the types
 *  are checked as evs_domain_open checks them, by each tenant's first use.
 *  @param types  as evs_domain_open's: the array and what it points to must outlive
 *                the set.
 *  @param opts   NULL = EVS_DOMAIN_OPTS_INIT; copied, with its tracer.
 *  @return 0; EVS_ENOMEM; EVS_EMISUSE (out or tenants NULL). Thread-safe. Close it with
 *          evs_tenant_domains_close, before the registry. */
EVS_API int evs_tenant_domains_open(evs_tenant_domains **out, evs_tenants *tenants,
                                    const evs_aggregate_type *const *types, size_t type_count,
                                    const evs_domain_opts *opts);

/** The domain of `tenant` (for evs_aggregate_load and the like), opened on first use.
 *  A tenant deleted and made again (evs_tenants_remove, evs_tenant_create) gets a new
 *  domain over its new store.
 *  @param out  receives the domain; borrowed: valid until evs_tenant_domains_close.
 *  @return 0; the errors of evs_tenants_get (EVS_EINVAL bad name, EVS_ENOTFOUND no
 *          such tenant ...) and of evs_domain_open (EVS_EINVAL a bad type).
 *          Thread-safe. */
EVS_API int evs_tenant_domain(evs_domain **out, evs_tenant_domains *set, const char *tenant);

/** evs_command in tenant `tenant`'s store: the same arguments, result and errors, and
 *  these of its own.
 *  @param tenant  the tenant, or NULL for the actor's (actor->tenant).
 *  @return also EVS_EFORBIDDEN (the actor names another tenant: an actor of tenant A
 *          cannot run commands in tenant B; the message names both), EVS_EINVAL
 *          (neither the call nor the actor names a tenant), the errors of
 *          evs_tenant_domain. Thread-safe. */
EVS_API int evs_tenant_command(evs_command_result *out, void *state_out,
                               evs_tenant_domains *set, const char *tenant,
                               const evs_actor *actor, const char *command,
                               const char *aggregate_id, const char *payload,
                               size_t payload_len, const evs_command_opts *opts);

/** Close every domain the set opened (no command may still be running on them) and
 *  free it. NULL is ignored. The registry and its stores stay open. */
EVS_API void evs_tenant_domains_close(evs_tenant_domains *set);

/* ---------------------------------------------------------------------------------- */
/* Event handlers with named checkpoints                                                */
/* ---------------------------------------------------------------------------------- */

/** An event handler: return 0 when the event is handled; anything else stops the poll
 *  before acknowledging it (it is delivered again by the next poll). */
typedef int (*evs_event_handler_fn)(void *user, const evs_event *ev);

/** One row of a handler table: events of `type` go to `fn`. */
typedef struct evs_event_handler {
    const char *type;
    evs_event_handler_fn fn;
} evs_event_handler;

/** A handler table over a durable consumer: the seed's StreamReader with its named
 *  checkpoint ("thread"). */
typedef struct evs_reader evs_reader;

/** Open reader `name` (a durable consumer name, as evs_consumer_open: one open handle
 *  per name across processes) over the events whose type is in `handlers`. The table
 *  is copied (the type strings are not: they must outlive the reader); a type may
 *  appear once. Delivery resumes after the consumer's checkpoint.
 *  @param tracer  NULL or callbacks (copied); its `event` runs after every handler.
 *  @return 0; EVS_EINVAL (empty table, a NULL fn, a type twice, bad name); the errors of
 *          evs_consumer_open (EVS_EBUSY ...). Thread-safe; the reader belongs to one
 *          thread at a time. */
EVS_API int evs_reader_open(evs_reader **out, evs_store *store, const char *name,
                            const evs_event_handler *handlers, size_t handler_count, void *user,
                            const evs_tracer *tracer);

/** Hand every event up to the store's head (as of the call) to its handler, in
 *  position order, acknowledging each one handled, then save the checkpoint durably.
 *  @param handled      receives the number of events handled; may be NULL.
 *  @param max_events   stop after this many; 0 = no limit.
 *  @return 0; EVS_EHANDLER (a handler returned non-zero: the message names the event's
 *          position and type and the value; the event is not acknowledged); the errors
 *          of evs_consumer_next and evs_consumer_flush. */
EVS_API int evs_reader_poll(int64_t *handled, evs_reader *r, int64_t max_events);

/** The reader's checkpoint: every matching event up to it is handled. */
EVS_API int64_t evs_reader_checkpoint(const evs_reader *r);

/** Save the checkpoint and close the reader (as evs_consumer_close). NULL is ignored.
 *  @return 0, or the consumer's close error. */
EVS_API int evs_reader_close(evs_reader *r);

/* ---------------------------------------------------------------------------------- */
/* Reading payloads                                                                     */
/* ---------------------------------------------------------------------------------- */

/* For handlers and apply functions: one top-level member of a JSON object, by key.
 * Each returns 1 when found, 0 when the object has no such member, and EVS_EINVAL when
 * `json` is not a valid object or the member is not of the kind asked for (the
 * message names the key). Keys with escapes are compared unescaped. */

/** The member's raw value (borrowed from json, e.g. `"1"` with its quotes). */
EVS_API int evs_json_get(const char **value, size_t *value_len, const char *json, size_t len,
                         const char *key);

/** A string member, unescaped and NUL-terminated into buf (EVS_EINVAL when it does
 *  not fit in cap bytes with its NUL). */
EVS_API int evs_json_get_string(char *buf, size_t cap, const char *json, size_t len,
                                const char *key);

/** A number member. */
EVS_API int evs_json_get_number(double *out, const char *json, size_t len, const char *key);

/** A number member that is an integer in int64_t's range (no fraction, no exponent). */
EVS_API int evs_json_get_int64(int64_t *out, const char *json, size_t len, const char *key);

#ifdef __cplusplus
}
#endif

#endif /* EVSTORE_DOMAIN_H */
