/*
 * visibility.h - which events a cursor may hand out under the streams' lifecycle
 * settings (deleted, truncated, max count, max age; stream_meta.h).
 */
#ifndef EVS_VISIBILITY_H
#define EVS_VISIBILITY_H

#include "backend.h"

typedef struct evs__vis evs__vis;

/* What evs__vis_check decided about one event. */
#define EVS__VIS_READ 1 /* hand it out */
#define EVS__VIS_SKIP 0 /* leave it out, go on */
#define EVS__VIS_END  2 /* leave it out; so are all the events the cursor would meet after
                         * it (a stream read past its cut): stop */

/* A filter for cursors over query q (kept by pointer: it must outlive the filter). For a
 * stream read it may narrow q's from_version to the first version that can be read, so
 * call it before the backend's cursor is opened. */
int evs__vis_open(evs__vis **out, const evs__backend_methods *m, evs__backend *be,
                  evs__query_c *q);
/* EVS__VIS_READ, _SKIP or _END for `ev`, or an error (EVS_EIO, EVS_ECORRUPT ...). */
int evs__vis_check(evs__vis *v, const evs_event *ev);
void evs__vis_close(evs__vis *v); /* NULL accepted */

#endif /* EVS_VISIBILITY_H */
