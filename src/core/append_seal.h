/*
 * append_seal.h - the part of an append that concerns subjects: finding an event's
 * subject (its metadata's "subject", or the append's option) and encrypting the data
 * of the events that have one under their subject's key.
 */
#ifndef EVS_APPEND_SEAL_H
#define EVS_APPEND_SEAL_H

#include "backend.h"
#include "util.h"

/* Set w->subject for event `in`: its metadata's top-level "subject" (a string), else
 * `fallback` (the append's subject, or NULL). EVS_EINVAL with the reason in why when
 * the subject is not a string, empty, longer than EVS_MAX_SUBJECT_LEN, not valid
 * UTF-8, holds control characters, or disagrees with `fallback`; EVS_ENOMEM. */
int evs__subject_find(evs__event_w *w, const evs_event_in *in, const char *fallback, char *why,
                      size_t why_len);

/* What is wrong with a subject (s[0..len)), as "is empty", or NULL when it is good. */
const char *evs__subject_problem(const char *s, size_t len);

/* Free the subjects evs__subject_find copied. */
void evs__subject_release(evs__event_w *events, size_t count);

/* Encrypt the data of every event with a subject: its data then points into *sealed
 * (kept until the append is written) and it is marked sealed. `keys` may be NULL when
 * no event has a subject. The caller holds evs__keytab_append_begin. 0, EVS_ENOTSUP
 * (subjects, but the store keeps no keys), or the key table's errors. */
int evs__append_seal(evs__keytab *keys, evs__batch_w *batches, size_t batch_count,
                     evs__buf *sealed);

/* Does any event of the batches have a subject? */
bool evs__append_has_subject(const evs__batch_w *batches, size_t batch_count);

#endif /* EVS_APPEND_SEAL_H */
