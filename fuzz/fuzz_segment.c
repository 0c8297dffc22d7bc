/*
 * fuzz_segment.c - fuzz target for the file backend's reading side: arbitrary bytes as
 * the segment files of a store, then open (crash recovery), read everything every way
 * the API allows, and evs_verify.
 *
 * Errors are fine (a damaged log must be reported, not trusted); crashes, leaks,
 * out-of-bounds reads and broken invariants are not. The store directory is made fresh
 * for every input under a tmpfs (/dev/shm, or $EVS_FUZZ_TMPDIR): evstore.meta copied
 * from a template store made once, the input's segment(s), and no head page, stream
 * snapshot or offset index, so that opening recovers from the log alone.
 *
 * Input layout: byte 0 holds flags, the rest is the segment file.
 *   0x01  fix the segment header (magic, version, first position, store id, CRC), so
 *         that the bytes after it get tested rather than the header check;
 *   0x02  fix the CRC of every record reachable by following the framing, so that the
 *         checks past the checksum (positions, versions, stream chains) get tested;
 *   0x04  split the bytes into two segments at the last later "EVSTSEG1" (8-aligned);
 *         the second one is named after the first position its header gives;
 *   0x08  open read-only (no repair: the damaged tail must be ignored, not cut);
 *   0x10  after reading, append to the first stream read and a new one, then read
 *         and verify again.
 * Without any flag, the bytes go to disk as they are.
 */
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

#define F_FIX_HEADER 0x01u
#define F_FIX_CRCS   0x02u
#define F_SPLIT      0x04u
#define F_READONLY   0x08u
#define F_APPEND     0x10u

#define MAX_NAMES 4

static char store_dir[4200]; /* the store rebuilt for every input */
static unsigned char meta[META_LEN];
static unsigned char store_id[16];
static bool verbose; /* $EVS_FUZZ_VERBOSE: one line per input, to check seeds reach far */

/* Make the template store once and keep its evstore.meta: every input's store has the
 * same identity, so a fixed-up segment header is accepted. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_make_root("segment");

    char tmpl[4200];
    snprintf(tmpl, sizeof tmpl, "%s/template", fz_root);
    evs_options o = EVS_OPTIONS_INIT;
    o.sync_mode = EVS_SYNC_NONE;
    o.segment_size = 64 * 1024;
    evs_store *s = NULL;
    FZ_CHECK(evs_open(&s, tmpl, &o) == 0);
    FZ_CHECK(evs_close(s) == 0);
    char path[8400];
    snprintf(path, sizeof path, "%s/%s", tmpl, META_FILE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    FZ_CHECK(fd >= 0);
    FZ_CHECK(read(fd, meta, sizeof meta) == (ssize_t)sizeof meta);
    close(fd);
    memcpy(store_id, meta + META_OFF_ID, 16);
    snprintf(store_dir, sizeof store_dir, "%s/store", fz_root);
    verbose = getenv("EVS_FUZZ_VERBOSE") != NULL;
    return 0;
}

static void fix_header(unsigned char *seg, size_t len, uint64_t first_pos)
{
    if (len < SEG_HDR_LEN)
        return;
    memcpy(seg + SEG_OFF_MAGIC, SEG_MAGIC, 8);
    evs__put_u32(seg + SEG_OFF_FMT, EVS_FORMAT_VERSION);
    evs__put_u32(seg + SEG_OFF_HLEN, SEG_HDR_LEN);
    evs__put_u64(seg + SEG_OFF_FIRST, first_pos);
    memcpy(seg + SEG_OFF_ID, store_id, 16);
    evs__put_u32(seg + SEG_OFF_CRC, evs__crc32c(0, seg, SEG_OFF_CRC));
}

/* Follow the framing from the header on and give every whole record a good CRC. */
static void fix_crcs(unsigned char *seg, size_t len)
{
    uint64_t off = SEG_HDR_LEN;
    while (off + REC_HDR_LEN <= len) {
        uint32_t rlen = evs__get_u32(seg + off + REC_OFF_LEN);
        if (rlen < REC_HDR_LEN || off + rlen > len)
            break;
        evs__put_u32(seg + off + REC_OFF_CRC,
                     evs__crc32c(0, seg + off + REC_OFF_LEN, rlen - REC_OFF_LEN));
        off += REC_ALIGN(rlen);
    }
}

/* Where the second segment starts with F_SPLIT: the last 8-aligned "EVSTSEG1" past the
 * first header, or len when there is none. */
static size_t split_point(const unsigned char *seg, size_t len)
{
    size_t at = len;
    for (size_t off = SEG_HDR_LEN; off + 8 <= len; off += 8)
        if (memcmp(seg + off, SEG_MAGIC, 8) == 0)
            at = off;
    return at;
}


/* Read every byte of an event, so that ASan checks each span the cursor hands out. */
static unsigned touch_event(const evs_event *ev)
{
    unsigned sum = 0;
    FZ_CHECK(ev->stream != NULL && ev->type != NULL && ev->data != NULL);
    for (size_t i = 0; i < ev->stream_len; i++)
        sum += (unsigned char)ev->stream[i];
    for (size_t i = 0; i < ev->type_len; i++)
        sum += (unsigned char)ev->type[i];
    for (size_t i = 0; i < ev->data_len; i++)
        sum += (unsigned char)ev->data[i];
    if (ev->metadata)
        for (size_t i = 0; i < ev->metadata_len; i++)
            sum += (unsigned char)ev->metadata[i];
    return sum;
}

typedef struct seen {
    int64_t count;
    int64_t first_pos, last_pos;
    int64_t mid_ts;
    int rc;                   /* the cursor's last return: 0, or an error */
    bool impossible;          /* an event had pos < 1 or version < 0 */
    char *streams[MAX_NAMES]; /* distinct stream names met, NUL-terminated */
    size_t stream_count;
    char *types[MAX_NAMES];
    size_t type_count;
} seen;

static void remember(char **names, size_t *count, const char *p, size_t len)
{
    if (*count == MAX_NAMES || memchr(p, '\0', len))
        return;
    for (size_t i = 0; i < *count; i++)
        if (strlen(names[i]) == len && memcmp(names[i], p, len) == 0)
            return;
    names[*count] = strndup(p, len);
    FZ_CHECK(names[*count] != NULL);
    (*count)++;
}

static void seen_free(seen *sn)
{
    for (size_t i = 0; i < sn->stream_count; i++)
        free(sn->streams[i]);
    for (size_t i = 0; i < sn->type_count; i++)
        free(sn->types[i]);
}

/* Run a query to its end. Positions must move in the query's direction. */
static void run_query(evs_store *s, const evs_query *q, seen *sn)
{
    memset(sn, 0, sizeof *sn);
    evs_cursor *c = NULL;
    sn->rc = evs_cursor_open(&c, s, q);
    if (sn->rc < 0)
        return;
    bool backward = q && q->direction == EVS_BACKWARD;
    volatile unsigned sum = 0;
    evs_event ev;
    int rc;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        sum += touch_event(&ev);
        /* A record with a good checksum may still carry impossible fields; the cursor
         * hands them out, but evs_verify must then not call the store whole. */
        if (ev.pos < 1 || ev.version < 0)
            sn->impossible = true;
        if (sn->count > 0)
            FZ_CHECK(backward ? ev.pos < sn->last_pos : ev.pos > sn->last_pos);
        else
            sn->first_pos = ev.pos;
        sn->last_pos = ev.pos;
        if (sn->count == 0 || (sn->count & (sn->count - 1)) == 0)
            sn->mid_ts = ev.ts_ns;
        sn->count++;
        remember(sn->streams, &sn->stream_count, ev.stream, ev.stream_len);
        remember(sn->types, &sn->type_count, ev.type, ev.type_len);
    }
    sn->rc = rc;
    (void)sum;
    evs_cursor_close(c);
}

static void check_verify(evs_store *s, bool must_find)
{
    int64_t problems = 0;
    evs_verify_report rep;
    memset(&rep, 0, sizeof rep);
    int rc = evs_verify(&rep, s, fz_count_problem, &problems);
    FZ_CHECK(rc == 0 || rc == EVS_ECORRUPT || rc == EVS_EIO);
    if (rc == 0)
        FZ_CHECK(problems == 0 && !must_find);
    FZ_CHECK(problems <= rep.problem_count || rc == EVS_EIO);
}

/* Everything a reader can do, on whatever the store holds. */
static void read_all_ways(evs_store *s)
{
    seen fwd, bwd;
    run_query(s, NULL, &fwd);
    if (verbose)
        fprintf(stderr, "fuzz_segment: read %" PRId64 " event(s), %zu stream(s), cursor rc %d\n",
                fwd.count, fwd.stream_count, fwd.rc);
    evs_query q = EVS_QUERY_INIT;
    q.direction = EVS_BACKWARD;
    run_query(s, &q, &bwd);
    /* Both see the events committed at open: whole reads agree. */
    if (fwd.rc == 0 && bwd.rc == 0) {
        FZ_CHECK(fwd.count == bwd.count);
        if (fwd.count > 0)
            FZ_CHECK(fwd.first_pos == bwd.last_pos && fwd.last_pos == bwd.first_pos);
        if (fwd.count > 0)
            FZ_CHECK(fwd.last_pos - fwd.first_pos + 1 == fwd.count); /* gap-free */
    }
    seen_free(&bwd);

    for (size_t i = 0; i < fwd.stream_count; i++) {
        const char *name = fwd.streams[i];
        evs_stream_info info;
        int rc = evs_stream_get(&info, s, name);
        seen part;
        evs_query sq = EVS_QUERY_INIT;
        sq.stream = name;
        run_query(s, &sq, &part);
        if (rc == 0 && part.rc == 0 && fwd.rc == 0)
            FZ_CHECK(info.exists ? info.event_count == part.count : part.count == 0);
        seen_free(&part);
        sq.direction = EVS_BACKWARD;
        run_query(s, &sq, &part);
        seen_free(&part);
        sq.direction = EVS_FORWARD;
        sq.from_version = 1;
        sq.limit = 3;
        run_query(s, &sq, &part);
        seen_free(&part);
        /* The stream name doubles as a category and a prefix. */
        evs_query cq = EVS_QUERY_INIT;
        cq.category = name;
        run_query(s, &cq, &part);
        seen_free(&part);
        cq.category = NULL;
        cq.prefix = name;
        cq.direction = EVS_BACKWARD;
        run_query(s, &cq, &part);
        seen_free(&part);
    }
    if (fwd.type_count > 0) {
        evs_query tq = EVS_QUERY_INIT;
        tq.types = (const char *const *)fwd.types;
        tq.type_count = fwd.type_count;
        seen part;
        run_query(s, &tq, &part);
        seen_free(&part);
    }
    if (fwd.count > 0) {
        evs_query pq = EVS_QUERY_INIT;
        pq.from_pos = fwd.first_pos + fwd.count / 2;
        pq.to_pos = fwd.last_pos;
        pq.since_ns = fwd.mid_ts;
        seen part;
        run_query(s, &pq, &part);
        seen_free(&part);
        pq.direction = EVS_BACKWARD;
        pq.to_pos = 0;
        pq.since_ns = 0;
        pq.until_ns = fwd.mid_ts;
        run_query(s, &pq, &part);
        seen_free(&part);
        int64_t at = 0;
        (void)evs_find_time(&at, s, fwd.mid_ts);
    }

    evs_stream_iter *it = NULL;
    if (evs_streams_open(&it, s, NULL) == 0) {
        const char *name;
        size_t name_len;
        evs_stream_info info;
        volatile unsigned sum = 0;
        while (evs_streams_next(&name, &name_len, &info, it) > 0)
            for (size_t i = 0; i < name_len; i++)
                sum += (unsigned char)name[i];
        (void)sum;
        evs_streams_close(it);
    }
    evs_stat_info st;
    (void)evs_stat(&st, s);
    (void)evs_head(s);
    check_verify(s, fwd.impossible);
    seen_free(&fwd);
}

static void append_some(evs_store *s)
{
    seen fwd;
    run_query(s, NULL, &fwd);
    const char *streams[2] = {fwd.stream_count ? fwd.streams[0] : "fuzz-1", "fuzz-new"};
    for (int i = 0; i < 2; i++) {
        evs_event_in ev[2];
        memset(ev, 0, sizeof ev);
        ev[0].type = "Fuzzed";
        ev[0].data = "{\"n\":1}";
        ev[0].data_len = strlen(ev[0].data);
        ev[1] = ev[0];
        ev[1].metadata = "{\"m\":true}";
        ev[1].metadata_len = strlen(ev[1].metadata);
        evs_append_result r;
        int rc = evs_append(&r, s, streams[i], EVS_EXPECT_ANY, ev, 2);
        if (rc == 0)
            FZ_CHECK(r.last_pos == r.first_pos + 1 && r.last_pos == evs_head(s));
    }
    seen_free(&fwd);
    read_all_ways(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned flags = data[0];
    size_t len = size - 1;
    unsigned char *seg = malloc(len ? len : 1);
    FZ_CHECK(seg != NULL);
    if (len)
        memcpy(seg, data + 1, len);

    size_t cut = (flags & F_SPLIT) ? split_point(seg, len) : len;
    uint64_t second_first = 0;
    if (cut < len) {
        second_first = len - cut >= SEG_HDR_LEN ? evs__get_u64(seg + cut + SEG_OFF_FIRST) : 2;
        if (second_first < 2 || second_first > 1000000000u)
            second_first = 2;
    }
    if (flags & F_FIX_HEADER) {
        fix_header(seg, cut, 1);
        if (cut < len)
            fix_header(seg + cut, len - cut, second_first);
    }
    if (flags & F_FIX_CRCS) {
        fix_crcs(seg, cut);
        if (cut < len)
            fix_crcs(seg + cut, len - cut);
    }

    fz_rmtree(store_dir);
    FZ_CHECK(mkdir(store_dir, 0755) == 0);
    fz_write_file(store_dir, META_FILE, meta, sizeof meta);
    char name[32];
    snprintf(name, sizeof name, "%020" PRIu64 ".seg", (uint64_t)1);
    fz_write_file(store_dir, name, seg, cut);
    if (cut < len) {
        snprintf(name, sizeof name, "%020" PRIu64 ".seg", second_first);
        fz_write_file(store_dir, name, seg + cut, len - cut);
    }
    free(seg);

    evs_options o = EVS_OPTIONS_INIT;
    o.sync_mode = EVS_SYNC_NONE;
    o.flags = EVS_OPEN_NOCREATE | ((flags & F_READONLY) ? EVS_OPEN_READONLY : 0);
    evs_store *s = NULL;
    int rc = evs_open(&s, store_dir, &o);
    if (verbose)
        fprintf(stderr, "fuzz_segment: flags 0x%02x, %zu byte(s): open %s %s\n", flags, len,
                evs_errname(rc), evs_errmsg());
    if (rc < 0) {
        FZ_CHECK(s == NULL);
        FZ_CHECK(evs_errmsg()[0] != '\0');
        return 0;
    }
    read_all_ways(s);
    if ((flags & F_APPEND) && !(flags & F_READONLY))
        append_some(s);
    seen before;
    run_query(s, NULL, &before);
    seen_free(&before);
    (void)evs_close(s);
    if (flags & F_READONLY)
        return 0;

    /* What one open repaired, the next open must take as it is: with the head page gone
     * (recovery from the log alone again), every event the first session could read -
     * its appends included - must still be there. */
    char head_path[8400];
    snprintf(head_path, sizeof head_path, "%s/%s", store_dir, HEAD_FILE);
    (void)unlink(head_path);
    o.flags = EVS_OPEN_NOCREATE;
    rc = evs_open(&s, store_dir, &o);
    FZ_CHECK(rc == 0 || rc == EVS_ECORRUPT);
    if (rc == 0) {
        seen after;
        run_query(s, NULL, &after);
        if (before.rc == 0 && after.rc == 0)
            FZ_CHECK(after.count == before.count);
        seen_free(&after);
        read_all_ways(s);
        (void)evs_close(s);
    }
    return 0;
}
