/*
 * test_consumer_filter.c - a durable consumer keeps its filter with its checkpoint.
 *
 * Covers: a consumer is created with the filter of its first open and listed with it;
 * reopening with the same filter (types in another order, repeated) resumes; reopening
 * with a different one is EVS_EINVAL showing both filters and the checkpoint, changes
 * nothing, and would otherwise have skipped events; EVS_CONSUMER_REFILTER takes the new
 * filter and keeps the checkpoint (earlier events are not redelivered); unknown flags;
 * a consumer kept without a filter (a file from an evstore that kept none: 576 bytes)
 * takes the filter of its next open, and reset keeps a filter; a damaged filter is
 * EVS_ECORRUPT naming the file, listed as such, and refilter or reset repairs it (also
 * a well-formed one split over two lines, which the listing could not print); read
 * models: a replay from 0 takes any filter, a resume refuses another.
 */
#include "testutil.h"
#include "util.h"

#include <fcntl.h>
#include <sys/stat.h>

/* The filter the listing shows for `name` ("(none)" when it keeps none). */
static const char *listed_filter(evs_store *s, const char *name, char *buf, size_t len)
{
    evs_consumer_info info;
    assert_true(tu_consumer_stored(s, name, NULL) >= -1);
    evs_consumer_iter *it;
    assert_evs_ok(evs_consumers_open(&it, s));
    snprintf(buf, len, "(missing)");
    while (evs_consumers_next(&info, it) > 0)
        if (strcmp(info.name, name) == 0)
            snprintf(buf, len, "%s", info.filter ? info.filter : "(none)");
    evs_consumers_close(it);
    return buf;
}

static void ckpt_path(const tu_fixture *f, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/consumers/%s.ckpt", f->dir, name);
}

static void test_kept_and_refused(void **state)
{
    tu_fixture *f = *state;
    char buf[512];
    evs_query even = EVS_QUERY_INIT;
    even.category = "even";
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, f->s, "billing", &even));
    assert_int_equal(tu_consumer_next_pos(c), 2);
    assert_int_equal(tu_consumer_next_pos(c), 4);
    assert_evs_ok(evs_consumer_ack(c, 4));
    assert_evs_ok(evs_consumer_close(c));
    assert_string_equal(listed_filter(f->s, "billing", buf, sizeof buf), "{\"category\":\"even\"}");

    /* Every event instead: 1 and 3 were never delivered and would be skipped. */
    assert_evs(EVS_EINVAL, evs_consumer_open(&c, f->s, "billing", NULL));
    assert_null(c);
    assert_errmsg_has("consumer 'billing' keeps the filter {\"category\":\"even\"}");
    assert_errmsg_has("asks for {}");
    assert_errmsg_has("checkpoint 4");
    assert_errmsg_has("refilter");
    assert_int_equal(tu_consumer_stored(f->s, "billing", NULL), 4);
    assert_string_equal(listed_filter(f->s, "billing", buf, sizeof buf), "{\"category\":\"even\"}");

    /* The same filter resumes. */
    assert_evs_ok(evs_consumer_open(&c, f->s, "billing", &even));
    assert_int_equal(tu_consumer_next_pos(c), 6);
    assert_evs_ok(evs_consumer_close(c));

    /* Refilter: the new filter from the same checkpoint; 1 and 3 stay undelivered. */
    assert_evs_ok(evs_consumer_open_v2(&c, f->s, "billing", NULL, EVS_CONSUMER_REFILTER));
    assert_int_equal(tu_consumer_next_pos(c), 5);
    assert_evs_ok(evs_consumer_close(c));
    assert_string_equal(listed_filter(f->s, "billing", buf, sizeof buf), "{}");
    assert_evs_ok(evs_consumer_open(&c, f->s, "billing", NULL));
    assert_evs_ok(evs_consumer_close(c));
    assert_evs(EVS_EINVAL, evs_consumer_open(&c, f->s, "billing", &even));

    assert_evs(EVS_EINVAL, evs_consumer_open_v2(&c, f->s, "billing", NULL, 12));
    assert_errmsg_has("unknown flags 0xc");

    /* EVS_CONSUMER_ADOPT_NEXT: created without a filter; the next open's is kept. */
    assert_evs_ok(evs_consumer_open_v2(&c, f->s, "imported", NULL, EVS_CONSUMER_ADOPT_NEXT));
    assert_evs_ok(evs_consumer_close(c));
    assert_string_equal(listed_filter(f->s, "imported", buf, sizeof buf), "(none)");
    assert_evs_ok(evs_consumer_open(&c, f->s, "imported", &even));
    assert_evs_ok(evs_consumer_close(c));
    assert_string_equal(listed_filter(f->s, "imported", buf, sizeof buf),
                        "{\"category\":\"even\"}");
    assert_evs(EVS_EINVAL, evs_consumer_open(&c, f->s, "imported", NULL));
    /* A consumer that keeps a filter is not made to forget it by the flag. */
    assert_evs(EVS_EINVAL,
               evs_consumer_open_v2(&c, f->s, "imported", NULL, EVS_CONSUMER_ADOPT_NEXT));
}

static void test_same_selection(void **state)
{
    tu_fixture *f = *state;
    char buf[512];
    const char *ab[] = {"Odd", "Even"};
    const char *ba[] = {"Even", "Odd", "Even"};
    evs_query q = EVS_QUERY_INIT;
    q.types = ab;
    q.type_count = 2;
    q.stream = "odd-1";
    q.from_version = 2;
    q.since_ns = 1000000000;
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, f->s, "t", &q));
    assert_evs_ok(evs_consumer_close(c));
    assert_string_equal(listed_filter(f->s, "t", buf, sizeof buf),
                        "{\"stream\":\"odd-1\",\"from_version\":2,\"types\":[\"Even\",\"Odd\"],"
                        "\"since\":\"1970-01-01T00:00:01.000000000Z\"}");
    q.types = ba;
    q.type_count = 3;
    assert_evs_ok(evs_consumer_open(&c, f->s, "t", &q));
    assert_evs_ok(evs_consumer_close(c));
    q.from_version = 3;
    assert_evs(EVS_EINVAL, evs_consumer_open(&c, f->s, "t", &q));
    /* A filter's strings are kept as JSON strings, escapes and all. */
    evs_query odd = EVS_QUERY_INIT;
    odd.prefix = "o\"d\\d";
    assert_evs_ok(evs_consumer_open(&c, f->s, "esc", &odd));
    assert_evs_ok(evs_consumer_close(c));
    assert_string_equal(listed_filter(f->s, "esc", buf, sizeof buf),
                        "{\"prefix\":\"o\\\"d\\\\d\"}");
    assert_evs_ok(evs_consumer_open(&c, f->s, "esc", &odd));
    assert_evs_ok(evs_consumer_close(c));
}

/* A checkpoint file as an evstore that kept no filters wrote it: the 576 bytes of the
 * two slots. */
static void test_old_consumer_adopts(void **state)
{
    if (!tu_backend_is("file"))
        tu_not_supported("it cuts a checkpoint file to the layout of an evstore that kept no filters");
    tu_fixture *f = *state;
    char buf[512], path[4200];
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, f->s, "old", NULL));
    assert_int_equal(tu_consumer_next_pos(c), 1);
    assert_evs_ok(evs_consumer_ack(c, 1));
    assert_evs_ok(evs_consumer_close(c));
    ckpt_path(f, "old", path, sizeof path);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 576);
    assert_int_equal(truncate(path, 576), 0);
    assert_string_equal(listed_filter(f->s, "old", buf, sizeof buf), "(none)");
    assert_int_equal(tu_consumer_stored(f->s, "old", NULL), 1);

    /* reset keeps "none" (and a kept filter: below) */
    assert_evs_ok(evs_consumer_reset(f->s, "old", 2));
    assert_string_equal(listed_filter(f->s, "old", buf, sizeof buf), "(none)");

    evs_query odd = EVS_QUERY_INIT;
    odd.category = "odd";
    assert_evs_ok(evs_consumer_open(&c, f->s, "old", &odd));
    assert_int_equal(tu_consumer_next_pos(c), 3);
    assert_evs_ok(evs_consumer_close(c));
    assert_string_equal(listed_filter(f->s, "old", buf, sizeof buf), "{\"category\":\"odd\"}");
    assert_int_equal(tu_consumer_stored(f->s, "old", NULL), 2);
    assert_evs(EVS_EINVAL, evs_consumer_open(&c, f->s, "old", NULL));

    assert_evs_ok(evs_consumer_reset(f->s, "old", 0));
    assert_string_equal(listed_filter(f->s, "old", buf, sizeof buf), "{\"category\":\"odd\"}");
}

static void flip_byte(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char b;
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x20;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

static void test_damaged_filter(void **state)
{
    if (!tu_backend_is("file"))
        tu_not_supported("it damages the filter bytes of the file backend's checkpoint file");
    tu_fixture *f = *state;
    char buf[512], path[4200];
    evs_query even = EVS_QUERY_INIT;
    even.category = "even";
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, f->s, "dmg", &even));
    assert_evs_ok(evs_consumer_ack(c, 6));
    assert_evs_ok(evs_consumer_close(c));
    ckpt_path(f, "dmg", path, sizeof path);
    flip_byte(path, 576 + 16 + 3); /* inside the text */
    assert_evs(EVS_ECORRUPT, evs_consumer_open(&c, f->s, "dmg", &even));
    assert_errmsg_has("consumers/dmg.ckpt");
    assert_errmsg_has("filter");
    assert_errmsg_has("checksum");
    evs_consumer_info info;
    assert_int_equal(tu_consumer_stored(f->s, "dmg", &info), -1);
    assert_int_equal(info.status, EVS_ECORRUPT);
    /* refilter replaces it, keeping the checkpoint */
    assert_evs_ok(evs_consumer_open_v2(&c, f->s, "dmg", &even, EVS_CONSUMER_REFILTER));
    assert_int_equal(tu_consumer_next_pos(c), 8);
    assert_evs_ok(evs_consumer_close(c));
    assert_string_equal(listed_filter(f->s, "dmg", buf, sizeof buf), "{\"category\":\"even\"}");
    /* bytes after the filter, and a file cut inside it, are damage too; reset drops
     * the damaged filter and keeps a checkpoint */
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
    assert_evs(EVS_ECORRUPT, evs_consumer_open(&c, f->s, "dmg", &even));
    assert_errmsg_has("bytes follow it");
    assert_int_equal(truncate(path, 576 + 16 + 4), 0);
    assert_evs(EVS_ECORRUPT, evs_consumer_open(&c, f->s, "dmg", &even));
    assert_errmsg_has("the file ends inside it");
    assert_evs_ok(evs_consumer_reset(f->s, "dmg", 9));
    assert_string_equal(listed_filter(f->s, "dmg", buf, sizeof buf), "(none)");
    assert_evs_ok(evs_consumer_open(&c, f->s, "dmg", &even));
    assert_int_equal(tu_consumer_next_pos(c), 10);
    assert_evs_ok(evs_consumer_close(c));
    assert_string_equal(listed_filter(f->s, "dmg", buf, sizeof buf), "{\"category\":\"even\"}");
}

/* A filter section holding `text`, with a correct checksum, after the slots of `path`. */
static void write_section(const char *path, const char *text)
{
    unsigned char hdr[16];
    size_t len = strlen(text);
    memcpy(hdr, "EVSFILT1", 8);
    evs__put_u32(hdr + 8, (uint32_t)len);
    evs__put_u32(hdr + 12, evs__crc32c(evs__crc32c(0, hdr, 12), text, len));
    assert_int_equal(truncate(path, 576), 0);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, hdr, sizeof hdr), (ssize_t)sizeof hdr);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static void test_crafted_filter(void **state)
{
    if (!tu_backend_is("file"))
        tu_not_supported("it writes a filter section into the file backend's checkpoint file");
    tu_fixture *f = *state;
    char buf[512], path[4200];
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, f->s, "crafted", NULL));
    assert_evs_ok(evs_consumer_close(c));
    ckpt_path(f, "crafted", path, sizeof path);
    write_section(path, "{\"prefix\":\"o\"}");
    assert_string_equal(listed_filter(f->s, "crafted", buf, sizeof buf), "{\"prefix\":\"o\"}");
    write_section(path, "{\n\"prefix\":\"o\"}");
    assert_evs(EVS_ECORRUPT, evs_consumer_open(&c, f->s, "crafted", NULL));
    assert_errmsg_has("not one line");
    evs_consumer_info info;
    assert_int_equal(tu_consumer_stored(f->s, "crafted", &info), -1);
    assert_int_equal(info.status, EVS_ECORRUPT);
    write_section(path, "{\"prefix\":");
    assert_evs(EVS_ECORRUPT, evs_consumer_open(&c, f->s, "crafted", NULL));
    assert_errmsg_has("not JSON");
}

static void test_readmodel_filter(void **state)
{
    tu_fixture *f = *state;
    char buf[512], spath[4200];
    tu_beside(spath, sizeof spath, f->dir, ".rm.state");
    evs_query even = EVS_QUERY_INIT;
    even.category = "even";
    evs_state *st;
    evs_readmodel *rm;
    assert_evs_ok(evs_state_open(&st, spath, 1, "{}", 2, 0));
    assert_evs_ok(evs_readmodel_open(&rm, f->s, "model", &even, st));
    evs_event ev;
    assert_evs(1, evs_readmodel_next(&ev, rm, 2000));
    assert_int_equal(ev.pos, 2);
    assert_evs_ok(evs_readmodel_save(rm, "{\"n\":1}", 7));
    evs_readmodel_close(rm);
    assert_string_equal(listed_filter(f->s, "model", buf, sizeof buf), "{\"category\":\"even\"}");
    /* resuming its state at 2 with another filter would skip event 1 */
    assert_evs_ok(evs_state_open(&st, spath, 1, "{}", 2, 0));
    assert_evs(EVS_EINVAL, evs_readmodel_open(&rm, f->s, "model", NULL, st));
    assert_errmsg_has("keeps the filter");
    /* a replay from scratch (a new model version) takes any filter */
    assert_evs_ok(evs_state_open(&st, spath, 2, "{}", 2, 0));
    assert_evs_ok(evs_readmodel_open(&rm, f->s, "model", NULL, st));
    assert_evs(1, evs_readmodel_next(&ev, rm, 2000));
    assert_int_equal(ev.pos, 1);
    evs_readmodel_close(rm);
    assert_string_equal(listed_filter(f->s, "model", buf, sizeof buf), "{}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kept_and_refused, tu_setup_odd_even, tu_teardown),
        cmocka_unit_test_setup_teardown(test_same_selection, tu_setup_odd_even, tu_teardown),
        cmocka_unit_test_setup_teardown(test_old_consumer_adopts, tu_setup_odd_even, tu_teardown),
        cmocka_unit_test_setup_teardown(test_damaged_filter, tu_setup_odd_even, tu_teardown),
        cmocka_unit_test_setup_teardown(test_crafted_filter, tu_setup_odd_even, tu_teardown),
        cmocka_unit_test_setup_teardown(test_readmodel_filter, tu_setup_odd_even, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
