/*
 * domain_internal.h - what the files of src/domain share. The layer uses the store
 * only through evstore.h; it owns the domain handle (the types and the command index),
 * the command context a handler emits into, loading (snapshot + events) and the
 * snapshot records.
 */
#ifndef EVS_DOMAIN_INTERNAL_H
#define EVS_DOMAIN_INTERNAL_H

#include "evstore_domain.h"
#include "json.h"
#include "util.h"

#include <stdbool.h>
#include <stdio.h>

#define EVS__MAX_NAME_LEN    128          /* type and command names */
#define EVS__SNAPSHOT_PREFIX "$snapshot-" /* reserved stream: "$snapshot-<stream>" */

/* One command of the domain, for the lookup by name. */
typedef struct evs__command_entry {
    const char *name;
    const evs_command_def *def;
    const evs_aggregate_type *type; /* the domain's copy */
} evs__command_entry;

/* ---- domain.c --------------------------------------------------------------------- */

evs_store *evs__domain_store(const evs_domain *d);
int evs__domain_max_retries(const evs_domain *d);
/* The tracer, or NULL when none was given. */
const evs_tracer *evs__domain_tracer(const evs_domain *d);
/* The command named `name`, or NULL. */
const evs__command_entry *evs__domain_command(const evs_domain *d, const char *name);
/* The type named `name`, or NULL. */
const evs_aggregate_type *evs__domain_type(const evs_domain *d, const char *name);
/* Send a note to the tracer (if it has a note callback). */
void evs__domain_note(const evs_domain *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Stream name "<type>-<id>" into *out (evs__alloc'd). EVS_EINVAL names a bad id. */
int evs__aggregate_stream(char **out, const evs_aggregate_type *t, const char *aggregate_id);

/* ---- aggregate_load.c ------------------------------------------------------------- */

/* Fill `state` (state_size bytes, contents ignored) with the aggregate kept in
 * `stream`. On failure the state holds nothing to release. */
int evs__aggregate_load(evs_aggregate_info *out, void *state, const evs_domain *d,
                        const evs_aggregate_type *t, const char *stream);
/* Zero `state` and run the type's init. On failure nothing is left to release. */
int evs__state_init(void *state, const evs_aggregate_type *t);
void evs__state_release(void *state, const evs_aggregate_type *t);

/* ---- snapshot.c ------------------------------------------------------------------- */

/* A snapshot as found in the reserved stream, checked and decoded into `state` (an
 * initialised state). Returns 1 when usable (*version, *pos: the aggregate's version
 * and that event's position), 0 when there is none or it was ignored (with a note; the
 * state is then initial again), < 0 on a read error. */
int evs__snapshot_read(int64_t *version, int64_t *pos, void *state, const evs_domain *d,
                       const evs_aggregate_type *t, const char *stream);

/* The data of a snapshot event for `state` at `version` (position unknown yet, so 0:
 * the loader then checks the version only). `*out` is valid JSON. 0 or an error. */
int evs__snapshot_encode(evs__buf *out, const evs_aggregate_type *t, const void *state,
                         const char *stream, int64_t version);

/* The reserved stream name for `stream`'s snapshots (evs__alloc'd). */
int evs__snapshot_stream(char **out, const char *stream);

/* ---- json_get.c ------------------------------------------------------------------- */

/* The public evs_json_get* without clearing the thread's error on success. */
int evs__json_get(const char **value, size_t *value_len, const char *json, size_t len,
                  const char *key);
int evs__json_get_string(char *buf, size_t cap, const char *json, size_t len, const char *key);
int evs__json_get_number(double *out, const char *json, size_t len, const char *key);
int evs__json_get_int64(int64_t *out, const char *json, size_t len, const char *key);

/* ---- base64.c --------------------------------------------------------------------- */

/* Standard base64 (RFC 4648, with padding). */
int evs__base64_encode(evs__buf *out, const unsigned char *p, size_t len);
/* Decode into out; EVS_EINVAL on a character or length that is not base64. */
int evs__base64_decode(evs__buf *out, const char *text, size_t len);

/* ---- metadata.c ------------------------------------------------------------------- */

/* The metadata object every event of a command carries. `command_id` is 37 bytes. */
int evs__command_metadata(evs__buf *out, const evs_actor *actor, const char *command,
                          const char *command_id, const char *correlation_id,
                          const char *causation_id);
/* Check an actor: id present, strings valid UTF-8. EVS_EINVAL names the field. */
int evs__actor_check(const evs_actor *actor);
/* Whether the actor holds at least one of the command's roles (or it needs none). */
bool evs__actor_allowed(const evs_actor *actor, const evs_command_def *def);
/* Append s as a JSON string (with quotes). */
int evs__json_put_string(evs__buf *out, const char *s, size_t len);

/* ---- command_ctx.c ---------------------------------------------------------------- */

typedef struct evs__emitted {
    size_t type_off; /* offsets into the context's buffer, NUL-terminated type */
    size_t data_off;
    size_t data_len;
} evs__emitted;

struct evs_command_ctx {
    const evs_actor *actor;
    const char *aggregate_id;
    int64_t version; /* as loaded */
    const char *payload;
    size_t payload_len;
    evs__buf bytes;        /* the emitted types and data, back to back */
    evs__emitted *emitted; /* count entries */
    size_t count, cap;
};

/* The field named by the calling thread's last evs_reject_argument ("" if none). */
const char *evs__reject_field(void);
void evs__reject_field_clear(void);
void evs__ctx_reset(evs_command_ctx *ctx);
void evs__ctx_free(evs_command_ctx *ctx);
/* The emitted events as evs_event_in (pointing into the context; valid until the next
 * reset), each with `metadata`. `events` has room for ctx->count. */
void evs__ctx_events(const evs_command_ctx *ctx, evs_event_in *events, const char *metadata,
                     size_t metadata_len);

#endif /* EVS_DOMAIN_INTERNAL_H */
