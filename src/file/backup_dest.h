/*
 * backup_dest.h - the destination of a backup: checking it, the directory the new
 * backup is built in beside it, the `backup` file, and the atomic swap (backup_dest.c).
 */
#ifndef EVS_FILE_BACKUP_DEST_H
#define EVS_FILE_BACKUP_DEST_H

#include <stdint.h>

typedef struct backup_dest backup_dest;

/* Check `dest` for a backup of the store in `store_dir` (identity store_id): missing,
 * an empty directory, or an earlier backup of this store that no handle has open (its
 * OPEN lock is held until evs__bdest_free). Leftovers of an interrupted backup beside
 * it are removed, and an empty directory to build the new backup in is made. */
int evs__bdest_open(backup_dest **out, const char *dest, const char *store_dir,
                    const unsigned char store_id[16]);
/* The directory the new backup is built in. */
const char *evs__bdest_stage(const backup_dest *bd);
/* The earlier backup's directory (dest), or NULL when there is none. */
const char *evs__bdest_earlier(const backup_dest *bd);
/* The earlier backup's position (0: none). */
uint64_t evs__bdest_earlier_pos(const backup_dest *bd);
/* Write the `backup` file (the backup's position) into the new backup, synced. */
int evs__bdest_mark(backup_dest *bd, uint64_t pos);
/* Put the new backup in dest's place in one rename, durably, and remove the earlier
 * one. Before the rename nothing of dest has changed; after it, dest is the new backup. */
int evs__bdest_commit(backup_dest *bd);
/* Remove what is left of a new backup that was not committed, and free bd (NULL ok). */
void evs__bdest_free(backup_dest *bd);

/* The position the `backup` file in directory `dir` names: 0 and *pos, EVS_ENOTFOUND
 * when there is none, EVS_ECORRUPT naming it when it is damaged. */
int evs__backup_mark_read(const char *dir, uint64_t *pos);

#endif /* EVS_FILE_BACKUP_DEST_H */
