// headertest.cpp - evstore.h compiled as C++ (see headertest.c).
#include "evstore.h"

int main()
{
    evs_options o = EVS_OPTIONS_INIT;
    evs_query q = EVS_QUERY_INIT;
    return (o.version == EVS_OPTIONS_VERSION && q.version == EVS_QUERY_VERSION) ? 0 : 1;
}
