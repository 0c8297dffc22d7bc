/*
 * streamtab.h - the stream table: a mapped snapshot and an in-memory overlay (streamtab.c).
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

/* 64 bytes: one cache line's worth per probe. */
typedef struct stream_ent {
    uint64_t hash;               /* 0 = empty slot */
    uint64_t first_pos;
    uint64_t last_pos;
    int64_t last_version;
    uint32_t last_off;           /* offset of last_pos in its segment */
    uint16_t name_len;           /* <= EVS_MAX_STREAM_LEN */
    bool in_base;                /* the snapshot has this stream too */
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

typedef struct streamtab {
    stream_ent *slots;           /* overlay, open addressing */
    size_t cap;                  /* power of two */
    size_t count;                /* overlay entries */
    size_t new_count;            /* overlay entries not in the base */
    mapping *snap;               /* base snapshot, or NULL */
    uint64_t snap_slots;
    uint64_t snap_count;
    uint64_t snap_covered;       /* position the snapshot reflects */
    uint64_t known_pos;          /* last position applied (snapshot + overlay) */
    uint64_t known_seg;          /* segment holding known_pos + 1 */
    uint64_t known_off;          /* offset of known_pos + 1 in it */
    bool loaded;                 /* snapshot mapped and tail applied at least once */
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

void evs__tab_init(streamtab *t);
void evs__tab_free(streamtab *t);
int evs__tab_load_snapshot(file_backend *fb); /* maps index.snap if valid; else empty */
bool evs__tab_get(const streamtab *t, const char *name, uint32_t len, uint64_t hash,
                  stream_val *out);
/* The stream's entry in the overlay, created (from the base, or as a new stream with
 * last_version -1) when missing. With `undo`, how to reverse this is saved there. The
 * pointer is valid until the table next changes. */
int evs__tab_upsert(streamtab *t, const char *name, uint32_t len, uint64_t hash,
                    stream_ent **out, tab_undo *undo);
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
/* Write index.snap from the table (the caller holds the writer lock and tab_lock).
 * `durable` syncs the file and the directory before and after the rename. */
int evs__tab_write_snapshot(file_backend *fb, bool durable);
/* Remove index.snap when it covers positions past `pos` (the log was cut there). */
int evs__tab_drop_snapshot_after(file_backend *fb, uint64_t pos);
size_t evs__tab_stream_count(const streamtab *t);
/* Iterate every stream: cb(ctx, name, len, val); stop when cb returns non-zero. */
int evs__tab_each(const streamtab *t, int (*cb)(void *ctx, const char *name, uint32_t len,
                                                 const stream_val *v),
                  void *ctx);
/* Bring the table up to the committed head (takes tab_lock for writing). */
int evs__tab_catch_up(file_backend *fb);
int evs__tab_catch_up_locked(file_backend *fb, const head_view *h);

#endif /* EVS_FILE_STREAMTAB_H */
