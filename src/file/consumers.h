/*
 * consumers.h - durable consumers: lock files and two-slot checkpoint files (consumers.c); the
 * backend's version 2 and 5 methods (see backend.h).
 */
#ifndef EVS_FILE_CONSUMERS_H
#define EVS_FILE_CONSUMERS_H

#include "backend.h"

int evs__file_consumer_lock(evs__backend *be, const char *name, evs__be_consumer **out);
void evs__file_consumer_unlock(evs__backend *be, evs__be_consumer *h);
int evs__file_checkpoint_load(evs__backend *be, const char *name, int64_t *pos, int64_t *ts_ns);
int evs__file_checkpoint_store(evs__backend *be, evs__be_consumer *h, int64_t pos,
                               int64_t ts_ns, bool durable);
int evs__file_consumer_delete(evs__backend *be, evs__be_consumer *h);
int evs__file_consumer_list(evs__backend *be, evs__consumer_cb cb, void *ctx);
/* version 5 */
int evs__file_filter_load(evs__backend *be, const char *name, char **out);
int evs__file_filter_store(evs__backend *be, evs__be_consumer *h, const char *text, int64_t pos,
                           int64_t ts_ns);

#endif /* EVS_FILE_CONSUMERS_H */
