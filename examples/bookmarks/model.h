/*
 * model.h - the bookmarks read model: bookmarks by URL, built from the events
 *
 *   bookmark  {"url": U, "tags": [T, ...]}                 a user bookmarked U
 *   info      {"url": U, "title": S, "faviconUrl": F}       page information for U
 *
 * in two versions of the projection code, chosen with --model:
 *   1  byUrl[U] = {url, title, faviconUrl}, from info events (tiny-event-sourcing's
 *      example read model). Tags are recorded in the log but not used.
 *   2  the same, plus byUrl[U].tags: every tag any bookmark event of U carried. Model 1
 *      never looked at tags, so switching to 2 means replaying the log; afterwards it is
 *      as if tags had been used from the first day.
 *
 * The state document is {"byUrl": {U: {...}, ...}} with URLs in sorted order.
 */
#ifndef BOOKMARKS_MODEL_H
#define BOOKMARKS_MODEL_H

#include "evstore.h"

#include <stdbool.h>
#include <stddef.h>

#define MODEL_INITIAL "{\"byUrl\":{}}"

typedef struct bookmark {
    char *url;
    char *title;   /* NULL until an info event came */
    char *favicon; /* NULL until an info event came */
    char **tags;   /* model 2 */
    size_t tag_count;
} bookmark;

typedef struct model {
    int version;     /* 1 or 2 */
    bookmark *items; /* sorted by url */
    size_t count;
    size_t cap;
    long long events; /* events read since start */
    char *json;       /* the last dump */
    size_t json_len;
} model;

void model_init(model *m, int version);
void model_free(model *m);

/* Replace the model's contents with a saved state document. */
bool model_load(model *m, const char *json, size_t len);

/* Apply one event (an evs_push_fn): 0, or -1 when its data is not what the events
 * above promise (delivery then stops there, nothing is saved past it). */
int model_apply(void *m, const evs_event *ev);

/* The state document of the model as it is now (an evs_dump_fn). */
int model_dump(void *m, const char **json, size_t *len);

#endif /* BOOKMARKS_MODEL_H */
