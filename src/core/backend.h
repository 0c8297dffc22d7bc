/*
 * backend.h - the interface between the core and a storage backend.
 *
 * The core validates every input, generates ids and compiles queries; a backend only
 * stores and retrieves. Each backend fills one evs__backend_methods table and is
 * registered by one line in registry.c (the way SQLite puts the OS behind its VFS).
 * Backends include this header and src/util, never each other and never core files.
 *
 * Memory rule at the boundary: what a backend hands out (evs_event fields, stream
 * names) is a view valid until the next call on the same cursor or iterator.
 */
#ifndef EVS_BACKEND_H
#define EVS_BACKEND_H

#include "evstore.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* An event ready to be written: validated, its id known, its type hashed. */
typedef struct evs__event_w {
    const char *type;
    uint32_t type_len;
    uint32_t type_hash;   /* low 32 bits of evs__hash64(type) */
    const char *data;
    uint32_t data_len;
    const char *meta;     /* NULL when absent */
    uint32_t meta_len;
    bool id_given;        /* the writer supplied the id (idempotence applies) */
    unsigned char id[16];
    int64_t ts_ns;        /* the writer's time for the event, or 0 for the store's */
    bool sealed;          /* data is an encrypted envelope (src/core/seal.h): the file
                           * backend marks its record REC_SEALED */
    /* The core's own: the subject whose key encrypts the data, NULL for none; a heap
     * copy (subject_owned) when the metadata spelled it with escapes. */
    const char *subject;
    uint32_t subject_len;
    bool subject_owned;
} evs__event_w;

/* One stream's part of an atomic append. */
typedef struct evs__batch_w {
    const char *stream;
    uint32_t stream_len;
    uint64_t stream_hash; /* evs__hash64(stream) */
    int64_t expected_version;
    const evs__event_w *events;
    size_t count;
    bool any_id_given;
    size_t payload_len;   /* sum of stream, type, data and metadata bytes, for sizing */
    int64_t *positions;   /* NULL, or `count` slots: when the batch turns out to be a
                           * duplicate, the backend writes each event's stored position
                           * there (the core fills them for written batches) */
} evs__batch_w;

/* A query after validation: owned copies of every string, types hashed. */
typedef struct evs__query_c {
    int direction;
    int64_t from_pos;
    int64_t to_pos;
    char *stream;         /* NULL = all streams */
    uint32_t stream_len;
    uint64_t stream_hash;
    int64_t from_version;
    size_t type_count;
    char **types;
    uint32_t *type_lens;
    uint32_t *type_hashes;
    char *category;       /* NULL = any */
    uint32_t category_len;
    char *prefix;         /* NULL = any */
    uint32_t prefix_len;
    int64_t since_ns;
    int64_t until_ns;
    uint64_t limit;
    bool filters;         /* any of types, category, prefix, since, until */
} evs__query_c;

/* Does an event with these fields pass the query's stream/type/time filters? Position,
 * direction and limit are the cursor's business. Inline: it runs once per event scanned. */
static inline bool evs__query_match(const evs__query_c *q, const char *stream, uint32_t stream_len,
                                    const char *type, uint32_t type_len, uint32_t type_hash,
                                    int64_t ts_ns)
{
    if (!q->filters)
        return true;
    if (q->type_count) {
        size_t i;
        for (i = 0; i < q->type_count; i++)
            if (q->type_hashes[i] == type_hash && q->type_lens[i] == type_len &&
                memcmp(q->types[i], type, type_len) == 0)
                break;
        if (i == q->type_count)
            return false;
    }
    if (q->category) {
        /* "order" matches "order" and "order-…" but not "orders-1". */
        if (stream_len < q->category_len || memcmp(stream, q->category, q->category_len) != 0)
            return false;
        if (stream_len > q->category_len && stream[q->category_len] != '-')
            return false;
    }
    if (q->prefix &&
        (stream_len < q->prefix_len || memcmp(stream, q->prefix, q->prefix_len) != 0))
        return false;
    if (q->since_ns && ts_ns < q->since_ns)
        return false;
    if (q->until_ns && ts_ns >= q->until_ns)
        return false;
    return true;
}

typedef struct evs__backend evs__backend;
typedef struct evs__be_cursor evs__be_cursor;
typedef struct evs__be_streams evs__be_streams;
typedef struct evs__be_consumer evs__be_consumer;

/* One durable consumer as a backend lists it. */
typedef struct evs__consumer_entry {
    const char *name;     /* NUL-terminated, valid for the callback's duration */
    int status;           /* 0, or the error reading its checkpoint (EVS_ECORRUPT...) */
    int64_t pos;          /* checkpoint; meaningful when status is 0 */
    int64_t ts_ns;        /* when it was acknowledged */
    bool open;            /* some handle holds the consumer's lock now */
    const char *filter;   /* the filter kept with it, NULL when none is */
} evs__consumer_entry;

typedef int (*evs__consumer_cb)(void *ctx, const evs__consumer_entry *e);

/* The longest filter text a backend keeps with a checkpoint (bytes, without the NUL):
 * room for hundreds of types, and a bound on what a damaged file makes a reader
 * allocate. */
#define EVS__MAX_FILTER_TEXT (64u * 1024)

/* A backend's methods. Every one is required: the registry refuses a table with a
 * method missing (registry.c), so the core calls them without checking. The table has
 * no version: every backend is compiled into the library from this tree (the file
 * backend now, SQLite and PostgreSQL next), so the table and its backends always
 * change together, and a new method is added to each of them in the same change. A
 * backend that cannot do what a method asks returns EVS_ENOTSUP from it (for example
 * one that keeps no durable consumers). */
typedef struct evs__backend_methods {
    const char *name; /* "file" */
    int (*open)(evs__backend **out, const char *path, const evs_options *opts);
    int (*close)(evs__backend *be); /* frees be whatever it returns */
    int (*append)(evs__backend *be, const evs__batch_w *batches, size_t batch_count,
                  evs_append_result *out);
    int (*sync)(evs__backend *be);
    int (*cursor_open)(evs__be_cursor **out, evs__backend *be, const evs__query_c *q);
    int (*cursor_next)(evs__be_cursor *c, evs_event *out);
    void (*cursor_close)(evs__be_cursor *c);
    int (*stream_get)(evs__backend *be, const char *stream, uint32_t len, uint64_t hash,
                      evs_stream_info *out);
    int (*streams_open)(evs__be_streams **out, evs__backend *be, const char *prefix,
                        size_t prefix_len);
    int (*streams_next)(evs__be_streams *it, const char **name, size_t *name_len,
                        evs_stream_info *info);
    void (*streams_close)(evs__be_streams *it);
    int (*stat)(evs__backend *be, evs_stat_info *out);
    int64_t (*head)(evs__backend *be);
    int (*wait)(evs__backend *be, int64_t after_pos, int timeout_ms, int64_t *head_out);
    int (*find_time)(evs__backend *be, int64_t ts_ns, int64_t *out);
    int (*verify)(evs__backend *be, evs_verify_cb cb, void *ctx, evs_verify_report *report);

    /* ---- durable consumers. The core validates names ([A-Za-z0-9._-], 1..128 bytes)
     * before any of these is called. */

    /* Take consumer `name`'s exclusive lock without waiting (EVS_EBUSY naming the
     * consumer when another handle, in any process, holds it); the lock goes with the
     * handle. Creates nothing but what the lock itself needs. */
    int (*consumer_lock)(evs__backend *be, const char *name, evs__be_consumer **out);
    void (*consumer_unlock)(evs__backend *be, evs__be_consumer *h); /* NULL accepted */
    /* Read a checkpoint, locked or not: EVS_ENOTFOUND when the consumer has none,
     * EVS_ECORRUPT naming the file when it cannot be read back. */
    int (*checkpoint_load)(evs__backend *be, const char *name, int64_t *pos, int64_t *ts_ns);
    /* Save a checkpoint (creating it when missing, replacing it whole when it is
     * unreadable). `durable`: make it survive power loss before returning; otherwise it
     * must at least survive the death of the process. */
    int (*checkpoint_store)(evs__backend *be, evs__be_consumer *h, int64_t pos, int64_t ts_ns,
                            bool durable);
    /* Remove the locked consumer's files: EVS_ENOTFOUND when it has no checkpoint. The
     * handle must still be unlocked afterwards. */
    int (*consumer_delete)(evs__backend *be, evs__be_consumer *h);
    /* Call cb for every consumer, in no particular order; stop when it returns non-zero
     * (and return that). */
    int (*consumer_list)(evs__backend *be, evs__consumer_cb cb, void *ctx);

    /* ---- checking and repairing. */

    /* evs_verify_quick: the store's structure without every byte; `report` is zeroed. */
    int (*verify_quick)(evs__backend *be, evs_verify_cb cb, void *ctx,
                        evs_verify_report *report);
    /* evs_repair on the store at `path`, which no handle may have open (the backend
     * makes sure, across processes, and keeps it so while it works). `opts` is checked
     * and `out` zeroed by the core. */
    int (*repair)(const char *path, const evs_repair_opts *opts, evs_repair_report *out);

    /* ---- interrupting waits. */

    /* Make every wait on this handle look again at once: a waiter whose thread's
     * evs__wait_interrupt flag is set then returns EVS_ETIMEDOUT, the others sleep on.
     * With `closing` (evs_close) every wait, now and later, returns EVS_ECLOSED. */
    void (*wake)(evs__backend *be, bool closing);

    /* ---- a durable consumer's filter, kept with its checkpoint. The text is the core's
     * canonical JSON (src/sub/consumer_filter.c); backends store it as bytes. */

    /* Read consumer `name`'s filter: *out an evs__alloc'd NUL-terminated copy, or NULL
     * when none is kept (a consumer made before filters were kept). EVS_ENOTFOUND when
     * the consumer does not exist; EVS_ECORRUPT naming the file when the filter kept is
     * damaged. */
    int (*filter_load)(evs__backend *be, const char *name, char **out);
    /* Keep `text` (at most EVS__MAX_FILTER_TEXT bytes) as the locked consumer's filter
     * together with checkpoint pos/ts_ns, durably, replacing what was kept; later
     * checkpoint saves keep the filter. */
    int (*filter_store)(evs__backend *be, evs__be_consumer *h, const char *text, int64_t pos,
                        int64_t ts_ns);

    /* ---- the log's lifecycle. */

    /* evs_compact: compress sealed segments but the newest `keep`; `report` is zeroed.
     * EVS_ENOTSUP (with a message) for a backend that has no segments. */
    int (*compact)(evs__backend *be, unsigned int keep, evs_compact_report *report);
    /* evs_backup of the open store into directory `dest`: `opts` is checked and `out`
     * zeroed by the core. */
    int (*backup)(evs__backend *be, const char *dest, const evs_backup_opts *opts,
                  evs_backup_report *out);
    /* evs_archive: `opts` is checked and `out` zeroed by the core. */
    int (*archive)(evs__backend *be, const evs_archive_opts *opts, evs_archive_report *out);
    /* evs_retain on the store at `path`, which no handle may have open (as repair).
     * `opts` is checked and `out` zeroed by the core. */
    int (*retain)(const char *path, const evs_retain_opts *opts, evs_retain_report *out);
} evs__backend_methods;

/* A thread that must be able to stop waiting points this at its stop flag: a backend's
 * wait returns EVS_ETIMEDOUT as soon as it sees the flag set, and the thread that sets
 * it calls evs__store_wake so that a sleeping wait sees it. NULL (the default): waits
 * are not interrupted. Push delivery threads use it. */
extern _Thread_local const atomic_bool *evs__wait_interrupt;

/* Every backend's handle starts with this. */
struct evs__backend {
    const evs__backend_methods *methods;
};

/* Every method of evs__backend_methods, in order; a new method is added here too (the
 * assertion below counts them). */
#define EVS__BACKEND_METHODS(X)                                                            \
    X(open) X(close) X(append) X(sync) X(cursor_open) X(cursor_next) X(cursor_close)       \
    X(stream_get) X(streams_open) X(streams_next) X(streams_close) X(stat) X(head) X(wait) \
    X(find_time) X(verify) X(consumer_lock) X(consumer_unlock) X(checkpoint_load)          \
    X(checkpoint_store) X(consumer_delete) X(consumer_list) X(verify_quick) X(repair)      \
    X(wake) X(filter_load) X(filter_store) X(compact) X(backup) X(archive) X(retain)
#define EVS__COUNT_METHOD(method) +1
_Static_assert(sizeof(evs__backend_methods) ==
                   sizeof(const char *) + (0 EVS__BACKEND_METHODS(EVS__COUNT_METHOD)) *
                                              sizeof(void (*)(void)),
               "EVS__BACKEND_METHODS lists every method of evs__backend_methods");
#undef EVS__COUNT_METHOD

/* The registry (registry.c): the backend for a name, or NULL (EVS_ENOTSUP set; also for
 * a table that lacks a method, the message naming it). */
const evs__backend_methods *evs__backend_find(const char *name);
/* The first method `m` lacks, or NULL when it has them all (the registry's check). */
const char *evs__backend_missing_method(const evs__backend_methods *m);

/* The backend a store location names ("sqlite:PATH", a directory ...) and the part of
 * the location it is given (*path points into `location`). EVS_ENOTSUP for a location
 * form whose backend is not built, EVS_EINVAL for one that names nothing; `fn` starts
 * the message. */
int evs__backend_locate(const char *location, const char *fn, const evs__backend_methods **m,
                        const char **path);

/* The rules of an append that need the stream's state (append_rules.c), for backends
 * to apply under their write lock. The expected version against the stream's last
 * version `actual` (-1: no stream): EVS_ECONFLICT naming both. The writer's own times
 * (evs_event_in.ts_ns) against `last`, the ts of the event stored before the batch,
 * with events stamped "now" taking `now` (or `last`, when later): EVS_EINVAL naming the
 * event when a ts would go below the one before it. */
int evs__check_expected(const evs__batch_w *b, int64_t actual);
int evs__check_given_ts(const evs__batch_w *b, int64_t last, int64_t now);
/* EVS_EIDCONFLICT: the id of b's event `i` is in the stream at `version`, but the batch
 * is not the one appended then (idempotence found only part of it, or out of order). */
int evs__id_conflict(const evs__batch_w *b, size_t i, int64_t version);

/* How a backend finds ids in the stream a batch goes to, for evs__check_duplicate. */
typedef struct evs__id_lookup {
    void *ctx;
    /* The highest version holding `id` in the stream: *found, then *version, *pos. */
    int (*find)(void *ctx, const unsigned char *id, bool *found, int64_t *version, int64_t *pos);
    /* Does the stream's `version` hold `id`? *same, and *pos the version's position. */
    int (*at)(void *ctx, int64_t version, const unsigned char *id, bool *same, int64_t *pos);
} evs__id_lookup;

/* Idempotence, as every backend decides it: the highest version holding one of the
 * batch's ids must hold the batch's last event, the versions below it the others in
 * order, and every event must carry its id. Then *dup, res is the original result and
 * b->positions (when given) the stored positions; EVS_EIDCONFLICT when the ids are
 * there some other way. */
int evs__check_duplicate(const evs__batch_w *b, const evs__id_lookup *l, evs_append_result *res,
                         bool *dup);

typedef struct evs__keytab evs__keytab;

/* The core's whole append (every input checked, ids generated, sizes bounded, the data
 * of events with a subject encrypted), written through backend `m` handle `be`: also
 * for a backend that appends outside a store handle (the outbox,
 * include/evstore_sql.h). `keys`: the store's subject keys, or NULL when it keeps none
 * (an event with a subject is then refused with EVS_ENOTSUP). `subject`: the subject of
 * every event whose metadata names none, or NULL. Other arguments as
 * evs_append_multi_positions. */
int evs__append_through(const evs__backend_methods *m, evs__backend *be, evs__keytab *keys,
                        const char *subject, evs_append_result *out,
                        int64_t *positions, const evs_batch_in *batches, size_t batch_count);

#endif /* EVS_BACKEND_H */
