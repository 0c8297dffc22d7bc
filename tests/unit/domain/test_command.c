/*
 * test_command.c - evs_command: each refusal is its own code and appends nothing
 * (argument naming the field, precondition from a handler and from apply, missing
 * role), storage errors come through as the store's (read-only), misuse; conflicts are
 * retried up to the domain's budget and then reported; the caller's expected version is
 * checked without retries; several events and none; every event's metadata.
 */
#include "domain_testutil.h"

static int64_t stream_events(dom_fixture *f, const char *stream)
{
    evs_stream_info info;
    assert_evs_ok(evs_stream_get(&info, f->fx.s, stream));
    return info.event_count;
}

static void test_argument_names_the_field(void **state)
{
    dom_fixture *f = *state;
    evs_command_result res;
    assert_evs(EVS_EARGUMENT, dom_cmd(&res, NULL, f, "Add", "a1", "{\"n\":\"x\"}", NULL));
    assert_string_equal(res.field, "n");
    assert_errmsg_has("invalid argument 'n'");
    assert_errmsg_has("Add on counter-a1");
    assert_int_equal(stream_events(f, "counter-a1"), 0);
    assert_int_equal(f->rec.last_rc, EVS_EARGUMENT);
}

static void test_precondition_from_handler_and_apply(void **state)
{
    dom_fixture *f = *state;
    evs_command_result res;
    counter c;
    assert_evs_ok(dom_cmd(&res, &c, f, "Add", "p1", "{\"n\":5}", NULL));
    assert_int_equal(c.value, 5);
    assert_evs(EVS_EPRECONDITION, dom_cmd(&res, NULL, f, "Sub", "p1", "{\"n\":6}", NULL));
    assert_errmsg_has("the counter is 5, less than 6");
    assert_string_equal(res.field, "");
    /* The handler lets it through; apply refuses before anything is written. */
    assert_evs(EVS_EPRECONDITION, dom_cmd(&res, NULL, f, "SubUnchecked", "p1", "{}", NULL));
    assert_errmsg_has("below zero");
    assert_int_equal(stream_events(f, "counter-p1"), 1);
    assert_evs_ok(dom_cmd(&res, &c, f, "Sub", "p1", "{\"n\":5}", NULL));
    assert_int_equal(c.value, 0);
    assert_int_equal(res.version, 1);
}

static void test_roles(void **state)
{
    dom_fixture *f = *state;
    evs_command_result res;
    assert_evs(EVS_EFORBIDDEN, dom_cmd(&res, NULL, f, "AdminAdd", "r1", "{\"n\":1}", NULL));
    assert_errmsg_has("user-1");
    assert_int_equal(stream_events(f, "counter-r1"), 0);
    const char *roles[] = {"reader", "owner"};
    evs_actor owner = {"user-2", NULL, NULL, roles, 2};
    assert_evs_ok(evs_command(&res, NULL, f->d, &owner, "AdminAdd", "r1", "{\"n\":1}", 7, NULL));
    evs_actor reader = {"user-3", NULL, NULL, roles, 1};
    assert_evs(EVS_EFORBIDDEN,
               evs_command(&res, NULL, f->d, &reader, "AdminAdd", "r1", "{\"n\":1}", 7, NULL));
    /* Commands without roles take any actor. */
    assert_evs_ok(evs_command(&res, NULL, f->d, &reader, "Add", "r1", "{\"n\":1}", 7, NULL));
}

static void test_bad_calls(void **state)
{
    dom_fixture *f = *state;
    evs_command_result res;
    assert_evs(EVS_ENOTFOUND, dom_cmd(&res, NULL, f, "Multiply", "b1", "{}", NULL));
    assert_errmsg_has("Multiply");
    assert_evs(EVS_EINVAL, dom_cmd(&res, NULL, f, "Add", "", "{\"n\":1}", NULL));
    assert_evs(EVS_EINVAL, dom_cmd(&res, NULL, f, "Add", "b\n1", "{\"n\":1}", NULL));
    assert_evs(EVS_EINVAL, dom_cmd(&res, NULL, f, "Add", "b1", "{\"n\":", NULL));
    evs_actor nobody = {NULL, NULL, NULL, NULL, 0};
    assert_evs(EVS_EINVAL, evs_command(&res, NULL, f->d, &nobody, "Add", "b1", "{}", 2, NULL));
    evs_command_opts o = EVS_COMMAND_OPTS_INIT;
    o.expected_version = EVS_EXPECT_EXISTS;
    assert_evs(EVS_EINVAL, dom_cmd(&res, NULL, f, "Add", "b1", "{\"n\":1}", &o));
    assert_evs(EVS_EMISUSE, evs_command(&res, NULL, NULL, &dom_actor, "Add", "b1", "{}", 2, NULL));
    assert_int_equal(res.version, -1);
    /* A handler returning a positive value refuses: nothing written. */
    assert_evs(EVS_EHANDLER, dom_cmd(&res, NULL, f, "Positive", "b1", "{}", NULL));
    assert_errmsg_has("returned 7");
    assert_int_equal(stream_events(f, "counter-b1"), 0);
}

static void test_storage_error_is_the_stores(void **state)
{
    dom_fixture *f = *state;
    evs_command_result res;
    assert_evs_ok(dom_cmd(&res, NULL, f, "Add", "s1", "{\"n\":1}", NULL));
    evs_domain_close(f->d);
    f->d = NULL;
    tu_fx_close(&f->fx);
    evs_options o = tu_fast_options();
    o.flags |= EVS_OPEN_READONLY;
    tu_fx_open(&f->fx, &o);
    f->hooks.store = f->fx.s;
    dom_open(f, 1, COUNTER_SNAPSHOT_EVERY, 3);
    assert_evs(EVS_EREADONLY, dom_cmd(&res, NULL, f, "Add", "s1", "{\"n\":1}", NULL));
    assert_errmsg_has("Add on counter-s1");
    /* Reading still works on a read-only store. */
    counter c;
    evs_aggregate_info info;
    assert_evs_ok(evs_aggregate_load(&info, &c, f->d, "counter", "s1"));
    assert_int_equal(c.value, 1);
    assert_int_equal(info.version, 0);
}

static void test_retries_then_success(void **state)
{
    dom_fixture *f = *state;
    evs_command_result res;
    counter c;
    f->hooks.interfere_runs = 2;
    assert_evs_ok(dom_cmd(&res, &c, f, "Interfere", "t1", "{}", NULL));
    assert_int_equal(res.retries, 2);
    assert_int_equal(f->hooks.handler_runs, 3);
    /* Both writes behind its back, then its own: nothing lost. */
    assert_int_equal(c.value, 201);
    assert_int_equal(res.version, 2);
    assert_int_equal(f->rec.last_retries, 2);
}

static void test_retries_exhausted(void **state)
{
    dom_fixture *f = *state;
    evs_command_result res;
    f->hooks.interfere_runs = 100;
    assert_evs(EVS_ECONFLICT, dom_cmd(&res, NULL, f, "Interfere", "t2", "{}", NULL));
    assert_errmsg_has("gave up after 3 retries");
    assert_int_equal(res.retries, 3);
    assert_int_equal(f->hooks.handler_runs, 4);
    assert_int_equal(f->rec.last_rc, EVS_ECONFLICT);
    /* The budget is the domain's: none at all. */
    dom_open(f, 1, COUNTER_SNAPSHOT_EVERY, 0);
    f->hooks.handler_runs = 0;
    assert_evs(EVS_ECONFLICT, dom_cmd(&res, NULL, f, "Interfere", "t2", "{}", NULL));
    assert_int_equal(f->hooks.handler_runs, 1);
    assert_int_equal(res.retries, 0);
    /* Only the interfering appends are in the stream. */
    assert_int_equal(stream_events(f, "counter-t2"), 5);
}

static void test_callers_expected_version(void **state)
{
    dom_fixture *f = *state;
    evs_command_result res;
    evs_command_opts o = EVS_COMMAND_OPTS_INIT;
    o.expected_version = EVS_EXPECT_NO_STREAM;
    assert_evs_ok(dom_cmd(&res, NULL, f, "Add", "e1", "{\"n\":1}", &o));
    assert_int_equal(res.version, 0);
    /* Stale: refused at once, the handler never runs. */
    f->hooks.handler_runs = 0;
    assert_evs(EVS_ECONFLICT, dom_cmd(&res, NULL, f, "Add", "e1", "{\"n\":1}", &o));
    assert_errmsg_has("expected version -1 but the aggregate is at version 0");
    assert_int_equal(f->hooks.handler_runs, 0);
    /* Right when loaded, beaten by another writer before the append: no retry. */
    o.expected_version = 0;
    f->hooks.interfere_runs = 1;
    assert_evs(EVS_ECONFLICT, dom_cmd(&res, NULL, f, "Interfere", "e1", "{}", &o));
    assert_int_equal(res.retries, 0);
    assert_int_equal(f->hooks.handler_runs, 1);
    o.expected_version = 1;
    assert_evs_ok(dom_cmd(&res, NULL, f, "Add", "e1", "{\"n\":1}", &o));
    assert_int_equal(res.version, 2);
}

static void test_several_events_and_none(void **state)
{
    dom_fixture *f = *state;
    evs_command_result res;
    counter c;
    assert_evs_ok(dom_cmd(&res, &c, f, "AddTwice", "m1", "{}", NULL));
    assert_int_equal(res.event_count, 2);
    assert_int_equal(res.last_pos, res.first_pos + 1);
    assert_int_equal(res.version, 1);
    assert_int_equal(c.value, 3);
    int64_t head = evs_head(f->fx.s);
    assert_evs_ok(dom_cmd(&res, &c, f, "Nothing", "m1", "{}", NULL));
    assert_int_equal(res.event_count, 0);
    assert_int_equal(res.first_pos, 0);
    assert_int_equal(res.version, 1);
    assert_int_equal(c.value, 3);
    assert_int_equal(evs_head(f->fx.s), head);
}

/* The metadata member `key` of ev as a string. */
static void meta_string(char *buf, size_t cap, const evs_event *ev, const char *key)
{
    assert_non_null(ev->metadata);
    assert_int_equal(evs_json_get_string(buf, cap, ev->metadata, ev->metadata_len, key), 1);
}

static void test_metadata_on_every_event(void **state)
{
    dom_fixture *f = *state;
    evs_command_result r1, r2;
    assert_evs_ok(dom_cmd(&r1, NULL, f, "AddTwice", "md1", "{}", NULL));
    evs_command_opts o = EVS_COMMAND_OPTS_INIT;
    o.correlation_id = "order-77";
    o.causation_id = "evt-5";
    assert_evs_ok(dom_cmd(&r2, NULL, f, "Add", "md1", "{\"n\":4}", &o));
    evs_query q = EVS_QUERY_INIT;
    q.stream = "counter-md1";
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, f->fx.s, &q));
    evs_event ev;
    int n = 0;
    while (evs_cursor_next(&ev, c) > 0) {
        char buf[256];
        const char *actor;
        size_t actor_len;
        const evs_command_result *r = n < 2 ? &r1 : &r2;
        assert_int_equal(evs_json_get(&actor, &actor_len, ev.metadata, ev.metadata_len, "actor"),
                         1);
        assert_int_equal(evs_json_get_string(buf, sizeof buf, actor, actor_len, "id"), 1);
        assert_string_equal(buf, "user-1");
        assert_int_equal(evs_json_get_string(buf, sizeof buf, actor, actor_len, "name"), 1);
        assert_string_equal(buf, "Ada");
        assert_int_equal(evs_json_get_string(buf, sizeof buf, actor, actor_len, "tenant"), 1);
        assert_string_equal(buf, "tenant-a");
        meta_string(buf, sizeof buf, &ev, "command");
        assert_string_equal(buf, n < 2 ? "AddTwice" : "Add");
        meta_string(buf, sizeof buf, &ev, "command_id");
        assert_string_equal(buf, r->command_id);
        meta_string(buf, sizeof buf, &ev, "correlation_id");
        assert_string_equal(buf, n < 2 ? r1.command_id : "order-77");
        meta_string(buf, sizeof buf, &ev, "causation_id");
        assert_string_equal(buf, n < 2 ? r1.command_id : "evt-5");
        n++;
    }
    evs_cursor_close(c);
    assert_int_equal(n, 3);
    assert_string_not_equal(r1.command_id, r2.command_id);
}

static void test_domain_open_checks_types(void **state)
{
    dom_fixture *f = *state;
    evs_domain *d;
    evs_aggregate_type t = counter_type(&f->hooks, 1, 0);
    const evs_aggregate_type *two[] = {&t, &t};
    assert_evs(EVS_EINVAL, evs_domain_open(&d, f->fx.s, two, 2, NULL));
    assert_errmsg_has("two types have this name");
    assert_null(d);
    evs_aggregate_type bad = t;
    bad.name = "count-er";
    const evs_aggregate_type *one[] = {&bad};
    assert_evs(EVS_EINVAL, evs_domain_open(&d, f->fx.s, one, 1, NULL));
    bad = t;
    bad.apply = NULL;
    assert_evs(EVS_EINVAL, evs_domain_open(&d, f->fx.s, one, 1, NULL));
    assert_errmsg_has("apply is NULL");
    bad = t;
    bad.state_version = 0;
    assert_evs(EVS_EINVAL, evs_domain_open(&d, f->fx.s, one, 1, NULL));
    /* Two types sharing a command name. */
    evs_aggregate_type other = t;
    other.name = "counter2";
    const evs_aggregate_type *clash[] = {&t, &other};
    assert_evs(EVS_EINVAL, evs_domain_open(&d, f->fx.s, clash, 2, NULL));
    assert_errmsg_has("unique");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_argument_names_the_field, dom_setup, dom_teardown),
        cmocka_unit_test_setup_teardown(test_precondition_from_handler_and_apply, dom_setup,
                                        dom_teardown),
        cmocka_unit_test_setup_teardown(test_roles, dom_setup, dom_teardown),
        cmocka_unit_test_setup_teardown(test_bad_calls, dom_setup, dom_teardown),
        cmocka_unit_test_setup_teardown(test_storage_error_is_the_stores, dom_setup, dom_teardown),
        cmocka_unit_test_setup_teardown(test_retries_then_success, dom_setup, dom_teardown),
        cmocka_unit_test_setup_teardown(test_retries_exhausted, dom_setup, dom_teardown),
        cmocka_unit_test_setup_teardown(test_callers_expected_version, dom_setup, dom_teardown),
        cmocka_unit_test_setup_teardown(test_several_events_and_none, dom_setup, dom_teardown),
        cmocka_unit_test_setup_teardown(test_metadata_on_every_event, dom_setup, dom_teardown),
        cmocka_unit_test_setup_teardown(test_domain_open_checks_types, dom_setup, dom_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
