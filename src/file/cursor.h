/*
 * cursor.h - reading: scans by position, stream chains, filters (cursor.c).
 */
#ifndef EVS_FILE_CURSOR_H
#define EVS_FILE_CURSOR_H

#include "backend.h"

int evs__file_cursor_open(evs__be_cursor **out, evs__backend *be, const evs__query_c *q);
int evs__file_cursor_next(evs__be_cursor *c, evs_event *out);
void evs__file_cursor_close(evs__be_cursor *c);
int evs__file_find_time(evs__backend *be, int64_t ts_ns, int64_t *out);

#endif /* EVS_FILE_CURSOR_H */
