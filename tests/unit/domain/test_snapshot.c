/*
 * test_snapshot.c - snapshots: written with the events that cross a multiple of
 * snapshot_every, used by the next load (only the events after it are applied), and
 * never trusted when they should not be: a damaged one (malformed, bad checksum, bad
 * base64, wrong size), a stale one (another state version), one naming a version the
 * stream does not have or another stream is ignored with a note, and the state is
 * folded from the events, the same as without snapshots.
 */
#include "domain_testutil.h"

#include <inttypes.h>

/* n Add commands of 1 on aggregate id; returns how many wrote a snapshot. */
static int add_n(dom_fixture *f, const char *id, int n)
{
    int written = 0;
    for (int i = 0; i < n; i++) {
        evs_command_result res;
        assert_evs_ok(dom_cmd(&res, NULL, f, "Add", id, "{\"n\":1}", NULL));
        written += res.snapshot_written;
    }
    return written;
}

static void test_snapshot_written_and_used(void **state)
{
    dom_fixture *f = *state;
    assert_int_equal(add_n(f, "s1", 25), 2); /* at 10 and 20 events */
    counter c;
    evs_aggregate_info info;
    assert_evs_ok(evs_aggregate_load(&info, &c, f->d, "counter", "s1"));
    assert_int_equal(info.version, 24);
    assert_int_equal(info.snapshot_version, 19);
    assert_int_equal(info.events_applied, 5);
    assert_int_equal(c.value, 25);
    assert_int_equal(c.events, 25); /* the snapshot carried 20 of them */
    assert_int_equal(f->rec.notes, 0);
    /* The command's own load starts from it too. */
    evs_command_result res;
    assert_evs_ok(dom_cmd(&res, &c, f, "Add", "s1", "{\"n\":1}", NULL));
    assert_int_equal(res.snapshot_version, 19);
    assert_int_equal(c.value, 26);
    /* The snapshots are in their reserved stream, apart from the aggregate's. */
    evs_stream_info si;
    assert_evs_ok(evs_stream_get(&si, f->fx.s, "$snapshot-counter-s1"));
    assert_int_equal(si.event_count, 2);
    assert_evs_ok(evs_stream_get(&si, f->fx.s, "counter-s1"));
    assert_int_equal(si.event_count, 26);
}

static void test_several_events_cross_a_multiple(void **state)
{
    dom_fixture *f = *state;
    add_n(f, "s2", 9);
    evs_command_result res;
    assert_evs_ok(dom_cmd(&res, NULL, f, "AddTwice", "s2", "{}", NULL));
    assert_int_equal(res.snapshot_written, 1);
    evs_aggregate_info info;
    counter c;
    assert_evs_ok(evs_aggregate_load(&info, &c, f->d, "counter", "s2"));
    assert_int_equal(info.snapshot_version, 10);
    assert_int_equal(info.events_applied, 0);
    assert_int_equal(c.value, 12);
}

static void test_no_snapshots_when_zero(void **state)
{
    dom_fixture *f = *state;
    dom_open(f, 1, 0, 3);
    assert_int_equal(add_n(f, "s3", 25), 0);
    evs_aggregate_info info;
    counter c;
    assert_evs_ok(evs_aggregate_load(&info, &c, f->d, "counter", "s3"));
    assert_int_equal(info.snapshot_version, -1);
    assert_int_equal(info.events_applied, 25);
}

/* Load aggregate `id` and check it was folded from all its `events` events, the
 * newest snapshot ignored with a note that contains `why`. */
static void expect_ignored(dom_fixture *f, const char *id, int64_t events, const char *why)
{
    int notes = f->rec.notes;
    evs_aggregate_info info;
    counter c;
    assert_evs_ok(evs_aggregate_load(&info, &c, f->d, "counter", id));
    if (f->rec.notes != notes + 1 || !strstr(f->rec.last_note, why))
        print_error("note: '%s', want '%s'\n", f->rec.last_note, why);
    assert_int_equal(f->rec.notes, notes + 1);
    assert_non_null(strstr(f->rec.last_note, why));
    assert_int_equal(info.snapshot_version, -1);
    assert_int_equal(info.events_applied, events);
    assert_int_equal(c.value, events);
    assert_int_equal(c.events, events);
}

/* Append `data` as the newest snapshot of counter-<id>, right after an event of the
 * aggregate (so a position check alone would let it through). */
static void put_snapshot(dom_fixture *f, const char *id, const char *data)
{
    char stream[64], snap[80];
    snprintf(stream, sizeof stream, "counter-%s", id);
    snprintf(snap, sizeof snap, "$snapshot-%s", stream);
    evs_event_in ev[2] = {tu_event("Added", "{\"n\":1}"), tu_event("snapshot", data)};
    evs_batch_in b[2] = {{stream, EVS_EXPECT_ANY, &ev[0], 1}, {snap, EVS_EXPECT_ANY, &ev[1], 1}};
    assert_evs_ok(evs_append_multi(NULL, f->fx.s, b, 2));
}

/* The snapshot data a counter of `value` at `version` would have, with the fields
 * given (crc computed by the test's own table-free CRC32C). */
static uint32_t crc32c(const unsigned char *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

static void b64(char *out, const unsigned char *p, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? a[v & 63] : '=';
    }
    out[o] = '\0';
}

static void snapshot_json(char *buf, size_t cap, const char *stream, int64_t version,
                          uint32_t state_version, const counter *c, int crc_delta)
{
    char text[64];
    b64(text, (const unsigned char *)c, sizeof *c);
    snprintf(buf, cap,
             "{\"stream\":\"%s\",\"version\":%" PRId64 ",\"state_version\":%u,"
             "\"crc32c\":%u,\"state\":\"%s\"}",
             stream, version, state_version,
             crc32c((const unsigned char *)c, sizeof *c) + (uint32_t)crc_delta, text);
}

static void test_hand_made_snapshot_is_used(void **state)
{
    /* The format as docs/FORMAT.md gives it: a snapshot made by hand is taken. */
    dom_fixture *f = *state;
    add_n(f, "h1", 12);
    counter c = {1000, 13};
    char data[512];
    snapshot_json(data, sizeof data, "counter-h1", 12, 1, &c, 0);
    put_snapshot(f, "h1", data);
    evs_aggregate_info info;
    assert_evs_ok(evs_aggregate_load(&info, &c, f->d, "counter", "h1"));
    assert_int_equal(info.snapshot_version, 12);
    assert_int_equal(c.value, 1000);
    assert_int_equal(f->rec.notes, 0);
}

static void test_damaged_snapshots_ignored(void **state)
{
    dom_fixture *f = *state;
    add_n(f, "d1", 12); /* a real snapshot at 10 events, older than the ones below */
    counter fake = {1000, 4};
    char data[512];
    put_snapshot(f, "d1", "{\"stream\":\"counter-d1\"}");
    expect_ignored(f, "d1", 13, "damaged: a field is missing");
    snapshot_json(data, sizeof data, "counter-d1", 13, 1, &fake, 1);
    put_snapshot(f, "d1", data);
    expect_ignored(f, "d1", 14, "checksum mismatch");
    put_snapshot(f, "d1",
                 "{\"stream\":\"counter-d1\",\"version\":14,\"state_version\":1,"
                 "\"crc32c\":0,\"state\":\"@@@@\"}");
    expect_ignored(f, "d1", 15, "not base64");
    put_snapshot(f, "d1",
                 "{\"stream\":\"counter-d1\",\"version\":15,\"state_version\":1,"
                 "\"crc32c\":0,\"state\":\"\"}");
    expect_ignored(f, "d1", 16, "0 bytes of state");
    snapshot_json(data, sizeof data, "counter-other", 16, 1, &fake, 0);
    put_snapshot(f, "d1", data);
    expect_ignored(f, "d1", 17, "another stream");
    /* Whole and checksummed, but its version is not the event just before it. */
    snapshot_json(data, sizeof data, "counter-d1", 3, 1, &fake, 0);
    put_snapshot(f, "d1", data);
    expect_ignored(f, "d1", 18, "no event 3 at position");
    snapshot_json(data, sizeof data, "counter-d1", 500, 1, &fake, 0);
    put_snapshot(f, "d1", data);
    expect_ignored(f, "d1", 19, "no event 500");
    /* A command on it runs on the state folded from the events. */
    evs_command_result res;
    counter c;
    assert_evs_ok(dom_cmd(&res, &c, f, "Add", "d1", "{\"n\":1}", NULL));
    assert_int_equal(c.value, 20);
    assert_int_equal(res.snapshot_version, -1);
}

static void test_stale_snapshot_ignored(void **state)
{
    dom_fixture *f = *state;
    add_n(f, "v1", 12);
    /* apply changed: state version 2. The snapshot at 10 is of version 1. */
    dom_open(f, 2, COUNTER_SNAPSHOT_EVERY, 3);
    expect_ignored(f, "v1", 12, "stale: state version 1, the type's is 2");
    /* The next snapshot is of the new version, and used. */
    add_n(f, "v1", 8);
    evs_aggregate_info info;
    counter c;
    int notes = f->rec.notes;
    assert_evs_ok(evs_aggregate_load(&info, &c, f->d, "counter", "v1"));
    assert_int_equal(info.snapshot_version, 19);
    assert_int_equal(c.value, 20);
    assert_int_equal(f->rec.notes, notes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_snapshot_written_and_used, dom_setup, dom_teardown),
        cmocka_unit_test_setup_teardown(test_several_events_cross_a_multiple, dom_setup,
                                        dom_teardown),
        cmocka_unit_test_setup_teardown(test_no_snapshots_when_zero, dom_setup, dom_teardown),
        cmocka_unit_test_setup_teardown(test_hand_made_snapshot_is_used, dom_setup, dom_teardown),
        cmocka_unit_test_setup_teardown(test_damaged_snapshots_ignored, dom_setup, dom_teardown),
        cmocka_unit_test_setup_teardown(test_stale_snapshot_ignored, dom_setup, dom_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
