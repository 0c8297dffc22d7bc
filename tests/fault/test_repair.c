/*
 * test_repair.c - evs_repair and evs_verify_quick on stores damaged on purpose.
 *
 * A store of several 64 KiB segments is written in appends of 1, 2, 5 and 3 events, so
 * the test knows where every append starts; then it is damaged and repaired:
 *   - data of a record inside a 5-event append in an old segment: the log is cut at the
 *     start of that append (its first records are whole but uncommitted without the
 *     damaged one), the rest of that segment is saved byte for byte and every later
 *     segment moved whole; the report names the damaged record and exactly the
 *     positions lost; a dry run reports the same and changes nothing;
 *   - a record's length in the last segment with the head page deleted (the case open
 *     refuses): repair is the way out, and the lost range comes from the valid records
 *     after the hole;
 *   - a segment header: the log ends with the segment before it, nothing is copied;
 *   - a segment file deleted: the log ends before the gap;
 *   - the first record, and the first segment's header: the log is left empty and
 *     appends start again at position 1;
 *   - an unfinished append at the end with no head page: cut, nothing committed lost;
 *   - the stream index damaged: a cache, so no damage: repair changes nothing.
 * After each repair: the store opens, evs_verify passes, every kept event is the one
 * appended, and appends continue at the next position. A healthy store is not changed
 * at all. Repair refuses with EVS_EBUSY while a handle of this or another process has
 * the store open, naming it, and changes nothing (a dry run runs beside a reader); an
 * open waits for a repair (the exclusive open lock) as lock_wait_ms says. Bad arguments get clear errors.
 * evs_verify_quick passes a healthy store, catches a broken frame far from the tail, and
 * (documented) does not checksum an older event's data.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include "faultutil.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_EVENTS 8192
#define MAX_SEGS   64

typedef struct model_event {
    unsigned char id[16];
    char stream[16];
    char data[256];
    int64_t append_first; /* first position of the append it belongs to */
} model_event;

typedef struct fixture {
    char dir[4096];
    model_event ev[MAX_EVENTS];
    size_t nev;
    uint64_t segs[MAX_SEGS];
    size_t nseg;
} fixture;

static int teardown_fixture(void **state)
{
    fixture *fx = *state;
    if (fx) {
        tu_cleanup(fx->dir);
        free(fx);
    }
    *state = NULL;
    return 0;
}

static evs_options store_options(void)
{
    evs_options o = tu_fast_options();
    o.segment_size = 64u << 10;
    o.checkpoint_bytes = 32u << 10; /* so that the stream index has runs */
    return o;
}

/* A store of at least `events` events (900 make five 64 KiB segments). */
static fixture *build_store_n(void **state, const char *tag, size_t events)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    *state = fx;
    tu_tmpdir(fx->dir, sizeof fx->dir, tag);
    evs_options o = store_options();
    evs_store *s;
    assert_evs_ok(evs_open(&s, fx->dir, &o));
    static const size_t sizes[] = {1, 2, 5, 3};
    for (size_t a = 0; fx->nev < events; a++) {
        size_t count = sizes[a % 4];
        evs_event_in in[5];
        char stream[16];
        snprintf(stream, sizeof stream, "acct-%zu", a % 4);
        for (size_t i = 0; i < count; i++) {
            model_event *e = &fx->ev[fx->nev + i];
            size_t num = fx->nev + i + 1;
            memset(e->id, 0, 16);
            e->id[0] = 0xe0;
            e->id[6] = 0x40;
            e->id[8] = 0x80;
            for (int k = 0; k < 7; k++)
                e->id[15 - k] = (unsigned char)(num >> (8 * k));
            snprintf(e->stream, sizeof e->stream, "%s", stream);
            snprintf(e->data, sizeof e->data, "{\"n\":%zu,\"note\":\"%0*d\"}", fx->nev + i + 1,
                     (int)(150 + (fx->nev + i) % 13), 0);
            e->append_first = (int64_t)fx->nev + 1;
            in[i] = tu_event("Booked", e->data);
            in[i].id = e->id;
        }
        assert_evs_ok(evs_append(NULL, s, stream, EVS_EXPECT_ANY, in, count));
        fx->nev += count;
    }
    assert_evs_ok(evs_close(s));
    fx->nseg = fu_list_segs(fx->dir, fx->segs, MAX_SEGS);
    assert_true(fx->nseg >= 4);
    return fx;
}

static fixture *build_store(void **state, const char *tag)
{
    return build_store_n(state, tag, 900);
}

/* The records of segment `si` (read before it is damaged), and its name. */
static const fu_rec *records_of(const fixture *fx, size_t si, char name[32], size_t *n)
{
    static fu_rec recs[MAX_EVENTS];
    fu_seg_name(name, 32, fx->segs[si]);
    *n = fu_seg_records(fx->dir, name, recs, MAX_EVENTS);
    assert_true(*n > 0);
    return recs;
}

/* Record `index` of segment `si` (negative: from the end). */
static fu_rec record_of(const fixture *fx, size_t si, long index, char name[32])
{
    size_t n;
    const fu_rec *recs = records_of(fx, si, name, &n);
    long i = index < 0 ? (long)n + index : index;
    assert_true(i >= 0 && (size_t)i < n);
    return recs[i];
}

/* A record of segment si that is the third of a 5-event append, and the offset of that
 * append's first record (where a repair cuts). The append does not start the segment:
 * then the cut would fall at the end of the previous segment instead. */
static fu_rec mid_append_record(const fixture *fx, size_t si, char name[32], int64_t *cut_off)
{
    size_t n;
    const fu_rec *recs = records_of(fx, si, name, &n);
    for (size_t i = 3; i < n; i++) {
        const model_event *e = &fx->ev[recs[i].pos - 1];
        if (recs[i].pos - e->append_first == 2 && recs[i].pos + 2 <= (int64_t)fx->nev &&
            fx->ev[recs[i].pos + 1].append_first == e->append_first) {
            *cut_off = recs[i - 2].off;
            return recs[i];
        }
    }
    fail_msg("no 5-event append in segment %zu", si);
    return recs[0];
}

/* ---- whole files ------------------------------------------------------------------- */

static unsigned char *read_all(const char *path, int64_t *len)
{
    *len = fu_file_size(path);
    assert_true(*len >= 0);
    unsigned char *buf = malloc((size_t)*len + 1);
    assert_non_null(buf);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, (size_t)*len, f), (size_t)*len);
    fclose(f);
    return buf;
}

/* Every regular file of dir (not in subdirectories): name, size, CRC, sorted. */
static void fingerprint(const char *dir, char *out, size_t len)
{
    char names[128][256];
    size_t n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[4200];
        fu_path(path, sizeof path, dir, e->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && n < 128)
            snprintf(names[n++], sizeof names[0], "%s", e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char path[4200];
        fu_path(path, sizeof path, dir, names[i]);
        int64_t size;
        unsigned char *b = read_all(path, &size);
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s:%" PRId64 ":%08x ", names[i], size,
                 evs__crc32c(0, b, (size_t)size));
        free(b);
    }
}

/* A copy of a file's bytes, to compare with what repair saved. */
typedef struct blob {
    unsigned char *bytes;
    int64_t len;
} blob;

static blob keep_file(const char *dir, const char *name)
{
    char path[4200];
    fu_path(path, sizeof path, dir, name);
    blob b;
    b.bytes = read_all(path, &b.len);
    return b;
}

/* The file at saved_to/name holds exactly b's bytes from `from` on. */
static void check_saved(const evs_repair_report *rep, const char *name, const blob *b, int64_t from)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", rep->saved_to, name);
    int64_t len;
    unsigned char *got = read_all(path, &len);
    if (len != b->len - from || memcmp(got, b->bytes + from, (size_t)len) != 0)
        print_error("[%s] %s: %" PRId64 " bytes, want bytes %" PRId64 "..%" PRId64
                    " of the original\n",
                    fu_where, path, len, from, b->len);
    fu_check(len == b->len - from && memcmp(got, b->bytes + from, (size_t)len) == 0);
    free(got);
}

/* ---- checks after a repair ---------------------------------------------------------- */

static evs_store *open_store(const fixture *fx)
{
    evs_options o = store_options();
    evs_store *s;
    fu_check_evs(0, evs_open(&s, fx->dir, &o));
    return s;
}

/* The store opens and verifies, holds exactly events 1..kept as appended, and the next
 * append gets position kept + 1; and so after a reopen. */
/* What the last repair() reported. */
static evs_repair_report last_report;

/* The store holds exactly the events up to `kept`, whole; positions the last repair
 * declared lost are never handed out again: the head is the last of them, and the next
 * append comes after it. */
static void check_repaired(const fixture *fx, int64_t kept)
{
    int64_t reach = last_report.last_lost_pos > kept ? last_report.last_lost_pos : kept;
    evs_store *s = open_store(fx);
    fu_verify_ok(s);
    fu_check(evs_head(s) == reach);
    evs_cursor *c;
    fu_check_evs(0, evs_cursor_open(&c, s, NULL));
    evs_event ev;
    int rc;
    int64_t pos = 0;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        const model_event *e = &fx->ev[pos];
        fu_check(ev.pos == ++pos);
        fu_check(memcmp(ev.id, e->id, 16) == 0);
        fu_check(ev.data_len == strlen(e->data) && memcmp(ev.data, e->data, ev.data_len) == 0);
    }
    fu_check_evs(0, rc);
    evs_cursor_close(c);
    fu_check(pos == kept);
    evs_event_in in = tu_event("AfterRepair", "{\"ok\":true}");
    evs_append_result r;
    fu_check_evs(0, evs_append(&r, s, "acct-0", EVS_EXPECT_ANY, &in, 1));
    fu_check(r.first_pos == reach + 1);
    fu_check_evs(0, evs_close(s));
    s = open_store(fx);
    fu_verify_ok(s);
    fu_check(evs_head(s) == reach + 1);
    fu_check_evs(0, evs_close(s));
}

static void check_report(const evs_repair_report *rep, int64_t kept, int64_t last_lost,
                         const char *file, int64_t off, int64_t pos)
{
    if (rep->kept_last_pos != kept || rep->last_lost_pos != last_lost ||
        strcmp(rep->damage_file, file) != 0 || rep->damage_offset != off || rep->damage_pos != pos)
        print_error("[%s] report: kept %" PRId64 " lost %" PRId64 "..%" PRId64 " (%" PRId64
                    "), damage %s byte %" PRId64 " pos %" PRId64 ": %s; want kept %" PRId64
                    " last lost %" PRId64 ", damage %s byte %" PRId64 " pos %" PRId64 "\n",
                    fu_where, rep->kept_last_pos, rep->first_lost_pos, rep->last_lost_pos,
                    rep->lost_count, rep->damage_file, rep->damage_offset, rep->damage_pos,
                    rep->damage_what, kept, last_lost, file, off, pos);
    fu_check(rep->damaged == 1);
    fu_check(rep->kept_last_pos == kept);
    fu_check(rep->first_lost_pos == kept + 1);
    fu_check(rep->last_lost_pos == last_lost);
    fu_check(rep->lost_count == last_lost - kept);
    fu_check(strcmp(rep->damage_file, file) == 0);
    fu_check(rep->damage_offset == off);
    fu_check(rep->damage_pos == pos);
    fu_check(rep->damage_what[0] != '\0');
}

static evs_repair_report *repair(const fixture *fx, bool dry_run, int want)
{
    evs_repair_opts o = EVS_REPAIR_OPTS_INIT;
    if (dry_run)
        o.flags = EVS_REPAIR_DRY_RUN;
    fu_check_evs(want, evs_repair(&last_report, fx->dir, &o));
    return &last_report;
}

/* ---- the cases ---------------------------------------------------------------------- */

static void test_healthy_store_is_not_changed(void **state)
{
    fixture *fx = build_store(state, "repair-healthy");
    fu_set_where("healthy store");
    static char before[16384], after[16384];
    fingerprint(fx->dir, before, sizeof before);
    for (int dry = 1; dry >= 0; dry--) {
        evs_repair_report *rep = repair(fx, dry, 0);
        fu_check(rep->damaged == 0);
        fu_check(rep->kept_last_pos == (int64_t)fx->nev);
        fu_check(rep->first_lost_pos == 0 && rep->lost_count == 0 && rep->bytes_moved == 0);
        fu_check(rep->saved_to[0] == '\0');
        fingerprint(fx->dir, after, sizeof after);
        if (strcmp(before, after) != 0)
            print_error("before: %s\nafter:  %s\n", before, after);
        fu_check(strcmp(before, after) == 0);
    }
    /* Read-only opens hold the open lock too: even a verify must be closed first. */
    check_repaired(fx, (int64_t)fx->nev);
}

static void test_old_segment_data(void **state)
{
    fixture *fx = build_store(state, "repair-old");
    char name[32];
    int64_t cut_off;
    fu_rec r = mid_append_record(fx, 1, name, &cut_off);
    int64_t cut = fx->ev[r.pos - 1].append_first;
    fu_set_where("data of position %" PRId64 " in %s (its append starts at %" PRId64 ")", r.pos,
                 name, cut);
    fu_damage(fx->dir, name, r.data_off + 4, 0x10);

    static char before[16384], after[16384];
    fingerprint(fx->dir, before, sizeof before);
    evs_repair_report *rep = repair(fx, true, 0);
    check_report(rep, cut - 1, (int64_t)fx->nev, name, r.off, r.pos);
    fu_check(strstr(rep->damage_what, "checksum") != NULL);
    /* The dry run names the folder a repair would make now, and does not make it. */
    char would[4200];
    snprintf(would, sizeof would, "%s/repair-2", fx->dir);
    fu_check(strncmp(rep->saved_to, would, strlen(would)) == 0);
    fu_check(access(rep->saved_to, F_OK) < 0 && errno == ENOENT);
    fu_check(rep->files_moved == (int64_t)fx->nseg - 1); /* the tail of segment 1, the rest */
    int64_t want_bytes = fu_file_size_in(fx->dir, name) - cut_off;
    for (size_t i = 2; i < fx->nseg; i++) {
        char later[32];
        fu_seg_name(later, sizeof later, fx->segs[i]);
        want_bytes += fu_file_size_in(fx->dir, later);
    }
    if (rep->bytes_moved != want_bytes)
        print_error("[%s] bytes_moved %" PRId64 ", want %" PRId64 " (cut at byte %" PRId64 ")\n",
                    fu_where, rep->bytes_moved, want_bytes, cut_off);
    fu_check(rep->bytes_moved == want_bytes);
    fingerprint(fx->dir, after, sizeof after);
    fu_check(strcmp(before, after) == 0); /* the dry run changed nothing */

    blob segs[MAX_SEGS];
    for (size_t i = 1; i < fx->nseg; i++) {
        char n[32];
        fu_seg_name(n, sizeof n, fx->segs[i]);
        segs[i] = keep_file(fx->dir, n);
    }
    rep = repair(fx, false, 0);
    check_report(rep, cut - 1, (int64_t)fx->nev, name, r.off, r.pos);
    fu_check(rep->bytes_moved == want_bytes && rep->files_moved == (int64_t)fx->nseg - 1);
    fu_check(strncmp(rep->saved_to, fx->dir, strlen(fx->dir)) == 0);
    fu_check(strstr(rep->saved_to, "/repair-") != NULL);
    char tail_name[64];
    snprintf(tail_name, sizeof tail_name, "%s.from-%" PRId64, name, cut_off);
    check_saved(rep, tail_name, &segs[1], cut_off);
    for (size_t i = 2; i < fx->nseg; i++) {
        char n[32];
        fu_seg_name(n, sizeof n, fx->segs[i]);
        check_saved(rep, n, &segs[i], 0);
        fu_check(fu_file_size_in(fx->dir, n) < 0); /* moved, not copied */
    }
    for (size_t i = 1; i < fx->nseg; i++)
        free(segs[i].bytes);
    char note[4200];
    snprintf(note, sizeof note, "%s/REPAIR.txt", rep->saved_to);
    fu_check(fu_file_size(note) > 0);
    fu_check(fu_file_size_in(fx->dir, name) == cut_off);
    check_repaired(fx, cut - 1);
    /* Now whole: a second repair finds nothing to do. */
    rep = repair(fx, false, 0);
    fu_check(rep->damaged == 0);
}

/* The case open refuses: no head page, and valid records after a hole. */
static void test_last_segment_length_head_deleted(void **state)
{
    fixture *fx = build_store(state, "repair-nohead");
    char name[32];
    int64_t cut_off;
    fu_rec r = mid_append_record(fx, fx->nseg - 1, name, &cut_off);
    int64_t cut = fx->ev[r.pos - 1].append_first;
    fu_set_where("length of position %" PRId64 " in the last segment, head deleted", r.pos);
    fu_damage(fx->dir, name, r.off + FU_REC_OFF_LEN, 0x08);
    fu_remove_head(fx->dir);
    evs_options o = store_options();
    evs_store *s = NULL;
    fu_check_evs(EVS_ECORRUPT, evs_open(&s, fx->dir, &o));
    fu_check(strstr(evs_errmsg(), "before the synced end of the log") != NULL);
    /* Without the `synced` file too, the records after the hole give it away. */
    char synced[4200], aside[4300];
    fu_path(synced, sizeof synced, fx->dir, "synced");
    snprintf(aside, sizeof aside, "%s.aside", synced);
    fu_check(rename(synced, aside) == 0);
    fu_check_evs(EVS_ECORRUPT, evs_open(&s, fx->dir, &o));
    fu_check(strstr(evs_errmsg(), "valid records follow") != NULL);
    fu_check(rename(aside, synced) == 0);

    blob seg = keep_file(fx->dir, name);
    evs_repair_report *rep = repair(fx, false, 0);
    /* The records after the hole are still recognisable: the last one is the store's. */
    check_report(rep, cut - 1, (int64_t)fx->nev, name, r.off, r.pos);
    char tail_name[64];
    snprintf(tail_name, sizeof tail_name, "%s.from-%" PRId64, name, cut_off);
    check_saved(rep, tail_name, &seg, cut_off);
    fu_check(rep->files_moved == 1);
    free(seg.bytes);
    check_repaired(fx, cut - 1);
}

static void test_segment_header(void **state)
{
    fixture *fx = build_store(state, "repair-header");
    char name[32], prev[32];
    fu_seg_name(name, sizeof name, fx->segs[2]);
    fu_seg_name(prev, sizeof prev, fx->segs[1]);
    fu_set_where("magic of %s", name);
    int64_t prev_size = fu_file_size_in(fx->dir, prev);
    blob seg = keep_file(fx->dir, name);
    seg.bytes[0] ^= 0x01; /* what the store will hold */
    fu_damage(fx->dir, name, 0, 0x01);
    evs_repair_report *rep = repair(fx, false, 0);
    check_report(rep, (int64_t)fx->segs[2] - 1, (int64_t)fx->nev, name, 0, (int64_t)fx->segs[2]);
    fu_check(rep->files_moved == (int64_t)fx->nseg - 2);
    check_saved(rep, name, &seg, 0);
    free(seg.bytes);
    fu_check(fu_file_size_in(fx->dir, prev) == prev_size); /* nothing cut from it */
    check_repaired(fx, (int64_t)fx->segs[2] - 1);
}

/* A whole segment file lost: the log ends before the gap, the segments after it are
 * moved whole, and the positions lost start where the missing file started. */
static void test_missing_segment(void **state)
{
    fixture *fx = build_store(state, "repair-gap");
    char gone[32], after[32];
    fu_seg_name(gone, sizeof gone, fx->segs[1]);
    fu_seg_name(after, sizeof after, fx->segs[2]);
    fu_set_where("%s deleted", gone);
    char path[4200];
    fu_path(path, sizeof path, fx->dir, gone);
    assert_int_equal(unlink(path), 0);
    evs_repair_report *rep = repair(fx, false, 0);
    check_report(rep, (int64_t)fx->segs[1] - 1, (int64_t)fx->nev, after, 0, (int64_t)fx->segs[1]);
    fu_check(strstr(rep->damage_what, "comes next") != NULL);
    fu_check(rep->files_moved == (int64_t)fx->nseg - 2);
    check_repaired(fx, (int64_t)fx->segs[1] - 1);
}

static void test_first_record(void **state)
{
    fixture *fx = build_store(state, "repair-first");
    char name[32];
    fu_rec r = record_of(fx, 0, 0, name);
    fu_set_where("data of position 1");
    fu_damage(fx->dir, name, r.data_off, 0x01);
    evs_repair_report *rep = repair(fx, false, 0);
    check_report(rep, 0, (int64_t)fx->nev, name, r.off, 1);
    fu_check(fu_file_size_in(fx->dir, name) == FU_SEG_HDR_LEN);
    check_repaired(fx, 0);
}

static void test_first_segment_header(void **state)
{
    fixture *fx = build_store(state, "repair-firsthdr");
    char name[32];
    fu_seg_name(name, sizeof name, fx->segs[0]);
    fu_set_where("checksum of the first segment's header");
    fu_damage(fx->dir, name, 60, 0xff);
    evs_repair_report *rep = repair(fx, false, 0);
    check_report(rep, 0, (int64_t)fx->nev, name, 0, 1);
    fu_check(rep->files_moved == (int64_t)fx->nseg);
    /* One segment: the one after the positions declared lost, where the log goes on. */
    fu_check(fu_list_segs(fx->dir, fx->segs, MAX_SEGS) == 1);
    fu_check(fx->segs[0] == (uint64_t)fx->nev + 1);
    check_repaired(fx, 0);
}

/* Two whole records of a 3-event append, no commit record, no head page to say more:
 * the torn write a crash leaves. Nothing committed is lost, the bytes are still kept. */
static void test_unfinished_append(void **state)
{
    fixture *fx = build_store(state, "repair-torn");
    char name[32];
    fu_rec last = record_of(fx, fx->nseg - 1, -1, name);
    int64_t first = fx->ev[last.pos - 1].append_first;
    fu_check(last.pos - first == 2); /* the store ends with a 3-event append */
    fu_rec r0 = record_of(fx, fx->nseg - 1, -3, name);
    fu_set_where("the last append cut before its commit record");
    fu_truncate(fx->dir, name, last.off);
    fu_remove_head(fx->dir);
    fu_remove_synced(fx->dir); /* its writer died mid-append, before closing */
    evs_repair_report *rep = repair(fx, false, 0);
    check_report(rep, first - 1, first - 1, name, r0.off, first);
    fu_check(rep->lost_count == 0);
    fu_check(rep->bytes_moved == last.off - r0.off);
    fu_check(strstr(rep->damage_what, "unfinished append") != NULL);
    check_repaired(fx, first - 1);
}

/* The name (under the store) of a run of its stream index, into buf. */
static void some_index_run(const char *dir, char *buf, size_t len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/stream-index", dir);
    DIR *d = opendir(path);
    fu_check(d != NULL);
    struct dirent *e;
    buf[0] = '\0';
    while ((e = readdir(d)) != NULL)
        if (strlen(e->d_name) == 45)
            snprintf(buf, len, "stream-index/%.45s", e->d_name);
    closedir(d);
    fu_check(buf[0] != '\0');
}

/* The stream index is a cache (docs/DESIGN.md, invariant 1): damage to it is no damage to
 * the store. Both verifies pass (the table is rebuilt from the log), and repair changes
 * nothing. */
static void test_damaged_snapshot_is_no_damage(void **state)
{
    fixture *fx = build_store(state, "repair-snap");
    char run[64];
    some_index_run(fx->dir, run, sizeof run);
    fu_check(fu_file_size_in(fx->dir, run) > 4096);
    fu_set_where("a byte of %s's first page", run);
    fu_damage(fx->dir, run, 4096 + 8, 0x40);
    static char before[16384], after[16384];
    fingerprint(fx->dir, before, sizeof before);
    evs_repair_report *rep = repair(fx, false, 0);
    fu_check(rep->damaged == 0);
    fingerprint(fx->dir, after, sizeof after);
    fu_check(strcmp(before, after) == 0);
    evs_store *s = open_store(fx);
    fu_check_evs(0, evs_verify_quick(NULL, s, NULL, NULL));
    fu_check_evs(0, evs_close(s));
    check_repaired(fx, (int64_t)fx->nev);
}

/* ---- who has the store open --------------------------------------------------------- */

static void test_refused_while_open(void **state)
{
    fixture *fx = build_store(state, "repair-busy");
    char name[32];
    fu_rec r = record_of(fx, 1, 3, name);
    fu_damage(fx->dir, name, r.data_off, 0x01);
    static char before[16384], after[16384];
    fingerprint(fx->dir, before, sizeof before);

    /* A handle of this very process, read-only. */
    fu_set_where("a read-only handle in this process");
    evs_options o = store_options();
    o.flags = EVS_OPEN_READONLY;
    evs_store *s;
    fu_check_evs(0, evs_open(&s, fx->dir, &o));
    repair(fx, false, EVS_EBUSY);
    assert_errmsg_has("this process");
    assert_errmsg_has("readers included");
    /* A dry run changes nothing: it runs beside the reader. */
    fu_check(repair(fx, true, 0)->damaged == 1);
    fu_check_evs(0, evs_close(s));

    /* A writer in another process. */
    fu_set_where("a handle in a child process");
    int to_child[2], from_child[2];
    assert_int_equal(pipe(to_child), 0);
    assert_int_equal(pipe(from_child), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        evs_options co = store_options();
        evs_store *cs;
        char c = evs_open(&cs, fx->dir, &co) == 0 ? 'o' : 'x';
        if (write(from_child[1], &c, 1) != 1 || read(to_child[0], &c, 1) != 1)
            _exit(2);
        evs_close(cs);
        _exit(0);
    }
    char c;
    assert_int_equal(read(from_child[0], &c, 1), 1);
    assert_int_equal(c, 'o');
    repair(fx, false, EVS_EBUSY);
    char want[64];
    snprintf(want, sizeof want, "pid %d", (int)pid);
    assert_errmsg_has(want);
    assert_int_equal(write(to_child[1], "q", 1), 1);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(to_child[0]);
    close(to_child[1]);
    close(from_child[0]);
    close(from_child[1]);
    fingerprint(fx->dir, after, sizeof after);
    fu_check(strcmp(before, after) == 0);

    evs_repair_report *rep = repair(fx, false, 0);
    fu_check(rep->damaged == 1 && rep->kept_last_pos < r.pos);
}

/* While a repair holds the open lock exclusively, opens wait as lock_wait_ms says. */
static void test_open_waits_for_repair(void **state)
{
    fixture *fx = build_store(state, "repair-wait");
    fu_set_where("the open lock held exclusively");
    char path[4200];
    fu_path(path, sizeof path, fx->dir, "OPEN");
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    for (int ro = 0; ro < 2; ro++) {
        evs_options o = store_options();
        o.flags = ro ? EVS_OPEN_READONLY : 0;
        o.lock_wait_ms = 0;
        evs_store *s = NULL;
        fu_check_evs(EVS_EBUSY, evs_open(&s, fx->dir, &o));
        assert_errmsg_has("being repaired");
        fu_check(s == NULL);
        o.lock_wait_ms = 150;
        int64_t t0 = tu_mono_ms();
        fu_check_evs(EVS_EBUSY, evs_open(&s, fx->dir, &o));
        fu_check(tu_mono_ms() - t0 >= 150);
    }
    close(fd);
    check_repaired(fx, (int64_t)fx->nev);
}

static void test_bad_arguments(void **state)
{
    fixture *fx = build_store(state, "repair-args");
    evs_repair_report rep;
    evs_repair_opts o = EVS_REPAIR_OPTS_INIT;
    assert_evs(EVS_EMISUSE, evs_repair(NULL, fx->dir, &o));
    assert_evs(EVS_EINVAL, evs_repair(&rep, NULL, &o));
    assert_evs(EVS_EINVAL, evs_repair(&rep, "", &o));
    o.version = 99;
    assert_evs(EVS_EINVAL, evs_repair(&rep, fx->dir, &o));
    assert_errmsg_has("EVS_REPAIR_OPTS_INIT");
    o.version = EVS_REPAIR_OPTS_VERSION;
    o.flags = 0x80;
    assert_evs(EVS_EINVAL, evs_repair(&rep, fx->dir, &o));
    assert_errmsg_has("0x80");
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/nothing-here", fx->dir);
    assert_evs(EVS_ENOTFOUND, evs_repair(&rep, missing, NULL));
    assert_true(fu_file_size(missing) < 0);
    fu_damage(fx->dir, "evstore.meta", 20, 0x01);
    assert_evs(EVS_ECORRUPT, evs_repair(&rep, fx->dir, NULL));
    assert_errmsg_has("evstore.meta");
}

/* ---- evs_verify_quick ---------------------------------------------------------------- */

static void test_quick_verify(void **state)
{
    /* 6000 events of ~250 bytes: the second segment lies well before the last MiB. */
    fixture *fx = build_store_n(state, "repair-quick", 6000);
    evs_store *s = open_store(fx);
    evs_verify_report rep;
    fu_set_where("quick verify of a healthy store");
    fu_check_evs(0, evs_verify_quick(&rep, s, NULL, NULL));
    fu_check(rep.events_checked == (int64_t)fx->nev && rep.problem_count == 0);
    fu_check(rep.segments_checked == (int64_t)fx->nseg);
    fu_check_evs(0, evs_close(s));

    /* An older event's data: not seen by the quick check (documented), seen by verify. */
    char name[32];
    fu_rec r = record_of(fx, 1, 7, name);
    fu_damage(fx->dir, name, r.data_off + 2, 0x20);
    s = open_store(fx);
    fu_set_where("quick verify, data of position %" PRId64, r.pos);
    fu_check_evs(0, evs_verify_quick(&rep, s, NULL, NULL));
    fu_check_evs(EVS_ECORRUPT, evs_verify(NULL, s, NULL, NULL));
    fu_check_evs(0, evs_close(s));
    fu_damage(fx->dir, name, r.data_off + 2, 0x20); /* undone */

    /* An older record's frame: its length. */
    fu_rec f = record_of(fx, 1, 9, name);
    fu_damage(fx->dir, name, f.off + FU_REC_OFF_LEN + 1, 0x02);
    s = open_store(fx);
    fu_set_where("quick verify, length of position %" PRId64, f.pos);
    fu_problems ps;
    memset(&ps, 0, sizeof ps);
    fu_check_evs(EVS_ECORRUPT, evs_verify_quick(&rep, s, fu_collect, &ps));
    fu_check(ps.count >= 1 && strcmp(ps.file[0], name) == 0 && ps.off[0] == f.off);
    fu_check_evs(0, evs_close(s));
}

#define T(f) cmocka_unit_test_teardown(f, teardown_fixture)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_healthy_store_is_not_changed),
        T(test_old_segment_data),
        T(test_last_segment_length_head_deleted),
        T(test_segment_header),
        T(test_missing_segment),
        T(test_first_record),
        T(test_first_segment_header),
        T(test_unfinished_append),
        T(test_damaged_snapshot_is_no_damage),
        T(test_refused_while_open),
        T(test_open_waits_for_repair),
        T(test_bad_arguments),
        T(test_quick_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
