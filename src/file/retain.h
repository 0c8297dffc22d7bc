/*
 * retain.h - store retention: dropping the oldest sealed segments (retain.c).
 */
#ifndef EVS_FILE_RETAIN_H
#define EVS_FILE_RETAIN_H

#include "evstore.h"

int evs__file_retain(const char *path, const evs_retain_opts *opts, evs_retain_report *out);

#endif /* EVS_FILE_RETAIN_H */
