/*
 * test_index_rebuild.c - the stream index is a cache of the log (docs/DESIGN.md, invariant 1):
 * whatever happens to index.snap, a reopened store answers exactly as before.
 *
 * One store of 3000 streams and 60000 events is built with a small checkpoint_bytes so
 * that index.snap exists; a copy of an older index.snap is kept, and a second store
 * with the same stream names provides a foreign one. Each test then replaces
 * index.snap - (a) deleted, (b) garbage, (c) cut to 10 bytes, (d) another store's, (e)
 * an older one of this store (stale), (f) the right header over a damaged slot area -
 * or deletes the .idx offset indexes (g), reopens, and checks every stream's info, the
 * stream listings, reads of sample streams, evs_stat, that evs_verify passes, and that
 * expected-version checks see the true stream versions.
 */
#include "testutil.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>

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
    unsigned char *snap; /* index.snap as the build left it */
    size_t snap_len;
    unsigned char *old_snap; /* index.snap as it was halfway */
    size_t old_snap_len;
    unsigned char *other_snap;
    size_t other_snap_len;
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

/* index.snap header fields (src/file/format.h): covered position at 16, slot count
 * at 40; slots of 48 bytes from byte 64, last_version at +40 in a slot. */
#define SNAP_COVERED 16
#define SNAP_SLOTS   40
#define SNAP_HDR     64
#define SLOT_LEN     48
#define SLOT_LASTVER 40

static int64_t snap_covered_of(const unsigned char *snap, size_t len)
{
    return snap && len >= SNAP_HDR ? (int64_t)get_u64(snap + SNAP_COVERED) : 0;
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
        if (!w->old_snap && total >= NEVENTS / 2) {
            char path[4200];
            path_of(path, sizeof path, w->dir, "index.snap");
            w->old_snap = slurp(path, &w->old_snap_len);
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
    path_of(path, sizeof path, w->other, "index.snap");
    w->other_snap = slurp(path, &w->other_snap_len);
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
    build(w);
    build_other(w);
    char path[4200];
    path_of(path, sizeof path, w->dir, "index.snap");
    w->snap = slurp(path, &w->snap_len);
    /* The scenarios need all three snapshots, each covering part of its log. */
    if (!w->snap || !w->old_snap || !w->other_snap) {
        print_error("index.snap missing: final %p, halfway %p, other store %p\n", (void *)w->snap,
                    (void *)w->old_snap, (void *)w->other_snap);
        return -1;
    }
    int64_t c_final = snap_covered_of(w->snap, w->snap_len);
    int64_t c_old = snap_covered_of(w->old_snap, w->old_snap_len);
    print_message("index.snap covers %" PRId64 " of %d events; the older one %" PRId64 "\n",
                  c_final, NEVENTS, c_old);
    if (c_old <= 0 || c_old >= c_final || c_final > NEVENTS)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    world *w = *state;
    for (int k = 0; k < NSAMPLE; k++)
        free(w->sample_pos[k]);
    free(w->snap);
    free(w->old_snap);
    free(w->other_snap);
    tu_cleanup(w->dir); /* the other store sits in the same temporary directory */
    free(w);
    return 0;
}

/* Each scenario starts from the store as built, index.snap included. */
static int setup(void **state)
{
    world *w = *state;
    char path[4200];
    path_of(path, sizeof path, w->dir, "index.snap");
    spit(path, w->snap, w->snap_len);
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

static void snap_path(const world *w, char *buf, size_t len)
{
    path_of(buf, len, w->dir, "index.snap");
}

/* ---- scenarios ---------------------------------------------------------------------- */

static void test_intact(void **state)
{
    check_world(*state); /* the baseline: the snapshot as written */
    check_world(*state); /* and again: opening changed nothing */
}

static void test_snap_deleted(void **state)
{
    world *w = *state;
    char path[4200];
    snap_path(w, path, sizeof path);
    assert_int_equal(unlink(path), 0);
    check_world(w);
}

static void test_snap_garbage(void **state)
{
    world *w = *state;
    char path[4200];
    snap_path(w, path, sizeof path);
    unsigned char *junk = malloc(w->snap_len);
    assert_non_null(junk);
    for (size_t i = 0; i < w->snap_len; i++)
        junk[i] = (unsigned char)rnd();
    spit(path, junk, w->snap_len);
    free(junk);
    check_world(w);
}

static void test_snap_truncated(void **state)
{
    world *w = *state;
    char path[4200];
    snap_path(w, path, sizeof path);
    spit(path, w->snap, 10);
    check_world(w);
    spit(path, w->snap, 0); /* and empty */
    check_world(w);
    spit(path, w->snap, SNAP_HDR + SLOT_LEN * 3); /* header and a few slots */
    check_world(w);
}

static void test_snap_from_other_store(void **state)
{
    world *w = *state;
    char path[4200];
    snap_path(w, path, sizeof path);
    spit(path, w->other_snap, w->other_snap_len);
    check_world(w);
}

static void test_snap_stale(void **state)
{
    world *w = *state;
    char path[4200];
    snap_path(w, path, sizeof path);
    spit(path, w->old_snap, w->old_snap_len);
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

/* Add one to the last_version of the snapshot's slots; only of the streams that the
 * log's tail (past the snapshot) does not touch when `quiet`. Returns the count. */
static int damage_slots(const world *w, unsigned char *snap, size_t len, bool quiet)
{
    uint64_t slots = get_u64(snap + SNAP_SLOTS);
    int64_t covered = snap_covered_of(snap, len);
    assert_true(SNAP_HDR + slots * SLOT_LEN <= len);
    int changed = 0;
    for (uint64_t i = 0; i < slots; i++) {
        unsigned char *slot = snap + SNAP_HDR + i * SLOT_LEN;
        if (get_u64(slot) == 0)
            continue;
        uint64_t name_off = get_u64(slot + 8);
        uint32_t name_len = (uint32_t)(get_u64(slot + 16) & 0xFFFFFFFFu);
        assert_true(name_len > 3 && name_off + name_len <= len);
        int st = 0; /* "st-N", not NUL-terminated */
        for (uint32_t k = 3; k < name_len; k++)
            st = st * 10 + (snap[name_off + k] - '0');
        assert_true(st >= 0 && st < NSTREAMS);
        if (quiet && w->st[st].last_pos > covered)
            continue;
        put_u64(slot + SLOT_LASTVER, get_u64(slot + SLOT_LASTVER) + 1);
        changed++;
    }
    return changed;
}

/* The header is right (its CRC covers only the header) but the slots are not: every
 * stream's last_version is off by one. A damaged snapshot must not change answers. */
static void test_snap_slots_damaged(void **state)
{
    world *w = *state;
    char path[4200];
    snap_path(w, path, sizeof path);
    unsigned char *bad = malloc(w->snap_len);
    assert_non_null(bad);
    memcpy(bad, w->snap, w->snap_len);
    assert_true(damage_slots(w, bad, w->snap_len, false) > 100);
    spit(path, bad, w->snap_len);
    free(bad);
    check_world(w);
}

/* The same damage, limited to streams the tail does not touch: the tail scan cannot
 * notice it, so only a check of the snapshot itself can. */
static void test_snap_slots_damaged_quietly(void **state)
{
    world *w = *state;
    char path[4200];
    snap_path(w, path, sizeof path);
    unsigned char *bad = malloc(w->snap_len);
    assert_non_null(bad);
    memcpy(bad, w->snap, w->snap_len);
    assert_true(damage_slots(w, bad, w->snap_len, true) > 100);
    spit(path, bad, w->snap_len);
    free(bad);
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
