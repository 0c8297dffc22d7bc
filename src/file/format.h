/*
 * format.h - the on-disk format of the file backend, byte by byte.
 *
 * A store is a directory:
 *
 *   evstore.meta                 identity: magic, format version, store id (64 bytes)
 *   LOCK                         empty; flock()ed by the process that is appending
 *   OPEN                         empty; flock(LOCK_SH)ed by every open handle, taken
 *                                exclusively by repair
 *   head                         shared memory (4 KiB, mmap): committed head, futex word
 *   stream-index/                stream index runs (rebuildable from the log)
 *   00000000000000000001.seg     log segment; the name is its first position
 *   00000000000000000001.idx     that segment's record offsets (rebuildable)
 *   00000000000000000001.zseg    a sealed segment compressed (in place of its .seg)
 *
 * Every integer is little-endian. docs/FORMAT.md describes the same for readers
 * written in other languages; keep the two in step.
 *
 * Segment file: a 64-byte header, then records, each starting at an 8-byte aligned
 * offset. A record:
 *
 *   off size field
 *     0    4 crc          CRC32C of bytes [4,len): one contiguous range, length
 *                         included, so a damaged length cannot pass for another record
 *     4    4 len          bytes from the record's start to the end of its data
 *                         (unpadded); the next record starts at align8(len)
 *     8    8 pos          global position
 *    16    8 ts_ns        append time, ns since 1970 UTC, never decreasing
 *    24    8 version      index in its stream
 *    32    8 prev_pos     position of the stream's previous event, 0 for version 0
 *    40   16 id           UUID
 *    56    8 stream_hash  evs__hash64(stream)
 *    64    4 type_hash    low 32 bits of evs__hash64(type)
 *    68    4 data_len
 *    72    4 meta_len     0 when the event has no metadata
 *    76    2 stream_len
 *    78    2 type_len
 *    80    2 flags        REC_COMMIT: last record of an atomic append;
 *                         REC_HAS_META; REC_ID_GIVEN: the writer supplied the id;
 *                         REC_LOST: a filler that `repair --keep-intact` wrote over a
 *                         damaged event (see below); REC_SEALED: the data is encrypted
 *    82    2 reserved     zero
 *    84    4 prev_off     byte offset of the stream's previous event inside the
 *                         segment that holds prev_pos (0 for version 0), so a stream
 *                         is walked without looking positions up
 *    88      stream bytes, type bytes, metadata bytes, data bytes
 *
 * An append is visible only once a record with REC_COMMIT ends it: recovery cuts a
 * tail that does not end with one, so multi-record appends are all-or-nothing.
 *
 * A sealed segment's size is its end. The last one may hold zeros past its last record
 * (written ahead by active_segment.c in `always` mode, cut at seal, close and recovery); a
 * record never starts with 8 zero bytes (len >= REC_HDR_LEN).
 */
#ifndef EVS_FILE_FORMAT_H
#define EVS_FILE_FORMAT_H

#include <stdint.h>

#define EVS_FORMAT_VERSION 1

/* evstore.meta: 64 bytes. */
#define META_FILE      "evstore.meta"
#define META_MAGIC     "EVSTORE\0" /* 8 bytes */
#define META_LEN       64
#define META_OFF_MAGIC 0  /* 8  */
#define META_OFF_FMT   8  /* 4  format version */
#define META_OFF_FLAGS 12 /* 4  zero */
#define META_OFF_ID    16 /* 16 store id (UUID) */
#define META_OFF_CTIME 32 /* 8  creation time, ns */
#define META_OFF_SEGSZ 40 /* 8  segment size chosen at creation */
#define META_OFF_CRC   60 /* 4  CRC32C of bytes [0,60) */

/* The open lock: every handle holds a shared flock on it for its whole life, readers
 * included; repair takes it exclusively, so it runs only while no process has the store
 * open, and opens wait for it. Not LOCK itself: flock()s on two descriptors of one file
 * conflict even inside one process, and a handle holding this must still take LOCK. */
#define OPEN_FILE "OPEN"

/* Segment header: 64 bytes. */
#define SEG_MAGIC     "EVSTSEG1"
#define SEG_HDR_LEN   64
#define SEG_OFF_MAGIC 0  /* 8 */
#define SEG_OFF_FMT   8  /* 4 format version */
#define SEG_OFF_HLEN  12 /* 4 header length (64) */
#define SEG_OFF_FIRST 16 /* 8 first position */
#define SEG_OFF_CTIME 24 /* 8 creation time, ns */
#define SEG_OFF_ID    32 /* 16 store id */
#define SEG_OFF_CRC   60 /* 4 CRC32C of bytes [0,60) */

/* Record header. */
#define REC_HDR_LEN       88
#define REC_OFF_CRC       0
#define REC_OFF_LEN       4
#define REC_OFF_POS       8
#define REC_OFF_TS        16
#define REC_OFF_VERSION   24
#define REC_OFF_PREV      32
#define REC_OFF_ID        40
#define REC_OFF_SHASH     56
#define REC_OFF_THASH     64
#define REC_OFF_DATA_LEN  68
#define REC_OFF_META_LEN  72
#define REC_OFF_SLEN      76
#define REC_OFF_TLEN      78
#define REC_OFF_FLAGS     80
#define REC_OFF_PREV_OFF  84

#define REC_COMMIT   0x1u
#define REC_HAS_META 0x2u
#define REC_ID_GIVEN 0x4u
/* A filler in place of an event a repair declared lost (its position is in `lost`): it
 * keeps the position's place in the segment (and its .idx entry), so the intact records
 * after it keep theirs. No event is read from it. When the repair could tell whose event
 * it was, it carries that stream's name, hash, version and links, so the stream's chain
 * and version count stay whole; otherwise stream_len and version are 0. type_len is 0,
 * the id zero, data_len covers the rest of the filler (zero bytes), flags LOST|COMMIT. */
#define REC_LOST     0x8u
/* The data is an encrypted envelope (docs/FORMAT.md, "Encrypted data"), not JSON: the
 * event was appended with a subject. A reader older than it refuses the record rather
 * than hand the envelope out as the event's data. */
#define REC_SEALED   0x10u
#define REC_FLAGS_KNOWN (REC_COMMIT | REC_HAS_META | REC_ID_GIVEN | REC_LOST | REC_SEALED)

#define REC_ALIGN(n) (((n) + 7u) & ~(uint64_t)7u)

/* Compressed sealed segment (<first position>.zseg, segment_zstd.c): the plain segment's
 * bytes cut into frames of ZSEG_FRAME_LEN (the last one shorter), each compressed on its
 * own as one zstd frame, so that a read decompresses only the frames it touches.
 *   header (64) | frame table (count x 16) | frames, back to back, in order
 * Offsets everywhere else (.idx, .sdx, .tdx, the stream index, records' links) stay
 * those of the plain segment: plain byte b is in frame b / frame_len. */
#define ZSEG_MAGIC      "EVSZSEG1"
#define ZSEG_HDR_LEN    64
#define ZSEG_OFF_MAGIC  0  /* 8 */
#define ZSEG_OFF_FMT    8  /* 4 format version */
#define ZSEG_OFF_FRAME  12 /* 4 plain bytes per frame (a power of two, 4 KiB to 16 MiB) */
#define ZSEG_OFF_FIRST  16 /* 8 the segment's first position */
#define ZSEG_OFF_PLAIN  24 /* 8 the plain segment's length in bytes */
#define ZSEG_OFF_ID     32 /* 16 store id */
#define ZSEG_OFF_COUNT  48 /* 4 frames: plain length / frame length, rounded up */
#define ZSEG_OFF_TABCRC 52 /* 4 CRC32C of the frame table */
#define ZSEG_OFF_CRC    60 /* 4 CRC32C of bytes [0,60) */
#define ZSEG_ENTRY_LEN  16 /* a frame table entry: */
#define ZSEG_ENT_OFF    0  /* 8 byte offset of the frame in the file */
#define ZSEG_ENT_LEN    8  /* 4 its compressed length */
#define ZSEG_ENT_CRC    12 /* 4 CRC32C of its compressed bytes */
#define ZSEG_FRAME_LEN  (64u << 10)

/* Offset index (.idx): one u32 per record, the record's byte offset in its segment,
 * in position order: entry i belongs to position first_pos + i. No header; the file
 * is rebuilt from the segment whenever it is shorter or disagrees. */
#define IDX_ENTRY_LEN 4

/* Stream directory (.sdx) of a sealed segment: where each stream's records are in it,
 * so that a whole-stream read can fetch them all at once instead of following one link
 * after another. A cache made when the segment is sealed; a reader uses it only for a
 * segment that later segments follow, and only while it matches the segment.
 *   header (64) | entries (count x 16) | directory ((1 << bits) + 1) x u32 | u32 CRC32C
 *   of the entries and directory.
 * Entries are grouped by bucket (the stream hash's top `bits` bits), each bucket in
 * position order; directory[b] is the index of bucket b's first entry, directory[1 <<
 * bits] = count. */
#define SDX_MAGIC       "EVSSDIR1"
#define SDX_HDR_LEN     64
#define SDX_OFF_MAGIC   0  /* 8 */
#define SDX_OFF_FMT     8  /* 4 format version */
#define SDX_OFF_BITS    12 /* 4 bucket bits, 1..24 */
#define SDX_OFF_FIRST   16 /* 8 the segment's first position */
#define SDX_OFF_SEGLEN  24 /* 8 the segment's length in bytes when the directory was made */
#define SDX_OFF_COUNT   32 /* 8 entries: one per record of the segment */
#define SDX_OFF_LASTOFF 40 /* 4 byte offset of the segment's last record */
#define SDX_OFF_LASTCRC 44 /* 4 that record's crc field */
#define SDX_OFF_CRC     60 /* 4 CRC32C of bytes [0,60) */
#define SDX_ENTRY_LEN   16 /* an entry: */
#define SDX_ENT_HASH    0  /* 8 the record's stream hash */
#define SDX_ENT_REL     8  /* 4 its position - the segment's first position */
#define SDX_ENT_OFF     12 /* 4 its byte offset in the segment */
#define SDX_MAX_BITS    24

/* Type directory (.tdx) of a sealed segment: its records grouped by event type and by
 * stream category (the stream name up to its first '-', or all of it), so that a read
 * filtered by type, category or prefix fetches the matching records of the segment and
 * no others. A cache made beside the .sdx, used on the same terms.
 *   header (64) | keys (type_keys + cat_keys) x 24 | names (names_len, padded to 8) |
 *   entries (2 x count) x 8
 * Type keys come first, then category keys, each group in name order (bytes, then
 * length). Each key owns a run of entries [first, first + n), in position order: the
 * type runs together cover entries [0, count) and name every record once, the category
 * runs [count, 2 x count) likewise. An entry is (rel << 32 | off), rel = position - the
 * segment's first position, off = the record's byte offset. */
#define TDX_MAGIC       "EVSTDIR1"
#define TDX_HDR_LEN     64
#define TDX_OFF_MAGIC   0  /* 8 */
#define TDX_OFF_FMT     8  /* 4 format version */
#define TDX_OFF_TKEYS   12 /* 4 type keys */
#define TDX_OFF_FIRST   16 /* 8 the segment's first position */
#define TDX_OFF_SEGLEN  24 /* 8 the segment's length in bytes when the directory was made */
#define TDX_OFF_COUNT   32 /* 8 records of the segment */
#define TDX_OFF_LASTOFF 40 /* 4 byte offset of the segment's last record */
#define TDX_OFF_LASTCRC 44 /* 4 that record's crc field */
#define TDX_OFF_CKEYS   48 /* 4 category keys */
#define TDX_OFF_NAMES   52 /* 4 bytes of names */
#define TDX_OFF_KEYCRC  56 /* 4 CRC32C of the keys and names */
#define TDX_OFF_CRC     60 /* 4 CRC32C of bytes [0,60) */
#define TDX_KEY_LEN     24 /* a key: */
#define TDX_KEY_NAME    0  /* 4 offset of its name in the names */
#define TDX_KEY_NLEN    4  /* 4 its name's length */
#define TDX_KEY_FIRST   8  /* 4 index of its run's first entry */
#define TDX_KEY_N       12 /* 4 entries in its run, at least 1 */
#define TDX_KEY_CRC     16 /* 4 CRC32C of the run's entries */
                           /* 4 reserved, 0 */
#define TDX_ENTRY_LEN   8

/* head: one 4 KiB page shared by every process that opens the store. Not durable and
 * not the truth: it only tells other processes how far the committed log reaches, and
 * is rebuilt from the log when it is missing, from another boot, or from another store.
 * Fields at HEAD_OFF_SEQ..HEAD_OFF_TS are written under a seqlock by the writer. */
#define HEAD_FILE       "head"
#define HEAD_MAGIC      "EVSHEAD1"
#define HEAD_LEN        4096
#define HEAD_OFF_MAGIC  0   /* 8 */
#define HEAD_OFF_ID     8   /* 16 store id */
#define HEAD_OFF_BOOT   24  /* 16 boot id of the machine that wrote it */
#define HEAD_OFF_SEQ    40  /* 4 seqlock sequence, odd while being written */
#define HEAD_OFF_FUTEX  44  /* 4 bumped after every publish; waiters sleep on it */
#define HEAD_OFF_POS    48  /* 8 last committed position */
#define HEAD_OFF_SEG    56  /* 8 first position of the segment the next record goes to */
#define HEAD_OFF_END    64  /* 8 byte offset where the next record goes in that segment */
#define HEAD_OFF_TS     72  /* 8 ts of the last committed event */
#define HEAD_OFF_SYNCED 80  /* 8 every position <= this has been fdatasync'ed */
#define HEAD_OFF_WAITERS 88 /* 4 processes/threads sleeping on the futex word */
#define HEAD_OFF_SNAP   96  /* 8 position covered by the newest stream index run */

/* stream-index/: the persistent stream index, a chain of immutable sorted runs (see
 * sindex.c and docs/FORMAT.md). A run "<from>-<to>.run" (20 digits each) holds, for
 * every stream with an event at a position in (from, to], where its last event up to
 * `to` is. Header page, then pages of SIDX_PAGE_ENTRIES entries sorted by (key,
 * first_pos), each page with its own checksum, checked when a lookup first reads it. */
#define SIDX_DIR          "stream-index"
#define SIDX_MERGE_LOCK   "MERGE"
#define SIDX_MAGIC        "EVSSIDX1"
#define SIDX_PAGE_LEN     4096
#define SIDX_OFF_MAGIC    0  /* 8 */
#define SIDX_OFF_FMT      8  /* 4 format version */
#define SIDX_OFF_ID       12 /* 4 CRC32C of the store id, to spot strays */
#define SIDX_OFF_FROM     16 /* 8 the run holds streams with events in (from, to] */
#define SIDX_OFF_TO       24 /* 8 */
#define SIDX_OFF_SEG      32 /* 8 first position of the segment holding position to+1 */
#define SIDX_OFF_END      40 /* 4 byte offset of position to+1 in that segment */
#define SIDX_OFF_LASTCRC  44 /* 4 crc field of the record at `to` */
#define SIDX_OFF_STREAMS  48 /* 8 streams in the store at position `to` */
#define SIDX_OFF_ENTRIES  56 /* 4 entries in the run */
#define SIDX_OFF_CRC      60 /* 4 CRC32C of bytes [0,60) */
#define SIDX_ENTRY_LEN    40 /* key u64 | first_pos u64 | last_pos u64 | last_version u64 |
                              * last_off u32 | zero u32 (key: the stream hash, 1 for 0) */
#define SIDX_PAGE_ENTRIES 102
#define SIDX_PG_COUNT     4080 /* 4 entries in this page */
#define SIDX_PG_NO        4084 /* 4 the page's number (1 = the first after the header) */
#define SIDX_PG_TO        4088 /* 4 low 32 bits of the run's `to` */
#define SIDX_PG_CRC       4092 /* 4 CRC32C of the page's bytes [0,4092) */
/* After the entry pages, a Bloom filter of the keys (so that a lookup of a stream a run
 * does not hold costs one cache line, not a search): SIDX_FILTER_BLOCKS(entries) blocks
 * of 64 bytes, SIDX_FILTER_PAGE_BLOCKS to a page, pages closed as entry pages are. */
#define SIDX_FILTER_BLOCKS(n)  (((uint64_t)(n) * 10 + 511) / 512)
#define SIDX_FILTER_PAGE_BLOCKS 63
#define SIDX_FILTER_PROBES      6

/* synced: the durable lower bound of the log's end. The head page says how far the log
 * was synced too, but it is a cache that a crash of the machine or a copy may lose; this
 * file is written and synced only when a writer seals a segment or closes the store,
 * after recovery and when a durable stream index run is written (never per append), so
 * an open can tell a log that lost synced records from one that was never longer. Two
 * slots of SYNCED_SLOT_LEN bytes, slot i at i * SYNCED_SLOT_STEP, written in turn
 * (seq % 2); the valid slot with the highest seq counts. No file, or no valid slot:
 * nothing is known. */
#define SYNCED_FILE       "synced"
#define START_FILE        "start"    /* the log's first position; the same slots */
#define START_MAGIC       "EVSSTRT1"
#define SYNCED_MAGIC      "EVSSYNC1"
#define SYNCED_SLOT_LEN   64
#define SYNCED_SLOT_STEP  512
#define SYNCED_FILE_LEN   (SYNCED_SLOT_STEP + SYNCED_SLOT_LEN)
#define SYNCED_OFF_MAGIC  0  /* 8 */
#define SYNCED_OFF_SEQ    8  /* 8 bumped by every write; the slot written is seq % 2 */
#define SYNCED_OFF_POS    16 /* 8 the log holds every position up to this one, synced */
#define SYNCED_OFF_ID     24 /* 16 store id */
#define SYNCED_OFF_CRC    60 /* 4 CRC32C of bytes [0,60) */

/* lost: the position ranges a repair declared lost (the log continues after them, so
 * that no position names two events). Header: magic 8, format version u32, count u32;
 * then count entries (first u64, last u64), in position order, not overlapping; then
 * the CRC32C of everything before it (u32). Replaced whole by repair only. */
#define LOST_FILE  "lost"
#define LOST_MAGIC "EVSLOST1"

/* backup: present in a directory evs_backup made; one text line naming the position the
 * backup holds: "evstore-backup 1 pos=N time=NS crc32c=XXXXXXXX\n", the CRC32C over the
 * bytes before " crc32c=". A new backup is built in ".<dest's name>" BACKUP_STAGE_SUFFIX
 * beside it, and swapped for it in one rename. */
#define BACKUP_FILE         "backup"
#define BACKUP_MAGIC        "evstore-backup"
#define BACKUP_STAGE_SUFFIX ".evstore-backup-new"

/* archive: where sealed segments go when archived, and the policy (segment_locate.c).
 * Absent when the store has no archive. */
#define ARCHIVE_FILE  "archive"
#define ARCHIVE_MAGIC "evstore-archive"

#endif /* EVS_FILE_FORMAT_H */
