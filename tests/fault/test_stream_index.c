/*
 * test_stream_index.c - the persistent stream index (the runs in stream-index/) is a cache:
 * stream lookups, whole-stream reads and listings give the log's truth over stores
 * whose index is present, missing, damaged, stale, or lying with correct checksums;
 * a writer that finds it wrong rebuilds it before it appends; the writer's memory for
 * stream state stays bounded; and writers killed while they write runs leave a store
 * that opens and answers correctly.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "core.h"
#include "faultutil.h"
#include "file_backend.h"
#include "format.h"
#include "streamtab.h"

#define STREAMS 1500
#define ROUNDS  3 /* fill rounds: about STREAMS * ROUNDS / 2 events each */

typedef struct model {
    int64_t last_version[STREAMS]; /* -1: no such stream */
    int64_t first_pos[STREAMS];
    int64_t last_pos[STREAMS];
    uint64_t rng;
} model;

static uint64_t next_rand(model *m)
{
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return m->rng;
}

static void model_init(model *m)
{
    for (int k = 0; k < STREAMS; k++)
        m->last_version[k] = -1;
    m->rng = 0x2545f4914f6cdd1dull;
}

/* Stream k's name: some longer than an overlay entry keeps inline. */
static const char *stream_name(int k, char *buf, size_t len)
{
    snprintf(buf, len, k % 7 ? "s-%d" : "a-much-longer-stream-name-of-customer-%d", k);
    return buf;
}

/* Append one event to stream k, with the expected version the model has. */
static void append_to(evs_store *s, model *m, int k)
{
    char name[64], json[96];
    snprintf(json, sizeof json, "{\"k\":%d,\"v\":%lld}", k, (long long)m->last_version[k] + 1);
    evs_event_in e = tu_event("T", json);
    evs_append_result r;
    assert_evs_ok(evs_append(&r, s, stream_name(k, name, sizeof name),
                             m->last_version[k] < 0 ? EVS_EXPECT_NO_STREAM : m->last_version[k], &e,
                             1));
    if (m->last_version[k] < 0)
        m->first_pos[k] = r.first_pos;
    m->last_version[k] = r.version;
    m->last_pos[k] = r.last_pos;
}

/* A round: every stream k < `upto` once in a pseudo-random order and half of them once
 * more, so that streams spread over many runs. */
static void fill(evs_store *s, model *m, int upto)
{
    for (int i = 0; i < upto + upto / 2; i++)
        append_to(s, m,
                  i < upto ? (int)((uint64_t)i * 7919 % (uint64_t)upto)
                           : (int)(next_rand(m) % (uint64_t)upto));
}

/* Stream k read whole: versions 0.. in order, payloads naming k and the version. */
static int64_t read_whole(evs_store *s, int k)
{
    char name[64], want[64], buf[128];
    evs_query q = EVS_QUERY_INIT;
    q.stream = stream_name(k, name, sizeof name);
    evs_cursor *c;
    evs_event e;
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    int64_t v = 0;
    int rc;
    while ((rc = evs_cursor_next(&e, c)) > 0) {
        assert_int_equal(e.version, v);
        snprintf(want, sizeof want, "{\"k\":%d,\"v\":%lld}", k, (long long)v);
        assert_string_equal(tu_data_str(&e, buf, sizeof buf), want);
        v++;
    }
    assert_int_equal(rc, 0);
    evs_cursor_close(c);
    return v;
}

/* Every answer about streams is the model's: info of each, every 13th read whole,
 * streams that never were, the listing and the count. */
static void check_model(evs_store *s, const model *m)
{
    char name[64];
    int64_t existing = 0;
    for (int k = 0; k < STREAMS; k++) {
        evs_stream_info info;
        assert_evs_ok(evs_stream_get(&info, s, stream_name(k, name, sizeof name)));
        fu_set_where("stream %s", name);
        assert_int_equal(info.last_version, m->last_version[k]);
        if (m->last_version[k] < 0) {
            assert_false(info.exists);
            continue;
        }
        existing++;
        assert_true(info.exists);
        assert_int_equal(info.first_pos, m->first_pos[k]);
        assert_int_equal(info.last_pos, m->last_pos[k]);
        if (k % 13 == 0)
            assert_int_equal(read_whole(s, k), m->last_version[k] + 1);
    }
    for (int k = 0; k < 50; k++) {
        evs_stream_info info;
        snprintf(name, sizeof name, "never-%d", k);
        assert_evs_ok(evs_stream_get(&info, s, name));
        assert_false(info.exists);
    }
    evs_stream_iter *it;
    assert_evs_ok(evs_streams_open(&it, s, NULL));
    const char *n;
    size_t nl;
    evs_stream_info info;
    int64_t listed = 0;
    int rc;
    while ((rc = evs_streams_next(&n, &nl, &info, it)) > 0)
        listed++;
    assert_int_equal(rc, 0);
    evs_streams_close(it);
    assert_int_equal(listed, existing);
    evs_stat_info st;
    assert_evs_ok(evs_stat(&st, s));
    assert_int_equal(st.stream_count, existing);
}

static evs_options index_options(void)
{
    evs_options o = tu_fast_options();
    o.checkpoint_bytes = 16u << 10; /* a run every 16 KiB of log: many runs, merges */
    return o;
}

static void index_path(const tu_fixture *f, char *buf, size_t len)
{
    snprintf(buf, len, "%s/" SIDX_DIR, f->dir);
}

/* The runs in the store's index: names into names[] (up to cap), their count. */
static size_t list_runs(const tu_fixture *f, char names[][64], size_t cap)
{
    char dir[4200];
    index_path(f, dir, sizeof dir);
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strlen(e->d_name) == 45 && strstr(e->d_name, ".run") && n < cap)
            snprintf(names[n++], 64, "%.45s", e->d_name);
    if (d)
        closedir(d);
    return n;
}

/* The run holding the most entries (the merged one). */
static void biggest_run(const tu_fixture *f, char *out, size_t len)
{
    char names[64][64], path[64];
    size_t n = list_runs(f, names, 64);
    assert_true(n > 0);
    int64_t best = -1;
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, SIDX_DIR "/%.45s", names[i]);
        int64_t size = fu_file_size_in(f->dir, path);
        if (size > best) {
            best = size;
            snprintf(out, len, "%s", path);
        }
    }
}

static void remove_index(const tu_fixture *f)
{
    char names[64][64], path[4400];
    size_t n = list_runs(f, names, 64);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/" SIDX_DIR "/%s", f->dir, names[i]);
        assert_int_equal(unlink(path), 0);
    }
}

/* A store of STREAMS * 3 / 4 streams, ROUNDS rounds, closed. */
static void build(tu_fixture *f, model *m)
{
    evs_options o = index_options();
    evs_store *s = tu_fx_open(f, &o);
    model_init(m);
    for (int r = 0; r < ROUNDS; r++)
        fill(s, m, STREAMS * 3 / 4);
    tu_fx_close(f);
}

/* This handle answers from the index: it has runs and nothing in memory but the tail. */
static void assert_uses_index(evs_store *s)
{
    file_backend *fb = (file_backend *)s->be;
    assert_evs_ok(evs__tab_catch_up(fb));
    assert_true(fb->tab.run_n > 0);
    assert_int_equal(fb->tab.count, 0);
}

static void test_present(void **state)
{
    tu_fixture *f = *state;
    model m;
    build(f, &m);
    char names[64][64];
    size_t runs = list_runs(f, names, 64);
    /* Many runs were written (a run per 16 KiB) and merged down to a few. */
    assert_true(runs >= 1 && runs <= 12);
    evs_store *s = tu_fx_reopen(f);
    assert_uses_index(s);
    check_model(s, &m);
    assert_int_equal(((file_backend *)s->be)->tab.count, 0); /* lookups add nothing */
    /* Appends on top, then the same answers from this handle and a new one. */
    fill(s, &m, STREAMS);
    check_model(s, &m);
    check_model(tu_fx_reopen(f), &m);
}

static evs_store *open_readonly(const tu_fixture *f)
{
    evs_options o = index_options();
    o.flags |= EVS_OPEN_READONLY;
    evs_store *r;
    assert_evs_ok(evs_open(&r, f->dir, &o));
    return r;
}

/* After whatever was done to the index: a reader and a writer give the model's
 * answers; the writer's appends land on the right versions; and once the writer has
 * closed, a new handle answers from an index again. */
static void check_all_ways(tu_fixture *f, model *m)
{
    evs_store *r = open_readonly(f);
    check_model(r, m);
    evs_close(r);
    evs_options o = index_options();
    evs_store *s = tu_fx_open(f, &o);
    check_model(s, m);
    fill(s, m, STREAMS);
    check_model(s, m);
    fu_verify_ok(s);
    tu_fx_close(f);
    s = tu_fx_open(f, &o);
    assert_uses_index(s);
    check_model(s, m);
}

static void test_missing(void **state)
{
    tu_fixture *f = *state;
    model m;
    build(f, &m);
    remove_index(f);
    check_all_ways(f, &m);
}

/* A byte of the merged run's entry pages, of its filter, of its header: each is a
 * damaged cache, never a wrong answer. */
static void test_damaged(void **state)
{
    tu_fixture *f = *state;
    static const int64_t where[] = {SIDX_PAGE_LEN + 100, 3 * SIDX_PAGE_LEN + 7, -100, 20};
    for (size_t i = 0; i < sizeof where / sizeof *where; i++) {
        model m;
        build(f, &m);
        char run[64];
        biggest_run(f, run, sizeof run);
        int64_t size = fu_file_size_in(f->dir, run);
        int64_t off = where[i] < 0 ? size + where[i] : where[i];
        assert_true(off < size);
        fu_set_where("byte %lld of %s", (long long)off, run);
        fu_damage(f->dir, run, off, 0x10);
        check_all_ways(f, &m);
        tu_fx_close(f);
        tu_rmtree(f->dir);
    }
}

/* An index copied aside, then put back after more appends: it covers less than the
 * log (a tail to scan), and runs of the later index left beside it do not mix in. */
static void test_stale(void **state)
{
    tu_fixture *f = *state;
    model m;
    build(f, &m);
    char dir[4200], aside[4300], cmd[13000];
    index_path(f, dir, sizeof dir);
    snprintf(aside, sizeof aside, "%s.aside", f->dir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", aside, dir, aside);
    assert_int_equal(system(cmd), 0);
    evs_options o = index_options();
    fill(tu_fx_open(f, &o), &m, STREAMS);
    tu_fx_close(f);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mv '%s' '%s'", dir, aside, dir);
    assert_int_equal(system(cmd), 0);
    check_all_ways(f, &m);
}

/* Entries that lie with correct checksums: the stream's last position moved to another
 * stream's record, or its version changed. Lookups check each entry against the log,
 * so neither is believed: readers rebuild from the log, the writer too before it
 * appends, and it writes a whole new index. */
static void lie(tu_fixture *f, int how)
{
    char run[64];
    biggest_run(f, run, sizeof run);
    unsigned char page[SIDX_PAGE_LEN];
    int told = 0;
    for (int64_t pg = 1; pg <= 3; pg++) {
        fu_read_at(f->dir, run, pg * SIDX_PAGE_LEN, page, sizeof page);
        for (uint32_t i = 1; i < evs__get_u32(page + SIDX_PG_COUNT); i += 3) {
            unsigned char *e = page + i * SIDX_ENTRY_LEN, *b = e - SIDX_ENTRY_LEN;
            uint64_t version = evs__get_u64(e + 24), first = evs__get_u64(e + 8);
            /* Lies a writer could have told: the entry stays well-formed. */
            if (how == 0 && version >= 2) {
                evs__put_u64(e + 24, version ^ 1);
                told++;
            } else if (how == 1 && version >= 1 && evs__get_u64(b + 24) >= 1 &&
                       evs__get_u64(b + 16) > first && evs__get_u64(b + 16) > version) {
                memcpy(e + 16, b + 16, 8); /* another stream's last event */
                memcpy(e + 32, b + 32, 4);
                told++;
            }
        }
        evs__put_u32(page + SIDX_PG_CRC, evs__crc32c(0, page, SIDX_PG_CRC));
        fu_write_at(f->dir, run, pg * SIDX_PAGE_LEN, page, sizeof page);
    }
    assert_true(told > 10);
}

static void test_lying(void **state)
{
    tu_fixture *f = *state;
    for (int how = 0; how < 2; how++) {
        model m;
        build(f, &m);
        fu_set_where("lie %d", how);
        lie(f, how);
        check_all_ways(f, &m);
        tu_fx_close(f);
        tu_rmtree(f->dir);
    }
}

/* The writer keeps in memory at most TAB_PERSIST_STREAMS streams (and one round's):
 * past that it writes them as a run and forgets them. */
static void test_writer_memory_bounded(void **state)
{
    tu_fixture *f = *state;
    evs_options o = tu_fast_options(); /* checkpoint_bytes far away: streams decide */
    evs_store *s = tu_fx_open(f, &o);
    file_backend *fb = (file_backend *)s->be;
    enum { BATCH = 1000, MANY = (TAB_PERSIST_STREAMS / BATCH + 10) * BATCH };
    static char names[BATCH][32];
    static evs_event_in in[BATCH];
    static evs_batch_in b[BATCH];
    size_t most = 0;
    for (int done = 0; done < MANY; done += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            snprintf(names[i], sizeof names[i], "m-%d", done + i);
            in[i] = tu_event("T", "{}");
            b[i] = (evs_batch_in){names[i], EVS_EXPECT_NO_STREAM, &in[i], 1};
        }
        assert_evs_ok(evs_append_multi(NULL, s, b, BATCH));
        most = fb->tab.count > most ? fb->tab.count : most;
    }
    assert_true(most <= TAB_PERSIST_STREAMS + BATCH);
    assert_true(fb->tab.count < MANY / 2);
    assert_true(fb->tab.run_n > 0);
    evs_stat_info st;
    assert_evs_ok(evs_stat(&st, s));
    assert_int_equal(st.stream_count, MANY);
    evs_stream_info info;
    assert_evs_ok(evs_stream_get(&info, s, "m-0"));
    assert_int_equal(info.last_version, 0);
    assert_int_equal(info.first_pos, 1);
    /* A stream appended to again after it was forgotten: from the index. */
    evs_event_in e = tu_event("T", "{}");
    evs_append_result r;
    assert_evs_ok(evs_append(&r, s, "m-5", 0, &e, 1));
    assert_int_equal(r.version, 1);
    fu_verify_ok(s);
}

/* Writers killed at random moments while they append and write and merge runs (a run
 * every 2 KiB of log): each time the store opens, every stream reads whole with
 * versions 0..its last, the index agrees with the log, and appends at the versions it
 * gives succeed. */
#define CRASH_STREAMS 300

static void crash_child(const char *dir, unsigned seed)
{
    evs_options o = tu_fast_options();
    o.checkpoint_bytes = 2u << 10;
    evs_store *s;
    if (evs_open(&s, dir, &o) != 0)
        _exit(3);
    char name[64];
    for (uint64_t x = seed | 1;;) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        evs_event_in e = tu_event("T", "{}");
        snprintf(name, sizeof name, "c-%d", (int)(x % CRASH_STREAMS));
        if (evs_append(NULL, s, name, EVS_EXPECT_ANY, &e, 1) != 0)
            _exit(4);
    }
}

static void check_after_crash(evs_store *s)
{
    char name[64];
    for (int k = 0; k < CRASH_STREAMS; k++) {
        snprintf(name, sizeof name, "c-%d", k);
        evs_stream_info info;
        assert_evs_ok(evs_stream_get(&info, s, name));
        evs_query q = EVS_QUERY_INIT;
        q.stream = name;
        assert_int_equal(tu_count(s, &q), info.last_version + 1);
        evs_event_in e = tu_event("T", "{}");
        evs_append_result r;
        fu_check_evs(0, evs_append(&r, s, name,
                                   info.last_version < 0 ? EVS_EXPECT_NO_STREAM : info.last_version,
                                   &e, 1));
    }
    fu_verify_ok(s);
}

static void test_crash_while_indexing(void **state)
{
    tu_fixture *f = *state;
    tu_fx_close(f);
    for (unsigned trial = 0; trial < 12; trial++) {
        fu_set_where("trial %u", trial);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            crash_child(f->dir, 7919u * (trial + 1));
        struct timespec ts = {0, (long)(30 + (trial * 37) % 170) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st));
        evs_store *s = tu_fx_open(f, NULL);
        check_after_crash(s);
        tu_fx_close(f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_present, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_missing, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_damaged, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_stale, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_lying, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_writer_memory_bounded, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_crash_while_indexing, tu_setup_open, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
