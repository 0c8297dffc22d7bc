/*
 * test_index_rebuild.c - the stream index is a cache of the log (docs/DESIGN.md, invariant 1):
 * whatever happens to its runs (stream-index/), a reopened store answers exactly as before.
 *
 * One store of 3000 streams and 60000 events is built with a small checkpoint_bytes so
 * that the index has runs; a copy of the index as it was halfway is kept, and a second
 * store with the same stream names provides a foreign one. Each test then replaces the
 * index - (a) deleted, (b) garbage, (c) runs cut to 10 bytes, (d) another store's, (e)
 * an older one of this store (stale), (f) the right headers and page checksums over
 * entries that lie - or deletes the .idx offset indexes (g), reopens, and checks every
 * stream's info, the stream listings, reads of sample streams, evs_stat, that
 * evs_verify passes, and that expected-version checks see the true stream versions.
 */
#include "testutil.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>
#include <unistd.h>

#define NSTREAMS 3000
#define NEVENTS  60000
#define NSAMPLE  20
#define MAXPOS   8192 /* positions kept per sample stream */

/* What the appends said: the truth to compare with. */
typedef struct sstate {
    int64_t first_pos;
    int64_t last_pos;
    int64_t last_version;
} sstate;

typedef struct world {
    char dir[4096];   /* the store */
    char other[4200]; /* another store, same stream names */
    evs_options opts;
    evs_store *store; /* open during a test only */
    sstate st[NSTREAMS];
    int sample[NSAMPLE]; /* streams whose positions are kept */
    int64_t *sample_pos[NSAMPLE];
    size_t sample_n[NSAMPLE];
    char index[4200];     /* the store's stream-index folder */
    char final_idx[4200]; /* a copy of it as the build left it */
    char half_idx[4200];  /* as it was halfway */
    char other_idx[4200]; /* the other store's */
    bool have_half;
} world;

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void stream_name(char *buf, size_t len, int i)
{
    snprintf(buf, len, "st-%d", i);
}

static void path_of(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Stream index runs (src/file/format.h): entries of 40 bytes in pages of 4096 bytes
 * after a header page; an entry's last position at +16, last version at +24; a page's
 * entry count at 4080, its CRC32C of bytes [0,4092) at 4092. */
#define RUN_PAGE     4096
#define RUN_ENT      40
#define RUN_PG_COUNT 4080
#define RUN_PG_CRC   4092

/* Replace folder `to` by a copy of folder `from` (none: `to` is removed). */
static void copy_dir(const char *from, const char *to)
{
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && { [ ! -d '%s' ] || cp -a '%s' '%s'; }", to, from,
             from, to);
    assert_int_equal(system(cmd), 0);
}

/* Call fn on every run file of folder dir; returns how many. */
static int each_run(const char *dir, void (*fn)(const world *w, const char *path), const world *w)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".run") != 0)
            continue;
        char path[8400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        fn(w, path);
        n++;
    }
    closedir(d);
    return n;
}

/* ---- building ----------------------------------------------------------------------- */

static void note(world *w, int s, const evs_append_result *r)
{
    sstate *st = &w->st[s];
    if (st->last_version < 0)
        st->first_pos = r->first_pos;
    st->last_pos = r->last_pos;
    st->last_version = r->version;
    for (int k = 0; k < NSAMPLE; k++) {
        if (w->sample[k] != s)
            continue;
        for (int64_t p = r->first_pos; p <= r->last_pos; p++) {
            assert_true(w->sample_n[k] < MAXPOS);
            w->sample_pos[k][w->sample_n[k]++] = p;
        }
    }
}

static void build(world *w)
{
    evs_store *s;
    assert_evs_ok(evs_open(&s, w->dir, &w->opts));
    for (int i = 0; i < NSTREAMS; i++)
        w->st[i].last_version = -1;
    int64_t total = 0;
    static char data[40][64];
    evs_event_in in[40];
    while (total < NEVENTS) {
        /* Every stream gets a first batch, then random ones more. */
        int st = total < NSTREAMS * 3 ? (int)(total / 3) : (int)(rnd() % NSTREAMS);
        size_t n = total < NSTREAMS * 3 ? 3 : 1 + (size_t)(rnd() % 40);
        if (total + (int64_t)n > NEVENTS)
            n = (size_t)(NEVENTS - total);
        for (size_t i = 0; i < n; i++) {
            snprintf(data[i], sizeof data[i], "{\"s\":%d,\"n\":%" PRId64 "}", st,
                     total + (int64_t)i);
            in[i] = tu_event(i % 2 ? "Odd" : "Even", data[i]);
        }
        char name[32];
        stream_name(name, sizeof name, st);
        int64_t expected =
            w->st[st].last_version < 0 ? EVS_EXPECT_NO_STREAM : w->st[st].last_version;
        evs_append_result r;
        assert_evs_ok(evs_append(&r, s, name, expected, in, n));
        note(w, st, &r);
        total += (int64_t)n;
        if (!w->have_half && total >= NEVENTS / 2) {
            copy_dir(w->index, w->half_idx);
            w->have_half = true;
        }
    }
    assert_evs_ok(evs_close(s));
}

static void build_other(world *w)
{
    evs_options o = tu_fast_options();
    o.checkpoint_bytes = 16u << 10;
    evs_store *s;
    assert_evs_ok(evs_open(&s, w->other, &o));
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < 500; i++) {
            char name[32];
            stream_name(name, sizeof name, i);
            evs_event_in e[2] = {tu_event("Ev", "{\"other\":true}"),
                                 tu_event("Ev", "{\"other\":false}")};
            assert_evs_ok(evs_append(NULL, s, name, EVS_EXPECT_ANY, e, 2));
        }
    }
    assert_evs_ok(evs_close(s));
    char path[4400];
    path_of(path, sizeof path, w->other, "stream-index");
    copy_dir(path, w->other_idx);
}

static int group_setup(void **state)
{
    world *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    *state = w;
    tu_tmpdir(w->dir, sizeof w->dir, "core-idx");
    snprintf(w->other, sizeof w->other, "%s-other", w->dir);
    w->opts = tu_fast_options();
    w->opts.checkpoint_bytes = 64u << 10;
    w->opts.segment_size = 1u << 20;
    for (int k = 0; k < NSAMPLE; k++) {
        w->sample[k] = k == 0 ? 0 : k == 1 ? NSTREAMS - 1 : (int)(rnd() % NSTREAMS);
        w->sample_pos[k] = calloc(MAXPOS, sizeof(int64_t));
        if (!w->sample_pos[k])
            return -1;
    }
    path_of(w->index, sizeof w->index, w->dir, "stream-index");
    snprintf(w->final_idx, sizeof w->final_idx, "%s-final-index", w->dir);
    snprintf(w->half_idx, sizeof w->half_idx, "%s-half-index", w->dir);
    snprintf(w->other_idx, sizeof w->other_idx, "%s-other-index", w->dir);
    build(w);
    build_other(w);
    copy_dir(w->index, w->final_idx);
    /* The scenarios need all three indexes. */
    DIR *d[3] = {opendir(w->final_idx), opendir(w->half_idx), opendir(w->other_idx)};
    bool ok = d[0] && d[1] && d[2];
    for (int i = 0; i < 3; i++)
        if (d[i])
            closedir(d[i]);
    if (!ok) {
        print_error("a stream index is missing: final, halfway or the other store's\n");
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    world *w = *state;
    for (int k = 0; k < NSAMPLE; k++)
        free(w->sample_pos[k]);
    tu_cleanup(w->dir); /* the other store and the copies sit in the same temporary directory */
    free(w);
    return 0;
}

/* Each scenario starts from the store as built, its index included. */
static int setup(void **state)
{
    world *w = *state;
    copy_dir(w->final_idx, w->index);
    return 0;
}

static int teardown(void **state)
{
    world *w = *state;
    evs_close(w->store);
    w->store = NULL;
    return 0;
}

/* ---- checking ----------------------------------------------------------------------- */

static void check_info(const world *w, int s, const evs_stream_info *info)
{
    const sstate *st = &w->st[s];
    if (info->last_version != st->last_version || info->first_pos != st->first_pos ||
        info->last_pos != st->last_pos || info->exists != 1 ||
        info->event_count != st->last_version + 1)
        fail_msg("stream st-%d: exists %d, version %" PRId64 ", count %" PRId64 ", first %" PRId64
                 ", last %" PRId64 "; want version %" PRId64 ", first %" PRId64 ", last %" PRId64,
                 s, info->exists, info->last_version, info->event_count, info->first_pos,
                 info->last_pos, st->last_version, st->first_pos, st->last_pos);
}

static void check_listing(const world *w, evs_store *s, const char *prefix)
{
    static unsigned char seen[NSTREAMS];
    memset(seen, 0, sizeof seen);
    evs_stream_iter *it;
    assert_evs_ok(evs_streams_open(&it, s, prefix));
    const char *name;
    size_t len;
    evs_stream_info info;
    int rc;
    size_t n = 0;
    while ((rc = evs_streams_next(&name, &len, &info, it)) > 0) {
        assert_int_equal(strncmp(name, "st-", 3), 0);
        int i = atoi(name + 3);
        assert_true(i >= 0 && i < NSTREAMS);
        char want[32];
        stream_name(want, sizeof want, i);
        assert_string_equal(name, want);
        if (seen[i]++)
            fail_msg("stream %s listed twice", name);
        check_info(w, i, &info);
        n++;
    }
    assert_evs(0, rc);
    evs_streams_close(it);
    size_t want_n = 0;
    for (int i = 0; i < NSTREAMS; i++) {
        char nm[32];
        stream_name(nm, sizeof nm, i);
        if (!prefix || strncmp(nm, prefix, strlen(prefix)) == 0)
            want_n++;
    }
    assert_int_equal(n, want_n);
}

static void check_sample_reads(const world *w, evs_store *s)
{
    for (int k = 0; k < NSAMPLE; k++) {
        char name[32];
        stream_name(name, sizeof name, w->sample[k]);
        const int64_t *pos = w->sample_pos[k];
        size_t n = w->sample_n[k];
        for (int dir = 0; dir < 2; dir++) {
            evs_query q = EVS_QUERY_INIT;
            q.stream = name;
            q.direction = dir ? EVS_BACKWARD : EVS_FORWARD;
            evs_cursor *c;
            assert_evs_ok(evs_cursor_open(&c, s, &q));
            evs_event ev;
            size_t i = 0;
            int rc;
            while ((rc = evs_cursor_next(&ev, c)) > 0) {
                assert_true(i < n);
                size_t v = dir ? n - 1 - i : i;
                assert_int_equal(ev.version, (int64_t)v);
                assert_int_equal(ev.pos, pos[v]);
                i++;
            }
            assert_evs(0, rc);
            evs_cursor_close(c);
            assert_int_equal(i, n);
        }
        /* From the middle. */
        evs_query q = EVS_QUERY_INIT;
        q.stream = name;
        q.from_version = (int64_t)n / 2;
        assert_int_equal(tu_count(s, &q), (int64_t)(n - n / 2));
    }
}

/* Expected-version checks must see the true versions: wrong ones conflict, naming
 * the actual version; nothing is written. */
static void check_conflicts(const world *w, evs_store *s)
{
    int64_t head = evs_head(s);
    for (int k = 0; k < NSAMPLE; k++) {
        int i = w->sample[k];
        char name[32], actual[48];
        stream_name(name, sizeof name, i);
        snprintf(actual, sizeof actual, "version %" PRId64, w->st[i].last_version);
        evs_event_in e = tu_event("Ev", "{}");
        assert_evs(EVS_ECONFLICT, evs_append(NULL, s, name, w->st[i].last_version + 1, &e, 1));
        assert_errmsg_has(actual);
        assert_evs(EVS_ECONFLICT, evs_append(NULL, s, name, w->st[i].last_version - 1, &e, 1));
        assert_evs(EVS_ECONFLICT, evs_append(NULL, s, name, EVS_EXPECT_NO_STREAM, &e, 1));
    }
    assert_int_equal(evs_head(s), head);
}

static void check_world(world *w)
{
    assert_null(w->store);
    assert_evs_ok(evs_open(&w->store, w->dir, &w->opts));
    evs_store *s = w->store;
    assert_int_equal(evs_head(s), NEVENTS);
    for (int i = 0; i < NSTREAMS; i++) {
        char name[32];
        stream_name(name, sizeof name, i);
        evs_stream_info info;
        assert_evs_ok(evs_stream_get(&info, s, name));
        check_info(w, i, &info);
    }
    evs_stream_info none;
    assert_evs_ok(evs_stream_get(&none, s, "st-3000"));
    assert_int_equal(none.exists, 0);
    check_listing(w, s, NULL);
    check_listing(w, s, "st-12");
    check_listing(w, s, "st-2999");
    check_sample_reads(w, s);
    evs_stat_info si;
    assert_evs_ok(evs_stat(&si, s));
    assert_int_equal(si.event_count, NEVENTS);
    assert_int_equal(si.stream_count, NSTREAMS);
    evs_verify_report rep;
    assert_evs_ok(evs_verify(&rep, s, NULL, NULL));
    assert_int_equal(rep.problem_count, 0);
    assert_int_equal(rep.events_checked, NEVENTS);
    check_conflicts(w, s);
    assert_evs_ok(evs_close(s));
    w->store = NULL;
}

/* ---- scenarios ---------------------------------------------------------------------- */

static void test_intact(void **state)
{
    check_world(*state); /* the baseline: the index as written */
    check_world(*state); /* and again: opening changed nothing */
}

static void test_snap_deleted(void **state)
{
    world *w = *state;
    copy_dir("/nonexistent-folder", w->index);
    check_world(w);
}

static void garbage(const world *w, const char *path)
{
    (void)w;
    size_t len;
    unsigned char *junk = slurp(path, &len);
    assert_non_null(junk);
    for (size_t i = 0; i < len; i++)
        junk[i] = (unsigned char)rnd();
    spit(path, junk, len);
    free(junk);
}

static void test_snap_garbage(void **state)
{
    world *w = *state;
    assert_true(each_run(w->index, garbage, w) > 0);
    check_world(w);
}

static size_t cut_to;

static void cut(const world *w, const char *path)
{
    (void)w;
    assert_int_equal(truncate(path, (off_t)cut_to), 0);
}

static void test_snap_truncated(void **state)
{
    world *w = *state;
    static const size_t lens[] = {10, 0, RUN_PAGE + RUN_ENT * 3}; /* and a few entries */
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        copy_dir(w->final_idx, w->index);
        cut_to = lens[i];
        assert_true(each_run(w->index, cut, w) > 0);
        check_world(w);
    }
}

static void test_snap_from_other_store(void **state)
{
    world *w = *state;
    copy_dir(w->other_idx, w->index);
    check_world(w);
}

static void test_snap_stale(void **state)
{
    world *w = *state;
    copy_dir(w->half_idx, w->index);
    check_world(w);
}

static void test_idx_deleted(void **state)
{
    world *w = *state;
    DIR *d = opendir(w->dir);
    assert_non_null(d);
    struct dirent *e;
    int removed = 0;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".idx") == 0) {
            char path[4400];
            path_of(path, sizeof path, w->dir, e->d_name);
            assert_int_equal(unlink(path), 0);
            removed++;
        }
    }
    closedir(d);
    assert_true(removed >= 5);
    check_world(w);
    check_world(w);
}

/* Entries changed with their pages' checksums fixed: each entry of a stream with
 * version >= 1 gets the next version (a well-formed entry, a lie). With `quiet`, only
 * entries that still describe a stream's last event. */
static bool quiet_only;
static int lies_told;

/* CRC32C (Castagnoli, reflected 0x82F63B78), bit by bit: docs/FORMAT.md's checksum. */
static uint32_t crc32c(const unsigned char *p, size_t len)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void put_u32le(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static bool is_a_last_pos(const world *w, uint64_t pos)
{
    for (int i = 0; i < NSTREAMS; i++)
        if ((uint64_t)w->st[i].last_pos == pos)
            return true;
    return false;
}

static void lie_in(const world *w, const char *path)
{
    size_t len;
    unsigned char *run = slurp(path, &len);
    assert_non_null(run);
    for (size_t pg = RUN_PAGE; pg + RUN_PAGE <= len; pg += RUN_PAGE) {
        unsigned char *p = run + pg;
        uint32_t n = (uint32_t)(get_u64(p + RUN_PG_COUNT) & 0xFFFFFFFFu);
        if (n > (RUN_PG_COUNT / RUN_ENT))
            continue; /* a page of the filter */
        for (uint32_t i = 0; i < n; i++) {
            unsigned char *e = p + i * RUN_ENT;
            uint64_t last = get_u64(e + 16), version = get_u64(e + 24);
            if (version == 0 || version + 1 >= last || (quiet_only && !is_a_last_pos(w, last)))
                continue;
            put_u64(e + 24, version + 1);
            lies_told++;
        }
        put_u32le(p + RUN_PG_CRC, crc32c(p, RUN_PG_CRC));
    }
    spit(path, run, len);
    free(run);
}

/* Every page checksum right, but stream versions off by one: answers must not change. */
static void test_snap_slots_damaged(void **state)
{
    world *w = *state;
    quiet_only = false;
    lies_told = 0;
    each_run(w->index, lie_in, w);
    assert_true(lies_told > 100);
    check_world(w);
}

/* The same lie, limited to entries of streams' last events: no scan of a tail can
 * notice it, only the check of each entry against the log. */
static void test_snap_slots_damaged_quietly(void **state)
{
    world *w = *state;
    quiet_only = true;
    lies_told = 0;
    each_run(w->index, lie_in, w);
    assert_true(lies_told > 100);
    check_world(w);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        T(test_intact),
        T(test_snap_deleted),
        T(test_snap_garbage),
        T(test_snap_truncated),
        T(test_snap_from_other_store),
        T(test_snap_stale),
        T(test_idx_deleted),
        T(test_snap_slots_damaged),
        T(test_snap_slots_damaged_quietly),
    };
    /* clang-format on */
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
