/*
 * streams.h - one stream's summary and the listing of streams (streams.c).
 */
#ifndef EVS_FILE_STREAMS_H
#define EVS_FILE_STREAMS_H

#include "backend.h"

int evs__file_stream_get(evs__backend *be, const char *stream, uint32_t len, uint64_t hash,
                         evs_stream_info *out);
int evs__file_streams_open(evs__be_streams **out, evs__backend *be, const char *prefix,
                           size_t prefix_len);
int evs__file_streams_next(evs__be_streams *it, const char **name, size_t *name_len,
                           evs_stream_info *info);
void evs__file_streams_close(evs__be_streams *it);

#endif /* EVS_FILE_STREAMS_H */
