/*
 * victim_fixture.h - the cmocka fixture of the tests that feed a store bad input and
 * check that it loses nothing: a fresh store holding stream "victim-1" (3 events),
 * closed and removed by the teardown, also after a failed assertion.
 */
#ifndef EVS_TEST_VICTIM_FIXTURE_H
#define EVS_TEST_VICTIM_FIXTURE_H

#include "testutil.h"

typedef struct tu_victim_fixture {
    char dir[4096];
    evs_store *store;
    evs_store *other; /* a second handle some tests open */
    void *big;        /* a large buffer some tests allocate */
} tu_victim_fixture;

/* The setup: `tag` names the temporary directory. */
static inline int tu_victim_setup(void **state, const char *tag)
{
    tu_victim_fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    tu_tmpdir(f->dir, sizeof f->dir, tag);
    evs_options o = tu_fast_options();
    if (evs_open(&f->store, f->dir, &o) != 0)
        return -1;
    evs_event_in in[3] = {tu_event("Ev", "1"), tu_event("Ev", "2"), tu_event("Ev", "3")};
    if (evs_append(NULL, f->store, "victim-1", EVS_EXPECT_NO_STREAM, in, 3) != 0)
        return -1;
    *state = f;
    return 0;
}

static inline int tu_victim_teardown(void **state)
{
    tu_victim_fixture *f = *state;
    evs_close(f->other);
    evs_close(f->store);
    tu_cleanup(f->dir);
    free(f->big);
    free(f);
    return 0;
}

#endif /* EVS_TEST_VICTIM_FIXTURE_H */
