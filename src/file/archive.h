/*
 * archive.h - evs_archive on the file backend: sealed segments moved to the archive
 * directory by policy (archive.c). Finding them there is segment_locate.h's.
 */
#ifndef EVS_FILE_ARCHIVE_H
#define EVS_FILE_ARCHIVE_H

#include "backend.h"

int evs__file_archive(evs__backend *be, const evs_archive_opts *opts, evs_archive_report *out);

#endif /* EVS_FILE_ARCHIVE_H */
