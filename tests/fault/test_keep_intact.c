/*
 * test_keep_intact.c - evs_repair with EVS_REPAIR_KEEP_INTACT: damage in a record costs
 * that record, not the log after it.
 *
 * A store of several 64 KiB segments, written in appends of 1, 2, 5 and 3 events to four
 * streams, so that one append's records are one stream's consecutive versions. Then:
 *   - one flipped data byte in a record in the middle of an old segment: that position
 *     alone is lost; every other record stays byte for byte where it was; the stream
 *     keeps its versions (the lost one is skipped, the next append gets the version
 *     after the last); a dry run reports the same and changes nothing;
 *   - damage at several places at once: a data byte, a record's length (its frame is
 *     broken: the next record is found by scanning), a zeroed run of several records
 *     of one append (whose stream and versions only the later events' links tell),
 *     and the destroyed headers of two streams' last events (nothing tells whose they
 *     were), in three segments; a repair after it finds nothing to do;
 *   - the last record of a sealed segment: the segments after it are kept whole;
 *   - the last record of the log: nothing whole follows, so the log is cut there as
 *     without the option, and its position is declared lost;
 *   - a repair killed (SIGKILL, in a child process) at every write, sync and rename it
 *     makes, then run again: the same result as an uninterrupted one.
 * After each: the store opens, evs_verify passes (the lost positions counted as lost),
 * every event not lost reads back as appended, by position and by stream, with its
 * version, and appends continue at the next position and version.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include "faultutil.h"
#include "sysio.h"
#include "util.h"

#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_EVENTS 4096
#define MAX_SEGS   64
#define STREAMS    4

typedef struct model_event {
    unsigned char id[16];
    char stream[24];
    char data[256];
    int64_t version;
    bool lost; /* the test damaged it */
} model_event;

typedef struct fixture {
    char dir[4096];
    model_event ev[MAX_EVENTS + 1]; /* by position */
    int64_t nev;
    int64_t last_version[STREAMS];
    uint64_t segs[MAX_SEGS];
    size_t nseg;
    /* Every segment file's bytes before the damage. */
    unsigned char *seg_bytes[MAX_SEGS];
    int64_t seg_len[MAX_SEGS];
} fixture;

static int teardown_fixture(void **state)
{
    fixture *fx = *state;
    if (fx) {
        for (size_t i = 0; i < fx->nseg; i++)
            free(fx->seg_bytes[i]);
        tu_cleanup(fx->dir);
        free(fx);
    }
    *state = NULL;
    return 0;
}

static unsigned char *read_file(const char *dir, const char *name, int64_t *len)
{
    *len = fu_file_size_in(dir, name);
    assert_true(*len >= 0);
    unsigned char *b = malloc((size_t)*len + 1);
    assert_non_null(b);
    fu_read_at(dir, name, 0, b, (size_t)*len);
    return b;
}

static fixture *build_store(void **state, const char *tag)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    *state = fx;
    tu_tmpdir(fx->dir, sizeof fx->dir, tag);
    evs_options o = tu_fast_options();
    o.segment_size = 64u << 10;
    o.checkpoint_bytes = 32u << 10; /* so that the stream index has runs */
    evs_store *s;
    assert_evs_ok(evs_open(&s, fx->dir, &o));
    for (int k = 0; k < STREAMS; k++)
        fx->last_version[k] = -1;
    static const int sizes[] = {1, 2, 5, 3};
    for (size_t a = 0; fx->nev < 900; a++) {
        int count = sizes[a % 4], k = (int)(a % STREAMS);
        evs_event_in in[5];
        for (int i = 0; i < count; i++) {
            int64_t pos = fx->nev + 1 + i;
            model_event *e = &fx->ev[pos];
            memset(e->id, 0, 16);
            e->id[0] = 0xe1;
            e->id[6] = 0x40;
            e->id[8] = 0x80;
            for (int b = 0; b < 7; b++)
                e->id[15 - b] = (unsigned char)((uint64_t)pos >> (8 * b));
            snprintf(e->stream, sizeof e->stream, "acct-%d", k);
            snprintf(e->data, sizeof e->data, "{\"n\":%" PRId64 ",\"note\":\"%0*d\"}", pos,
                     (int)(150 + pos % 13), 0);
            e->version = ++fx->last_version[k];
            in[i] = tu_event("Booked", e->data);
            in[i].id = e->id;
        }
        assert_evs_ok(evs_append(NULL, s, fx->ev[fx->nev + 1].stream, EVS_EXPECT_ANY, in,
                                 (size_t)count));
        fx->nev += count;
    }
    assert_evs_ok(evs_close(s));
    fx->nseg = fu_list_segs(fx->dir, fx->segs, MAX_SEGS);
    assert_true(fx->nseg >= 4);
    for (size_t i = 0; i + 1 < fx->nseg; i++) { /* sealed: its type directory was made */
        char name[32], path[4200];
        fu_seg_name(name, sizeof name, fx->segs[i]);
        snprintf(path, sizeof path, "%s/%.20s.tdx", fx->dir, name);
        assert_int_equal(access(path, R_OK), 0);
    }
    for (size_t i = 0; i < fx->nseg; i++) {
        char name[32];
        fu_seg_name(name, sizeof name, fx->segs[i]);
        fx->seg_bytes[i] = read_file(fx->dir, name, &fx->seg_len[i]);
    }
    return fx;
}

/* The records of segment si (before any damage), and its name. */
static size_t records_of(const fixture *fx, size_t si, char name[32], fu_rec *recs, size_t max)
{
    fu_seg_name(name, 32, fx->segs[si]);
    size_t n = fu_seg_records(fx->dir, name, recs, max);
    assert_true(n > 8);
    return n;
}

static void mark_lost(fixture *fx, int64_t pos)
{
    fx->ev[pos].lost = true;
}

static int64_t lost_count(const fixture *fx)
{
    int64_t n = 0;
    for (int64_t p = 1; p <= fx->nev; p++)
        n += fx->ev[p].lost;
    return n;
}

static evs_repair_report keep_intact(const fixture *fx, bool dry_run)
{
    evs_repair_opts o = EVS_REPAIR_OPTS_INIT;
    o.flags = EVS_REPAIR_KEEP_INTACT | (dry_run ? EVS_REPAIR_DRY_RUN : 0);
    evs_repair_report rep;
    int rc = evs_repair(&rep, fx->dir, &o);
    if (rc != 0)
        print_error("repair --keep-intact: %s: %s\n", evs_errname(rc), evs_errmsg());
    assert_evs_ok(rc);
    return rep;
}

/* The report names exactly the positions the test damaged, as ranges. */
static void check_report(const fixture *fx, const evs_repair_report *rep)
{
    char want[1024] = "";
    int64_t ranges = 0;
    for (int64_t p = 1; p <= fx->nev; p++) {
        if (!fx->ev[p].lost || (p > 1 && fx->ev[p - 1].lost))
            continue;
        int64_t q = p;
        while (q < fx->nev && fx->ev[q + 1].lost)
            q++;
        size_t used = strlen(want);
        if (q == p)
            snprintf(want + used, sizeof want - used, "%s%" PRId64, used ? "," : "", p);
        else
            snprintf(want + used, sizeof want - used, "%s%" PRId64 "..%" PRId64, used ? "," : "",
                     p, q);
        ranges++;
    }
    if (strcmp(rep->lost_ranges_list, want) != 0)
        print_error("lost: report says '%s', the damage was at '%s'\n", rep->lost_ranges_list,
                    want);
    assert_string_equal(rep->lost_ranges_list, want);
    assert_int_equal(rep->lost_ranges, ranges);
    assert_int_equal(rep->lost_count, lost_count(fx));
    assert_int_equal(rep->damaged, 1);
}

/* Every record not lost is in its segment file byte for byte where it was. */
static void check_bytes(const fixture *fx)
{
    static fu_rec recs[MAX_EVENTS];
    for (size_t si = 0; si < fx->nseg; si++) {
        char name[32];
        fu_seg_name(name, sizeof name, fx->segs[si]);
        int64_t len;
        unsigned char *now = read_file(fx->dir, name, &len);
        /* The records as they were: walk the saved bytes. */
        int64_t off = FU_SEG_HDR_LEN;
        size_t n = 0;
        const unsigned char *was = fx->seg_bytes[si];
        while (off + FU_REC_HDR_LEN <= fx->seg_len[si] && n < MAX_EVENTS) {
            fu_rec r = {off, fu_u32(was + off + FU_REC_OFF_LEN), (int64_t)fu_u64(was + off + 8),
                        0, 0, 0, 0};
            if (r.len < FU_REC_HDR_LEN)
                break;
            recs[n++] = r;
            off += (r.len + 7) & ~7u;
        }
        for (size_t i = 0; i < n; i++) {
            if (recs[i].pos < 1 || recs[i].pos > fx->nev || fx->ev[recs[i].pos].lost)
                continue;
            assert_true(recs[i].off + recs[i].len <= len);
            if (memcmp(now + recs[i].off, was + recs[i].off, recs[i].len) != 0)
                print_error("%s: the record of position %" PRId64 " at byte %" PRId64
                            " changed\n", name, recs[i].pos, recs[i].off);
            assert_memory_equal(now + recs[i].off, was + recs[i].off, recs[i].len);
        }
        free(now);
    }
}

static void check_event(const fixture *fx, const evs_event *ev)
{
    assert_true(ev->pos >= 1 && ev->pos <= fx->nev);
    const model_event *e = &fx->ev[ev->pos];
    if (e->lost)
        print_error("position %" PRId64 " was damaged but is read\n", ev->pos);
    assert_false(e->lost);
    assert_memory_equal(ev->id, e->id, 16);
    assert_int_equal(ev->version, e->version);
    assert_int_equal(ev->stream_len, strlen(e->stream));
    assert_memory_equal(ev->stream, e->stream, ev->stream_len);
    assert_int_equal(ev->data_len, strlen(e->data));
    assert_memory_equal(ev->data, e->data, ev->data_len);
}

/* The store opens and verifies; reads by position (both ways) and by stream give
 * exactly the events not lost; appends continue at the next position and version. */
static void check_store(fixture *fx, bool append)
{
    evs_options o = tu_fast_options();
    evs_store *s;
    assert_evs_ok(evs_open(&s, fx->dir, &o));
    evs_verify_report vr;
    fu_verify_ok(s);
    assert_evs_ok(evs_verify(&vr, s, NULL, NULL));
    assert_int_equal(vr.lost_count, lost_count(fx));
    assert_int_equal(vr.events_checked, fx->nev - lost_count(fx));
    memset(&vr, 0, sizeof vr);
    assert_evs_ok(evs_verify_quick(&vr, s, NULL, NULL));
    assert_int_equal(vr.lost_count, lost_count(fx));
    evs_stat_info st;
    assert_evs_ok(evs_stat(&st, s));
    assert_int_equal(st.lost_positions, lost_count(fx));
    assert_int_equal(st.event_count, fx->nev - lost_count(fx));

    for (int dir = 0; dir < 2; dir++) {
        evs_query q = EVS_QUERY_INIT;
        q.direction = dir ? EVS_BACKWARD : EVS_FORWARD;
        evs_cursor *c;
        assert_evs_ok(evs_cursor_open(&c, s, &q));
        evs_event ev;
        int rc;
        int64_t n = 0, prev = dir ? fx->nev + 1 : 0;
        while ((rc = evs_cursor_next(&ev, c)) > 0) {
            check_event(fx, &ev);
            assert_true(dir ? ev.pos < prev : ev.pos > prev);
            prev = ev.pos;
            n++;
        }
        assert_evs_ok(rc);
        evs_cursor_close(c);
        assert_int_equal(n, fx->nev - lost_count(fx));
    }
    /* Filtered reads go through the sealed segments' type directories, made before the
     * damage: a filler where an event was must not come out of them, nor stop them. */
    for (int f = 0; f < 3; f++) {
        for (int dir = 0; dir < 2; dir++) {
            evs_query q = EVS_QUERY_INIT;
            const char *types[] = {"Booked"};
            if (f == 0) {
                q.types = types;
                q.type_count = 1;
            } else if (f == 1) {
                q.category = "acct";
            } else {
                q.prefix = "acct-1";
            }
            q.direction = dir ? EVS_BACKWARD : EVS_FORWARD;
            evs_cursor *c;
            assert_evs_ok(evs_cursor_open(&c, s, &q));
            evs_event ev;
            int rc;
            int64_t n = 0, want = 0;
            for (int64_t p = 1; p <= fx->nev; p++)
                want += !fx->ev[p].lost && (f < 2 || strcmp(fx->ev[p].stream, "acct-1") == 0);
            while ((rc = evs_cursor_next(&ev, c)) > 0) {
                check_event(fx, &ev);
                n++;
            }
            if (rc < 0)
                print_error("filter %d: %s\n", f, evs_errmsg());
            assert_evs_ok(rc);
            evs_cursor_close(c);
            assert_int_equal(n, want);
        }
    }
    for (int k = 0; k < STREAMS; k++) {
        char stream[24];
        snprintf(stream, sizeof stream, "acct-%d", k & 7);
        for (int dir = 0; dir < 2; dir++) {
            evs_query q = EVS_QUERY_INIT;
            q.stream = stream;
            q.direction = dir ? EVS_BACKWARD : EVS_FORWARD;
            evs_cursor *c;
            assert_evs_ok(evs_cursor_open(&c, s, &q));
            evs_event ev;
            int rc;
            int64_t n = 0, want = 0;
            for (int64_t p = 1; p <= fx->nev; p++)
                want += !fx->ev[p].lost && strcmp(fx->ev[p].stream, stream) == 0;
            while ((rc = evs_cursor_next(&ev, c)) > 0) {
                check_event(fx, &ev);
                n++;
            }
            if (rc < 0)
                print_error("stream %s: %s\n", stream, evs_errmsg());
            assert_evs_ok(rc);
            evs_cursor_close(c);
            assert_int_equal(n, want);
        }
        evs_stream_info si;
        assert_evs_ok(evs_stream_get(&si, s, stream));
        assert_int_equal(si.last_version, fx->last_version[k]);
    }
    if (append) {
        /* The next event of each stream gets the version after its last, lost or not. */
        for (int k = 0; k < STREAMS; k++) {
            char stream[24];
            snprintf(stream, sizeof stream, "acct-%d", k & 7);
            model_event *e = &fx->ev[fx->nev + 1];
            memset(e->id, 0, 16);
            e->id[0] = 0xa1;
            e->id[6] = 0x40;
            e->id[8] = 0x80;
            e->id[15] = (unsigned char)(fx->nev + 1);
            e->id[14] = (unsigned char)((fx->nev + 1) >> 8);
            evs_event_in in = tu_event("After", "{\"after\":true}");
            in.id = e->id;
            evs_append_result r;
            assert_evs_ok(evs_append(&r, s, stream, fx->last_version[k], &in, 1));
            assert_int_equal(r.first_pos, fx->nev + 1);
            assert_int_equal(r.version, fx->last_version[k] + 1);
            fx->nev++;
            fx->last_version[k]++;
            snprintf(e->stream, sizeof e->stream, "%s", stream);
            snprintf(e->data, sizeof e->data, "{\"after\":true}");
            e->version = r.version;
        }
        fu_verify_ok(s);
    }
    assert_evs_ok(evs_close(s));
}

/* Files of the store and their sizes and contents' checksums, to see that nothing
 * changed. */
static uint32_t store_fingerprint(const fixture *fx)
{
    uint32_t h = 0;
    for (size_t i = 0; i < fx->nseg; i++) {
        char name[32];
        fu_seg_name(name, sizeof name, fx->segs[i]);
        int64_t len;
        unsigned char *b = read_file(fx->dir, name, &len);
        h = evs__crc32c(h, b, (size_t)len);
        free(b);
    }
    char path[4200];
    fu_path(path, sizeof path, fx->dir, "lost");
    return h ^ (access(path, F_OK) == 0 ? 0x1234u : 0);
}

/* ---- the tests ----------------------------------------------------------------------- */

static void test_one_flipped_byte(void **state)
{
    fixture *fx = build_store(state, "keep-one");
    static fu_rec recs[MAX_EVENTS];
    char name[32];
    size_t n = records_of(fx, 1, name, recs, MAX_EVENTS);
    const fu_rec *r = &recs[n / 2];
    /* A durable consumer that processed the event about to be lost, and one before it. */
    evs_options o = tu_fast_options();
    evs_store *s;
    assert_evs_ok(evs_open(&s, fx->dir, &o));
    const char *names[2] = {"billing", "audit"};
    for (int i = 0; i < 2; i++) {
        evs_consumer *c;
        assert_evs_ok(evs_consumer_open(&c, s, names[i], NULL));
        assert_evs_ok(evs_consumer_close(c));
        assert_evs_ok(evs_consumer_reset(s, names[i], r->pos - i));
    }
    assert_evs_ok(evs_close(s));
    fu_damage(fx->dir, name, r->data_off + 5, 0x08);
    mark_lost(fx, r->pos);

    /* Without the option the log is cut there: everything after it is gone. */
    evs_repair_report dry;
    evs_repair_opts cut = EVS_REPAIR_OPTS_INIT;
    cut.flags = EVS_REPAIR_DRY_RUN;
    assert_evs_ok(evs_repair(&dry, fx->dir, &cut));
    assert_true(dry.kept_last_pos < r->pos);

    uint32_t before = store_fingerprint(fx);
    evs_repair_report rep = keep_intact(fx, true);
    check_report(fx, &rep);
    assert_int_equal(rep.kept_last_pos, fx->nev);
    assert_int_equal(store_fingerprint(fx), before); /* a dry run changes nothing */

    rep = keep_intact(fx, false);
    check_report(fx, &rep);
    assert_int_equal(rep.kept_last_pos, fx->nev);
    assert_string_equal(rep.damage_file, name);
    assert_int_equal(rep.damage_offset, r->off);
    assert_int_equal(rep.damage_pos, r->pos);
    assert_int_equal(rep.consumers_affected, 1);
    assert_string_equal(rep.consumers_affected_names, "billing");
    /* The damaged bytes are kept aside, unchanged. */
    char saved[4400];
    snprintf(saved, sizeof saved, "%s/%s.bytes-%" PRId64 "-%" PRId64, rep.saved_to, name, r->off,
             r->off + (((int64_t)r->len + 7) & ~7));
    int64_t len;
    unsigned char *b = read_file("", saved, &len);
    assert_int_equal(len, ((int64_t)r->len + 7) & ~7);
    assert_memory_equal(b, fx->seg_bytes[1] + r->off, 5 + (size_t)(r->data_off - r->off));
    assert_true(b[r->data_off - r->off + 5] != fx->seg_bytes[1][r->data_off + 5]);
    free(b);
    check_bytes(fx);
    check_store(fx, true);
    /* The consumer that saw the lost event is refused until it is reset. */
    assert_evs_ok(evs_open(&s, fx->dir, &o));
    evs_consumer *c;
    assert_evs(EVS_ELOST, evs_consumer_open(&c, s, "billing", NULL));
    assert_evs_ok(evs_consumer_open(&c, s, "audit", NULL));
    evs_event ev;
    assert_int_equal(evs_consumer_next(&ev, c, 0), 1);
    assert_int_equal(ev.pos, r->pos + 1); /* it steps over the lost position */
    assert_evs_ok(evs_consumer_close(c));
    assert_evs_ok(evs_close(s));
    /* A second repair finds nothing to do. */
    evs_repair_report again = keep_intact(fx, false);
    assert_int_equal(again.damaged, 0);
}

static void test_several_places(void **state)
{
    fixture *fx = build_store(state, "keep-several");
    static fu_rec recs[MAX_EVENTS];
    char name[32];
    /* Segment 1: a data byte, and further on a record's length (its frame broken). */
    size_t n = records_of(fx, 1, name, recs, MAX_EVENTS);
    fu_damage(fx->dir, name, recs[3].data_off + 1, 0x20);
    mark_lost(fx, recs[3].pos);
    fu_damage(fx->dir, name, recs[n / 2].off + FU_REC_OFF_LEN + 1, 0x01);
    mark_lost(fx, recs[n / 2].pos);
    /* Segment 2: the records of a 5-event append zeroed, with the record after it. */
    n = records_of(fx, 2, name, recs, MAX_EVENTS);
    size_t five = 0;
    for (size_t i = 4; i + 6 < n && !five; i++)
        if (recs[i].pos % 11 == 4) /* appends of 1, 2, 5, 3: positions 4..8 of every 11 */
            five = i;
    assert_true(five > 0);
    int64_t from = recs[five].off, to = recs[five + 6].off;
    unsigned char zeros[65536];
    memset(zeros, 0, sizeof zeros);
    fu_write_at(fx->dir, name, from, zeros, (size_t)(to - from));
    for (size_t i = five; i < five + 6; i++)
        mark_lost(fx, recs[i].pos);
    /* The last segment: the headers of the last events of two streams destroyed. Nothing
     * tells whose they were (no later event links to them): their fillers belong to no
     * stream, and those streams end at the version before (the next append gets the lost
     * version again, as the README says). */
    size_t last = fx->nseg - 1;
    n = records_of(fx, last, name, recs, MAX_EVENTS);
    for (int k = 0; k < 2; k++) {
        int64_t pos = 0;
        for (int64_t p = fx->nev; p > 0 && !pos; p--)
            if (fx->ev[p].stream[5] - '0' == k)
                pos = p;
        size_t i = 0;
        while (i < n && recs[i].pos != pos)
            i++;
        assert_true(i + 1 < n); /* not the log's last record */
        fu_write_at(fx->dir, name, recs[i].off, zeros, 16);
        mark_lost(fx, pos);
        fx->last_version[k] = fx->ev[pos].version - 1;
    }

    evs_repair_report rep = keep_intact(fx, false);
    check_report(fx, &rep);
    assert_int_equal(rep.kept_last_pos, fx->nev);
    assert_int_equal(rep.files_moved, 5);
    check_bytes(fx);
    check_store(fx, true);
    /* The fillers are whole records: repair, with the option or without, finds nothing. */
    assert_int_equal(keep_intact(fx, false).damaged, 0);
    evs_repair_report plain;
    assert_evs_ok(evs_repair(&plain, fx->dir, NULL));
    assert_int_equal(plain.damaged, 0);
}

/* The damaged record is the last of a sealed segment: the segments after it stay. */
static void test_last_record_of_a_segment(void **state)
{
    fixture *fx = build_store(state, "keep-segend");
    static fu_rec recs[MAX_EVENTS];
    char name[32];
    size_t n = records_of(fx, 1, name, recs, MAX_EVENTS);
    fu_damage(fx->dir, name, recs[n - 1].off + FU_REC_OFF_LEN, 0xff); /* its length */
    mark_lost(fx, recs[n - 1].pos);
    evs_repair_report rep = keep_intact(fx, false);
    check_report(fx, &rep);
    assert_int_equal(rep.kept_last_pos, fx->nev);
    assert_int_equal(fu_list_segs(fx->dir, fx->segs, MAX_SEGS), fx->nseg);
    check_bytes(fx);
    check_store(fx, true);
}

/* The damaged record is the log's last: nothing whole follows it, so the log is cut
 * there, and its position is declared lost as any cut position is. */
static void test_last_record_of_the_log(void **state)
{
    fixture *fx = build_store(state, "keep-logend");
    static fu_rec recs[MAX_EVENTS];
    char name[32];
    size_t n = records_of(fx, fx->nseg - 1, name, recs, MAX_EVENTS);
    const fu_rec *last = &recs[n - 1];
    assert_int_equal(last->pos, fx->nev);
    fu_damage(fx->dir, name, last->data_off + 2, 0x10);
    /* Its append loses every record: they are cut with it (saved aside). */
    int64_t first = last->pos;
    for (size_t i = n - 1; i-- > 0 && !(recs[i].flags & FU_REC_COMMIT);)
        first = recs[i].pos;
    for (int64_t p = first; p <= last->pos; p++)
        mark_lost(fx, p);
    /* A cut keeps no record of the versions it cut: the stream ends where its kept
     * events do. */
    int k = fx->ev[first].stream[5] - '0';
    fx->last_version[k] = fx->ev[first].version - 1;
    evs_repair_report rep = keep_intact(fx, false);
    check_report(fx, &rep);
    assert_int_equal(rep.kept_last_pos, first - 1);
    assert_int_equal(rep.last_lost_pos, fx->nev);
    check_bytes(fx);
    check_store(fx, true);
}

/* ---- killed while repairing ------------------------------------------------------------ */

/* In the child: the Nth call of the chosen entry kills the process (a pwrite first writes
 * half of its bytes: a torn write). */
enum crash_op { CRASH_PWRITE, CRASH_SYNC, CRASH_RENAME, CRASH_OPS };
static const char *const crash_names[] = {"pwrite", "fdatasync", "rename"};
static enum crash_op crash_op;
static long crash_nth, crash_calls;
static evs__sysio real_sys;

static ssize_t crash_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    if (crash_op == CRASH_PWRITE && ++crash_calls == crash_nth) {
        (void)real_sys.pwrite(fd, buf, len / 2, off);
        raise(SIGKILL);
    }
    return real_sys.pwrite(fd, buf, len, off);
}

static int crash_fdatasync(int fd)
{
    if (crash_op == CRASH_SYNC && ++crash_calls == crash_nth)
        raise(SIGKILL);
    return real_sys.fdatasync(fd);
}

static int crash_rename(const char *from, const char *to)
{
    if (crash_op == CRASH_RENAME && ++crash_calls == crash_nth)
        raise(SIGKILL);
    return real_sys.rename(from, to);
}

/* Run the repair in a child that dies at the nth call of op: true when it died (false:
 * the repair made fewer such calls and finished). */
static bool repair_killed_at(const fixture *fx, enum crash_op op, long nth)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        real_sys = evs__sys;
        evs__sys.pwrite = crash_pwrite;
        evs__sys.fdatasync = crash_fdatasync;
        evs__sys.rename = crash_rename;
        crash_op = op;
        crash_nth = nth;
        evs_repair_opts o = EVS_REPAIR_OPTS_INIT;
        o.flags = EVS_REPAIR_KEEP_INTACT;
        evs_repair_report rep;
        _exit(evs_repair(&rep, fx->dir, &o) == 0 ? 0 : 3);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        return true;
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return false;
}

static void test_killed_at_every_step(void **state)
{
    fixture *fx = build_store(state, "keep-killed");
    static fu_rec recs[MAX_EVENTS];
    char name[32];
    size_t n = records_of(fx, 1, name, recs, MAX_EVENTS);
    fu_damage(fx->dir, name, recs[n / 3].data_off + 3, 0x02);
    mark_lost(fx, recs[n / 3].pos);
    fu_write_at(fx->dir, name, recs[2 * n / 3].off, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    mark_lost(fx, recs[2 * n / 3].pos);
    /* The damaged store, to start each trial from. */
    char pristine[4200];
    snprintf(pristine, sizeof pristine, "%s-damaged", fx->dir);
    fu_copy_store(fx->dir, pristine);
    int trials = 0;
    for (int op = 0; op < CRASH_OPS; op++) {
        for (long nth = 1;; nth++) {
            tu_rmtree(fx->dir);
            fu_copy_store(pristine, fx->dir);
            fu_set_where("killed at %s %ld", crash_names[op], nth);
            bool killed = repair_killed_at(fx, (enum crash_op)op, nth);
            evs_repair_report rep = keep_intact(fx, false);
            if (rep.damaged) /* what the killed one did not finish */
                assert_int_equal(rep.kept_last_pos, fx->nev);
            check_bytes(fx);
            check_store(fx, false);
            trials++;
            if (!killed)
                break;
        }
    }
    print_message("%d repairs killed at a write, sync or rename, each finished by the next\n",
                  trials - CRASH_OPS);
    assert_true(trials > 3 * CRASH_OPS);
    tu_rmtree(pristine);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_one_flipped_byte, teardown_fixture),
        cmocka_unit_test_teardown(test_several_places, teardown_fixture),
        cmocka_unit_test_teardown(test_last_record_of_a_segment, teardown_fixture),
        cmocka_unit_test_teardown(test_last_record_of_the_log, teardown_fixture),
        cmocka_unit_test_teardown(test_killed_at_every_step, teardown_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
