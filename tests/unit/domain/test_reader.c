/*
 * test_reader.c - event handler tables over durable consumers: each type to its
 * handler, other types passed over, progress kept under the reader's name across
 * closes, a refusal stops before the acknowledgement (the event comes again), the
 * tracer sees every handled event; and the JSON member getters handlers use.
 */
#include "domain_testutil.h"

typedef struct projection {
    int64_t total;
    int added, subtracted;
    int refuse_at; /* refuse the Added event with this value of `added` (0: never) */
} projection;

static int on_added(void *user, const evs_event *ev)
{
    projection *p = user;
    int64_t n;
    if (p->refuse_at && p->added + 1 == p->refuse_at)
        return 42;
    assert_int_equal(evs_json_get_int64(&n, ev->data, ev->data_len, "n"), 1);
    p->total += n;
    p->added++;
    return 0;
}

static int on_subtracted(void *user, const evs_event *ev)
{
    projection *p = user;
    int64_t n;
    assert_int_equal(evs_json_get_int64(&n, ev->data, ev->data_len, "n"), 1);
    p->total -= n;
    p->subtracted++;
    return 0;
}

static const evs_event_handler table[] = {{"Added", on_added}, {"Subtracted", on_subtracted}};

static void test_poll_handles_by_type(void **state)
{
    dom_fixture *f = *state;
    evs_command_result res;
    assert_evs_ok(dom_cmd(&res, NULL, f, "Add", "a", "{\"n\":5}", NULL));
    assert_evs_ok(dom_cmd(&res, NULL, f, "AddTwice", "b", "{}", NULL));
    assert_evs_ok(dom_cmd(&res, NULL, f, "Sub", "a", "{\"n\":2}", NULL));
    tu_append1(f->fx.s, "other-1", "Unrelated", "{}");
    projection p = {0};
    evs_reader *r;
    assert_evs_ok(evs_reader_open(&r, f->fx.s, "totals", table, 2, &p, &f->tracer));
    int64_t handled;
    assert_evs_ok(evs_reader_poll(&handled, r, 0));
    assert_int_equal(handled, 4);
    assert_int_equal(p.total, 6);
    assert_int_equal(p.added, 3);
    assert_int_equal(p.subtracted, 1);
    assert_int_equal(f->rec.events_handled, 4);
    assert_evs_ok(evs_reader_poll(&handled, r, 0));
    assert_int_equal(handled, 0);
    assert_evs_ok(evs_reader_close(r));
    /* The name keeps the progress: only the new event comes. */
    assert_evs_ok(dom_cmd(&res, NULL, f, "Add", "a", "{\"n\":10}", NULL));
    assert_evs_ok(evs_reader_open(&r, f->fx.s, "totals", table, 2, &p, NULL));
    assert_evs_ok(evs_reader_poll(&handled, r, 0));
    assert_int_equal(handled, 1);
    assert_int_equal(p.total, 16);
    assert_int_equal(evs_reader_checkpoint(r), res.last_pos);
    /* One name, one open handle. */
    evs_reader *r2;
    assert_evs(EVS_EBUSY, evs_reader_open(&r2, f->fx.s, "totals", table, 2, &p, NULL));
    assert_evs_ok(evs_reader_close(r));
}

static void test_refusal_is_delivered_again(void **state)
{
    dom_fixture *f = *state;
    evs_command_result res;
    for (int i = 0; i < 4; i++)
        assert_evs_ok(dom_cmd(&res, NULL, f, "Add", "a", "{\"n\":1}", NULL));
    projection p = {.refuse_at = 3};
    evs_reader *r;
    assert_evs_ok(evs_reader_open(&r, f->fx.s, "flaky", table, 2, &p, NULL));
    int64_t handled;
    assert_evs(EVS_EHANDLER, evs_reader_poll(&handled, r, 0));
    assert_errmsg_has("returned 42");
    assert_int_equal(handled, 2);
    assert_evs_ok(evs_reader_close(r));
    p.refuse_at = 0;
    assert_evs_ok(evs_reader_open(&r, f->fx.s, "flaky", table, 2, &p, NULL));
    assert_evs_ok(evs_reader_poll(&handled, r, 1));
    assert_int_equal(handled, 1); /* max_events */
    assert_evs_ok(evs_reader_poll(&handled, r, 0));
    assert_int_equal(handled, 1);
    assert_int_equal(p.total, 4);
    assert_evs_ok(evs_reader_close(r));
}

static void test_reader_bad_tables(void **state)
{
    dom_fixture *f = *state;
    evs_reader *r;
    const evs_event_handler twice[] = {{"Added", on_added}, {"Added", on_subtracted}};
    const evs_event_handler no_fn[] = {{"Added", NULL}};
    assert_evs(EVS_EINVAL, evs_reader_open(&r, f->fx.s, "x", table, 0, NULL, NULL));
    assert_evs(EVS_EINVAL, evs_reader_open(&r, f->fx.s, "x", twice, 2, NULL, NULL));
    assert_evs(EVS_EINVAL, evs_reader_open(&r, f->fx.s, "x", no_fn, 1, NULL, NULL));
    assert_evs(EVS_EINVAL, evs_reader_open(&r, f->fx.s, "bad name!", table, 2, NULL, NULL));
    assert_null(r);
}

static void test_json_getters(void **state)
{
    (void)state;
    const char *j = "{\"s\":\"a\\\"b\",\"n\":12,\"x\":1.5,\"big\":1e400,\"o\":{\"k\":1},"
                    "\"k\\u0065y\":\"esc\"}";
    size_t n = strlen(j);
    char buf[16];
    int64_t i;
    double d;
    const char *v;
    size_t vl;
    assert_int_equal(evs_json_get_string(buf, sizeof buf, j, n, "s"), 1);
    assert_string_equal(buf, "a\"b");
    assert_int_equal(evs_json_get_string(buf, sizeof buf, j, n, "key"), 1);
    assert_string_equal(buf, "esc");
    assert_int_equal(evs_json_get_string(buf, 3, j, n, "s"), EVS_EINVAL);
    assert_int_equal(evs_json_get_string(buf, sizeof buf, j, n, "n"), EVS_EINVAL);
    assert_int_equal(evs_json_get_string(buf, sizeof buf, j, n, "missing"), 0);
    assert_int_equal(evs_json_get_int64(&i, j, n, "n"), 1);
    assert_int_equal(i, 12);
    assert_int_equal(evs_json_get_int64(&i, j, n, "x"), EVS_EINVAL);
    assert_int_equal(evs_json_get_number(&d, j, n, "x"), 1);
    assert_true(d == 1.5);
    assert_int_equal(evs_json_get_number(&d, j, n, "big"), EVS_EINVAL);
    assert_int_equal(evs_json_get(&v, &vl, j, n, "o"), 1);
    assert_int_equal(vl, 7);
    assert_int_equal(evs_json_get(&v, &vl, "[1]", 3, "o"), EVS_EINVAL);
    assert_int_equal(evs_json_get(&v, &vl, "{", 1, "o"), EVS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_poll_handles_by_type, dom_setup, dom_teardown),
        cmocka_unit_test_setup_teardown(test_refusal_is_delivered_again, dom_setup, dom_teardown),
        cmocka_unit_test_setup_teardown(test_reader_bad_tables, dom_setup, dom_teardown),
        cmocka_unit_test(test_json_getters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
