/*
 * testutil.h - helpers shared by the C tests: temporary store directories, simple
 * event builders, and assertions that print the library's error message.
 * Header-only so each test executable stays one file plus this.
 */
#ifndef EVS_TESTUTIL_H
#define EVS_TESTUTIL_H

#include "evstore.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h> /* cmocka.h needs it (and stdarg.h, stddef.h) first */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rmtree.h" /* tu_rmtree: remove a test's store */

/* Assert that an evstore call returned `want`; on failure print evs_errmsg(). */
#define assert_evs(want, call)                                                                     \
    do {                                                                                           \
        int evs_rc_ = (call);                                                                      \
        if (evs_rc_ != (want))                                                                     \
            print_error("%s:%d: %s returned %d (%s), want %d; message: %s\n", __FILE__, __LINE__,  \
                        #call, evs_rc_, evs_errname(evs_rc_), (int)(want), evs_errmsg());          \
        assert_int_equal(evs_rc_, (want));                                                         \
    } while (0)

#define assert_evs_ok(call) assert_evs(0, call)

/* Assert that the calling thread's error message contains `needle`. */
#define assert_errmsg_has(needle)                                                                  \
    do {                                                                                           \
        if (!strstr(evs_errmsg(), (needle)))                                                       \
            print_error("%s:%d: message '%s' lacks '%s'\n", __FILE__, __LINE__, evs_errmsg(),      \
                        (needle));                                                                 \
        assert_non_null(strstr(evs_errmsg(), (needle)));                                           \
    } while (0)

/* The backend the conformance tests run against: EVS_TEST_BACKEND=sqlite makes every
 * store location tu_tmpdir hands out "sqlite:DIR/store.db"; =pg a schema named after
 * the temporary directory in the test server's database,
 * "postgresql://evs@127.0.0.1:PORT/postgres?schema=evs-TAG-XXXXXX" (the server:
 * tests/pg/pg_server.c, its URI in the file $EVS_TEST_PG_STATE); unset or "file", a
 * directory of the file backend. */
static inline const char *tu_backend(void)
{
    const char *b = getenv("EVS_TEST_BACKEND");
    return b && *b ? b : "file";
}

static inline bool tu_backend_is(const char *name)
{
    return strcmp(tu_backend(), name) == 0;
}

/* A test that cannot run on this backend says so and why, in its output and as a
 * cmocka skip that the summary counts; never a silent pass. */
#define tu_not_supported(why)                                                                      \
    do {                                                                                           \
        print_message("not supported on the %s backend: %s\n", tu_backend(), (why));              \
        skip();                                                                                    \
    } while (0)

static inline const char *tu_tmpbase(void)
{
    const char *base = getenv("EVS_TEST_TMPDIR");
    return base && *base ? base : "/tmp";
}

/* The test server's URI without a schema ("postgresql://evs@127.0.0.1:PORT/postgres"),
 * from the fixture's state file: its second line. */
static inline void tu_pg_uri(char *buf, size_t len)
{
    const char *state = getenv("EVS_TEST_PG_STATE");
    FILE *f = state && *state ? fopen(state, "r") : NULL;
    char dir[4096];
    if (!f || !fgets(dir, sizeof dir, f) || !fgets(buf, (int)len, f)) {
        fprintf(stderr, "no PostgreSQL test server: EVS_TEST_PG_STATE=%s cannot be read (the "
                        "pg_server_start fixture makes it)\n",
                state ? state : "(unset)");
        abort();
    }
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
}

/* A fresh store location in buf under a new temporary directory (the store itself is
 * NOT created, so evs_open creates it). Lives under $EVS_TEST_TMPDIR or /tmp. */
static inline void tu_tmpdir(char *buf, size_t len, const char *tag)
{
    const char *base = tu_tmpbase();
    mkdir(base, 0755);
    char tmpl[4096];
    if (snprintf(tmpl, sizeof tmpl, "%s/evs-%s-XXXXXX", base, tag) >= (int)sizeof tmpl ||
        !mkdtemp(tmpl)) {
        fprintf(stderr, "mkdtemp %s: %s\n", tmpl, strerror(errno));
        abort();
    }
    bool sqlite = tu_backend_is("sqlite");
    if (tu_backend_is("pg")) {
        char uri[512];
        tu_pg_uri(uri, sizeof uri);
        /* The schema is named after the directory: tu_local_path finds one from the
         * other. */
        if (snprintf(buf, len, "%s?schema=%s", uri, strrchr(tmpl, '/') + 1) >= (int)len)
            abort();
        return;
    }
    if (!sqlite && !tu_backend_is("file")) {
        fprintf(stderr, "EVS_TEST_BACKEND=%s: not a backend the tests know\n", tu_backend());
        abort();
    }
    if (snprintf(buf, len, sqlite ? "sqlite:%s/store.db" : "%s/store", tmpl) >= (int)len)
        abort();
}

/* The temporary directory of a store location tu_tmpdir handed out, and the path in it
 * that stands for the store ("DIR/store" for a schema). */
static inline void tu_local_path(char *buf, size_t len, const char *location)
{
    const char *schema = strstr(location, "?schema=");
    if (strncmp(location, "postgresql://", 13) == 0 && schema) {
        if (snprintf(buf, len, "%s/%s/store", tu_tmpbase(), schema + 8) >= (int)len)
            abort();
        return;
    }
    if (strncmp(location, "sqlite:", 7) == 0)
        location += 7;
    if (snprintf(buf, len, "%s", location) >= (int)len)
        abort();
}

/* A plain file's path beside the store at `location` (a read model's state file):
 * the location's path with `suffix` added, whatever the backend. */
static inline void tu_beside(char *buf, size_t len, const char *location, const char *suffix)
{
    char path[4096];
    tu_local_path(path, sizeof path, location);
    if (snprintf(buf, len, "%s%s", path, suffix) >= (int)len)
        abort();
}

/* An SQLite store location "sqlite:DIR/store.db" in a new temporary directory, whatever
 * EVS_TEST_BACKEND says: for the SQLite backend's own tests. tu_cleanup removes it. */
static inline void tu_sqlite_tmp(char *buf, size_t len, const char *tag)
{
    const char *base = tu_tmpbase();
    mkdir(base, 0755);
    char tmpl[4096];
    if (snprintf(tmpl, sizeof tmpl, "%s/evs-%s-XXXXXX", base, tag) >= (int)sizeof tmpl ||
        !mkdtemp(tmpl))
        abort();
    if (snprintf(buf, len, "sqlite:%s/store.db", tmpl) >= (int)len)
        abort();
}

/* A PostgreSQL store location in the test server, whatever EVS_TEST_BACKEND says: for
 * the PostgreSQL backend's own tests. tu_cleanup removes its directory. */
static inline void tu_pg_tmp(char *buf, size_t len, const char *tag)
{
    const char *was = getenv("EVS_TEST_BACKEND");
    char keep[64];
    snprintf(keep, sizeof keep, "%s", was ? was : "");
    setenv("EVS_TEST_BACKEND", "pg", 1);
    tu_tmpdir(buf, len, tag);
    if (was)
        setenv("EVS_TEST_BACKEND", keep, 1);
    else
        unsetenv("EVS_TEST_BACKEND");
}

/* Remove the temporary directory made by tu_tmpdir, and the store in it (a schema in
 * the test server stays: the server is thrown away whole). */
static inline void tu_cleanup(const char *store_dir)
{
    char parent[4096];
    tu_local_path(parent, sizeof parent, store_dir);
    char *slash = strrchr(parent, '/');
    if (slash)
        *slash = '\0';
    tu_rmtree(parent);
}

/* An evs_event_in with a type and NUL-terminated JSON data (no metadata, new id). */
/* An event's data as a C string in buf (cut to cap - 1 bytes): the API's strings are
 * not NUL-terminated, and the bytes after them belong to whatever follows. */
static inline const char *tu_data_str(const evs_event *ev, char *buf, size_t cap)
{
    size_t n = ev->data_len < cap - 1 ? ev->data_len : cap - 1;
    memcpy(buf, ev->data, n);
    buf[n] = '\0';
    return buf;
}

static inline evs_event_in tu_event(const char *type, const char *json)
{
    evs_event_in e;
    memset(&e, 0, sizeof e);
    e.type = type;
    e.data = json;
    e.data_len = strlen(json);
    return e;
}

/* Append one event, asserting success; returns its position. */
static inline int64_t tu_append1(evs_store *s, const char *stream, const char *type,
                                 const char *json)
{
    evs_event_in e = tu_event(type, json);
    evs_append_result r;
    assert_evs_ok(evs_append(&r, s, stream, EVS_EXPECT_ANY, &e, 1));
    return r.first_pos;
}

/* Count the events a query selects; a failure prints the library's message. */
static inline int64_t tu_count(evs_store *s, const evs_query *q)
{
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, q));
    evs_event ev;
    int rc;
    int64_t n = 0;
    while ((rc = evs_cursor_next(&ev, c)) > 0)
        n++;
    evs_cursor_close(c);
    assert_evs_ok(rc);
    return n;
}

/* A seeded generator for randomised tests: tu_seed_rng() prints the seed, and
 * EVS_TEST_SEED replays a run. */
__attribute__((unused)) static uint64_t tu_rng_state;

static inline uint64_t tu_rnd(void)
{
    uint64_t x = tu_rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    tu_rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t tu_rnd_below(uint64_t n)
{
    return tu_rnd() % n;
}

static inline void tu_seed_rng(void)
{
    const char *env = getenv("EVS_TEST_SEED");
    uint64_t seed = env && *env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
    print_message("seed %llu (set EVS_TEST_SEED to replay)\n", (unsigned long long)seed);
    tu_rng_state = seed * 2654435761u + 0x9E3779B97F4A7C15ULL;
    if (!tu_rng_state)
        tu_rng_state = 1;
}

/* Options for fast tests: no fsync (durability is tested separately). */
static inline evs_options tu_fast_options(void)
{
    evs_options o = EVS_OPTIONS_INIT;
    o.sync_mode = EVS_SYNC_NONE;
    return o;
}

/* A test's store in a cmocka fixture: tu_setup makes a fresh directory, tu_teardown
 * closes the store if it is open and removes the directory, also after a failed
 * assertion. Use with cmocka_unit_test_setup_teardown(test, tu_setup, tu_teardown). */
typedef struct tu_fixture {
    char dir[4096];
    evs_store *s;     /* open store, or NULL */
    evs_options opts; /* what tu_fx_open opened it with, for tu_fx_reopen */
} tu_fixture;

static inline int tu_setup(void **state)
{
    tu_fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    tu_tmpdir(f->dir, sizeof f->dir, "fx");
    *state = f;
    return 0;
}

static inline int tu_teardown(void **state)
{
    tu_fixture *f = *state;
    evs_close(f->s);
    tu_cleanup(f->dir);
    free(f);
    return 0;
}

/* A bare store location in a cmocka fixture, for tests whose stores other threads or
 * processes open: *state is the path (4096 bytes, tu_tmpdir with `tag`), removed with
 * its directory by tu_teardown_dir, also after a failed assertion. Out of line: inlined
 * into a caller, gcc's -Wformat-truncation cannot prove that "<dir>/store" fits. */
__attribute__((noinline, unused)) static int tu_setup_dir(void **state, const char *tag)
{
    char *dir = malloc(4096);
    if (!dir)
        return -1;
    tu_tmpdir(dir, 4096, tag);
    *state = dir;
    return 0;
}

static inline int tu_teardown_dir(void **state)
{
    char *dir = *state;
    if (dir) {
        tu_cleanup(dir);
        free(dir);
    }
    return 0;
}

/* Open (or reopen) the fixture's store; NULL options = tu_fast_options(). */
static inline evs_store *tu_fx_open(tu_fixture *f, const evs_options *o)
{
    f->opts = o ? *o : tu_fast_options();
    assert_null(f->s);
    assert_evs_ok(evs_open(&f->s, f->dir, &f->opts));
    return f->s;
}

static inline void tu_fx_close(tu_fixture *f)
{
    evs_store *s = f->s;
    f->s = NULL;
    assert_evs_ok(evs_close(s));
}

/* Close the fixture's store and open it again with the same options. */
static inline evs_store *tu_fx_reopen(tu_fixture *f)
{
    tu_fx_close(f);
    assert_evs_ok(evs_open(&f->s, f->dir, &f->opts));
    return f->s;
}

/* tu_setup, then the store opened with tu_fast_options() in the fixture. */
static inline int tu_setup_open(void **state)
{
    if (tu_setup(state) < 0)
        return -1;
    tu_fixture *f = *state;
    evs_options o = tu_fast_options();
    if (evs_open(&f->s, f->dir, &o) < 0) {
        tu_cleanup(f->dir);
        free(f);
        return -1;
    }
    return 0;
}

/* Milliseconds on the monotonic clock, for measuring waits. */
static inline int64_t tu_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep the whole time, also when a signal (a child's SIGCHLD) interrupts it. */
static inline void tu_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Consumer `name`'s checkpoint as stored (the listing reads it from disk), and its
 * whole listing into *copy when not NULL; -2 when there is no such consumer. */
static inline int64_t tu_consumer_stored(evs_store *s, const char *name, evs_consumer_info *copy)
{
    evs_consumer_iter *it;
    assert_evs_ok(evs_consumers_open(&it, s));
    evs_consumer_info info;
    int64_t r = -2;
    while (evs_consumers_next(&info, it) > 0) {
        if (strcmp(info.name, name) == 0) {
            r = info.checkpoint;
            if (copy)
                *copy = info;
        }
    }
    evs_consumers_close(it);
    return r;
}

/* Take the subscription's next event, which must arrive within 2 s; returns its
 * position. */
static inline int64_t tu_next_pos(evs_subscription *sub)
{
    evs_event ev;
    assert_evs(1, evs_subscription_next(&ev, sub, 2000));
    return ev.pos;
}

/* The same for a durable consumer. */
static inline int64_t tu_consumer_next_pos(evs_consumer *c)
{
    evs_event ev;
    assert_evs(1, evs_consumer_next(&ev, c, 2000));
    return ev.pos;
}

/* tu_setup_open, then events 1..20 alternating between stream odd-1 (type Odd) and
 * even-1 (type Even): the consumer tests' fixture. */
static inline int tu_setup_odd_even(void **state)
{
    if (tu_setup_open(state) < 0)
        return -1;
    tu_fixture *f = *state;
    for (int i = 1; i <= 20; i++)
        tu_append1(f->s, i % 2 ? "odd-1" : "even-1", i % 2 ? "Odd" : "Even", "{}");
    return 0;
}

/* The subscription has nothing more right now. */
static inline void tu_expect_nothing(evs_subscription *sub)
{
    evs_event ev;
    assert_evs(0, evs_subscription_next(&ev, sub, 0));
}

#endif /* EVS_TESTUTIL_H */
