/*
 * query.h - compiling an evs_query into the backend's evs__query_c.
 */
#ifndef EVS_QUERY_H
#define EVS_QUERY_H

#include "backend.h"

int evs__query_compile(evs__query_c *out, const evs_query *q);
void evs__query_free(evs__query_c *q);

#endif /* EVS_QUERY_H */
