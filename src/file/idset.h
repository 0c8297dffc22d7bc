/*
 * idset.h - a set of event-id fingerprints: the writer's memory of the ids it appended
 * or read, and where it last saw each.
 *
 * Open addressing over 64-bit fingerprints (0 marks an empty slot, so no fingerprint is
 * 0). A fingerprint found may be a false alarm (two ids can share one); one not found
 * proves the id was never added. The position kept with it is a hint, to be checked
 * against the record there: a false alarm or a failed append leaves one that lies. The set holds at most the number of fingerprints it was
 * made with: an add past that, or one that finds no memory, empties it instead, and the
 * caller starts again from nothing.
 */
#ifndef EVS_FILE_IDSET_H
#define EVS_FILE_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct id_set id_set;

/* The fingerprint of a 16-byte event id (never 0). */
uint64_t evs__id_fingerprint(const unsigned char *id);

/* An empty set that keeps at most `max` fingerprints; NULL when out of memory (error
 * set). Its table is allocated on the first add. */
id_set *evs__idset_new(size_t max);
void evs__idset_free(id_set *s); /* NULL is fine */

/* Has fingerprint f been added since the set was made or last emptied? */
bool evs__idset_has(const id_set *s, uint64_t f);

/* The position last added with f, or 0 (f not in the set, or added without one). */
uint64_t evs__idset_pos(const id_set *s, uint64_t f);

/* Add fingerprint f, seen at position pos (0: not known). Adding one already there
 * keeps one entry, with the newer position when pos is not 0. false when the set had to
 * be emptied instead (it would pass its maximum, or memory ran out): it then holds
 * nothing, f included, and no error is left set. */
bool evs__idset_add(id_set *s, uint64_t f, uint64_t pos);

/* Forget every fingerprint (and give back the table's memory). */
void evs__idset_clear(id_set *s);

/* How many fingerprints the set holds. */
size_t evs__idset_count(const id_set *s);

#endif /* EVS_FILE_IDSET_H */
