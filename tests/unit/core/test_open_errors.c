/*
 * test_open_errors.c - evs_open refuses what it must, with the documented code and a
 * message, and changes nothing it refuses.
 *
 * Covers: bad options (segment_size, flags, options version, sync mode, interval,
 * lock_wait_ms, path) create nothing; evs_options_init; EVS_OPEN_NOCREATE and
 * EVS_OPEN_READONLY on a missing store (EVS_ENOTFOUND, nothing created);
 * EVS_OPEN_EXCLUSIVE_CREATE on a new and an existing store (EVS_EEXIST); a non-empty
 * directory that is not a store (EVS_EFORMAT, its files untouched); a short or foreign
 * evstore.meta; a store of a newer format version (evstore.meta patched, its CRC32C
 * recomputed here), of version 0, and with a damaged meta file.
 */
#include "testutil.h"
#include "victim_fixture.h"

#include <dirent.h>
#include <stdbool.h>

/* ---- fixture: victim_fixture.h, a store holding "victim-1" (3 events) ------------ */

typedef tu_victim_fixture fixture;

static int setup(void **state)
{
    return tu_victim_setup(state, "core-open");
}

/* The message of the last failure open_fails() saw (later calls clear evs_errmsg). */
static char last_msg[1024];

static void msg_has(const char *needle)
{
    if (needle && !strstr(last_msg, needle))
        fail_msg("message '%s' lacks '%s'", last_msg, needle);
}

static void keep_msg(void)
{
    snprintf(last_msg, sizeof last_msg, "%s", evs_errmsg());
}

/* ---- opening ---------------------------------------------------------------------------- */

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void open_fails(const char *path, const evs_options *o, int code, const char *n1,
                       const char *n2)
{
    static char sentinel;
    evs_store *s = (evs_store *)(void *)&sentinel; /* not NULL, to see it reset */
    assert_evs(code, evs_open(&s, path, o));
    keep_msg();
    assert_null(s);
    assert_int_equal(evs_errcode(), code);
    msg_has(n1);
    msg_has(n2);
}

static void test_bad_open_options(void **state)
{
    fixture *f = *state;
    char path[4200];
    snprintf(path, sizeof path, "%s-new", f->dir); /* beside the fixture's store */
    evs_options o = tu_fast_options();
    o.segment_size = 1;
    open_fails(path, &o, EVS_EINVAL, "segment_size", NULL);
    o.segment_size = (64u << 10) - 1;
    open_fails(path, &o, EVS_EINVAL, "segment_size", NULL);
    o.segment_size = (uint64_t)2 << 30;
    open_fails(path, &o, EVS_EINVAL, "segment_size", NULL);
    o = tu_fast_options();
    o.flags = 0x100;
    open_fails(path, &o, EVS_EINVAL, "flags", NULL);
    o.flags = EVS_OPEN_NOCREATE | 0x80000000u;
    open_fails(path, &o, EVS_EINVAL, "flags", NULL);
    o = tu_fast_options();
    o.version = 0;
    open_fails(path, &o, EVS_EINVAL, "version", NULL);
    o.version = EVS_OPTIONS_VERSION + 1;
    open_fails(path, &o, EVS_EINVAL, "version", NULL);
    o = tu_fast_options();
    o.sync_mode = (evs_sync_mode)7;
    open_fails(path, &o, EVS_EINVAL, "sync", NULL);
    o = tu_fast_options();
    o.sync_mode = EVS_SYNC_BATCH;
    o.sync_interval_ms = 0;
    open_fails(path, &o, EVS_EINVAL, "sync_interval_ms", NULL);
    o = tu_fast_options();
    o.lock_wait_ms = -2;
    open_fails(path, &o, EVS_EINVAL, "lock_wait_ms", NULL);
    /* None of those created anything. */
    assert_false(exists(path));

    o = tu_fast_options();
    open_fails(NULL, &o, EVS_EINVAL, "path", NULL);
    open_fails("", &o, EVS_EINVAL, "path", NULL);
    assert_evs(EVS_EMISUSE, evs_open(NULL, path, &o));
    assert_false(exists(path));

    evs_options init;
    assert_evs(EVS_EINVAL, evs_options_init(&init, EVS_OPTIONS_VERSION + 1));
    assert_evs(EVS_EINVAL, evs_options_init(&init, 0));
    assert_evs_ok(evs_options_init(&init, EVS_OPTIONS_VERSION));
    assert_int_equal(init.version, EVS_OPTIONS_VERSION);
    assert_int_equal(init.sync_mode, EVS_SYNC_ALWAYS);
    assert_int_equal(init.lock_wait_ms, -1);
}

/* A program built against any earlier header passes its own options version: every
 * version from 1 to the current one opens (fields added since take their defaults; the
 * byte-level rule is tested in tests/unit/util/test_versioned.c). */
static void test_every_options_version(void **state)
{
    fixture *f = *state;
    char path[4200];
    for (unsigned v = 1; v <= EVS_OPTIONS_VERSION; v++) {
        snprintf(path, sizeof path, "%s-v%u", f->dir, v);
        evs_options o;
        assert_evs_ok(evs_options_init(&o, v));
        assert_int_equal(o.version, v);
        o.sync_mode = EVS_SYNC_NONE;
        assert_evs_ok(evs_open(&f->other, path, &o));
        tu_append1(f->other, "x-1", "Ev", "1");
        assert_evs_ok(evs_close(f->other));
        f->other = NULL;
        evs_repair_opts ro = EVS_REPAIR_OPTS_INIT;
        for (ro.version = 1; ro.version <= EVS_REPAIR_OPTS_VERSION; ro.version++) {
            evs_repair_report rep;
            assert_evs_ok(evs_repair(&rep, path, &ro));
            assert_int_equal(rep.damaged, 0);
        }
        tu_rmtree(path);
    }
}

static void test_open_modes(void **state)
{
    fixture *f = *state;
    char path[4200];
    snprintf(path, sizeof path, "%s-modes/a/b", f->dir);
    evs_options o = tu_fast_options();
    o.flags = EVS_OPEN_NOCREATE;
    open_fails(path, &o, EVS_ENOTFOUND, NULL, NULL);
    assert_false(exists(path));
    o.flags = EVS_OPEN_READONLY;
    open_fails(path, &o, EVS_ENOTFOUND, NULL, NULL);
    assert_false(exists(path));

    /* EXCLUSIVE_CREATE on a new path creates it (parents too); then it exists. */
    o.flags = EVS_OPEN_EXCLUSIVE_CREATE;
    assert_evs_ok(evs_open(&f->other, path, &o));
    tu_append1(f->other, "x-1", "Ev", "1");
    assert_evs_ok(evs_close(f->other));
    f->other = NULL;
    open_fails(path, &o, EVS_EEXIST, NULL, NULL);
    /* And the refusal changed nothing. */
    o.flags = EVS_OPEN_NOCREATE;
    assert_evs_ok(evs_open(&f->other, path, &o));
    assert_int_equal(evs_head(f->other), 1);
    assert_evs_ok(evs_close(f->other));
    f->other = NULL;
    /* The fixture's store, open in this process, also exists. */
    o.flags = EVS_OPEN_EXCLUSIVE_CREATE;
    open_fails(f->dir, &o, EVS_EEXIST, NULL, NULL);
    assert_int_equal(evs_head(f->store), 3);

    char top[4200];
    snprintf(top, sizeof top, "%s-modes", f->dir);
    tu_rmtree(top);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Names and sizes of a directory's entries, sorted, as one string. */
static void list_dir(const char *dir, char *out, size_t len)
{
    char names[64][300];
    size_t n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 64) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        snprintf(names[n++], sizeof names[0], "%s:%lld", e->d_name, (long long)st.st_size);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_name);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(out, names[i], len - strlen(out) - 1);
        strncat(out, " ", len - strlen(out) - 1);
    }
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static size_t read_file(const char *path, void *buf, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t n = fread(buf, 1, cap, fp);
    fclose(fp);
    return n;
}

/* A directory of the user's files is not a store and must be left as it was. */
static void test_open_not_a_store(void **state)
{
    fixture *f = *state;
    char top[4200], path[4400], sub[4500];
    snprintf(top, sizeof top, "%s-user", f->dir);
    assert_int_equal(mkdir(top, 0755), 0);
    snprintf(path, sizeof path, "%s/notes.txt", top);
    write_file(path, "hello\n", 6);
    snprintf(sub, sizeof sub, "%s/photos", top);
    assert_int_equal(mkdir(sub, 0755), 0);
    char listing[4096], after[4096];
    list_dir(top, listing, sizeof listing);

    evs_options o = tu_fast_options();
    open_fails(top, &o, EVS_EFORMAT, top, "not");
    list_dir(top, after, sizeof after);
    if (strcmp(listing, after) != 0)
        print_error("directory changed by a failed open: before '%s', after '%s'\n", listing,
                    after);
    int same_listing = strcmp(listing, after) == 0;
    char buf[16];
    assert_int_equal(read_file(path, buf, sizeof buf), 6);
    assert_memory_equal(buf, "hello\n", 6);
    /* Read-only and NOCREATE opens say "not found" or "not a store", never create. */
    o.flags = EVS_OPEN_READONLY;
    evs_store *s = NULL;
    int rc = evs_open(&s, top, &o);
    assert_true(rc == EVS_ENOTFOUND || rc == EVS_EFORMAT);
    assert_null(s);
    tu_rmtree(top);
    assert_true(same_listing);
}

/* Files named like a store's, but not one: a short or foreign evstore.meta. */
static void test_open_bad_meta(void **state)
{
    fixture *f = *state;
    char top[4200], meta[4400];
    snprintf(top, sizeof top, "%s-meta", f->dir);
    assert_int_equal(mkdir(top, 0755), 0);
    snprintf(meta, sizeof meta, "%s/evstore.meta", top);
    write_file(meta, "0123456789", 10);
    evs_options o = tu_fast_options();
    open_fails(top, &o, EVS_EFORMAT, "evstore.meta", NULL);
    unsigned char junk[64];
    memset(junk, 'J', sizeof junk);
    write_file(meta, junk, sizeof junk);
    open_fails(top, &o, EVS_EFORMAT, "evstore.meta", NULL);
    unsigned char back[64];
    assert_int_equal(read_file(meta, back, sizeof back), 64);
    assert_memory_equal(back, junk, 64);
    tu_rmtree(top);
}

/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit. */
static uint32_t crc32c(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return ~c;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void test_open_newer_format(void **state)
{
    fixture *f = *state;
    assert_int_equal(crc32c((const unsigned char *)"123456789", 9), 0xE3069283u);
    char meta[4400];
    snprintf(meta, sizeof meta, "%s/evstore.meta", f->dir);
    assert_evs_ok(evs_close(f->store));
    f->store = NULL;
    unsigned char m[64], orig[64], back[64];
    assert_int_equal(read_file(meta, m, sizeof m), 64);
    memcpy(orig, m, 64);
    assert_int_equal(get_u32(m + 60), crc32c(m, 60)); /* our CRC is the store's */
    assert_int_equal(get_u32(m + 8), 1);

    /* Format version 99, with a valid checksum: a newer evstore made it. */
    put_u32(m + 8, 99);
    put_u32(m + 60, crc32c(m, 60));
    write_file(meta, m, 64);
    evs_options o = tu_fast_options();
    open_fails(f->dir, &o, EVS_EFORMAT, "99", "version");
    o.flags = EVS_OPEN_READONLY;
    open_fails(f->dir, &o, EVS_EFORMAT, "99", NULL);
    assert_int_equal(read_file(meta, back, sizeof back), 64);
    assert_memory_equal(back, m, 64);

    /* Version 0 is no version. */
    put_u32(m + 8, 0);
    put_u32(m + 60, crc32c(m, 60));
    write_file(meta, m, 64);
    o.flags = 0;
    open_fails(f->dir, &o, EVS_EFORMAT, "version", NULL);

    /* A damaged meta file (checksum wrong): refused, naming the file. */
    memcpy(m, orig, 64);
    m[20] ^= 0x40;
    write_file(meta, m, 64);
    evs_store *s = NULL;
    int rc = evs_open(&s, f->dir, &o);
    assert_null(s);
    assert_true(rc == EVS_ECORRUPT || rc == EVS_EFORMAT);
    assert_errmsg_has("evstore.meta");

    /* Put back, the store opens and holds what it held. */
    write_file(meta, orig, 64);
    assert_evs_ok(evs_open(&f->store, f->dir, &o));
    assert_int_equal(evs_head(f->store), 3);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, tu_victim_teardown)
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        T(test_bad_open_options),
        T(test_every_options_version),
        T(test_open_modes),
        T(test_open_not_a_store),
        T(test_open_bad_meta),
        T(test_open_newer_format),
    };
    /* clang-format on */
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
