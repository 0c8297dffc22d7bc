/*
 * segment.h - segment files, their mappings and offset indexes (segment.c).
 */
#ifndef EVS_FILE_SEGMENT_H
#define EVS_FILE_SEGMENT_H

#include "record.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct file_backend file_backend;

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

/* A directory made from a sealed segment, as this handle has it (seg_cache.c). */
typedef struct seg_cache {
    _Atomic(mapping *) map;      /* once loaded */
    _Atomic int state;           /* 0 not loaded, 1 usable, -1 not to be used */
    _Atomic int64_t retry_ns;    /* state 0: no file yet; look again from this time */
    _Atomic bool requested;      /* this handle asked its builder to (re)make it */
} seg_cache;

typedef struct seg {
    uint64_t first_pos;
    char name[32];               /* "00000000000000000001.seg" */
    const struct file_backend *fb; /* whose directory holds it */
    _Atomic int fd;              /* O_RDONLY, for mapping; -1 until first used
                                  * (evs__seg_fd), so open does not open every file */
    _Atomic(mapping *) data;     /* the segment file */
    _Atomic(mapping *) idx;      /* its .idx file, NULL until needed */
    _Atomic uint64_t size_seen;  /* the file is known to be at least this long */
    seg_cache sdx;               /* its stream directory (streamdir.c) */
    seg_cache tdx;               /* its type directory (typedir.c) */
    struct seg *dropped_next;    /* on fb->dropped after recovery removed the file */
    /* Set when the file opened for it was its compressed one (segment_zstd.c); data is
     * then where its frames are decompressed to. Set before fd, never changed after. */
    _Atomic(struct zseg *) z;
} seg;

int evs__seg_load_all(file_backend *fb);          /* list the directory */
/* The same, removing what crashed cache writers left ("<seg>.idx.<pid>.tmp", .sdx., .tdx.). */
int evs__seg_load_all_sweep(file_backend *fb);
/* Map the cache made from segment s (`ext` "sdx" or "tdx") read-only, whole, when it
 * holds at least min_len bytes: a mapping that check(fb, s, m) accepts, else NULL
 * (*missing: there is no such file). No error is left set. */
mapping *evs__seg_map_cache(file_backend *fb, seg *s, const char *ext, size_t min_len,
                            bool (*check)(file_backend *fb, seg *s, const mapping *m),
                            bool *missing);
/* Whether sealed segment s is still the one a cache was made from: its file is seg_len
 * bytes long and the record at last_off, whole within it, has checksum last_crc and
 * position last_pos. No error is left set. */
bool evs__seg_tail_matches(file_backend *fb, seg *s, uint64_t seg_len, uint32_t last_off,
                           uint32_t last_crc, uint64_t last_pos);
/* Write a cache made from segment first_pos (`ext` "idx", "sdx" or "tdx") through
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
/* A mapping of segment s's plain bytes, holding at least [0, need_len): NULL with the
 * error set. For a compressed segment, every frame up to need_len is decompressed. */
const mapping *evs__seg_map(file_backend *fb, seg *s, uint64_t need_len);
/* The same for a read of bytes [from, to) only: a compressed segment decompresses just
 * the frames that hold them, so nothing outside that range may be read through it. */
const mapping *evs__seg_map_range(file_backend *fb, seg *s, uint64_t from, uint64_t to);
/* Read up to len plain bytes of s from offset off into buf (fewer at the end of the
 * file, or before a damaged frame of a compressed one): the count read, or a negative
 * EVS_E* naming the file (and frame). */
int64_t evs__seg_pread(seg *s, void *buf, size_t len, uint64_t off);
/* The length of the segment's plain bytes (of the file, for a plain segment). */
int evs__seg_file_size(seg *s, uint64_t *out);
/* The segment's file descriptor, opened on first use: its fd, or a negative EVS_E*
 * naming the file. The plain file when there is one, else the compressed one (then
 * s->z is set); a plain file removed after it was listed (compressed meanwhile) is
 * looked for compressed. Read a segment's bytes through evs__seg_pread or a mapping,
 * never through this descriptor directly. */
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
/* Do the decimal digits [digits, end) of a temporary file's name name a process that is
 * gone (not this one)? Then the file was left by a crash and will never be renamed. */
bool evs__tmp_pid_gone(const char *digits, const char *end);
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
/* Remove the caches made from a segment (its .idx, .sdx and .tdx; any may be missing). */
int evs__seg_remove_caches(file_backend *fb, uint64_t first_pos);
void evs__seg_forget(file_backend *fb, uint64_t first_pos);

#endif /* EVS_FILE_SEGMENT_H */
