/*
 * test_queries.c - reading with cursors: which events a query selects, in what order.
 *
 * Covers: forward and backward scans from positions, to_pos bounds (inclusive in both
 * directions, as the header's "stop after" / "stop before" read), one stream forward
 * and backward from a version, from_version past the end, from_pos with a stream,
 * types (one, several: OR), category ("order" matches "order-1" and "order", not
 * "orders-1"), prefix, since_ns/until_ns, limit, and random combinations of all of
 * them checked against a model of the header's semantics; the query copied at open;
 * evs_find_time; a stream of more than 10000 events read around the 4096-event chunk
 * edges, also while it grows.
 */
#include "testutil.h"

#include <inttypes.h>
#include <stdbool.h>
#include <time.h>

/* ---- a model of a store, for checking queries ------------------------------------ */

static const char *const STREAMS[] = {"order-1", "order-2", "order",    "orders-1", "user-1",
                                      "user-2",  "ord-1",   "order-10", "注文-1",   "userx-1"};
#define NSTREAMS (sizeof STREAMS / sizeof STREAMS[0])
static const char *const TYPES[] = {"Created", "Paid", "Shipped", "Note"};
#define NTYPES (sizeof TYPES / sizeof TYPES[0])

typedef struct qev {
    int64_t pos;
    int64_t version;
    int64_t ts;
    int stream;
    int type;
} qev;

typedef struct qmodel {
    qev ev[2048];
    size_t count;
    int64_t versions[NSTREAMS];
} qmodel;

/* Append `n` events of random streams and types, one or a few per call, with short
 * pauses now and then so timestamps spread; then learn their ts from a read. */
static void build_model(evs_store *s, qmodel *m, size_t n)
{
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < NSTREAMS; i++)
        m->versions[i] = -1;
    while (m->count < n) {
        int st = (int)tu_rnd_below(NSTREAMS);
        size_t k = 1 + (size_t)tu_rnd_below(4);
        if (m->count + k > n)
            k = n - m->count;
        evs_event_in in[4];
        int types[4];
        char data[4][32];
        for (size_t i = 0; i < k; i++) {
            types[i] = (int)tu_rnd_below(NTYPES);
            snprintf(data[i], sizeof data[i], "{\"n\":%zu}", m->count + i);
            in[i] = tu_event(TYPES[types[i]], data[i]);
        }
        evs_append_result r;
        assert_evs_ok(evs_append(&r, s, STREAMS[st], EVS_EXPECT_ANY, in, k));
        for (size_t i = 0; i < k; i++) {
            qev *e = &m->ev[m->count++];
            e->pos = r.first_pos + (int64_t)i;
            e->version = ++m->versions[st];
            e->stream = st;
            e->type = types[i];
        }
        if (tu_rnd_below(40) == 0)
            tu_sleep_ms(1);
    }
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, NULL));
    evs_event ev;
    size_t i = 0;
    while (evs_cursor_next(&ev, c) > 0) {
        assert_true(i < m->count);
        assert_int_equal(ev.pos, m->ev[i].pos);
        m->ev[i].ts = ev.ts_ns;
        i++;
    }
    evs_cursor_close(c);
    assert_int_equal(i, m->count);
}

static bool model_match(const qev *e, const evs_query *q)
{
    const char *name = STREAMS[e->stream];
    if (q->type_count) {
        size_t i;
        for (i = 0; i < q->type_count; i++)
            if (strcmp(q->types[i], TYPES[e->type]) == 0)
                break;
        if (i == q->type_count)
            return false;
    }
    if (q->category) {
        size_t cl = strlen(q->category);
        if (strncmp(name, q->category, cl) != 0 || (name[cl] != '\0' && name[cl] != '-'))
            return false;
    }
    if (q->prefix && strncmp(name, q->prefix, strlen(q->prefix)) != 0)
        return false;
    if (q->since_ns && e->ts < q->since_ns)
        return false;
    if (q->until_ns && e->ts >= q->until_ns)
        return false;
    return true;
}

/* The positions the header says `q` selects, in order. */
static size_t model_query(const qmodel *m, const evs_query *q, int64_t *out)
{
    size_t n = 0;
    bool back = q->direction == EVS_BACKWARD;
    for (size_t k = 0; k < m->count; k++) {
        const qev *e = &m->ev[back ? m->count - 1 - k : k];
        if (q->stream) {
            if (strcmp(STREAMS[e->stream], q->stream) != 0)
                continue;
            if (q->from_version >= 0 &&
                (back ? e->version > q->from_version : e->version < q->from_version))
                continue;
        }
        if (q->from_pos > 0 && (back ? e->pos > q->from_pos : e->pos < q->from_pos))
            continue;
        if (q->to_pos > 0 && (back ? e->pos < q->to_pos : e->pos > q->to_pos))
            continue;
        if (!model_match(e, q))
            continue;
        out[n++] = e->pos;
        if (q->limit && n == q->limit)
            break;
    }
    return n;
}

/* Run q and compare every event with the model. */
static void check_query(evs_store *s, const qmodel *m, const evs_query *q, const char *what)
{
    static int64_t want[4096];
    size_t n = model_query(m, q, want);
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, q));
    evs_event ev;
    size_t i = 0;
    int rc;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        if (i >= n || ev.pos != want[i])
            fail_msg("%s: event %zu is position %" PRId64 ", want %" PRId64 " (%zu events)", what,
                     i, ev.pos, i < n ? want[i] : -1, n);
        const qev *e = &m->ev[ev.pos - 1];
        assert_int_equal(ev.version, e->version);
        assert_int_equal(ev.ts_ns, e->ts);
        assert_int_equal(ev.stream_len, strlen(STREAMS[e->stream]));
        assert_memory_equal(ev.stream, STREAMS[e->stream], ev.stream_len);
        assert_int_equal(ev.type_len, strlen(TYPES[e->type]));
        assert_memory_equal(ev.type, TYPES[e->type], ev.type_len);
        i++;
    }
    assert_evs(0, rc);
    evs_cursor_close(c);
    if (i != n)
        fail_msg("%s: %zu events, want %zu", what, i, n);
}

/* Positions of a query, for hand-written expectations. */
static size_t run_query(evs_store *s, const evs_query *q, int64_t *out, size_t cap)
{
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, q));
    evs_event ev;
    size_t n = 0;
    int rc;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        assert_true(n < cap);
        out[n++] = ev.pos;
    }
    assert_evs(0, rc);
    evs_cursor_close(c);
    return n;
}

static void expect_range(evs_store *s, const evs_query *q, int64_t from, int64_t to)
{
    int64_t got[256];
    size_t n = run_query(s, q, got, 256);
    int64_t step = from <= to ? 1 : -1;
    size_t want = (size_t)((to - from) * step + 1);
    if (n != want)
        fail_msg("%zu events, want %zu (%" PRId64 "..%" PRId64 ")", n, want, from, to);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(got[i], from + (int64_t)i * step);
}

/* ---- positions, versions, filters by hand --------------------------------------- */

/* 20 events: pos p is in stream "s-(p % 2)" with version (p - 1) / 2, type "T(p % 3)". */
static void fill_twenty(evs_store *s)
{
    for (int p = 1; p <= 20; p++) {
        char stream[16], type[16];
        snprintf(stream, sizeof stream, "s-%d", p % 2);
        snprintf(type, sizeof type, "T%d", p % 3);
        assert_int_equal(tu_append1(s, stream, type, "{}"), p);
    }
}

static void test_positions(void **state)
{
    tu_fixture *f = *state;
    evs_store *s = tu_fx_open(f, NULL);
    evs_query q = EVS_QUERY_INIT;
    assert_int_equal(tu_count(s, &q), 0); /* empty store */
    q.direction = EVS_BACKWARD;
    assert_int_equal(tu_count(s, &q), 0);
    fill_twenty(s);

    evs_query fw = EVS_QUERY_INIT;
    expect_range(s, &fw, 1, 20);
    fw.from_pos = 5;
    expect_range(s, &fw, 5, 20);
    fw.to_pos = 10; /* forward: stop after to_pos, so it is included */
    expect_range(s, &fw, 5, 10);
    fw.from_pos = 0;
    expect_range(s, &fw, 1, 10);
    fw.from_pos = 10;
    expect_range(s, &fw, 10, 10);
    fw.from_pos = 11;
    assert_int_equal(tu_count(s, &fw), 0);
    fw.from_pos = 21; /* past the end */
    fw.to_pos = 0;
    assert_int_equal(tu_count(s, &fw), 0);
    fw.from_pos = 1;
    fw.limit = 3;
    expect_range(s, &fw, 1, 3);
    fw.from_pos = 19;
    expect_range(s, &fw, 19, 20);

    evs_query b = EVS_QUERY_INIT;
    b.direction = EVS_BACKWARD;
    expect_range(s, &b, 20, 1);
    b.from_pos = 7;
    expect_range(s, &b, 7, 1);
    b.from_pos = 1000; /* first pos <= from_pos: the end */
    expect_range(s, &b, 20, 1);
    b.from_pos = 15;
    b.to_pos = 10; /* backward: stop before going below to_pos; it is included */
    expect_range(s, &b, 15, 10);
    b.from_pos = 0;
    expect_range(s, &b, 20, 10);
    b.to_pos = 20;
    expect_range(s, &b, 20, 20);
    b.from_pos = 5;
    b.to_pos = 6;
    assert_int_equal(tu_count(s, &b), 0);
    b.from_pos = 0;
    b.to_pos = 0;
    b.limit = 2;
    expect_range(s, &b, 20, 19);

    /* One stream: s-1 holds the odd positions, versions 0..9. */
    evs_query st = EVS_QUERY_INIT;
    st.stream = "s-1";
    int64_t got[64];
    size_t n = run_query(s, &st, got, 64);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(got[i], 2 * (int64_t)i + 1);
    st.from_version = 3;
    n = run_query(s, &st, got, 64);
    assert_int_equal(n, 7);
    assert_int_equal(got[0], 7);
    assert_int_equal(got[6], 19);
    st.from_version = 9;
    n = run_query(s, &st, got, 64);
    assert_int_equal(n, 1);
    assert_int_equal(got[0], 19);
    st.from_version = 10; /* past the end */
    assert_int_equal(tu_count(s, &st), 0);
    st.from_version = 1000;
    assert_int_equal(tu_count(s, &st), 0);
    st.direction = EVS_BACKWARD;
    st.from_version = 3;
    n = run_query(s, &st, got, 64);
    assert_int_equal(n, 4);
    assert_int_equal(got[0], 7);
    assert_int_equal(got[3], 1);
    st.from_version = -1;
    n = run_query(s, &st, got, 64);
    assert_int_equal(n, 10);
    assert_int_equal(got[0], 19);
    st.from_version = 0;
    n = run_query(s, &st, got, 64);
    assert_int_equal(n, 1);
    assert_int_equal(got[0], 1);
    st.from_version = -1;
    st.to_pos = 9; /* inclusive */
    n = run_query(s, &st, got, 64);
    assert_int_equal(n, 6);
    assert_int_equal(got[5], 9);
    st.direction = EVS_FORWARD;
    n = run_query(s, &st, got, 64);
    assert_int_equal(n, 5);
    assert_int_equal(got[4], 9);
    st.to_pos = 0;
    st.limit = 2;
    st.from_version = 4;
    n = run_query(s, &st, got, 64);
    assert_int_equal(n, 2);
    assert_int_equal(got[0], 9);
    assert_int_equal(got[1], 11);
    /* A stream that does not exist. */
    evs_query none = EVS_QUERY_INIT;
    none.stream = "s-2";
    assert_int_equal(tu_count(s, &none), 0);
    none.direction = EVS_BACKWARD;
    assert_int_equal(tu_count(s, &none), 0);

    /* Types: p % 3 == 0 is T0 (6 events), T1 7, T2 7. */
    const char *t0[] = {"T0"};
    const char *t01[] = {"T0", "T1"};
    const char *tx[] = {"T9", "T2"};
    const char *tnone[] = {"T9"};
    evs_query ty = EVS_QUERY_INIT;
    ty.types = t0;
    ty.type_count = 1;
    n = run_query(s, &ty, got, 64);
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(got[i] % 3, 0);
    ty.types = t01;
    ty.type_count = 2;
    assert_int_equal(tu_count(s, &ty), 13);
    ty.types = tx;
    assert_int_equal(tu_count(s, &ty), 7);
    ty.types = tnone;
    ty.type_count = 1;
    assert_int_equal(tu_count(s, &ty), 0);
    /* Types with a stream, backward, from a version. */
    ty.types = t0;
    ty.stream = "s-1";
    ty.direction = EVS_BACKWARD;
    ty.from_version = 7; /* position 15 */
    n = run_query(s, &ty, got, 64);
    assert_int_equal(n, 3); /* 15, 9, 3 */
    assert_int_equal(got[0], 15);
    assert_int_equal(got[2], 3);

    tu_fx_close(f);
}

/* The header reads from_pos as "first pos >= from_pos" and says all filters combine
 * with AND: with `stream` set too, only that stream's events at or after from_pos. */
static void test_stream_with_from_pos(void **state)
{
    tu_fixture *f = *state;
    evs_store *s = tu_fx_open(f, NULL);
    fill_twenty(s);
    evs_query q = EVS_QUERY_INIT;
    q.stream = "s-1";
    q.from_pos = 10;
    int64_t got[64];
    size_t n = run_query(s, &q, got, 64);
    if (n != 5 || got[0] != 11)
        print_error("stream 's-1' forward from_pos 10 gave %zu events starting at %" PRId64
                    "; want 5 starting at 11\n",
                    n, n ? got[0] : -1);
    assert_int_equal(n, 5);
    assert_int_equal(got[0], 11);
    q.direction = EVS_BACKWARD;
    n = run_query(s, &q, got, 64);
    if (n != 5 || got[0] != 9)
        print_error("stream 's-1' backward from_pos 10 gave %zu events starting at %" PRId64
                    "; want 5 starting at 9\n",
                    n, n ? got[0] : -1);
    assert_int_equal(n, 5);
    assert_int_equal(got[0], 9);
    tu_fx_close(f);
}

/* Seen streams of a query, as a bit set over STREAMS. */
static unsigned streams_seen(evs_store *s, const evs_query *q)
{
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, q));
    evs_event ev;
    unsigned seen = 0;
    while (evs_cursor_next(&ev, c) > 0) {
        size_t i;
        for (i = 0; i < NSTREAMS; i++)
            if (ev.stream_len == strlen(STREAMS[i]) &&
                memcmp(ev.stream, STREAMS[i], ev.stream_len) == 0)
                break;
        assert_true(i < NSTREAMS);
        seen |= 1u << i;
    }
    evs_cursor_close(c);
    return seen;
}

static void test_filters_and_model(void **state)
{
    tu_fixture *f = *state;
    tu_seed_rng();
    evs_store *s = tu_fx_open(f, NULL);
    static qmodel m;
    build_model(s, &m, 600);
    /* Every stream got events (600 events over 10 streams; checked, not assumed). */
    for (size_t i = 0; i < NSTREAMS; i++)
        assert_true(m.versions[i] >= 0);

    /* Category: "order" is order-1, order-2, order, order-10; not orders-1, ord-1. */
    evs_query q = EVS_QUERY_INIT;
    q.category = "order";
    assert_int_equal(streams_seen(s, &q), (1u << 0) | (1u << 1) | (1u << 2) | (1u << 7));
    check_query(s, &m, &q, "category order");
    q.category = "user";
    assert_int_equal(streams_seen(s, &q), (1u << 4) | (1u << 5));
    q.category = "ord";
    assert_int_equal(streams_seen(s, &q), 1u << 6);
    q.category = "注文";
    assert_int_equal(streams_seen(s, &q), 1u << 8);
    q.category = "orders";
    assert_int_equal(streams_seen(s, &q), 1u << 3);
    q.category = "zzz";
    assert_int_equal(streams_seen(s, &q), 0);
    /* Prefix: plain string prefix. */
    q.category = NULL;
    q.prefix = "order";
    assert_int_equal(streams_seen(s, &q),
                     (1u << 0) | (1u << 1) | (1u << 2) | (1u << 3) | (1u << 7));
    q.prefix = "order-1";
    assert_int_equal(streams_seen(s, &q), (1u << 0) | (1u << 7));
    q.prefix = "user";
    assert_int_equal(streams_seen(s, &q), (1u << 4) | (1u << 5) | (1u << 9));
    q.prefix = "x";
    assert_int_equal(streams_seen(s, &q), 0);

    /* Time bounds: since is inclusive, until exclusive, at an event's own ts. */
    const qev *mid = &m.ev[m.count / 2];
    evs_query t = EVS_QUERY_INIT;
    t.since_ns = mid->ts;
    check_query(s, &m, &t, "since");
    int64_t got[1024];
    size_t n = run_query(s, &t, got, 1024);
    size_t first = 0;
    while (m.ev[first].ts < mid->ts)
        first++;
    assert_int_equal(n, m.count - first);
    assert_int_equal(got[0], m.ev[first].pos);
    t.since_ns = 0;
    t.until_ns = mid->ts;
    assert_int_equal(tu_count(s, &t), first);
    t.direction = EVS_BACKWARD;
    check_query(s, &m, &t, "until backward");
    t.since_ns = m.ev[0].ts;
    t.until_ns = m.ev[m.count - 1].ts + 1;
    assert_int_equal(tu_count(s, &t), m.count);
    t.since_ns = m.ev[m.count - 1].ts + 1; /* after everything */
    t.until_ns = 0;
    assert_int_equal(tu_count(s, &t), 0);
    t.direction = EVS_FORWARD;
    assert_int_equal(tu_count(s, &t), 0);

    /* Random combinations against the model. */
    const char *cats[] = {NULL, "order", "user", "ord", "orders", "zzz", "注文"};
    const char *prefixes[] = {NULL, "order", "order-1", "u", "x", "user-"};
    const char *streams[] = {"order-1", "order", "user-2", "orders-1", "nope-1", "注文-1"};
    const char *typepool[] = {"Created", "Paid", "Shipped", "Note", "Unknown"};
    for (int i = 0; i < 1500; i++) {
        evs_query r = EVS_QUERY_INIT;
        const char *types[3];
        r.direction = tu_rnd_below(2) ? EVS_BACKWARD : EVS_FORWARD;
        bool with_stream = tu_rnd_below(3) == 0;
        if (with_stream) {
            r.stream = streams[tu_rnd_below(6)];
            r.from_version = tu_rnd_below(3) == 0 ? -1 : (int64_t)tu_rnd_below(80);
        } else if (tu_rnd_below(3)) {
            r.from_pos = (int64_t)tu_rnd_below(m.count + 5);
        }
        if (tu_rnd_below(3) == 0)
            r.to_pos = (int64_t)tu_rnd_below(m.count + 5);
        r.type_count = (size_t)tu_rnd_below(4);
        for (size_t k = 0; k < r.type_count; k++)
            types[k] = typepool[tu_rnd_below(5)];
        r.types = r.type_count ? types : NULL;
        r.category = cats[tu_rnd_below(7)];
        if (tu_rnd_below(3) == 0)
            r.prefix = prefixes[tu_rnd_below(6)];
        if (tu_rnd_below(3) == 0)
            r.since_ns = m.ev[tu_rnd_below(m.count)].ts + (int64_t)tu_rnd_below(3) - 1;
        if (tu_rnd_below(3) == 0) {
            int64_t u = m.ev[tu_rnd_below(m.count)].ts + (int64_t)tu_rnd_below(3) - 1;
            if (!r.since_ns || u > r.since_ns)
                r.until_ns = u;
        }
        if (tu_rnd_below(2))
            r.limit = 1 + tu_rnd_below(30);
        char what[64];
        snprintf(what, sizeof what, "random query %d", i);
        check_query(s, &m, &r, what);
    }
    tu_fx_close(f);
}

static void test_find_time(void **state)
{
    tu_fixture *f = *state;
    evs_store *s = tu_fx_open(f, NULL);
    int64_t pos = -1;
    assert_evs_ok(evs_find_time(&pos, s, 12345)); /* empty: last + 1 */
    assert_int_equal(pos, 1);
    static qmodel m;
    build_model(s, &m, 300);
    assert_evs_ok(evs_find_time(&pos, s, 0));
    assert_int_equal(pos, 1);
    assert_evs_ok(evs_find_time(&pos, s, m.ev[0].ts - 1));
    assert_int_equal(pos, 1);
    assert_evs_ok(evs_find_time(&pos, s, m.ev[0].ts));
    assert_int_equal(pos, 1);
    for (size_t i = 0; i < m.count; i += 7) {
        /* The first event whose ts is >= this event's ts (ts may repeat). */
        size_t first = i;
        while (first > 0 && m.ev[first - 1].ts >= m.ev[i].ts)
            first--;
        assert_evs_ok(evs_find_time(&pos, s, m.ev[i].ts));
        assert_int_equal(pos, m.ev[first].pos);
        /* One ns later: the first event past this ts. */
        size_t next = i;
        while (next < m.count && m.ev[next].ts <= m.ev[i].ts)
            next++;
        assert_evs_ok(evs_find_time(&pos, s, m.ev[i].ts + 1));
        assert_int_equal(pos, next < m.count ? m.ev[next].pos : (int64_t)m.count + 1);
    }
    assert_evs_ok(evs_find_time(&pos, s, m.ev[m.count - 1].ts));
    assert_true(pos <= (int64_t)m.count);
    assert_evs_ok(evs_find_time(&pos, s, m.ev[m.count - 1].ts + 1));
    assert_int_equal(pos, (int64_t)m.count + 1);
    assert_evs_ok(evs_find_time(&pos, s, INT64_MAX));
    assert_int_equal(pos, (int64_t)m.count + 1);
    tu_fx_close(f);
}

/* ---- a long stream ------------------------------------------------------------------ */

#define LONG_N 10050

static int64_t long_pos[LONG_N + 6000];

/* Read "long-1" from `from` in `dir`ection with an optional limit; check versions,
 * positions, data. Returns the count. */
static size_t read_long(evs_store *s, int64_t from, int direction, uint64_t limit, size_t total)
{
    evs_query q = EVS_QUERY_INIT;
    q.stream = "long-1";
    q.from_version = from;
    q.direction = direction;
    q.limit = limit;
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    evs_event ev;
    int rc;
    int64_t v = direction == EVS_FORWARD
                    ? (from < 0 ? 0 : from)
                    : (from < 0 || from >= (int64_t)total ? (int64_t)total - 1 : from);
    size_t n = 0;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        if (ev.version != v || ev.pos != long_pos[v])
            fail_msg("from %" PRId64 " %s: got version %" PRId64 " at %" PRId64
                     ", want version %" PRId64 " at %" PRId64,
                     from, direction == EVS_FORWARD ? "forward" : "backward", ev.version, ev.pos, v,
                     long_pos[v]);
        char want[32];
        snprintf(want, sizeof want, "{\"v\":%" PRId64 "}", v);
        assert_int_equal(ev.data_len, strlen(want));
        assert_memory_equal(ev.data, want, ev.data_len);
        v += direction == EVS_FORWARD ? 1 : -1;
        n++;
    }
    assert_evs(0, rc);
    evs_cursor_close(c);
    return n;
}

static void append_long(evs_store *s, int64_t from_v, int64_t to_v)
{
    /* Batches of up to 50, each followed by another stream's event, so the stream's
     * positions are not contiguous. */
    static char data[50][32];
    evs_event_in in[50];
    for (int64_t v = from_v; v < to_v;) {
        size_t k = 0;
        int64_t first = v;
        for (; k < 50 && v < to_v; k++, v++) {
            snprintf(data[k], sizeof data[k], "{\"v\":%" PRId64 "}", v);
            in[k] = tu_event(v % 2 ? "Odd" : "Even", data[k]);
        }
        evs_append_result r;
        assert_evs_ok(evs_append(&r, s, "long-1", first - 1, in, k));
        for (size_t i = 0; i < k; i++)
            long_pos[first + (int64_t)i] = r.first_pos + (int64_t)i;
        tu_append1(s, "other-1", "X", "0");
    }
}

static void test_long_stream(void **state)
{
    tu_fixture *f = *state;
    evs_options o = tu_fast_options();
    o.segment_size = 256u << 10; /* the stream spans several segments */
    evs_store *s = tu_fx_open(f, &o);
    append_long(s, 0, LONG_N);

    const int64_t froms[] = {-1,   0,    1,    4094, 4095,  4096,  4097, 8190,
                             8191, 8192, 8193, 9999, 10000, 10048, 10049};
    for (size_t i = 0; i < sizeof froms / sizeof froms[0]; i++) {
        int64_t first = froms[i] < 0 ? 0 : froms[i];
        assert_int_equal(read_long(s, froms[i], EVS_FORWARD, 0, LONG_N), LONG_N - first);
        assert_int_equal(read_long(s, froms[i], EVS_BACKWARD, 0, LONG_N),
                         froms[i] < 0 ? LONG_N : froms[i] + 1);
    }
    assert_int_equal(read_long(s, LONG_N, EVS_FORWARD, 0, LONG_N), 0);
    assert_int_equal(read_long(s, LONG_N + 5000, EVS_FORWARD, 0, LONG_N), 0);
    /* Limits that end inside and across chunks. */
    assert_int_equal(read_long(s, 100, EVS_FORWARD, 5000, LONG_N), 5000);
    assert_int_equal(read_long(s, 4095, EVS_FORWARD, 1, LONG_N), 1);
    assert_int_equal(read_long(s, 4090, EVS_FORWARD, 4100, LONG_N), 4100);
    assert_int_equal(read_long(s, 9000, EVS_BACKWARD, 4097, LONG_N), 4097);

    /* A type filter over the stream: only the odd versions, from 4095. */
    evs_query q = EVS_QUERY_INIT;
    const char *odd[] = {"Odd"};
    q.stream = "long-1";
    q.from_version = 4095;
    q.types = odd;
    q.type_count = 1;
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    evs_event ev;
    int64_t v = 4095;
    while (evs_cursor_next(&ev, c) > 0) {
        assert_int_equal(ev.version, v);
        assert_int_equal(ev.pos, long_pos[v]);
        v += 2;
    }
    evs_cursor_close(c);
    assert_int_equal(v, LONG_N + 1);

    /* Reading forward while the stream grows: the cursor reads on to the new end. */
    q = (evs_query)EVS_QUERY_INIT;
    q.stream = "long-1";
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    for (v = 0; v < 5000; v++) {
        assert_int_equal(evs_cursor_next(&ev, c), 1);
        assert_int_equal(ev.version, v);
    }
    append_long(s, LONG_N, LONG_N + 5000);
    for (; v < LONG_N + 5000; v++) {
        assert_int_equal(evs_cursor_next(&ev, c), 1);
        assert_int_equal(ev.version, v);
        assert_int_equal(ev.pos, long_pos[v]);
    }
    assert_int_equal(evs_cursor_next(&ev, c), 0);
    evs_cursor_close(c);

    evs_stream_info info;
    assert_evs_ok(evs_stream_get(&info, s, "long-1"));
    assert_int_equal(info.last_version, LONG_N + 5000 - 1);
    assert_int_equal(info.event_count, LONG_N + 5000);
    assert_int_equal(info.first_pos, long_pos[0]);
    assert_int_equal(info.last_pos, long_pos[LONG_N + 5000 - 1]);

    /* And after reopening. */
    tu_fx_close(f);
    s = tu_fx_open(f, &o);
    assert_int_equal(read_long(s, 4096, EVS_FORWARD, 0, LONG_N + 5000), LONG_N + 5000 - 4096);
    assert_int_equal(read_long(s, 8191, EVS_BACKWARD, 0, LONG_N + 5000), 8192);
    tu_fx_close(f);
}

/* The query and all it points to are copied at open: the caller may free them. */
static void test_query_copied(void **state)
{
    tu_fixture *f = *state;
    evs_store *s = tu_fx_open(f, NULL);
    fill_twenty(s);
    evs_query *q = malloc(sizeof *q);
    assert_non_null(q);
    *q = (evs_query)EVS_QUERY_INIT;
    char *stream = strdup("s-1"), *type0 = strdup("T0"), *type1 = strdup("T1");
    char *category = strdup("s"), *prefix = strdup("s-");
    const char **types = malloc(2 * sizeof *types);
    assert_true(stream && type0 && type1 && category && prefix && types);
    types[0] = type0;
    types[1] = type1;
    q->stream = stream;
    q->types = types;
    q->type_count = 2;
    q->category = category;
    q->prefix = prefix;
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, q));
    /* Scribble over everything, then free it: the cursor must not look. */
    memset(stream, 'x', strlen(stream));
    memset(type0, 'x', 2);
    memset(type1, 'x', 2);
    memset(category, 'x', 1);
    memset(prefix, 'x', 2);
    memset(q, 0x7f, sizeof *q);
    free(stream);
    free(type0);
    free(type1);
    free(category);
    free(prefix);
    free(types);
    free(q);
    /* s-1 holds the odd positions; T0 is p % 3 == 0, T1 p % 3 == 1: 1, 3, 7, 9, 13, 15, 19. */
    const int64_t want[] = {1, 3, 7, 9, 13, 15, 19};
    evs_event ev;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(evs_cursor_next(&ev, c), 1);
        assert_int_equal(ev.pos, want[i]);
    }
    assert_int_equal(evs_cursor_next(&ev, c), 0);
    evs_cursor_close(c);

    /* The same for a stream listing's prefix. */
    char *pfx = strdup("s-");
    assert_non_null(pfx);
    evs_stream_iter *it;
    assert_evs_ok(evs_streams_open(&it, s, pfx));
    memset(pfx, 'x', 2);
    free(pfx);
    const char *name;
    size_t len;
    evs_stream_info info;
    int n = 0;
    while (evs_streams_next(&name, &len, &info, it) > 0)
        n++;
    evs_streams_close(it);
    assert_int_equal(n, 2);
    tu_fx_close(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_positions, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_stream_with_from_pos, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_query_copied, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_filters_and_model, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_find_time, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_long_stream, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
