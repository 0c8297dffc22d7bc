/*
 * test_full_disk.c - a real full disk (issue 5), not a simulated ENOSPC: the store lives
 * on a 2 MiB tmpfs that the test mounts itself, and appends run until it is full.
 *
 * Rounds: the disk also holds a few filler files; each round appends random batches
 * until one fails, then frees one filler (a different amount of space each time, so the
 * disk fills at a different point of the write path: a record, an offset index, a new
 * segment's header). In every round:
 *  - the append that meets the full disk fails with EVS_ENOSPC and a message saying the
 *    disk is full ("No space left on device"), and so does the same append tried again
 *    (the handle is not poisoned: a failed write is undone, so it stays usable), unless
 *    a background cache writer gave its space back in between: then it is stored whole;
 *  - every acknowledged event is there byte for byte, and nothing of a failed append;
 *  - every other round the store is closed and reopened on the still-full disk: it opens
 *    cleanly and evs_verify passes;
 *  - once space is freed, appends work again.
 * The first rounds append small events in batches, the last ones large single events
 * (a few per 64 KiB segment, so the disk fills while starting a new segment).
 *
 * Then repair on a full disk: it needs room for the bytes it copies aside, so it must
 * fail with EVS_ENOSPC before changing anything, and succeed once there is room.
 *
 * Mounting needs root (CAP_SYS_ADMIN). Where it is not allowed (not root, or a container
 * that forbids mount) the test is skipped with a message saying why. When the process
 * may have a mount namespace of its own, the mount lives there, so even a crashed test
 * leaves no mount behind; it is unmounted at the end, also after a failure.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include "faultutil.h"

#include <inttypes.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/mount.h>

#define DISK_SIZE    "2m"
#define FILLERS      5
#define MAX_EVENTS   20000
#define MAX_BATCH    8
#define ROUND_LIMIT  5000 /* appends per round: the disk must have filled long before */
#define MAX_DATA_LEN 40000

typedef struct disk {
    char base[3900]; /* the mount point, made by the test */
    char dir[4000];  /* the store, on the tmpfs */
    bool mounted;
    char skip_why[4400];
    /* The model: event k (1-based) has id k and data made from k; pos_of[k] is where it
     * was acknowledged. */
    int64_t pos_of[MAX_EVENTS + 1];
    size_t next_event;
    int64_t acked; /* events acknowledged, which is also the head */
} disk;

/* Mounts made in this process stay out of everyone else's view, and vanish with it. */
static void private_mounts(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        print_message("note: cannot make the mounts private (%s)\n", strerror(errno));
}

static int setup_disk(void **state)
{
    disk *dk = calloc(1, sizeof *dk);
    if (!dk)
        return -1;
    *state = dk;
    const char *tmp = getenv("EVS_TEST_TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    mkdir(tmp, 0755);
    snprintf(dk->base, sizeof dk->base, "%s/evs-fulldisk-XXXXXX", tmp);
    if (!mkdtemp(dk->base))
        return -1;
    snprintf(dk->dir, sizeof dk->dir, "%s/store", dk->base);
    if (geteuid() != 0) {
        snprintf(dk->skip_why, sizeof dk->skip_why,
                 "not running as root: mounting a size-limited tmpfs needs CAP_SYS_ADMIN");
        return 0;
    }
    private_mounts();
    if (mount("evs-full-disk", dk->base, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "size=" DISK_SIZE ",mode=0755") < 0) {
        snprintf(dk->skip_why, sizeof dk->skip_why,
                 "cannot mount a tmpfs on %s (%s): mounting is not allowed here", dk->base,
                 strerror(errno));
        return 0;
    }
    dk->mounted = true;
    return 0;
}

static int teardown_disk(void **state)
{
    disk *dk = *state;
    if (!dk)
        return 0;
    /* Lazily: a store a failed test left open must not keep the mount alive. */
    if (dk->mounted && umount2(dk->base, MNT_DETACH) < 0)
        print_error("cannot unmount %s: %s\n", dk->base, strerror(errno));
    if (rmdir(dk->base) < 0)
        print_error("cannot remove %s: %s\n", dk->base, strerror(errno));
    free(dk);
    *state = NULL;
    return 0;
}

static void skip_unless_mounted(const disk *dk)
{
    if (dk->mounted)
        return;
    print_message("skipped: %s\n", dk->skip_why);
    skip();
}

/* ---- the events -------------------------------------------------------------------- */

static void make_id(unsigned char id[16], size_t k)
{
    memset(id, 0, 16);
    id[0] = 0xd1;
    id[6] = 0x40;
    id[8] = 0x80;
    for (int i = 0; i < 8; i++)
        id[15 - i] = (unsigned char)(k >> (8 * i));
}

static size_t id_number(const unsigned char id[16])
{
    size_t k = 0;
    for (int i = 0; i < 8; i++)
        k |= (size_t)id[15 - i] << (8 * i);
    return k;
}

/* Event k's data: its number and a padding whose length and letter come from k. */
static size_t data_of(char *buf, size_t cap, size_t k, size_t pad)
{
    int n = snprintf(buf, cap, "{\"k\":%zu,\"pad\":\"", k);
    size_t len = (size_t)n;
    for (size_t i = 0; i < pad && len + 3 < cap; i++)
        buf[len++] = (char)('a' + (k + i / 64) % 26);
    buf[len++] = '"';
    buf[len++] = '}';
    buf[len] = '\0';
    return len;
}

static size_t pad_of(size_t k, bool large)
{
    /* Deterministic per event, so a reader can rebuild the data from the id alone. */
    uint64_t h = (uint64_t)k * 0x9E3779B97F4A7C15ULL;
    return large ? 8000 + (size_t)(h >> 40) % 24000 : 40 + (size_t)(h >> 40) % 600;
}

static bool is_large(size_t k)
{
    return k >= MAX_EVENTS / 2;
}

/* Append one batch of `count` new events; returns what evs_append returned. */
static int append_batch(disk *dk, evs_store *s, size_t count, bool large)
{
    static char data[MAX_BATCH][MAX_DATA_LEN];
    unsigned char ids[MAX_BATCH][16];
    evs_event_in in[MAX_BATCH];
    if (large && dk->next_event < MAX_EVENTS / 2)
        dk->next_event = MAX_EVENTS / 2;
    assert_true(dk->next_event + count <= MAX_EVENTS);
    for (size_t i = 0; i < count; i++) {
        size_t k = ++dk->next_event;
        make_id(ids[i], k);
        in[i] = tu_event(i % 2 ? "Filled" : "Written", "{}");
        in[i].data = data[i];
        in[i].data_len = data_of(data[i], sizeof data[i], k, pad_of(k, large));
        in[i].id = ids[i];
    }
    evs_append_result r;
    int rc = evs_append(&r, s, large ? "big" : "small", EVS_EXPECT_ANY, in, count);
    if (rc == 0) {
        assert_int_equal(r.first_pos, dk->acked + 1);
        for (size_t i = 0; i < count; i++)
            dk->pos_of[dk->next_event - count + 1 + i] = r.first_pos + (int64_t)i;
        dk->acked += (int64_t)count;
    } else {
        dk->next_event -= count; /* a failed append's numbers are used again */
    }
    return rc;
}

/* The store holds exactly the acknowledged events, in order, byte for byte. */
static void check_events(const disk *dk, evs_store *s)
{
    assert_int_equal(evs_head(s), dk->acked);
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, NULL));
    evs_event ev;
    int rc;
    int64_t pos = 0;
    static char want[MAX_DATA_LEN];
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        assert_int_equal(ev.pos, ++pos);
        size_t k = id_number(ev.id);
        assert_true(k >= 1 && k <= MAX_EVENTS);
        if (dk->pos_of[k] != ev.pos)
            print_error("position %" PRId64 " holds event %zu, acknowledged at %" PRId64 "\n",
                        ev.pos, k, dk->pos_of[k]);
        assert_int_equal(dk->pos_of[k], ev.pos);
        size_t len = data_of(want, sizeof want, k, pad_of(k, is_large(k)));
        assert_int_equal(ev.data_len, len);
        assert_memory_equal(ev.data, want, len);
    }
    assert_evs_ok(rc);
    evs_cursor_close(c);
    assert_int_equal(pos, dk->acked);
}

static evs_store *open_store(const disk *dk)
{
    evs_options o = EVS_OPTIONS_INIT; /* EVS_SYNC_ALWAYS: acknowledged = synced */
    o.segment_size = 64u << 10;
    evs_store *s;
    assert_evs_ok(evs_open(&s, dk->dir, &o));
    return s;
}

static void make_filler(const disk *dk, int i, size_t bytes)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/filler-%d", dk->base, i);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    static char zeros[4096];
    for (size_t done = 0; done < bytes; done += sizeof zeros)
        assert_int_equal(fwrite(zeros, 1, sizeof zeros, f), sizeof zeros);
    assert_int_equal(fclose(f), 0);
}

static void free_filler(const disk *dk, int i)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/filler-%d", dk->base, i);
    assert_int_equal(unlink(path), 0);
}

/* Append until the disk is full; check the failure. */
static void fill(disk *dk, evs_store *s, int round, bool large)
{
    for (int n = 0; n < ROUND_LIMIT; n++) {
        size_t count = large ? 1 : 1 + tu_rnd_below(MAX_BATCH);
        size_t first = dk->next_event;
        int rc = append_batch(dk, s, count, large);
        if (rc == 0)
            continue;
        if (rc != EVS_ENOSPC || !strstr(evs_errmsg(), "No space left on device"))
            print_error("round %d: the append that filled the disk returned %s: %s\n", round,
                        evs_errname(rc), evs_errmsg());
        assert_int_equal(rc, EVS_ENOSPC);
        assert_non_null(strstr(evs_errmsg(), "No space left on device"));
        print_message("round %d: disk full after %" PRId64 " events: %s\n", round, dk->acked,
                      evs_errmsg());
        /* The same append again. A failed append is undone, so the handle stays usable:
         * with still no room it fails the same way, nothing written. The store's
         * background threads (directories of sealed segments, stream index runs) write
         * cache files of their own, and one that met the full disk too deletes its
         * temporary file: then the retry may find room, and is stored whole (the model
         * counts it; check_events proves it). Keep filling until a retry fails. */
        assert_int_equal(dk->next_event, first);
        rc = append_batch(dk, s, count, large);
        if (rc == 0) {
            print_message("round %d: the retry found room a background writer gave back\n",
                          round);
            continue;
        }
        assert_evs(EVS_ENOSPC, rc);
        assert_non_null(strstr(evs_errmsg(), "No space left on device"));
        return;
    }
    fail_msg("round %d: %d appends and the %s disk is still not full", round, ROUND_LIMIT,
             DISK_SIZE);
}

static void test_full_disk(void **state)
{
    disk *dk = *state;
    skip_unless_mounted(dk);
    tu_seed_rng();
    static const size_t filler_kib[FILLERS] = {8, 24, 72, 160, 320};
    for (int i = 0; i < FILLERS; i++)
        make_filler(dk, i, filler_kib[i] * 1024);
    evs_store *s = open_store(dk);
    for (int round = 0; round < FILLERS; round++) {
        bool large = round >= 3;
        fill(dk, s, round, large);
        check_events(dk, s);
        if (round % 2 == 1) {
            /* Reopen while the disk is still full: a clean open, a whole store. */
            assert_evs_ok(evs_close(s));
            s = open_store(dk);
            assert_evs_ok(evs_verify(NULL, s, NULL, NULL));
            check_events(dk, s);
        }
        free_filler(dk, round);
        assert_evs_ok(append_batch(dk, s, 1, large)); /* room again: appends work */
    }
    assert_evs_ok(evs_close(s));
    s = open_store(dk);
    evs_verify_report rep;
    assert_evs_ok(evs_verify(&rep, s, NULL, NULL));
    assert_int_equal(rep.events_checked, dk->acked);
    check_events(dk, s);
    assert_evs_ok(evs_close(s));
}

/* Fill whatever room is left with one more filler file. */
static void fill_up(const disk *dk, const char *name)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dk->base, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    static char zeros[4096];
    while (fwrite(zeros, 1, sizeof zeros, f) == sizeof zeros)
        ;
    (void)fclose(f); /* fails when its last buffer does not fit: that is the point */
}

/* Repair needs room for the bytes it copies aside; on a full disk it must fail before
 * it changes anything, say why, and succeed once there is room. */
static void test_repair_on_full_disk(void **state)
{
    disk *dk = *state;
    skip_unless_mounted(dk);
    tu_seed_rng();
    evs_store *s = open_store(dk);
    for (int i = 0; i < 300; i++)
        assert_evs_ok(append_batch(dk, s, 1 + tu_rnd_below(4), false));
    assert_evs_ok(evs_close(s));
    uint64_t segs[64];
    assert_true(fu_list_segs(dk->dir, segs, 64) >= 2);
    char name[32];
    fu_seg_name(name, sizeof name, segs[0]);
    static fu_rec recs[4096];
    size_t n = fu_seg_records(dk->dir, name, recs, 4096);
    assert_true(n > 20);
    fu_damage(dk->dir, name, recs[10].data_off + 3, 0x04); /* early: a long tail to save */
    fill_up(dk, "filler-all");

    evs_repair_report rep;
    int rc = evs_repair(&rep, dk->dir, NULL);
    if (rc != EVS_ENOSPC)
        print_error("repair on a full disk returned %s: %s\n", evs_errname(rc), evs_errmsg());
    assert_int_equal(rc, EVS_ENOSPC);
    assert_errmsg_has("repair changed nothing");
    assert_errmsg_has("No space left on device");
    /* Nothing changed: no folder left, the damage still there, every segment in place. */
    DIR *d = opendir(dk->dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        assert_null(strstr(e->d_name, "repair-"));
    closedir(d);
    uint64_t after[64];
    assert_int_equal(fu_list_segs(dk->dir, after, 64), fu_list_segs(dk->dir, segs, 64));
    s = open_store(dk);
    assert_evs(EVS_ECORRUPT, evs_verify(NULL, s, NULL, NULL));
    assert_evs_ok(evs_close(s));

    char path[4400];
    snprintf(path, sizeof path, "%s/filler-all", dk->base);
    assert_int_equal(unlink(path), 0);
    assert_evs_ok(evs_repair(&rep, dk->dir, NULL));
    /* The log is kept up to the last commit record before the damaged one. */
    int64_t kept = 0;
    for (size_t i = 10; i-- > 0;)
        if (recs[i].flags & FU_REC_COMMIT) {
            kept = recs[i].pos;
            break;
        }
    assert_int_equal(rep.damaged, 1);
    assert_int_equal(rep.kept_last_pos, kept);
    assert_int_equal(rep.first_lost_pos, kept + 1);
    assert_int_equal(rep.last_lost_pos, dk->acked);
    s = open_store(dk);
    assert_evs_ok(evs_verify(NULL, s, NULL, NULL));
    /* The positions it cut are declared lost, never handed out again. */
    assert_int_equal(evs_head(s), rep.last_lost_pos);
    assert_evs_ok(evs_close(s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_disk, setup_disk, teardown_disk),
        cmocka_unit_test_setup_teardown(test_repair_on_full_disk, setup_disk, teardown_disk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
