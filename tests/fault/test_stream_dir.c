/*
 * test_stream_dir.c - stream directories (.sdx) of sealed segments: made when a segment
 * is sealed, used by whole-stream reads, and never trusted over the log: a missing,
 * damaged, stale or lying directory still gives the exact events, by the links. A
 * writable handle that finds one missing or unfit makes it again; a read-only one does
 * not. What a crashed writer of one leaves is removed by the next writer to open.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "segment_probe.h"

#include "format.h"
#include "sysio.h"
#include "util.h"

#define STREAMS 23
#define EVENTS  2500

/* EVENTS events over STREAMS streams in a pseudo-random order, each payload naming its
 * stream and version. */
static void fill(evs_store *s)
{
    int64_t next[STREAMS] = {0};
    char stream[32], json[200];
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < EVENTS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int k = (int)(x % STREAMS);
        snprintf(stream, sizeof stream, "order-%d", k);
        snprintf(json, sizeof json, "{\"k\":%d,\"v\":%lld,\"pad\":\"%0*d\"}", k,
                 (long long)next[k]++, (int)(x % 90), 0);
        assert_true(tu_append1(s, stream, "ItemAdded", json) > 0);
    }
}

/* Read stream k from version `from` (forward: on to its end; backward, where -1 means
 * its last: down to version 0), checking every version in turn and its payload;
 * returns how many. */
static int64_t read_stream_way(evs_store *s, int k, int64_t from, int direction)
{
    char stream[32], want[64], buf[300];
    snprintf(stream, sizeof stream, "order-%d", k);
    evs_query q = EVS_QUERY_INIT;
    q.stream = stream;
    q.direction = direction;
    q.from_version = from;
    evs_cursor *c;
    evs_event e;
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    int64_t n = 0, v = from, step = direction == EVS_BACKWARD ? -1 : 1, rc;
    while ((rc = evs_cursor_next(&e, c)) > 0) {
        if (n == 0 && from < 0)
            v = e.version;
        assert_int_equal(e.version, v);
        snprintf(want, sizeof want, "{\"k\":%d,\"v\":%lld,", k, (long long)v);
        assert_non_null(strstr(tu_data_str(&e, buf, sizeof buf), want));
        v += step;
        n++;
    }
    assert_int_equal(rc, 0);
    if (direction == EVS_BACKWARD)
        assert_int_equal(v, -1);
    evs_cursor_close(c);
    return n;
}

static int64_t read_stream(evs_store *s, int k, int64_t from)
{
    return read_stream_way(s, k, from, EVS_FORWARD);
}

static int64_t read_stream_back(evs_store *s, int k, int64_t from)
{
    return read_stream_way(s, k, from, EVS_BACKWARD);
}

static int64_t read_all_streams(evs_store *s)
{
    int64_t n = 0;
    for (int k = 0; k < STREAMS; k++)
        n += read_stream(s, k, 0);
    return n;
}

/* Every stream backward, whole, from the middle version and from version 1: the exact
 * events. */
static void read_all_back(evs_store *s)
{
    int64_t n = 0;
    for (int k = 0; k < STREAMS; k++) {
        int64_t all = read_stream_back(s, k, -1);
        assert_int_equal(read_stream_back(s, k, all / 2), all / 2 + 1);
        assert_int_equal(read_stream_back(s, k, 1), 2); /* a walk through every segment */
        n += all;
    }
    assert_int_equal(n, EVENTS);
}

/* A store filled with small segments, closed; *firsts gets its segments (returns how
 * many). The tests then damage its directories and reopen it with reopen_read_all. */
static size_t filled_closed(tu_fixture *f, uint64_t *firsts, size_t cap)
{
    evs_options o = tu_small_segments();
    fill(tu_fx_open(f, &o));
    size_t n = tu_segments(tu_fx_reopen(f), firsts, cap);
    tu_fx_close(f);
    return n;
}

/* Reopen the store and read every stream whole: the exact events, whatever the
 * directories say. */
static evs_store *reopen_read_all(tu_fixture *f)
{
    evs_store *s = tu_fx_reopen(f);
    assert_int_equal(read_all_streams(s), EVENTS);
    return s;
}

static void test_made_at_seal_and_used(void **state)
{
    tu_fixture *f = *state;
    evs_options o = tu_small_segments();
    fill(tu_fx_open(f, &o));
    evs_store *s = tu_fx_reopen(f);
    uint64_t firsts[64];
    size_t n = tu_segments(s, firsts, 64);
    char path[4200];
    for (size_t i = 0; i < n; i++) {
        tu_seg_path(f->dir, firsts[i], "sdx", path, sizeof path);
        assert_int_equal(tu_exists(path), i + 1 < n); /* sealed ones only */
    }
    assert_int_equal(read_all_streams(s), EVENTS);
    for (size_t i = 0; i + 1 < n; i++)
        assert_int_equal(tu_sdx_state(s, firsts[i]), 1);
    /* From a version in the middle, and a stream read twice (directories loaded). */
    for (int k = 0; k < STREAMS; k++) {
        int64_t all = read_stream(s, k, 0);
        assert_int_equal(read_stream(s, k, all / 2), all - all / 2);
    }
    read_all_back(s);
}

/* A stream longer than a reading round's chunk (4,096 events), over many segments:
 * forward it is read in chunks whose walks also step through the directories. */
static void test_long_stream(void **state)
{
    tu_fixture *f = *state;
    evs_options o = tu_small_segments();
    evs_store *s = tu_fx_open(f, &o);
    char json[100];
    evs_event_in in[100];
    for (int b = 0; b < 100; b++) {
        for (int i = 0; i < 100; i++) {
            snprintf(json, sizeof json, "{\"k\":0,\"v\":%d,\"pad\":\"%040d\"}", b * 100 + i, 0);
            in[i] = tu_event("ItemAdded", strdup(json));
        }
        assert_evs_ok(evs_append(NULL, s, "order-0", EVS_EXPECT_ANY, in, 100));
        for (int i = 0; i < 100; i++)
            free((void *)in[i].data);
    }
    s = tu_fx_reopen(f);
    assert_int_equal(read_stream(s, 0, 0), 10000);
    assert_int_equal(read_stream(s, 0, 5000), 5000);
    assert_int_equal(read_stream_back(s, 0, -1), 10000);
    assert_int_equal(read_stream_back(s, 0, 7777), 7778);
    uint64_t firsts[256];
    size_t n = tu_segments(s, firsts, 256);
    for (size_t i = 0; i + 1 < n; i++)
        assert_int_equal(tu_sdx_state(s, firsts[i]), 1);
}

/* Fill a store, close it, do `harm` to the directory of every sealed segment (i counts
 * them), reopen it and read every stream whole. Returns the reopened store. */
static evs_store *harm_directories(tu_fixture *f, uint64_t *firsts, size_t *n,
                                   void (*harm)(const char *path, size_t i))
{
    *n = filled_closed(f, firsts, 64);
    char path[4200];
    for (size_t i = 0; i + 1 < *n; i++) {
        tu_seg_path(f->dir, firsts[i], "sdx", path, sizeof path);
        harm(path, i);
    }
    return reopen_read_all(f);
}

static void remove_file(const char *path, size_t i)
{
    (void)i;
    assert_int_equal(unlink(path), 0);
}

/* One bit of an entry's offset field, a different entry in each directory. */
static void flip_a_bit(const char *path, size_t i)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char b;
    off_t at = SDX_HDR_LEN + SDX_ENTRY_LEN * (off_t)i + SDX_ENT_OFF;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

/* After a writable handle read the streams whose directories were missing or unfit:
 * closing it (which waits for its builder) left every sealed segment's directory made
 * again, and the next handle uses them all. */
static void check_remade(tu_fixture *f, const uint64_t *firsts, size_t n)
{
    char path[4200];
    tu_fx_close(f);
    for (size_t i = 0; i + 1 < n; i++) {
        tu_seg_path(f->dir, firsts[i], "sdx", path, sizeof path);
        assert_true(tu_exists(path));
    }
    evs_store *s = reopen_read_all(f);
    for (size_t i = 0; i + 1 < n; i++)
        assert_int_equal(tu_sdx_state(s, firsts[i]), 1);
}

static void test_missing_directories(void **state)
{
    uint64_t firsts[64];
    size_t n;
    evs_store *s = harm_directories(*state, firsts, &n, remove_file);
    assert_true(tu_sdx_state(s, firsts[0]) >= 0); /* looked for again: maybe made already */
    check_remade(*state, firsts, n);
}

/* A read-only handle reads by the links and writes no directory. */
static void test_read_only_makes_none(void **state)
{
    tu_fixture *f = *state;
    uint64_t firsts[64];
    size_t n = filled_closed(f, firsts, 64);
    char path[4200];
    for (size_t i = 0; i + 1 < n; i++) {
        tu_seg_path(f->dir, firsts[i], "sdx", path, sizeof path);
        remove_file(path, i);
    }
    evs_options ro = tu_fast_options();
    ro.flags = EVS_OPEN_READONLY;
    evs_store *s;
    assert_evs_ok(evs_open(&s, f->dir, &ro));
    assert_int_equal(read_all_streams(s), EVENTS);
    assert_evs_ok(evs_close(s));
    for (size_t i = 0; i + 1 < n; i++) {
        tu_seg_path(f->dir, firsts[i], "sdx", path, sizeof path);
        assert_false(tu_exists(path));
    }
}

/* Flip one bit of every directory: its checksum fails, the links are followed. */
static void test_damaged_directories(void **state)
{
    uint64_t firsts[64];
    size_t n;
    evs_store *s = harm_directories(*state, firsts, &n, flip_a_bit);
    for (size_t i = 0; i + 1 < n; i++)
        assert_int_equal(tu_sdx_state(s, firsts[i]), -1);
    check_remade(*state, firsts, n);
}

/* Rewrite segment `first`'s directory through change(img, count of entries), then make
 * its body checksum right again: only the checks behind the checksums can refuse it. */
static void rewrite_directory(tu_fixture *f, uint64_t first,
                              void (*change)(unsigned char *img, uint64_t count))
{
    char path[4200];
    tu_seg_path(f->dir, first, "sdx", path, sizeof path);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    unsigned char *img = malloc((size_t)st.st_size);
    assert_non_null(img);
    assert_int_equal(pread(fd, img, (size_t)st.st_size, 0), st.st_size);
    change(img, evs__get_u64(img + SDX_OFF_COUNT));
    size_t body = (size_t)st.st_size - SDX_HDR_LEN - 4;
    evs__put_u32(img + st.st_size - 4, evs__crc32c(0, img + SDX_HDR_LEN, body));
    assert_int_equal(pwrite(fd, img, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    free(img);
}

/* Swap the offsets of the first two entries of one stream (whose last entry here, a
 * third one, stays true: the lookup finds it). */
static void swap_two_offsets(unsigned char *img, uint64_t count)
{
    unsigned char *e = img + SDX_HDR_LEN, *a = e, *b = NULL;
    for (uint64_t i = 1; i < count && !b; i++)
        if (evs__get_u64(e + i * SDX_ENTRY_LEN) == evs__get_u64(a))
            b = e + i * SDX_ENTRY_LEN;
    assert_non_null(b);
    bool third = false;
    for (unsigned char *x = b + SDX_ENTRY_LEN; x < e + count * SDX_ENTRY_LEN && !third;
         x += SDX_ENTRY_LEN)
        third = evs__get_u64(x) == evs__get_u64(a);
    assert_true(third);
    uint32_t off_a = evs__get_u32(a + SDX_ENT_OFF);
    evs__put_u32(a + SDX_ENT_OFF, evs__get_u32(b + SDX_ENT_OFF));
    evs__put_u32(b + SDX_ENT_OFF, off_a);
}

/* A directory whose checksums are right but whose entries lie (the offsets of a
 * stream's first two entries in the segment swapped, as a bug might write them): the
 * records read do not match, the reader distrusts it, follows the links, and hands
 * out the exact events. */
static void test_lying_directory(void **state)
{
    tu_fixture *f = *state;
    uint64_t firsts[64];
    filled_closed(f, firsts, 64);
    rewrite_directory(f, firsts[0], swap_two_offsets);
    evs_store *s = reopen_read_all(f);
    assert_int_equal(tu_sdx_state(s, firsts[0]), -1);
    s = tu_fx_reopen(f); /* backward reads meet the lie on a fresh handle */
    read_all_back(s);
}

/* Change the stream hash of the middle entry (within its bucket): that record seems to
 * belong to no stream. */
static void hide_an_entry(unsigned char *img, uint64_t count)
{
    unsigned char *e = img + SDX_HDR_LEN + (count / 2) * SDX_ENTRY_LEN;
    evs__put_u64(e + SDX_ENT_HASH, evs__get_u64(e + SDX_ENT_HASH) ^ 1);
}

/* A directory with right checksums that lacks an entry (in every sealed segment): a
 * walk down a stream through it steps over that event and runs past the stream's first
 * one. The reader must notice, distrust it and follow the links, forward and backward,
 * on fresh handles. */
static void test_directory_missing_an_entry(void **state)
{
    tu_fixture *f = *state;
    uint64_t firsts[64];
    size_t n = filled_closed(f, firsts, 64);
    for (size_t k = 0; k + 1 < n; k++)
        rewrite_directory(f, firsts[k], hide_an_entry);
    reopen_read_all(f);
    read_all_back(tu_fx_reopen(f));
}

/* The directory of another segment put in place of one: it describes other records
 * (first position, length), and is not used. */
static void test_directory_of_another_segment(void **state)
{
    tu_fixture *f = *state;
    uint64_t firsts[64];
    filled_closed(f, firsts, 64);
    char from[4200], to[4200];
    tu_seg_path(f->dir, firsts[1], "sdx", from, sizeof from);
    tu_seg_path(f->dir, firsts[0], "sdx", to, sizeof to);
    assert_int_equal(rename(from, to), 0);
    evs_store *s = reopen_read_all(f);
    assert_int_equal(tu_sdx_state(s, firsts[0]), -1);
    assert_true(tu_sdx_state(s, firsts[1]) >= 0); /* moved away: none, or made again */
    size_t n = tu_segments(s, firsts, 64);
    check_remade(f, firsts, n);
}

/* Whole-stream reads while another thread appends and seals segment after segment,
 * their directories made behind it: every read gives each stream's versions in order
 * with their own payloads, and at least as many as the read before. */
typedef struct appender {
    evs_store *s;
    atomic_bool stop;
} appender;

static void *append_more(void *arg)
{
    appender *a = arg;
    fill(a->s);
    atomic_store(&a->stop, true);
    return NULL;
}

static void test_reads_while_segments_seal(void **state)
{
    tu_fixture *f = *state;
    evs_options o = tu_small_segments();
    evs_store *s = tu_fx_open(f, &o);
    appender a = {s, false};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, append_more, &a), 0);
    int64_t seen[STREAMS] = {0};
    for (bool last = false; !last;) {
        last = atomic_load(&a.stop); /* one more round after the appends end */
        for (int k = 0; k < STREAMS; k++) {
            int64_t n = read_stream(s, k, 0);
            assert_true(n >= seen[k]);
            seen[k] = n;
        }
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    int64_t total = 0;
    for (int k = 0; k < STREAMS; k++)
        total += seen[k];
    assert_int_equal(total, EVENTS);
}

static void touch(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("half a cache", fp);
    assert_int_equal(fclose(fp), 0);
}

static bool exists_in(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return tu_exists(path);
}

/* Temporary files of cache writers that crashed ("<seg>.sdx.<pid>.tmp", ".idx.") are
 * removed by the next writer to open the store, and only those: not a live process's,
 * not other names, and not by a read-only handle. */
static void test_leftover_temporaries(void **state)
{
    tu_fixture *f = *state;
    uint64_t firsts[64];
    filled_closed(f, firsts, 64);
    pid_t dead = fork();
    assert_true(dead >= 0);
    if (dead == 0)
        _exit(0);
    assert_int_equal(waitpid(dead, NULL, 0), dead);
    char gone_sdx[64], gone_idx[64], live[64], other[64], user[64];
    snprintf(gone_sdx, sizeof gone_sdx, "%020llu.sdx.%d.tmp", (unsigned long long)firsts[0],
             (int)dead);
    snprintf(gone_idx, sizeof gone_idx, "%020llu.idx.%d.tmp", (unsigned long long)firsts[1],
             (int)dead);
    snprintf(live, sizeof live, "%020llu.sdx.%d.tmp", (unsigned long long)firsts[1], (int)getpid());
    snprintf(other, sizeof other, "%020llu.seg.%d.tmp", (unsigned long long)firsts[0], (int)dead);
    snprintf(user, sizeof user, "notes.sdx.%d.tmp", (int)dead);
    const char *all[] = {gone_sdx, gone_idx, live, other, user};
    for (size_t i = 0; i < 5; i++)
        touch(f->dir, all[i]);

    evs_options ro = tu_fast_options();
    ro.flags = EVS_OPEN_READONLY;
    evs_store *s;
    assert_evs_ok(evs_open(&s, f->dir, &ro));
    assert_evs_ok(evs_close(s));
    for (size_t i = 0; i < 5; i++)
        assert_true(exists_in(f->dir, all[i]));

    assert_int_equal(read_all_streams(tu_fx_reopen(f)), EVENTS);
    assert_false(exists_in(f->dir, gone_sdx));
    assert_false(exists_in(f->dir, gone_idx));
    assert_true(exists_in(f->dir, live));
    assert_true(exists_in(f->dir, other));
    assert_true(exists_in(f->dir, user));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_made_at_seal_and_used, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_long_stream, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_missing_directories, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_damaged_directories, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_read_only_makes_none, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_lying_directory, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_directory_missing_an_entry, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_directory_of_another_segment, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_reads_while_segments_seal, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_leftover_temporaries, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
