/*
 * test_idempotence.c - appends that carry their own event ids, retried.
 *
 * Covers: re-appending the same batch with the same ids returns duplicate = 1 and the
 * original positions and version and writes nothing, also with another expected
 * version (a retry after a timeout), after more events followed, and after reopening;
 * a batch whose ids are only partly in the stream (or in another order) fails with
 * EVS_EIDCONFLICT (not EVS_ECONFLICT, which is a wrong expected version) and writes
 * nothing; the same ids in another stream are new events; a multi-append with a
 * duplicate batch and a new one writes only the new one; a batch repeated inside one
 * multi-append; ids that reached the stream in separate appends;
 * a batch that carries one id twice (refused, or its retry is a duplicate); each
 * event's own position from evs_append_positions and evs_append_multi_positions, for
 * written batches and for retries of events that other streams' events stand between
 * (positions 1, 2, 4, 6), from the write buffer, the log and after reopening.
 */
#include "testutil.h"

#include <inttypes.h>

typedef struct fixture {
    char dir[4096];
    evs_store *store;
    evs_options opts;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    tu_tmpdir(f->dir, sizeof f->dir, "idem");
    f->opts = tu_fast_options();
    if (evs_open(&f->store, f->dir, &f->opts) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    evs_close(f->store);
    tu_cleanup(f->dir);
    free(f);
    return 0;
}

static void reopen(fixture *f)
{
    assert_evs_ok(evs_close(f->store));
    f->store = NULL;
    assert_evs_ok(evs_open(&f->store, f->dir, &f->opts));
}

/* A distinct id per (tag, i). */
static void make_id(unsigned char id[16], int tag, int i)
{
    memset(id, 0, 16);
    id[0] = 0x1d;
    id[1] = (unsigned char)tag;
    id[2] = (unsigned char)i;
    id[6] = 0x40; /* looks like a v4 UUID; any 16 bytes are allowed */
    id[8] = 0x80;
    id[15] = (unsigned char)(tag * 31 + i);
}

#define MAXN 8

typedef struct batch {
    unsigned char ids[MAXN][16];
    char data[MAXN][64];
    evs_event_in ev[MAXN];
    size_t n;
} batch;

/* A batch of n events with ids (tag, 0..n-1). */
static void make_batch(batch *b, int tag, size_t n)
{
    assert_true(n <= MAXN);
    b->n = n;
    for (size_t i = 0; i < n; i++) {
        make_id(b->ids[i], tag, (int)i);
        snprintf(b->data[i], sizeof b->data[i], "{\"t\":%d,\"i\":%zu}", tag, i);
        b->ev[i] = tu_event("Ev", b->data[i]);
        b->ev[i].id = b->ids[i];
    }
}

static int64_t stat_events(evs_store *s)
{
    evs_stat_info si;
    assert_evs_ok(evs_stat(&si, s));
    return si.event_count;
}

static void get_info(evs_store *s, const char *stream, evs_stream_info *out)
{
    assert_evs_ok(evs_stream_get(out, s, stream));
}

/* Append b as a retry: it must be reported as the duplicate of `orig`, change nothing. */
static void expect_duplicate(evs_store *s, const char *stream, int64_t expected, const batch *b,
                             const evs_append_result *orig)
{
    int64_t head = evs_head(s);
    int64_t events = stat_events(s);
    evs_stream_info before, after;
    get_info(s, stream, &before);
    evs_append_result r;
    memset(&r, 0x55, sizeof r);
    assert_evs_ok(evs_append(&r, s, stream, expected, b->ev, b->n));
    assert_int_equal(r.duplicate, 1);
    assert_int_equal(r.first_pos, orig->first_pos);
    assert_int_equal(r.last_pos, orig->last_pos);
    assert_int_equal(r.version, orig->version);
    assert_int_equal(evs_head(s), head);
    assert_int_equal(stat_events(s), events);
    get_info(s, stream, &after);
    assert_memory_equal(&before, &after, sizeof before);
}

/* Append b: it must fail with `code` and change nothing. */
static void expect_refused(evs_store *s, const char *stream, int64_t expected, const batch *b,
                           int code)
{
    int64_t head = evs_head(s);
    evs_stream_info before, after;
    get_info(s, stream, &before);
    evs_append_result r;
    assert_evs(code, evs_append(&r, s, stream, expected, b->ev, b->n));
    char quoted[300];
    snprintf(quoted, sizeof quoted, "'%s'", stream);
    assert_errmsg_has(quoted);
    assert_int_equal(evs_head(s), head);
    get_info(s, stream, &after);
    assert_memory_equal(&before, &after, sizeof before);
}

/* The ids of a stream's events, in order, must be exactly `ids`. */
static void expect_stream_ids(evs_store *s, const char *stream, unsigned char (*ids)[16], size_t n)
{
    evs_query q = EVS_QUERY_INIT;
    q.stream = stream;
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    evs_event ev;
    size_t i = 0;
    int rc;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        assert_true(i < n);
        assert_memory_equal(ev.id, ids[i], 16);
        i++;
    }
    assert_evs(0, rc);
    evs_cursor_close(c);
    assert_int_equal(i, n);
}

static void test_retry_returns_original(void **state)
{
    fixture *f = *state;
    evs_store *s = f->store;
    tu_append1(s, "noise-1", "Ev", "1"); /* so positions and versions differ */
    tu_append1(s, "noise-1", "Ev", "2");

    batch b;
    make_batch(&b, 1, 3);
    evs_append_result orig;
    assert_evs_ok(evs_append(&orig, s, "order-1", EVS_EXPECT_NO_STREAM, b.ev, 3));
    assert_int_equal(orig.first_pos, 3);
    assert_int_equal(orig.last_pos, 5);
    assert_int_equal(orig.version, 2);
    assert_int_equal(orig.duplicate, 0);

    /* Immediately, with the same expected version (which no longer matches). */
    expect_duplicate(s, "order-1", EVS_EXPECT_NO_STREAM, &b, &orig);
    /* With any other expected version: a retry after a timeout does not know. */
    expect_duplicate(s, "order-1", EVS_EXPECT_ANY, &b, &orig);
    expect_duplicate(s, "order-1", 2, &b, &orig);
    expect_duplicate(s, "order-1", 99, &b, &orig);
    expect_duplicate(s, "order-1", EVS_EXPECT_EXISTS, &b, &orig);
    /* out may be NULL. */
    assert_evs_ok(evs_append(NULL, s, "order-1", EVS_EXPECT_ANY, b.ev, 3));
    assert_int_equal(evs_head(s), 5);

    /* After more events, in this stream and others. */
    tu_append1(s, "noise-1", "Ev", "3");
    tu_append1(s, "order-1", "Ev", "4");
    batch later;
    make_batch(&later, 2, 2);
    evs_append_result r2;
    assert_evs_ok(evs_append(&r2, s, "order-1", 3, later.ev, 2));
    assert_int_equal(r2.first_pos, 8);
    assert_int_equal(r2.version, 5);
    expect_duplicate(s, "order-1", EVS_EXPECT_ANY, &b, &orig);
    expect_duplicate(s, "order-1", 5, &b, &orig);
    expect_duplicate(s, "order-1", EVS_EXPECT_ANY, &later, &r2);

    /* After reopening (nothing cached). */
    reopen(f);
    s = f->store;
    expect_duplicate(s, "order-1", EVS_EXPECT_NO_STREAM, &b, &orig);
    expect_duplicate(s, "order-1", 5, &later, &r2);
    assert_int_equal(evs_head(s), 9);
    assert_int_equal(stat_events(s), 9);

    /* The stream holds each event once. */
    evs_query q = EVS_QUERY_INIT;
    q.stream = "order-1";
    assert_int_equal(tu_count(s, &q), 6);

    /* A single event of the batch, retried alone, is a duplicate too (its id stands in
     * the stream), at its own position. */
    batch one;
    one.n = 1;
    memcpy(one.ids[0], b.ids[1], 16);
    one.ev[0] = b.ev[1];
    one.ev[0].id = one.ids[0];
    evs_append_result want_one = {4, 4, 1, 1};
    expect_duplicate(s, "order-1", EVS_EXPECT_ANY, &one, &want_one);
}

static void test_partial_is_conflict(void **state)
{
    fixture *f = *state;
    evs_store *s = f->store;
    batch b;
    make_batch(&b, 3, 3);
    evs_append_result orig;
    assert_evs_ok(evs_append(&orig, s, "order-2", EVS_EXPECT_ANY, b.ev, 3));

    /* The original events plus a new one. */
    batch more;
    make_batch(&more, 3, 4);
    expect_refused(s, "order-2", EVS_EXPECT_ANY, &more, EVS_EIDCONFLICT);

    /* A new event first, then an old one. */
    batch mixed;
    make_batch(&mixed, 4, 2);
    memcpy(mixed.ids[1], b.ids[0], 16);
    expect_refused(s, "order-2", EVS_EXPECT_ANY, &mixed, EVS_EIDCONFLICT);
    memcpy(mixed.ids[1], b.ids[2], 16);
    expect_refused(s, "order-2", EVS_EXPECT_ANY, &mixed, EVS_EIDCONFLICT);

    /* An old event, then a new one. */
    make_batch(&mixed, 5, 2);
    memcpy(mixed.ids[0], b.ids[2], 16);
    expect_refused(s, "order-2", EVS_EXPECT_ANY, &mixed, EVS_EIDCONFLICT);

    /* All old, but in another order. */
    batch swapped;
    make_batch(&swapped, 3, 2);
    memcpy(swapped.ids[0], b.ids[1], 16);
    memcpy(swapped.ids[1], b.ids[0], 16);
    expect_refused(s, "order-2", EVS_EXPECT_ANY, &swapped, EVS_EIDCONFLICT);

    /* Nothing of those was written: the stream is the original three. */
    expect_stream_ids(s, "order-2", b.ids, 3);
    assert_int_equal(evs_head(s), orig.last_pos);

    /* Still so after reopening. */
    reopen(f);
    expect_refused(f->store, "order-2", EVS_EXPECT_ANY, &more, EVS_EIDCONFLICT);
    expect_stream_ids(f->store, "order-2", b.ids, 3);
}

static void test_other_stream_is_new(void **state)
{
    fixture *f = *state;
    evs_store *s = f->store;
    batch b;
    make_batch(&b, 6, 2);
    evs_append_result r1, r2;
    assert_evs_ok(evs_append(&r1, s, "order-3", EVS_EXPECT_NO_STREAM, b.ev, 2));
    /* The same ids in another stream: new events there. */
    assert_evs_ok(evs_append(&r2, s, "order-4", EVS_EXPECT_NO_STREAM, b.ev, 2));
    assert_int_equal(r2.duplicate, 0);
    assert_int_equal(r2.first_pos, r1.last_pos + 1);
    assert_int_equal(r2.version, 1);
    assert_int_equal(evs_head(s), r2.last_pos);
    expect_stream_ids(s, "order-3", b.ids, 2);
    expect_stream_ids(s, "order-4", b.ids, 2);
    /* And each is a duplicate within its own stream. */
    expect_duplicate(s, "order-3", EVS_EXPECT_ANY, &b, &r1);
    expect_duplicate(s, "order-4", EVS_EXPECT_ANY, &b, &r2);
}

static void test_multi_dup_and_new(void **state)
{
    fixture *f = *state;
    evs_store *s = f->store;
    batch old, fresh;
    make_batch(&old, 7, 3);
    make_batch(&fresh, 8, 2);
    evs_append_result orig;
    assert_evs_ok(evs_append(&orig, s, "order-5", EVS_EXPECT_NO_STREAM, old.ev, 3));
    tu_append1(s, "noise-2", "Ev", "0");
    int64_t head = evs_head(s);

    evs_batch_in batches[2] = {{"order-5", EVS_EXPECT_NO_STREAM, old.ev, 3},
                               {"order-6", EVS_EXPECT_NO_STREAM, fresh.ev, 2}};
    evs_append_result out[2];
    memset(out, 0x55, sizeof out);
    assert_evs_ok(evs_append_multi(out, s, batches, 2));
    assert_int_equal(out[0].duplicate, 1);
    assert_int_equal(out[0].first_pos, orig.first_pos);
    assert_int_equal(out[0].last_pos, orig.last_pos);
    assert_int_equal(out[0].version, orig.version);
    assert_int_equal(out[1].duplicate, 0);
    assert_int_equal(out[1].first_pos, head + 1);
    assert_int_equal(out[1].last_pos, head + 2);
    assert_int_equal(out[1].version, 1);
    assert_int_equal(evs_head(s), head + 2);
    expect_stream_ids(s, "order-5", old.ids, 3);
    expect_stream_ids(s, "order-6", fresh.ids, 2);

    /* The whole call retried: both are duplicates now, nothing written. */
    evs_append_result again[2];
    assert_evs_ok(evs_append_multi(again, s, batches, 2));
    assert_int_equal(again[0].duplicate, 1);
    assert_int_equal(again[1].duplicate, 1);
    assert_int_equal(again[1].first_pos, out[1].first_pos);
    assert_int_equal(again[1].last_pos, out[1].last_pos);
    assert_int_equal(again[1].version, out[1].version);
    assert_int_equal(evs_head(s), head + 2);

    /* A duplicate batch beside a conflicting one: the call fails as a whole. */
    batch other;
    make_batch(&other, 9, 1);
    evs_batch_in bad[2] = {{"order-5", EVS_EXPECT_ANY, old.ev, 3}, {"order-7", 5, other.ev, 1}};
    assert_evs(EVS_ECONFLICT, evs_append_multi(again, s, bad, 2));
    assert_errmsg_has("batch index 1");
    assert_int_equal(evs_head(s), head + 2);

    /* After reopening, the same answers. */
    reopen(f);
    memset(again, 0, sizeof again);
    assert_evs_ok(evs_append_multi(again, f->store, batches, 2));
    assert_int_equal(again[0].duplicate, 1);
    assert_int_equal(again[0].first_pos, orig.first_pos);
    assert_int_equal(again[1].duplicate, 1);
    assert_int_equal(again[1].first_pos, out[1].first_pos);
    assert_int_equal(evs_head(f->store), head + 2);
}

/* One multi-append carrying the same batch twice: the second is checked against the
 * stream as the first left it, so it is a duplicate of it. */
static void test_multi_same_batch_twice(void **state)
{
    fixture *f = *state;
    evs_store *s = f->store;
    batch b;
    make_batch(&b, 10, 2);
    int64_t head = evs_head(s);
    evs_batch_in batches[2] = {{"order-8", EVS_EXPECT_NO_STREAM, b.ev, 2},
                               {"order-8", EVS_EXPECT_NO_STREAM, b.ev, 2}};
    evs_append_result out[2];
    assert_evs_ok(evs_append_multi(out, s, batches, 2));
    assert_int_equal(out[0].duplicate, 0);
    assert_int_equal(out[0].first_pos, head + 1);
    assert_int_equal(out[1].duplicate, 1);
    assert_int_equal(out[1].first_pos, out[0].first_pos);
    assert_int_equal(out[1].last_pos, out[0].last_pos);
    assert_int_equal(out[1].version, 1);
    assert_int_equal(evs_head(s), head + 2);
    expect_stream_ids(s, "order-8", b.ids, 2);
}

/* The ids of a batch that reached the stream through separate appends, with other
 * streams' events in between, still all stand in the stream in the same order: the
 * header calls that a duplicate, not a conflict. */
static void test_ids_from_separate_appends(void **state)
{
    fixture *f = *state;
    evs_store *s = f->store;
    batch b;
    make_batch(&b, 11, 2);
    evs_append_result r0, r1;
    assert_evs_ok(evs_append(&r0, s, "order-9", EVS_EXPECT_NO_STREAM, &b.ev[0], 1));
    tu_append1(s, "noise-3", "Ev", "0");
    assert_evs_ok(evs_append(&r1, s, "order-9", 0, &b.ev[1], 1));
    assert_int_equal(r1.first_pos, r0.first_pos + 2);
    int64_t head = evs_head(s);

    evs_append_result r;
    memset(&r, 0, sizeof r);
    int rc = evs_append(&r, s, "order-9", EVS_EXPECT_ANY, b.ev, 2);
    if (rc != 0)
        print_error("retry of ids appended separately: %s (%s)\n", evs_errname(rc), evs_errmsg());
    assert_int_equal(evs_head(s), head);
    assert_evs_ok(rc);
    assert_int_equal(r.duplicate, 1);
    assert_int_equal(r.first_pos, r0.first_pos);
    assert_int_equal(r.last_pos, r1.last_pos);
    assert_int_equal(r.version, 1);
}

/* A batch of n events (given ids) whose event `dup_at` repeats the id of event 1.
 * Either it is refused at once (EVS_EINVAL, nothing written), or it is accepted - and
 * then retrying it is the promised duplicate, not a conflict. */
static void repeat_an_id(evs_store *s, const char *stream, size_t n, size_t dup_at)
{
    static unsigned char ids[64][16];
    static char data[64][32];
    evs_event_in in[64];
    assert_true(n <= 64 && dup_at < n);
    for (size_t i = 0; i < n; i++) {
        make_id(ids[i], 13, (int)i);
        snprintf(data[i], sizeof data[i], "{\"i\":%zu}", i);
        in[i] = tu_event("Ev", data[i]);
        in[i].id = ids[i];
    }
    memcpy(ids[dup_at], ids[1], 16);
    int64_t head = evs_head(s);
    evs_append_result first;
    int rc = evs_append(&first, s, stream, EVS_EXPECT_NO_STREAM, in, n);
    if (rc != 0) {
        assert_evs(EVS_EINVAL, rc);
        assert_errmsg_has("id");
        assert_errmsg_has(stream);
        assert_int_equal(evs_head(s), head);
        evs_stream_info info;
        assert_evs_ok(evs_stream_get(&info, s, stream));
        assert_int_equal(info.exists, 0);
        return;
    }
    assert_int_equal(evs_head(s), head + (int64_t)n);
    evs_append_result r;
    rc = evs_append(&r, s, stream, EVS_EXPECT_NO_STREAM, in, n);
    if (rc != 0)
        print_error("a batch repeating an id was accepted, but its retry fails: %s\n",
                    evs_errmsg());
    assert_evs_ok(rc);
    assert_int_equal(r.duplicate, 1);
    assert_int_equal(r.first_pos, first.first_pos);
    assert_int_equal(r.last_pos, first.last_pos);
    assert_int_equal(r.version, first.version);
    assert_int_equal(evs_head(s), head + (int64_t)n);
}

static void test_batch_repeating_an_id(void **state)
{
    fixture *f = *state;
    repeat_an_id(f->store, "order-10", 3, 2);   /* X, Y, X */
    repeat_an_id(f->store, "order-11", 40, 37); /* a batch too big to compare pairwise */
    repeat_an_id(f->store, "order-12", 2, 0);   /* the same id, twice in a row */
}

/* A slot past the positions a call may write, to catch a write beyond them. */
#define GUARD ((int64_t)0x5a5a5a5a)

static void assert_positions(const int64_t *got, const int64_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("position of event %zu: %" PRId64 ", expected %" PRId64, i, got[i], want[i]);
    assert_int_equal(got[n], GUARD);
}

/* The store: cart-42's four events at positions 1, 2, 4 and 6, another stream's
 * at 3 and 5. */
static void interleave(evs_store *s, batch *cart)
{
    make_batch(cart, 20, 4);
    int64_t pos[5] = {0, 0, 0, 0, GUARD};
    evs_append_result r;
    assert_evs_ok(evs_append_positions(&r, pos, s, "cart-42", EVS_EXPECT_NO_STREAM, cart->ev, 2));
    assert_int_equal(pos[0], 1);
    assert_int_equal(pos[1], 2);
    tu_append1(s, "cart-7", "Ev", "3");
    assert_evs_ok(evs_append_positions(&r, pos, s, "cart-42", 1, &cart->ev[2], 1));
    assert_int_equal(pos[0], 4);
    assert_int_equal(r.duplicate, 0);
    tu_append1(s, "cart-7", "Ev", "5");
    assert_evs_ok(evs_append(&r, s, "cart-42", 2, &cart->ev[3], 1));
    assert_int_equal(r.first_pos, 6);
}

/* The retry of events stored apart: each event's own position, not a count up from the
 * first. */
static void expect_scattered_retry(evs_store *s, const batch *cart)
{
    int64_t pos[5] = {0, 0, 0, 0, GUARD};
    evs_append_result r;
    assert_evs_ok(evs_append_positions(&r, pos, s, "cart-42", EVS_EXPECT_ANY, cart->ev, 4));
    assert_int_equal(r.duplicate, 1);
    assert_int_equal(r.first_pos, 1);
    assert_int_equal(r.last_pos, 6);
    assert_int_equal(r.version, 3);
    assert_positions(pos, (int64_t[]){1, 2, 4, 6}, 4);
    /* A part of them alone, the middle two. */
    int64_t part[3] = {0, 0, GUARD};
    assert_evs_ok(evs_append_positions(&r, part, s, "cart-42", EVS_EXPECT_ANY, &cart->ev[1], 2));
    assert_int_equal(r.duplicate, 1);
    assert_positions(part, (int64_t[]){2, 4}, 2);
    assert_int_equal(r.version, 2);
    assert_int_equal(evs_head(s), 6);
}

static void test_positions_of_scattered_retry(void **state)
{
    fixture *f = *state;
    batch cart;
    interleave(f->store, &cart);
    expect_scattered_retry(f->store, &cart);
    reopen(f); /* nothing cached: every position from the log */
    expect_scattered_retry(f->store, &cart);
}

/* evs_append_multi_positions: one array for every event of every batch, in order; a
 * written batch's consecutive positions beside duplicates, one of which stands in the
 * same call's write buffer. */
static void test_multi_positions(void **state)
{
    fixture *f = *state;
    evs_store *s = f->store;
    batch cart, fresh;
    interleave(s, &cart);
    make_batch(&fresh, 21, 2);
    evs_batch_in batches[4] = {{"cart-42", EVS_EXPECT_ANY, cart.ev, 4},
                               {"cart-9", EVS_EXPECT_NO_STREAM, fresh.ev, 2},
                               {"cart-42", EVS_EXPECT_ANY, &cart.ev[2], 2},
                               {"cart-9", EVS_EXPECT_ANY, fresh.ev, 2}};
    int64_t pos[11];
    for (size_t i = 0; i < 11; i++)
        pos[i] = i < 10 ? 0 : GUARD;
    evs_append_result out[4];
    assert_evs_ok(evs_append_multi_positions(out, pos, s, batches, 4));
    assert_int_equal(out[0].duplicate, 1);
    assert_int_equal(out[1].duplicate, 0);
    assert_int_equal(out[2].duplicate, 1);
    assert_int_equal(out[3].duplicate, 1); /* the batch written just before, same call */
    assert_int_equal(out[1].first_pos, 7);
    assert_int_equal(out[1].last_pos, 8);
    assert_positions(pos, (int64_t[]){1, 2, 4, 6, 7, 8, 4, 6, 7, 8}, 10);
    assert_int_equal(evs_head(s), 8);

    /* The whole call again, and after reopening: every batch a duplicate now. */
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < 10; i++)
            pos[i] = 0;
        assert_evs_ok(evs_append_multi_positions(out, pos, f->store, batches, 4));
        for (size_t b = 0; b < 4; b++)
            assert_int_equal(out[b].duplicate, 1);
        assert_positions(pos, (int64_t[]){1, 2, 4, 6, 7, 8, 4, 6, 7, 8}, 10);
        assert_int_equal(evs_head(f->store), 8);
        reopen(f);
    }

    /* A failed call may leave anything in the array, but writes nothing past it. */
    evs_batch_in bad[2] = {{"cart-42", EVS_EXPECT_ANY, cart.ev, 4},
                           {"cart-9", 0, &cart.ev[0], 1}};
    assert_evs(EVS_ECONFLICT, evs_append_multi_positions(out, pos, f->store, bad, 2));
    assert_int_equal(pos[10], GUARD);
}

/* A partial retry is told apart from a wrong expected version by its code. */
static void test_id_conflict_has_its_own_code(void **state)
{
    fixture *f = *state;
    evs_store *s = f->store;
    batch b;
    make_batch(&b, 22, 3);
    assert_evs_ok(evs_append(NULL, s, "order-13", EVS_EXPECT_NO_STREAM, b.ev, 2));
    /* Two old ids and a new one, expecting the version that holds: the ids decide. */
    assert_evs(EVS_EIDCONFLICT, evs_append(NULL, s, "order-13", 1, b.ev, 3));
    assert_int_equal(evs_errcode(), EVS_EIDCONFLICT);
    assert_errmsg_has("is already in stream 'order-13' at version 1");
    assert_string_equal(evs_errname(EVS_EIDCONFLICT), "EVS_EIDCONFLICT");
    /* New ids with a wrong expected version: a version conflict. */
    assert_evs(EVS_ECONFLICT, evs_append(NULL, s, "order-13", 5, &b.ev[2], 1));
    /* In a multi-append, the batch is named (by its stream here: the second batch). */
    evs_batch_in batches[2] = {{"order-14", EVS_EXPECT_ANY, &b.ev[2], 1},
                               {"order-13", EVS_EXPECT_ANY, &b.ev[1], 2}};
    assert_evs(EVS_EIDCONFLICT, evs_append_multi(NULL, s, batches, 2));
    assert_errmsg_has("batch index 1 (of 2 batches)");
    assert_errmsg_has("in stream 'order-13'");
    assert_int_equal(evs_head(s), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retry_returns_original, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_is_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_stream_is_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_dup_and_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_same_batch_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ids_from_separate_appends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_repeating_an_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_positions_of_scattered_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_positions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_id_conflict_has_its_own_code, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
