/*
 * test_corruption.c - damage before the tail is never silently skipped (docs/DESIGN.md,
 * invariant 2).
 *
 * A store of several 64 KiB segments is written and closed; then one bit or one byte
 * is damaged:
 *   (a) a record's data in an older segment: open succeeds (it reads nothing), reading
 *       that event fails with EVS_ECORRUPT naming the segment file and the record's
 *       byte offset, the events before it read fine, a forward read never steps over
 *       it, and evs_verify reports it with file and offset;
 *   (b) a record header's length field: the same;
 *   (c) a record in the tail with the head page from another boot: the old page says
 *       that record was synced, so open fails with EVS_ECORRUPT naming file and offset
 *       and changes nothing;
 *   (d) the head file (and the stream index) deleted and valid records after the
 *       damage: open fails with EVS_ECORRUPT and deletes nothing;
 *   (e) a segment header's magic: evs_verify reports it; an open that has to recover
 *       through it fails instead of dropping the segments;
 *   (f) evstore.meta: EVS_ECORRUPT or EVS_EFORMAT naming the file.
 * Where open must fail, it is tried read-only, then for writing, then for writing again:
 * a failed open must leave nothing behind that lets the next one skip the check.
 * Cursors that reported damage keep reporting it; filtered reads (by type, by
 * category) must not step over a damaged event either.
 */
#include "testutil.h"

#include "faultutil.h"
#include "util.h"

#include <stdbool.h>

#define MAX_EVENTS 2048
#define MAX_SEGS   16
#define NSTREAMS   4

typedef struct model_event {
    unsigned char id[16];
    char stream[16];
    const char *type;
    char data[256];
} model_event;

typedef struct fixture {
    char dir[4096];
    model_event ev[MAX_EVENTS];
    size_t nev;
    uint64_t segs[MAX_SEGS];
    size_t nseg;
    int64_t seg_size[MAX_SEGS]; /* sizes as written, to see that nothing was cut */
} fixture;

static int teardown_fixture(void **state)
{
    fixture *fx = *state;
    if (fx) {
        tu_cleanup(fx->dir);
        free(fx);
    }
    *state = NULL;
    return 0;
}

static void make_id(unsigned char id[16], size_t n)
{
    memset(id, 0, 16);
    id[0] = 0xc0;
    id[6] = 0x40;
    id[8] = 0x80;
    for (int i = 0; i < 8; i++)
        id[15 - i] = (unsigned char)(n >> (8 * i));
}

/* Write a store of at least four 64 KiB segments in appends of 1, 2, 5 and 3 events. */
static fixture *build_store(void **state, const char *tag)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    *state = fx;
    tu_tmpdir(fx->dir, sizeof fx->dir, tag);
    evs_options o = tu_fast_options();
    o.segment_size = 64u << 10;
    evs_store *s;
    assert_evs_ok(evs_open(&s, fx->dir, &o));
    static const size_t sizes[] = {1, 2, 5, 3};
    for (size_t a = 0; fx->nev < 900; a++) {
        size_t count = sizes[a % 4];
        evs_event_in in[5];
        char stream[16];
        snprintf(stream, sizeof stream, "acct-%zu", a % NSTREAMS);
        for (size_t i = 0; i < count; i++) {
            model_event *e = &fx->ev[fx->nev + i];
            make_id(e->id, fx->nev + i + 1);
            snprintf(e->stream, sizeof e->stream, "%s", stream);
            e->type = (fx->nev + i) % 2 ? "Withdrawn" : "Deposited";
            snprintf(e->data, sizeof e->data, "{\"n\":%zu,\"note\":\"%0*d\"}", fx->nev + i,
                     (int)(150 + (fx->nev + i) % 13), 0);
            in[i] = tu_event(e->type, e->data);
            in[i].id = e->id;
        }
        evs_append_result r;
        assert_evs_ok(evs_append(&r, s, stream, EVS_EXPECT_ANY, in, count));
        assert_int_equal(r.first_pos, (int64_t)fx->nev + 1);
        fx->nev += count;
    }
    assert_evs_ok(evs_close(s));
    fx->nseg = fu_list_segs(fx->dir, fx->segs, MAX_SEGS);
    assert_true(fx->nseg >= 4);
    for (size_t i = 0; i < fx->nseg; i++) {
        char name[32];
        fu_seg_name(name, sizeof name, fx->segs[i]);
        fx->seg_size[i] = fu_file_size_in(fx->dir, name);
    }
    return fx;
}

/* Record `index` of segment `si` (negative index: from the end). */
static fu_rec record_of(const fixture *fx, size_t si, long index, char name[32])
{
    static fu_rec recs[MAX_EVENTS];
    fu_seg_name(name, 32, fx->segs[si]);
    size_t n = fu_seg_records(fx->dir, name, recs, MAX_EVENTS);
    long i = index < 0 ? (long)n + index : index;
    assert_true(i >= 0 && (size_t)i < n);
    return recs[i];
}

static void check_event(const fixture *fx, const evs_event *ev, int64_t pos)
{
    fu_check(ev->pos == pos);
    const model_event *e = &fx->ev[pos - 1];
    fu_check(memcmp(ev->id, e->id, 16) == 0);
    fu_check(ev->data_len == strlen(e->data) && memcmp(ev->data, e->data, ev->data_len) == 0);
    fu_check(ev->type_len == strlen(e->type) && memcmp(ev->type, e->type, ev->type_len) == 0);
}

/* Every segment file still there with the size it was written with. */
static void check_nothing_cut(const fixture *fx)
{
    for (size_t i = 0; i < fx->nseg; i++) {
        char name[32];
        fu_seg_name(name, sizeof name, fx->segs[i]);
        int64_t size = fu_file_size_in(fx->dir, name);
        if (size != fx->seg_size[i])
            print_error("[%s] %s is now %" PRId64 " bytes, was %" PRId64 "\n", fu_where, name, size,
                        fx->seg_size[i]);
        fu_check(size == fx->seg_size[i]);
    }
}

/* The last failure's message names the file and the byte offset. */
static void check_msg_names(const char *file, int64_t off)
{
    if (!fu_msg_names(evs_errmsg(), file, off))
        print_error("[%s] message '%s' does not name %s and byte %" PRId64 "\n", fu_where,
                    evs_errmsg(), file, off);
    fu_check(fu_msg_names(evs_errmsg(), file, off));
}

/* evs_verify must fail and report a problem in `file` at `off` (off < 0: anywhere). */
static void check_verify_reports(evs_store *s, const char *file, int64_t off)
{
    fu_problems ps;
    memset(&ps, 0, sizeof ps);
    evs_verify_report rep;
    fu_check_evs(EVS_ECORRUPT, evs_verify(&rep, s, fu_collect, &ps));
    fu_check(ps.count >= 1 && rep.problem_count == ps.count);
    bool found = false;
    for (int i = 0; i < ps.count && i < FU_MAX_PROBLEMS; i++)
        if (strcmp(ps.file[i], file) == 0 && (off < 0 || ps.off[i] == off))
            found = true;
    if (!found) {
        print_error("[%s] verify did not report %s at %" PRId64 "; it reported:\n", fu_where, file,
                    off);
        fu_print_problems(&ps);
    }
    fu_check(found);
}

/* Read forward from the start: positions 1..bad-1 must come back intact, then
 * EVS_ECORRUPT naming the file and offset. With `again`, stepping on must not jump
 * over the damaged event either. */
static void check_forward_stops_at(const fixture *fx, evs_store *s, int64_t bad, const char *file,
                                   int64_t off, bool again)
{
    evs_cursor *c;
    fu_check_evs(0, evs_cursor_open(&c, s, NULL));
    evs_event ev;
    int rc;
    int64_t pos = 0;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        fu_check(pos + 1 < bad);
        check_event(fx, &ev, ++pos);
    }
    fu_check(pos == bad - 1);
    fu_check_evs(EVS_ECORRUPT, rc);
    check_msg_names(file, off);
    if (again) {
        /* A reader that tries again must not be handed the events after the damage as
         * if the damaged one did not exist. */
        for (int i = 0; i < 3; i++) {
            rc = evs_cursor_next(&ev, c);
            if (rc > 0)
                print_error("[%s] after EVS_ECORRUPT at position %" PRId64
                            ", the next step returned position %" PRId64 "\n",
                            fu_where, bad, ev.pos);
            fu_check_evs(EVS_ECORRUPT, rc);
        }
    }
    evs_cursor_close(c);
}

/* Read backward from the end: the events after the damage come back, then the
 * damaged one fails (and, with `again`, keeps failing). */
static void check_backward_stops_at(const fixture *fx, evs_store *s, int64_t bad, const char *file,
                                    int64_t off, bool again)
{
    evs_query q = EVS_QUERY_INIT;
    q.direction = EVS_BACKWARD;
    evs_cursor *c;
    fu_check_evs(0, evs_cursor_open(&c, s, &q));
    evs_event ev;
    int rc;
    int64_t pos = (int64_t)fx->nev + 1;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        fu_check(pos - 1 > bad);
        check_event(fx, &ev, --pos);
    }
    fu_check(pos == bad + 1);
    fu_check_evs(EVS_ECORRUPT, rc);
    check_msg_names(file, off);
    if (again) {
        for (int i = 0; i < 3; i++) {
            rc = evs_cursor_next(&ev, c);
            if (rc > 0)
                print_error("[%s] after EVS_ECORRUPT at position %" PRId64
                            ", the next step returned position %" PRId64 "\n",
                            fu_where, bad, ev.pos);
            fu_check_evs(EVS_ECORRUPT, rc);
        }
    }
    evs_cursor_close(c);
}

/* The events after the damaged one read fine when asked for directly. */
static void check_after_reads(const fixture *fx, evs_store *s, int64_t bad)
{
    evs_query q = EVS_QUERY_INIT;
    q.from_pos = bad + 1;
    evs_cursor *c;
    fu_check_evs(0, evs_cursor_open(&c, s, &q));
    evs_event ev;
    int rc;
    int64_t pos = bad;
    while ((rc = evs_cursor_next(&ev, c)) > 0)
        check_event(fx, &ev, ++pos);
    fu_check_evs(0, rc);
    fu_check(pos == (int64_t)fx->nev);
    evs_cursor_close(c);
}

/* Reading the damaged event's stream fails (when the stream is opened or when the
 * cursor reaches it) and never hands out the damaged event. */
static void check_stream_read_fails(const fixture *fx, evs_store *s, int64_t bad)
{
    evs_query q = EVS_QUERY_INIT;
    q.stream = fx->ev[bad - 1].stream;
    evs_cursor *c;
    int rc = evs_cursor_open(&c, s, &q);
    if (rc == 0) {
        evs_event ev;
        while ((rc = evs_cursor_next(&ev, c)) > 0)
            fu_check(ev.pos < bad);
        evs_cursor_close(c);
    }
    fu_check_evs(EVS_ECORRUPT, rc);
}

/* Opening must fail with EVS_ECORRUPT naming `file` (and byte `off` when >= 0) and
 * change nothing: first read-only, then for writing, then for writing once more (a
 * failed open must not leave anything behind that lets the next one skip the check). */
static void check_open_refused(const fixture *fx, const char *file, int64_t off)
{
    static const char *const how[3] = {"read-only open", "open", "second open"};
    for (int i = 0; i < 3; i++) {
        evs_options o = tu_fast_options();
        o.flags = i == 0 ? EVS_OPEN_READONLY : 0;
        evs_store *s = NULL;
        int rc = evs_open(&s, fx->dir, &o);
        if (rc == 0) {
            print_error("[%s] %s succeeded with head %" PRId64 " of %zu events\n", fu_where, how[i],
                        evs_head(s), fx->nev);
            evs_close(s);
            check_nothing_cut(fx);
        }
        fu_check_evs(EVS_ECORRUPT, rc);
        if (off >= 0)
            check_msg_names(file, off);
        else
            fu_check(strstr(evs_errmsg(), file) != NULL);
        check_nothing_cut(fx);
    }
}

/* (a) and (b): damage at `off` of a record in the second segment, read through a
 * clean open. */
static void damage_old_segment(void **state, const char *what, int field, unsigned char mask)
{
    fixture *fx = build_store(state, "corrupt-old");
    char name[32];
    fu_rec r = record_of(fx, 1, 5, name);
    int64_t at = field == 0 ? r.data_off + 3 : r.off + FU_REC_OFF_LEN + field - 1;
    fu_set_where("%s of position %" PRId64 " (%s byte %" PRId64 ") ^ 0x%02x", what, r.pos, name, at,
                 mask);
    fu_damage(fx->dir, name, at, mask);

    evs_options o = tu_fast_options();
    evs_store *s;
    fu_check_evs(0, evs_open(&s, fx->dir, &o)); /* open reads nothing of the old log */
    check_forward_stops_at(fx, s, r.pos, name, r.off, false);
    check_backward_stops_at(fx, s, r.pos, name, r.off, false);
    check_after_reads(fx, s, r.pos);
    check_stream_read_fails(fx, s, r.pos);
    check_verify_reports(s, name, r.off);
    fu_check_evs(0, evs_close(s));
    check_nothing_cut(fx);
}

/* Nothing is silently skipped: a cursor that reported the damaged event keeps
 * reporting it rather than stepping over it on the next call. */
static void read_again_after_damage(void **state, bool forward, int field, unsigned char mask)
{
    fixture *fx = build_store(state, "corrupt-again");
    char name[32];
    fu_rec r = record_of(fx, 1, 5, name);
    int64_t at = field == 0 ? r.data_off + 3 : r.off + FU_REC_OFF_LEN + field - 1;
    fu_set_where("%s read again after %s damage of position %" PRId64,
                 forward ? "forward" : "backward", field ? "length" : "data", r.pos);
    fu_damage(fx->dir, name, at, mask);
    evs_options o = tu_fast_options();
    evs_store *s;
    fu_check_evs(0, evs_open(&s, fx->dir, &o));
    if (forward)
        check_forward_stops_at(fx, s, r.pos, name, r.off, true);
    else
        check_backward_stops_at(fx, s, r.pos, name, r.off, true);
    fu_check_evs(0, evs_close(s));
}

static void test_forward_read_again_data(void **state)
{
    read_again_after_damage(state, true, 0, 0x04);
}

static void test_forward_read_again_length(void **state)
{
    read_again_after_damage(state, true, 1, 0x08);
}

static void test_backward_read_again_data(void **state)
{
    read_again_after_damage(state, false, 0, 0x04);
}

static void test_backward_read_again_length(void **state)
{
    read_again_after_damage(state, false, 1, 0x08);
}

static void test_data_bit_old_segment(void **state)
{
    damage_old_segment(state, "data", 0, 0x04);
}

static void test_data_byte_old_segment(void **state)
{
    damage_old_segment(state, "data", 0, 0xff);
}

/* Field 1 = byte 0 of the length, 2 = byte 1, ... */
static void test_length_bit_old_segment(void **state)
{
    damage_old_segment(state, "length", 1, 0x08); /* len +- 8 */
}

static void test_length_byte_old_segment(void **state)
{
    damage_old_segment(state, "length", 2, 0xff); /* len +- thousands */
}

static void test_length_high_bit_old_segment(void **state)
{
    damage_old_segment(state, "length", 4, 0x40); /* len + 1 GiB */
}

/* (c) Damage in the last segment, then a "reboot": recovery walks the log, and the old
 * head page says how far it had been synced. */
static void damage_tail_other_boot(void **state, int field, unsigned char mask)
{
    fixture *fx = build_store(state, "corrupt-tail");
    char name[32];
    fu_rec r = record_of(fx, fx->nseg - 1, -4, name);
    int64_t at = field == 0 ? r.data_off + 3 : r.off + FU_REC_OFF_LEN + field - 1;
    fu_set_where("tail record position %" PRId64 " (%s byte %" PRId64 ") ^ 0x%02x, other boot",
                 r.pos, name, at, mask);
    fu_damage(fx->dir, name, at, mask);
    fu_fake_reboot(fx->dir);

    check_open_refused(fx, name, r.off);
}

static void test_tail_data_bit_other_boot(void **state)
{
    damage_tail_other_boot(state, 0, 0x10);
}

static void test_tail_data_byte_other_boot(void **state)
{
    damage_tail_other_boot(state, 0, 0xff);
}

static void test_tail_length_bit_other_boot(void **state)
{
    damage_tail_other_boot(state, 1, 0x08);
}

/* The length now points past the end of the file, but the record is not cut by the
 * end of the file: its bytes are all there. This is damage, not a torn write. */
static void test_tail_length_high_bit_other_boot(void **state)
{
    damage_tail_other_boot(state, 3, 0x10); /* len + 1 MiB */
}

/* (d) No head page at all: recovery cannot know what was synced, but valid records
 * after the damage show that it is not a torn write. */
static void damage_head_deleted(void **state, int si, long index)
{
    fixture *fx = build_store(state, "corrupt-nohead");
    if (si < 0)
        si = (int)fx->nseg + si;
    char name[32];
    fu_rec r = record_of(fx, (size_t)si, index, name);
    fu_set_where("data of position %" PRId64 " (%s byte %" PRId64 "), head deleted", r.pos, name,
                 r.off);
    fu_damage(fx->dir, name, r.data_off + 1, 0x20);
    fu_remove_head(fx->dir);
    /* Without the stream index, recovery reads the whole log, through the damage. (With
     * it, recovery starts past what the index covers, and the reads report the damage.) */
    fu_remove_index(fx->dir);

    check_open_refused(fx, name, r.off);
}

static void test_head_deleted_damage_in_last_segment(void **state)
{
    damage_head_deleted(state, -1, 10);
}

static void test_head_deleted_damage_in_old_segment(void **state)
{
    damage_head_deleted(state, 1, 10);
}

/* The damaged record is the last of its segment: the valid records that follow are in
 * the later segments. */
static void test_head_deleted_damage_at_end_of_old_segment(void **state)
{
    damage_head_deleted(state, 1, -1);
}

/* (e) A segment header's magic. */
static void test_segment_magic_verify(void **state)
{
    fixture *fx = build_store(state, "corrupt-magic");
    char name[32];
    fu_seg_name(name, sizeof name, fx->segs[1]);
    fu_set_where("magic of %s", name);
    fu_damage(fx->dir, name, 0, 0x01);
    evs_options o = tu_fast_options();
    evs_store *s;
    fu_check_evs(0, evs_open(&s, fx->dir, &o));
    check_verify_reports(s, name, -1);
    fu_check_evs(0, evs_close(s));
    check_nothing_cut(fx);
}

static void segment_magic_recovering(void **state, bool head_deleted)
{
    fixture *fx = build_store(state, "corrupt-magic2");
    char name[32];
    fu_seg_name(name, sizeof name, fx->segs[1]);
    fu_set_where("magic of %s, %s", name, head_deleted ? "head deleted" : "other boot");
    fu_damage(fx->dir, name, 0, 0x01);
    if (head_deleted)
        fu_remove_head(fx->dir);
    else
        fu_fake_reboot(fx->dir);
    fu_remove_index(fx->dir); /* recovery then reads through the damaged segment */
    check_open_refused(fx, name, -1);
}

static void test_segment_magic_head_deleted(void **state)
{
    segment_magic_recovering(state, true);
}

static void test_segment_magic_other_boot(void **state)
{
    segment_magic_recovering(state, false);
}

/* (f) evstore.meta. */
static fixture *meta_store(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    *state = fx;
    tu_tmpdir(fx->dir, sizeof fx->dir, "corrupt-meta");
    evs_options o = tu_fast_options();
    evs_store *s;
    assert_evs_ok(evs_open(&s, fx->dir, &o));
    tu_append1(s, "acct-1", "Opened", "{}");
    assert_evs_ok(evs_close(s));
    return fx;
}

static void check_meta_refused(const fixture *fx, int want, const char *words)
{
    evs_options o = tu_fast_options();
    for (int ro = 0; ro < 2; ro++) {
        o.flags = ro ? EVS_OPEN_READONLY : 0;
        evs_store *s = NULL;
        int rc = evs_open(&s, fx->dir, &o);
        evs_close(s);
        fu_check_evs(want, rc);
        fu_check(s == NULL);
        assert_errmsg_has("evstore.meta");
        assert_errmsg_has(words);
    }
}

static void test_meta_checksum(void **state)
{
    fixture *fx = meta_store(state);
    fu_set_where("store id bit in evstore.meta");
    fu_damage(fx->dir, "evstore.meta", 20, 0x01);
    check_meta_refused(fx, EVS_ECORRUPT, "checksum");
}

static void test_meta_magic(void **state)
{
    fixture *fx = meta_store(state);
    fu_set_where("magic byte in evstore.meta");
    fu_damage(fx->dir, "evstore.meta", 0, 0xff);
    check_meta_refused(fx, EVS_EFORMAT, "not an evstore store");
}

static void test_meta_truncated(void **state)
{
    fixture *fx = meta_store(state);
    fu_set_where("evstore.meta cut to 10 bytes");
    fu_truncate(fx->dir, "evstore.meta", 10);
    check_meta_refused(fx, EVS_EFORMAT, "short");
}

static void test_meta_newer_format(void **state)
{
    fixture *fx = meta_store(state);
    fu_set_where("evstore.meta of format version 99");
    unsigned char m[64];
    fu_read_at(fx->dir, "evstore.meta", 0, m, sizeof m);
    evs__put_u32(m + 8, 99);
    evs__put_u32(m + 60, evs__crc32c(0, m, 60));
    fu_write_at(fx->dir, "evstore.meta", 0, m, sizeof m);
    check_meta_refused(fx, EVS_EFORMAT, "newer");
}

/* Filters are checked on the record's header and names before its checksum; damage to
 * those very bytes must still not make a matching event vanish from a filtered read. */
static void filtered_read(void **state, bool by_type)
{
    fixture *fx = build_store(state, "corrupt-filter");
    char name[32];
    fu_rec r = record_of(fx, 1, 6, name);
    const model_event *bad = &fx->ev[r.pos - 1];
    /* The first byte of the type ("Deposited" -> "Eeposited") or of the stream name
     * ("acct-N" -> "bcct-N"). */
    int64_t at = by_type ? r.type_off : r.off + FU_REC_HDR_LEN;
    fu_set_where("%s of position %" PRId64 " (%s byte %" PRId64 ")", by_type ? "type" : "stream",
                 r.pos, name, at);
    fu_damage(fx->dir, name, at, 0x03);

    evs_options o = tu_fast_options();
    evs_store *s;
    fu_check_evs(0, evs_open(&s, fx->dir, &o));
    evs_query q = EVS_QUERY_INIT;
    const char *types[1] = {bad->type};
    if (by_type) {
        q.types = types;
        q.type_count = 1;
    } else {
        q.category = "acct";
    }
    evs_cursor *c;
    fu_check_evs(0, evs_cursor_open(&c, s, &q));
    evs_event ev;
    int rc;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        if (ev.pos > r.pos)
            print_error("[%s] the filtered read went on to position %" PRId64
                        " without reporting the damage at %" PRId64 "\n",
                        fu_where, ev.pos, r.pos);
        fu_check(ev.pos < r.pos);
        check_event(fx, &ev, ev.pos);
    }
    fu_check_evs(EVS_ECORRUPT, rc);
    check_msg_names(name, r.off);
    evs_cursor_close(c);
    check_verify_reports(s, name, r.off);
    fu_check_evs(0, evs_close(s));
}

static void test_filter_by_type_damaged_type(void **state)
{
    filtered_read(state, true);
}

static void test_filter_by_category_damaged_stream(void **state)
{
    filtered_read(state, false);
}

#define T(f) cmocka_unit_test_teardown(f, teardown_fixture)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_data_bit_old_segment),
        T(test_data_byte_old_segment),
        T(test_length_bit_old_segment),
        T(test_length_byte_old_segment),
        T(test_length_high_bit_old_segment),
        T(test_forward_read_again_data),
        T(test_forward_read_again_length),
        T(test_backward_read_again_data),
        T(test_backward_read_again_length),
        T(test_tail_data_bit_other_boot),
        T(test_tail_data_byte_other_boot),
        T(test_tail_length_bit_other_boot),
        T(test_tail_length_high_bit_other_boot),
        T(test_head_deleted_damage_in_last_segment),
        T(test_head_deleted_damage_in_old_segment),
        T(test_head_deleted_damage_at_end_of_old_segment),
        T(test_segment_magic_verify),
        T(test_segment_magic_head_deleted),
        T(test_segment_magic_other_boot),
        T(test_meta_checksum),
        T(test_meta_magic),
        T(test_meta_truncated),
        T(test_meta_newer_format),
        T(test_filter_by_type_damaged_type),
        T(test_filter_by_category_damaged_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
