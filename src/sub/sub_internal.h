/*
 * sub_internal.h - what the files of src/sub share: subscriptions as the building
 * block of durable consumers. src/sub sits on top of the core (it includes core.h for
 * the store handle and reaches storage only through the backend table).
 */
#ifndef EVS_SUB_INTERNAL_H
#define EVS_SUB_INTERNAL_H

#include "core.h"

/* evs_subscribe and evs_subscription_next without clearing the thread's error on
 * success, with `fn` naming the public function in messages. */
int evs__subscribe(evs_subscription **out, evs_store *store, const evs_query *filter,
                   int64_t from_pos, const char *fn);
int evs__subscription_next(evs_subscription *sub, evs_event *out, int timeout_ms);

#endif /* EVS_SUB_INTERNAL_H */
