/*
 * lost_ranges.h - the `lost` file: positions a repair declared lost, never reused (lost_ranges.c).
 */
#ifndef EVS_FILE_LOST_RANGES_H
#define EVS_FILE_LOST_RANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct file_backend file_backend;

/* Positions first..last, declared lost by a repair: no event has them, none ever will. */
typedef struct lost_range {
    uint64_t first;
    uint64_t last;
} lost_range;

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
/* Repair only: add first..last and rewrite the file durably. A range inside one listed
 * already is there (a repair run again after it stopped halfway); one overlapping a
 * listed range partly is EVS_EINVAL. */
int evs__lost_add(file_backend *fb, uint64_t first, uint64_t last);

#endif /* EVS_FILE_LOST_RANGES_H */
