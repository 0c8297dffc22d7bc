/*
 * repair.h - repair: where the intact log ends and what lies past it (repair_scan.c), saving
 * the damaged tail aside, cutting, rebuilding caches (repair.c).
 */
#ifndef EVS_FILE_REPAIR_H
#define EVS_FILE_REPAIR_H

#include "backend.h"
#include "head.h"
#include "repair_fill.h"
#include "streamtab.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct file_backend file_backend;

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
    bool keep_intact;         /* damage inside a segment becomes lost positions (fills),
                               * the intact records after it are kept */
    fill_plan fills;
    uint64_t fill_bytes;      /* bytes the fillers replace */
    char fill_file[64];       /* the first damage a fill region covers (the damage_*
                               * fields name the cut's) */
    int64_t fill_off;
    uint64_t fill_pos;
    char fill_what[384];
} repair_plan;

/* With keep_intact, damage inside a segment costs only the positions it hit (plan->fills)
 * and the log is cut only where nothing whole follows the damage. */
int evs__repair_scan(file_backend *fb, bool head_fresh, bool keep_intact, repair_plan *plan);
void evs__repair_plan_free(repair_plan *plan);
int evs__file_repair(const char *path, const evs_repair_opts *opts, evs_repair_report *out);

#endif /* EVS_FILE_REPAIR_H */
