/*
 * test_compress.c - compressed sealed segments (.zseg): every way of reading gives the
 * same events as a model on a mix of compressed and plain segments; a read decompresses
 * only the frames it needs; a writer compresses in the background when asked; damaged
 * frames and frame tables are named (file and byte) and cost nothing else; a damaged
 * plain segment is left alone; and writers killed while they compress (evs_compact, or
 * the background compactor while appending) leave every acknowledged event intact, byte
 * for byte, and a store that verifies. EVS_COMPRESS_TRIALS sets the number of kills of
 * each kind (default 13 + 12).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#include "core.h"
#include "file_backend.h"
#include "format.h"
#include "frame_cache.h"
#include "segment.h"
#include "segment_zstd.h"
#include "util.h"

#define STREAMS 37
#define EVENTS  6000

static const char *const TYPES[] = {"Opened", "Deposited", "Withdrawn"};

/* Event i (position i + 1) of the model: its stream, type and data. */
static void model_stream(int i, char *buf, size_t len)
{
    snprintf(buf, len, "%s-%d", i % 5 == 0 ? "audit" : "acct",
             (int)((uint64_t)i * 7919u % STREAMS));
}

static const char *model_type(int i)
{
    return TYPES[(i / 3 + i) % 3];
}

static void model_data(int i, char *buf, size_t len)
{
    snprintf(buf, len,
             "{\"i\":%d,\"amount\":%d,\"currency\":\"EUR\",\"note\":\"monthly statement %d\","
             "\"tags\":[\"retail\",\"online\"]}",
             i, (i * 37) % 1000, i % 12);
}

static void append_model(evs_store *s, int from, int to)
{
    char stream[32], data[256];
    for (int i = from; i < to; i++) {
        model_stream(i, stream, sizeof stream);
        model_data(i, data, sizeof data);
        assert_int_equal(tu_append1(s, stream, model_type(i), data), i + 1);
    }
}

/* Is e model event pos - 1, byte for byte? */
static void check_event(const evs_event *e)
{
    char stream[32], data[256];
    int i = (int)e->pos - 1;
    assert_true(i >= 0);
    model_stream(i, stream, sizeof stream);
    model_data(i, data, sizeof data);
    assert_int_equal(e->stream_len, strlen(stream));
    assert_memory_equal(e->stream, stream, e->stream_len);
    assert_int_equal(e->type_len, strlen(model_type(i)));
    assert_memory_equal(e->type, model_type(i), e->type_len);
    assert_int_equal(e->data_len, strlen(data));
    assert_memory_equal(e->data, data, e->data_len);
}

static bool model_selects(int i, const evs_query *q)
{
    char stream[32];
    model_stream(i, stream, sizeof stream);
    if (q->stream && strcmp(q->stream, stream) != 0)
        return false;
    if (q->category && strncmp(stream, q->category, strlen(q->category)) != 0)
        return false;
    if (q->type_count && strcmp(model_type(i), q->types[0]) != 0)
        return false;
    return true;
}

/* Read q and check that it gives exactly the model events it selects below `count`, in
 * order, each byte for byte. */
static void check_query(evs_store *s, const evs_query *q, int count)
{
    evs_cursor *c;
    evs_event e;
    assert_evs_ok(evs_cursor_open(&c, s, q));
    bool back = q->direction == EVS_BACKWARD;
    int i = back ? (q->from_pos ? (int)q->from_pos - 1 : count - 1)
                 : (q->from_pos ? (int)q->from_pos - 1 : 0);
    int rc;
    uint64_t given = 0;
    while ((rc = evs_cursor_next(&e, c)) > 0) {
        while (i >= 0 && i < count && !model_selects(i, q))
            i += back ? -1 : 1;
        assert_true(i >= 0 && i < count);
        assert_int_equal(e.pos, i + 1);
        check_event(&e);
        i += back ? -1 : 1;
        given++;
    }
    assert_int_equal(rc, 0);
    evs_cursor_close(c);
    if (!q->limit || given < q->limit) {
        while (i >= 0 && i < count && !model_selects(i, q))
            i += back ? -1 : 1;
        assert_false(i >= 0 && i < count); /* nothing selected was left out */
    }
}

/* Every way of reading, against the model of `count` events. */
static void check_all_reads(evs_store *s, int count)
{
    evs_query q = EVS_QUERY_INIT;
    check_query(s, &q, count); /* replay */
    q.direction = EVS_BACKWARD;
    check_query(s, &q, count);
    for (int from = 1; from < count; from += count / 7) {
        evs_query p = EVS_QUERY_INIT;
        p.from_pos = from;
        p.limit = 50;
        check_query(s, &p, count); /* from a position */
        p.direction = EVS_BACKWARD;
        check_query(s, &p, count);
    }
    char stream[32];
    for (int k = 0; k < STREAMS; k += 3) {
        snprintf(stream, sizeof stream, "acct-%d", k);
        evs_query st = EVS_QUERY_INIT;
        st.stream = stream;
        check_query(s, &st, count); /* whole stream */
        st.direction = EVS_BACKWARD;
        check_query(s, &st, count);
    }
    const char *type = "Deposited";
    evs_query t = EVS_QUERY_INIT;
    t.types = &type;
    t.type_count = 1;
    check_query(s, &t, count); /* by type */
    evs_query cat = EVS_QUERY_INIT;
    cat.category = "audit";
    check_query(s, &cat, count); /* by category */
    evs_verify_report rep;
    assert_evs_ok(evs_verify(&rep, s, NULL, NULL));
    assert_int_equal(rep.events_checked, count);
}

static evs_options seg_options(uint64_t segment_size)
{
    evs_options o = tu_fast_options();
    o.segment_size = segment_size;
    return o;
}

static void path_of(const char *dir, uint64_t first, const char *ext, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%020llu.%s", dir, (unsigned long long)first, ext);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Segments of the store, as listed now. */
static size_t list_segments(evs_store *s, uint64_t *firsts, size_t cap)
{
    file_backend *fb = (file_backend *)s->be;
    size_t n = evs__seg_count(fb);
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++)
        firsts[i] = evs__seg_at(fb, i)->first_pos;
    return n;
}

static size_t count_zseg(const char *dir, uint64_t *firsts, size_t n, size_t *plain)
{
    char path[4200];
    size_t z = 0;
    *plain = 0;
    for (size_t i = 0; i < n; i++) {
        path_of(dir, firsts[i], "zseg", path, sizeof path);
        z += exists(path);
        path_of(dir, firsts[i], "seg", path, sizeof path);
        *plain += exists(path);
    }
    return z;
}

static void test_reads_match_model(void **state)
{
    tu_fixture *f = *state;
    evs_options o = seg_options(64u << 10);
    evs_store *s = tu_fx_open(f, &o);
    append_model(s, 0, EVENTS);
    check_all_reads(s, EVENTS);
    /* Every other sealed segment compressed, and the newest sealed ones plain: a mix. */
    uint64_t firsts[256];
    size_t n = list_segments(s, firsts, 256);
    assert_true(n >= 10);
    assert_evs_ok(evs_sync(s));
    file_backend *fb = (file_backend *)s->be;
    for (size_t i = 0; i + 4 < n; i += 2) {
        zseg_result r;
        assert_evs_ok(evs__zseg_compress(fb, firsts[i], firsts[i + 1], &r));
        assert_true(r.done);
        assert_true(r.packed_len * 2 < r.plain_len);
    }
    check_all_reads(s, EVENTS); /* this handle: segments it had open stay plain to it */
    s = tu_fx_reopen(f);
    check_all_reads(s, EVENTS); /* a fresh one reads them compressed */
    evs__fcache_set_limit(3);   /* again with frames going out of the cache all the time */
    s = tu_fx_reopen(f);
    check_all_reads(s, EVENTS);
    evs__fcache_set_limit(0);
    size_t plain;
    assert_int_equal(count_zseg(f->dir, firsts, n, &plain), (n - 4 + 1) / 2);
    assert_int_equal(plain, n - (n - 4 + 1) / 2);
    /* Then the rest but the newest two sealed, by evs_compact; appends go on after. */
    evs_compact_report rep;
    assert_evs_ok(evs_compact(s, 2, &rep));
    assert_int_equal(rep.segments, (n - 1 - 2) - (n - 4 + 1) / 2);
    assert_int_equal(rep.already, (n - 4 + 1) / 2);
    assert_int_equal(rep.damaged, 0);
    assert_true(rep.compressed_bytes * 2 < rep.plain_bytes);
    append_model(s, EVENTS, EVENTS + 500);
    s = tu_fx_reopen(f);
    check_all_reads(s, EVENTS + 500);
    assert_int_equal(count_zseg(f->dir, firsts, n, &plain), n - 3);
    assert_int_equal(plain, 3);
}

/* A replay decompresses each frame of a compressed segment once; a read from a position
 * decompresses the frames it reads, not the segment; neither keeps decompressed bytes in
 * the handle's memory, nor does a whole-stream read. */
static void test_reads_only_needed_frames(void **state)
{
    tu_fixture *f = *state;
    evs_options o = seg_options(1u << 20); /* 16 frames a segment */
    evs_store *s = tu_fx_open(f, &o);
    append_model(s, 0, 3 * EVENTS);
    uint64_t firsts[64];
    size_t n = list_segments(s, firsts, 64);
    assert_true(n >= 3);
    evs_compact_report rep;
    assert_evs_ok(evs_compact(s, 0, &rep));
    assert_int_equal(rep.segments, n - 1);

    s = tu_fx_reopen(f);
    evs_query p = EVS_QUERY_INIT;
    p.from_pos = (int64_t)(firsts[1] - firsts[0]) / 2;
    p.limit = 3;
    check_query(s, &p, 3 * EVENTS);
    zseg *z = atomic_load(&evs__seg_at((file_backend *)s->be, 0)->z);
    assert_non_null(z);
    uint64_t frames = (evs__zseg_plain_len(z) + ZSEG_FRAME_LEN - 1) / ZSEG_FRAME_LEN;
    assert_true(frames >= 8);
    assert_in_range(evs__zseg_frames_decompressed(z), 1, 2);

    s = tu_fx_reopen(f);
    evs_query all = EVS_QUERY_INIT;
    check_query(s, &all, 3 * EVENTS);
    z = atomic_load(&evs__seg_at((file_backend *)s->be, 0)->z);
    assert_int_equal(evs__zseg_frames_decompressed(z), frames);
    evs_query st = EVS_QUERY_INIT;
    st.stream = "acct-3";
    check_query(s, &st, 3 * EVENTS);
    assert_int_equal(evs__zseg_frames_filled(z), 0);
}

static void test_background(void **state)
{
    tu_fixture *f = *state;
    evs_options o = seg_options(64u << 10);
    o.compress_after = 3;
    evs_store *s = tu_fx_open(f, &o);
    append_model(s, 0, EVENTS);
    assert_evs_ok(evs_sync(s));
    append_model(s, EVENTS, EVENTS + 300); /* a seal after the sync: the compactor looks again */
    uint64_t firsts[256];
    size_t n = list_segments(s, firsts, 256), plain = 0, z = 0;
    for (int waited = 0; waited < 60000 && (z + 3 < n || plain > 3); waited += 10) {
        tu_sleep_ms(10);
        n = list_segments(s, firsts, 256);
        z = count_zseg(f->dir, firsts, n, &plain);
    }
    assert_int_equal(z + 3, n);
    assert_int_equal(plain, 3);
    check_all_reads(s, EVENTS + 300);
    s = tu_fx_reopen(f);
    check_all_reads(s, EVENTS + 300);
}

static void flip_byte(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char b;
    assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc(*len + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, *len, fp), *len);
    fclose(fp);
    return b;
}

/* Reads of every position: how many fail, each with an error naming `needle`. */
static int failing_positions(evs_store *s, int count, const char *needle)
{
    int bad = 0;
    for (int pos = 1; pos <= count; pos++) {
        evs_query q = EVS_QUERY_INIT;
        q.from_pos = pos;
        q.limit = 1;
        evs_cursor *c = NULL;
        evs_event e;
        int rc = evs_cursor_open(&c, s, &q); /* it may look for the position at once */
        if (rc == 0)
            rc = evs_cursor_next(&e, c);
        if (rc < 0) {
            assert_int_equal(rc, EVS_ECORRUPT);
            assert_errmsg_has(needle);
            bad++;
        } else {
            assert_int_equal(rc, 1);
            assert_int_equal(e.pos, pos);
            check_event(&e);
        }
        evs_cursor_close(c);
    }
    return bad;
}

/* A damaged frame: reads of its events fail naming the file, the frame and its byte
 * offset; every other event reads; verify says where; the file is left as it was. A
 * damaged frame table: the segment cannot be read, the error names file and offset,
 * the other segments read. */
static void test_damaged(void **state)
{
    tu_fixture *f = *state;
    evs_options o = seg_options(256u << 10);
    evs_store *s = tu_fx_open(f, &o);
    append_model(s, 0, EVENTS);
    evs_compact_report rep;
    assert_evs_ok(evs_compact(s, 0, &rep));
    uint64_t firsts[64];
    size_t n = list_segments(s, firsts, 64);
    assert_true(n >= 4);
    tu_fx_close(f);
    char path[4200];
    path_of(f->dir, firsts[1], "zseg", path, sizeof path);
    size_t len;
    unsigned char *img = slurp(path, &len);
    uint32_t frames = evs__get_u32(img + ZSEG_OFF_COUNT);
    assert_true(frames >= 3);
    uint64_t f1 = evs__get_u64(img + ZSEG_HDR_LEN + ZSEG_ENTRY_LEN + ZSEG_ENT_OFF);
    free(img);
    img = NULL;
    flip_byte(path, f1 + 20);
    img = slurp(path, &len);
    s = tu_fx_open(f, &o);
    char needle[128];
    snprintf(needle, sizeof needle, "%020llu.zseg: frame 1 at byte %llu",
             (unsigned long long)firsts[1], (unsigned long long)f1);
    int bad = failing_positions(s, EVENTS, needle);
    assert_true(bad > 0 && (uint64_t)bad < firsts[2] - firsts[1]);
    evs_verify_report vr;
    assert_evs(EVS_ECORRUPT, evs_verify(&vr, s, NULL, NULL));
    assert_true(vr.problem_count >= 1);
    /* Compacting again changes nothing. */
    assert_evs_ok(evs_compact(s, 0, &rep));
    assert_int_equal(rep.segments, 0);
    tu_fx_close(f);
    size_t len2;
    unsigned char *after = slurp(path, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(after, img, len);
    free(after);
    flip_byte(path, f1 + 20); /* put it back */
    free(img);

    /* The frame table of segment 2. */
    path_of(f->dir, firsts[2], "zseg", path, sizeof path);
    flip_byte(path, ZSEG_HDR_LEN + ZSEG_ENTRY_LEN + ZSEG_ENT_LEN);
    s = tu_fx_open(f, &o);
    snprintf(needle, sizeof needle, "%020llu.zseg: frame table checksum mismatch at byte 64",
             (unsigned long long)firsts[2]);
    assert_int_equal(failing_positions(s, EVENTS, needle), (int)(firsts[3] - firsts[2]));
    assert_evs(EVS_ECORRUPT, evs_verify(&vr, s, NULL, NULL));
    tu_fx_close(f);
    flip_byte(path, ZSEG_HDR_LEN + ZSEG_ENTRY_LEN + ZSEG_ENT_LEN);
    s = tu_fx_open(f, &o);
    check_all_reads(s, EVENTS);
}

/* Repair of a compressed segment with a damaged frame (keeping what is intact): the
 * segment goes back to plain, the events of that frame are declared lost and every
 * other event reads, byte for byte; the store verifies. With a damaged frame table as
 * well, the frames are found by walking them. */
static void test_repair_damaged_frame(void **state)
{
    tu_fixture *f = *state;
    evs_options o = seg_options(256u << 10);
    evs_store *s = tu_fx_open(f, &o);
    append_model(s, 0, EVENTS);
    assert_evs_ok(evs_compact(s, 0, NULL));
    uint64_t firsts[64];
    size_t n = list_segments(s, firsts, 64);
    tu_fx_close(f);
    char path[4200], plain[4200];
    for (int table = 0; table < 2; table++) {
        uint64_t k = firsts[1 + table];
        path_of(f->dir, k, "zseg", path, sizeof path);
        path_of(f->dir, k, "seg", plain, sizeof plain);
        size_t len;
        unsigned char *img = slurp(path, &len);
        uint64_t f2 = evs__get_u64(img + ZSEG_HDR_LEN + 2 * ZSEG_ENTRY_LEN + ZSEG_ENT_OFF);
        free(img);
        flip_byte(path, f2 + 33);
        if (table)
            flip_byte(path, ZSEG_HDR_LEN + 5); /* frame 0's offset */
        evs_repair_opts ro = EVS_REPAIR_OPTS_INIT;
        ro.flags = EVS_REPAIR_KEEP_INTACT;
        evs_repair_report rr;
        assert_evs_ok(evs_repair(&rr, f->dir, &ro));
        assert_int_equal(rr.damaged, 1);
        assert_false(exists(path));
        assert_true(exists(plain));
        s = tu_fx_open(f, &o);
        int bad = 0;
        for (int pos = 1; pos <= EVENTS; pos++) {
            evs_query q = EVS_QUERY_INIT;
            q.from_pos = pos;
            q.limit = 1;
            evs_cursor *c;
            evs_event e;
            assert_evs_ok(evs_cursor_open(&c, s, &q));
            int rc = evs_cursor_next(&e, c);
            assert_true(rc >= 0);
            if (rc == 0 || e.pos != pos)
                bad++; /* a lost position: the read goes on past it */
            else
                check_event(&e);
            evs_cursor_close(c);
        }
        assert_true(bad > 0 && (uint64_t)bad < firsts[2 + table] - k);
        evs_verify_report vr;
        assert_evs_ok(evs_verify(&vr, s, NULL, NULL));
        assert_int_equal(vr.events_checked + vr.lost_count, EVENTS);
        tu_fx_close(f);
    }
    (void)n;
}

/* A plain segment with a damaged record is left plain, named; the others compress. */
static void test_damaged_plain_left(void **state)
{
    tu_fixture *f = *state;
    evs_options o = seg_options(64u << 10);
    evs_store *s = tu_fx_open(f, &o);
    append_model(s, 0, EVENTS / 2);
    uint64_t firsts[256];
    size_t n = list_segments(s, firsts, 256);
    tu_fx_close(f);
    char path[4200];
    path_of(f->dir, firsts[1], "seg", path, sizeof path);
    flip_byte(path, SEG_HDR_LEN + REC_HDR_LEN + 3); /* inside the first record's names */
    s = tu_fx_open(f, &o);
    evs_compact_report rep;
    assert_evs(EVS_ECORRUPT, evs_compact(s, 0, &rep));
    char needle[64];
    snprintf(needle, sizeof needle, "%020llu.seg", (unsigned long long)firsts[1]);
    assert_errmsg_has(needle);
    assert_errmsg_has("at byte 64");
    assert_int_equal(rep.damaged, 1);
    assert_int_equal(rep.segments, n - 2);
    assert_true(exists(path));
}

/* A crash between the rename and the removal leaves both files: the plain one is read,
 * and the next compaction finishes. A crashed compactor's temporary file is removed by
 * the next writer to open. */
static void test_both_files_and_leftovers(void **state)
{
    tu_fixture *f = *state;
    evs_options o = seg_options(64u << 10);
    evs_store *s = tu_fx_open(f, &o);
    append_model(s, 0, EVENTS / 2);
    uint64_t firsts[256];
    size_t n = list_segments(s, firsts, 256);
    tu_fx_close(f);
    char plain[4200], kept[4300], zs[4200], tmp[4300];
    path_of(f->dir, firsts[0], "seg", plain, sizeof plain);
    snprintf(kept, sizeof kept, "%s.kept", plain);
    assert_int_equal(link(plain, kept), 0);
    s = tu_fx_open(f, &o);
    evs_compact_report rep;
    assert_evs_ok(evs_compact(s, 0, &rep));
    assert_int_equal(rep.segments, n - 1);
    tu_fx_close(f);
    assert_int_equal(rename(kept, plain), 0);
    path_of(f->dir, firsts[0], "zseg", zs, sizeof zs);
    assert_true(exists(zs));
    /* A temporary file of a process that is gone (pid 2^22 + 1 is above pid_max by default). */
    snprintf(tmp, sizeof tmp, "%s.4194305.tmp", zs);
    FILE *fp = fopen(tmp, "w");
    assert_non_null(fp);
    fputs("partial", fp);
    fclose(fp);
    s = tu_fx_open(f, &o);
    assert_false(exists(tmp));
    check_all_reads(s, EVENTS / 2);
    assert_evs_ok(evs_compact(s, 0, &rep));
    assert_int_equal(rep.segments, 1);
    assert_false(exists(plain));
    s = tu_fx_reopen(f);
    check_all_reads(s, EVENTS / 2);
}

/* ---- crash trials ---------------------------------------------------------------- */

/* Copy every regular file of directory `from` into `to` (made). */
static void copy_store(const char *from, const char *to)
{
    char cmd[9000];
    tu_rmtree(to);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
}

static int trials(void)
{
    const char *e = getenv("EVS_COMPRESS_TRIALS");
    int n = e ? atoi(e) : 25;
    return n > 1 ? n : 2;
}

/* evs_compact killed at a random moment: every event intact, the store verifies, and a
 * compaction afterwards finishes the job. */
static void test_crash_compact(void **state)
{
    tu_fixture *f = *state;
    evs_options o = seg_options(64u << 10);
    o.sync_mode = EVS_SYNC_ALWAYS;
    evs_store *s = tu_fx_open(f, &o);
    append_model(s, 0, EVENTS);
    tu_fx_close(f);
    char work[4200];
    snprintf(work, sizeof work, "%s.work", f->dir);
    /* How long a whole compaction takes here, to kill within it. */
    copy_store(f->dir, work);
    int64_t t0 = tu_mono_ms();
    evs_store *w;
    assert_evs_ok(evs_open(&w, work, &o));
    assert_evs_ok(evs_compact(w, 0, NULL));
    evs_close(w);
    int64_t span = tu_mono_ms() - t0 + 5;
    int n = (trials() + 1) / 2;
    for (int t = 0; t < n; t++) {
        copy_store(f->dir, work);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            evs_store *c;
            if (evs_open(&c, work, &o) == 0)
                (void)evs_compact(c, 0, NULL);
            _exit(0);
        }
        tu_sleep_ms((int)(tu_rnd_below((uint64_t)span * 12 / 10 + 1)));
        kill(pid, SIGKILL);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_evs_ok(evs_open(&w, work, &o));
        check_all_reads(w, EVENTS);
        assert_evs_ok(evs_compact(w, 0, NULL));
        evs_close(w);
        assert_evs_ok(evs_open(&w, work, &o));
        check_all_reads(w, EVENTS);
        evs_close(w);
    }
    tu_cleanup(work);
}

/* A writer that compresses in the background, killed while it appends: every event it
 * was told is stored (and synced) is there, byte for byte, and the store verifies. */
static void test_crash_background(void **state)
{
    tu_fixture *f = *state;
    evs_options o = seg_options(64u << 10);
    o.sync_mode = EVS_SYNC_ALWAYS;
    o.compress_after = 1;
    tu_fx_close(f);
    int n = trials() / 2;
    int acked = 0;
    for (int t = 0; t < n; t++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            evs_store *c;
            if (evs_open(&c, f->dir, &o) != 0)
                _exit(1);
            char stream[32], data[256];
            for (int i = acked; i < acked + 3000; i++) {
                model_stream(i, stream, sizeof stream);
                model_data(i, data, sizeof data);
                if (tu_append1(c, stream, model_type(i), data) != i + 1)
                    _exit(1);
                int32_t done = i + 1;
                if (write(fds[1], &done, sizeof done) != sizeof done)
                    _exit(1);
            }
            evs_close(c);
            _exit(0);
        }
        close(fds[1]);
        tu_sleep_ms(100 + (int)tu_rnd_below(400));
        kill(pid, SIGKILL);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        int32_t done;
        while (read(fds[0], &done, sizeof done) == sizeof done)
            acked = done;
        close(fds[0]);
        evs_store *w;
        assert_evs_ok(evs_open(&w, f->dir, &o));
        int64_t head = evs_head(w);
        assert_true(head >= acked);
        /* The append that was under way when the kill came may have landed too. */
        check_all_reads(w, (int)head);
        acked = (int)head;
        evs_close(w);
    }
    uint64_t firsts[1024];
    evs_store *w;
    assert_evs_ok(evs_open(&w, f->dir, &o));
    size_t segs = list_segments(w, firsts, 1024), plain;
    assert_true(count_zseg(f->dir, firsts, segs, &plain) > 0);
    evs_close(w);
}

int main(void)
{
    tu_seed_rng();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reads_match_model, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_reads_only_needed_frames, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_background, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_damaged, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_repair_damaged_frame, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_damaged_plain_left, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_both_files_and_leftovers, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_crash_compact, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_crash_background, tu_setup_open, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
