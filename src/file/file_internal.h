/*
 * file_internal.h - structures shared by the files of the file backend.
 *
 * Who does what:
 *   file_backend.c  open/close, the method table, stat, head, wait, find_time
 *   meta.c          evstore.meta: create, check
 *   head.c          the shared head page: seqlock publish/read, futex wait/wake
 *   lock.c          the cross-process locks: the writer lock, and the open lock every
 *                   handle holds shared and repair takes exclusively
 *   record.c        encoding and checking one record
 *   segment.c       segment files, their mappings and offset indexes
 *   streamdir.c     stream directories of sealed segments: where each stream's records are
 *   streamtab.c     stream table: snapshot (mmap) + in-memory overlay; snapshots
 *   recover.c       scanning the tail: crash recovery and catching up
 *   writer.c        the append path: group commit, write, sync, publish
 *   cursor.c        reading: scans by position, stream chains, filters
 *   verify.c        whole-store check
 *   verify_quick.c  the structure-only check (no checksum of every byte)
 *   repair_scan.c   repair, step one: where the intact log ends and what lies past it
 *   repair.c        repair, step two: save the damaged tail aside, cut, rebuild caches
 *   consumers.c     durable consumers: lock files and two-slot checkpoint files
 *   synced_mark.c   the `synced` file: a durable lower bound of the log's end
 *   save_aside.c    the repair-<time>/ folder that keeps bytes cut off the log
 *   lost_ranges.c   the `lost` file: positions a repair declared lost, never reused
 *
 * Locking order (never take an earlier one while holding a later one):
 *   commit_mu (in-process leader election) -> writer flock -> tab_lock -> seg_lock
 *   -> map_mu.
 */
#ifndef EVS_FILE_INTERNAL_H
#define EVS_FILE_INTERNAL_H

#include "backend.h"
#include "format.h"
#include "path.h"
#include "util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- record.c ------------------------------------------------------------------- */

/* A record decoded in place: pointers into the mapped segment. */
typedef struct rec_view {
    uint32_t len;           /* unpadded length */
    uint64_t pos;
    int64_t ts_ns;
    uint64_t version;
    uint64_t prev_pos;
    uint32_t prev_off;
    const unsigned char *id;
    uint64_t stream_hash;
    uint32_t type_hash;
    uint32_t data_len;
    uint32_t meta_len;
    uint16_t stream_len;
    uint16_t type_len;
    uint16_t flags;
    const char *stream;
    const char *type;
    const char *meta;
    const char *data;
} rec_view;

enum rec_status {
    REC_OK = 0,
    REC_SHORT,  /* the bytes end before the record does */
    REC_BADLEN, /* length or field sizes impossible */
    REC_BADCRC, /* checksum mismatch */
    REC_BADVAL  /* a position, version or link no writer can have made */
};

/* The checksum a record of `len` bytes at p must carry. */
uint32_t evs__rec_crc(const unsigned char *p, uint32_t len);

/* Check and decode the record at p, of which `avail` bytes exist. With check_crc
 * false only the framing is checked (for hot paths that verified the bytes before). */
int evs__rec_decode(const unsigned char *p, uint64_t avail, bool check_crc, rec_view *out);

/* evs__rec_decode's body, inlined where a scan decodes every record in turn. */
static inline int evs__rec_decode_inline(const unsigned char *p, uint64_t avail, bool check_crc,
                                         rec_view *out)
{
    if (avail < REC_HDR_LEN)
        return REC_SHORT;
    uint32_t len = evs__get_u32(p + REC_OFF_LEN);
    if (len < REC_HDR_LEN)
        return REC_BADLEN;
    out->len = len;
    out->data_len = evs__get_u32(p + REC_OFF_DATA_LEN);
    out->meta_len = evs__get_u32(p + REC_OFF_META_LEN);
    out->stream_len = evs__get_u16(p + REC_OFF_SLEN);
    out->type_len = evs__get_u16(p + REC_OFF_TLEN);
    out->flags = evs__get_u16(p + REC_OFF_FLAGS);
    uint64_t body = (uint64_t)out->stream_len + out->type_len + out->meta_len + out->data_len;
    /* The whole header is here: sizes that do not add up are damage, even when the
     * length points past the end of the file (a torn write leaves a consistent header
     * of a record that simply does not fit). */
    if (body + REC_HDR_LEN != len || out->stream_len == 0 ||
        out->stream_len > EVS_MAX_STREAM_LEN || out->type_len == 0 ||
        out->type_len > EVS_MAX_TYPE_LEN || (out->flags & ~REC_FLAGS_KNOWN) != 0)
        return REC_BADLEN;
    if (len > avail)
        return REC_SHORT;
    if (check_crc && evs__get_u32(p + REC_OFF_CRC) != evs__rec_crc(p, len))
        return REC_BADCRC;

    out->pos = evs__get_u64(p + REC_OFF_POS);
    out->ts_ns = (int64_t)evs__get_u64(p + REC_OFF_TS);
    out->version = evs__get_u64(p + REC_OFF_VERSION);
    out->prev_pos = evs__get_u64(p + REC_OFF_PREV);
    out->prev_off = evs__get_u32(p + REC_OFF_PREV_OFF);
    /* The API hands these out as int64_t >= 0 (positions >= 1): a record outside that
     * range was not made by a writer, checksum or not. */
    if (out->pos == 0 || out->pos > INT64_MAX || out->version > INT64_MAX ||
        out->prev_pos >= out->pos || (out->version == 0) != (out->prev_pos == 0))
        return REC_BADVAL;
    out->id = p + REC_OFF_ID;
    out->stream_hash = evs__get_u64(p + REC_OFF_SHASH);
    out->type_hash = evs__get_u32(p + REC_OFF_THASH);
    const char *c = (const char *)p + REC_HDR_LEN;
    out->stream = c;
    out->type = c + out->stream_len;
    out->meta = (out->flags & REC_HAS_META) ? out->type + out->type_len : NULL;
    out->data = out->type + out->type_len + out->meta_len;
    return REC_OK;
}

/* Bytes a record takes on disk, padding included. */
uint64_t evs__rec_size(uint32_t stream_len, uint32_t type_len, uint32_t meta_len,
                       uint32_t data_len);
/* Encode one record at dst (evs__rec_size bytes, zero padding written). */
void evs__rec_encode(unsigned char *dst, uint64_t pos, int64_t ts_ns, uint64_t version,
                     uint64_t prev_pos, uint32_t prev_off, const evs__batch_w *b,
                     const evs__event_w *e, uint16_t flags);
/* Human name of a rec_status. */
const char *evs__rec_status_str(int status);

/* ---- segment.c ------------------------------------------------------------------- */

/* A read-only mapping. Mappings are immutable once published and are only unmapped
 * when the store closes, so a pointer handed to a reader stays valid while it reads. */
typedef struct mapping {
    const unsigned char *base;
    size_t len;                  /* mapped bytes; may run past the file's end */
    /* For a cache mapped roomy (the .idx): how many bytes of the mapped file are known
     * to exist, and which file it is. Reading past the file's end through a mapping
     * faults (SIGBUS), so readers stay below file_len, which only grows when the same
     * file is seen longer. */
    _Atomic uint64_t file_len;
    uint64_t file_id;            /* st_ino of the mapped file */
    struct mapping *retired_next;
} mapping;

typedef struct seg {
    uint64_t first_pos;
    char name[32];               /* "00000000000000000001.seg" */
    const struct file_backend *fb; /* whose directory holds it */
    _Atomic int fd;              /* O_RDONLY, for mapping; -1 until first used
                                  * (evs__seg_fd), so open does not open every file */
    _Atomic(mapping *) data;     /* the segment file */
    _Atomic(mapping *) idx;      /* its .idx file, NULL until needed */
    _Atomic uint64_t size_seen;  /* the file is known to be at least this long */
    _Atomic(mapping *) sdx;      /* its stream directory (streamdir.c), once loaded */
    _Atomic int sdx_state;       /* 0 not loaded, 1 usable, -1 not to be used */
    _Atomic int64_t sdx_retry_ns; /* state 0: no file yet; look again from this time */
    _Atomic bool sdx_requested;   /* this handle asked its builder to (re)make it */
    struct seg *dropped_next;    /* on fb->dropped after recovery removed the file */
} seg;


/* ---- streamtab.c ----------------------------------------------------------------- */

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

/* ---- lost_ranges.c --------------------------------------------------------------- */

/* Positions first..last, declared lost by a repair: no event has them, none ever will. */
typedef struct lost_range {
    uint64_t first;
    uint64_t last;
} lost_range;

/* ---- the backend handle ---------------------------------------------------------- */

typedef struct file_backend {
    evs__backend base;
    char *dir;
    evs_options opts;
    bool readonly;
    unsigned char store_id[16];
    uint64_t store_segment_size; /* the segment size in evstore.meta */
    lost_range *lost;            /* the `lost` file, read at open (fixed while open: only
                                  * repair, with no handle open, changes it) */
    size_t lost_n;

    int lock_fd;                 /* LOCK file, flock()ed while appending */
    int open_fd;                 /* OPEN file, flock()ed shared for the handle's life
                                  * (exclusively by repair); -1 when it could not be had */
    unsigned char *head;         /* the shared head page (HEAD_LEN bytes, MAP_SHARED) */
    bool head_shared;            /* false: a private page (read-only store) */
    _Atomic uint32_t head_stuck_seq; /* odd sequence left by a writer that died mid-publish
                                      * (evs__head_read waits for it once, not per read) */
    bool head_had_identity;      /* the page was this store's when mapped (maybe of an
                                  * earlier boot): its synced position means something */
    unsigned char boot_id[16];   /* this machine's boot id */

    pthread_rwlock_t seg_lock;   /* guards segs/seg_count */
    seg **segs;
    size_t seg_count;
    size_t seg_cap;
    seg *dropped;                /* segments removed by recovery, freed at close */
    pthread_mutex_t map_mu;      /* serialises remapping; guards `retired` */
    mapping *retired;

    pthread_rwlock_t tab_lock;   /* guards tab */
    streamtab tab;

    struct writer *w;            /* the append path's state (writer_state.h) */
    atomic_bool closing;         /* evs_close was called: waits end (evs__head_wake) */

    /* Makes the stream directories of the segments this handle sealed (streamdir.c). */
    struct sdx_builder *sdx;
} file_backend;

/* A consistent copy of the head page's committed fields. */
typedef struct head_view {
    uint64_t pos;
    uint64_t seg;
    uint64_t end;
    int64_t ts;
} head_view;

/* ---- meta.c ---------------------------------------------------------------------- */
int evs__meta_open_or_create(file_backend *fb, bool may_create, bool exclusive);

/* ---- file_backend.c --------------------------------------------------------------- */
/* A handle for repair: the open lock held exclusively and the writer lock held, the head
 * page mapped (*head_fresh: it is not this boot's page of this store) and the segments
 * listed; nothing recovered. It is read-only until evs__fb_repair_writable (which maps
 * the head page for writing, creating it when missing). */
int evs__fb_open_for_repair(file_backend **out, const char *path, bool dry_run,
                            bool *head_fresh);
int evs__fb_repair_writable(file_backend *fb);
void evs__fb_free(file_backend *fb);

/* ---- head.c ---------------------------------------------------------------------- */
int evs__head_map(file_backend *fb, bool *fresh);
void evs__head_unmap(file_backend *fb);
void evs__head_read(const file_backend *fb, head_view *out);
void evs__head_publish(file_backend *fb, const head_view *h);
/* Is a publish under way? With the writer lock held, that means a writer died in the
 * middle of one, and the page's fields cannot be trusted: recover from the log. */
bool evs__head_torn(const file_backend *fb);
void evs__head_stamp(file_backend *fb);
void evs__head_set_synced(file_backend *fb, uint64_t pos);
/* Repair only: set the synced position back to pos (it otherwise only grows), once the
 * log was cut before it. No other handle has the store open to see it move. */
void evs__head_rewind_synced(file_backend *fb, uint64_t pos);
uint64_t evs__head_synced(const file_backend *fb);
void evs__head_set_snap(file_backend *fb, uint64_t covered);
uint64_t evs__head_snap(const file_backend *fb);
int evs__head_wait(file_backend *fb, uint64_t after_pos, int timeout_ms, uint64_t *head_out);
/* Make every waiter look again (see evs__wait_interrupt in backend.h); with `closing`
 * every wait on this handle ends with EVS_ECLOSED. */
void evs__head_wake(file_backend *fb, bool closing);

/* ---- lock.c ---------------------------------------------------------------------- */
int evs__wlock_acquire(file_backend *fb, int wait_ms);
void evs__wlock_release(file_backend *fb);
/* Hold the open lock shared until fb is freed; while a repair runs, wait per wait_ms
 * (as lock_wait_ms), then EVS_EBUSY. */
int evs__openlock_shared(file_backend *fb, int wait_ms);
/* Hold the open lock exclusively, without waiting: EVS_EBUSY (naming the processes that
 * hold it, where the system tells) while any handle anywhere has the store open. */
int evs__openlock_exclusive(file_backend *fb);

/* ---- segment.c ------------------------------------------------------------------- */
int evs__seg_load_all(file_backend *fb);          /* list the directory */
/* The same, removing what crashed cache writers left ("<seg>.idx.<pid>.tmp", .sdx.). */
int evs__seg_load_all_sweep(file_backend *fb);
/* Write a cache made from segment first_pos (`ext` "idx" or "sdx") through
 * "<seg>.<ext>.<pid>.tmp" renamed over it: readers see the old file or the new one,
 * whole; several processes may write the same bytes at once. Not synced. */
int evs__seg_write_cache(file_backend *fb, uint64_t first_pos, const char *ext, const void *buf,
                         size_t len);
seg *evs__seg_find(file_backend *fb, uint64_t pos); /* the segment holding pos, or NULL */
seg *evs__seg_by_first(file_backend *fb, uint64_t first_pos);
seg *evs__seg_at(file_backend *fb, size_t i);      /* NULL past the end */
size_t evs__seg_count(file_backend *fb);
seg *evs__seg_next(file_backend *fb, const seg *s); /* the following segment, or NULL */
int evs__seg_add(file_backend *fb, uint64_t first_pos, seg **out);
int evs__seg_create_file(file_backend *fb, uint64_t first_pos);
const mapping *evs__seg_map(file_backend *fb, seg *s, uint64_t need_len);
int evs__seg_file_size(seg *s, uint64_t *out);
/* The segment's file descriptor, opened on first use: its fd, or a negative EVS_E*
 * naming the file. */
int evs__seg_fd(seg *s);
/* What is wrong with segment s's 64-byte header h (magic, checksum, first position, store
 * id): a description into why and the byte offset of the bad field into *off; false
 * when the header is whole and says what the file's name says. */
bool evs__seg_header_bad(const file_backend *fb, const seg *s, const unsigned char *h, char *why,
                         size_t why_len, int64_t *off);
/* EVS_ECORRUPT (naming the file) unless the segment file holds the records that end
 * at `end` (all but the last one's padding): nothing may be read through a mapping
 * past the end of its file. */
int evs__seg_check_end(seg *s, uint64_t end);
/* Make segment first_pos's file end at byte `end` (cut, or put back a last record's
 * zero padding), durably: the caller holds the writer lock. errno stays the failing
 * call's. */
int evs__seg_cut(file_backend *fb, uint64_t first_pos, uint64_t end);
/* Are the n bytes at p all zero? */
bool evs__all_zero(const unsigned char *p, size_t n);
/* Does the active segment (fd, `size` bytes) end at `end`, the committed end of the log,
 * but for zeros written ahead of it (writer.c)? Then no writer died mid-commit: a record
 * never starts with 8 zero bytes (its length is at least REC_HDR_LEN). */
int evs__seg_tail_clean(int fd, uint64_t end, uint64_t size, bool *clean);
/* Offset of the record at pos in s (which must hold it). Builds or repairs the .idx
 * when needed. */
int evs__seg_offset(file_backend *fb, seg *s, uint64_t pos, uint64_t *off_out);
int evs__seg_read_at(file_backend *fb, seg *s, uint64_t off, bool check_crc, rec_view *out);
int evs__seg_read_pos(file_backend *fb, uint64_t pos, bool check_crc, rec_view *out);
void evs__seg_free_all(file_backend *fb);
/* Remove a segment's files, and forget the segment (its struct is kept until close). */
int evs__seg_remove_file(file_backend *fb, uint64_t first_pos);
/* Remove the caches made from a segment (its .idx and .sdx; either may be missing). */
int evs__seg_remove_caches(file_backend *fb, uint64_t first_pos);
void evs__seg_forget(file_backend *fb, uint64_t first_pos);

/* ---- streamdir.c ----------------------------------------------------------------- */
/* Make the stream directory of segment s, sealed with its records ending at `end`.
 * A cache: without it, whole-stream reads follow the links instead. */
int evs__sdx_build(file_backend *fb, seg *s, uint64_t end);
/* Have the directory of a segment just sealed made in the background (the writer, at a
 * roll); evs__sdx_finish makes what is still queued and ends the thread (at close). */
void evs__sdx_queue(file_backend *fb, uint64_t first_pos, uint64_t end);
void evs__sdx_finish(file_backend *fb);
/* The handle's builder of stream directories, fb->sdx: made at open (EVS_ENOMEM when
 * out of memory), freed at close after evs__sdx_finish (NULL is fine). */
typedef struct sdx_builder sdx_builder;
int evs__sdx_builder_new(file_backend *fb);
void evs__sdx_builder_free(file_backend *fb);
/* The entries of sealed segment s in the bucket of stream hash `hash`, in position
 * order (other streams' among them): *entries, *n. false when s has no directory fit
 * to use (missing, damaged, or not made from the segment as it is). */
bool evs__sdx_bucket(file_backend *fb, seg *s, uint64_t hash, const unsigned char **entries,
                     size_t *n);
/* Stop using s's directory in this handle: it pointed at a record it does not describe. */
void evs__sdx_distrust(seg *s);
static inline uint64_t evs__sdx_entry_hash(const unsigned char *e)
{
    return evs__get_u64(e + SDX_ENT_HASH);
}
static inline uint64_t evs__sdx_entry_pos(const seg *s, const unsigned char *e)
{
    return s->first_pos + evs__get_u32(e + SDX_ENT_REL);
}
static inline uint32_t evs__sdx_entry_off(const unsigned char *e)
{
    return evs__get_u32(e + SDX_ENT_OFF);
}

/* ---- streamtab.c ----------------------------------------------------------------- */
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

/* ---- synced_mark.c ---------------------------------------------------------------- */
/* The position the `synced` file says the log holds, synced (0: no file, or no valid
 * slot in it). */
int evs__synced_mark_read(file_backend *fb, uint64_t *pos);
/* Raise it to pos, durably (written and synced); a larger value is left alone. The
 * caller holds the writer lock, and every position up to pos is committed and synced. */
int evs__synced_mark_raise(file_backend *fb, uint64_t pos);
/* Repair only: set it to pos, lower or higher, durably. */
int evs__synced_mark_set(file_backend *fb, uint64_t pos);

/* ---- lost_ranges.c --------------------------------------------------------------- */
/* Read the `lost` file into fb->lost (none when it is missing; EVS_ECORRUPT when
 * damaged). */
int evs__lost_load(file_backend *fb);
/* The lost range holding pos, or NULL. */
const lost_range *evs__lost_find(const file_backend *fb, uint64_t pos);
/* pos, or the position after the lost range holding it. */
uint64_t evs__lost_skip(const file_backend *fb, uint64_t pos);
/* Is [next_pos, first_pos) exactly a lost range? Then a segment starting at first_pos
 * follows, without a gap, the log that ends before next_pos. */
bool evs__lost_bridges(const file_backend *fb, uint64_t next_pos, uint64_t first_pos);
/* Lost positions in [from, to]. */
uint64_t evs__lost_count(const file_backend *fb, uint64_t from, uint64_t to);
/* EVS_ELOST (naming the consumer and the range) when a consumer's checkpoint lies in
 * positions declared lost; else 0. */
int evs__lost_check_checkpoint(const file_backend *fb, const char *name, int64_t pos);
/* Repair only: add first..last (after every range there) and rewrite the file durably. */
int evs__lost_add(file_backend *fb, uint64_t first, uint64_t last);

/* ---- recover.c ------------------------------------------------------------------- */
/* With the writer lock held: make the log end at its last complete append, fix the
 * .idx tail and publish the head. */
int evs__recover(file_backend *fb, bool head_trusted);
/* Is h's end the end of a committed record of position h->pos (or a segment just
 * rolled after position h->pos)? A head page is a cache: nothing is cut on its word
 * unless it matches the log. */
bool evs__head_matches_log(file_backend *fb, const head_view *h);
/* Walk committed records from (seg, off) up to head h, calling cb for each. A record
 * whose frame holds (length, field sizes, flags, position and links plausible) but whose
 * checksum fails is passed too, with `damaged` set and its error message set: the
 * callback decides whether it can step over it (its fields may be wrong) or returns the
 * error. A record whose frame is broken ends the walk with EVS_ECORRUPT: the next one
 * cannot be found. */
typedef int (*rec_cb)(void *ctx, seg *s, uint64_t off, const rec_view *r, bool damaged);
int evs__scan(file_backend *fb, uint64_t seg_first, uint64_t off, const head_view *h, rec_cb cb,
              void *ctx);

/* ---- cursor.c -------------------------------------------------------------------- */
int evs__file_cursor_open(evs__be_cursor **out, evs__backend *be, const evs__query_c *q);
int evs__file_cursor_next(evs__be_cursor *c, evs_event *out);
void evs__file_cursor_close(evs__be_cursor *c);
int evs__file_find_time(evs__backend *be, int64_t ts_ns, int64_t *out);

/* ---- streams listing, verify (streams.c, verify.c) --------------------------------- */
int evs__file_stream_get(evs__backend *be, const char *stream, uint32_t len, uint64_t hash,
                         evs_stream_info *out);
int evs__file_streams_open(evs__be_streams **out, evs__backend *be, const char *prefix,
                           size_t prefix_len);
int evs__file_streams_next(evs__be_streams *it, const char **name, size_t *name_len,
                           evs_stream_info *info);
void evs__file_streams_close(evs__be_streams *it);
int evs__file_verify(evs__backend *be, evs_verify_cb cb, void *ctx, evs_verify_report *report);
/* Does r continue its stream as table t has it (version, link to the previous event,
 * name and type hashes)? Else a description into why and true. */
bool evs__verify_link_bad(const streamtab *t, const rec_view *r, char *why, size_t why_len);
/* Where verify and verify --quick report to: the caller's callback and report, and
 * whether the callback asked to stop. */
typedef struct evs__verify_out {
    evs_verify_cb cb;
    void *ctx;
    evs_verify_report *rep;
    bool stop;
    bool cut_short; /* damage kept the walk from reading the log to its end */
} evs__verify_out;
/* Report one problem: count it in out->rep and hand it to out->cb (printf-style
 * message), setting out->stop when the callback asks to stop. */
void evs__verify_problem(evs__verify_out *out, const char *file, int64_t off, int64_t pos,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The checks both make on coming to segment s, whose committed bytes end at *end: the
 * file holds them (else *end is cut to the file's size), it maps, its header is this
 * store's, and it starts at *next_pos, which becomes its first position. Returns the
 * mapping, or NULL when the segment cannot be read at all (reported). */
const mapping *evs__verify_segment_start(file_backend *fb, evs__verify_out *out, seg *s,
                                         uint64_t *end, uint64_t *next_pos);
/* Walk the segments up to the head for both: *total_bytes (for progress) becomes the
 * bytes they hold, then each is handed to `check` with the end of its committed bytes
 * and the position that must come next (UINT64_MAX from `check` ends the walk: nothing
 * after can be located); the last position found must be the head's. Stops early when
 * out->stop is set. */
typedef void (*evs__verify_seg_fn)(void *ctx, seg *s, uint64_t end, uint64_t *next_pos);
int evs__verify_walk(file_backend *fb, evs__verify_out *out, const head_view *h,
                     int64_t *total_bytes, evs__verify_seg_fn check, void *ctx);
int evs__file_verify_quick(evs__backend *be, evs_verify_cb cb, void *ctx,
                           evs_verify_report *report);

/* ---- save_aside.c ----------------------------------------------------------------- */
/* Make DIR/repair-YYYYMMDDTHHMMSSZ (-2, -3 ... when one of that second exists): its
 * path into dir. */
int evs__aside_make_dir(file_backend *fb, char *dir, size_t dir_len);
/* The path evs__aside_make_dir would make now, into dir; makes nothing (a dry run). */
int evs__aside_dir_name(file_backend *fb, char *dir, size_t dir_len);
/* "<dir>/<name>" into buf. */
int evs__aside_path(const char *dir, const char *name, char *buf, size_t len);
/* Copy bytes [from, size) of segment s into folder dir, synced, as "<seg>.from-<from>"
 * (as "<seg>" when from is 0); the name into name_out. */
int evs__aside_copy(const char *dir, seg *s, uint64_t from, uint64_t size, char *name_out,
                    size_t name_len);
/* Write dir/REPAIR.txt (text, synced): what the folder holds and why. */
int evs__aside_note(const char *dir, const char *text, size_t len);

/* ---- repair_scan.c, repair.c ------------------------------------------------------- */
/* What a scan of the whole log found: where the intact log ends (after the last
 * complete append before the first damage), the first damage, and what lies past it. */
typedef struct repair_plan {
    bool cut;                 /* the log must be cut at `kept` */
    bool head_ahead;          /* this boot's head page says the log reaches further */
    head_view kept;           /* pos, seg (0: no segment is kept), end, ts */
    char damage_file[64];     /* the first problem: file, byte offset, position, what */
    int64_t damage_off;
    uint64_t damage_pos;
    char what[384];
    uint64_t last_lost;       /* the highest committed position known past `kept` */
    uint64_t bytes_cut;       /* log bytes from the cut to the end of the log */
    uint64_t files_cut;       /* segment files after the cut, moved whole */
    uint64_t kept_seg_size;   /* the kept segment's file size now */
    streamtab tab;            /* the stream table of the kept log */
} repair_plan;

int evs__repair_scan(file_backend *fb, bool head_fresh, repair_plan *plan);
void evs__repair_plan_free(repair_plan *plan);
int evs__file_repair(const char *path, const evs_repair_opts *opts, evs_repair_report *out);

/* ---- consumers.c (the backend's version 2 methods; see backend.h) ---------------- */
int evs__file_consumer_lock(evs__backend *be, const char *name, evs__be_consumer **out);
void evs__file_consumer_unlock(evs__backend *be, evs__be_consumer *h);
int evs__file_checkpoint_load(evs__backend *be, const char *name, int64_t *pos, int64_t *ts_ns);
int evs__file_checkpoint_store(evs__backend *be, evs__be_consumer *h, int64_t pos,
                               int64_t ts_ns, bool durable);
int evs__file_consumer_delete(evs__backend *be, evs__be_consumer *h);
int evs__file_consumer_list(evs__backend *be, evs__consumer_cb cb, void *ctx);
/* version 5 */
int evs__file_filter_load(evs__backend *be, const char *name, char **out);
int evs__file_filter_store(evs__backend *be, evs__be_consumer *h, const char *text, int64_t pos,
                           int64_t ts_ns);


#endif /* EVS_FILE_INTERNAL_H */
