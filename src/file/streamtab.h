/*
 * streamtab.h - the stream table: the stream index (base) and an in-memory overlay
 * (streamtab.c).
 */
#ifndef EVS_FILE_STREAMTAB_H
#define EVS_FILE_STREAMTAB_H

#include "head.h"
#include "record.h"
#include "segment.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct file_backend file_backend;

#define ENT_INLINE_NAME 24
/* Streams in the writer's overlay past which it writes them as a run of the stream
 * index and drops them (64 bytes each, names up to ENT_INLINE_NAME included). */
#define TAB_PERSIST_STREAMS 65536

/* 64 bytes: one cache line's worth per probe. */
typedef struct stream_ent {
    uint64_t hash;               /* 0 = empty slot */
    uint64_t first_pos;
    uint64_t last_pos;
    int64_t last_version;
    uint32_t last_off;           /* offset of last_pos in its segment */
    uint16_t name_len;           /* <= EVS_MAX_STREAM_LEN */
    bool in_base;                /* the base (stream index) has this stream too */
    bool ids_complete;           /* every writer-supplied id of this stream is in the
                                  * writer's id set (it created the stream, and no
                                  * other process has appended to it since) */
    /* Short names live in the entry, so a lookup costs one cache miss, not two. */
    union {
        char inl[ENT_INLINE_NAME];
        char *heap;              /* owned, when name_len > ENT_INLINE_NAME */
    } name;
} stream_ent;

static inline const char *evs__ent_name(const stream_ent *e)
{
    return e->name_len > ENT_INLINE_NAME ? e->name.heap : e->name.inl;
}

typedef struct stream_val {
    uint64_t first_pos;
    uint64_t last_pos;
    int64_t last_version;        /* -1: stream does not exist */
    uint32_t last_off;           /* offset of last_pos in its segment */
} stream_val;

typedef struct sidx_run sidx_run; /* a run of the persistent stream index (sindex.c) */

typedef struct streamtab {
    stream_ent *slots;           /* overlay, open addressing */
    size_t cap;                  /* power of two */
    size_t count;                /* overlay entries */
    size_t new_count;            /* overlay entries not in the base */
    struct file_backend *fb;     /* whose log the base indexes; NULL: a table of memory
                                  * only (verify's, repair's), with no base */
    sidx_run **runs;             /* the base: the stream index's chain, oldest first */
    size_t run_n;
    uint64_t base_streams;       /* streams the base counts */
    uint64_t base_covered;       /* position the base reflects (its last run's end) */
    uint64_t distrusted_at;      /* the base found wrong covered this: not loaded again
                                  * until a writer has indexed past it */
    int base_lied;               /* a lookup found the base wrong (atomic builtins: set
                                  * by readers under the read lock) */
    uint64_t known_pos;          /* last position applied (snapshot + overlay) */
    uint64_t known_seg;          /* segment holding known_pos + 1 */
    uint64_t known_off;          /* offset of known_pos + 1 in it */
    bool loaded;                 /* base mapped and tail applied at least once */
    bool persists;               /* the writer's catch-up: it writes runs as it scans,
                                  * so that rebuilding a big index stays in bounds */
} streamtab;

/* Start loading the overlay slot a stream hashes to, ahead of its lookup. */
static inline void evs__tab_prefetch(const streamtab *t, uint64_t hash)
{
    if (t->cap)
        __builtin_prefetch(&t->slots[(hash ? hash : 1) & (t->cap - 1)]);
}

/* One change made by the writer, kept so that a failed commit can be undone. It names
 * the stream rather than pointing at its entry: entries move when the table grows. */
typedef struct tab_undo {
    const char *name;            /* the caller's copy, alive for the whole commit */
    uint32_t name_len;
    uint64_t hash;
    bool created;
    stream_val old;
} tab_undo;

/* An empty table; with fb, one whose base is fb's stream index. */
void evs__tab_init(streamtab *t, struct file_backend *fb);
void evs__tab_free(streamtab *t);
/* Map the stream index's chain (its runs that this log still matches); none is no
 * error: the table is then rebuilt from the log. */
int evs__tab_load_base(file_backend *fb);
/* Is there a base? */
bool evs__tab_has_base(const streamtab *t);
/* The stream's state: 1 found, 0 no such stream (*out: version -1), or EVS_ECORRUPT when
 * the base was found wrong (the table must then be rebuilt: evs__tab_lookup does). */
int evs__tab_get(const streamtab *t, const char *name, uint32_t len, uint64_t hash,
                 stream_val *out);
/* Catch up and look up, rebuilding once without the base when it is found wrong. */
int evs__tab_lookup(file_backend *fb, const char *name, uint32_t len, uint64_t hash,
                    stream_val *out);
/* The stream's entry in the overlay, created (from the base, or as a new stream with
 * last_version -1) when missing. With `undo`, how to reverse this is saved there. The
 * pointer is valid until the table next changes. */
int evs__tab_upsert(streamtab *t, const char *name, uint32_t len, uint64_t hash,
                    stream_ent **out, tab_undo *undo);
/* The writer, before it encodes: have the stream in the overlay, so that encoding never
 * consults the base; a base found wrong is dropped and the table rebuilt from the log
 * up to h (the caller holds the writer lock and tab_lock). */
int evs__tab_resolve_locked(file_backend *fb, const head_view *h, const char *name,
                            uint32_t len, uint64_t hash);
/* Record that a stream now ends at last_pos/last_version; first_pos is used when the
 * stream is new. With `undo`, what it replaced is saved there. */
int evs__tab_apply(streamtab *t, const char *name, uint32_t len, uint64_t hash,
                   uint64_t first_pos, uint64_t last_pos, int64_t last_version,
                   uint32_t last_off, tab_undo *undo);
void evs__tab_undo(streamtab *t, const tab_undo *undo);
/* Does damaged record r (its checksum fails, its frame holds) still say whose event it
 * is: its stream name hashes to its hash, and it continues that stream where v (the
 * table's entry for it) ends? */
bool evs__tab_header_fits(const rec_view *r, const stream_val *v);
/* Overlay entries: what the next run would hold. */
size_t evs__tab_overlay_count(const streamtab *t);
/* Write the overlay as a new run of the stream index (the caller holds the writer lock
 * and tab_lock), then drop it: the writer's memory is bounded by how often it persists.
 * Without a base the run starts at position 0 and replaces every run there was.
 * `durable` syncs the file and the directory. */
int evs__tab_persist(file_backend *fb, bool durable);
/* Remove the stream index's runs that cover positions past `pos` (the log was cut). */
int evs__tab_drop_base_after(file_backend *fb, uint64_t pos);
size_t evs__tab_stream_count(const streamtab *t);
/* Iterate every stream: cb(ctx, name, len, val); stop when cb returns non-zero. Names
 * of streams from the base are read from their last record (views into the log). */
int evs__tab_each(const streamtab *t, int (*cb)(void *ctx, const char *name, uint32_t len,
                                                 const stream_val *v),
                  void *ctx);
/* Bring the table up to the committed head (takes tab_lock for writing). */
int evs__tab_catch_up(file_backend *fb);
int evs__tab_catch_up_locked(file_backend *fb, const head_view *h);
/* The same by the holder of the writer lock: a long scan (an index rebuilt from the
 * log) writes runs as it goes, so the overlay stays within TAB_PERSIST_STREAMS. */
int evs__tab_catch_up_writer(file_backend *fb, const head_view *h);

#endif /* EVS_FILE_STREAMTAB_H */
