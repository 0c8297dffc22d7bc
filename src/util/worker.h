/*
 * worker.h - a background thread of one handle's (worker.c): started on first use, it
 * takes work under its lock, does it outside the lock, and is ended and joined at close.
 */
#ifndef EVS_UTIL_WORKER_H
#define EVS_UTIL_WORKER_H

#include <stdbool.h>

typedef struct evs__worker evs__worker;

/* What the thread does for its owner. Both run on the thread. */
typedef struct evs__worker_ops {
    /* With the worker's lock held: take the next piece of work (into the owner's own
     * fields, which the lock guards); false when there is none. */
    bool (*take)(void *owner);
    /* Without the lock: do the piece of work just taken. */
    void (*run)(void *owner);
    /* At evs__worker_finish: do the work still there first (true), or drop it. */
    bool drain;
} evs__worker_ops;

/* A worker for `owner`, its thread not started yet; NULL when out of memory (no error
 * set). ops must outlive it. */
evs__worker *evs__worker_new(const evs__worker_ops *ops, void *owner);
/* Ends the thread (evs__worker_finish) and frees w; NULL is fine. */
void evs__worker_free(evs__worker *w);
/* The lock that guards the owner's fields `take` reads. */
void evs__worker_lock(evs__worker *w);
void evs__worker_unlock(evs__worker *w);
/* With the lock held: start the thread if it has not started (not after finish) and
 * wake it to look for work. Whether the thread runs: when it could not be started, or
 * has been told to end, work handed over now is not done. */
bool evs__worker_wake(evs__worker *w);
/* Whether the thread has been told to end: a long piece of work stops early. */
bool evs__worker_stopping(evs__worker *w);
/* Tell the thread to end (after the work still there, when ops->drain) and wait for it. */
void evs__worker_finish(evs__worker *w);

#endif /* EVS_UTIL_WORKER_H */
