/*
 * test_archive.c - evs_archive: sealed segments move to the archive directory by the
 * rules (every sealed one, all but the newest bytes, older than an age) and reads of
 * their events go on exactly as before, for handles opened before the move and after;
 * a move stopped with the segment in both places is read from the store and finished
 * by the next run; the kept policy applies again; bad settings are refused and change
 * nothing.
 */
#include "backup_check.h"
#include "testutil.h"

#include <dirent.h>
#include <sys/stat.h>

typedef struct fx {
    char dir[4096];
    char cold[4200];
    char ref[4200]; /* a backup taken before archiving: what every read must give */
    evs_store *s;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    tu_tmpdir(f->dir, sizeof f->dir, "arch");
    snprintf(f->cold, sizeof f->cold, "%s-cold", f->dir);
    snprintf(f->ref, sizeof f->ref, "%s-ref", f->dir);
    mkdir(f->cold, 0755);
    evs_options o = tu_fast_options();
    o.segment_size = 64 * 1024;
    if (evs_open(&f->s, f->dir, &o) < 0)
        return -1;
    char data[256], stream[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(stream, sizeof stream, "acct-%d", i % 11);
        snprintf(data, sizeof data, "{\"i\":%d,\"pad\":\"%0140d\"}", i, i);
        tu_append1(f->s, stream, "Deposited", data);
    }
    evs_backup_report r;
    if (evs_backup(&r, f->s, f->ref, NULL) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    evs_close(f->s);
    tu_rmtree(f->cold);
    tu_rmtree(f->ref);
    tu_cleanup(f->dir);
    free(f);
    return 0;
}

static int count_segs(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        n += len == 24 && strcmp(e->d_name + 20, ".seg") == 0;
    }
    if (d)
        closedir(d);
    return n;
}

/* Every read of s gives what the reference backup holds: all events, one stream's
 * (whole, backwards, from a version), and verify passes. */
static void assert_reads_unchanged(fx *f, evs_store *s)
{
    evs_options ro = EVS_OPTIONS_INIT;
    ro.flags = EVS_OPEN_READONLY;
    evs_store *ref = NULL;
    assert_evs_ok(evs_open(&ref, f->ref, &ro));
    char why[256] = "";
    int rc = bc_compare_prefix(ref, s, evs_head(ref), why, sizeof why);
    if (rc != 0)
        print_error("reads differ: %s\n", why);
    assert_int_equal(rc, 0);
    evs_query q = EVS_QUERY_INIT;
    q.stream = "acct-3";
    assert_int_equal(tu_count(s, &q), tu_count(ref, &q));
    q.direction = EVS_BACKWARD;
    assert_int_equal(tu_count(s, &q), tu_count(ref, &q));
    q.direction = EVS_FORWARD;
    q.from_version = 50;
    assert_int_equal(tu_count(s, &q), tu_count(ref, &q));
    evs_verify_report vr;
    assert_evs_ok(evs_verify(&vr, s, NULL, NULL));
    assert_int_equal(vr.events_checked, evs_head(ref));
    evs_close(ref);
}

static void test_archive_everything_sealed(void **state)
{
    fx *f = *state;
    /* A read-only handle of another "process" opened before the move, with nothing of
     * the segments open yet: it must find them in the archive. */
    evs_options ro = EVS_OPTIONS_INIT;
    ro.flags = EVS_OPEN_READONLY;
    evs_store *before = NULL;
    assert_evs_ok(evs_open(&before, f->dir, &ro));
    int segs = count_segs(f->dir);
    evs_archive_opts ao = EVS_ARCHIVE_OPTS_INIT;
    ao.dir = f->cold;
    evs_archive_report r;
    assert_evs_ok(evs_archive(&r, f->s, &ao));
    assert_int_equal(r.segments_moved, segs - 1);
    assert_int_equal(r.segments_archived, segs - 1);
    assert_int_equal(r.segments_local, 1);
    assert_int_equal(count_segs(f->dir), 1);
    assert_int_equal(count_segs(f->cold), segs - 1);
    assert_reads_unchanged(f, f->s);
    assert_reads_unchanged(f, before);
    evs_close(before);
    evs_store *after = NULL;
    assert_evs_ok(evs_open(&after, f->dir, &ro));
    assert_reads_unchanged(f, after);
    evs_close(after);
    /* Appends go on; archiving again moves nothing new but what was sealed since. */
    int64_t next = tu_append1(f->s, "acct-1", "Deposited", "{}");
    assert_int_equal(next, evs_head(f->s));
    assert_evs_ok(evs_archive(&r, f->s, NULL));
    assert_int_equal(r.segments_moved, 0);
    /* A backup of an archived store holds every segment. */
    char bk[4300];
    snprintf(bk, sizeof bk, "%s-bk", f->dir);
    evs_backup_report br;
    assert_evs_ok(evs_backup(&br, f->s, bk, NULL));
    assert_int_equal(br.segments, segs);
    assert_int_equal(br.events_verified, next);
    tu_rmtree(bk);
}

static void test_archive_keep_size_policy_kept(void **state)
{
    fx *f = *state;
    evs_archive_opts ao = EVS_ARCHIVE_OPTS_INIT;
    ao.dir = f->cold;
    ao.keep_bytes = 150 * 1024;
    evs_archive_report r;
    assert_evs_ok(evs_archive(&r, f->s, &ao));
    assert_true(r.segments_moved > 0);
    assert_true(r.bytes_local >= 150 * 1024);
    assert_true(r.bytes_local - 66 * 1024 < 150 * 1024); /* no more than needed stays */
    assert_reads_unchanged(f, f->s);
    /* The policy is the store's now: a run without options applies it again. */
    char data[256];
    for (int i = 0; i < 1500; i++) {
        snprintf(data, sizeof data, "{\"more\":%d,\"pad\":\"%0140d\"}", i, i);
        tu_append1(f->s, "more", "M", data);
    }
    evs_archive_report r2;
    assert_evs_ok(evs_archive(&r2, f->s, NULL));
    assert_true(r2.segments_moved > 0);
    assert_true(r2.bytes_local >= 150 * 1024 && r2.bytes_local - 66 * 1024 < 150 * 1024);
}

static void test_archive_older_than(void **state)
{
    fx *f = *state;
    evs_archive_opts ao = EVS_ARCHIVE_OPTS_INIT;
    ao.dir = f->cold;
    ao.older_than_ns = 3600LL * 1000000000; /* an hour: all were sealed just now */
    evs_archive_report r;
    assert_evs_ok(evs_archive(&r, f->s, &ao));
    assert_int_equal(r.segments_moved, 0);
    tu_sleep_ms(20);
    ao.older_than_ns = 10 * 1000000; /* 10 ms */
    assert_evs_ok(evs_archive(&r, f->s, &ao));
    assert_int_equal(r.segments_moved, count_segs(f->cold));
    assert_true(r.segments_moved > 0);
    assert_reads_unchanged(f, f->s);
}

/* A move stopped after the copy was in place, before the original was removed: both
 * exist; reads use the store's, and the next run removes it, whatever its rules. */
static void test_archive_both_present(void **state)
{
    fx *f = *state;
    evs_archive_opts ao = EVS_ARCHIVE_OPTS_INIT;
    ao.dir = f->cold;
    ao.keep_bytes = (int64_t)1 << 40; /* move nothing: only set the archive up */
    evs_archive_report r;
    assert_evs_ok(evs_archive(&r, f->s, &ao));
    assert_int_equal(r.segments_moved, 0);
    char from[4300], to[4300], cmd[9000];
    snprintf(from, sizeof from, "%s/00000000000000000001.seg", f->dir);
    snprintf(to, sizeof to, "%s/00000000000000000001.seg", f->cold);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
    assert_reads_unchanged(f, f->s);
    /* The rules select nothing, yet the stopped move is finished. */
    assert_evs_ok(evs_archive(&r, f->s, NULL));
    assert_int_equal(r.segments_moved, 1);
    struct stat st;
    assert_int_not_equal(stat(from, &st), 0);
    assert_int_equal(stat(to, &st), 0);
    assert_reads_unchanged(f, f->s);
}

static void test_archive_bad_settings(void **state)
{
    fx *f = *state;
    evs_archive_report r;
    evs_archive_opts ao = EVS_ARCHIVE_OPTS_INIT;
    int segs = count_segs(f->dir);
    assert_evs(EVS_EINVAL, evs_archive(&r, f->s, &ao));
    assert_errmsg_has("no archive directory");
    ao.dir = "/nonexistent/evstore-archive";
    assert_evs(EVS_ENOTFOUND, evs_archive(&r, f->s, &ao));
    ao.dir = f->dir;
    assert_evs(EVS_EINVAL, evs_archive(&r, f->s, &ao));
    assert_errmsg_has("the store itself");
    ao.dir = f->cold;
    ao.keep_bytes = -1;
    assert_evs(EVS_EINVAL, evs_archive(&r, f->s, &ao));
    assert_int_equal(count_segs(f->dir), segs);

    /* Moving the archive while segments are in it would strand them. */
    ao.keep_bytes = 0;
    assert_evs_ok(evs_archive(&r, f->s, &ao));
    char other[4300];
    snprintf(other, sizeof other, "%s-other", f->dir);
    mkdir(other, 0755);
    ao.dir = other;
    assert_evs(EVS_EINVAL, evs_archive(&r, f->s, &ao));
    assert_errmsg_has("is not supported");
    rmdir(other);

    /* A read-only handle archives nothing. */
    evs_options ro = EVS_OPTIONS_INIT;
    ro.flags = EVS_OPEN_READONLY;
    evs_store *rs = NULL;
    assert_evs_ok(evs_open(&rs, f->dir, &ro));
    assert_evs(EVS_EREADONLY, evs_archive(&r, rs, NULL));
    evs_close(rs);

    /* A damaged `archive` file: refused with its name, and archived events cannot be
     * found (not read as missing silently). */
    char conf[4300];
    snprintf(conf, sizeof conf, "%s/archive", f->dir);
    FILE *fp = fopen(conf, "r+");
    fseek(fp, 30, SEEK_SET);
    fputc('9', fp);
    fclose(fp);
    assert_evs(EVS_ECORRUPT, evs_archive(&r, f->s, NULL));
    assert_errmsg_has("archive' is damaged");
    evs_store *fresh = NULL;
    int rc = evs_open(&fresh, f->dir, &ro);
    if (rc == 0) {
        evs_event ev;
        evs_query q = EVS_QUERY_INIT;
        evs_cursor *c = NULL;
        assert_evs_ok(evs_cursor_open(&c, fresh, &q));
        assert_evs(EVS_ECORRUPT, evs_cursor_next(&ev, c));
        assert_errmsg_has("archive' is damaged");
        evs_cursor_close(c);
        evs_close(fresh);
    } else {
        assert_int_equal(rc, EVS_ECORRUPT);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_archive_everything_sealed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_keep_size_policy_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_older_than, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_both_present, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_bad_settings, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
