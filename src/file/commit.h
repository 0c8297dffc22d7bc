/*
 * commit.h - one commit round (commit.c), and the requests the commit queue
 * (writer.c) hands it.
 */
#ifndef EVS_FILE_COMMIT_H
#define EVS_FILE_COMMIT_H

#include "backend.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct file_backend file_backend;

typedef struct append_req {
    const evs__batch_w *batches;
    size_t batch_count;
    evs_append_result *out; /* batch_count results */
    int rc;
    char msg[600]; /* the error message, handed to the caller's thread */
    bool done;
    const void *who; /* the appending thread (its appender_token) */
    struct append_req *next;
} append_req;

/* Commit every request of `list` in one round: each one's rc (and msg) says how it
 * went. Called by the queue's leader, without commit_mu. */
void evs__commit_round(file_backend *fb, append_req *list);

#endif /* EVS_FILE_COMMIT_H */
