/*
 * test_id_reads.c - the cost of the duplicate check of appends that carry their own
 * ids, counted in records read (evs__writer_id_reads), so the test does not depend on
 * the machine's speed.
 *
 * A re-import of one long stream retries its batches in order, each already stored.
 * Walking the stream back from its end for each one read O(n^2 / batch) records: the
 * handle must find each batch where it saw its last id, and read about one record
 * per event. The retries must still report each event's real position, and a batch
 * whose ids are there in another order must still be refused.
 */
#include "core.h"
#include "file_backend.h"
#include "testutil.h"
#include "writer.h"

#define EVENTS 20000
#define BATCH  100

static void id_for(unsigned char id[16], int n)
{
    memset(id, 0xa5, 16);
    memcpy(id, &n, sizeof n);
}

/* Append (or append again) events first..first+count-1 of stream "long". */
static int append_range(evs_store *s, int first, int count, int64_t *positions)
{
    static unsigned char ids[BATCH][16];
    evs_event_in in[BATCH];
    for (int i = 0; i < count; i++) {
        id_for(ids[i], first + i);
        in[i] = tu_event("Imported", "{}");
        in[i].id = ids[i];
    }
    return evs_append_positions(NULL, positions, s, "long", EVS_EXPECT_ANY, in, (size_t)count);
}

static uint64_t id_reads(evs_store *s)
{
    return evs__writer_id_reads((const file_backend *)s->be);
}

static void test_reimport_of_long_stream_is_linear(void **state)
{
    tu_fixture *f = *state;
    evs_store *s = tu_fx_open(f, NULL);
    /* Another stream's events between the batches: a retry's positions are not
     * contiguous, and a walk must step over nothing but its own stream. */
    for (int k = 0; k < EVENTS / BATCH; k++) {
        assert_evs_ok(append_range(s, k * BATCH, BATCH, NULL));
        evs_event_in other = tu_event("Other", "{}");
        assert_evs_ok(evs_append(NULL, s, "other", EVS_EXPECT_ANY, &other, 1));
    }
    tu_fx_close(f);
    s = tu_fx_open(f, NULL); /* a new handle knows none of the ids */
    uint64_t before = id_reads(s);
    for (int k = 0; k < EVENTS / BATCH; k++) {
        int64_t pos[BATCH];
        assert_evs_ok(append_range(s, k * BATCH, BATCH, pos));
        for (int i = 0; i < BATCH; i++)
            assert_int_equal(pos[i], (int64_t)k * (BATCH + 1) + i + 1);
    }
    uint64_t reads = id_reads(s) - before;
    print_message("re-import of %d events in batches of %d: %llu records read\n", EVENTS, BATCH,
                  (unsigned long long)reads);
    /* One walk over the stream, then about one read per event: the walk from the end
     * for every batch read about EVENTS * EVENTS / BATCH / 2 = 2,000,000. */
    assert_true(reads <= 3 * EVENTS);
    assert_int_equal(evs_head(s), EVENTS + EVENTS / BATCH);
}

/* A batch whose ids are all there, but in another order: refused, also when the set
 * knows where each id is. */
static void test_reordered_retry_still_refused(void **state)
{
    tu_fixture *f = *state;
    evs_store *s = tu_fx_open(f, NULL);
    assert_evs_ok(append_range(s, 0, 10, NULL));
    assert_evs_ok(append_range(s, 0, 10, NULL)); /* a retry: the set learns the places */
    static unsigned char ids[3][16];
    evs_event_in in[3];
    int order[3] = {7, 9, 8};
    for (int i = 0; i < 3; i++) {
        id_for(ids[i], order[i]);
        in[i] = tu_event("Imported", "{}");
        in[i].id = ids[i];
    }
    assert_evs(EVS_EIDCONFLICT, evs_append(NULL, s, "long", EVS_EXPECT_ANY, in, 3));
    /* The same ids in another stream are new there. */
    assert_evs_ok(evs_append(NULL, s, "elsewhere", EVS_EXPECT_ANY, in, 3));
    assert_int_equal(evs_head(s), 13);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reimport_of_long_stream_is_linear, tu_setup,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(test_reordered_retry_still_refused, tu_setup,
                                        tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
