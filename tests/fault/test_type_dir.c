/*
 * test_type_dir.c - type directories (.tdx) of sealed segments: made beside the stream
 * directories, used by reads filtered by type, category or prefix, and never trusted
 * over the log. Every filter combination (types, category, prefix, from/to positions,
 * both directions, since/until, limit) is checked against a model of the store read
 * without filters, over stores whose directories are present, missing, damaged,
 * stale, or lying with right checksums. Subscriptions with filters catch up through
 * sealed segments while other threads append and seal more, with no gap and no
 * repeat; writers killed while they make directories leave a store that answers right.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "segment_probe.h"

#include "format.h"
#include "util.h"

#define EVENTS  3000
#define MAX_EV  20000 /* events a follower may take */

/* Streams over several categories, some names a prefix of others, some with no '-'. */
static const char *const STREAM_NAMES[] = {
    "order-1", "order-2", "order-3", "order-13", "order", "orders-1", "orders-2",
    "refund-1", "refund-2", "ord-9", "x", "xy-1", "acct-eu-1", "acct-eu-2", "acct-us-1",
};
#define NSTREAMS (sizeof STREAM_NAMES / sizeof STREAM_NAMES[0])

/* Types from common to rare. */
static const char *const TYPE_NAMES[] = {"ItemAdded", "Paid", "Shipped", "ItemRemoved"};

static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static const char *pick_type(uint64_t r)
{
    unsigned p = (unsigned)(r % 1000);
    return TYPE_NAMES[p < 850 ? 0 : p < 950 ? 1 : p < 990 ? 2 : 3];
}

/* n events, streams and types drawn from seed. */
static void fill_n(evs_store *s, int n, uint64_t seed)
{
    char json[200];
    uint64_t x = seed;
    for (int i = 0; i < n; i++) {
        uint64_t r = next_rand(&x);
        snprintf(json, sizeof json, "{\"i\":%d,\"pad\":\"%0*d\"}", i, (int)(r % 90), 0);
        assert_true(tu_append1(s, STREAM_NAMES[(r >> 20) % NSTREAMS], pick_type(r >> 8), json) > 0);
    }
}

/* ---- the model: the store read whole, without filters ---------------------------- */

typedef struct model_ev {
    int64_t pos;
    int64_t ts;
    char stream[32];
    char type[32];
    uint64_t data_sum;
} model_ev;

typedef struct model {
    model_ev *ev;
    size_t n;
} model;

static uint64_t sum_of(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static void model_read(evs_store *s, model *m)
{
    size_t cap = 4096;
    m->ev = calloc(cap, sizeof *m->ev);
    assert_non_null(m->ev);
    m->n = 0;
    evs_cursor *c;
    evs_event e;
    assert_evs_ok(evs_cursor_open(&c, s, NULL));
    int rc;
    while ((rc = evs_cursor_next(&e, c)) > 0) {
        if (m->n == cap) {
            m->ev = realloc(m->ev, (cap *= 2) * sizeof *m->ev);
            assert_non_null(m->ev);
        }
        model_ev *x = &m->ev[m->n++];
        x->pos = e.pos;
        x->ts = e.ts_ns;
        snprintf(x->stream, sizeof x->stream, "%.*s", (int)e.stream_len, e.stream);
        snprintf(x->type, sizeof x->type, "%.*s", (int)e.type_len, e.type);
        x->data_sum = sum_of(e.data, e.data_len);
    }
    assert_int_equal(rc, 0);
    evs_cursor_close(c);
}

static bool starts_with(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static bool model_match(const evs_query *q, const model_ev *x)
{
    if (q->type_count) {
        size_t i = 0;
        while (i < q->type_count && strcmp(q->types[i], x->type) != 0)
            i++;
        if (i == q->type_count)
            return false;
    }
    if (q->category) {
        size_t n = strlen(q->category);
        if (!starts_with(x->stream, q->category) || (x->stream[n] && x->stream[n] != '-'))
            return false;
    }
    if (q->prefix && !starts_with(x->stream, q->prefix))
        return false;
    if ((q->since_ns && x->ts < q->since_ns) || (q->until_ns && x->ts >= q->until_ns))
        return false;
    if (q->direction == EVS_FORWARD)
        return x->pos >= q->from_pos && (!q->to_pos || x->pos <= q->to_pos);
    return (!q->from_pos || x->pos <= q->from_pos) && x->pos >= q->to_pos;
}

/* The query run through a cursor gives exactly the model's events, in order. */
static void check_query(evs_store *s, const model *m, const evs_query *q)
{
    evs_cursor *c;
    evs_event e;
    assert_evs_ok(evs_cursor_open(&c, s, q));
    bool back = q->direction == EVS_BACKWARD;
    size_t at = back ? m->n : 0, given = 0;
    for (;;) {
        const model_ev *want = NULL;
        while (!q->limit || given < q->limit) {
            if (back ? at == 0 : at == m->n)
                break;
            const model_ev *x = &m->ev[back ? --at : at++];
            if (model_match(q, x)) {
                want = x;
                break;
            }
        }
        int rc = evs_cursor_next(&e, c);
        if (!want) {
            if (rc != 0)
                fail_msg("query gave position %lld past the model's last match",
                         rc > 0 ? (long long)e.pos : (long long)rc);
            break;
        }
        if (rc != 1)
            fail_msg("query ended (%d: %s) before position %lld", rc, evs_errmsg(),
                     (long long)want->pos);
        assert_int_equal(e.pos, want->pos);
        assert_int_equal(sum_of(e.data, e.data_len), want->data_sum);
        assert_int_equal(e.type_len, strlen(want->type));
        assert_memory_equal(e.type, want->type, e.type_len);
        given++;
    }
    evs_cursor_close(c);
}

/* Filters to combine: index 0 is "none" in each list. */
static const char *const *const TYPE_SETS[] = {
    NULL,
    (const char *const[]){"ItemRemoved"},
    (const char *const[]){"Paid", "Shipped"},
    (const char *const[]){"Shipped", "Shipped"},
    (const char *const[]){"Nope"},
    (const char *const[]){"ItemAdded"},
};
static const size_t TYPE_COUNTS[] = {0, 1, 2, 2, 1, 1};
static const char *const CATEGORIES[] = {NULL, "order", "orders", "order-1", "refund", "x",
                                         "acct-eu", "nope"};
static const char *const PREFIXES[] = {NULL, "ord", "order-", "order-1", "re", "x", "acct-e",
                                       "a", "zz"};

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* `rounds` queries with random filter combinations and bounds (seeded), each against
 * the model; plus every type/category/prefix combination plain, both ways. */
static void check_queries(evs_store *s, const model *m, int rounds, uint64_t seed)
{
    for (size_t t = 0; t < LEN(TYPE_SETS); t++)
        for (size_t k = 0; k < LEN(CATEGORIES); k++)
            for (size_t p = 0; p < LEN(PREFIXES); p++)
                for (int dir = 0; dir < 2; dir++) {
                    evs_query q = EVS_QUERY_INIT;
                    q.types = TYPE_SETS[t];
                    q.type_count = TYPE_COUNTS[t];
                    q.category = CATEGORIES[k];
                    q.prefix = PREFIXES[p];
                    q.direction = dir ? EVS_BACKWARD : EVS_FORWARD;
                    check_query(s, m, &q);
                }
    uint64_t x = seed;
    int64_t last = m->ev[m->n - 1].pos;
    for (int i = 0; i < rounds; i++) {
        evs_query q = EVS_QUERY_INIT;
        size_t t = next_rand(&x) % LEN(TYPE_SETS);
        q.types = TYPE_SETS[t];
        q.type_count = TYPE_COUNTS[t];
        q.category = CATEGORIES[next_rand(&x) % LEN(CATEGORIES)];
        q.prefix = PREFIXES[next_rand(&x) % LEN(PREFIXES)];
        q.direction = next_rand(&x) % 2 ? EVS_BACKWARD : EVS_FORWARD;
        if (next_rand(&x) % 2)
            q.from_pos = 1 + (int64_t)(next_rand(&x) % (uint64_t)last);
        if (next_rand(&x) % 2)
            q.to_pos = 1 + (int64_t)(next_rand(&x) % (uint64_t)last);
        if (next_rand(&x) % 3 == 0)
            q.limit = 1 + next_rand(&x) % 20;
        int64_t t0 = m->ev[0].ts, t1 = m->ev[m->n - 1].ts;
        if (next_rand(&x) % 3 == 0 && t1 > t0)
            q.since_ns = t0 + (int64_t)(next_rand(&x) % (uint64_t)(t1 - t0));
        if (next_rand(&x) % 3 == 0 && t1 > t0)
            q.until_ns = t0 + 1 + (int64_t)(next_rand(&x) % (uint64_t)(t1 - t0));
        if (q.since_ns && q.until_ns && q.until_ns <= q.since_ns)
            q.until_ns = 0;
        check_query(s, m, &q);
    }
}

/* ---- the store and its directories ------------------------------------------------ */

/* A store filled with small segments and closed, and its model; returns how many
 * segments (their first positions in firsts). */
static size_t filled(tu_fixture *f, model *m, uint64_t *firsts, size_t cap)
{
    evs_options o = tu_small_segments();
    fill_n(tu_fx_open(f, &o), EVENTS, 88172645463325252ull);
    evs_store *s = tu_fx_reopen(f);
    model_read(s, m);
    size_t n = tu_segments(s, firsts, cap);
    tu_fx_close(f);
    return n;
}

static void test_made_and_used(void **state)
{
    tu_fixture *f = *state;
    model m;
    uint64_t firsts[128];
    size_t n = filled(f, &m, firsts, 128);
    char path[4200];
    for (size_t i = 0; i < n; i++) {
        tu_seg_path(f->dir, firsts[i], "tdx", path, sizeof path);
        assert_int_equal(tu_exists(path), i + 1 < n); /* sealed ones only */
    }
    evs_store *s = tu_fx_open(f, &f->opts);
    check_queries(s, &m, 400, 1);
    for (size_t i = 0; i + 1 < n; i++)
        assert_int_equal(tu_tdx_state(s, firsts[i]), 1);
    free(m.ev);
}

/* Rewrite every sealed segment's directory through harm(path, i), reopen, check the
 * queries; returns the store, open. */
static evs_store *harm_all(tu_fixture *f, model *m, uint64_t *firsts, size_t *n,
                           void (*harm)(const char *path, size_t i))
{
    *n = filled(f, m, firsts, 128);
    char path[4200];
    for (size_t i = 0; i + 1 < *n; i++) {
        tu_seg_path(f->dir, firsts[i], "tdx", path, sizeof path);
        harm(path, i);
    }
    evs_store *s = tu_fx_open(f, &f->opts);
    check_queries(s, m, 200, 2);
    return s;
}

static void remove_file(const char *path, size_t i)
{
    (void)i;
    assert_int_equal(unlink(path), 0);
}

/* After a writable handle read past missing or unfit directories, closing it (which
 * waits for its builder) leaves them all made again, and the next handle uses them. */
static void check_remade(tu_fixture *f, const model *m, const uint64_t *firsts, size_t n)
{
    char path[4200];
    tu_fx_close(f);
    for (size_t i = 0; i + 1 < n; i++) {
        tu_seg_path(f->dir, firsts[i], "tdx", path, sizeof path);
        assert_true(tu_exists(path));
    }
    evs_store *s = tu_fx_open(f, &f->opts);
    check_queries(s, m, 50, 3);
    for (size_t i = 0; i + 1 < n; i++)
        assert_int_equal(tu_tdx_state(s, firsts[i]), 1);
}

static void test_missing(void **state)
{
    model m;
    uint64_t firsts[128];
    size_t n;
    harm_all(*state, &m, firsts, &n, remove_file);
    check_remade(*state, &m, firsts, n);
    free(m.ev);
}

/* A read-only handle scans and writes no directory. */
static void test_read_only_makes_none(void **state)
{
    tu_fixture *f = *state;
    model m;
    uint64_t firsts[128];
    size_t n = filled(f, &m, firsts, 128);
    char path[4200];
    for (size_t i = 0; i + 1 < n; i++) {
        tu_seg_path(f->dir, firsts[i], "tdx", path, sizeof path);
        remove_file(path, i);
    }
    evs_options ro = tu_small_segments();
    ro.flags = EVS_OPEN_READONLY;
    evs_store *s;
    assert_evs_ok(evs_open(&s, f->dir, &ro));
    check_queries(s, &m, 50, 4);
    assert_evs_ok(evs_close(s));
    for (size_t i = 0; i + 1 < n; i++) {
        tu_seg_path(f->dir, firsts[i], "tdx", path, sizeof path);
        assert_false(tu_exists(path));
    }
    free(m.ev);
}

static void flip_at(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x10;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* One bit: in the header, a key, a name or an entry, by turns. */
static void flip_a_bit(const char *path, size_t i)
{
    off_t len = file_size(path);
    off_t at[] = {TDX_OFF_COUNT, TDX_HDR_LEN + TDX_KEY_N, TDX_HDR_LEN + 2 * TDX_KEY_LEN,
                  len - 8 * (off_t)(i + 1), len / 2};
    flip_at(path, at[i % 5]);
}

static void test_damaged(void **state)
{
    model m;
    uint64_t firsts[128];
    size_t n;
    evs_store *s = harm_all(*state, &m, firsts, &n, flip_a_bit);
    for (size_t i = 0; i + 1 < n; i++)
        assert_true(tu_tdx_state(s, firsts[i]) != 1 || i % 5 >= 3); /* entries: when read */
    free(m.ev);
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[8192];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, got, out), got);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* Directories made from another store written the same way, segment for segment the
 * same lengths and positions, but at other times (another version of each segment):
 * none is used, and the answers are exact. */
static void test_stale(void **state)
{
    tu_fixture *f = *state;
    model m;
    uint64_t firsts[128];
    size_t n = filled(f, &m, firsts, 128);
    char other[4096], from[4200], to[4200];
    tu_tmpdir(other, sizeof other, "stale");
    evs_store *o;
    evs_options opts = tu_small_segments();
    assert_evs_ok(evs_open(&o, other, &opts));
    fill_n(o, EVENTS, 88172645463325252ull);
    assert_evs_ok(evs_close(o));
    size_t copied = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        tu_seg_path(other, firsts[i], "tdx", from, sizeof from);
        tu_seg_path(f->dir, firsts[i], "tdx", to, sizeof to);
        if (tu_exists(from)) {
            copy_file(from, to);
            copied++;
        }
    }
    assert_true(copied + 1 >= n);
    evs_store *s = tu_fx_open(f, &f->opts);
    check_queries(s, &m, 200, 5);
    for (size_t i = 0; i + 1 < n; i++)
        assert_true(tu_tdx_state(s, firsts[i]) != 1);
    tu_cleanup(other);
    free(m.ev);
}

/* Rewrite a directory through change(img, len), then make every checksum right again. */
static void rewrite(const char *path, void (*change)(unsigned char *img, size_t len))
{
    off_t len = file_size(path);
    unsigned char *img = malloc((size_t)len);
    assert_non_null(img);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, img, (size_t)len, 0), len);
    change(img, (size_t)len);
    uint32_t keys = evs__get_u32(img + TDX_OFF_TKEYS) + evs__get_u32(img + TDX_OFF_CKEYS);
    size_t names = (evs__get_u32(img + TDX_OFF_NAMES) + 7u) & ~7u;
    size_t entries = TDX_HDR_LEN + (size_t)keys * TDX_KEY_LEN + names;
    for (uint32_t k = 0; k < keys; k++) {
        unsigned char *key = img + TDX_HDR_LEN + (size_t)k * TDX_KEY_LEN;
        evs__put_u32(key + TDX_KEY_CRC,
                     evs__crc32c(0, img + entries + evs__get_u32(key + TDX_KEY_FIRST) * 8ull,
                                 evs__get_u32(key + TDX_KEY_N) * 8ull));
    }
    evs__put_u32(img + TDX_OFF_KEYCRC, evs__crc32c(0, img + TDX_HDR_LEN, entries - TDX_HDR_LEN));
    evs__put_u32(img + TDX_OFF_CRC, evs__crc32c(0, img, TDX_OFF_CRC));
    assert_int_equal(pwrite(fd, img, (size_t)len, 0), len);
    close(fd);
    free(img);
}

static unsigned char *entries_of(unsigned char *img)
{
    uint32_t keys = evs__get_u32(img + TDX_OFF_TKEYS) + evs__get_u32(img + TDX_OFF_CKEYS);
    return img + TDX_HDR_LEN + (size_t)keys * TDX_KEY_LEN +
           ((evs__get_u32(img + TDX_OFF_NAMES) + 7u) & ~7u);
}

/* Every type run's first two entries trade offsets: each leads to a record at another
 * position. */
static void swap_offsets(unsigned char *img, size_t len)
{
    (void)len;
    unsigned char *e = entries_of(img);
    for (uint32_t k = 0; k < evs__get_u32(img + TDX_OFF_TKEYS); k++) {
        const unsigned char *key = img + TDX_HDR_LEN + (size_t)k * TDX_KEY_LEN;
        if (evs__get_u32(key + TDX_KEY_N) < 2)
            continue;
        unsigned char *a = e + evs__get_u32(key + TDX_KEY_FIRST) * 8ull, *b = a + 8;
        uint32_t off_a = evs__get_u32(a);
        evs__put_u32(a, evs__get_u32(b));
        evs__put_u32(b, off_a);
    }
}

/* In every category run, each entry but the last takes the next one's offset: the
 * positions stay in order, the records they lead to are others (the first one twice). */
static void shift_offsets(unsigned char *img, size_t len)
{
    (void)len;
    unsigned char *e = entries_of(img);
    uint32_t tkeys = evs__get_u32(img + TDX_OFF_TKEYS);
    for (uint32_t k = tkeys; k < tkeys + evs__get_u32(img + TDX_OFF_CKEYS); k++) {
        const unsigned char *key = img + TDX_HDR_LEN + (size_t)k * TDX_KEY_LEN;
        uint32_t n = evs__get_u32(key + TDX_KEY_N);
        unsigned char *run = e + evs__get_u32(key + TDX_KEY_FIRST) * 8ull;
        for (uint32_t i = 0; i + 1 < n; i++)
            evs__put_u32(run + i * 8ull, evs__get_u32(run + (i + 1) * 8ull));
    }
}

/* The last category key gives up its run's last entry: the category runs no longer
 * name every record. */
static void drop_an_entry(unsigned char *img, size_t len)
{
    (void)len;
    uint32_t keys = evs__get_u32(img + TDX_OFF_TKEYS) + evs__get_u32(img + TDX_OFF_CKEYS);
    unsigned char *key = img + TDX_HDR_LEN + (size_t)(keys - 1) * TDX_KEY_LEN;
    evs__put_u32(key + TDX_KEY_N, evs__get_u32(key + TDX_KEY_N) - 1);
}

static void lie_swap(const char *path, size_t i)
{
    (void)i;
    rewrite(path, swap_offsets);
}

static void lie_shift(const char *path, size_t i)
{
    (void)i;
    rewrite(path, shift_offsets);
}

static void lie_drop(const char *path, size_t i)
{
    (void)i;
    rewrite(path, drop_an_entry);
}

static void test_lying_offsets(void **state)
{
    model m;
    uint64_t firsts[128];
    size_t n;
    evs_store *s = harm_all(*state, &m, firsts, &n, lie_swap);
    for (size_t i = 0; i + 1 < n; i++)
        assert_int_equal(tu_tdx_state(s, firsts[i]), -1); /* found out, dropped */
    free(m.ev);
}

static void test_lying_records(void **state)
{
    model m;
    uint64_t firsts[128];
    size_t n;
    harm_all(*state, &m, firsts, &n, lie_shift);
    free(m.ev);
}

static void test_lying_counts(void **state)
{
    model m;
    uint64_t firsts[128];
    size_t n;
    evs_store *s = harm_all(*state, &m, firsts, &n, lie_drop);
    for (size_t i = 0; i + 1 < n; i++)
        assert_int_equal(tu_tdx_state(s, firsts[i]), -1);
    free(m.ev);
}

/* Another segment's directory in place of one: not used. */
static void test_directory_of_another_segment(void **state)
{
    tu_fixture *f = *state;
    model m;
    uint64_t firsts[128];
    filled(f, &m, firsts, 128);
    char from[4200], to[4200];
    tu_seg_path(f->dir, firsts[1], "tdx", from, sizeof from);
    tu_seg_path(f->dir, firsts[0], "tdx", to, sizeof to);
    assert_int_equal(rename(from, to), 0);
    evs_store *s = tu_fx_open(f, &f->opts);
    check_queries(s, &m, 100, 6);
    assert_int_equal(tu_tdx_state(s, firsts[0]), -1);
    free(m.ev);
}

/* ---- catching up while others append ---------------------------------------------- */

#define APPENDERS 2
#define PER_APPENDER 2500

typedef struct appender {
    evs_store *s;
    uint64_t seed;
} appender;

static void *append_more(void *arg)
{
    appender *a = arg;
    fill_n(a->s, PER_APPENDER, a->seed);
    return NULL;
}

typedef struct follower {
    evs_store *s;
    evs_query q;
    int64_t *got;
    size_t n;
    atomic_bool *done;
} follower;

/* Subscribe from the start with q and take events until the appenders are done and
 * nothing more comes. */
static void *follow(void *arg)
{
    follower *w = arg;
    evs_subscription *sub;
    assert_evs_ok(evs_subscribe(&sub, w->s, &w->q, EVS_FROM_START));
    evs_event e;
    for (;;) {
        bool finished = atomic_load(w->done);
        int rc = evs_subscription_next(&e, sub, 20);
        assert_true(rc >= 0);
        if (rc == 1) {
            assert_true(w->n < MAX_EV);
            w->got[w->n++] = e.pos;
        } else if (finished) {
            break;
        }
    }
    evs_subscription_close(sub);
    return NULL;
}

/* Filtered subscriptions start while the store is being written by two threads that
 * seal segment after segment (their directories made behind them): each catches up
 * through sealed segments by their directories and through the one being written by
 * scanning, and hands out exactly the matching events, in order, none twice. */
static void test_catch_up_while_appending(void **state)
{
    tu_fixture *f = *state;
    evs_options o = tu_small_segments();
    evs_store *s = tu_fx_open(f, &o);
    fill_n(s, 1500, 7); /* sealed segments to catch up through first */
    atomic_bool done = false;
    static const char *const rare[] = {"ItemRemoved", "Shipped"};
    evs_query qs[4];
    for (int i = 0; i < 4; i++)
        qs[i] = (evs_query)EVS_QUERY_INIT;
    qs[0].types = rare;
    qs[0].type_count = 2;
    qs[1].category = "order";
    qs[2].prefix = "acct-e";
    qs[3].types = rare + 1;
    qs[3].type_count = 1;
    qs[3].category = "refund";
    follower w[4];
    pthread_t ft[4], at[APPENDERS];
    appender a[APPENDERS];
    for (int i = 0; i < 4; i++) {
        w[i] = (follower){s, qs[i], calloc(MAX_EV, sizeof(int64_t)), 0, &done};
        assert_non_null(w[i].got);
        assert_int_equal(pthread_create(&ft[i], NULL, follow, &w[i]), 0);
    }
    for (int i = 0; i < APPENDERS; i++) {
        a[i] = (appender){s, 1000 + (uint64_t)i};
        assert_int_equal(pthread_create(&at[i], NULL, append_more, &a[i]), 0);
    }
    for (int i = 0; i < APPENDERS; i++)
        assert_int_equal(pthread_join(at[i], NULL), 0);
    atomic_store(&done, true);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(ft[i], NULL), 0);
    model m;
    model_read(s, &m);
    assert_int_equal(m.n, 1500 + APPENDERS * PER_APPENDER);
    for (int i = 0; i < 4; i++) {
        size_t k = 0;
        for (size_t j = 0; j < m.n; j++)
            if (model_match(&qs[i], &m.ev[j])) {
                assert_true(k < w[i].n);
                assert_int_equal(w[i].got[k], m.ev[j].pos);
                k++;
            }
        assert_int_equal(k, w[i].n);
        assert_true(k > 0);
        free(w[i].got);
    }
    free(m.ev);
}

/* ---- writers killed while they make directories ----------------------------------- */

#define KILL_TRIALS 6

static bool leftover_temp(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    bool found = false;
    while ((de = readdir(d)))
        found |= strstr(de->d_name, ".tdx.") != NULL && strstr(de->d_name, ".tmp") != NULL;
    closedir(d);
    return found;
}

/* A writer appends and seals segment after segment, its builder making directories
 * behind it, and is killed at a random moment, over and over on the same store: each
 * time the store opens, and every filtered query gives the model's events (whatever
 * directories the kill left whole, torn or half written). */
static void test_killed_while_making(void **state)
{
    tu_fixture *f = *state;
    tu_seed_rng();
    evs_options o = tu_small_segments();
    for (int trial = 0; trial < KILL_TRIALS; trial++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            evs_store *s;
            if (evs_open(&s, f->dir, &o) < 0)
                _exit(2);
            for (int round = 0; round < 25; round++)
                fill_n(s, 200, 31 + (uint64_t)round);
            for (;;)
                pause();
        }
        tu_sleep_ms(100 + (int)tu_rnd_below(300));
        assert_int_equal(kill(pid, SIGKILL), 0);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st));
        evs_store *s = tu_fx_open(f, &o);
        assert_false(leftover_temp(f->dir)); /* the next writer removes them */
        model m;
        model_read(s, &m);
        if (m.n > 0)
            check_queries(s, &m, 40, 10 + (uint64_t)trial);
        free(m.ev);
        tu_fx_close(f);
    }
}

/* Built twice: test_type_dir runs the cases on stores at rest, test_type_dir_live
 * (TYPE_DIR_LIVE) the one with threads, which ThreadSanitizer also runs. */
#ifdef TYPE_DIR_LIVE
static const bool live_only = true;
#else
static const bool live_only = false;
#endif

int main(void)
{
    const struct CMUnitTest at_rest[] = {
        cmocka_unit_test_setup_teardown(test_made_and_used, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_missing, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_read_only_makes_none, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_damaged, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_stale, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_lying_offsets, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_lying_records, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_lying_counts, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_directory_of_another_segment, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_killed_while_making, tu_setup, tu_teardown),
    };
    const struct CMUnitTest live[] = {
        cmocka_unit_test_setup_teardown(test_catch_up_while_appending, tu_setup, tu_teardown),
    };
    return live_only ? cmocka_run_group_tests(live, NULL, NULL)
                     : cmocka_run_group_tests(at_rest, NULL, NULL);
}
