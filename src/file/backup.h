/*
 * backup.h - evs_backup on the file backend (backup.c).
 */
#ifndef EVS_FILE_BACKUP_H
#define EVS_FILE_BACKUP_H

#include "backend.h"

int evs__file_backup(evs__backend *be, const char *dest, const evs_backup_opts *opts,
                     evs_backup_report *out);

#endif /* EVS_FILE_BACKUP_H */
