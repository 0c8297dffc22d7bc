/*
 * headertest.c - evstore.h must compile on its own, as strict C99 with -pedantic, and
 * (headertest.cpp) as C++. Built, not run: a header that needs another include or a
 * C11 feature fails the build.
 */
#include "evstore.h"

int main(void)
{
    evs_options o = EVS_OPTIONS_INIT;
    evs_query q = EVS_QUERY_INIT;
    return (o.version == EVS_OPTIONS_VERSION && q.version == EVS_QUERY_VERSION) ? 0 : 1;
}
