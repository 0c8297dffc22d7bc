/*
 * sub_internal.h - what the files of src/sub share. Subscriptions are the building
 * block of durable consumers, consumers of read models, and all three of push
 * delivery. src/sub sits on top of the core (it includes core.h for the store handle
 * and reaches storage only through the backend table); state files are plain files.
 */
#ifndef EVS_SUB_INTERNAL_H
#define EVS_SUB_INTERNAL_H

#include "core.h"

/* evs_subscribe and evs_subscription_next without clearing the thread's error on
 * success, with `fn` naming the public function in messages. */
int evs__subscribe(evs_subscription **out, evs_store *store, const evs_query *filter,
                   int64_t from_pos, const char *fn);
int evs__subscription_next(evs_subscription *sub, evs_event *out, int timeout_ms);
/* The store a subscription reads. */
evs_store *evs__subscription_store(const evs_subscription *sub);

/* ---- sub_filter.c: a query that owns its strings ---------------------------------- */

/* A deep copy of an evs_query: a live subscription reopens its cursor when it skips
 * ahead, long after the caller's query may have been freed. */
typedef struct evs__filter {
    evs_query q; /* points into `mem` */
    void *mem;   /* one block: the types array and every string */
} evs__filter;

/* Copy `q` (NULL = every event) into `out`. 0 or EVS_ENOMEM. */
int evs__filter_copy(evs__filter *out, const evs_query *q);
void evs__filter_free(evs__filter *f);

/* ---- consumer_filter.c ------------------------------------------------------------ */

/* The canonical text of filter `q` (NULL = every event) as a consumer keeps it: *out
 * is evs__alloc'd and NUL-terminated. EVS_EINVAL (longer than EVS__MAX_FILTER_TEXT,
 * naming `consumer`) or EVS_ENOMEM. `q` must have passed a subscription's checks. */
int evs__filter_encode(const evs_query *q, const char *consumer, char **out);

/* ---- consumer.c ------------------------------------------------------------------- */

/* Open consumer `name` resuming after `at` instead of its checkpoint, and make `at`
 * its checkpoint (durably, backwards too; a damaged checkpoint file is replaced). For
 * read models, whose state file holds the position that counts. `fn` names the public
 * function in messages. */
int evs__consumer_open_at(evs_consumer **out, evs_store *store, const char *name,
                          const evs_query *filter, int64_t at, const char *fn);

/* The position the consumer's subscription has read up to (handed out or passed over
 * by the filter), which may be past what was acknowledged. */
int64_t evs__consumer_scanned(const evs_consumer *c);

/* evs_consumer_close without clearing the thread's error on success: for error paths
 * that close a consumer and must keep the message of the error they return. */
int evs__consumer_close(evs_consumer *c);

const char *evs__consumer_name(const evs_consumer *c);
/* The store a consumer reads. */
evs_store *evs__consumer_store(const evs_consumer *c);

/* ---- state_file.c: the bytes of a state file -------------------------------------- */

/* What a state file holds. */
typedef struct evs__state_doc {
    char *json; /* owned (evs__alloc), json_len bytes, not NUL-terminated */
    size_t json_len;
    int64_t pos;
    uint32_t model_version;
} evs__state_doc;

/* Read and check `path`: EVS_ENOTFOUND when it does not exist (no message is kept),
 * EVS_ECORRUPT / EVS_EFORMAT naming the file and what is wrong, EVS_EIO, EVS_ENOMEM. */
int evs__state_file_read(const char *path, evs__state_doc *out);

/* Replace `path` atomically and durably with a state file holding json (already
 * checked to be JSON) at pos for model_version. */
int evs__state_file_write(const char *path, const char *json, size_t json_len, int64_t pos,
                          uint32_t model_version);

/* ---- readmodel.c ------------------------------------------------------------------ */

/* evs_readmodel_save with the position given: push delivery knows which events its
 * handler applied, which may be fewer than the consumer has handed out. */
int evs__readmodel_save_at(evs_readmodel *rm, const char *json, size_t json_len, int64_t pos);

/* The read model's consumer (owned by the read model). */
evs_consumer *evs__readmodel_consumer(evs_readmodel *rm);

const char *evs__readmodel_name(const evs_readmodel *rm);

#endif /* EVS_SUB_INTERNAL_H */
