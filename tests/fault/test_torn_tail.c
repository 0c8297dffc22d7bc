/*
 * test_torn_tail.c - crash recovery of a torn tail (docs/DESIGN.md, invariants 1 and 2).
 *
 * A store is written with appends of 1, 2 and 5 events (multi-record appends), and the
 * byte range of every append in its segment is noted. Then, for every byte offset from
 * the start of the third-to-last append's records to the end of the log, a copy of the
 * store has its last segment cut there ("the last writer died mid-write"), in three
 * variants: the head page left as it is (it now claims more than the file holds), the
 * head file deleted, and the head page from another boot. Each copy must open; hold
 * exactly the events of the appends complete before the cut (an append cut anywhere
 * disappears whole); have its segment cut back to the last complete append; pass
 * evs_verify; and take a new append at the next position and stream version. Read-only
 * opens of the same copies must see the same events and change nothing.
 *
 * Scenarios: one segment; the last appends in a fresh second segment (cuts inside its
 * header too, with the head deleted); a stream index snapshot ahead of the cut log,
 * which must not be trusted once new appends have gone past it; and a head page left
 * half-written by a writer killed while publishing it.
 */
#include "testutil.h"

#include "faultutil.h"
#include "sysio.h"

#include <stdbool.h>

#define MAX_EVENTS  2048
#define MAX_APPENDS 1024
#define NSTREAMS    3

typedef struct model_event {
    unsigned char id[16];
    char stream[32];
    const char *type;
    char data[96];
} model_event;

typedef struct model_append {
    size_t first;      /* index of its first event in the model */
    size_t count;      /* events (= records) */
    uint64_t seg;      /* first position of the segment holding it */
    int64_t start_off; /* offset of its first record */
    int64_t data_end;  /* end of its last record's bytes, padding excluded */
    int64_t end_off;   /* end of its last record, padding included */
    int64_t stat_size; /* size of the newest segment file right after the append */
} model_append;

typedef struct scenario {
    char dir[4096];  /* the store as written, closed */
    char work[4096]; /* where each damaged copy goes */
    model_event ev[MAX_EVENTS];
    size_t nev;
    model_append ap[MAX_APPENDS];
    size_t nap;
    uint64_t last_seg;
    char last_seg_name[32];
} scenario;

enum variant { HEAD_KEPT, HEAD_DELETED, HEAD_OTHER_BOOT };

static const char *variant_name(enum variant v)
{
    return v == HEAD_KEPT ? "head kept" : v == HEAD_DELETED ? "head deleted" : "other boot";
}

static void make_id(unsigned char id[16], size_t n)
{
    memset(id, 0, 16);
    id[0] = 0x70;
    id[6] = 0x40; /* looks like a v4 UUID */
    id[8] = 0x80;
    for (int i = 0; i < 8; i++)
        id[15 - i] = (unsigned char)(n >> (8 * i));
}

/* Append `count` events to stream acct-<k> and record them in the model. */
static void model_append_events(scenario *sc, evs_store *s, size_t count, int pad)
{
    assert_true(sc->nev + count <= MAX_EVENTS && sc->nap < MAX_APPENDS);
    evs_event_in in[8];
    model_append *a = &sc->ap[sc->nap];
    a->first = sc->nev;
    a->count = count;
    char stream[32];
    snprintf(stream, sizeof stream, "acct-%zu", sc->nap % NSTREAMS);
    for (size_t i = 0; i < count; i++) {
        model_event *e = &sc->ev[sc->nev + i];
        make_id(e->id, sc->nev + i + 1);
        snprintf(e->stream, sizeof e->stream, "%s", stream);
        e->type = i % 2 ? "Out" : "In";
        /* Data lengths vary so that records end at every offset modulo 8. */
        snprintf(e->data, sizeof e->data, "{\"n\":%zu,\"p\":\"%.*s\"}", sc->nev + i,
                 (int)((sc->nev + i) % 9 + (size_t)pad), "abcdefghijklmnopqrstuvwxyz0123456789");
        in[i] = tu_event(e->type, e->data);
        in[i].id = e->id;
    }
    evs_append_result r;
    assert_evs_ok(evs_append(&r, s, stream, EVS_EXPECT_ANY, in, count));
    assert_int_equal(r.first_pos, (int64_t)sc->nev + 1);
    assert_int_equal(r.last_pos, (int64_t)(sc->nev + count));
    sc->nev += count;
    sc->nap++;
    uint64_t firsts[64];
    size_t nseg = fu_list_segs(sc->dir, firsts, 64);
    char name[32];
    fu_seg_name(name, sizeof name, firsts[nseg - 1]);
    a->stat_size = fu_file_size_in(sc->dir, name);
}

/* Fill in the byte ranges of the appends from the segment files. */
static void model_locate(scenario *sc)
{
    uint64_t firsts[64];
    size_t nseg = fu_list_segs(sc->dir, firsts, 64);
    assert_true(nseg >= 1);
    static fu_rec recs[MAX_EVENTS];
    size_t ai = 0;
    for (size_t si = 0; si < nseg; si++) {
        char name[32];
        fu_seg_name(name, sizeof name, firsts[si]);
        size_t n = fu_seg_records(sc->dir, name, recs, MAX_EVENTS);
        size_t ri = 0;
        while (ri < n) {
            assert_true(ai < sc->nap);
            model_append *a = &sc->ap[ai];
            assert_true(ri + a->count <= n); /* an append never spans segments */
            assert_int_equal(recs[ri].pos, (int64_t)a->first + 1);
            a->seg = firsts[si];
            a->start_off = recs[ri].off;
            const fu_rec *last = &recs[ri + a->count - 1];
            a->data_end = last->off + last->len;
            a->end_off = last->off + ((last->len + 7) & ~7u);
            /* The records end where the file ended right after the append. */
            assert_int_equal(a->end_off, a->stat_size);
            for (size_t k = 0; k < a->count; k++) /* only the last one commits */
                assert_int_equal(recs[ri + k].flags & FU_REC_COMMIT, k + 1 == a->count);
            ri += a->count;
            ai++;
        }
        assert_int_equal(fu_file_size_in(sc->dir, name),
                         recs[n - 1].off + ((recs[n - 1].len + 7) & ~7u));
    }
    assert_int_equal(ai, sc->nap);
    sc->last_seg = firsts[nseg - 1];
    fu_seg_name(sc->last_seg_name, sizeof sc->last_seg_name, sc->last_seg);
}

static scenario *scenario_new(void **state, const char *tag)
{
    scenario *sc = calloc(1, sizeof *sc);
    assert_non_null(sc);
    *state = sc;
    tu_tmpdir(sc->dir, sizeof sc->dir, tag);
    snprintf(sc->work, sizeof sc->work, "%s", sc->dir);
    char *slash = strrchr(sc->work, '/');
    snprintf(slash, sizeof sc->work - (size_t)(slash - sc->work), "/work");
    return sc;
}

/* The fixture: each test parks its scenario in *state so that it is cleaned up even
 * when a check fails half-way. */
static int teardown_scenario(void **state)
{
    scenario *sc = *state;
    if (sc) {
        tu_cleanup(sc->dir);
        free(sc);
    }
    *state = NULL;
    return 0;
}

/* Read the whole store forward and check it holds exactly the first `n` model events,
 * then `extra` events appended after recovery. */
static void check_events(const scenario *sc, evs_store *s, size_t n, size_t extra)
{
    evs_cursor *c;
    fu_check_evs(0, evs_cursor_open(&c, s, NULL));
    evs_event ev;
    int rc;
    size_t got = 0;
    int64_t versions[NSTREAMS] = {0};
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        fu_check(got < n + extra);
        if (got >= n) {
            fu_check(ev.pos == (int64_t)got + 1);
            got++;
            continue;
        }
        const model_event *e = &sc->ev[got];
        fu_check(ev.pos == (int64_t)got + 1);
        fu_check(memcmp(ev.id, e->id, 16) == 0);
        fu_check(ev.stream_len == strlen(e->stream) &&
                 memcmp(ev.stream, e->stream, ev.stream_len) == 0);
        fu_check(ev.type_len == strlen(e->type) && memcmp(ev.type, e->type, ev.type_len) == 0);
        fu_check(ev.data_len == strlen(e->data) && memcmp(ev.data, e->data, ev.data_len) == 0);
        int k = e->stream[5] - '0';
        fu_check(ev.version == versions[k]);
        versions[k]++;
        got++;
    }
    fu_check_evs(0, rc);
    fu_check(got == n + extra);
    evs_cursor_close(c);
    fu_check(evs_head(s) == (int64_t)(n + extra));
}

/* Events held by the first `k` appends. */
static size_t events_of(const scenario *sc, size_t k)
{
    return k == 0 ? 0 : sc->ap[k - 1].first + sc->ap[k - 1].count;
}

/* Last version of stream acct-<k> among the first n events, or -1. */
static int64_t model_version(const scenario *sc, size_t n, int k)
{
    int64_t v = -1;
    for (size_t i = 0; i < n; i++)
        if (sc->ev[i].stream[5] - '0' == k)
            v++;
    return v;
}

/* What check_cut has open, so that a failed check can release it. */
static evs_store *g_store;

/* Cut the last segment of a copy at `cut` and check what opening makes of it. */
static void check_cut(const scenario *sc, enum variant var, int64_t cut)
{
    fu_set_where("%s, %s cut at byte %" PRId64, variant_name(var), sc->last_seg_name, cut);
    fu_copy_store(sc->dir, sc->work);
    fu_truncate(sc->work, sc->last_seg_name, cut);

    /* The appends wholly before the cut must stay; one whose records are all there but
     * whose last padding bytes are cut may stay or go; the rest must go. */
    size_t keep = 0;
    while (keep < sc->nap && (sc->ap[keep].seg < sc->last_seg || sc->ap[keep].end_off <= cut))
        keep++;
    /* A torn write: its writer synced the appends before the cut, and died (before
     * closing) while writing the rest. A cut into synced appends is refused instead
     * (test_lost_tail.c). */
    fu_remove_synced(sc->work);
    fu_set_head_synced(sc->work, events_of(sc, keep));
    if (var == HEAD_DELETED)
        fu_remove_head(sc->work);
    else if (var == HEAD_OTHER_BOOT)
        fu_fake_reboot(sc->work);
    bool maybe_one_more =
        keep < sc->nap && sc->ap[keep].seg == sc->last_seg && sc->ap[keep].data_end <= cut;

    evs_options o = tu_fast_options();
    if (var != HEAD_KEPT) {
        /* A reader finds the same end and changes nothing. */
        evs_options ro = o;
        ro.flags = EVS_OPEN_READONLY;
        fu_check_evs(0, evs_open(&g_store, sc->work, &ro));
        int64_t head = evs_head(g_store);
        fu_check(head == (int64_t)events_of(sc, keep) ||
                 (maybe_one_more && head == (int64_t)events_of(sc, keep + 1)));
        check_events(sc, g_store, (size_t)head, 0);
        evs_store *s = g_store;
        g_store = NULL;
        fu_check_evs(0, evs_close(s));
        fu_check(fu_file_size_in(sc->work, sc->last_seg_name) == cut);
    }

    fu_check_evs(0, evs_open(&g_store, sc->work, &o));
    int64_t head = evs_head(g_store);
    if (maybe_one_more && head == (int64_t)events_of(sc, keep + 1))
        keep++;
    size_t n = events_of(sc, keep);
    fu_check(head == (int64_t)n);

    /* The torn bytes are gone from the file: the log ends at the last kept append. */
    int64_t size = fu_file_size_in(sc->work, sc->last_seg_name);
    if (keep > 0 && sc->ap[keep - 1].seg == sc->last_seg)
        fu_check(size == sc->ap[keep - 1].end_off);
    else /* nothing of the last segment survives: the file goes or keeps its header */
        fu_check(size == -1 || size == FU_SEG_HDR_LEN);

    /* The next append continues the log: next position, next stream version. */
    int k = (int)(keep % NSTREAMS);
    char stream[32];
    snprintf(stream, sizeof stream, "acct-%d", k);
    int64_t v = model_version(sc, n, k);
    evs_event_in in[2] = {tu_event("Opened", "{\"after\":\"crash\"}"),
                          tu_event("Noted", "[1,2,3]")};
    evs_append_result r;
    fu_check_evs(0, evs_append(&r, g_store, stream, v < 0 ? EVS_EXPECT_NO_STREAM : v, in, 2));
    fu_check(r.first_pos == (int64_t)n + 1 && r.last_pos == (int64_t)n + 2);
    fu_check(r.version == v + 2);
    /* The recovered log plus the new append: exactly the events expected, and whole
     * (positions, checksums, stream links, stream index). */
    check_events(sc, g_store, n, 2);
    fu_verify_ok(g_store);
    evs_store *s = g_store;
    g_store = NULL;
    fu_check_evs(0, evs_close(s));
}

/* check_cut, reporting a failed check as false instead of ending the test. */
static bool try_cut(const scenario *sc, enum variant var, int64_t cut)
{
    jmp_buf jb;
    fu_soft_jmp = &jb;
    if (setjmp(jb) != 0) {
        fu_soft_jmp = NULL;
        if (g_store)
            evs_close(g_store);
        g_store = NULL;
        return false;
    }
    check_cut(sc, var, cut);
    fu_soft_jmp = NULL;
    return true;
}

/* check_cut for every offset in [from, to]; failures are counted and summarised as
 * ranges of offsets, so one run shows every class of cut that goes wrong. */
static int run_cuts(const scenario *sc, enum variant var, int64_t from, int64_t to)
{
    int failed = 0, total = 0;
    char ranges[2048] = "";
    size_t used = 0;
    int64_t run_start = -1;
    fu_print_budget = 3;
    for (int64_t cut = from; cut <= to + 1; cut++) {
        bool ok = true;
        if (cut <= to) {
            ok = try_cut(sc, var, cut);
            total++;
            failed += !ok;
        }
        if (!ok && run_start < 0)
            run_start = cut;
        if (ok && run_start >= 0) {
            if (used + 48 < sizeof ranges)
                used += (size_t)snprintf(ranges + used, sizeof ranges - used,
                                         " %" PRId64 "-%" PRId64, run_start, cut - 1);
            run_start = -1;
        }
    }
    fu_print_budget = 1000000;
    if (failed)
        print_error("%s: %d of %d cuts of %s failed, at bytes:%s\n", variant_name(var), failed,
                    total, sc->last_seg_name, ranges);
    return failed;
}

/* Appends of 1, 2 and 5 events, all in one segment. */
static scenario *write_one_segment(void **state)
{
    scenario *sc = scenario_new(state, "torn1");
    evs_options o = tu_fast_options();
    evs_store *s;
    assert_evs_ok(evs_open(&s, sc->dir, &o));
    static const size_t sizes[] = {1, 2, 5, 1, 5, 2, 2, 5, 1};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        model_append_events(sc, s, sizes[i], 0);
    assert_evs_ok(evs_close(s));
    model_locate(sc);
    assert_int_equal(sc->last_seg, 1);
    return sc;
}

static void test_one_segment_head_kept(void **state)
{
    scenario *sc = write_one_segment(state);
    assert_int_equal(
        run_cuts(sc, HEAD_KEPT, sc->ap[sc->nap - 3].start_off, sc->ap[sc->nap - 1].end_off), 0);
}

static void test_one_segment_head_deleted(void **state)
{
    scenario *sc = write_one_segment(state);
    assert_int_equal(
        run_cuts(sc, HEAD_DELETED, sc->ap[sc->nap - 3].start_off, sc->ap[sc->nap - 1].end_off), 0);
}

static void test_one_segment_other_boot(void **state)
{
    scenario *sc = write_one_segment(state);
    assert_int_equal(
        run_cuts(sc, HEAD_OTHER_BOOT, sc->ap[sc->nap - 3].start_off, sc->ap[sc->nap - 1].end_off),
        0);
}

/* Small segments; append until a second segment starts, then two more appends, so the
 * last three appends (2, 1 and 2 events) sit in a fresh segment. */
static scenario *write_two_segments(void **state)
{
    scenario *sc = scenario_new(state, "torn2");
    evs_options o = tu_fast_options();
    o.segment_size = 64u << 10;
    evs_store *s;
    assert_evs_ok(evs_open(&s, sc->dir, &o));
    static const size_t sizes[] = {1, 2, 5};
    for (size_t i = 0;; i++) {
        size_t before = sc->nev;
        /* Big events fill the first segment; small ones go where the roll happens. */
        if (fu_file_size_in(sc->dir, "00000000000000000001.seg") < (62 << 10))
            model_append_events(sc, s, sizes[i % 3], 40);
        else
            model_append_events(sc, s, 2, 0);
        char next[32];
        fu_seg_name(next, sizeof next, before + 1);
        if (before > 0 && fu_file_size_in(sc->dir, next) >= 0)
            break;
        assert_true(sc->nev < MAX_EVENTS - 16);
    }
    model_append_events(sc, s, 1, 0);
    model_append_events(sc, s, 2, 0);
    assert_evs_ok(evs_close(s));
    model_locate(sc);
    assert_int_equal(sc->ap[sc->nap - 3].seg, sc->last_seg);
    assert_int_equal(sc->ap[sc->nap - 3].count, 2);
    assert_true(sc->last_seg > 1);
    return sc;
}

static void test_new_segment_cuts(void **state)
{
    scenario *sc = write_two_segments(state);
    int64_t from = sc->ap[sc->nap - 3].start_off;
    assert_int_equal(from, FU_SEG_HDR_LEN);
    int64_t to = sc->ap[sc->nap - 1].end_off;
    int failed = run_cuts(sc, HEAD_KEPT, from, to);
    failed += run_cuts(sc, HEAD_DELETED, from, to);
    failed += run_cuts(sc, HEAD_OTHER_BOOT, from, to);
    assert_int_equal(failed, 0);
}

/* A segment whose creation was cut short (shorter than its header) holds nothing
 * acknowledged: with no head page to say otherwise, open drops it. */
static void test_new_segment_header_cut(void **state)
{
    scenario *sc = write_two_segments(state);
    assert_int_equal(run_cuts(sc, HEAD_DELETED, 0, FU_SEG_HDR_LEN - 1), 0);
}

/* The stream index is a cache of the log. When the log loses its tail, runs that
 * covered that tail must not be believed later, not even after new appends carried the
 * log past the positions they claim to cover. */
static void test_snapshot_ahead_of_cut_log(void **state)
{
    scenario *sc = scenario_new(state, "tornsnap");
    evs_options o = tu_fast_options();
    o.checkpoint_bytes = 1; /* a run after every append */
    evs_store *s;
    assert_evs_ok(evs_open(&s, sc->dir, &o));
    static const size_t sizes[] = {2, 5, 1, 5, 2, 5, 5, 2};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        model_append_events(sc, s, sizes[i], 0);
    assert_evs_ok(evs_close(s));
    model_locate(sc);
    assert_true(fu_file_size_in(sc->dir, "stream-index/MERGE") == 0); /* runs were written */

    for (int var = HEAD_KEPT; var <= HEAD_OTHER_BOOT; var++) {
        fu_set_where("snapshot ahead, %s", variant_name((enum variant)var));
        fu_copy_store(sc->dir, sc->work);
        /* Cut the last three appends (5, 5, 2 events: positions 17..28). */
        size_t keep = sc->nap - 3;
        fu_truncate(sc->work, sc->last_seg_name, sc->ap[keep].start_off);
        fu_remove_synced(sc->work); /* synced up to the cut, as check_cut explains */
        fu_set_head_synced(sc->work, events_of(sc, keep));
        if (var == HEAD_DELETED)
            fu_remove_head(sc->work);
        else if (var == HEAD_OTHER_BOOT)
            fu_fake_reboot(sc->work);
        size_t n = events_of(sc, keep);

        /* Recover with default options (no early snapshot), append past the old end. */
        evs_options d = tu_fast_options();
        fu_check_evs(0, evs_open(&s, sc->work, &d));
        fu_check(evs_head(s) == (int64_t)n);
        evs_event_in in[20];
        for (int i = 0; i < 20; i++)
            in[i] = tu_event("Late", "{\"late\":true}");
        evs_append_result r;
        fu_check_evs(0, evs_append(&r, s, "late-1", EVS_EXPECT_NO_STREAM, in, 20));
        fu_check(r.first_pos == (int64_t)n + 1);
        fu_check_evs(0, evs_close(s));

        /* A new handle must see the log's truth, not the old snapshot. */
        fu_check_evs(0, evs_open(&s, sc->work, &d));
        for (int k = 0; k < NSTREAMS; k++) {
            char stream[32];
            snprintf(stream, sizeof stream, "acct-%d", k);
            evs_stream_info info;
            fu_check_evs(0, evs_stream_get(&info, s, stream));
            int64_t v = model_version(sc, n, k);
            if (info.last_version != v)
                print_error("[%s] stream %s: index says version %" PRId64 ", log has %" PRId64 "\n",
                            fu_where, stream, info.last_version, v);
            fu_check(info.last_version == v);
        }
        evs_stream_info late;
        fu_check_evs(0, evs_stream_get(&late, s, "late-1"));
        fu_check(late.exists && late.last_version == 19 && late.first_pos == (int64_t)n + 1);
        fu_verify_ok(s);
        /* Appending with the versions the log implies must work. */
        int64_t v0 = model_version(sc, n, 0);
        evs_event_in one = tu_event("Again", "{}");
        fu_check_evs(0, evs_append(&r, s, "acct-0", v0, &one, 1));
        fu_check(r.version == v0 + 1);
        fu_check_evs(0, evs_close(s));
    }
}

/* Put a little-endian integer of `len` bytes into the head page of the store in dir. */
static void head_put(const char *dir, int64_t off, uint64_t v, size_t len)
{
    unsigned char b[8];
    for (size_t i = 0; i < len; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    fu_write_at(dir, "head", off, b, len);
}

/* A writer killed in the middle of publishing the head: the sequence is left odd and
 * the fields half old, half new, in either order. The log itself is whole. The next
 * open must not believe the page: it finds the end from the log, keeps every complete
 * append, and the next append goes after them. (It once took the half-new position
 * with the old end, cut the last append and wrote the next event where that append's
 * first event had been: verify then found a gap in the positions.) */
static void test_writer_died_mid_publish(void **state)
{
    scenario *sc = scenario_new(state, "tornhead");
    evs_options o = tu_fast_options();
    evs_store *s;
    assert_evs_ok(evs_open(&s, sc->dir, &o));
    static const size_t sizes[] = {2, 5, 1, 3};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        model_append_events(sc, s, sizes[i], 0);
    assert_evs_ok(evs_close(s));
    model_locate(sc);
    size_t n = events_of(sc, sc->nap), before = events_of(sc, sc->nap - 1);
    const model_append *last = &sc->ap[sc->nap - 1], *prev = &sc->ap[sc->nap - 2];
    for (int order = 0; order < 2; order++) {
        fu_set_where("writer died mid-publish, %s", order ? "end new, position old"
                                                          : "position new, end old");
        fu_copy_store(sc->dir, sc->work);
        head_put(sc->work, FU_HEAD_OFF_SEQ, 7, 4); /* odd: a publish under way */
        head_put(sc->work, FU_HEAD_OFF_POS, order ? before : n, 8);
        head_put(sc->work, FU_HEAD_OFF_END, (uint64_t)(order ? last->end_off : prev->end_off), 8);
        fu_check_evs(0, evs_open(&s, sc->work, &o));
        fu_check(evs_head(s) == (int64_t)n);
        evs_event_in one = tu_event("After", "{}");
        evs_append_result r;
        fu_check_evs(0, evs_append(&r, s, "after-1", EVS_EXPECT_NO_STREAM, &one, 1));
        fu_check(r.first_pos == (int64_t)n + 1);
        fu_verify_ok(s);
        fu_check_evs(0, evs_close(s));
    }
}

/* A writer that dies mid-publish leaves the sequence odd until the next writer comes.
 * Readers of a handle wait that out once, not on every read: each read used to spin
 * (and yield) a hundred thousand times, so a store whose writer died read a thousand
 * times slower until someone appended. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_dead_writer_waited_out_once(void **state)
{
    scenario *sc = scenario_new(state, "deadseq");
    evs_options o = tu_fast_options();
    evs_store *s;
    assert_evs_ok(evs_open(&s, sc->dir, &o));
    model_append_events(sc, s, 3, 0);
    head_put(sc->dir, FU_HEAD_OFF_SEQ, 9, 4); /* odd, and no writer to finish it */
    assert_int_equal(evs_head(s), 3); /* the one wait */
    double t0 = now_s();
    for (int i = 0; i < 5000; i++)
        assert_int_equal(evs_head(s), 3);
    double took = now_s() - t0;
    if (took > 0.25)
        fail_msg("5,000 reads of a page a dead writer left took %.3f s", took);
    /* The next writer recovers the page; its publishes are seen as before. */
    evs_event_in one = tu_event("After", "{}");
    evs_append_result r;
    assert_evs_ok(evs_append(&r, s, "after-1", EVS_EXPECT_NO_STREAM, &one, 1));
    assert_int_equal(evs_head(s), 4);
    assert_evs_ok(evs_close(s));
}

int main(void)
{
    evs__sys.fdatasync = fu_no_sync; /* crashes are simulated by cutting files */
    evs__sys.fsync = fu_no_sync;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_one_segment_head_kept, teardown_scenario),
        cmocka_unit_test_teardown(test_one_segment_head_deleted, teardown_scenario),
        cmocka_unit_test_teardown(test_one_segment_other_boot, teardown_scenario),
        cmocka_unit_test_teardown(test_new_segment_cuts, teardown_scenario),
        cmocka_unit_test_teardown(test_new_segment_header_cut, teardown_scenario),
        cmocka_unit_test_teardown(test_snapshot_ahead_of_cut_log, teardown_scenario),
        cmocka_unit_test_teardown(test_writer_died_mid_publish, teardown_scenario),
        cmocka_unit_test_teardown(test_dead_writer_waited_out_once, teardown_scenario),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
