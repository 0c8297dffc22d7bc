/*
 * typedir.h - type directories (.tdx) of sealed segments: made by the stream
 * directories' builder, used by filtered scans (cursor.c) to read only the records of a
 * segment that may match.
 */
#ifndef EVS_TYPEDIR_H
#define EVS_TYPEDIR_H

#include "backend.h"
#include "segment.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct file_backend file_backend;

/* Make the type directory of segment s, sealed with its records ending at `end`. A
 * cache: without it, filtered reads scan the segment. */
int evs__tdx_build(file_backend *fb, seg *s, uint64_t end);
/* The builder made s's directory: this handle's readers look for it again at once. */
void evs__tdx_made(seg *s);
/* Stop using s's directory in this handle (one of its entries led astray). */
void evs__tdx_distrust(seg *s);
/* Does q filter by type, category or prefix, which a directory can answer? */
bool evs__tdx_applies(const evs__query_c *q);

/* Which category keys a walk reads: the one named `name` (prefix false), or every one
 * starting with `name` (prefix true). */
typedef struct cat_pick {
    const char *name;
    uint32_t len;
    bool prefix;
} cat_pick;

/* A walk through one sealed segment's records that may match a query, by its type
 * directory: the runs of the query's types or of its categories (whichever holds fewer
 * entries), merged in position order. Owned by a cursor; zero-initialised. */
typedef struct tdx_walk {
    seg *s;          /* the segment walked; NULL: none (scan) */
    uint64_t *e;     /* entries (rel << 32 | byte offset), in position order */
    uint64_t n, cap;
    uint64_t i;      /* forward: next entry; backward: one past it */
    uint64_t count;  /* records in the segment */
    bool backward;
    bool by_type;    /* the runs are the query's types (else its categories) */
    bool sparse;     /* records far apart: each read alone into buf, not mapped */
    unsigned char *buf;
    size_t buf_cap;
    cat_pick cat;
} tdx_walk;

enum { TDX_END = 0, TDX_RECORD = 1, TDX_ASTRAY = 2 };

/* Start walking sealed segment s from position pos (forward: pos and after; backward:
 * pos and before). 1 when w walks it, 0 when s has no directory fit to use (scan it;
 * no error set), negative EVS_E* when out of memory. */
int evs__tdx_walk_start(tdx_walk *w, file_backend *fb, seg *s, const evs__query_c *q,
                        uint64_t pos, bool backward);
/* The position of the walk's next record: UINT64_MAX (forward) or 0 (backward) at the end. */
uint64_t evs__tdx_walk_peek(const tdx_walk *w);
/* The walk's next record into *r, read with its checksum checked, at the position the
 * directory gives and of a type or category it was filed under: TDX_RECORD. TDX_END
 * when the segment holds no more. TDX_ASTRAY when the entry was wrong or the record
 * unreadable: the directory is distrusted, w->s is NULL, and the caller scans the
 * segment on from the position after the last record it was given (which also reports
 * damage of the log itself). */
int evs__tdx_walk_next(tdx_walk *w, file_backend *fb, const evs__query_c *q, rec_view *r);
void evs__tdx_walk_free(tdx_walk *w);

#endif /* EVS_TYPEDIR_H */
