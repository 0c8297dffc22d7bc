/*
 * stream_meta.h - a stream's lifecycle settings (evs_stream_meta) as events of the
 * log: reading them back, checking appends against them, and the list of streams that
 * have any ("$lifecycle"), which log-wide reads use to look up only those streams.
 */
#ifndef EVS_STREAM_META_H
#define EVS_STREAM_META_H

#include "backend.h"

/* One event per stream that ever had settings, written with its first "$metadata"
 * event: data {"stream":"NAME"}. */
#define EVS__LIFECYCLE_STREAM "$lifecycle"
#define EVS__LIFECYCLE_TYPE   "$stream-has-metadata"

/* "$meta-" + stream into buf (EVS_MAX_STREAM_LEN + 1 bytes): its length, or 0 when the
 * name would be too long (such a stream can have no settings). */
size_t evs__meta_stream_name(char *buf, const char *stream, size_t len);

/* Is `stream` one of the reserved lifecycle streams ("$meta-..." or "$lifecycle")? */
bool evs__is_lifecycle_stream(const char *stream, size_t len);

/* Parse a "$metadata" event's data. 0, or EVS_EINVAL with the reason in `why`. */
int evs__meta_parse(evs_stream_meta *out, const char *data, size_t len, char *why,
                    size_t why_len);

/* Parse a "$lifecycle" event's data: the stream it names (a view into data, escapes
 * not undone: names with escapes are written escaped) or EVS_EINVAL. */
int evs__lifecycle_parse(const char **name, size_t *name_len, const char *data, size_t len);

/* The settings of stream[0..len) in force now (all 0 when none) and the version of its
 * "$meta-" stream (-1 when none). EVS_ECORRUPT naming the position when the newest
 * "$metadata" event cannot be parsed. */
int evs__meta_load(evs_stream_meta *out, int64_t *meta_version, const evs__backend_methods *m,
                   evs__backend *be, const char *stream, size_t len);

/* Refuse a batch the lifecycle forbids: an append to a stream deleted for good
 * (EVS_EDELETED), or to a reserved lifecycle stream from outside this module
 * (EVS_EINVAL). `index`/`count` name the batch in the message. */
int evs__lifecycle_check_batch(const evs__backend_methods *m, evs__backend *be,
                               const evs__batch_w *b, size_t index, size_t count);

#endif /* EVS_STREAM_META_H */
