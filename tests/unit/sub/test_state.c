/*
 * test_state.c - read-model state files (evs_state_*), without a store.
 *
 * Covers: a missing file starts from the initial state (nothing written by open); a
 * round trip keeps the JSON byte for byte, the position and the model version, and the
 * file has the documented header; a file cut at every length is EVS_ECORRUPT naming
 * the file and "truncated"/"empty", never loaded; every single-bit flip of a file is
 * caught (EVS_ECORRUPT or EVS_EFORMAT), never loaded; trailing bytes; a foreign file is
 * EVS_EFORMAT; a newer format version is EVS_EFORMAT naming the version; a good
 * checksum over non-JSON; another model version starts over (MODEL_CHANGED) and
 * EVS_STATE_REPLAY ignores even a damaged file; bad arguments and a save of invalid
 * JSON change nothing; a save into a missing directory fails naming the file and
 * leaves no temporary file; a stale PATH.tmp from a crash is harmless.
 */
#include "testutil.h"

#include <inttypes.h>
#include <stdbool.h>

#define INITIAL "{\"byUrl\":{}}"

typedef struct fx {
    char dir[4096];
    char path[4200];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    tu_tmpdir(f->dir, sizeof f->dir, "state");
    if (mkdir(f->dir, 0755) < 0)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/model.state", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    tu_cleanup(f->dir);
    free(f);
    return 0;
}

static evs_state *open_ok(const char *path, uint32_t model, unsigned flags)
{
    evs_state *st;
    assert_evs_ok(evs_state_open(&st, path, model, INITIAL, strlen(INITIAL), flags));
    return st;
}

static void save_ok(evs_state *st, const char *json, int64_t pos)
{
    assert_evs_ok(evs_state_save(st, json, strlen(json), pos));
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t n = fread(buf, 1, cap, fp);
    fclose(fp);
    return n;
}

static void write_file(const char *path, const char *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Open must fail with `want`, naming the file, handing out nothing. */
static void expect_open_fails(const char *path, int want, const char *needle)
{
    evs_state *st = (evs_state *)1;
    int rc = evs_state_open(&st, path, 1, INITIAL, strlen(INITIAL), 0);
    if (rc != want)
        print_error("open gave %s (%s), want %s\n", evs_errname(rc), evs_errmsg(),
                    evs_errname(want));
    assert_int_equal(rc, want);
    assert_null(st);
    assert_errmsg_has(path);
    if (needle)
        assert_errmsg_has(needle);
}

static void test_missing_then_round_trip(void **state)
{
    fx *f = *state;
    evs_state *st = open_ok(f->path, 3, 0);
    evs_state_info info;
    evs_state_get(&info, st);
    assert_int_equal(info.origin, EVS_STATE_NEW);
    assert_int_equal(info.pos, 0);
    assert_int_equal(info.model_version, 3);
    assert_int_equal(info.file_model_version, 0);
    assert_string_equal(info.path, f->path);
    assert_int_equal(info.json_len, strlen(INITIAL));
    assert_memory_equal(info.json, INITIAL, info.json_len);
    assert_false(exists(f->path)); /* opening writes nothing */

    /* Unusual but valid JSON, kept byte for byte (spaces, escapes, UTF-8). */
    const char *doc = " {\"a\" : [1, 2.5e3, \"\\u00e9\\n\", \"\xc3\xa9\"], \"b\":null} ";
    save_ok(st, doc, 1042);
    evs_state_get(&info, st);
    assert_int_equal(info.pos, 1042);
    assert_memory_equal(info.json, doc, strlen(doc));
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", f->path);
    assert_false(exists(tmp));
    evs_state_close(st);

    char buf[512];
    size_t n = read_file(f->path, buf, sizeof buf);
    buf[n] = '\0';
    char want_prefix[128];
    snprintf(want_prefix, sizeof want_prefix,
             "evstore-state 1 pos=1042 model=3 len=%zu crc32c=", strlen(doc));
    assert_memory_equal(buf, want_prefix, strlen(want_prefix));
    assert_int_equal(buf[n - 1], '\n');

    st = open_ok(f->path, 3, 0);
    evs_state_get(&info, st);
    assert_int_equal(info.origin, EVS_STATE_LOADED);
    assert_int_equal(info.pos, 1042);
    assert_int_equal(info.file_model_version, 3);
    assert_int_equal(info.json_len, strlen(doc));
    assert_memory_equal(info.json, doc, info.json_len);
    /* A second save replaces the first whole. */
    save_ok(st, "[]", 1043);
    evs_state_close(st);
    st = open_ok(f->path, 3, 0);
    evs_state_get(&info, st);
    assert_int_equal(info.pos, 1043);
    assert_int_equal(info.json_len, 2);
    assert_memory_equal(info.json, "[]", 2);
    evs_state_close(st);
}

static void make_file(const fx *f, const char *json, int64_t pos, char *buf, size_t *len)
{
    evs_state *st = open_ok(f->path, 1, 0);
    save_ok(st, json, pos);
    evs_state_close(st);
    *len = read_file(f->path, buf, 4096);
}

static void test_truncated_at_every_length(void **state)
{
    fx *f = *state;
    char good[4096];
    size_t len;
    make_file(f, "{\"k\":\"some state\",\"n\":[1,2,3]}", 77, good, &len);
    for (size_t cut = 0; cut < len; cut++) {
        write_file(f->path, good, cut);
        expect_open_fails(f->path, EVS_ECORRUPT, cut == 0 ? "empty" : "truncated");
    }
    write_file(f->path, good, len);
    evs_state_close(open_ok(f->path, 1, 0));
}

static void test_every_bit_flip_is_caught(void **state)
{
    fx *f = *state;
    char good[4096], bad[4096];
    size_t len;
    make_file(f, "{\"url\":\"https://example.org/\",\"n\":12}", 5, good, &len);
    int corrupt = 0, format = 0;
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(bad, good, len);
            bad[i] = (char)(bad[i] ^ (1 << bit));
            write_file(f->path, bad, len);
            evs_state *st = (evs_state *)1;
            int rc = evs_state_open(&st, f->path, 1, INITIAL, strlen(INITIAL), 0);
            if (rc != EVS_ECORRUPT && rc != EVS_EFORMAT)
                print_error("flip of bit %d at byte %zu: open gave %s\n", bit, i, evs_errname(rc));
            assert_true(rc == EVS_ECORRUPT || rc == EVS_EFORMAT);
            assert_null(st);
            assert_errmsg_has(f->path);
            corrupt += rc == EVS_ECORRUPT;
            format += rc == EVS_EFORMAT;
        }
    }
    /* Flips in the magic word say "not a state file", and so may one that turns the
     * format version into another digit; every other one says "damaged". */
    assert_true(format >= 8 * 14 && format <= 8 * 15);
    assert_int_equal(corrupt + format, (int)len * 8);
}

/* CRC32C computed bit by bit, independently of the library's (table or SSE4.2). */
static uint32_t crc32c_ref(uint32_t crc, const char *p, size_t len)
{
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= (unsigned char)p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* A state file written by hand from docs/FORMAT.md: position 1, model 1. */
static void hand_made(char *buf, size_t cap, const char *json)
{
    char covered[128];
    int n =
        snprintf(covered, sizeof covered, "evstore-state 1 pos=1 model=1 len=%zu", strlen(json));
    uint32_t crc = crc32c_ref(crc32c_ref(0, covered, (size_t)n), json, strlen(json));
    snprintf(buf, cap, "%s crc32c=%08x\n%s\n", covered, crc, json);
}

static void test_other_damage(void **state)
{
    fx *f = *state;
    char good[4096], buf[4200];
    size_t len;
    make_file(f, "{\"a\":1}", 9, good, &len);

    memcpy(buf, good, len);
    memcpy(buf + len, "xx", 2);
    write_file(f->path, buf, len + 2);
    expect_open_fails(f->path, EVS_ECORRUPT, "2 unexpected bytes");

    write_file(f->path, "{\"a\":1}\n", 8);
    expect_open_fails(f->path, EVS_EFORMAT, "not an evstore state file");

    /* A newer format: named, not mistaken for damage. */
    memcpy(buf, good, len);
    buf[14] = '2';
    write_file(f->path, buf, len);
    expect_open_fails(f->path, EVS_EFORMAT, "format version 2");

    /* A header without its newline within reach. */
    memset(buf, 'x', 300);
    memcpy(buf, "evstore-state 1 pos=", 20);
    write_file(f->path, buf, 300);
    expect_open_fails(f->path, EVS_ECORRUPT, "header");

    /* A correct checksum over something that is not JSON: not written by evstore. */
    hand_made(buf, sizeof buf, "{nope");
    write_file(f->path, buf, strlen(buf));
    expect_open_fails(f->path, EVS_ECORRUPT, "not valid JSON");
    /* The same made by hand with JSON loads: the format is what docs/FORMAT.md says. */
    const char *body = "{\"o\":1}";
    hand_made(buf, sizeof buf, body);
    write_file(f->path, buf, strlen(buf));
    evs_state *st = open_ok(f->path, 1, 0);
    evs_state_info info;
    evs_state_get(&info, st);
    assert_int_equal(info.origin, EVS_STATE_LOADED);
    assert_memory_equal(info.json, body, strlen(body));
    evs_state_close(st);
}

static void test_model_change_and_replay(void **state)
{
    fx *f = *state;
    evs_state *st = open_ok(f->path, 1, 0);
    save_ok(st, "{\"v1\":true}", 40);
    evs_state_close(st);

    st = open_ok(f->path, 2, 0);
    evs_state_info info;
    evs_state_get(&info, st);
    assert_int_equal(info.origin, EVS_STATE_MODEL_CHANGED);
    assert_int_equal(info.file_model_version, 1);
    assert_int_equal(info.model_version, 2);
    assert_int_equal(info.pos, 0);
    assert_memory_equal(info.json, INITIAL, strlen(INITIAL));
    evs_state_close(st);

    st = open_ok(f->path, 1, EVS_STATE_REPLAY);
    evs_state_get(&info, st);
    assert_int_equal(info.origin, EVS_STATE_REPLAYING);
    assert_int_equal(info.pos, 0);
    evs_state_close(st);
    /* Neither changed the file. */
    st = open_ok(f->path, 1, 0);
    evs_state_get(&info, st);
    assert_int_equal(info.origin, EVS_STATE_LOADED);
    assert_int_equal(info.pos, 40);
    evs_state_close(st);

    /* Replay is the way past a damaged file, and its first save repairs it. */
    write_file(f->path, "evstore-state 1 pos=4", 21);
    expect_open_fails(f->path, EVS_ECORRUPT, "truncated");
    st = open_ok(f->path, 1, EVS_STATE_REPLAY);
    save_ok(st, "{\"rebuilt\":1}", 3);
    evs_state_close(st);
    st = open_ok(f->path, 1, 0);
    evs_state_get(&info, st);
    assert_int_equal(info.pos, 3);
    evs_state_close(st);
}

static void test_bad_arguments_change_nothing(void **state)
{
    fx *f = *state;
    evs_state *st = (evs_state *)1;
    assert_evs(EVS_EINVAL, evs_state_open(&st, NULL, 1, "{}", 2, 0));
    assert_null(st);
    assert_evs(EVS_EINVAL, evs_state_open(&st, "", 1, "{}", 2, 0));
    assert_evs(EVS_EINVAL, evs_state_open(&st, f->path, 1, "{", 1, 0));
    assert_errmsg_has("initial_json");
    assert_evs(EVS_EINVAL, evs_state_open(&st, f->path, 1, NULL, 0, 0));
    assert_evs(EVS_EINVAL, evs_state_open(&st, f->path, 1, "{}", 2, 0x80));
    assert_errmsg_has("flags");
    assert_evs(EVS_EMISUSE, evs_state_open(NULL, f->path, 1, "{}", 2, 0));

    st = open_ok(f->path, 1, 0);
    save_ok(st, "{\"good\":1}", 7);
    assert_evs(EVS_EINVAL, evs_state_save(st, "{\"bad\":", 7, 8));
    assert_errmsg_has(f->path);
    assert_errmsg_has("not valid JSON");
    assert_evs(EVS_EINVAL, evs_state_save(st, "{}", 2, -1));
    assert_errmsg_has("negative");
    assert_evs(EVS_EINVAL, evs_state_save(st, NULL, 0, 9));
    assert_evs(EVS_EMISUSE, evs_state_save(NULL, "{}", 2, 9));
    evs_state_info info;
    evs_state_get(&info, st);
    assert_int_equal(info.pos, 7);
    assert_memory_equal(info.json, "{\"good\":1}", 10);
    evs_state_close(st);
    st = open_ok(f->path, 1, 0);
    evs_state_get(&info, st);
    assert_int_equal(info.pos, 7);
    evs_state_close(st);
    evs_state_close(NULL);
}

static void test_unwritable_places(void **state)
{
    fx *f = *state;
    char path[4300], tmp[4400];
    snprintf(path, sizeof path, "%s/no-such-dir/model.state", f->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    evs_state *st = open_ok(path, 1, 0);
    assert_evs(EVS_EIO, evs_state_save(st, "{}", 2, 1));
    assert_errmsg_has(path);
    assert_false(exists(tmp));
    evs_state_info info;
    evs_state_get(&info, st);
    assert_int_equal(info.pos, 0); /* the handle did not move either */
    evs_state_close(st);

    /* A directory where the file should be: a clear error, not a crash. */
    snprintf(path, sizeof path, "%s/adir", f->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    st = (evs_state *)1;
    assert_evs(EVS_EINVAL, evs_state_open(&st, path, 1, "{}", 2, 0));
    assert_errmsg_has("not a regular file");

    /* A stale PATH.tmp left by a crash mid-save is simply overwritten. */
    snprintf(tmp, sizeof tmp, "%s.tmp", f->path);
    write_file(tmp, "half a st", 9);
    st = open_ok(f->path, 1, 0);
    save_ok(st, "{\"after\":\"crash\"}", 11);
    evs_state_close(st);
    assert_false(exists(tmp));
    st = open_ok(f->path, 1, 0);
    evs_state_get(&info, st);
    assert_int_equal(info.pos, 11);
    evs_state_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_then_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_at_every_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_bit_flip_is_caught, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_change_and_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_places, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
