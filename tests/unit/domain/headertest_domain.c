/*
 * headertest_domain.c - evstore_domain.h compiles alone as strict C99, and its
 * initialisers give the documented defaults.
 */
#include "evstore_domain.h"

int main(void)
{
    evs_domain_opts d = EVS_DOMAIN_OPTS_INIT;
    evs_command_opts c = EVS_COMMAND_OPTS_INIT;
    return !(d.version == EVS_DOMAIN_OPTS_VERSION && d.max_retries == 3 && d.tracer == NULL &&
             c.version == EVS_COMMAND_OPTS_VERSION && c.expected_version == EVS_EXPECT_ANY);
}
