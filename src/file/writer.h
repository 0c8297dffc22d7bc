/*
 * writer.h - the append path (writer.c, commit.c): what the rest of the file backend
 * may call; at close also active_segment.h (evs__writer_trim) and syncer.h. The
 * writer's state (struct writer, fb->w) is private to the append path's files: see
 * writer_state.h.
 */
#ifndef EVS_FILE_WRITER_H
#define EVS_FILE_WRITER_H

#include "backend.h"

struct file_backend;
typedef struct writer writer;

/* At open: the writer's state, fb->w (EVS_ENOMEM when out of memory). */
int evs__writer_new(struct file_backend *fb);
/* At close: close the active segment and free fb->w (NULL is fine). */
void evs__writer_free(struct file_backend *fb);

/* The backend's append method: queue the request, and commit it with every other one
 * queued, in one round. */
int evs__file_append(evs__backend *be, const evs__batch_w *batches, size_t batch_count,
                     evs_append_result *out);

/* EVS_EFATAL with the first failure's message when the store is poisoned; else 0. */
int evs__writer_check_poison(struct file_backend *fb);
/* Refuse writes from now on (after a failed sync, or a write that could not be undone);
 * returns the code for the failing call, from errno `err`. */
int evs__poison(struct file_backend *fb, int err, const char *what);

/* How many records this handle's duplicate checks (appends that carry their own ids)
 * have read: a measure of their cost that does not depend on the machine, for tests. */
uint64_t evs__writer_id_reads(const struct file_backend *fb);

/* At close, leave a fresh snapshot when the tail since the last one is long, so the
 * next process that reads streams does not scan it. Best effort: never blocks. */
void evs__writer_snapshot_at_close(struct file_backend *fb);

#endif /* EVS_FILE_WRITER_H */
