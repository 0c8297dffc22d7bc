/*
 * fetcher.h - the info fetcher: for each `bookmark` event, append an `info` event with
 * the page's title and favicon (fetcher.c).
 */
#ifndef BOOKMARKS_FETCHER_H
#define BOOKMARKS_FETCHER_H

#include "evstore.h"

typedef struct fetcher {
    evs_store *store; /* where info events are appended */
    long appended;    /* info events written (repeats excluded) */
} fetcher;

/* The consumer's handler (an evs_push_fn). */
int fetcher_handle(void *user, const evs_event *ev);

#endif /* BOOKMARKS_FETCHER_H */
