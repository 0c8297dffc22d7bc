/*
 * repair_fill.h - repair --keep-intact: fillers (REC_LOST) for the damaged positions
 * only, so the intact records after them keep their places (repair_fill.c).
 */
#ifndef EVS_FILE_REPAIR_FILL_H
#define EVS_FILE_REPAIR_FILL_H

#include "record.h"
#include "segment.h"
#include "streamtab.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct file_backend file_backend;

/* One lost position's filler (REC_LOST), as repair --keep-intact plans it. */
typedef struct fill_slot {
    uint64_t off;             /* where it starts in its segment */
    bool fixed;               /* off is the lost record's own (its frame or a link says so) */
    bool named;               /* whose event it was is known: the fields below */
    const char *stream;       /* points into a mapped segment */
    uint16_t stream_len;
    uint64_t stream_hash;
    uint64_t version;
    uint64_t prev_pos;        /* the stream's event before it */
    uint32_t prev_off;        /* its offset (when prev_pos is a filler too: settled when
                               * written, from that filler's place) */
} fill_slot;

/* Bytes [from, to) of segment s, which held positions [first_pos, end_pos): replaced by
 * one filler per position. */
typedef struct fill_region {
    seg *s;
    uint64_t from, to;
    uint64_t first_pos, end_pos;
    int64_t ts;               /* each filler's ts: the last one before it */
    fill_slot *slots;         /* end_pos - first_pos */
} fill_region;

typedef struct fill_plan {
    fill_region *r;           /* in position order */
    size_t n, cap;
} fill_plan;

/* The next whole record after damage at byte `from` of a segment mapped at base (`size`
 * bytes) where position pos was expected: 8-byte aligned, frame and checksum right, its
 * position Q > pos and no more than the bytes in between can hold ((Q - pos) headers).
 * false when there is none. */
bool evs__fill_find_next(const unsigned char *base, uint64_t size, uint64_t from, uint64_t pos,
                         uint64_t *at, uint64_t *next_pos);
/* Plan the fillers of a new region (after every region of fp); the damaged records at
 * its start whose frames hold and whose headers fit table t keep their owners (applied
 * to t). */
int evs__fill_add(fill_plan *fp, streamtab *t, seg *s, const unsigned char *base, uint64_t from,
                  uint64_t to, uint64_t first_pos, uint64_t end_pos, int64_t ts);
/* Intact record r's link points at a lost position of fp with no known owner: that was
 * its stream's version before r (and the stream's versions still missing before it, the
 * latest unowned lost positions). Marks them, moves the stream in t to that position;
 * false (nothing changed) when that cannot be (no room, not enough positions, no link). */
bool evs__fill_claim(fill_plan *fp, streamtab *t, const rec_view *r);
/* Write region g's fillers over its bytes, synced. */
int evs__fill_write(file_backend *fb, fill_plan *fp, const fill_region *g);
void evs__fill_free(fill_plan *fp);

#endif /* EVS_FILE_REPAIR_FILL_H */
