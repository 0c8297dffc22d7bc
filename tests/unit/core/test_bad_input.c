/*
 * test_bad_input.c - every bad input gets its documented error code, a message that
 * says what and where, and changes nothing.
 *
 * Covers: stream names and event types (NULL, empty, one byte too long vs the longest
 * allowed, control characters, invalid UTF-8); data (NULL, empty, not JSON, invalid
 * UTF-8 inside a string, nesting 513 deep vs 512); metadata (not JSON, not an object);
 * events over EVS_MAX_EVENT_LEN vs exactly at it; calls over EVS_MAX_BATCH_LEN and
 * EVS_MAX_BATCH_COUNT; count 0; invalid expected versions; bad batches of a
 * multi-append; bad query fields; appends on a read-only handle; cursors and stream
 * listings after evs_close; the UUID, time and JSON helpers; evs_errstr/evs_errname
 * for every code; evs_errmsg cleared by a success and kept per thread. (evs_open's
 * refusals are in test_open_errors.c.)
 */
#include "testutil.h"
#include "victim_fixture.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>

/* ---- fixture: victim_fixture.h, a store holding "victim-1" (3 events) ------------ */

typedef tu_victim_fixture fixture;

static int setup(void **state)
{
    return tu_victim_setup(state, "core-bad");
}

/* What must not change. */
typedef struct before {
    int64_t head;
    int64_t events;
    int64_t streams;
    evs_stream_info victim;
} before;

static void take(evs_store *s, before *b)
{
    evs_stat_info si;
    assert_evs_ok(evs_stat(&si, s));
    b->head = evs_head(s);
    b->events = si.event_count;
    b->streams = si.stream_count;
    assert_evs_ok(evs_stream_get(&b->victim, s, "victim-1"));
}

static void same(evs_store *s, const before *b)
{
    before now;
    take(s, &now);
    assert_int_equal(now.head, b->head);
    assert_int_equal(now.events, b->events);
    assert_int_equal(now.streams, b->streams);
    assert_memory_equal(&now.victim, &b->victim, sizeof now.victim);
}

/* The message of the last failure append_fails() saw (later calls clear evs_errmsg). */
static char last_msg[1024];

static void msg_has(const char *needle)
{
    if (needle && !strstr(last_msg, needle))
        fail_msg("message '%s' lacks '%s'", last_msg, needle);
}

static void keep_msg(void)
{
    snprintf(last_msg, sizeof last_msg, "%s", evs_errmsg());
}

/* An append that must fail with `code`, a message holding the needles, and no trace. */
static void append_fails(evs_store *s, const char *stream, int64_t expected, const evs_event_in *ev,
                         size_t n, int code, const char *n1, const char *n2)
{
    before b;
    take(s, &b);
    evs_stream_info target;
    bool named = stream && evs_stream_get(&target, s, stream) == 0;
    evs_append_result r;
    assert_evs(code, evs_append(&r, s, stream, expected, ev, n));
    keep_msg();
    assert_int_equal(evs_errcode(), code);
    assert_true(strlen(evs_errmsg()) > 0);
    assert_null(strchr(evs_errmsg(), '\n')); /* one line */
    msg_has(n1);
    msg_has(n2);
    same(s, &b);
    if (named) {
        evs_stream_info after;
        assert_evs_ok(evs_stream_get(&after, s, stream));
        assert_memory_equal(&after, &target, sizeof after);
    }
}

static void append_fails1(evs_store *s, const char *stream, const evs_event_in *ev, int code,
                          const char *n1, const char *n2)
{
    append_fails(s, stream, EVS_EXPECT_ANY, ev, 1, code, n1, n2);
}

static int64_t read_back_data(evs_store *s, const char *stream, const char *data, size_t len)
{
    evs_query q = EVS_QUERY_INIT;
    q.stream = stream;
    q.direction = EVS_BACKWARD;
    q.limit = 1;
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    evs_event ev;
    assert_int_equal(evs_cursor_next(&ev, c), 1);
    assert_int_equal(ev.data_len, len);
    assert_memory_equal(ev.data, data, len);
    int64_t pos = ev.pos;
    evs_cursor_close(c);
    return pos;
}

/* ---- names ---------------------------------------------------------------------------- */

static void test_bad_stream_names(void **state)
{
    fixture *f = *state;
    evs_store *s = f->store;
    evs_event_in e = tu_event("Ev", "{}");
    append_fails1(s, NULL, &e, EVS_EINVAL, "stream name", "NULL");
    append_fails1(s, "", &e, EVS_EINVAL, "stream name", "empty");
    char name[EVS_MAX_STREAM_LEN + 2];
    memset(name, 'a', EVS_MAX_STREAM_LEN + 1);
    name[EVS_MAX_STREAM_LEN + 1] = '\0'; /* 1025 bytes */
    append_fails1(s, name, &e, EVS_EINVAL, "stream name", "1024");
    append_fails1(s,
                  "\x01"
                  "abc",
                  &e, EVS_EINVAL, "stream name", "0x01");
    append_fails1(s,
                  "a\x7f"
                  "b-1",
                  &e, EVS_EINVAL, "stream name", "0x7f");
    append_fails1(s, "line\nbreak-1", &e, EVS_EINVAL, "stream name", "0x0a");
    append_fails1(s, "tab\there", &e, EVS_EINVAL, "stream name", "control");
    append_fails1(s, "\xff-1", &e, EVS_EINVAL, "stream name", "UTF-8");
    append_fails1(s,
                  "over\xc0\xaf"
                  "long",
                  &e, EVS_EINVAL, "stream name", "UTF-8");
    append_fails1(s, "surrogate\xed\xa0\x80", &e, EVS_EINVAL, "stream name", "UTF-8");
    append_fails1(s, "cut\xe2\x82", &e, EVS_EINVAL, "stream name", "UTF-8");
    append_fails1(s, "big\xf4\x90\x80\x80", &e, EVS_EINVAL, "stream name", "UTF-8");
    /* evs_stream_get checks names the same way. */
    evs_stream_info info;
    assert_evs(EVS_EINVAL, evs_stream_get(&info, s, name));
    assert_int_equal(info.exists, 0);
    assert_evs(EVS_EINVAL, evs_stream_get(&info, s, "\xff"));
    assert_evs(EVS_EINVAL, evs_stream_get(&info, s, NULL));

    /* The longest name is fine, and so is valid UTF-8. */
    name[EVS_MAX_STREAM_LEN] = '\0';
    assert_evs_ok(evs_append(NULL, s, name, EVS_EXPECT_NO_STREAM, &e, 1));
    assert_evs_ok(evs_stream_get(&info, s, name));
    assert_int_equal(info.exists, 1);
    assert_evs_ok(evs_append(NULL, s, "żółw-€-𝄞", EVS_EXPECT_NO_STREAM, &e, 1));
}

static void test_bad_types(void **state)
{
    fixture *f = *state;
    evs_store *s = f->store;
    char type[EVS_MAX_TYPE_LEN + 2];
    memset(type, 'T', EVS_MAX_TYPE_LEN + 1);
    type[EVS_MAX_TYPE_LEN + 1] = '\0'; /* 257 bytes */
    const char *bad[] = {NULL,
                         "",
                         type,
                         "\x01"
                         "Ev",
                         "E\x7fv",
                         "Ev\n",
                         "\xff"
                         "Ev",
                         "E\xc0\x80v",
                         "Ev\xe2\x82"};
    const char *why[] = {"NULL",    "empty", "256",   "0x01", "0x7f",
                         "control", "UTF-8", "UTF-8", "UTF-8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* The bad event is the last of three: nothing of the batch is written. */
        evs_event_in in[3] = {tu_event("Ok", "1"), tu_event("Ok", "2"), tu_event("Ok", "3")};
        in[2].type = bad[i];
        append_fails(s, "victim-1", EVS_EXPECT_ANY, in, 3, EVS_EINVAL, "event index 2", "type");
        msg_has(why[i]);
        msg_has("victim-1");
        append_fails(s, "fresh-1", EVS_EXPECT_ANY, in, 3, EVS_EINVAL, "event index 2", why[i]);
    }
    /* 256 bytes is the limit, and it holds. */
    type[EVS_MAX_TYPE_LEN] = '\0';
    evs_event_in ok = tu_event(type, "{}");
    assert_evs_ok(evs_append(NULL, s, "types-1", EVS_EXPECT_NO_STREAM, &ok, 1));
    evs_query q = EVS_QUERY_INIT;
    q.stream = "types-1";
    evs_cursor *c;
    evs_event ev;
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    assert_int_equal(evs_cursor_next(&ev, c), 1);
    assert_int_equal(ev.type_len, EVS_MAX_TYPE_LEN);
    assert_memory_equal(ev.type, type, EVS_MAX_TYPE_LEN);
    evs_cursor_close(c);
}

/* ---- data and metadata ------------------------------------------------------------------ */

/* n nested arrays around 1: "[[[1]]]". Caller frees. */
static char *nested(size_t n, size_t *len)
{
    char *p = malloc(2 * n + 2);
    assert_non_null(p);
    memset(p, '[', n);
    p[n] = '1';
    memset(p + n + 1, ']', n);
    p[2 * n + 1] = '\0';
    *len = 2 * n + 1;
    return p;
}

static void test_bad_data(void **state)
{
    fixture *f = *state;
    evs_store *s = f->store;
    evs_event_in e = tu_event("Ev", "{}");
    e.data = NULL;
    e.data_len = 5;
    append_fails1(s, "victim-1", &e, EVS_EINVAL, "data", "event index 0");
    e = tu_event("Ev", "{}");
    e.data_len = 0;
    append_fails1(s, "victim-1", &e, EVS_EINVAL, "data", NULL);

    const char *bad[] = {"{\"a\":1} x", "{\"a\":1}{}", "\"\xff\"", "[1,]",      "{'a':1}",
                         "nul",         "01",          "   ",      "{\"a\" 1}", "\"\\x\"",
                         "[",           "1.",          "\"a\x01\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        e = tu_event("Ev", bad[i]);
        append_fails1(s, "victim-1", &e, EVS_EINVAL, "'data'", "byte");
        msg_has("JSON");
    }
    /* The offset of the problem is in the message: trailing garbage at byte 8. */
    e = tu_event("Ev", "{\"a\":1} x");
    append_fails1(s, "victim-1", &e, EVS_EINVAL, "byte 8", NULL);

    /* Nesting: 512 levels are allowed, 513 are not. */
    size_t len;
    char *deep = nested(EVS_MAX_JSON_DEPTH + 1, &len);
    e = tu_event("Ev", deep);
    append_fails1(s, "victim-1", &e, EVS_EINVAL, "data", NULL);
    free(deep);
    deep = nested(EVS_MAX_JSON_DEPTH, &len);
    e = tu_event("Ev", deep);
    assert_evs_ok(evs_append(NULL, s, "deep-1", EVS_EXPECT_NO_STREAM, &e, 1));
    read_back_data(s, "deep-1", deep, len);
    free(deep);
    assert_evs_ok(evs_json_validate("[[1]]", 5));
    assert_evs(EVS_EINVAL, evs_json_validate("[[1]", 4));
    assert_errmsg_has("byte");
}

static void test_bad_metadata(void **state)
{
    fixture *f = *state;
    evs_store *s = f->store;
    const char *bad[] = {"{", "{\"a\":}", "{} {}", "{\"a\":\"\xc3\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        evs_event_in e = tu_event("Ev", "{}");
        e.metadata = bad[i];
        e.metadata_len = strlen(bad[i]);
        append_fails1(s, "victim-1", &e, EVS_EINVAL, "'metadata'", "JSON");
    }
    /* Valid JSON that is not an object. */
    const char *not_object[] = {"[1,2]", "\"str\"", "42", "null", "true", " [ ] "};
    for (size_t i = 0; i < sizeof not_object / sizeof not_object[0]; i++) {
        evs_event_in e = tu_event("Ev", "{}");
        e.metadata = not_object[i];
        e.metadata_len = strlen(not_object[i]);
        append_fails1(s, "victim-1", &e, EVS_EINVAL, "'metadata'", "object");
    }
    /* Present but empty. */
    evs_event_in e = tu_event("Ev", "{}");
    e.metadata = "{}";
    e.metadata_len = 0;
    append_fails1(s, "victim-1", &e, EVS_EINVAL, "'metadata'", NULL);
    /* The bad one is event 1 of 2 in batch 1 of a multi-append. */
    evs_event_in ok[2] = {tu_event("Ev", "1"), tu_event("Ev", "2")};
    evs_event_in two[2] = {tu_event("Ev", "1"), tu_event("Ev", "2")};
    two[1].metadata = "[]";
    two[1].metadata_len = 2;
    evs_batch_in b[2] = {{"fresh-2", EVS_EXPECT_ANY, ok, 2}, {"victim-1", EVS_EXPECT_ANY, two, 2}};
    before snap;
    take(s, &snap);
    assert_evs(EVS_EINVAL, evs_append_multi(NULL, s, b, 2));
    assert_errmsg_has("batch index 1");
    assert_errmsg_has("event index 1");
    assert_errmsg_has("metadata");
    same(s, &snap);
}

/* A JSON string of exactly `len` bytes: '"' 'a'... '"'. */
static char *json_string(fixture *f, size_t len)
{
    free(f->big);
    char *p = malloc(len + 1);
    assert_non_null(p);
    memset(p, 'a', len);
    p[0] = '"';
    p[len - 1] = '"';
    p[len] = '\0';
    f->big = p;
    return p;
}

static void test_event_too_big(void **state)
{
    fixture *f = *state;
    evs_store *s = f->store;
    char *data = json_string(f, (size_t)EVS_MAX_EVENT_LEN + 1);
    evs_event_in e = tu_event("Ev", "{}");
    e.data = data;
    e.data_len = (size_t)EVS_MAX_EVENT_LEN + 1;
    append_fails1(s, "victim-1", &e, EVS_EINVAL, "67108865", "67108864");
    msg_has("event index 0");

    /* Data and metadata together over the limit. */
    static const char meta[] = "{\"k\":\"0123456789\"}";
    e.data_len = (size_t)EVS_MAX_EVENT_LEN - 10;
    data[e.data_len - 1] = '"';
    e.metadata = meta;
    e.metadata_len = sizeof meta - 1;
    append_fails1(s, "victim-1", &e, EVS_EINVAL, "67108864", NULL);

    /* A call of more than EVS_MAX_BATCH_LEN bytes in all (five events of 60 MiB). */
    data = json_string(f, (size_t)60 << 20);
    evs_event_in five[5];
    for (int i = 0; i < 5; i++) {
        five[i] = tu_event("Ev", "{}");
        five[i].data = data;
        five[i].data_len = (size_t)60 << 20;
    }
    append_fails(s, "victim-1", EVS_EXPECT_ANY, five, 5, EVS_EINVAL, "bytes", "268435456");
    /* More than EVS_MAX_BATCH_COUNT events (refused before the events are read). */
    evs_event_in *many = calloc((size_t)EVS_MAX_BATCH_COUNT + 1, sizeof *many);
    assert_non_null(many);
    int rc = evs_append(NULL, s, "victim-1", EVS_EXPECT_ANY, many, (size_t)EVS_MAX_BATCH_COUNT + 1);
    free(many);
    assert_evs(EVS_EINVAL, rc);
    assert_errmsg_has("1000000");

    /* Exactly at the limit: stored and read back whole. */
    data = json_string(f, (size_t)EVS_MAX_EVENT_LEN);
    e = tu_event("Ev", "{}");
    e.data = data;
    e.data_len = (size_t)EVS_MAX_EVENT_LEN;
    evs_append_result r;
    assert_evs_ok(evs_append(&r, s, "big-1", EVS_EXPECT_NO_STREAM, &e, 1));
    assert_int_equal(read_back_data(s, "big-1", data, e.data_len), r.first_pos);
    free(f->big);
    f->big = NULL;
}

/* ---- counts, expected versions, batches ----------------------------------------------- */

static void test_bad_counts_and_expected(void **state)
{
    fixture *f = *state;
    evs_store *s = f->store;
    evs_event_in e = tu_event("Ev", "{}");
    append_fails(s, "victim-1", EVS_EXPECT_ANY, &e, 0, EVS_EINVAL, "no events", "victim-1");
    append_fails(s, "victim-1", EVS_EXPECT_ANY, NULL, 1, EVS_EINVAL, "no events", NULL);
    const int64_t bad[] = {-3, -5, -100, INT64_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char num[32];
        snprintf(num, sizeof num, "%" PRId64, bad[i]);
        append_fails(s, "victim-1", bad[i], &e, 1, EVS_EINVAL, "expected version", num);
        append_fails(s, "fresh-3", bad[i], &e, 1, EVS_EINVAL, "expected version", num);
    }

    before b;
    take(s, &b);
    assert_evs(EVS_EINVAL, evs_append_multi(NULL, s, NULL, 1));
    evs_batch_in batches[3] = {{"fresh-4", EVS_EXPECT_ANY, &e, 1},
                               {"fresh-5", EVS_EXPECT_ANY, &e, 0},
                               {"fresh-6", EVS_EXPECT_ANY, &e, 1}};
    assert_evs(EVS_EINVAL, evs_append_multi(NULL, s, batches, 0));
    assert_evs(EVS_EINVAL, evs_append_multi(NULL, s, batches, 3));
    assert_errmsg_has("batch index 1");
    assert_errmsg_has("fresh-5");
    batches[1].count = 1;
    batches[1].stream = "";
    assert_evs(EVS_EINVAL, evs_append_multi(NULL, s, batches, 3));
    assert_errmsg_has("batch index 1");
    batches[1].stream = "fresh-5";
    batches[2].expected_version = -7;
    assert_evs(EVS_EINVAL, evs_append_multi(NULL, s, batches, 3));
    assert_errmsg_has("batch index 2");
    assert_errmsg_has("-7");
    same(s, &b);
    evs_stream_info info;
    assert_evs_ok(evs_stream_get(&info, s, "fresh-4"));
    assert_int_equal(info.exists, 0);
}

/* ---- queries ---------------------------------------------------------------------------- */

static void query_fails(evs_store *s, const evs_query *q, const char *n1, const char *n2)
{
    static char sentinel;
    evs_cursor *c = (evs_cursor *)(void *)&sentinel; /* not NULL, to see it reset */
    assert_evs(EVS_EINVAL, evs_cursor_open(&c, s, q));
    keep_msg();
    assert_null(c);
    assert_int_equal(evs_errcode(), EVS_EINVAL);
    msg_has(n1);
    msg_has(n2);
}

static void test_bad_queries(void **state)
{
    fixture *f = *state;
    evs_store *s = f->store;
    evs_query q = EVS_QUERY_INIT;
    q.version = 0;
    query_fails(s, &q, "version", NULL);
    q = (evs_query)EVS_QUERY_INIT;
    q.version = EVS_QUERY_VERSION + 1;
    query_fails(s, &q, "version", NULL);
    q = (evs_query)EVS_QUERY_INIT;
    q.direction = 7;
    query_fails(s, &q, "direction", "7");
    q = (evs_query)EVS_QUERY_INIT;
    q.direction = -1;
    query_fails(s, &q, "direction", NULL);
    q = (evs_query)EVS_QUERY_INIT;
    q.from_pos = -1;
    query_fails(s, &q, "from_pos", NULL);
    q = (evs_query)EVS_QUERY_INIT;
    q.to_pos = -5;
    query_fails(s, &q, "to_pos", NULL);
    q = (evs_query)EVS_QUERY_INIT;
    q.stream = "victim-1";
    q.from_version = -2;
    query_fails(s, &q, "from_version", NULL);
    q = (evs_query)EVS_QUERY_INIT;
    q.stream = "";
    query_fails(s, &q, "stream", "empty");
    q.stream = "bad\x01";
    query_fails(s, &q, "stream", "0x01");
    q.stream = "\xfe";
    query_fails(s, &q, "stream", "UTF-8");
    char longname[EVS_MAX_STREAM_LEN + 2];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    q.stream = longname;
    query_fails(s, &q, "stream", "1024");
    const char *with_null[] = {"Ev", NULL};
    q = (evs_query)EVS_QUERY_INIT;
    q.types = with_null;
    q.type_count = 2;
    query_fails(s, &q, "type", NULL);
    const char *with_empty[] = {""};
    q.types = with_empty;
    q.type_count = 1;
    query_fails(s, &q, "type", "empty");
    q.types = NULL;
    q.type_count = 2;
    query_fails(s, &q, "types", NULL);
    q = (evs_query)EVS_QUERY_INIT;
    q.category = "";
    query_fails(s, &q, "category", NULL);
    q = (evs_query)EVS_QUERY_INIT;
    q.prefix = "p\x1f";
    query_fails(s, &q, "prefix", NULL);

    /* Misuse. */
    assert_evs(EVS_EMISUSE, evs_cursor_open(NULL, s, NULL));
    evs_cursor *c;
    assert_evs(EVS_EMISUSE, evs_cursor_open(&c, NULL, NULL));
    assert_null(c);
    assert_evs_ok(evs_cursor_open(&c, s, NULL));
    assert_evs(EVS_EMISUSE, evs_cursor_next(NULL, c));
    evs_cursor_close(c);
    evs_cursor_close(NULL);
    evs_streams_close(NULL);
}

/* ---- read-only handles and closed stores ---------------------------------------------- */

static void test_readonly(void **state)
{
    fixture *f = *state;
    evs_options o = tu_fast_options();
    o.flags = EVS_OPEN_READONLY;
    /* Beside the writer handle. */
    assert_evs_ok(evs_open(&f->other, f->dir, &o));
    evs_store *ro = f->other;
    assert_int_equal(evs_head(ro), 3);
    evs_event_in e = tu_event("Ev", "{}");
    before b;
    take(f->store, &b);
    assert_evs(EVS_EREADONLY, evs_append(NULL, ro, "victim-1", EVS_EXPECT_ANY, &e, 1));
    assert_errmsg_has("read-only");
    assert_evs(EVS_EREADONLY, evs_append(NULL, ro, "new-1", EVS_EXPECT_NO_STREAM, &e, 1));
    evs_batch_in batch = {"new-2", EVS_EXPECT_ANY, &e, 1};
    assert_evs(EVS_EREADONLY, evs_append_multi(NULL, ro, &batch, 1));
    assert_evs(EVS_EREADONLY, evs_sync(ro));
    same(f->store, &b);
    same(ro, &b);
    evs_query q = EVS_QUERY_INIT;
    q.stream = "victim-1";
    assert_int_equal(tu_count(ro, &q), 3);

    /* It sees what the writer appends. */
    tu_append1(f->store, "victim-1", "Ev", "4");
    assert_int_equal(evs_head(ro), 4);
    assert_int_equal(tu_count(ro, &q), 4);
    assert_evs_ok(evs_close(ro));
    f->other = NULL;

    /* Alone. */
    assert_evs_ok(evs_close(f->store));
    f->store = NULL;
    assert_evs_ok(evs_open(&f->other, f->dir, &o));
    assert_evs(EVS_EREADONLY, evs_append(NULL, f->other, "victim-1", 3, &e, 1));
    assert_int_equal(evs_head(f->other), 4);
    assert_int_equal(tu_count(f->other, &q), 4);
}

static void test_cursor_after_close(void **state)
{
    fixture *f = *state;
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, f->store, NULL));
    evs_event ev;
    assert_int_equal(evs_cursor_next(&ev, c), 1);
    evs_query q = EVS_QUERY_INIT;
    q.stream = "victim-1";
    evs_cursor *sc;
    assert_evs_ok(evs_cursor_open(&sc, f->store, &q));
    assert_evs_ok(evs_close(f->store));
    f->store = NULL;
    assert_evs(EVS_ECLOSED, evs_cursor_next(&ev, c));
    assert_int_equal(evs_errcode(), EVS_ECLOSED);
    assert_true(strlen(evs_errmsg()) > 0);
    assert_evs(EVS_ECLOSED, evs_cursor_next(&ev, c)); /* and stays so */
    assert_evs(EVS_ECLOSED, evs_cursor_next(&ev, sc));
    evs_cursor_close(c);
    evs_cursor_close(sc);
}

/* The header counts evs_stream_iter among the cursors: after evs_close its next step
 * returns EVS_ECLOSED too. */
static void test_stream_iter_after_close(void **state)
{
    fixture *f = *state;
    evs_stream_iter *it;
    assert_evs_ok(evs_streams_open(&it, f->store, NULL));
    assert_evs_ok(evs_close(f->store));
    f->store = NULL;
    const char *name;
    size_t len;
    evs_stream_info info;
    int rc = evs_streams_next(&name, &len, &info, it);
    evs_streams_close(it);
    if (rc != EVS_ECLOSED)
        print_error("evs_streams_next after evs_close returned %d (%s)\n", rc, evs_errname(rc));
    assert_int_equal(rc, EVS_ECLOSED);
}

/* ---- error codes and messages ----------------------------------------------------------- */

static void test_error_names(void **state)
{
    (void)state;
    int count = 0;
#define CHECK_CODE(name, value, text)                                                              \
    assert_int_equal(EVS_##name, (value));                                                         \
    assert_string_equal(evs_errname(value), "EVS_" #name);                                         \
    assert_string_equal(evs_errstr(value), (text));                                                \
    count++;
    EVS_ERROR_MAP(CHECK_CODE)
#undef CHECK_CODE
    assert_int_equal(count, 23);
    /* Every code from -1 to -23 is named, each differently. */
    for (int a = -1; a >= -23; a--) {
        assert_string_not_equal(evs_errname(a), "EVS_UNKNOWN");
        for (int b = a - 1; b >= -23; b--) {
            assert_string_not_equal(evs_errname(a), evs_errname(b));
            assert_string_not_equal(evs_errstr(a), evs_errstr(b));
        }
    }
    assert_string_equal(evs_errname(EVS_OK), "EVS_OK");
    assert_true(strlen(evs_errstr(EVS_OK)) > 0);
    const int unknown[] = {1, 5, -24, -99, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(evs_errname(unknown[i]), "EVS_UNKNOWN");
        assert_string_equal(evs_errstr(unknown[i]), "unknown error");
    }
    assert_int_equal(evs_version(), EVS_VERSION_NUMBER);
    assert_string_equal(evs_version_string(), EVS_VERSION_STRING);
}

static void make_error(evs_store *s)
{
    evs_event_in e = tu_event("Ev", "{");
    assert_evs(EVS_EINVAL, evs_append(NULL, s, "victim-1", EVS_EXPECT_ANY, &e, 1));
    assert_int_equal(evs_errcode(), EVS_EINVAL);
    assert_true(strlen(evs_errmsg()) > 0);
}

static void expect_clear(const char *what)
{
    if (evs_errmsg()[0] != '\0' || evs_errcode() != 0)
        fail_msg("after a successful %s: code %d, message '%s'", what, evs_errcode(), evs_errmsg());
}

typedef struct thread_probe {
    evs_store *store;
    bool was_clear; /* the new thread's message was empty at first */
    bool own_error; /* it then got its own error and message */
} thread_probe;

static void *other_thread(void *arg)
{
    thread_probe *p = arg;
    p->was_clear = evs_errmsg()[0] == '\0' && evs_errcode() == 0;
    evs_event_in e = tu_event("Ev", "[");
    p->own_error = evs_append(NULL, p->store, "victim-1", EVS_EXPECT_ANY, &e, 1) == EVS_EINVAL &&
                   strstr(evs_errmsg(), "data") != NULL;
    return NULL;
}

static void test_errmsg_cleared(void **state)
{
    fixture *f = *state;
    evs_store *s = f->store;
    make_error(s);
    evs_event_in e = tu_event("Ev", "{}");
    assert_evs_ok(evs_append(NULL, s, "victim-1", EVS_EXPECT_ANY, &e, 1));
    expect_clear("evs_append");
    make_error(s);
    evs_batch_in b = {"victim-1", EVS_EXPECT_ANY, &e, 1};
    assert_evs_ok(evs_append_multi(NULL, s, &b, 1));
    expect_clear("evs_append_multi");
    make_error(s);
    evs_stream_info info;
    assert_evs_ok(evs_stream_get(&info, s, "victim-1"));
    expect_clear("evs_stream_get");
    make_error(s);
    assert_evs_ok(evs_stream_get(&info, s, "missing-1"));
    expect_clear("evs_stream_get of a missing stream");
    make_error(s);
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, NULL));
    expect_clear("evs_cursor_open");
    make_error(s);
    evs_event ev;
    assert_int_equal(evs_cursor_next(&ev, c), 1);
    expect_clear("evs_cursor_next");
    evs_cursor_close(c);
    make_error(s);
    evs_stat_info si;
    assert_evs_ok(evs_stat(&si, s));
    expect_clear("evs_stat");
    make_error(s);
    int64_t pos;
    assert_evs_ok(evs_find_time(&pos, s, 0));
    expect_clear("evs_find_time");
    make_error(s);
    assert_evs_ok(evs_wait(NULL, s, 0, 0));
    expect_clear("evs_wait");
    make_error(s);
    evs_stream_iter *it;
    assert_evs_ok(evs_streams_open(&it, s, NULL));
    expect_clear("evs_streams_open");
    evs_streams_close(it);
    make_error(s);
    assert_evs_ok(evs_sync(s));
    expect_clear("evs_sync");
    make_error(s);
    assert_evs_ok(evs_verify(NULL, s, NULL, NULL));
    expect_clear("evs_verify");
    make_error(s);
    assert_evs_ok(evs_json_validate("{}", 2));
    expect_clear("evs_json_validate");
    make_error(s);
    evs_options o;
    assert_evs_ok(evs_options_init(&o, EVS_OPTIONS_VERSION));
    expect_clear("evs_options_init");
    make_error(s);
    o = tu_fast_options();
    o.flags = EVS_OPEN_READONLY;
    assert_evs_ok(evs_open(&f->other, f->dir, &o));
    expect_clear("evs_open");
    make_error(s);
    assert_evs_ok(evs_close(f->other));
    f->other = NULL;
    expect_clear("evs_close");

    /* Per thread: another thread neither sees this thread's message nor clobbers it. */
    make_error(s);
    char mine[1024];
    snprintf(mine, sizeof mine, "%s", evs_errmsg());
    thread_probe probe = {s, false, false};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, other_thread, &probe), 0);
    pthread_join(th, NULL);
    assert_true(probe.was_clear);
    assert_true(probe.own_error);
    assert_string_equal(evs_errmsg(), mine);
    assert_int_equal(evs_errcode(), EVS_EINVAL);
}

/* The public helpers refuse bad text with EVS_EINVAL and say where. */
static void test_bad_helper_input(void **state)
{
    (void)state;
    unsigned char id[16], keep[16];
    memset(id, 0x5a, sizeof id);
    memcpy(keep, id, 16);
    assert_evs(EVS_EINVAL, evs_uuid_parse(id, "not-a-uuid", 10));
    assert_memory_equal(id, keep, 16);
    assert_evs(EVS_EINVAL, evs_uuid_parse(id, "01234567-89ab-cdef-fedc-ba987654321g", 36));
    assert_evs(EVS_EINVAL, evs_uuid_parse(id, "0123456789abcdeffedcba9876543210abcd", 36));
    assert_evs_ok(evs_uuid_parse(id, "01234567-89AB-cdef-FEDC-ba9876543210", 36));
    char text[37];
    evs_uuid_format(text, id);
    assert_string_equal(text, "01234567-89ab-cdef-fedc-ba9876543210");

    int64_t ts = 42;
    assert_evs(EVS_EINVAL, evs_time_parse(&ts, "yesterday", 9));
    assert_evs(EVS_EINVAL, evs_time_parse(&ts, "2026-13-01T00:00:00Z", 20));
    assert_evs(EVS_EINVAL, evs_time_parse(&ts, "2026-11-23T12:00:00", 19)); /* no offset */
    assert_evs(EVS_EINVAL, evs_time_parse(&ts, "2026-11-23T12:00:00.Z", 21));
    assert_int_equal(ts, 42);
    assert_evs_ok(evs_time_parse(&ts, "2026-11-23T12:00:00.000000001Z", 30));
    char buf[40];
    assert_int_equal(evs_time_format(buf, sizeof buf, ts), 30);
    assert_string_equal(buf, "2026-11-23T12:00:00.000000001Z");
    int64_t ts2;
    assert_evs_ok(evs_time_parse(&ts2, "2026-11-23T13:30:00.000000001+01:30", 35));
    assert_int_equal(ts2, ts);

    assert_evs(EVS_EINVAL, evs_json_validate(NULL, 0));
    assert_evs(EVS_EINVAL, evs_json_validate("", 0));
    assert_evs(EVS_EINVAL, evs_json_validate("[1,2", 4));
    assert_errmsg_has("byte");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, tu_victim_teardown)
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        T(test_bad_stream_names),
        T(test_bad_types),
        T(test_bad_data),
        T(test_bad_metadata),
        T(test_event_too_big),
        T(test_bad_counts_and_expected),
        T(test_bad_queries),
        T(test_readonly),
        T(test_cursor_after_close),
        T(test_stream_iter_after_close),
        T(test_error_names),
        T(test_bad_helper_input),
        T(test_errmsg_cleared),
    };
    /* clang-format on */
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
