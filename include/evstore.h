/*
 * evstore.h - the public interface of libevstore, an event store for event sourcing.
 *
 * This header is the authoritative reference: every function states what it does, the
 * codes it returns, who owns what it hands back, and which threads may call it.
 *
 * Model. A store holds events. Each event has a global position (`pos`: 1, 2, 3 ...,
 * gap-free, never reused), belongs to one stream (e.g. "order-42"), has a version inside
 * that stream (0, 1, 2 ...), a 16-byte UUID, a type, a timestamp (UTC nanoseconds,
 * assigned at append, never decreasing), a JSON `data` value and an optional JSON object
 * `metadata`. A stream belongs to category C when its name is C or starts with "C-":
 * "order-eu-7" is in the categories "order" and "order-eu", "orders-1" is not in "order"
 * (evs_query.category filters by it).
 *
 * The value -1. As a stream version it means "no event": the version of a stream that
 * does not exist (evs_stream_info.last_version), which is why EVS_EXPECT_NO_STREAM is -1
 * too, and a stream's last version can be passed as an expected version whether or not
 * the stream exists. Elsewhere -1 is a field's own marker, said at the field:
 * evs_query.from_version -1 is no bound (the stream's first version going forward, its
 * last going backward); EVS_FROM_END (-1) starts a subscription at the head; a timeout
 * or lock wait of -1 has no limit; an offset or a checkpoint of -1 is none or
 * unreadable. As a return code -1 is EVS_EINVAL; the functions that return a position
 * or a count (int64_t) never return an error code.
 *
 * Caveats.
 *  - A store directory must live on a local filesystem. Network filesystems do not
 *    give the locking and page-cache coherence the file backend relies on.
 *  - Do not use a store handle in a child after fork(); open a new one.
 *  - One writer at a time per store, across processes: appends are serialised by a
 *    lock file. Any number of processes may read while one appends.
 *
 * Threads. An evs_store may be shared by any number of threads: every function that
 * takes a store is thread-safe. A cursor (evs_cursor, evs_stream_iter) belongs to one
 * thread at a time. Error details (evs_errmsg) are kept per thread.
 *
 * Errors. Functions return an int: 0 (EVS_OK) on success, a negative EVS_E* code on
 * failure. After a failure, evs_errmsg() gives a one-line message for the calling
 * thread saying what failed, where (stream, file, byte offset, field) and why. A
 * successful call clears it. No function prints, exits or aborts on bad input.
 *
 * Conventions.
 *  - Argument order: out-parameters (what a call fills in or hands back: a new handle,
 *    a result, an event, a report) come first, then the handle the call works on, then
 *    its inputs: evs_open(&store, path, opts), evs_append(&res, store, stream, ...),
 *    evs_cursor_next(&ev, cursor), evs_wait(&head, store, after_pos, timeout_ms).
 *    Callbacks the application supplies take its context pointer first.
 *  - Getters: evs_X_get(&info, x) fills a struct describing x (evs_stream_get,
 *    evs_state_get, evs_push_get); evs_X_Y(x) returns x's single value Y
 *    (evs_subscription_position, evs_consumer_checkpoint).
 *  - Versioned structs (evs_options, evs_repair_opts, evs_query) start with a version
 *    field, set by their _INIT macro. Fields are only ever appended, and the library
 *    accepts every version from 1 to its own: a program built against an older header
 *    keeps working, the fields added after its version taking their defaults. A
 *    version newer than the library's is refused with EVS_EINVAL.
 *  - Names that start with evs__ or EVS__ are the library's own, not part of this
 *    interface.
 */
#ifndef EVSTORE_H
#define EVSTORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(EVS_BUILDING_LIBRARY) && defined(__GNUC__)
#define EVS_API __attribute__((visibility("default")))
#else
#define EVS_API
#endif

/* ---------------------------------------------------------------------------------- */
/* Version                                                                              */
/* ---------------------------------------------------------------------------------- */

#define EVS_VERSION_MAJOR  0
#define EVS_VERSION_MINOR  1
#define EVS_VERSION_PATCH  0
#define EVS_VERSION_NUMBER (EVS_VERSION_MAJOR * 10000 + EVS_VERSION_MINOR * 100 + EVS_VERSION_PATCH)
#define EVS_VERSION_STRING "0.1.0"

/** The library's version as EVS_VERSION_NUMBER; compare with the header's to detect a
 *  header/library mismatch. Thread-safe. */
EVS_API int evs_version(void);

/** The library's version as a static string such as "0.1.0". Thread-safe. */
EVS_API const char *evs_version_string(void);

/* ---------------------------------------------------------------------------------- */
/* Errors                                                                               */
/* ---------------------------------------------------------------------------------- */

/* The list is append-only and every value is pinned: codes are never renumbered or
 * reused. X(name, value, short description). */
#define EVS_ERROR_MAP(X)                                                                   \
    X(EINVAL, -1, "invalid argument or input")                                             \
    X(ECONFLICT, -2, "expected version does not match the stream")                         \
    X(ENOTFOUND, -3, "not found")                                                          \
    X(EBUSY, -4, "store or resource is busy")                                              \
    X(ECORRUPT, -5, "store data is corrupt")                                               \
    X(EIO, -6, "input/output error")                                                       \
    X(ENOSPC, -7, "no space left on device")                                               \
    X(ENOMEM, -8, "out of memory")                                                         \
    X(ECLOSED, -9, "store is closed")                                                      \
    X(EFATAL, -10, "store refuses writes after an unrecoverable I/O error; reopen it")     \
    X(EFORMAT, -11, "not a store, or a store of an unsupported format version")            \
    X(ENOTSUP, -12, "operation not supported")                                             \
    X(EMISUSE, -13, "library used incorrectly")                                            \
    X(ETIMEDOUT, -14, "timed out")                                                         \
    X(EEXIST, -15, "already exists")                                                       \
    X(EREADONLY, -16, "store was opened read-only")                                        \
    X(EHANDLER, -17, "an event handler reported an error")                                 \
    X(EIDCONFLICT, -18, "some event ids are already in the stream, but not as this batch") \
    X(ELOST, -19, "a consumer's checkpoint lies in positions a repair declared lost")     \
    X(EARGUMENT, -20, "a command's argument is invalid (evstore_domain.h)")                \
    X(EPRECONDITION, -21, "the aggregate's state does not allow the command")              \
    X(EFORBIDDEN, -22, "the actor holds none of the roles the command requires")          \
    X(EDELETED, -23, "the stream was deleted for good (a tombstone) and takes no events")

enum evs_error {
    EVS_OK = 0,
#define EVS__ERR_ENUM(name, value, text) EVS_##name = (value),
    EVS_ERROR_MAP(EVS__ERR_ENUM)
#undef EVS__ERR_ENUM
};

/** A static description of an error code ("expected version does not match the
 *  stream"), or "unknown error" for a value not in the list. Thread-safe. */
EVS_API const char *evs_errstr(int code);

/** The symbolic name of an error code ("EVS_ECONFLICT"), or "EVS_UNKNOWN". */
EVS_API const char *evs_errname(int code);

/** The calling thread's message for its last failed evstore call, or "" when the last
 *  call succeeded. The string is owned by the library and valid until the calling
 *  thread's next evstore call. Example: "append to stream 'order-42': expected version
 *  3 but the stream is at version 5". */
EVS_API const char *evs_errmsg(void);

/** The code of the calling thread's last failed evstore call (0 after a success). */
EVS_API int evs_errcode(void);

/* ---------------------------------------------------------------------------------- */
/* Limits                                                                               */
/* ---------------------------------------------------------------------------------- */

#define EVS_MAX_STREAM_LEN   1024               /* bytes of a stream name */
#define EVS_MAX_TYPE_LEN     256                /* bytes of an event type */
#define EVS_MAX_EVENT_LEN    (64u * 1024 * 1024) /* data + metadata of one event, bytes */
#define EVS_MAX_BATCH_LEN    (256u * 1024 * 1024) /* all events of one append, bytes */
#define EVS_MAX_BATCH_COUNT  1000000u            /* events in one append */
#define EVS_MAX_JSON_DEPTH   512                /* nesting of arrays and objects */
#define EVS_MAX_SUBJECT_LEN  256                /* bytes of an erasure subject */

/* ---------------------------------------------------------------------------------- */
/* Opening and closing                                                                  */
/* ---------------------------------------------------------------------------------- */

typedef struct evs_store evs_store;

/** When an append counts as acknowledged (see the README's "Guarantees"). */
typedef enum evs_sync_mode {
    EVS_SYNC_ALWAYS = 0, /* fdatasync before an append returns; concurrent appends share
                          * one sync (group commit: while threads keep appending, a
                          * commit waits up to half a sync for the ones just released,
                          * never when one thread appends alone). Survives power loss.
                          * The log file is kept up to 1 MiB ahead of the log in zeros,
                          * synced, so that a sync overwrites blocks already on disk;
                          * close cuts them (docs/FORMAT.md). */
    EVS_SYNC_BATCH = 1,  /* a background sync at most every sync_interval_ms; a power
                          * loss may lose the appends of the last interval. */
    EVS_SYNC_NONE = 2    /* never sync (the OS writes back in its own time); survives a
                          * process crash, not a power loss. */
} evs_sync_mode;

/* Flags for evs_options.flags. */
#define EVS_OPEN_NOCREATE 0x1u /* fail with EVS_ENOTFOUND when the store does not exist */
#define EVS_OPEN_READONLY 0x2u /* never append; never take the writer lock; never repair
                                * a torn tail (it still holds the open lock, see evs_open) */
#define EVS_OPEN_EXCLUSIVE_CREATE 0x4u /* fail with EVS_EEXIST when the store exists */

#define EVS_OPTIONS_VERSION 2

/** Options for evs_open. Always initialise with EVS_OPTIONS_INIT (or
 *  evs_options_init) and then set the fields you want: fields are only ever appended,
 *  and the library reads only the fields of the version the caller was compiled with. */
typedef struct evs_options {
    unsigned int version;        /* EVS_OPTIONS_VERSION */
    unsigned int flags;          /* EVS_OPEN_* */
    evs_sync_mode sync_mode;     /* default EVS_SYNC_ALWAYS */
    unsigned int sync_interval_ms; /* EVS_SYNC_BATCH period, default 10 ms */
    uint64_t segment_size;       /* bytes; a segment is closed once it would grow past
                                  * this. 0 (the default) = the size the store was created
                                  * with, 64 MiB for a new store; 64 KiB to 1 GiB. A store
                                  * remembers the size it was created with. An append is
                                  * never split, so one larger append makes one larger
                                  * segment. */
    int lock_wait_ms;            /* when another process holds the writer lock: 0 fail with
                                  * EVS_EBUSY at once, -1 wait as long as it takes, N wait
                                  * up to N ms. Default -1. */
    unsigned int checkpoint_bytes; /* add a run to the stream index after this many bytes
                                    * of log; bounds the work of the next open after a
                                    * crash and the log a reader scans past the index.
                                    * Default 32 MiB. 0 = default. */
    /* Version 2. */
    unsigned int compress_after; /* a writer compresses a sealed segment with zstd in the
                                  * background once this many segments follow it (1:
                                  * every sealed segment; see evs_compact). 0 (the
                                  * default) = never. Reads do not change. */
} evs_options;

#define EVS_OPTIONS_INIT {EVS_OPTIONS_VERSION, 0, EVS_SYNC_ALWAYS, 10, 0, -1, 0, 0}

/** Fill *opts with the defaults for `version` (pass EVS_OPTIONS_VERSION): only the
 *  fields that version has are written.
 *  @return 0, or EVS_EINVAL for a version outside 1..EVS_OPTIONS_VERSION. */
EVS_API int evs_options_init(evs_options *opts, unsigned int version);

/** Open the store in directory `path`, creating it (and the directory) when missing
 *  unless EVS_OPEN_NOCREATE is set. Opening repairs a torn tail left by a crash (an
 *  incomplete last batch is cut; nothing before it is touched) and costs the same
 *  whatever the size of the store. `opts` may be NULL for the defaults.
 *
 *  `path` may also be "sqlite:FILE": the store's tables in the SQLite database FILE
 *  (created when missing; the database may hold other tables), or
 *  "postgresql://USER@HOST:PORT/DB?schema=NAME" (any libpq URI, "postgres://" too):
 *  the store's tables in schema NAME of that PostgreSQL database ("evstore" when the
 *  URI names none; EVS_EIO when the server cannot be reached). The README's "Backends"
 *  and docs/SQL.md say what differs.
 *
 *  Every handle, read-only ones included, holds a shared lock on the store's OPEN file
 *  until it is closed (the kernel drops it if the process dies); evs_repair runs only
 *  when it can take that lock exclusively. While a repair runs, open waits for it as
 *  lock_wait_ms says.
 *
 *  @param out   receives the handle; set to NULL on failure.
 *  @return 0; EVS_ENOTFOUND (missing and NOCREATE); EVS_EEXIST (EXCLUSIVE_CREATE and the
 *          store exists); EVS_EFORMAT (the directory is not an evstore store or was made
 *          by a newer format); EVS_ECORRUPT (damage before the tail: the message names
 *          the file and byte offset; run `evstore verify`, then evs_repair); EVS_EBUSY
 *          (another process holds the writer lock during recovery, or a repair is
 *          running, and lock_wait_ms ran out); EVS_EINVAL; EVS_EIO; EVS_ENOSPC;
 *          EVS_ENOMEM.
 *  Thread-safe. The handle is closed with evs_close. */
EVS_API int evs_open(evs_store **out, const char *path, const evs_options *opts);

/** Close a store. Appends that returned are kept per the sync mode; in EVS_SYNC_BATCH
 *  and EVS_SYNC_NONE mode, close syncs the log before it returns. The zeros an
 *  EVS_SYNC_ALWAYS writer keeps ahead of the log are cut, unless another process is
 *  committing at that moment (it then uses them). Stream directories
 *  (a cache for whole-stream reads) are made in the background for the segments this
 *  handle sealed, and for sealed segments its reads found without a usable one (made
 *  before directories existed, or lost in a crash; read-only handles make none): close
 *  writes the ones still pending first, at most 8, about 30 ms each for a 64 MiB
 *  segment on the development machine. Cursors still open keep what they need
 *  alive; their next step returns EVS_ECLOSED and they must still be closed. Call it once, after
 * every other call on the store has returned. NULL is accepted and ignored.
 *  @return 0, or EVS_EIO when the final sync failed (the store is closed regardless). */
EVS_API int evs_close(evs_store *store);

/* ---------------------------------------------------------------------------------- */
/* Appending                                                                            */
/* ---------------------------------------------------------------------------------- */

/* Special expected versions for evs_append. A value >= 0 means "the stream's last
 * version must be exactly this". The special values are EventStoreDB's, so that a
 * client, a server or an importer speaking its protocol passes the numbers through
 * unchanged. -3 is its "invalid" marker and is reserved: evs_append refuses it with
 * EVS_EINVAL, as it refuses every other negative value not listed here. */
#define EVS_EXPECT_ANY       (-2) /* no check */
#define EVS_EXPECT_NO_STREAM (-1) /* the stream must not exist yet */
/*      reserved             (-3)    EventStoreDB's "invalid"; refused */
#define EVS_EXPECT_EXISTS    (-4) /* the stream must hold at least one event */

/** One event to append. Borrowed by evs_append for the duration of the call. */
typedef struct evs_event_in {
    const char *type;           /* NUL-terminated, 1..EVS_MAX_TYPE_LEN bytes, valid UTF-8,
                                 * no control characters */
    const char *data;           /* a JSON value, stored byte for byte */
    size_t data_len;
    const char *metadata;       /* a JSON object, or NULL for none */
    size_t metadata_len;
    const unsigned char *id;    /* 16 bytes, or NULL to have evstore generate a v4 UUID */
    int64_t ts_ns;              /* the event's time, UTC nanoseconds since 1970, for events
                                 * that happened before they are stored (a migration);
                                 * 0 = now, as the store stamps it. The store keeps ts
                                 * non-decreasing: a ts below the last stored event's (or
                                 * the event before it in the same append) is refused
                                 * with EVS_EINVAL naming both, and an event stamped
                                 * "now" after a given ts in the future gets that ts. */
} evs_event_in;

/** What an append did, per batch. */
typedef struct evs_append_result {
    int64_t first_pos;   /* the global position of the batch's first event */
    int64_t last_pos;    /* the global position of its last event. Written events have
                          * the positions first_pos..last_pos. For a duplicate they
                          * are where the events were stored first, in the same
                          * increasing order, but other streams' events may stand
                          * between them: the count of positions in first_pos..last_pos
                          * is then larger than the batch. evs_append_positions gives
                          * each event's position in both cases. */
    int64_t version;     /* the version of the batch's last event: for written events the
                          * stream's last version after the append; for a duplicate the
                          * version the event was stored at (the stream may have grown
                          * since). The batch's events have consecutive versions ending
                          * here in both cases. */
    int duplicate;       /* 1 when the batch was already in the stream and nothing was
                          * written (see evs_append's idempotence) */
} evs_append_result;

/** Append `count` events to `stream`, atomically: all of them become visible together
 *  or none does, also across a crash. Positions and stream versions are consecutive.
 *
 *  Idempotence: when every event carries an id and every one of them already stands in
 *  the stream at consecutive versions in the batch's order, the call writes nothing
 *  and returns the original result with out->duplicate = 1 (a retry after a timeout
 *  never duplicates events), whatever the expected version. When an id of the batch is
 *  in the stream in any other way (only some of them, or in another order), it fails
 *  with EVS_EIDCONFLICT and writes nothing. One call may not carry the same id twice in
 *  a batch (EVS_EINVAL).
 *
 *  Durability: on return the events are stored per the store's sync mode (with
 *  EVS_SYNC_ALWAYS they survive power loss).
 *
 *  @param out               receives the result; may be NULL.
 *  @param stream            NUL-terminated, 1..EVS_MAX_STREAM_LEN bytes, valid UTF-8, no
 *                           control characters.
 *  @param expected_version  a version >= 0, EVS_EXPECT_ANY, EVS_EXPECT_NO_STREAM or
 *                           EVS_EXPECT_EXISTS.
 *  @return 0; EVS_ECONFLICT (expected version mismatch: the message names the stream,
 *          the expected and the actual version; nothing written); EVS_EIDCONFLICT (an
 *          id of the batch is in the stream already, but the batch is not the one
 *          appended then: the message names the id, its event's index and the version
 *          holding it; nothing written); EVS_EINVAL (a bad event: the message names the
 *          event's index and field; nothing written);
 *          EVS_EBUSY (another process holds the writer lock past lock_wait_ms);
 *          EVS_EREADONLY; EVS_ENOSPC or EVS_EIO (the write or its sync failed; when a
 *          sync failed, or a failed write could not be undone, the store refuses every
 *          later write with EVS_EFATAL until it is reopened, and the message says why);
 *          EVS_EFATAL (refused after such an earlier failure); EVS_ENOMEM.
 *  Thread-safe; concurrent appends from several threads share syncs. */
EVS_API int evs_append(evs_append_result *out, evs_store *store, const char *stream,
                       int64_t expected_version, const evs_event_in *events, size_t count);

/** evs_append, also giving each event's own position: on success positions[k] is the
 *  position of events[k], for written events (first_pos + k) and for a duplicate alike
 *  (where each event was stored first, which need not be consecutive). The array is
 *  the caller's: nothing is allocated for it.
 *  @param positions  room for `count` positions, or NULL (then as evs_append). Its
 *                    contents are unspecified after a failure.
 *  @return as evs_append. Thread-safe. */
EVS_API int evs_append_positions(evs_append_result *out, int64_t *positions, evs_store *store,
                                 const char *stream, int64_t expected_version,
                                 const evs_event_in *events, size_t count);

/** One stream's part of a multi-stream append. */
typedef struct evs_batch_in {
    const char *stream;          /* as for evs_append */
    int64_t expected_version;    /* as for evs_append, checked against the stream as the
                                  * batches before it in the same call left it */
    const evs_event_in *events;
    size_t count;
} evs_batch_in;

/** Append several batches, possibly to different streams (a stream may appear more than
 *  once), as one atomic unit: all are written or none, with one sync. Each batch's
 *  result goes to out[i] (out may be NULL). A batch whose ids are all already in its
 *  stream is a duplicate (out[i].duplicate = 1) and writes nothing; the others are
 *  written. Returns like evs_append; on EVS_ECONFLICT, EVS_EIDCONFLICT or EVS_EINVAL
 *  the message names the batch index, and nothing of any batch is written.
 *  Thread-safe. */
EVS_API int evs_append_multi(evs_append_result *out, evs_store *store, const evs_batch_in *batches,
                             size_t batch_count);

/** evs_append_multi, also giving each event's own position (as evs_append_positions):
 *  `positions` has room for every event of every batch, in order (batch 0's events,
 *  then batch 1's ...), or is NULL. @return as evs_append_multi. Thread-safe. */
EVS_API int evs_append_multi_positions(evs_append_result *out, int64_t *positions,
                                       evs_store *store, const evs_batch_in *batches,
                                       size_t batch_count);

/** Make everything appended so far durable now, whatever the sync mode.
 *  @return 0; EVS_EIO or EVS_ENOSPC (the sync failed: the store now refuses writes
 *          until reopened); EVS_EFATAL (it already did); EVS_EREADONLY. Thread-safe. */
EVS_API int evs_sync(evs_store *store);

/* ---------------------------------------------------------------------------------- */
/* Reading                                                                              */
/* ---------------------------------------------------------------------------------- */

/** A stored event, as a cursor hands it out. Every pointer is borrowed: it points into
 *  the store's log (its mapping, or the cursor's read buffer) and stays valid only
 *  until the next evs_cursor_next or evs_cursor_close on the same cursor. Do not
 *  modify or free it. Strings are NOT NUL-terminated: use the lengths. */
typedef struct evs_event {
    int64_t pos;              /* global position, >= 1 */
    int64_t version;          /* index inside the stream, >= 0 */
    int64_t ts_ns;            /* append time, UTC nanoseconds since 1970 */
    const char *stream;
    size_t stream_len;
    const char *type;
    size_t type_len;
    const char *data;         /* JSON, exactly the bytes given to evs_append */
    size_t data_len;
    const char *metadata;     /* JSON object, or NULL when the event has none */
    size_t metadata_len;
    unsigned char id[16];     /* UUID */
} evs_event;

/* Directions for evs_query.direction. */
#define EVS_FORWARD  0
#define EVS_BACKWARD 1

#define EVS_QUERY_VERSION 1

/** What to read. Start from EVS_QUERY_INIT (everything, forward) and set fields.
 *  All filters combine with AND; `types` is an OR over its entries. */
typedef struct evs_query {
    unsigned int version;      /* EVS_QUERY_VERSION */
    int direction;             /* EVS_FORWARD or EVS_BACKWARD */
    int64_t from_pos;          /* forward: first pos >= from_pos; backward: first pos <=
                                * from_pos. 0 = the start (forward) or the end (backward) */
    int64_t to_pos;            /* forward: the last position to give; backward: the
                                * lowest position to give (inclusive both ways).
                                * 0 = no bound */
    const char *stream;        /* read only this stream (NUL-terminated), or NULL */
    int64_t from_version;      /* with `stream`: forward from this version, or backward
                                * from it; -1 = the start (forward) / the end (backward) */
    const char *const *types;  /* only events of one of these types, or NULL */
    size_t type_count;
    const char *category;      /* only streams of this category: C matches the stream
                                * named C and streams whose name starts with "C-"
                                * ("order" matches "order" and "order-42", not
                                * "orders-1"; "order-eu" matches "order-eu-7"), or
                                * NULL */
    const char *prefix;        /* only streams whose name starts with this, or NULL */
    int64_t since_ns;          /* only events with ts >= since_ns; 0 = no bound */
    int64_t until_ns;          /* only events with ts < until_ns; 0 = no bound */
    uint64_t limit;            /* at most this many events; 0 = no limit */
} evs_query;

#define EVS_QUERY_INIT {EVS_QUERY_VERSION, EVS_FORWARD, 0, 0, NULL, -1, NULL, 0, NULL, NULL, 0, 0, 0}

typedef struct evs_cursor evs_cursor;

/** Open a cursor over the events `query` selects (NULL = every event, forward). The
 *  cursor sees the events committed when it was opened, and, going forward, events
 *  committed later as it reaches them. The query and everything it points to are
 *  copied: the caller may free them at once. Memory use does not grow with the store.
 *  @return 0, EVS_EINVAL (bad query: the message names the field), EVS_ENOMEM,
 *          EVS_ECLOSED. Thread-safe. */
EVS_API int evs_cursor_open(evs_cursor **out, evs_store *store, const evs_query *query);

/** Step the cursor. Idiom: `while ((rc = evs_cursor_next(&ev, c)) > 0) { ... }`.
 *  @return 1 with *out filled (pointers valid until the next step or close); 0 at the
 *          end; EVS_ECORRUPT (message names file and byte offset), EVS_EIO,
 *          EVS_ECLOSED. One thread at a time per cursor. */
EVS_API int evs_cursor_next(evs_event *out, evs_cursor *cursor);

/** Close a cursor. NULL is accepted and ignored. */
EVS_API void evs_cursor_close(evs_cursor *cursor);

/** Find the position of the first event whose timestamp is >= ts_ns.
 *  @param out  receives the position, or (last position + 1) when every event is older.
 *  @return 0, EVS_EIO, EVS_ECORRUPT. Thread-safe. Cost is logarithmic in the store. */
EVS_API int evs_find_time(int64_t *out, evs_store *store, int64_t ts_ns);

/* ---------------------------------------------------------------------------------- */
/* Streams and statistics                                                               */
/* ---------------------------------------------------------------------------------- */

/** What the store knows of one stream. */
typedef struct evs_stream_info {
    int exists;               /* 0 when the stream has no events (the rest is then 0/-1) */
    int64_t last_version;     /* -1 when the stream does not exist */
    int64_t event_count;      /* last_version + 1 */
    int64_t first_pos;        /* position of version 0 */
    int64_t last_pos;         /* position of the last version */
} evs_stream_info;

/** Look a stream up. A missing stream is not an error: out->exists is 0.
 *  @return 0, EVS_EINVAL (bad name), EVS_EIO, EVS_ECORRUPT. Thread-safe. */
EVS_API int evs_stream_get(evs_stream_info *out, evs_store *store, const char *stream);

typedef struct evs_stream_iter evs_stream_iter;

/** List the streams whose name starts with `prefix` (NULL or "" = all), in no
 *  particular order. The list is a snapshot taken when the iterator is opened.
 *  @return 0, EVS_ENOMEM, EVS_ECLOSED. */
EVS_API int evs_streams_open(evs_stream_iter **out, evs_store *store, const char *prefix);

/** Next stream: `*name` (borrowed, NUL-terminated, valid until the next step or close)
 *  and its info. @return 1 with a stream, 0 at the end, < 0 on error. */
EVS_API int evs_streams_next(const char **name, size_t *name_len, evs_stream_info *info,
                             evs_stream_iter *it);

/** Close a stream iterator. NULL is accepted. */
EVS_API void evs_streams_close(evs_stream_iter *it);

/* ---------------------------------------------------------------------------------- */
/* Stream lifecycle: deletion, truncation, retention                                     */
/* ---------------------------------------------------------------------------------- */

/* A stream's lifecycle settings live in the log, as events of type "$metadata" in the
 * reserved stream "$meta-" + its name (docs/FORMAT.md, "Stream metadata"): the newest
 * such event holds them all. They are as durable and crash-safe as any append, they
 * travel with an export, and they change nothing that is stored: they decide which of
 * the stream's events reads return. Every read obeys them (cursors, stream and log
 * reads, queries, subscriptions, consumers, read models): an event they leave out is
 * skipped as a filter skips it, its position stays its own and is never reused, and a
 * reader holding a position goes on from it. The "$meta-" stream's own events are
 * always read. An open cursor takes a change made after it opened into account within
 * a second. Appends to a stream whose events are hidden go on at the next version. */

#define EVS_META_STREAM_PREFIX "$meta-" /* + the stream's name */
#define EVS_META_EVENT_TYPE    "$metadata"

/** A stream's lifecycle settings. 0 in a field means "not set". */
typedef struct evs_stream_meta {
    int64_t truncate_before; /* events of a lower version are not read; it only grows */
    int64_t max_count;       /* only the newest max_count events are read */
    int64_t max_age_ns;      /* only events whose ts is within max_age_ns of now are read */
    int deleted;             /* 1: deleted for good (a tombstone): nothing is read, and
                              * appends are refused with EVS_EDELETED */
} evs_stream_meta;

/** Read `stream`'s settings (all 0 when it has none). The stream need not exist.
 *  @return 0; EVS_EINVAL (bad name); EVS_ECORRUPT (its newest "$metadata" event is not
 *          one this library can read: the message names its position); EVS_EIO.
 *  Thread-safe. */
EVS_API int evs_stream_meta_get(evs_stream_meta *out, evs_store *store, const char *stream);

/** Set `stream`'s max_count and max_age_ns, and raise its truncate_before, by appending
 *  one "$metadata" event (its other settings are kept). The stream need not exist yet.
 *  A concurrent change of the same stream's settings is retried, not lost.
 *  @return 0; EVS_EINVAL (bad name, a "$meta-" stream, a negative field, `deleted` set,
 *          or truncate_before below the one in force: nothing written); EVS_EDELETED
 *          (the stream is deleted for good); the errors of evs_append. Thread-safe. */
EVS_API int evs_stream_meta_set(evs_store *store, const char *stream, const evs_stream_meta *meta);

#define EVS_DELETE_HARD 0x1u /* a tombstone: the stream is gone for good */

/** Delete `stream`, or truncate it.
 *  - before_version -1, flags 0 (soft delete): the stream reads as empty; its versions
 *    are kept, so appending again continues after its last version (and only the new
 *    events are read).
 *  - before_version V >= 0, flags 0 (truncate): its events below version V are no
 *    longer read (truncate_before only grows: a lower V than the one in force is
 *    refused).
 *  - before_version -1, EVS_DELETE_HARD: a tombstone. Nothing of it is read again, its
 *    settings can no longer change, and every later append to it fails with
 *    EVS_EDELETED. An append racing with the delete may still land; it is never read.
 *  The events stay in the log until its segments are dropped or rewritten (README,
 *  "Lifecycle"). Deleting a stream that does not exist is allowed (a tombstone then
 *  reserves the name).
 *  @return 0; EVS_EINVAL (bad name, a "$meta-" stream, before_version < -1, a version
 *          below the truncation in force, EVS_DELETE_HARD with a version, unknown
 *          flags: nothing written); EVS_EDELETED (already deleted for good); the errors
 *          of evs_append. Thread-safe. */
EVS_API int evs_stream_delete(evs_store *store, const char *stream, int64_t before_version,
                              unsigned int flags);

/* ---------------------------------------------------------------------------------- */
/* Store retention: dropping the oldest segments                                        */
/* ---------------------------------------------------------------------------------- */

/* Retention drops whole sealed segments (the log's files of events), oldest first, so
 * the log's first position moves forward. Positions never change: a read from a
 * position before the new start begins at the start, a stream whose first events
 * were dropped reads from its first kept version, and appends go on numbering each
 * stream's versions. The start is kept durably (the `start` file, docs/FORMAT.md):
 * open, verify, reads, evs_find_time and evs_stat understand a log that starts later
 * than 1. The segment being written is never dropped. */

#define EVS_RETAIN_DRY_RUN 0x1u /* say what would be dropped; change nothing */

#define EVS_RETAIN_OPTS_VERSION 1

/** What to drop; the policies combine with OR, and only a run of the oldest segments
 *  is dropped (a segment stays when the one before it stays). */
typedef struct evs_retain_opts {
    unsigned int version;  /* EVS_RETAIN_OPTS_VERSION */
    unsigned int flags;    /* EVS_RETAIN_* */
    int64_t max_age_ns;    /* drop segments whose newest event is older than this; 0 = no */
    int64_t max_bytes;     /* drop the oldest segments while the segment files hold more
                            * than this many bytes; 0 = no */
    int64_t before_pos;    /* drop segments whose events all lie before this position
                            * (what evs_discard passes); 0 = no */
} evs_retain_opts;

#define EVS_RETAIN_OPTS_INIT {EVS_RETAIN_OPTS_VERSION, 0, 0, 0, 0}

/** What retention dropped (or, with EVS_RETAIN_DRY_RUN, would drop). */
typedef struct evs_retain_report {
    int64_t segments_dropped;
    int64_t bytes_dropped;   /* bytes of the segment files removed */
    int64_t old_start;       /* the log's first position before */
    int64_t new_start;       /* and after */
} evs_retain_report;

/** Drop the oldest sealed segments of the store in directory `dir` as `opts` says.
 *  Like evs_repair it needs the store to itself: it fails with EVS_EBUSY while any
 *  handle, in any process, has it open (readers included). It first opens the store
 *  to write and closes it (recovering a crash's tail, and bringing the stream index up
 *  to the log's end, which keeps the versions of streams whose events are dropped),
 *  then moves the start, durably, and only then removes the files: a crash at any
 *  point leaves the old start with every segment, or the new start (segments left
 *  below it are ignored, and removed by the next writer). Segments are dropped only up
 *  to the position the stream index covers.
 *  @return 0; EVS_EBUSY; EVS_EINVAL (bad options: nothing changed); EVS_ENOTFOUND (no
 *          store); EVS_ENOTSUP (the SQLite backend); EVS_ECORRUPT; EVS_EIO. */
EVS_API int evs_retain(evs_retain_report *out, const char *dir, const evs_retain_opts *opts);

/** Discard (futoin-eventstream's discarder): drop the sealed segments whose events
 *  every durable consumer has acknowledged, or every consumer named in `consumers`
 *  (`count` names; 0 = all of the store's). It reads their checkpoints, then calls
 *  evs_retain with before_pos one past the lowest (so it needs the store to itself,
 *  as evs_retain does). A consumer whose checkpoint cannot be read stops it.
 *  @param flags  0 or EVS_RETAIN_DRY_RUN.
 *  @return as evs_retain; EVS_ENOTFOUND (a named consumer does not exist);
 *          EVS_EINVAL (the store has no durable consumer, so nothing is acknowledged;
 *          unknown flags); EVS_ECORRUPT (a checkpoint is unreadable: its name in the
 *          message). */
EVS_API int evs_discard(evs_retain_report *out, const char *dir, const char *const *consumers,
                        size_t count, unsigned int flags);

/** Store-wide figures. */
typedef struct evs_stat_info {
    int64_t event_count;
    int64_t stream_count;
    int64_t segment_count;
    int64_t log_bytes;        /* bytes of the segment files up to the log's end:
                               * headers, records, padding */
    int64_t first_pos;        /* 0 when the store is empty */
    int64_t last_pos;         /* 0 when the store is empty */
    int64_t first_ts_ns;      /* 0 when empty */
    int64_t last_ts_ns;       /* 0 when empty */
    evs_sync_mode sync_mode;  /* this handle's sync mode (it is chosen per open) */
    uint64_t segment_size;    /* the store's segment size */
    int64_t lost_positions;   /* positions up to last_pos that a repair declared lost:
                               * no event has them, none ever will (event_count leaves
                               * them out; first_pos is the first that has an event) */
} evs_stat_info;

/** Fill *out with the store's figures as of now. @return 0, EVS_EIO. Thread-safe. */
EVS_API int evs_stat(evs_stat_info *out, evs_store *store);

/** The position of the last committed event (0 for an empty store), including events
 *  appended by other processes. Cheap: reads a shared counter. Thread-safe. */
EVS_API int64_t evs_head(evs_store *store);

/** Block until the store's head passes `after_pos` (an event with pos > after_pos is
 *  committed, by any process) or `timeout_ms` passes (-1 = no limit). No polling: it
 *  sleeps on a futex in the store's shared head file.
 *  @return 0 (*head_out = the new head, may be NULL), EVS_ETIMEDOUT, EVS_ECLOSED. */
EVS_API int evs_wait(int64_t *head_out, evs_store *store, int64_t after_pos, int timeout_ms);

/* ---------------------------------------------------------------------------------- */
/* Verification                                                                         */
/* ---------------------------------------------------------------------------------- */

/** One problem found by evs_verify. Strings are borrowed for the callback's duration. */
typedef struct evs_problem {
    const char *file;         /* file name inside the store directory */
    int64_t offset;           /* byte offset in that file, or -1 */
    int64_t pos;              /* position concerned, or 0 */
    const char *what;         /* one line */
} evs_problem;

typedef struct evs_verify_report {
    int64_t events_checked;
    int64_t bytes_checked;    /* record bytes whose checksum was checked (padding and
                               * segment headers not counted) */
    int64_t segments_checked;
    int64_t streams_checked;
    int64_t problem_count;
    int64_t lost_count;       /* positions a repair declared lost: known, not damage */
} evs_verify_report;

/** Called by evs_verify for each problem (problem != NULL) and for progress (problem ==
 *  NULL; done/total are bytes). Return non-zero to stop early. */
typedef int (*evs_verify_cb)(void *ctx, const evs_problem *problem, int64_t done,
                             int64_t total);

/** Read the whole log, check every record's checksum and framing, that positions are
 *  gap-free, stream versions contiguous, and that the stream index agrees with the log.
 *  @return 0 when whole; EVS_ECORRUPT when problems were found (each one went to `cb`);
 *          EVS_EIO. `cb` and `report` may be NULL. Thread-safe; appends may continue. */
EVS_API int evs_verify(evs_verify_report *report, evs_store *store, evs_verify_cb cb, void *ctx);

/* ---------------------------------------------------------------------------------- */
/* Compression                                                                          */
/* ---------------------------------------------------------------------------------- */

/** What evs_compact did. */
typedef struct evs_compact_report {
    int64_t segments;         /* sealed segments compressed by this call */
    int64_t already;          /* sealed segments found compressed already */
    int64_t damaged;          /* sealed segments left plain because they are damaged */
    int64_t plain_bytes;      /* bytes of the plain files compressed by this call */
    int64_t compressed_bytes; /* bytes of the compressed files that replaced them */
} evs_compact_report;

/** Compress the store's sealed segments with zstd, all but the newest `keep` of them
 *  (the segment appends go to is never compressed). Each is replaced by a compressed
 *  file in independent frames (docs/FORMAT.md), crash-safely: at every moment the
 *  plain file or the compressed one is whole. Every read, subscription, consumer and
 *  verify works the same on compressed segments; a read decompresses only the frames
 *  it touches. Other handles, readers and writers, may run meanwhile.
 *  A segment's records are checked before it is compressed: a damaged one is left plain
 *  (report->damaged) and the others are still compressed.
 *  @return 0; EVS_ECORRUPT when a segment was left for damage (the error names the file
 *          and offset); EVS_EREADONLY; EVS_ENOTSUP on a backend without segments;
 *          EVS_EIO. `report` may be NULL. Thread-safe. */
EVS_API int evs_compact(evs_store *store, unsigned int keep, evs_compact_report *report);

/** A cheaper evs_verify that checks the store's structure but not every byte.
 *
 *  Checked: every segment's header (magic, checksum, first position, store id) and that
 *  segments continue each other's positions; every record's frame, following the chain
 *  of record lengths (length and field sizes consistent, known flags, position one past
 *  the previous record's, a plausible version and stream link); that every segment file
 *  ends where its records do and the log where the head page says; the checksums of
 *  the first and the last record of every segment and of every record in the last MiB
 *  of the log (where crashes and power losses leave damage).
 *  Not checked: the checksums of the other records, so bit rot inside an older event's
 *  stream name, type, metadata or data goes unseen; stream version chains; the stream
 *  index against the log. evs_verify checks all of these. Neither looks at the caches'
 *  own files (index.snap, the .idx offset indexes): damage there costs time, not data,
 *  and they are rebuilt from the log.
 *
 *  Cost: the 88-byte header of every record is decoded, but no checksum is computed over
 *  older records and no stream table is built: about a third of evs_verify's CPU time
 *  on ~100-byte events. The files are still read whole from disk (their pages hold the
 *  headers). In report, events_checked counts the frames checked and bytes_checked the
 *  bytes whose checksum was checked.
 *  @return as evs_verify. Thread-safe; appends may continue. */
EVS_API int evs_verify_quick(evs_verify_report *report, evs_store *store, evs_verify_cb cb,
                             void *ctx);

/* ---------------------------------------------------------------------------------- */
/* Repair                                                                               */
/* ---------------------------------------------------------------------------------- */

/* Flags for evs_repair_opts.flags. */
#define EVS_REPAIR_DRY_RUN 0x1u /* find and report what would be cut; change nothing
                                 * (runs beside open handles, see evs_repair) */
#define EVS_REPAIR_KEEP_INTACT 0x2u /* damage inside the log costs only the positions it
                                     * hit: the intact records after it are kept (see
                                     * evs_repair) */

#define EVS_REPAIR_OPTS_VERSION 1

/** Options for evs_repair. Initialise with EVS_REPAIR_OPTS_INIT; fields are only ever
 *  appended. */
typedef struct evs_repair_opts {
    unsigned int version; /* EVS_REPAIR_OPTS_VERSION */
    unsigned int flags;   /* EVS_REPAIR_* */
} evs_repair_opts;

#define EVS_REPAIR_OPTS_INIT {EVS_REPAIR_OPTS_VERSION, 0}

/** What evs_repair found and did. Positions are 0 where they do not apply. */
typedef struct evs_repair_report {
    int damaged;            /* 1 when the store needed repair (a dry run: needs it) */
    int64_t kept_last_pos;  /* the last position of the log after the repair (0: empty) */
    int64_t first_lost_pos; /* the first position lost (kept_last_pos + 1 after a cut),
                             * 0 when none was */
    int64_t last_lost_pos;  /* the last position lost: after a cut, the highest position
                             * the store is known to have committed past it (the highest
                             * committed record still recognisable in the bytes cut off,
                             * or the head page's last published position when that is
                             * higher) */
    int64_t lost_count;     /* positions lost: events no longer in the store (0 when the
                             * bytes cut off held no complete append); without
                             * EVS_REPAIR_KEEP_INTACT, last_lost_pos - kept_last_pos */
    int64_t bytes_moved;    /* log bytes cut off or replaced by fillers, saved in saved_to
                             * (dry run: to be) */
    int64_t files_moved;    /* files in saved_to holding them (one per damaged place
                             * that EVS_REPAIR_KEEP_INTACT filled, the kept segment's
                             * tail, whole later segments) */
    char damage_file[64];   /* the first damage: the file inside the store directory, */
    int64_t damage_offset;  /* its byte offset (-1: the whole file), */
    int64_t damage_pos;     /* the position expected there, */
    char damage_what[384];  /* and what is wrong, one line */
    char saved_to[4096];    /* the directory the cut bytes went to, "" if none (a dry
                             * run: the one a repair run now would make) */
    int64_t consumers_affected; /* durable consumers whose checkpoint lies in
                                 * first_lost_pos..last_lost_pos: they processed events
                                 * that are gone, and must be reset */
    char consumers_affected_names[1024]; /* their names, comma-separated ("..." when
                                          * they do not all fit) */
    int64_t lost_ranges;    /* ranges of positions lost (several with
                             * EVS_REPAIR_KEEP_INTACT: one per damaged place) */
    char lost_ranges_list[1024]; /* them, "F..L" or "P", comma-separated, in position
                                  * order ("..." when they do not all fit) */
} evs_repair_report;

/** Repair the store in directory `dir`: cut its log at the first damaged record and
 *  rebuild what depends on the log, losing nothing silently.
 *
 *  The store must not be open anywhere: evs_repair takes the open lock every handle
 *  holds (evs_open) exclusively, without waiting, and holds it (and the writer lock)
 *  throughout, so no process opens the store meanwhile (opens wait for it).
 *  EVS_REPAIR_DRY_RUN changes nothing, so it takes the open lock shared, as a reader,
 *  and the writer lock waiting for it (appends wait while it reads the log): it runs
 *  while other handles have the store open, and on a read-only file system.
 *
 *  It reads the whole log as evs_verify does. The log is kept up to the end of the last
 *  complete append before the first problem verify would report there (a bad segment
 *  header, a gap, a bad frame or checksum, a position out of order, an event that does
 *  not continue its stream, an append without its commit record); when there is none,
 *  the log is whole and nothing is cut. Before the cut, every byte from the cut point
 *  to the end of the log is kept: the rest of the cut segment is copied, and every later
 *  segment file moved whole, into a new directory `dir`/repair-YYYYMMDDTHHMMSSZ/, with
 *  a REPAIR.txt that says what was cut and why. Then the stream index snapshot is
 *  rebuilt, the head page republished, and the store opens and verifies clean. It is
 *  also the way out of the case where evs_open refuses a store with EVS_ECORRUPT after
 *  a power loss lost the head page (valid records after a hole).
 *  When the log is whole but the head page of this boot promises more of it than there
 *  is (a segment file was truncated at a record boundary), nothing is cut: the head is
 *  republished and the report names the positions missing.
 *  A store with nothing to repair is not changed at all (out->damaged == 0).
 *
 *  EVS_REPAIR_KEEP_INTACT: damage in a record costs that record, not the log after it.
 *  At damage inside a segment, the scan looks on (8-byte aligned) for the next whole
 *  record whose position the damaged bytes can have led up to; the positions in between
 *  are declared lost, their bytes saved in the repair folder and then overwritten in
 *  place by filler records that no read hands out, and every record after is kept byte
 *  for byte at its place. Fillers keep the stream, version and links of the event they
 *  replace when the damaged header or a later event's link says whose it was, so stream
 *  reads and the next version stay right. Order: bytes saved, `lost` file (synced),
 *  fillers (synced); a repair stopped anywhere is finished by running it again. The cut
 *  remains where nothing whole follows the damage (the end of the log, a torn tail, a
 *  damaged segment header).
 *
 *  Positions are never reused: when positions past kept_last_pos were handed out
 *  (last_lost_pos > kept_last_pos), they are declared lost (the store's `lost` file),
 *  the log goes on at last_lost_pos + 1 in a new segment, reads step over them, and
 *  evs_verify and evs_stat count them as lost, not as damage. A durable consumer whose
 *  checkpoint lies in the lost positions (out->consumers_affected) must be reset:
 *  evs_consumer_open refuses it with EVS_ELOST until evs_consumer_reset.
 *
 *  @param out   filled on success (and as far as known on failure); required.
 *  @param dir   the store's directory.
 *  @param opts  NULL for the defaults.
 *  @return 0, whether or not there was anything to repair; EVS_EBUSY (a handle has the
 *          store open, in this or another process: the message names the processes
 *          where the system tells); EVS_ENOTFOUND (no store there); EVS_EFORMAT;
 *          EVS_ECORRUPT (evstore.meta itself is damaged: repair cannot tell the store's
 *          identity); EVS_EIO, EVS_ENOSPC (saving the cut bytes failed: nothing was
 *          changed; a failure after that point says so, and running evs_repair again
 *          finishes the job); EVS_EINVAL (bad options); EVS_ENOTSUP; EVS_ENOMEM.
 *  Thread-safe. */
EVS_API int evs_repair(evs_repair_report *out, const char *dir, const evs_repair_opts *opts);

/* ---------------------------------------------------------------------------------- */
/* Backup                                                                               */
/* ---------------------------------------------------------------------------------- */

/* Flags for evs_backup_opts.flags. */
#define EVS_BACKUP_COPY 0x1u /* copy every segment, never hard-link one: the backup then
                              * shares no blocks with the store (hard links survive the
                              * store's files being deleted, not the disk failing) */

#define EVS_BACKUP_OPTS_VERSION 1

/** Options for evs_backup. Initialise with EVS_BACKUP_OPTS_INIT; fields are only ever
 *  appended. */
typedef struct evs_backup_opts {
    unsigned int version; /* EVS_BACKUP_OPTS_VERSION */
    unsigned int flags;   /* EVS_BACKUP_* */
} evs_backup_opts;

#define EVS_BACKUP_OPTS_INIT {EVS_BACKUP_OPTS_VERSION, 0}

/** What evs_backup did. */
typedef struct evs_backup_report {
    int64_t pos;             /* the backup holds every event up to this position */
    int64_t prev_pos;        /* the earlier backup's position in the destination, 0 if
                              * there was none */
    int64_t segments;        /* segment files in the backup */
    int64_t segments_kept;   /* taken over from the earlier backup (incremental) */
    int64_t segments_linked; /* hard-linked from the store (same file system) */
    int64_t segments_copied; /* copied from the store (the active one always is) */
    int64_t bytes_copied;    /* bytes read from the store and written */
    int64_t bytes_total;     /* bytes of the backup's segment files */
    int64_t events_verified; /* events evs_verify checked in the finished backup */
} evs_backup_report;

/** Make a consistent copy of an open store in directory `dest`, while other threads and
 *  processes append to it and read it (file backend only).
 *
 *  The backup holds every event up to the position committed when it starts
 *  (out->pos), and nothing after. Sealed segments never change, so they are hard-linked
 *  when `dest` is on the store's file system (unless EVS_BACKUP_COPY) and copied
 *  otherwise; the segment being written is copied up to that position. Segments that an
 *  earlier backup in `dest` holds whole are taken over from it (an incremental backup
 *  copies only new segments and the active one). The stream index, head page and
 *  `synced` file are made afresh for the backup; caches of sealed segments (.idx, .sdx,
 *  .tdx) are taken along, as they are checked before any use. Durable consumers'
 *  checkpoints are copied (taken before the position, so none lies past it). The new
 *  backup is built beside `dest` (in `.NAME.evstore-backup-new` in its parent), synced,
 *  opened and verified with evs_verify, and then swapped for `dest` in one atomic rename:
 *  a crash at any moment leaves `dest` holding the earlier backup or the new one, whole
 *  (leftovers beside it are removed by the next evs_backup). `dest` then opens as a
 *  store of its own (the same store id) and carries a `backup` file naming its position.
 *
 *  `dest` must be missing, an empty directory, or an earlier backup of this store, and
 *  not a mount point (its parent holds the new backup while it is built). No handle may
 *  have `dest` open while it runs (EVS_EBUSY).
 *  @return 0; EVS_EINVAL (dest is a file, the store's own directory, a non-empty
 *          directory that is not a backup, a mount point), EVS_EEXIST (a backup of
 *          another store), EVS_EBUSY, EVS_ENOSPC, EVS_EIO (the destination is left as it
 *          was, the message names the file), EVS_ECORRUPT (the new backup failed
 *          verification: the store's damage; dest unchanged), EVS_ENOTSUP (not the file
 *          backend), EVS_ENOMEM.
 *  Thread-safe; appends and reads go on meanwhile. */
EVS_API int evs_backup(evs_backup_report *out, evs_store *store, const char *dest,
                       const evs_backup_opts *opts);

/* ---------------------------------------------------------------------------------- */
/* Archive tier                                                                         */
/* ---------------------------------------------------------------------------------- */

#define EVS_ARCHIVE_OPTS_VERSION 1

/** Options for evs_archive. Initialise with EVS_ARCHIVE_OPTS_INIT; fields are only ever
 *  appended. */
typedef struct evs_archive_opts {
    unsigned int version;  /* EVS_ARCHIVE_OPTS_VERSION */
    const char *dir;       /* the archive directory (another disk or mount); NULL: the
                            * one the store keeps. Given, it and the two rules below are
                            * kept as the store's policy (its `archive` file). */
    int64_t older_than_ns; /* move sealed segments sealed longer ago than this */
    int64_t keep_bytes;    /* move sealed segments but the newest this many bytes of log */
} evs_archive_opts;

#define EVS_ARCHIVE_OPTS_INIT {EVS_ARCHIVE_OPTS_VERSION, NULL, 0, 0}

/** What evs_archive did. */
typedef struct evs_archive_report {
    int64_t segments_moved;    /* moved by this call */
    int64_t bytes_moved;
    int64_t segments_archived; /* in the archive now, all told */
    int64_t bytes_archived;
    int64_t segments_local;    /* still in the store's directory (the active one too) */
    int64_t bytes_local;
} evs_archive_report;

/** Move sealed segments of the store to its archive directory (file backend only):
 *  futoin-eventstream's archiver. Reads of archived positions go on working, the same
 *  for every reader, subscription and verify, only slower when the archive is.
 *
 *  Which: sealed segments, oldest first, that a rule selects: older_than_ns (sealed
 *  longer ago than that: the next segment was begun before it) or keep_bytes (all but
 *  the newest keep_bytes of log stay); with neither rule (both 0, none kept either),
 *  every sealed segment. Rules left 0 while dir is NULL are the kept ones. The segment
 *  being written never moves, nor do the caches made from segments (.idx, .sdx, .tdx).
 *
 *  Each move is crash-safe: the segment is copied into the archive under a temporary
 *  name, synced, renamed, compared byte for byte with the original, and only then
 *  removed from the store's directory; a crash leaves it in one place or both, never
 *  neither (a segment in both is read from the store's directory, and the next
 *  evs_archive finishes the move). Other handles, in any process, see the move at once.
 *
 *  @return 0; EVS_EINVAL (no archive directory given or kept; it is the store's own;
 *          changing it while segments are archived in the old one; negative rules);
 *          EVS_ENOTFOUND (the archive directory does not exist); EVS_ECORRUPT (an
 *          archived copy differs from its segment: the original is kept, the message
 *          names both); EVS_ENOSPC, EVS_EIO (the segment stays where it was);
 *          EVS_EREADONLY; EVS_ENOTSUP; EVS_ENOMEM.
 *  Thread-safe; appends and reads go on meanwhile. */
EVS_API int evs_archive(evs_archive_report *out, evs_store *store, const evs_archive_opts *opts);

/* ---------------------------------------------------------------------------------- */
/* Subscriptions                                                                        */
/* ---------------------------------------------------------------------------------- */

/* A subscription hands out every stored event that matches a filter, in position
 * order, and then the matching events appended later (by any thread or process), as
 * they are committed: catch up, then live, with no event missed or given twice at the
 * switch. It is a forward cursor plus evs_wait: it reads the log at its own pace, so a
 * slow subscriber costs the store nothing (no buffering; writers never wait for it). */
typedef struct evs_subscription evs_subscription;

/* Start positions for evs_subscribe. Any other value >= 1 means "the first event at
 * or after this position". */
#define EVS_FROM_START 0    /* every stored event, then new ones */
#define EVS_FROM_END   (-1) /* only events appended after evs_subscribe returns */

/** Subscribe to the events `filter` selects, from `from_pos`.
 *
 *  @param out       receives the subscription; NULL on failure.
 *  @param filter    NULL for every event, or a query using any of types, category,
 *                   prefix, stream (+ from_version), since_ns, until_ns. Its direction
 *                   must be EVS_FORWARD; its from_pos is ignored (from_pos below rules);
 *                   to_pos and limit must be 0 (a subscription does not end). Copied:
 *                   the caller may free it at once.
 *  @param from_pos  EVS_FROM_START, EVS_FROM_END (start at evs_head() + 1), or a
 *                   position >= 1 (which may lie past the head).
 *  @return 0; EVS_EINVAL (bad filter or from_pos: the message names the field);
 *          EVS_ENOMEM; EVS_ECLOSED.
 *  Thread-safe. The subscription belongs to one thread at a time and is closed with
 *  evs_subscription_close, before or after evs_close. */
EVS_API int evs_subscribe(evs_subscription **out, evs_store *store, const evs_query *filter,
                          int64_t from_pos);

/** The next matching event, waiting up to `timeout_ms` for one to be appended.
 *  Waiting sleeps on the store's shared futex (no polling); an append by any process
 *  wakes it.
 *
 *  @param out         filled when 1 is returned; every pointer in it is borrowed and
 *                     valid only until the next evs_subscription_next or close.
 *  @param timeout_ms  0 = do not wait, -1 = wait as long as it takes, N = up to N ms.
 *  @return 1 with an event; 0 when nothing new arrived within timeout_ms (not an
 *          error: call again); EVS_ECORRUPT (the message names file and byte offset),
 *          EVS_EIO, EVS_ECLOSED (the store was closed). After an error the
 *          subscription keeps returning it. One thread at a time. */
EVS_API int evs_subscription_next(evs_event *out, evs_subscription *sub, int timeout_ms);

/** The position the subscription has read up to: every matching event at or below it
 *  has been handed out. 0 before the first event. */
EVS_API int64_t evs_subscription_position(const evs_subscription *sub);

/** Close a subscription. NULL is accepted and ignored. */
EVS_API void evs_subscription_close(evs_subscription *sub);

/* Live subscriptions (futoin-eventstream's "LIVE" consumers): for a dashboard, a cache
 * invalidator, a notifier, where only what happens now matters. A live subscription
 * starts at the head, keeps no checkpoint and has no name (any number may run), and
 * when it falls too far behind it skips ahead instead of working through the backlog:
 * delivery is at most once, and the events it skips, or that are appended while it is
 * not running, are never seen. A durable consumer is the opposite on each point: named, exclusive,
 * checkpointed, resumed, at least once, never skipping. evs_subscribe with
 * EVS_FROM_END starts at the head too but never skips. */

/** Subscribe to the events `filter` selects that are appended from now on (as
 *  EVS_FROM_END), allowing at most `max_lag` positions of backlog: whenever a call to
 *  evs_subscription_next finds the head more than max_lag positions past the
 *  subscription's position, it first jumps to head - max_lag, so what it hands out is
 *  never older than the newest max_lag positions it saw. The positions jumped over are
 *  counted by evs_subscription_skipped and count as passed for
 *  evs_subscription_position. Lag is counted in store positions, matching or not.
 *
 *  @param max_lag  >= 1 (1: keep only the newest event when behind).
 *  @return as evs_subscribe; EVS_EINVAL also for max_lag < 1.
 *  Thread-safe; the subscription is used and closed as any other. */
EVS_API int evs_subscribe_live(evs_subscription **out, evs_store *store, const evs_query *filter,
                               int64_t max_lag);

/** How many positions a live subscription has skipped so far (0 for any other). */
EVS_API int64_t evs_subscription_skipped(const evs_subscription *sub);

/* ---------------------------------------------------------------------------------- */
/* Durable consumers                                                                    */
/* ---------------------------------------------------------------------------------- */

/* A durable consumer is a subscription with a name whose progress the store keeps: its
 * checkpoint, the last position it acknowledged. Opening it resumes at checkpoint + 1,
 * so after a crash or a restart every event not acknowledged is delivered again
 * (at-least-once; make handlers idempotent or keep the position with the read model).
 *
 * Only one handle may have a consumer open at a time, across processes: a second open
 * fails with EVS_EBUSY (a lock the kernel drops when the holder dies, so a crashed
 * consumer never blocks its successor). The file backend keeps consumers in the
 * store's `consumers/` directory (docs/FORMAT.md).
 *
 * Names: 1..EVS_MAX_CONSUMER_NAME_LEN bytes of A-Z a-z 0-9 '.' '_' '-'. */
typedef struct evs_consumer evs_consumer;

#define EVS_MAX_CONSUMER_NAME_LEN 128

/** Open the consumer `name`, creating it (checkpoint 0) when it does not exist.
 *  Delivery starts at its checkpoint + 1; `filter` is as for evs_subscribe.
 *
 *  The filter is kept with the checkpoint: the checkpoint says which events were
 *  delivered only for the filter that delivered them (an event before it that another
 *  filter matches was never seen). So a consumer is created with the filter of its
 *  first open, and a later open with a different filter is refused with EVS_EINVAL (the
 *  message shows both filters); evs_consumer_open_v2 with EVS_CONSUMER_REFILTER changes
 *  it knowingly. Filters are compared as what they select: the order of `types` and
 *  repeats in it do not matter. A consumer kept without a filter (made by an evstore
 *  that kept none) takes the filter of its next open. evs_consumers_next shows it.
 *
 *  @return 0; EVS_EBUSY (another handle, in this or another process, has it open: the
 *          message names the consumer); EVS_EINVAL (bad name or filter, or a filter
 *          other than the one the consumer keeps); EVS_ECORRUPT
 *          (its checkpoint file is damaged: the message names the file; or the
 *          checkpoint lies past the head because the log lost its last events; repair
 *          with evs_consumer_reset; a damaged filter alone is also replaced by an open
 *          with EVS_CONSUMER_REFILTER); EVS_ELOST (its checkpoint lies in positions a
 *          repair declared lost: it processed events that are gone; resuming at a given
 *          position, or evs_consumer_reset, clears it); EVS_EREADONLY; EVS_ENOTSUP (the
 *          backend keeps no consumers); EVS_EIO; EVS_ENOSPC; EVS_ENOMEM; EVS_ECLOSED.
 *  Thread-safe. The handle belongs to one thread at a time; close it with
 *  evs_consumer_close (before or after evs_close). Do not use it in a child after
 *  fork(). */
EVS_API int evs_consumer_open(evs_consumer **out, evs_store *store, const char *name,
                              const evs_query *filter);

/* Flag for evs_consumer_open_v2: keep `filter` as the consumer's filter from now on,
 * whatever filter it kept. The checkpoint stays: events at or before it that the new
 * filter matches and the old one did not are NOT delivered (reset the consumer to an
 * earlier position for that). A damaged filter kept in the checkpoint file is replaced
 * too. */
#define EVS_CONSUMER_REFILTER 1u

/* Flag for evs_consumer_open_v2: a consumer that keeps no filter (one this open
 * creates) keeps none after it either, and takes the filter of its next open without
 * the flag. For tools that create consumers for another program without knowing which
 * events it wants, such as an importer whose source kept only checkpoints. `filter`
 * still selects what this handle delivers. */
#define EVS_CONSUMER_ADOPT_NEXT 2u

/** evs_consumer_open with `flags` (0, or EVS_CONSUMER_REFILTER, EVS_CONSUMER_ADOPT_NEXT).
 *  @return as evs_consumer_open; EVS_EINVAL also for unknown flags. */
EVS_API int evs_consumer_open_v2(evs_consumer **out, evs_store *store, const char *name,
                                 const evs_query *filter, unsigned flags);

/** The next matching event, as evs_subscription_next (same returns, same borrowing
 *  rule). Before it sleeps it saves the acknowledgements still only in memory, so an
 *  idle consumer's checkpoint is current on disk. */
EVS_API int evs_consumer_next(evs_event *out, evs_consumer *c, int timeout_ms);

/** Record that every event up to and including `pos` is processed. Cheap: kept in
 *  memory and saved at the latest after 100 ms or 1000 acknowledgements (checked on
 *  each ack and next), by evs_consumer_flush, and by evs_consumer_close. Those periodic
 *  saves survive a crash of the process but not necessarily of the machine; flush makes
 *  the checkpoint survive power loss. An acknowledgement that was never saved is not
 *  an error after a crash: its events are simply delivered again.
 *
 *  @return 0; EVS_EINVAL (pos is below the checkpoint, i.e. backwards, or past the
 *          store's head; nothing changes); EVS_EIO/EVS_ENOSPC (a periodic save failed:
 *          the acknowledgement is kept and saved again later); EVS_ECLOSED. */
EVS_API int evs_consumer_ack(evs_consumer *c, int64_t pos);

/** The consumer's checkpoint as acknowledged so far (saved or not): 0 = nothing. */
EVS_API int64_t evs_consumer_checkpoint(const evs_consumer *c);

/** Save the checkpoint now, durably (fdatasync). @return 0, EVS_EIO, EVS_ENOSPC. */
EVS_API int evs_consumer_flush(evs_consumer *c);

/** Save the checkpoint (as evs_consumer_flush) and close the consumer, releasing its
 *  name for the next open. The consumer is closed and freed whatever the result.
 *  @return 0 (also for NULL, which is ignored); EVS_EIO or EVS_ENOSPC when the final
 *          save failed (the message names the consumer): the acknowledgements since
 *          the last successful save are lost, so their events are delivered again by
 *          the next open. */
EVS_API int evs_consumer_close(evs_consumer *c);

/** Set consumer `name`'s checkpoint to `pos` (0 = deliver everything again; at most
 *  the head), durably. The filter it keeps stays. It also repairs a checkpoint file
 *  reported as corrupt (the file is then replaced whole; a damaged filter is dropped,
 *  and the next open's filter is kept), and clears EVS_ELOST (a checkpoint in
 *  positions a repair declared lost).
 *  @return 0; EVS_ENOTFOUND (no such consumer); EVS_EBUSY (it is open somewhere);
 *          EVS_EINVAL (bad name, or pos < 0, past the head, or in positions a repair
 *          declared lost: the message names the range); EVS_EREADONLY;
 *          EVS_EIO; EVS_ENOSPC. Thread-safe. */
EVS_API int evs_consumer_reset(evs_store *store, const char *name, int64_t pos);

/** Delete consumer `name` and its checkpoint (also a corrupt one).
 *  @return 0; EVS_ENOTFOUND; EVS_EBUSY (it is open somewhere); EVS_EINVAL (bad name);
 *          EVS_EREADONLY; EVS_EIO. Thread-safe. */
EVS_API int evs_consumer_delete(evs_store *store, const char *name);

/** One consumer, as listed by evs_consumers_next. */
typedef struct evs_consumer_info {
    const char *name;     /* NUL-terminated; borrowed until the next step or close */
    int64_t checkpoint;   /* last acknowledged position saved; -1 when unreadable */
    int64_t lag;          /* head - checkpoint: events not yet acknowledged; -1 when
                           * unreadable */
    int64_t ack_ts_ns;    /* when that acknowledgement was made (UTC ns); 0 if unknown */
    int open;             /* 1 when a handle (any process) has the consumer open now */
    int status;           /* 0, or why the checkpoint is unreadable (EVS_ECORRUPT...) */
    const char *filter;   /* the filter it keeps, as one JSON object ({} = every event;
                           * see docs/FORMAT.md), or NULL when it keeps none yet (made
                           * by an evstore that kept none, or unreadable); borrowed
                           * as name */
} evs_consumer_info;

typedef struct evs_consumer_iter evs_consumer_iter;

/** List the store's consumers, sorted by name. A snapshot taken at open: saves made
 *  later are not seen. Listing works on a read-only handle.
 *  @return 0, EVS_EIO, EVS_ENOMEM, EVS_ECLOSED, EVS_ENOTSUP. Thread-safe. */
EVS_API int evs_consumers_open(evs_consumer_iter **out, evs_store *store);

/** Next consumer. @return 1 with *out filled, 0 at the end, < 0 on misuse. */
EVS_API int evs_consumers_next(evs_consumer_info *out, evs_consumer_iter *it);

/** Close a consumer listing. NULL is accepted and ignored. */
EVS_API void evs_consumers_close(evs_consumer_iter *it);

/* ---------------------------------------------------------------------------------- */
/* Read-model state                                                                     */
/* ---------------------------------------------------------------------------------- */

/* A state file keeps a read model's state, one JSON document, together with the
 * position of the last event it reflects and the version of the projection code that
 * built it (tiny-event-sourcing's state stores, simple-event-sourcing's state backups).
 * A save replaces the file atomically and durably (a temporary file, fsync, rename,
 * fsync of the directory), so after a crash the file holds the last state saved, whole;
 * a checksum tells a damaged or truncated file from a good one. docs/FORMAT.md gives
 * the bytes.
 *
 * State files are plain files at a path the application chooses, whatever backend the
 * store uses: they belong to the application's read model, not to the log.
 *
 * One writer per file: a save writes PATH.tmp and renames it, so two handles saving the
 * same path at the same time may lose one of the saves. A read model (below) guarantees
 * a single writer by holding its consumer's lock. */
typedef struct evs_state evs_state;

/* Flags for evs_state_open. */
#define EVS_STATE_REPLAY 0x1u /* ignore the file: start from the initial state */

/* Where the state evs_state_open produced came from. */
typedef enum evs_state_origin {
    EVS_STATE_LOADED = 0,       /* read from the file */
    EVS_STATE_NEW = 1,          /* no file yet: the initial state at position 0 */
    EVS_STATE_REPLAYING = 2,    /* EVS_STATE_REPLAY was given: the initial state at 0 */
    EVS_STATE_MODEL_CHANGED = 3 /* the file was written for another model version: the
                                 * initial state at 0 */
} evs_state_origin;

/** A state as evs_state_get describes it. */
typedef struct evs_state_info {
    const char *json;            /* the state: loaded, initial or last saved. Borrowed,
                                  * valid until the next save or close; NOT
                                  * NUL-terminated */
    size_t json_len;
    int64_t pos;                 /* it reflects every event up to this position */
    uint32_t model_version;      /* as given to evs_state_open */
    evs_state_origin origin;
    uint32_t file_model_version; /* the model version found in the file; 0 when none
                                  * was read */
    const char *path;            /* the file (NUL-terminated, borrowed) */
} evs_state_info;

/** Open the state kept in file `path` for projection code version `model_version`.
 *  When the file exists and was written for that version, its state and position are
 *  loaded (EVS_STATE_LOADED). Otherwise the state is `initial_json` at position 0: the
 *  file is missing (EVS_STATE_NEW); EVS_STATE_REPLAY was given (EVS_STATE_REPLAYING;
 *  the file is not read at all, so this is also the way past a damaged one); or the
 *  file holds another model version (EVS_STATE_MODEL_CHANGED). So bumping
 *  model_version when the projection's code changes makes the read model rebuild
 *  itself from the log. Opening writes nothing; the file changes at the first save.
 *
 *  @param path          the file. Its directory must exist by the first save.
 *  @param initial_json  the state at position 0, valid JSON, e.g. "{}". Copied.
 *  @param flags         0 or EVS_STATE_REPLAY.
 *  @return 0; EVS_ECORRUPT (the file is damaged: empty, truncated, a checksum mismatch,
 *          a malformed header or trailing bytes; the message names the file and what
 *          is wrong; open with EVS_STATE_REPLAY to rebuild); EVS_EFORMAT (not a state
 *          file, or a state file of a newer format version); EVS_EINVAL (bad path,
 *          initial_json or flags); EVS_EIO (it cannot be read); EVS_ENOMEM.
 *  Thread-safe. The handle belongs to one thread at a time; close it with
 *  evs_state_close. */
EVS_API int evs_state_open(evs_state **out, const char *path, uint32_t model_version,
                           const char *initial_json, size_t initial_len, unsigned int flags);

/** Describe the state now held (see evs_state_info for how long it stays valid). */
EVS_API void evs_state_get(evs_state_info *out, const evs_state *st);

/** Replace the state with `json`, reflecting every event up to `pos`, in the file and in
 *  the handle. When it returns 0 the new state survives a crash and a power loss; at
 *  any moment before, the file holds the previous state or the new one, whole.
 *  @param json  valid JSON (checked before anything is written). Copied.
 *  @return 0; EVS_EINVAL (not valid JSON, or pos < 0: nothing written); EVS_EIO or
 *          EVS_ENOSPC (the message names the file and the step that failed; the file
 *          holds the previous state, or, when only the final sync of its directory
 *          failed, the new one, which a power loss may then undo; the handle keeps the
 *          previous state either way); EVS_ENOMEM. */
EVS_API int evs_state_save(evs_state *st, const char *json, size_t json_len, int64_t pos);

/** Close a state handle; nothing is saved. NULL is accepted and ignored. */
EVS_API void evs_state_close(evs_state *st);

/* ---------------------------------------------------------------------------------- */
/* Read models                                                                          */
/* ---------------------------------------------------------------------------------- */

/* A read model is a durable consumer whose progress is its state file. It resumes after
 * the position of the state it loaded, not after the consumer's checkpoint, so the
 * state and the events applied to it always agree: events are applied to the saved
 * state exactly once, even across crashes (a state restored from a backup simply
 * replays what came after it). Saving the state acknowledges its position, so `evstore
 * consumers` shows the read model's lag; holding the consumer's name makes the read
 * model its state file's only writer.
 *
 * Replay (rebuild after the projection's code changed): open the state with a new
 * model_version, or with EVS_STATE_REPLAY. */
typedef struct evs_readmodel evs_readmodel;

/** Open read model `name` (a consumer name) over `state`, which it takes over on
 *  success and on failure alike: do not use or close `state` afterwards. Takes the
 *  consumer's lock (EVS_EBUSY as evs_consumer_open), moves the consumer's checkpoint to
 *  the state's position (backwards too), and, when the state did not come from the file
 *  (new, replaying, model changed), saves it at once: an interrupted replay then starts
 *  over instead of resuming a state built by the old code. Delivery starts after the
 *  state's position; `filter` is as for evs_consumer_open and kept with the consumer:
 *  a state resumed at a position > 0 refuses a filter other than the one kept
 *  (EVS_EINVAL), since the events it skipped were never applied; a state at position 0
 *  (new, replaying, model changed) takes any filter. To change the filter of a state
 *  that is kept, replay it, or refilter the consumer first (evs_consumer_open_v2 with
 *  EVS_CONSUMER_REFILTER, then close it).
 *
 *  @return 0; EVS_EBUSY; EVS_ECORRUPT (the state's position lies past the store's head:
 *          it belongs to another store, or the log lost its last events; replay it);
 *          EVS_EMISUSE (state is NULL); the errors of evs_consumer_open and
 *          evs_state_save.
 *  Thread-safe. The handle belongs to one thread at a time; close it with
 *  evs_readmodel_close. */
EVS_API int evs_readmodel_open(evs_readmodel **out, evs_store *store, const char *name,
                               const evs_query *filter, evs_state *state);

/** The read model's state, to build the in-memory model from at start (read it with
 *  evs_state_get). Borrowed: valid until evs_readmodel_close; save through
 *  evs_readmodel_save, never directly. */
EVS_API const evs_state *evs_readmodel_state(const evs_readmodel *rm);

/** The next event to apply, as evs_consumer_next (same returns and borrowing rule). */
EVS_API int evs_readmodel_next(evs_event *out, evs_readmodel *rm, int timeout_ms);

/** Save `json` as the state reflecting every event evs_readmodel_next has handed out
 *  (and those its filter passed over), as evs_state_save does, then acknowledge that
 *  position on the consumer. Call it only when every event handed out is applied.
 *  @return as evs_state_save; on failure the file and the checkpoint are unchanged. */
EVS_API int evs_readmodel_save(evs_readmodel *rm, const char *json, size_t json_len);

/** Close the read model, its consumer and its state. Nothing is saved: save first.
 *  NULL is accepted and ignored. */
EVS_API void evs_readmodel_close(evs_readmodel *rm);

/* ---------------------------------------------------------------------------------- */
/* Push delivery                                                                        */
/* ---------------------------------------------------------------------------------- */

/* Push delivery calls a handler for each event on a thread evstore runs, instead of
 * the application calling next in a loop. It is made from a pull source, which the
 * push handle takes over: a subscription (plain or live), a durable consumer or a read
 * model. The thread is an ordinary reader: it takes the next event from the log only
 * when the handler has returned, so nothing is buffered and a slow handler slows only
 * its own delivery.
 *
 * The handler's return decides. 0 accepts the event: a consumer acknowledges it (with
 * the usual batching, evs_consumer_ack). Anything else refuses it: delivery stops
 * there, the event is not acknowledged (a consumer's checkpoint stays just before it,
 * so the next open delivers it again), and evs_push_wait and evs_push_close return
 * EVS_EHANDLER, with the event's position in the message and in evs_push_status.
 *
 * Stopping. evs_push_stop asks the thread to end and returns at once; evs_push_close
 * stops it, waits for it and frees the handle. A handler call that is running, or
 * being made, when the stop comes is not interrupted: it finishes, its result counts,
 * and no call follows it; evs_push_close returns only after it. A thread
 * waiting for new events is woken by the stop at once (within 5 ms on a read-only
 * handle), and an idle thread sleeps until an event or a stop comes; a wait the
 * handler itself makes on the store after a stop returns EVS_ETIMEDOUT at once.
 * evs_close ends every wait on the store with EVS_ECLOSED.
 * Inside the handler, evs_push_stop may be called (delivery ends after this event);
 * evs_push_wait and evs_push_close may not (they would wait for the very thread that
 * calls them: they return EVS_EMISUSE and change nothing).
 *
 * Threads. The handler runs on evstore's thread with all signals blocked. It may call
 * any evstore function (append to the store, read it) except on the source it was
 * built from. evs_push_stop, evs_push_wait and evs_push_get may be called from
 * any thread at any time until evs_push_close; evs_push_close once, after the others
 * returned. Close push handles before evs_close; if the store is closed first,
 * delivery ends with EVS_ECLOSED and the handle must still be closed. */
typedef struct evs_push evs_push;

/** A handler. `ev` and everything it points to is borrowed for the call only.
 *  @return 0 to accept the event; anything else to refuse it (reported as
 *          evs_push_status.handler_rc). */
typedef int (*evs_push_fn)(void *user, const evs_event *ev);

/** How delivery is going, from evs_push_get and evs_push_close. */
typedef struct evs_push_status {
    int running;       /* 1 until delivery ended (stopped, refused or failed) */
    int error;         /* 0, or why delivery ended: EVS_EHANDLER (the handler, or a read
                        * model's dump, refused), or the error reading the log or saving
                        * progress (EVS_EIO, EVS_ECORRUPT, EVS_ECLOSED ...) */
    int handler_rc;    /* with EVS_EHANDLER: the value the handler returned */
    int64_t error_pos; /* with EVS_EHANDLER: the position of the event refused (0 when
                        * a read model's dump refused) */
    int64_t position;  /* every matching event at or below it has been accepted (or, by
                        * a live subscription, skipped) */
    int64_t delivered; /* events accepted */
    int64_t skipped;   /* positions a live subscription skipped */
} evs_push_status;

/** Deliver `sub`'s events to `fn` on a new thread. Takes `sub` over on success and on
 *  failure alike (it is closed with the handle, or at once on failure).
 *  @return 0; EVS_EINVAL (fn is NULL); EVS_EMISUSE (out or sub is NULL); EVS_ENOMEM;
 *          EVS_EIO (no thread could be started). Thread-safe. */
EVS_API int evs_push_subscription(evs_push **out, evs_subscription *sub, evs_push_fn fn,
                                  void *user);

/** Deliver consumer `c`'s events to `fn` on a new thread; each accepted event is
 *  acknowledged, and a stop or a refusal saves the checkpoint durably. Takes `c` over
 *  as evs_push_subscription takes a subscription. Returns as evs_push_subscription. */
EVS_API int evs_push_consumer(evs_push **out, evs_consumer *c, evs_push_fn fn, void *user);

/** A read model's serialiser, for evs_push_readmodel: point *json and *json_len at the
 *  state as of every event accepted so far (valid JSON). The buffer stays the
 *  application's and must stay unchanged until dump returns to evstore's next call
 *  or the push ends. Runs on the push thread, between handler calls.
 *  @return 0, or non-zero to refuse: delivery ends with EVS_EHANDLER, nothing saved. */
typedef int (*evs_dump_fn)(void *user, const char **json, size_t *json_len);

/** Deliver read model `rm`'s events to `apply` on a new thread, saving its state (dump,
 *  then evs_readmodel_save) once events were applied and save_interval_ms has passed
 *  since the last save, and when delivery is stopped with evs_push_stop. A refused
 *  event or a failed save ends delivery without saving: the file keeps the last state
 *  saved, and the next open resumes after it. Takes `rm` over as evs_push_subscription
 *  takes a subscription.
 *  @param save_interval_ms  0 = save after every event.
 *  @return as evs_push_subscription; EVS_EINVAL also when dump is NULL. */
EVS_API int evs_push_readmodel(evs_push **out, evs_readmodel *rm, evs_push_fn apply,
                               evs_dump_fn dump, void *user, unsigned int save_interval_ms);

/** Ask delivery to end; returns at once, without waiting for a handler call in progress
 *  (which finishes and counts; none follows it). Also from inside the handler. Calling
 *  it again, or after delivery ended, does nothing. evs_push_close waits.
 *  @return 0; EVS_EMISUSE (p is NULL). */
EVS_API int evs_push_stop(evs_push *p);

/** Wait until every matching event up to `pos` has been accepted (status.position >=
 *  pos), for example evs_head() to wait for the catch-up, or until delivery ended, or
 *  `timeout_ms` passed (-1 = no limit).
 *  @return 1 when pos was reached; 0 when the time ran out or delivery was stopped
 *          before reaching it; the error that ended delivery (EVS_EHANDLER with the
 *          event's position in the message, EVS_EIO ...); EVS_EMISUSE from inside the
 *          handler or with p NULL. */
EVS_API int evs_push_wait(evs_push *p, int64_t pos, int timeout_ms);

/** A snapshot of how delivery is going. */
EVS_API void evs_push_get(evs_push_status *out, evs_push *p);

/** Stop delivery (as evs_push_stop), wait for the thread to end, close the source (a
 *  consumer's checkpoint is saved durably), and free the handle. `out` (may be NULL)
 *  receives the final status. NULL p is accepted (returns 0).
 *  @return 0 when delivery ended because it was stopped; otherwise the error that
 *          ended it, with its message (EVS_EHANDLER naming the event's position and the
 *          handler's value ...); EVS_EMISUSE from inside the handler (nothing done). */
EVS_API int evs_push_close(evs_push_status *out, evs_push *p);

/* ---------------------------------------------------------------------------------- */
/* Erasure (crypto-shredding)                                                           */
/* ---------------------------------------------------------------------------------- */

/* An event may belong to a subject: a person or anything else whose data must be
 * erasable on request (the GDPR's "right to erasure"). Its subject is its metadata's
 * top-level "subject" string ({"subject":"user-42"}), or the subject an append gives
 * through evs_append_with. The file backend then stores the event's data encrypted
 * (AES-256-GCM) under a key of that subject's own, kept in the store's key file
 * (`keys`); readers get the data back decrypted, byte for byte. Position, stream,
 * version, id, type, time and metadata stay in clear (so do not put what must be
 * erased in the metadata, beyond the subject's name). evs_forget destroys the
 * subject's keys: from then on every read of those events (cursors, subscriptions,
 * consumers, read models, push, export) hands out evs_erased_data (see there) as the
 * data, everything else unchanged, and evs_verify still passes. A subject is 1 to
 * EVS_MAX_SUBJECT_LEN bytes of valid UTF-8 without control characters. Other
 * backends refuse events with a subject (EVS_ENOTSUP). */

#define EVS_APPEND_OPTS_VERSION 1

/** Options for evs_append_with. Initialise with EVS_APPEND_OPTS_INIT; fields are only
 *  ever appended. */
typedef struct evs_append_opts {
    unsigned int version; /* EVS_APPEND_OPTS_VERSION */
    const char *subject;  /* NUL-terminated: the subject of every event of the call whose
                           * metadata names none (one that names another is refused with
                           * EVS_EINVAL); NULL = none */
} evs_append_opts;

#define EVS_APPEND_OPTS_INIT {EVS_APPEND_OPTS_VERSION, NULL}

/** evs_append_positions with options (`opts` may be NULL: then exactly it).
 *  @return as evs_append; also EVS_EINVAL for a bad subject or an opts version this
 *          library does not know, EVS_ENOTSUP (a subject on a backend without keys),
 *          EVS_ECORRUPT or EVS_EFORMAT (the key file is damaged: nothing written).
 *          Thread-safe. */
EVS_API int evs_append_with(evs_append_result *out, int64_t *positions, evs_store *store,
                            const char *stream, int64_t expected_version,
                            const evs_event_in *events, size_t count,
                            const evs_append_opts *opts);

/** Erase every event of `subject`, now and for good: destroy its keys durably. The key
 *  file is rewritten without them and synced, and the old file's bytes are overwritten
 *  with zeros and synced before it is removed (the README's "Erasure" says what the file
 *  system may still hold). Events appended with the subject later get a new key and
 *  stay readable. Handles in other processes notice within 100 ms, or at their next
 *  append. An append running in another process at the same moment may still be
 *  written under the old key, and then reads as erased too.
 *  @param destroyed  receives the number of keys destroyed (more than 1 when processes
 *                    raced to make the subject's first key); may be NULL.
 *  @return 0; EVS_ENOTFOUND (the subject has no key: no event was ever appended with it,
 *          or it was forgotten already: the message says so); EVS_EINVAL (not a valid
 *          subject); EVS_EREADONLY; EVS_ENOTSUP (a backend without keys); EVS_ECORRUPT
 *          or EVS_EFORMAT (the key file is damaged: nothing changed); EVS_EIO;
 *          EVS_ENOSPC. Thread-safe; appends of this handle wait for it. */
EVS_API int evs_forget(size_t *destroyed, evs_store *store, const char *subject);

/** The data an erased event reads as: the JSON text {"$erased":true} (16 bytes, no
 *  NUL counted). An event read with that data is erased when evs_event_erased says so
 *  (an event may also have been appended with those very bytes as its data). Static;
 *  thread-safe. */
EVS_API const char *evs_erased_data(void);

/** 1 when `ev` (as a cursor or subscription handed it out) is an erased event: its data
 *  is evs_erased_data() itself, the same pointer; else 0. Thread-safe. */
EVS_API int evs_event_erased(const evs_event *ev);

/* ---------------------------------------------------------------------------------- */
/* Helpers                                                                              */
/* ---------------------------------------------------------------------------------- */

/** Write the 36-character text form of a UUID plus a NUL into buf (37 bytes). */
EVS_API void evs_uuid_format(char buf[37], const unsigned char id[16]);

/** Parse a UUID's text form (36 characters, any case). @return 0 or EVS_EINVAL. */
EVS_API int evs_uuid_parse(unsigned char out[16], const char *text, size_t len);

/** Write ts_ns as RFC 3339 UTC with nanoseconds ("2026-11-23T12:00:00.000000001Z")
 *  plus a NUL into buf (at least 36 bytes). @return the length written. */
EVS_API size_t evs_time_format(char *buf, size_t buf_len, int64_t ts_ns);

/** Parse an RFC 3339 timestamp (any offset; fraction digits past the ninth are
 *  truncated; a leap second :60 reads as :59.999999999) into UTC nanoseconds.
 *  @return 0 or EVS_EINVAL (the message names the character or field). */
EVS_API int evs_time_parse(int64_t *out, const char *text, size_t len);

/** Check that buf holds exactly one valid JSON value (RFC 8259, UTF-8, nesting up to
 *  EVS_MAX_JSON_DEPTH). @return 0 or EVS_EINVAL with the byte offset in the message. */
EVS_API int evs_json_validate(const char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* EVSTORE_H */
