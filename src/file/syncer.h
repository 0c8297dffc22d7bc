/*
 * syncer.h - making the log durable outside the commit round (syncer.c).
 */
#ifndef EVS_FILE_SYNCER_H
#define EVS_FILE_SYNCER_H

#include "backend.h"

struct file_backend;

/* The backend's sync method (evs_sync): sync the log and raise the synced position. */
int evs__file_sync(evs__backend *be);
/* EVS_SYNC_BATCH: start the thread that syncs the log every sync_interval_ms. */
int evs__syncer_start(struct file_backend *fb);
void evs__syncer_stop(struct file_backend *fb);
/* At close: stop the thread, then sync what the modes that do not sync every commit
 * left unsynced (an error names the store). */
int evs__syncer_close(struct file_backend *fb);

#endif /* EVS_FILE_SYNCER_H */
