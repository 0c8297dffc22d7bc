/*
 * query.h - compiling an evs_query into the backend's evs__query_c.
 */
#ifndef EVS_QUERY_H
#define EVS_QUERY_H

#include "backend.h"

int evs__query_compile(evs__query_c *out, const evs_query *q);
/* Copy a caller's query of any version into *out, the fields its version lacks set as
 * EVS_QUERY_INIT sets them; `what` names the call in the message of a bad version. */
int evs__query_adopt(evs_query *out, const evs_query *given, const char *what);
void evs__query_free(evs__query_c *q);

#endif /* EVS_QUERY_H */
