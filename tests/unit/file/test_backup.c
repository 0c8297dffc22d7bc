/*
 * test_backup.c - evs_backup: a backup opens as a store and holds exactly the store's
 * events up to its position, byte for byte; incremental backups keep what the earlier
 * one holds; one taken under four concurrent writers is the store's prefix; bad
 * destinations are refused and lose nothing.
 */
#include "backup_check.h"
#include "testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mount.h>
#include <sys/stat.h>

static evs_options small_segments(void)
{
    evs_options o = tu_fast_options();
    o.segment_size = 64 * 1024;
    return o;
}

/* n events over a few streams, ~200 bytes each. */
static void fill(evs_store *s, int n, int tag)
{
    char data[256], stream[32];
    for (int i = 0; i < n; i++) {
        snprintf(stream, sizeof stream, "acct-%d", i % 7);
        snprintf(data, sizeof data, "{\"tag\":%d,\"i\":%d,\"pad\":\"%0150d\"}", tag, i, i);
        tu_append1(s, stream, "Deposited", data);
    }
}

static void path_in(char *buf, size_t len, const char *store, const char *name)
{
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", store);
    *strrchr(parent, '/') = '\0';
    if (snprintf(buf, len, "%s/%s", parent, name) >= (int)len)
        abort();
}

/* Open dest read-only and compare it with the store up to pos. */
static void assert_backup_is_prefix(evs_store *s, const char *dest, int64_t pos)
{
    evs_options o = EVS_OPTIONS_INIT;
    o.flags = EVS_OPEN_READONLY | EVS_OPEN_NOCREATE;
    evs_store *b = NULL;
    assert_evs_ok(evs_open(&b, dest, &o));
    assert_int_equal(evs_head(b), pos);
    char why[256] = "";
    int rc = bc_compare_prefix(s, b, pos, why, sizeof why);
    if (rc != 0)
        print_error("backup differs: %s\n", why);
    assert_int_equal(rc, 0);
    assert_evs_ok(evs_verify(NULL, b, NULL, NULL));
    evs_close(b);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_backup_opens_and_matches(void **state)
{
    tu_fixture *f = *state;
    evs_options o = small_segments();
    evs_store *s = tu_fx_open(f, &o);
    fill(s, 1000, 1);
    char dest[4200];
    path_in(dest, sizeof dest, f->dir, "bk");
    evs_backup_report r;
    assert_evs_ok(evs_backup(&r, s, dest, NULL));
    assert_int_equal(r.pos, evs_head(s));
    assert_int_equal(r.prev_pos, 0);
    assert_true(r.segments >= 3);
    assert_int_equal(r.segments, r.segments_linked + r.segments_copied + r.segments_kept);
    assert_true(r.segments_linked >= 2); /* same file system: sealed ones are linked */
    assert_int_equal(r.events_verified, 1000);
    assert_backup_is_prefix(s, dest, r.pos);

    /* It is a store of its own: it opens for writing (its `synced` file is its own) and
     * takes appends; nothing of the store changes. */
    evs_store *b = NULL;
    evs_options wo = tu_fast_options();
    wo.flags = EVS_OPEN_NOCREATE;
    assert_evs_ok(evs_open(&b, dest, &wo));
    assert_int_equal(tu_append1(b, "acct-0", "Deposited", "{}"), r.pos + 1);
    evs_close(b);
    assert_int_equal(evs_head(s), r.pos);
    assert_evs_ok(evs_verify(NULL, s, NULL, NULL));
}

static void test_backup_copy_shares_nothing(void **state)
{
    tu_fixture *f = *state;
    evs_options o = small_segments();
    evs_store *s = tu_fx_open(f, &o);
    fill(s, 600, 2);
    char dest[4200], seg[4300];
    path_in(dest, sizeof dest, f->dir, "bk");
    evs_backup_opts bo = EVS_BACKUP_OPTS_INIT;
    bo.flags = EVS_BACKUP_COPY;
    evs_backup_report r;
    assert_evs_ok(evs_backup(&r, s, dest, &bo));
    assert_int_equal(r.segments_linked, 0);
    assert_int_equal(r.segments_copied, r.segments);
    assert_int_equal(r.bytes_copied, r.bytes_total);
    snprintf(seg, sizeof seg, "%s/00000000000000000001.seg", dest);
    struct stat st;
    assert_int_equal(stat(seg, &st), 0);
    assert_int_equal(st.st_nlink, 1);
    assert_backup_is_prefix(s, dest, r.pos);
}

static void test_backup_incremental(void **state)
{
    tu_fixture *f = *state;
    evs_options o = small_segments();
    evs_store *s = tu_fx_open(f, &o);
    fill(s, 700, 3);
    char dest[4200];
    path_in(dest, sizeof dest, f->dir, "bk");
    evs_backup_opts bo = EVS_BACKUP_OPTS_INIT;
    bo.flags = EVS_BACKUP_COPY;
    evs_backup_report r1, r2, r3;
    assert_evs_ok(evs_backup(&r1, s, dest, &bo));
    fill(s, 700, 4);
    assert_evs_ok(evs_backup(&r2, s, dest, &bo));
    assert_int_equal(r2.prev_pos, r1.pos);
    assert_int_equal(r2.pos, evs_head(s));
    /* The earlier backup's sealed segments are kept, not read from the store again;
     * its copy of the then active segment is not (it has grown since). */
    assert_int_equal(r2.segments_kept, r1.segments - 1);
    assert_true(r2.bytes_copied < r2.bytes_total);
    assert_backup_is_prefix(s, dest, r2.pos);
    /* Nothing new: everything sealed is kept, only the active segment is copied. */
    assert_evs_ok(evs_backup(&r3, s, dest, &bo));
    assert_int_equal(r3.pos, r2.pos);
    assert_int_equal(r3.segments_copied, 1);
    assert_backup_is_prefix(s, dest, r3.pos);
    char stage[4300];
    path_in(stage, sizeof stage, f->dir, ".bk.evstore-backup-new");
    assert_false(exists(stage));
}

/* A backup that was opened and appended to is no longer the store's prefix: the next
 * backup into it takes nothing of what diverged. */
static void test_backup_incremental_after_divergence(void **state)
{
    tu_fixture *f = *state;
    evs_options o = small_segments();
    evs_store *s = tu_fx_open(f, &o);
    fill(s, 300, 10);
    char dest[4200];
    path_in(dest, sizeof dest, f->dir, "bk");
    evs_backup_opts bo = EVS_BACKUP_OPTS_INIT;
    bo.flags = EVS_BACKUP_COPY;
    evs_backup_report r;
    assert_evs_ok(evs_backup(&r, s, dest, &bo));
    /* Both go on, each with its own events, until the segment the backup copied while
     * it was being written is sealed in both, at the same size. */
    evs_store *b = NULL;
    evs_options wo = small_segments();
    assert_evs_ok(evs_open(&b, dest, &wo));
    fill(b, 600, 11);
    evs_close(b);
    fill(s, 600, 12);
    assert_evs_ok(evs_backup(&r, s, dest, &bo));
    assert_backup_is_prefix(s, dest, r.pos);
}

static void test_backup_keeps_consumers(void **state)
{
    tu_fixture *f = *state;
    evs_store *s = tu_fx_open(f, NULL);
    fill(s, 50, 5);
    evs_consumer *c = NULL;
    assert_evs_ok(evs_consumer_open(&c, s, "billing", NULL));
    assert_evs_ok(evs_consumer_ack(c, 20));
    assert_evs_ok(evs_consumer_flush(c));
    evs_consumer_close(c);
    char dest[4200];
    path_in(dest, sizeof dest, f->dir, "bk");
    evs_backup_report r;
    assert_evs_ok(evs_backup(&r, s, dest, NULL));
    evs_store *b = NULL;
    evs_options bo = tu_fast_options();
    assert_evs_ok(evs_open(&b, dest, &bo));
    assert_evs_ok(evs_consumer_open(&c, b, "billing", NULL));
    assert_int_equal(evs_consumer_checkpoint(c), 20);
    evs_consumer_close(c);
    evs_close(b);
}

static void test_backup_empty_store(void **state)
{
    tu_fixture *f = *state;
    evs_store *s = tu_fx_open(f, NULL);
    char dest[4200];
    path_in(dest, sizeof dest, f->dir, "bk");
    evs_backup_report r;
    assert_evs_ok(evs_backup(&r, s, dest, NULL));
    assert_int_equal(r.pos, 0);
    assert_backup_is_prefix(s, dest, 0);
}

/* ---- under concurrent writers ---- */

typedef struct writer_arg {
    evs_store *s;
    int id;
    atomic_bool *stop;
} writer_arg;

static void *writer(void *p)
{
    writer_arg *a = p;
    char data[200], stream[32];
    for (int i = 0; !atomic_load(a->stop); i++) {
        evs_event_in ev[3];
        int n = 1 + i % 3;
        snprintf(stream, sizeof stream, "w%d-%d", a->id, i % 5);
        snprintf(data, sizeof data, "{\"w\":%d,\"i\":%d,\"pad\":\"%080d\"}", a->id, i, i);
        for (int k = 0; k < n; k++)
            ev[k] = tu_event("Tick", data);
        evs_append_result r;
        if (evs_append(&r, a->s, stream, EVS_EXPECT_ANY, ev, (size_t)n) < 0)
            abort();
    }
    return NULL;
}

static void test_backup_under_four_writers(void **state)
{
    tu_fixture *f = *state;
    evs_options o = small_segments();
    evs_store *s = tu_fx_open(f, &o);
    fill(s, 200, 6);
    atomic_bool stop = false;
    pthread_t th[4];
    writer_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (writer_arg){s, i, &stop};
        assert_int_equal(pthread_create(&th[i], NULL, writer, &args[i]), 0);
    }
    char dest[4200];
    path_in(dest, sizeof dest, f->dir, "bk");
    evs_backup_report r[3];
    for (int k = 0; k < 3; k++) {
        tu_sleep_ms(60);
        int64_t before = evs_head(s);
        assert_evs_ok(evs_backup(&r[k], s, dest, NULL));
        assert_true(r[k].pos >= before);
        if (k > 0)
            assert_int_equal(r[k].prev_pos, r[k - 1].pos);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_true(evs_head(s) > r[2].pos); /* the writers went on past it */
    assert_backup_is_prefix(s, dest, r[2].pos);
}

/* ---- bad destinations ---- */

static void test_backup_bad_destinations(void **state)
{
    tu_fixture *f = *state;
    evs_store *s = tu_fx_open(f, NULL);
    fill(s, 30, 7);
    evs_backup_report r;
    char file[4200], busy[4200], other[4200], bk[4200];

    /* A file: refused, untouched. */
    path_in(file, sizeof file, f->dir, "afile");
    FILE *fp = fopen(file, "w");
    fputs("keep me\n", fp);
    fclose(fp);
    assert_evs(EVS_EINVAL, evs_backup(&r, s, file, NULL));
    assert_errmsg_has("is not a directory");
    fp = fopen(file, "r");
    char line[32] = "";
    assert_non_null(fgets(line, sizeof line, fp));
    fclose(fp);
    assert_string_equal(line, "keep me\n");

    /* A directory with someone's files: refused, untouched. */
    path_in(busy, sizeof busy, f->dir, "photos");
    mkdir(busy, 0755);
    char kept[4400];
    snprintf(kept, sizeof kept, "%s/cat.jpg", busy);
    fp = fopen(kept, "w");
    fclose(fp);
    assert_evs(EVS_EINVAL, evs_backup(&r, s, busy, NULL));
    assert_errmsg_has("not empty and holds no backup");
    assert_true(exists(kept));

    /* The store itself. */
    assert_evs(EVS_EINVAL, evs_backup(&r, s, f->dir, NULL));
    assert_errmsg_has("the store itself");

    /* A backup of another store. */
    char other_store[4200];
    path_in(other_store, sizeof other_store, f->dir, "other-store");
    path_in(other, sizeof other, f->dir, "other-bk");
    evs_store *o2 = NULL;
    evs_options oo = tu_fast_options();
    assert_evs_ok(evs_open(&o2, other_store, &oo));
    tu_append1(o2, "x", "X", "{}");
    assert_evs_ok(evs_backup(&r, o2, other, NULL));
    evs_close(o2);
    assert_evs(EVS_EEXIST, evs_backup(&r, s, other, NULL));
    assert_errmsg_has("another store");

    /* A backup open as a store: busy, and the earlier backup stays. */
    path_in(bk, sizeof bk, f->dir, "bk");
    assert_evs_ok(evs_backup(&r, s, bk, NULL));
    int64_t first = r.pos;
    tu_append1(s, "y", "Y", "{}");
    evs_store *open_bk = NULL;
    evs_options ro = EVS_OPTIONS_INIT;
    ro.flags = EVS_OPEN_READONLY;
    assert_evs_ok(evs_open(&open_bk, bk, &ro));
    assert_evs(EVS_EBUSY, evs_backup(&r, s, bk, NULL));
    evs_close(open_bk);
    assert_backup_is_prefix(s, bk, first);

    /* A leftover in the way that is not ours. */
    char in_way[4300];
    path_in(in_way, sizeof in_way, f->dir, ".bk.evstore-backup-new");
    mkdir(in_way, 0755);
    snprintf(kept, sizeof kept, "%s/notes.txt", in_way);
    fp = fopen(kept, "w");
    fclose(fp);
    assert_evs(EVS_EEXIST, evs_backup(&r, s, bk, NULL));
    assert_errmsg_has("move it away");
    assert_true(exists(kept));
    assert_backup_is_prefix(s, bk, first);
}

/* A destination that fills up: ENOSPC, the earlier backup stays whole and nothing is
 * left beside it. Needs a small file system of its own: a tmpfs, mounted as root. */
static void test_backup_no_space(void **state)
{
    tu_fixture *f = *state;
    char mnt[4200], dest[4300];
    path_in(mnt, sizeof mnt, f->dir, "small");
    mkdir(mnt, 0755);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0) {
        print_message("skipped: cannot mount a tmpfs here (%s)\n", strerror(errno));
        skip();
    }
    evs_options o = small_segments();
    evs_store *s = tu_fx_open(f, &o);
    fill(s, 1500, 8); /* ~ 400 KiB: one backup fits, two copies do not */
    snprintf(dest, sizeof dest, "%s/bk", mnt);
    evs_backup_report r;
    int rc = evs_backup(&r, s, dest, NULL);
    if (rc == 0) {
        int64_t first = r.pos;
        fill(s, 1500, 9);
        assert_evs(EVS_ENOSPC, evs_backup(&r, s, dest, NULL));
        assert_errmsg_has("No space left");
        assert_backup_is_prefix(s, dest, first);
    } else {
        assert_int_equal(rc, EVS_ENOSPC);
        assert_false(exists(dest));
    }
    char stage[4300];
    snprintf(stage, sizeof stage, "%s/.bk.evstore-backup-new", mnt);
    assert_false(exists(stage));
    umount2(mnt, MNT_DETACH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_backup_opens_and_matches, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_backup_copy_shares_nothing, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_backup_incremental, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_backup_incremental_after_divergence, tu_setup,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(test_backup_keeps_consumers, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_backup_empty_store, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_backup_under_four_writers, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_backup_bad_destinations, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_backup_no_space, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
