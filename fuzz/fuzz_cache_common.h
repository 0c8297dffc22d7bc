/*
 * fuzz_cache_common.h - what the fuzz targets of the store's caches share
 * (fuzz_cache_<file>.c): a small valid store made once, a fresh copy of it for every
 * input with one cache file replaced by bytes the target makes from the input, and
 * checks that every way of reading the copy gives the truth.
 *
 * The caches (.idx, .sdx, the stream index's runs, the head page, consumer checkpoints) are checked
 * before they are used and rebuilt, bypassed or refused when they are damaged: the log
 * stays the truth. So whatever a cache holds, a read must either give exactly the
 * events that were appended, or fail with a message; never read past a file's end
 * (ASan, and SIGBUS for mappings), never hand out a wrong event. A target whose cache
 * can be made to lie with correct checksums (the fuzzer fixing them up) checks the
 * weaker promise that whatever a lie changes in the answers, evs_verify reports.
 *
 * The truth is known by construction: the template store holds FC_EVENTS events, the
 * i-th (position i) in stream fc_stream_of(i) with data naming i, over 64 KiB
 * segments (four of them, so three are sealed and have their .idx and .sdx), with an
 * a stream index run written about halfway (and one at the end, at close).
 */
#ifndef EVS_FUZZ_CACHE_COMMON_H
#define EVS_FUZZ_CACHE_COMMON_H

#define _GNU_SOURCE
#include "evstore.h"
#include "format.h"
#include "fuzz_common.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FC_EVENTS   160
#define FC_STREAMS  5
#define FC_PAD      1200 /* payload bytes per event: 160 events fill four segments */
#define FC_MAX_SEGS 8

static char fc_tmpl[4200];            /* the template store */
static char fc_work[4200];            /* the copy made for each input */
static uint64_t fc_segs[FC_MAX_SEGS]; /* first positions of the template's segments */
static size_t fc_seg_count;
static bool fc_verbose; /* $EVS_FUZZ_VERBOSE: one line per input */

static inline int fc_stream_of(int64_t pos)
{
    /* Uneven: stream 0 gets every other event, so stream lengths differ. */
    return pos % 2 == 0 ? 0 : (int)(pos % 7 % (FC_STREAMS - 1)) + 1;
}

static inline void fc_stream_name(int i, char *buf, size_t len)
{
    snprintf(buf, len, "acct-%d", i);
}

/* The data of the event at pos: names pos, padded so the segments fill. Made once by
 * fc_init (printing the padding for every event read took a tenth of the time). */
static char fc_datas[FC_EVENTS + 1][FC_PAD + 64];
static size_t fc_data_lens[FC_EVENTS + 1];

static inline void fc_make_data(int64_t pos)
{
    char *buf = fc_datas[pos];
    int n = snprintf(buf, sizeof fc_datas[pos], "{\"pos\":%" PRId64 ",\"pad\":\"", pos);
    FZ_CHECK(n > 0);
    size_t len = (size_t)n, pad = FC_PAD + (size_t)(pos % 13);
    memset(buf + len, '0', pad);
    memcpy(buf + len + pad, "\"}", 3);
    fc_data_lens[pos] = len + pad + 2;
}

/* Version of the event at pos in its stream (filled by fc_init). */
static int64_t fc_versions[FC_EVENTS + 1];

static inline int64_t fc_version_of(int64_t pos)
{
    return fc_versions[pos];
}

/* Read a whole file (at most cap bytes) into buf; returns its length. */
static inline size_t fc_read_file(const char *dir, const char *name, unsigned char *buf, size_t cap)
{
    char path[8400];
    FZ_CHECK(snprintf(path, sizeof path, "%s/%s", dir, name) < (int)sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    FZ_CHECK(fd >= 0);
    size_t have = 0;
    ssize_t n;
    while (have < cap && (n = read(fd, buf + have, cap - have)) > 0)
        have += (size_t)n;
    close(fd);
    return have;
}

/* Copy every file of `from` (and of its consumers/ directory) into a fresh `to`. */
static inline void fc_copy_store(const char *from, const char *to)
{
    fz_rmtree(to);
    FZ_CHECK(mkdir(to, 0755) == 0);
    DIR *d = opendir(from);
    FZ_CHECK(d != NULL);
    static unsigned char buf[256 * 1024];
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char src[8400], dst[8400];
        FZ_CHECK(snprintf(src, sizeof src, "%s/%s", from, e->d_name) < (int)sizeof src);
        FZ_CHECK(snprintf(dst, sizeof dst, "%s/%s", to, e->d_name) < (int)sizeof dst);
        struct stat st;
        FZ_CHECK(lstat(src, &st) == 0);
        if (S_ISDIR(st.st_mode)) {
            fc_copy_store(src, dst);
            continue;
        }
        FZ_CHECK((size_t)st.st_size <= sizeof buf);
        size_t n = fc_read_file(from, e->d_name, buf, sizeof buf);
        fz_write_file(to, e->d_name, buf, n);
    }
    closedir(d);
}

static inline int fc_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static inline void fc_list_segments(void)
{
    DIR *d = opendir(fc_tmpl);
    FZ_CHECK(d != NULL);
    struct dirent *e;
    fc_seg_count = 0;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n == 24 && strcmp(e->d_name + 20, ".seg") == 0 && fc_seg_count < FC_MAX_SEGS)
            fc_segs[fc_seg_count++] = strtoull(e->d_name, NULL, 10);
    }
    closedir(d);
    qsort(fc_segs, fc_seg_count, sizeof *fc_segs, fc_cmp_u64);
}

/* The stream index's run from position 0 in the template ("stream-index/<name>"). */
static char fc_run0[128];

static inline void fc_find_first_run(void)
{
    char dir[4400];
    snprintf(dir, sizeof dir, "%s/" SIDX_DIR, fc_tmpl);
    DIR *d = opendir(dir);
    FZ_CHECK(d != NULL);
    struct dirent *e;
    fc_run0[0] = '\0';
    while ((e = readdir(d)) != NULL)
        if (strlen(e->d_name) == 45 && strncmp(e->d_name, "00000000000000000000-", 21) == 0)
            snprintf(fc_run0, sizeof fc_run0, SIDX_DIR "/%.45s", e->d_name);
    closedir(d);
    FZ_CHECK(fc_run0[0] != '\0');
}

/* The template: FC_EVENTS events appended one by one, a durable consumer "c1" at
 * checkpoint FC_CKPT, closed (which writes the stream index's last run and the sealed
 * segments' stream directories). */
#define FC_CKPT 17

static inline void fc_init(const char *tag)
{
    fz_make_root(tag);
    snprintf(fc_tmpl, sizeof fc_tmpl, "%s/template", fz_root);
    snprintf(fc_work, sizeof fc_work, "%s/store", fz_root);
    fc_verbose = getenv("EVS_FUZZ_VERBOSE") != NULL;

    int64_t counts[FC_STREAMS] = {0};
    for (int64_t pos = 1; pos <= FC_EVENTS; pos++) {
        fc_versions[pos] = counts[fc_stream_of(pos)]++;
        fc_make_data(pos);
    }

    evs_options o = EVS_OPTIONS_INIT;
    o.sync_mode = EVS_SYNC_NONE;
    o.segment_size = 64 * 1024;
    /* A run about halfway: reads then use it and catch up past it. */
    o.checkpoint_bytes = 100 * 1024;
    evs_store *s = NULL;
    FZ_CHECK(evs_open(&s, fc_tmpl, &o) == 0);
    for (int64_t pos = 1; pos <= FC_EVENTS; pos++) {
        char stream[32];
        fc_stream_name(fc_stream_of(pos), stream, sizeof stream);
        evs_event_in ev;
        memset(&ev, 0, sizeof ev);
        ev.type = pos % 3 ? "Deposited" : "Withdrawn";
        ev.data = fc_datas[pos];
        ev.data_len = fc_data_lens[pos];
        if (pos % 5 == 0) {
            ev.metadata = "{\"actor\":\"fuzz\"}";
            ev.metadata_len = strlen(ev.metadata);
        }
        evs_append_result r;
        FZ_CHECK(evs_append(&r, s, stream, EVS_EXPECT_ANY, &ev, 1) == 0);
        FZ_CHECK(r.first_pos == pos);
    }
    evs_consumer *c = NULL;
    FZ_CHECK(evs_consumer_open(&c, s, "c1", NULL) == 0);
    FZ_CHECK(evs_consumer_ack(c, FC_CKPT) == 0);
    evs_consumer_close(c);
    FZ_CHECK(evs_close(s) == 0);
    fc_list_segments();
    FZ_CHECK(fc_seg_count >= 3);
    fc_find_first_run();
}

/* The name of segment i's file with extension ext. */
static inline void fc_seg_file(size_t i, const char *ext, char *buf, size_t len)
{
    snprintf(buf, len, "%020" PRIu64 ".%s", fc_segs[i], ext);
}

/* A fresh copy of the template in fc_work. */
static inline void fc_fresh(void)
{
    fc_copy_store(fc_tmpl, fc_work);
}

/* How fc_cache_bytes makes a cache file from an input (flag bits shared by the
 * targets). */
#define FC_XOR                                                                                     \
    0x04u            /* XOR the input over the real file (its length kept, or extended             \
                      * with zeros to the input's), so that small lies near the real               \
                      * bytes get tried; else the input replaces it */
#define FC_CUT 0x20u /* with FC_XOR: then cut the file at the input's length */

/* The new content of cache file `name` of the fresh copy, made from the input as
 * `flags` say; *len becomes its length. The caller frees it. */
static inline unsigned char *fc_cache_bytes(const char *name, const uint8_t *data, size_t size,
                                            unsigned flags, size_t *len)
{
    static unsigned char real[256 * 1024];
    size_t n = 0;
    if (flags & FC_XOR) {
        n = fc_read_file(fc_work, name, real, sizeof real);
        *len = (flags & FC_CUT) || size > n ? size : n;
    } else {
        *len = size;
    }
    unsigned char *b = calloc(1, *len ? *len : 1);
    FZ_CHECK(b != NULL);
    memcpy(b, real, n < *len ? n : *len);
    for (size_t i = 0; i < size; i++)
        b[i] ^= data[i];
    return b;
}

/* Replace cache file `name` of a fresh copy of the template with what the input makes
 * of it (fc_cache_bytes); `fix`, when given, changes those bytes once more before they
 * are written (checksums made right again, an identity put back). */
static inline void fc_install(const char *name, const uint8_t *data, size_t size, unsigned flags,
                              void (*fix)(unsigned char *bytes, size_t len))
{
    fc_fresh();
    size_t len;
    unsigned char *b = fc_cache_bytes(name, data, size, flags, &len);
    if (fix)
        fix(b, len);
    fz_write_file(fc_work, name, b, len);
    free(b);
}

/* Every target defines FC_TAG (its name, for its temporary directory) before it
 * includes this header: the template store is made once, before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fc_init(FC_TAG);
#ifdef FC_AFTER_INIT
    FC_AFTER_INIT(); /* a target's own change to the template (fuzz_cache_zseg.c) */
#endif
    return 0;
}

/* ---- reading and comparing with the truth ------------------------------------------ */

/* What the reads of one input found wrong; in lenient mode a target checks that
 * evs_verify reported something when this is not zero. */
typedef struct fc_result {
    int wrong;      /* answers that differ from the truth: events missing, extra, out of
                     * order, wrong stream tables */
    int fabricated; /* events handed out that are not what was appended at their
                     * position */
    int errors;     /* reads that failed (with a message) */
} fc_result;

/* How much a target may demand of the answers (fc_open_and_check). */
typedef enum fc_level {
    FC_STRICT, /* the truth, and verify finds the store whole */
    FC_DETECT, /* any difference from the truth is reported by verify */
    FC_SAFE    /* no event handed out is false (a head page that lies with the store's
                * identity may hide events: it is how other processes learn of them) */
} fc_level;

/* Is ev exactly the event appended at ev->pos? */
static inline bool fc_event_true(const evs_event *ev)
{
    if (ev->pos < 1 || ev->pos > FC_EVENTS)
        return false;
    char stream[32];
    const char *want = fc_datas[ev->pos];
    size_t n = fc_data_lens[ev->pos];
    fc_stream_name(fc_stream_of(ev->pos), stream, sizeof stream);
    const char *type = ev->pos % 3 ? "Deposited" : "Withdrawn";
    return ev->data_len == n && memcmp(ev->data, want, n) == 0 &&
           ev->stream_len == strlen(stream) && memcmp(ev->stream, stream, ev->stream_len) == 0 &&
           ev->type_len == strlen(type) && memcmp(ev->type, type, ev->type_len) == 0 &&
           ev->version == fc_version_of(ev->pos) && (ev->metadata != NULL) == (ev->pos % 5 == 0);
}

/* Run query q to its end; the events must be exactly those at the positions `want`
 * lists (in that order, want_n of them). A failure with a message counts as an error,
 * anything else that differs as wrong. */
static inline void fc_expect(evs_store *s, const evs_query *q, const int64_t *want, size_t want_n,
                             fc_result *res)
{
    evs_cursor *c = NULL;
    int rc = evs_cursor_open(&c, s, q);
    if (rc < 0) {
        FZ_CHECK(evs_errmsg()[0] != '\0');
        res->errors++;
        return;
    }
    evs_event ev;
    size_t i = 0;
    bool wrong = false;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        if (!fc_event_true(&ev))
            res->fabricated++;
        if (i >= want_n || ev.pos != want[i])
            wrong = true;
        i++;
    }
    if (rc < 0) {
        FZ_CHECK(evs_errmsg()[0] != '\0');
        if (fc_verbose)
            fprintf(stderr, "fuzz cache: a read of %s from %" PRId64 " failed: %s\n",
                    q && q->stream ? q->stream : "all", q ? q->from_pos : 0, evs_errmsg());
        res->errors++;
    } else if (wrong || i != want_n) {
        res->wrong++;
    }
    evs_cursor_close(c);
}

/* evs_verify's verdict: the number of problems it reported (0: whole). */
static inline int64_t fc_verify(evs_store *s)
{
    int64_t problems = 0;
    evs_verify_report rep;
    memset(&rep, 0, sizeof rep);
    int rc = evs_verify(&rep, s, fz_count_problem, &problems);
    FZ_CHECK(rc == 0 || rc == EVS_ECORRUPT || rc == EVS_EIO);
    if (rc == 0)
        FZ_CHECK(problems == 0);
    return rc == 0 ? 0 : problems + 1;
}

/* Every way of reading the store: the whole log both ways, each stream both ways and
 * from a version in the middle, reads that start at a position in each segment (found
 * through its .idx), the stream table, the listing of streams and the head. */
static inline void fc_read_all(evs_store *s, fc_result *res)
{
    static int64_t want[FC_EVENTS];
    for (int64_t p = 1; p <= FC_EVENTS; p++)
        want[p - 1] = p;
    fc_expect(s, NULL, want, FC_EVENTS, res);
    if (evs_head(s) != FC_EVENTS)
        res->wrong++;

    static int64_t back[FC_EVENTS];
    for (int64_t p = FC_EVENTS; p >= 1; p--)
        back[FC_EVENTS - p] = p;
    evs_query q = EVS_QUERY_INIT;
    q.direction = EVS_BACKWARD;
    fc_expect(s, &q, back, FC_EVENTS, res);

    /* From a position inside each segment, forward (a few) and backward (a few). */
    for (size_t i = 0; i < fc_seg_count; i++) {
        int64_t from = (int64_t)fc_segs[i] + (int64_t)i * 3 + 1;
        if (from > FC_EVENTS)
            from = FC_EVENTS;
        evs_query pq = EVS_QUERY_INIT;
        pq.from_pos = from;
        pq.limit = 4;
        size_t n = 0;
        for (int64_t p = from; p <= FC_EVENTS && n < 4; p++)
            want[n++] = p;
        fc_expect(s, &pq, want, n, res);
        pq.direction = EVS_BACKWARD;
        n = 0;
        for (int64_t p = from; p >= 1 && n < 4; p--)
            want[n++] = p;
        fc_expect(s, &pq, want, n, res);
    }

    size_t listed = 0;
    for (int st = 0; st < FC_STREAMS; st++) {
        char name[32];
        fc_stream_name(st, name, sizeof name);
        size_t n = 0;
        for (int64_t p = 1; p <= FC_EVENTS; p++)
            if (fc_stream_of(p) == st)
                want[n++] = p;
        for (size_t k = 0; k < n; k++)
            back[n - 1 - k] = want[k];
        evs_query sq = EVS_QUERY_INIT;
        sq.stream = name;
        fc_expect(s, &sq, want, n, res);
        sq.direction = EVS_BACKWARD;
        fc_expect(s, &sq, back, n, res);
        sq.direction = EVS_FORWARD;
        sq.from_version = (int64_t)n / 2;
        fc_expect(s, &sq, want + n / 2, n - n / 2, res);
        evs_query cq = EVS_QUERY_INIT;
        cq.category = "acct";
        cq.limit = 1;
        cq.from_pos = want[n - 1];
        fc_expect(s, &cq, want + n - 1, 1, res);

        evs_stream_info info;
        int rc = evs_stream_get(&info, s, name);
        if (rc < 0)
            res->errors++;
        else if (!info.exists || info.event_count != (int64_t)n ||
                 info.last_version != (int64_t)n - 1 || info.first_pos != want[0] ||
                 info.last_pos != want[n - 1])
            res->wrong++;
    }
    evs_stream_iter *it = NULL;
    if (evs_streams_open(&it, s, NULL) == 0) {
        const char *name;
        size_t name_len;
        evs_stream_info info;
        int rc;
        while ((rc = evs_streams_next(&name, &name_len, &info, it)) > 0) {
            listed++;
            char want_name[32];
            int st = -1;
            for (int k = 0; k < FC_STREAMS; k++) {
                fc_stream_name(k, want_name, sizeof want_name);
                if (name_len == strlen(want_name) && memcmp(name, want_name, name_len) == 0)
                    st = k;
            }
            if (st < 0 || info.last_pos > FC_EVENTS || info.last_pos < 1 ||
                fc_stream_of(info.last_pos) != st)
                res->wrong++;
        }
        if (rc < 0)
            res->errors++;
        else if (listed != FC_STREAMS)
            res->wrong++;
        evs_streams_close(it);
    } else {
        res->errors++;
    }
}

/* Open the copy (read-only or writable), read everything, verify, and hold the
 * answers to `level`. Opening may fail (with a message) only below FC_STRICT. */
static inline void fc_open_and_check(bool readonly, fc_level level)
{
    evs_options o = EVS_OPTIONS_INIT;
    o.sync_mode = EVS_SYNC_NONE;
    o.flags = EVS_OPEN_NOCREATE | (readonly ? EVS_OPEN_READONLY : 0);
    evs_store *s = NULL;
    int rc = evs_open(&s, fc_work, &o);
    if (fc_verbose)
        fprintf(stderr, "fuzz cache: open %s %s\n", evs_errname(rc), evs_errmsg());
    if (rc < 0) {
        FZ_CHECK(level != FC_STRICT);
        FZ_CHECK(s == NULL && evs_errmsg()[0] != '\0');
        return;
    }
    fc_result res = {0, 0, 0};
    fc_read_all(s, &res);
    int64_t problems = fc_verify(s);
    if (fc_verbose)
        fprintf(stderr, "fuzz cache: %d wrong, %d fabricated, %d errors, verify %" PRId64 "\n",
                res.wrong, res.fabricated, res.errors, problems);
    FZ_CHECK(res.fabricated == 0 || (level != FC_STRICT && problems > 0));
    if (level == FC_STRICT)
        FZ_CHECK(res.wrong == 0 && res.errors == 0 && problems == 0);
    else if (level == FC_DETECT && res.wrong > 0)
        FZ_CHECK(problems > 0);
    FZ_CHECK(evs_close(s) == 0);
}

#endif /* EVS_FUZZ_CACHE_COMMON_H */
