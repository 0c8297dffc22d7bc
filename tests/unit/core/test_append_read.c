/*
 * test_append_read.c - append/read round trips through the public API.
 *
 * Covers: 200 streams filled by random batches (events with and without metadata,
 * with given and generated ids, unicode and escapes in names, types and data), every
 * field read back byte for byte forward, backward and per stream, and the stream
 * listing; evs_append_result (first_pos, last_pos, version); generated ids are
 * distinct version-4 UUIDs and given ids come back; timestamps never decrease and are
 * close to the wall clock; every expected-version form, and that a conflict names the
 * stream and both versions and writes nothing; evs_append_multi (several streams, a
 * stream twice, all-or-nothing on a conflict or a bad event); all of it again after
 * reopening. Also an append larger than a segment, and appends that write nothing
 * (conflicts, duplicates) at the end of a segment.
 */
#include "testutil.h"

#include <inttypes.h>
#include <stdbool.h>
#include <time.h>

#define STREAMS   200
#define MAX_BATCH 25

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    assert_non_null(p);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* ---- the model: what was appended, to compare with what is read ---------------- */

typedef struct mev {
    int64_t pos;
    int64_t version;
    int stream; /* index in model.st */
    char *type;
    char *data;
    size_t data_len;
    char *meta; /* NULL when the event has none */
    size_t meta_len;
    unsigned char id[16];
    bool id_given; /* the writer supplied it */
    bool id_known; /* given, or generated and learnt from a first read */
} mev;

typedef struct mstream {
    char *name;
    int64_t *pos; /* position of each version */
    size_t count;
    size_t cap;
} mstream;

typedef struct model {
    mev *ev;
    size_t count;
    size_t cap;
    mstream st[STREAMS];
    int64_t t_first; /* wall clock before the first append */
    int64_t t_last;  /* and after the latest */
} model;

static void model_free(model *m)
{
    for (size_t i = 0; i < m->count; i++) {
        free(m->ev[i].type);
        free(m->ev[i].data);
        free(m->ev[i].meta);
    }
    free(m->ev);
    for (int i = 0; i < STREAMS; i++) {
        free(m->st[i].name);
        free(m->st[i].pos);
    }
    memset(m, 0, sizeof *m);
}

static void stream_name(char *buf, size_t len, int i)
{
    static const char *const cats[] = {"order", "user", "注文", "straße", "acct"};
    switch (i) {
    case 0:
        snprintf(buf, len, "x");
        break;
    case 1:
        snprintf(buf, len, "with space-1");
        break;
    case 2:
        snprintf(buf, len, "quote\"and\\back-2");
        break;
    case 3:
        snprintf(buf, len, "emoji😀-3");
        break;
    case 4: /* the longest name allowed */
        memset(buf, 'n', EVS_MAX_STREAM_LEN);
        memcpy(buf, "long-", 5);
        buf[EVS_MAX_STREAM_LEN] = '\0';
        break;
    default:
        snprintf(buf, len, "%s-%d", cats[i % 5], i);
        break;
    }
}

static void model_init(model *m)
{
    memset(m, 0, sizeof *m);
    char name[EVS_MAX_STREAM_LEN + 64];
    for (int i = 0; i < STREAMS; i++) {
        stream_name(name, sizeof name, i);
        m->st[i].name = xstrndup(name, strlen(name));
    }
}

static int64_t model_version(const model *m, int s)
{
    return (int64_t)m->st[s].count - 1;
}

static void model_add(model *m, int s, const evs_event_in *in, int64_t pos)
{
    if (m->count == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 1024;
        m->ev = realloc(m->ev, m->cap * sizeof *m->ev);
        assert_non_null(m->ev);
    }
    mstream *st = &m->st[s];
    if (st->count == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 16;
        st->pos = realloc(st->pos, st->cap * sizeof *st->pos);
        assert_non_null(st->pos);
    }
    mev *e = &m->ev[m->count++];
    memset(e, 0, sizeof *e);
    e->pos = pos;
    e->version = (int64_t)st->count;
    e->stream = s;
    e->type = xstrndup(in->type, strlen(in->type));
    e->data = xstrndup(in->data, in->data_len);
    e->data_len = in->data_len;
    if (in->metadata) {
        e->meta = xstrndup(in->metadata, in->metadata_len);
        e->meta_len = in->metadata_len;
    }
    if (in->id) {
        memcpy(e->id, in->id, 16);
        e->id_given = e->id_known = true;
    }
    st->pos[st->count++] = pos;
}

/* ---- generating events ---------------------------------------------------------- */

static const char *pick_type(void)
{
    static char longest[EVS_MAX_TYPE_LEN + 1];
    static const char *const types[] = {"Created", "ItemAdded", "Événement", "類型", "a"};
    if (tu_rnd_below(50) == 0) {
        memset(longest, 'T', EVS_MAX_TYPE_LEN);
        longest[EVS_MAX_TYPE_LEN] = '\0';
        return longest;
    }
    return types[tu_rnd_below(5)];
}

/* JSON data of several shapes; the byte-for-byte promise covers whitespace too. */
static size_t make_data(char *buf, size_t len, int n)
{
    int w;
    switch (tu_rnd_below(7)) {
    case 0:
        w = snprintf(buf, len,
                     "{\"i\":%d,\"s\":\"caf\\u00e9 \\\"quoted\\\" back\\\\slash\\n\\ttab\","
                     "\"e\":\"\\ud83d\\ude00\"}",
                     n);
        break;
    case 1:
        w = snprintf(buf, len, "{\"i\":%d,\"u\":\"日本語 ✓ 😀 Ελληνικά\"}", n);
        break;
    case 2:
        w = snprintf(buf, len, "[%d,true,false,null,-1.5e-3,{\"a\":[]}]", n);
        break;
    case 3:
        w = snprintf(buf, len, "%d", n);
        break;
    case 4:
        w = snprintf(buf, len, "\"string %d\"", n);
        break;
    case 5:
        w = snprintf(buf, len, "  {\"ws\" : [ %d , {} ] }\n", n);
        break;
    default: {
        size_t blob = 2000 + tu_rnd_below(4000);
        w = snprintf(buf, len, "{\"i\":%d,\"blob\":\"", n);
        for (size_t i = 0; i < blob; i++)
            buf[w++] = (char)('a' + i % 26);
        w += snprintf(buf + w, len - (size_t)w, "\"}");
        break;
    }
    }
    assert_true(w > 0 && (size_t)w < len);
    return (size_t)w;
}

static const char *make_meta(char *buf, size_t len, int n, size_t *meta_len)
{
    int w;
    switch (tu_rnd_below(5)) {
    case 0:
    case 1:
        *meta_len = 0;
        return NULL;
    case 2:
        w = snprintf(buf, len, "{\"corr\":\"%d\",\"actor\":\"ünïcode\"}", n);
        break;
    case 3:
        w = snprintf(buf, len, "{}");
        break;
    default:
        w = snprintf(buf, len, " { \"k\" : [%d] } ", n);
        break;
    }
    *meta_len = (size_t)w;
    return buf;
}

/* Append a random batch to stream s with a random (valid) expected version, and check
 * the result against the model. */
static void append_random(evs_store *store, model *m, int s)
{
    static char data[MAX_BATCH][8192];
    static char meta[MAX_BATCH][128];
    static unsigned char ids[MAX_BATCH][16];
    evs_event_in in[MAX_BATCH];
    size_t n = 1 + (size_t)tu_rnd_below(MAX_BATCH);
    for (size_t i = 0; i < n; i++) {
        int tag = (int)(m->count + i);
        memset(&in[i], 0, sizeof in[i]);
        in[i].type = pick_type();
        in[i].data_len = make_data(data[i], sizeof data[i], tag);
        in[i].data = data[i];
        in[i].metadata = make_meta(meta[i], sizeof meta[i], tag, &in[i].metadata_len);
        if (tu_rnd_below(3) == 0) {
            for (int k = 0; k < 16; k++)
                ids[i][k] = (unsigned char)tu_rnd();
            in[i].id = ids[i];
        }
    }
    int64_t have = model_version(m, s);
    int64_t expected;
    switch (tu_rnd_below(3)) {
    case 0:
        expected = have < 0 ? EVS_EXPECT_NO_STREAM : have;
        break;
    case 1:
        expected = EVS_EXPECT_ANY;
        break;
    default:
        expected = have < 0 ? EVS_EXPECT_NO_STREAM : EVS_EXPECT_EXISTS;
        break;
    }
    int64_t head = evs_head(store);
    evs_append_result r;
    memset(&r, 0x55, sizeof r);
    assert_evs_ok(evs_append(&r, store, m->st[s].name, expected, in, n));
    assert_int_equal(r.first_pos, head + 1);
    assert_int_equal(r.last_pos, head + (int64_t)n);
    assert_int_equal(r.version, have + (int64_t)n);
    assert_int_equal(r.duplicate, 0);
    assert_int_equal(evs_head(store), r.last_pos);
    for (size_t i = 0; i < n; i++)
        model_add(m, s, &in[i], head + 1 + (int64_t)i);
}

/* ---- checking a store against the model ------------------------------------------ */

static void check_event(model *m, mev *e, const evs_event *ev, bool learn_ids)
{
    const mstream *st = &m->st[e->stream];
    assert_int_equal(ev->pos, e->pos);
    assert_int_equal(ev->version, e->version);
    assert_int_equal(ev->stream_len, strlen(st->name));
    assert_memory_equal(ev->stream, st->name, ev->stream_len);
    assert_int_equal(ev->type_len, strlen(e->type));
    assert_memory_equal(ev->type, e->type, ev->type_len);
    assert_int_equal(ev->data_len, e->data_len);
    assert_memory_equal(ev->data, e->data, e->data_len);
    if (e->meta) {
        assert_non_null(ev->metadata);
        assert_int_equal(ev->metadata_len, e->meta_len);
        assert_memory_equal(ev->metadata, e->meta, e->meta_len);
    } else {
        assert_null(ev->metadata);
        assert_int_equal(ev->metadata_len, 0);
    }
    if (e->id_known) {
        assert_memory_equal(ev->id, e->id, 16);
    } else {
        assert_true(learn_ids);
        /* Generated: a version-4, variant-1 UUID. */
        assert_int_equal(ev->id[6] >> 4, 4);
        assert_int_equal(ev->id[8] >> 6, 2);
        memcpy(e->id, ev->id, 16);
        e->id_known = true;
    }
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static void check_ids_distinct(const model *m)
{
    unsigned char(*all)[16] = malloc(m->count * 16 + 1);
    assert_non_null(all);
    for (size_t i = 0; i < m->count; i++)
        memcpy(all[i], m->ev[i].id, 16);
    qsort(all, m->count, 16, cmp_id);
    for (size_t i = 1; i < m->count; i++)
        if (memcmp(all[i - 1], all[i], 16) == 0)
            fail_msg("id appears twice among %zu events", m->count);
    free(all);
}

/* Everything, forward: every field of every event, ts order and range. */
static void check_forward(evs_store *store, model *m, bool learn_ids)
{
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, store, NULL));
    evs_event ev;
    int rc;
    size_t i = 0;
    int64_t prev_ts = 0;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        assert_true(i < m->count);
        check_event(m, &m->ev[i], &ev, learn_ids);
        if (ev.ts_ns < prev_ts)
            fail_msg("ts of position %" PRId64 " is %" PRId64 ", before %" PRId64, ev.pos, ev.ts_ns,
                     prev_ts);
        /* Assigned at append from the wall clock: within the appends' time span. */
        if (ev.ts_ns < m->t_first - 1000000000 || ev.ts_ns > m->t_last + 1000000000)
            fail_msg("ts %" PRId64 " of position %" PRId64 " is outside [%" PRId64 ", %" PRId64 "]",
                     ev.ts_ns, ev.pos, m->t_first, m->t_last);
        prev_ts = ev.ts_ns;
        i++;
    }
    assert_evs(0, rc);
    evs_cursor_close(c);
    assert_int_equal(i, m->count);
}

/* Everything, backward. */
static void check_backward(evs_store *store, model *m)
{
    evs_query q = EVS_QUERY_INIT;
    q.direction = EVS_BACKWARD;
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, store, &q));
    evs_event ev;
    int rc;
    size_t i = m->count;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        assert_true(i > 0);
        check_event(m, &m->ev[--i], &ev, false);
    }
    assert_evs(0, rc);
    evs_cursor_close(c);
    assert_int_equal(i, 0);
}

/* Each stream read alone, forward, and its info. */
static void check_streams(evs_store *store, model *m)
{
    /* Position -> model index: positions are 1..count in order. */
    for (int s = 0; s < STREAMS; s++) {
        const mstream *st = &m->st[s];
        evs_stream_info info;
        assert_evs_ok(evs_stream_get(&info, store, st->name));
        assert_int_equal(info.exists, st->count > 0);
        assert_int_equal(info.last_version, (int64_t)st->count - 1);
        assert_int_equal(info.event_count, (int64_t)st->count);
        assert_int_equal(info.first_pos, st->count ? st->pos[0] : 0);
        assert_int_equal(info.last_pos, st->count ? st->pos[st->count - 1] : 0);

        evs_query q = EVS_QUERY_INIT;
        q.stream = st->name;
        evs_cursor *c;
        assert_evs_ok(evs_cursor_open(&c, store, &q));
        evs_event ev;
        int rc;
        size_t v = 0;
        while ((rc = evs_cursor_next(&ev, c)) > 0) {
            assert_true(v < st->count);
            mev *e = &m->ev[st->pos[v] - 1];
            assert_int_equal(e->pos, st->pos[v]);
            check_event(m, e, &ev, false);
            v++;
        }
        assert_evs(0, rc);
        evs_cursor_close(c);
        assert_int_equal(v, st->count);
    }
}

/* The stream listing: every stream with events exactly once, with its info. */
static void check_listing(evs_store *store, const model *m)
{
    static unsigned char seen[STREAMS];
    memset(seen, 0, sizeof seen);
    evs_stream_iter *it;
    assert_evs_ok(evs_streams_open(&it, store, NULL));
    const char *name;
    size_t len;
    evs_stream_info info;
    int rc, listed = 0;
    while ((rc = evs_streams_next(&name, &len, &info, it)) > 0) {
        int s;
        for (s = 0; s < STREAMS; s++)
            if (strlen(m->st[s].name) == len && memcmp(m->st[s].name, name, len) == 0)
                break;
        if (s == STREAMS)
            fail_msg("listed stream '%s' was never appended to", name);
        if (seen[s]++)
            fail_msg("stream '%s' listed twice", name);
        const mstream *st = &m->st[s];
        assert_int_equal(name[len], '\0');
        assert_int_equal(info.last_version, (int64_t)st->count - 1);
        assert_int_equal(info.first_pos, st->pos[0]);
        assert_int_equal(info.last_pos, st->pos[st->count - 1]);
        listed++;
    }
    assert_evs(0, rc);
    evs_streams_close(it);
    for (int s = 0; s < STREAMS; s++)
        if (m->st[s].count && !seen[s])
            fail_msg("stream '%s' not listed", m->st[s].name);
}

static void check_all(evs_store *store, model *m, bool learn_ids)
{
    check_forward(store, m, learn_ids);
    check_ids_distinct(m);
    check_backward(store, m);
    check_streams(store, m);
    check_listing(store, m);
    int streams = 0;
    for (int s = 0; s < STREAMS; s++)
        streams += m->st[s].count > 0;
    evs_stat_info si;
    assert_evs_ok(evs_stat(&si, store));
    assert_int_equal(si.event_count, (int64_t)m->count);
    assert_int_equal(si.stream_count, streams);
    assert_int_equal(si.last_pos, (int64_t)m->count);
    assert_int_equal(evs_head(store), (int64_t)m->count);
}

/* ---- per-test store: closed and removed by the teardown, even after a failure ---- */

static model g_model; /* test_round_trip's; freed by the teardown */

static int teardown(void **state)
{
    model_free(&g_model);
    return tu_teardown(state);
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_round_trip(void **state)
{
    tu_fixture *f = *state;
    tu_seed_rng();
    evs_options o = tu_fast_options();
    o.segment_size = 1u << 20;      /* several segments */
    o.checkpoint_bytes = 64u << 10; /* index snapshots, read back after reopening */
    evs_store *store = tu_fx_open(f, &o);
    assert_int_equal(evs_head(store), 0);

    model *mp = &g_model;
    model_init(mp);
    mp->t_first = wall_ns();
    /* Every stream gets events; then random streams get more. */
    for (int s = 0; s < STREAMS; s++)
        append_random(store, mp, s);
    for (int i = 0; i < 600; i++)
        append_random(store, mp, (int)tu_rnd_below(STREAMS));
    mp->t_last = wall_ns();
    print_message("%zu events in %d streams\n", mp->count, STREAMS);
    check_all(store, mp, true);

    /* Persistence: the same after reopening, and appends go on where they stopped. */
    store = tu_fx_reopen(f);
    check_all(store, mp, false);
    for (int i = 0; i < 100; i++)
        append_random(store, mp, (int)tu_rnd_below(STREAMS));
    mp->t_last = wall_ns();
    check_all(store, mp, true);
    store = tu_fx_reopen(f);
    check_all(store, mp, false);
    evs_verify_report rep;
    assert_evs_ok(evs_verify(&rep, store, NULL, NULL));
    assert_int_equal(rep.events_checked, (int64_t)mp->count);
    assert_int_equal(rep.problem_count, 0);
    tu_fx_close(f);
}

/* The head and a stream's info are what they were. */
static void expect_stream(evs_store *store, const char *stream, int64_t last_version,
                          int64_t first_pos, int64_t last_pos)
{
    evs_stream_info info;
    assert_evs_ok(evs_stream_get(&info, store, stream));
    assert_int_equal(info.exists, last_version >= 0);
    assert_int_equal(info.last_version, last_version);
    assert_int_equal(info.event_count, last_version + 1);
    assert_int_equal(info.first_pos, first_pos);
    assert_int_equal(info.last_pos, last_pos);
}

static int64_t count_stream(evs_store *store, const char *stream)
{
    evs_query q = EVS_QUERY_INIT;
    q.stream = stream;
    return tu_count(store, &q);
}

static void append_n(evs_store *store, const char *stream, int64_t expected, size_t n,
                     evs_append_result *r)
{
    evs_event_in in[64];
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++)
        in[i] = tu_event("Ev", "{\"n\":1}");
    assert_evs_ok(evs_append(r, store, stream, expected, in, n));
}

static void expect_conflict(evs_store *store, const char *stream, int64_t expected,
                            const char *want1, const char *want2)
{
    int64_t head = evs_head(store);
    evs_stream_info before, after;
    assert_evs_ok(evs_stream_get(&before, store, stream));
    evs_event_in in[2] = {tu_event("Ev", "{\"c\":1}"), tu_event("Ev", "{\"c\":2}")};
    evs_append_result r;
    assert_evs(EVS_ECONFLICT, evs_append(&r, store, stream, expected, in, 2));
    assert_int_equal(evs_errcode(), EVS_ECONFLICT);
    char quoted[256];
    snprintf(quoted, sizeof quoted, "'%s'", stream);
    assert_errmsg_has(quoted);
    if (want1)
        assert_errmsg_has(want1);
    if (want2)
        assert_errmsg_has(want2);
    assert_int_equal(evs_head(store), head);
    assert_evs_ok(evs_stream_get(&after, store, stream));
    assert_memory_equal(&before, &after, sizeof before);
}

static void test_expected_versions(void **state)
{
    tu_fixture *f = *state;
    evs_options o = tu_fast_options();
    evs_store *store = tu_fx_open(f, &o);
    evs_append_result r;

    /* NO_STREAM on a new stream. */
    append_n(store, "acct-1", EVS_EXPECT_NO_STREAM, 2, &r);
    assert_int_equal(r.first_pos, 1);
    assert_int_equal(r.last_pos, 2);
    assert_int_equal(r.version, 1);
    /* A number that matches. */
    append_n(store, "acct-1", 1, 40, &r);
    assert_int_equal(r.first_pos, 3);
    assert_int_equal(r.last_pos, 42);
    assert_int_equal(r.version, 41);
    expect_stream(store, "acct-1", 41, 1, 42);

    /* A number that does not: too high, too low, on a missing stream. */
    expect_conflict(store, "acct-1", 1234, "1234", "41");
    expect_conflict(store, "acct-1", 0, "expected version 0", "version 41");
    expect_conflict(store, "acct-1", 42, "42", "41");
    expect_conflict(store, "acct-9", 0, "expected version 0", "not exist");
    expect_stream(store, "acct-9", -1, 0, 0);

    /* NO_STREAM on an existing stream. */
    expect_conflict(store, "acct-1", EVS_EXPECT_NO_STREAM, "41", NULL);

    /* EXISTS: missing stream conflicts and stays missing; existing stream appends. */
    expect_conflict(store, "acct-2", EVS_EXPECT_EXISTS, "not exist", NULL);
    expect_stream(store, "acct-2", -1, 0, 0);
    assert_int_equal(count_stream(store, "acct-2"), 0);
    append_n(store, "acct-1", EVS_EXPECT_EXISTS, 1, &r);
    assert_int_equal(r.first_pos, 43);
    assert_int_equal(r.version, 42);

    /* ANY on a new and on an existing stream. */
    append_n(store, "acct-3", EVS_EXPECT_ANY, 3, &r);
    assert_int_equal(r.first_pos, 44);
    assert_int_equal(r.last_pos, 46);
    assert_int_equal(r.version, 2);
    append_n(store, "acct-3", EVS_EXPECT_ANY, 1, &r);
    assert_int_equal(r.first_pos, 47);
    assert_int_equal(r.version, 3);

    /* out may be NULL. */
    evs_event_in e = tu_event("Ev", "true");
    assert_evs_ok(evs_append(NULL, store, "acct-3", 3, &e, 1));
    expect_stream(store, "acct-3", 4, 44, 48);

    /* The stream listing does not know the streams whose appends conflicted. */
    evs_stream_iter *it;
    assert_evs_ok(evs_streams_open(&it, store, "acct-"));
    const char *name;
    size_t name_len;
    evs_stream_info info;
    int n = 0, rc;
    while ((rc = evs_streams_next(&name, &name_len, &info, it)) > 0) {
        n++;
        assert_true(strcmp(name, "acct-1") == 0 || strcmp(name, "acct-3") == 0);
    }
    assert_int_equal(rc, 0);
    evs_streams_close(it);
    assert_int_equal(n, 2);

    /* Persistence of all that, and versions keep counting after reopening. */
    store = tu_fx_reopen(f);
    assert_int_equal(evs_head(store), 48);
    expect_stream(store, "acct-1", 42, 1, 43);
    expect_stream(store, "acct-2", -1, 0, 0);
    expect_stream(store, "acct-3", 4, 44, 48);
    expect_stream(store, "acct-9", -1, 0, 0);
    expect_conflict(store, "acct-1", 41, "41", "42");
    append_n(store, "acct-1", 42, 1, &r);
    assert_int_equal(r.first_pos, 49);
    assert_int_equal(r.version, 43);
    assert_int_equal(count_stream(store, "acct-1"), 44);
    tu_fx_close(f);
}

/* Read a stream and check its versions, positions and the "n" in each event's data. */
static void expect_stream_events(evs_store *store, const char *stream, const int64_t *pos,
                                 const char *const *data, size_t n)
{
    evs_query q = EVS_QUERY_INIT;
    q.stream = stream;
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, store, &q));
    evs_event ev;
    size_t i = 0;
    int rc;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        assert_true(i < n);
        assert_int_equal(ev.version, (int64_t)i);
        assert_int_equal(ev.pos, pos[i]);
        assert_int_equal(ev.data_len, strlen(data[i]));
        assert_memory_equal(ev.data, data[i], ev.data_len);
        i++;
    }
    assert_evs(0, rc);
    evs_cursor_close(c);
    assert_int_equal(i, n);
}

static void test_append_multi(void **state)
{
    tu_fixture *f = *state;
    evs_options o = tu_fast_options();
    evs_store *store = tu_fx_open(f, &o);
    tu_append1(store, "other-1", "Ev", "0"); /* position 1 */

    /* Three batches, stream A twice: the second A batch expects what the first left. */
    evs_event_in a1[2] = {tu_event("Ev", "\"a0\""), tu_event("Ev", "\"a1\"")};
    evs_event_in b1[1] = {tu_event("Ev", "\"b0\"")};
    evs_event_in a2[1] = {tu_event("Ev", "\"a2\"")};
    evs_batch_in batches[3] = {{"multi-A", EVS_EXPECT_NO_STREAM, a1, 2},
                               {"multi-B", EVS_EXPECT_ANY, b1, 1},
                               {"multi-A", 1, a2, 1}};
    evs_append_result out[3];
    memset(out, 0x55, sizeof out);
    assert_evs_ok(evs_append_multi(out, store, batches, 3));
    assert_int_equal(out[0].first_pos, 2);
    assert_int_equal(out[0].last_pos, 3);
    assert_int_equal(out[0].version, 1);
    assert_int_equal(out[0].duplicate, 0);
    assert_int_equal(out[1].first_pos, 4);
    assert_int_equal(out[1].last_pos, 4);
    assert_int_equal(out[1].version, 0);
    assert_int_equal(out[1].duplicate, 0);
    assert_int_equal(out[2].first_pos, 5);
    assert_int_equal(out[2].last_pos, 5);
    assert_int_equal(out[2].version, 2);
    assert_int_equal(out[2].duplicate, 0);
    assert_int_equal(evs_head(store), 5);
    const int64_t a_pos[3] = {2, 3, 5};
    const char *const a_data[3] = {"\"a0\"", "\"a1\"", "\"a2\""};
    expect_stream_events(store, "multi-A", a_pos, a_data, 3);
    expect_stream(store, "multi-A", 2, 2, 5);
    expect_stream(store, "multi-B", 0, 4, 4);

    /* A stream created by an earlier batch of the same call exists for a later one. */
    evs_batch_in create[2] = {{"multi-G", EVS_EXPECT_NO_STREAM, b1, 1},
                              {"multi-G", EVS_EXPECT_EXISTS, a2, 1}};
    assert_evs_ok(evs_append_multi(out, store, create, 2));
    assert_int_equal(out[0].first_pos, 6);
    assert_int_equal(out[1].first_pos, 7);
    assert_int_equal(out[1].version, 1);
    expect_stream(store, "multi-G", 1, 6, 7);
    evs_batch_in recreate[2] = {{"multi-H", EVS_EXPECT_NO_STREAM, b1, 1},
                                {"multi-H", EVS_EXPECT_NO_STREAM, a2, 1}};
    assert_evs(EVS_ECONFLICT, evs_append_multi(out, store, recreate, 2));
    assert_errmsg_has("batch index 1");
    expect_stream(store, "multi-H", -1, 0, 0);
    assert_int_equal(evs_head(store), 7);

    /* One batch conflicts: the whole call fails, naming the batch; nothing written. */
    evs_event_in c1[2] = {tu_event("Ev", "1"), tu_event("Ev", "2")};
    evs_batch_in bad[3] = {{"multi-C", EVS_EXPECT_NO_STREAM, c1, 2},
                           {"multi-A", 7, a2, 1},
                           {"multi-D", EVS_EXPECT_ANY, b1, 1}};
    assert_evs(EVS_ECONFLICT, evs_append_multi(out, store, bad, 3));
    assert_errmsg_has("batch index 1");
    assert_errmsg_has("multi-A");
    assert_errmsg_has("7");
    assert_int_equal(evs_head(store), 7);
    expect_stream(store, "multi-C", -1, 0, 0);
    expect_stream(store, "multi-D", -1, 0, 0);
    expect_stream(store, "multi-A", 2, 2, 5);

    /* The same stream twice, the second expecting what the stream was before the call:
     * it must see the first batch, so it conflicts. */
    evs_batch_in twice[2] = {{"multi-B", 0, b1, 1}, {"multi-B", 0, b1, 1}};
    assert_evs(EVS_ECONFLICT, evs_append_multi(out, store, twice, 2));
    assert_errmsg_has("batch index 1");
    assert_int_equal(evs_head(store), 7);
    expect_stream(store, "multi-B", 0, 4, 4);

    /* A bad event in the last batch: EINVAL naming the batch, nothing written. */
    evs_event_in badev[2] = {tu_event("Ev", "1"), tu_event("Ev", "{nope")};
    evs_batch_in inval[2] = {{"multi-E", EVS_EXPECT_ANY, c1, 2},
                             {"multi-F", EVS_EXPECT_ANY, badev, 2}};
    assert_evs(EVS_EINVAL, evs_append_multi(out, store, inval, 2));
    assert_errmsg_has("batch index 1");
    assert_errmsg_has("event index 1");
    assert_int_equal(evs_head(store), 7);
    expect_stream(store, "multi-E", -1, 0, 0);
    expect_stream(store, "multi-F", -1, 0, 0);

    /* The same after reopening: the multi-append is whole, the failures left nothing. */
    store = tu_fx_reopen(f);
    assert_int_equal(evs_head(store), 7);
    expect_stream_events(store, "multi-A", a_pos, a_data, 3);
    expect_stream(store, "multi-B", 0, 4, 4);
    expect_stream(store, "multi-C", -1, 0, 0);
    expect_stream(store, "multi-E", -1, 0, 0);
    /* And it goes on: one more multi-append, out NULL. */
    evs_batch_in more[2] = {{"multi-A", 2, a2, 1}, {"multi-C", EVS_EXPECT_NO_STREAM, c1, 2}};
    assert_evs_ok(evs_append_multi(NULL, store, more, 2));
    assert_int_equal(evs_head(store), 10);
    expect_stream(store, "multi-A", 3, 2, 8);
    expect_stream(store, "multi-C", 1, 9, 10);
    evs_stat_info si;
    assert_evs_ok(evs_stat(&si, store));
    assert_int_equal(si.event_count, 10);
    assert_int_equal(si.stream_count, 5);
    tu_fx_close(f);
}

/* Given ids come back; ids generated for events without one are v4 and distinct even
 * within one batch. */
static void test_ids(void **state)
{
    tu_fixture *f = *state;
    evs_options o = tu_fast_options();
    evs_store *store = tu_fx_open(f, &o);
    unsigned char given[16];
    for (int i = 0; i < 16; i++)
        given[i] = (unsigned char)(0xF0 + i); /* not a v4 pattern: stored as given */
    evs_event_in in[100];
    for (int i = 0; i < 100; i++)
        in[i] = tu_event("Ev", "{}");
    in[50].id = given;
    int64_t t0 = wall_ns();
    assert_evs_ok(evs_append(NULL, store, "ids-1", EVS_EXPECT_ANY, in, 100));
    int64_t t1 = wall_ns();

    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, store, NULL));
    evs_event ev;
    unsigned char seen[100][16];
    int n = 0;
    while (evs_cursor_next(&ev, c) > 0) {
        memcpy(seen[n], ev.id, 16);
        if (n == 50) {
            assert_memory_equal(ev.id, given, 16);
        } else {
            assert_int_equal(ev.id[6] >> 4, 4);
            assert_int_equal(ev.id[8] >> 6, 2);
        }
        assert_true(ev.ts_ns >= t0 - 1000000000 && ev.ts_ns <= t1 + 1000000000);
        n++;
    }
    evs_cursor_close(c);
    assert_int_equal(n, 100);
    qsort(seen, 100, 16, cmp_id);
    for (int i = 1; i < 100; i++)
        assert_true(memcmp(seen[i - 1], seen[i], 16) != 0);

    /* Timestamps: later appends never get an earlier ts. */
    int64_t prev = 0;
    for (int i = 0; i < 200; i++) {
        evs_event_in e = tu_event("Ev", "1");
        assert_evs_ok(evs_append(NULL, store, "ids-2", EVS_EXPECT_ANY, &e, 1));
    }
    assert_evs_ok(evs_cursor_open(&c, store, NULL));
    while (evs_cursor_next(&ev, c) > 0) {
        assert_true(ev.ts_ns >= prev);
        prev = ev.ts_ns;
    }
    evs_cursor_close(c);
    assert_true(prev <= wall_ns() + 1000000000);
    tu_fx_close(f);
}

/* An append larger than a segment is never split: it gets a segment of its own. */
static void test_append_larger_than_segment(void **state)
{
    tu_fixture *f = *state;
    evs_options o = tu_fast_options();
    o.segment_size = 64u << 10;
    evs_store *store = tu_fx_open(f, &o);
    tu_append1(store, "small-1", "Ev", "1");
    static char data[300][1024];
    evs_event_in in[300];
    for (int i = 0; i < 300; i++) {
        int n = snprintf(data[i], sizeof data[i], "{\"i\":%d,\"pad\":\"", i);
        memset(data[i] + n, 'p', 900);
        memcpy(data[i] + n + 900, "\"}", 3);
        in[i] = tu_event("Big", data[i]);
    }
    evs_append_result r;
    assert_evs_ok(evs_append(&r, store, "big-1", EVS_EXPECT_NO_STREAM, in, 300));
    assert_int_equal(r.first_pos, 2);
    assert_int_equal(r.last_pos, 301);
    tu_append1(store, "small-1", "Ev", "2");
    for (int round = 0; round < 2; round++) {
        evs_query q = EVS_QUERY_INIT;
        q.stream = "big-1";
        evs_cursor *c;
        assert_evs_ok(evs_cursor_open(&c, store, &q));
        evs_event ev;
        int i = 0;
        while (evs_cursor_next(&ev, c) > 0) {
            assert_int_equal(ev.pos, 2 + i);
            assert_int_equal(ev.data_len, strlen(data[i]));
            assert_memory_equal(ev.data, data[i], ev.data_len);
            i++;
        }
        evs_cursor_close(c);
        assert_int_equal(i, 300);
        evs_stat_info si;
        assert_evs_ok(evs_stat(&si, store));
        assert_int_equal(si.event_count, 302);
        assert_true(si.segment_count >= 2 || !tu_backend_is("file")); /* segments: files only */
        assert_true(si.log_bytes > 300 * 1000);
        assert_evs_ok(evs_verify(NULL, store, NULL, NULL));
        store = tu_fx_reopen(f);
    }
    tu_fx_close(f);
}

/* ---- appends that write nothing, at the end of a segment -------------------------- */

/* Forward and backward scans, the stream's reads and evs_verify all agree on a store
 * whose stream "fill-1" holds n events at positions 1..n. */
static void expect_whole(evs_store *store, int64_t n)
{
    for (int dir = 0; dir < 2; dir++) {
        evs_query q = EVS_QUERY_INIT;
        q.direction = dir ? EVS_BACKWARD : EVS_FORWARD;
        if (dir == 1)
            q.stream = "fill-1";
        for (int pass = 0; pass < 2; pass++, q.stream = q.stream ? NULL : "fill-1") {
            evs_cursor *c;
            assert_evs_ok(evs_cursor_open(&c, store, &q));
            evs_event ev;
            int64_t k = 0;
            int rc;
            while ((rc = evs_cursor_next(&ev, c)) > 0) {
                int64_t want = dir ? n - k : k + 1;
                assert_int_equal(ev.pos, want);
                assert_int_equal(ev.version, want - 1);
                k++;
            }
            if (rc < 0)
                fail_msg("%s%s read: %s", dir ? "backward" : "forward", q.stream ? " stream" : "",
                         evs_errmsg());
            evs_cursor_close(c);
            assert_int_equal(k, n);
        }
    }
    evs_verify_report rep;
    int rc = evs_verify(&rep, store, NULL, NULL);
    if (rc != 0)
        fail_msg("evs_verify: %s", evs_errmsg());
    assert_int_equal(rep.events_checked, n);
}

/* Small appends fill 64 KiB segments; after each one, a larger append that writes
 * nothing (a conflict, or the retry of an earlier append: a duplicate). Near a
 * segment's end the larger one does not fit: whatever the writer prepares for it must
 * not leave the log in a state that reads, evs_verify or a reopen trip over. */
static void fill_with_refusals(tu_fixture *f, bool duplicates)
{
    evs_options o = tu_fast_options();
    o.segment_size = 64u << 10;
    evs_store *store = tu_fx_open(f, &o);
    static char small[1000], large[4000];
    memset(small, 's', sizeof small - 1);
    small[0] = small[sizeof small - 2] = '"';
    memset(large, 'l', sizeof large - 1);
    large[0] = large[sizeof large - 2] = '"';
    unsigned char id[16] = {0x42, 0x42, 1, 2, 3, 4, 0x40, 5, 0x80, 6, 7, 8, 9, 10, 11, 12};
    evs_event_in l = tu_event("Large", large);
    l.id = id;
    int64_t n = 0;
    if (duplicates) {
        assert_evs_ok(evs_append(NULL, store, "fill-1", EVS_EXPECT_NO_STREAM, &l, 1));
        n = 1;
    }
    for (int i = 0; i < 200; i++) {
        evs_event_in e = tu_event("Small", small);
        assert_evs_ok(evs_append(NULL, store, "fill-1", n - 1, &e, 1));
        n++;
        evs_append_result r;
        if (duplicates) {
            assert_evs_ok(evs_append(&r, store, "fill-1", EVS_EXPECT_ANY, &l, 1));
            assert_int_equal(r.duplicate, 1);
            assert_int_equal(r.first_pos, 1);
        } else {
            assert_evs(EVS_ECONFLICT, evs_append(&r, store, "fill-1", 12345, &l, 1));
        }
        assert_int_equal(evs_head(store), n);
    }
    expect_whole(store, n);
    store = tu_fx_reopen(f);
    expect_whole(store, n);
    evs_event_in e = tu_event("Small", small);
    assert_evs_ok(evs_append(NULL, store, "fill-1", n - 1, &e, 1));
    expect_whole(store, n + 1);
    tu_fx_close(f);
}

static void test_conflict_at_segment_end(void **state)
{
    fill_with_refusals(*state, false);
}

static void test_duplicate_at_segment_end(void **state)
{
    fill_with_refusals(*state, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_expected_versions, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_multi, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_ids, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_larger_than_segment, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflict_at_segment_end, tu_setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_at_segment_end, tu_setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
