/*
 * test_pg_store.c - what is the PostgreSQL backend's own: locations and their schema
 * parameter, the schema's version, damage that evs_verify finds in the rows, and the
 * outbox (evs_pg_append_tx) inside an application's transactions. Its behaviour
 * otherwise is the conformance suite's (NAME_pg).
 */
#define _DEFAULT_SOURCE
#include "evstore_sql.h"
#include "testutil.h"

#include <libpq-fe.h>
#include <pthread.h>

typedef struct fx {
    char loc[1024];  /* postgresql://...?schema=NAME */
    char uri[1024];  /* ... without the schema */
    char schema[128];
    PGconn *db;      /* the application's connection */
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    tu_pg_tmp(f->loc, sizeof f->loc, "pgstore");
    const char *q = strstr(f->loc, "?schema=");
    snprintf(f->uri, sizeof f->uri, "%.*s", (int)(q - f->loc), f->loc);
    snprintf(f->schema, sizeof f->schema, "%s", q + 8);
    f->db = PQconnectdb(f->uri);
    if (PQstatus(f->db) != CONNECTION_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    PQfinish(f->db);
    tu_cleanup(f->loc);
    free(f);
    return 0;
}

/* Run SQL on the application's connection; it must succeed. */
static void sql(fx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sql(fx *f, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(f->db, text);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        print_error("%s: %s", text, PQerrorMessage(f->db));
    PQclear(r);
    assert_true(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
}

static void test_locations(void **state)
{
    fx *f = *state;
    evs_store *s = NULL;
    char loc[1200];
    /* The schema parameter selects the store; the others go to libpq. */
    snprintf(loc, sizeof loc, "%s?connect_timeout=10&schema=%s-a", f->uri, f->schema);
    assert_evs_ok(evs_open(&s, loc, NULL));
    tu_append1(s, "a-1", "A", "{}");
    assert_evs_ok(evs_close(s));
    snprintf(loc, sizeof loc, "%s?schema=%s-b&application_name=evs", f->uri, f->schema);
    assert_evs_ok(evs_open(&s, loc, NULL));
    assert_int_equal(evs_head(s), 0); /* another schema, another store */
    assert_evs_ok(evs_close(s));
    /* Percent escapes in the name. */
    snprintf(loc, sizeof loc, "%s?schema=%s%%2Da", f->uri, f->schema);
    assert_evs_ok(evs_open(&s, loc, NULL));
    assert_int_equal(evs_head(s), 1);
    assert_evs_ok(evs_close(s));
    /* Bad names and parameters, named. */
    snprintf(loc, sizeof loc, "%s?schema=a%%22b", f->uri);
    assert_evs(EVS_EINVAL, evs_open(&s, loc, NULL));
    assert_errmsg_has("has '\"' at byte 1");
    snprintf(loc, sizeof loc, "%s?schema=", f->uri);
    assert_evs(EVS_EINVAL, evs_open(&s, loc, NULL));
    snprintf(loc, sizeof loc, "%s?schema=a&schema=b", f->uri);
    assert_evs(EVS_EINVAL, evs_open(&s, loc, NULL));
    assert_errmsg_has("twice");
    snprintf(loc, sizeof loc, "%s?schema=%060d", f->uri, 0);
    assert_evs(EVS_EINVAL, evs_open(&s, loc, NULL));
    assert_errmsg_has("1 to 59 bytes");
    snprintf(loc, sizeof loc, "%s?schema=x&nosuchparam=1", f->uri);
    assert_evs(EVS_EINVAL, evs_open(&s, loc, NULL));
    assert_errmsg_has("not a PostgreSQL connection URI");
    /* No server there: an I/O error naming the store, without a password. */
    assert_evs(EVS_EIO, evs_open(&s, "postgresql://evs:secret@127.0.0.1:1/db?schema=x", NULL));
    assert_errmsg_has("postgresql://evs@127.0.0.1:1/db?schema=x");
    assert_null(strstr(evs_errmsg(), "secret"));
    assert_null(s);
    evs_repair_report rep;
    assert_evs(EVS_ENOTSUP, evs_repair(&rep, f->loc, NULL));
}

static void test_create_flags(void **state)
{
    fx *f = *state;
    evs_store *s = NULL;
    evs_options o = EVS_OPTIONS_INIT;
    o.flags = EVS_OPEN_NOCREATE;
    assert_evs(EVS_ENOTFOUND, evs_open(&s, f->loc, &o));
    assert_errmsg_has("holds no store");
    o.flags = EVS_OPEN_READONLY;
    assert_evs(EVS_ENOTFOUND, evs_open(&s, f->loc, &o));
    o.flags = EVS_OPEN_EXCLUSIVE_CREATE;
    assert_evs_ok(evs_open(&s, f->loc, &o));
    assert_evs_ok(evs_close(s));
    assert_evs(EVS_EEXIST, evs_open(&s, f->loc, &o));
    o.flags = EVS_OPEN_READONLY;
    assert_evs_ok(evs_open(&s, f->loc, &o));
    evs_event_in e = tu_event("T", "{}");
    assert_evs(EVS_EREADONLY, evs_append(NULL, s, "s-1", EVS_EXPECT_ANY, &e, 1));
    assert_evs_ok(evs_close(s));
}

static void test_schema_versions(void **state)
{
    fx *f = *state;
    evs_store *s = NULL;
    assert_evs_ok(evs_open(&s, f->loc, NULL));
    assert_evs_ok(evs_close(s));
    sql(f, "UPDATE \"%s\".evs_meta SET value = '2' WHERE key = 'schema_version'", f->schema);
    assert_evs(EVS_EFORMAT, evs_open(&s, f->loc, NULL));
    assert_errmsg_has("made by a newer evstore");
    sql(f, "UPDATE \"%s\".evs_meta SET value = '0' WHERE key = 'schema_version'", f->schema);
    assert_evs(EVS_EFORMAT, evs_open(&s, f->loc, NULL));
    assert_errmsg_has("not one any evstore wrote");
    sql(f, "DELETE FROM \"%s\".evs_meta", f->schema);
    assert_evs(EVS_EFORMAT, evs_open(&s, f->loc, NULL));
    assert_errmsg_has("no schema_version");
    sql(f, "DROP TABLE \"%s\".evs_meta", f->schema);
    assert_evs(EVS_EFORMAT, evs_open(&s, f->loc, NULL));
    assert_errmsg_has("not an evstore schema");
}

static int count_problems(void *ctx, const evs_problem *p, int64_t done, int64_t total)
{
    (void)done;
    (void)total;
    if (p)
        ++*(int *)ctx;
    return 0;
}

static void test_verify_finds_damage(void **state)
{
    fx *f = *state;
    evs_store *s = NULL;
    assert_evs_ok(evs_open(&s, f->loc, NULL));
    for (int i = 0; i < 5; i++)
        tu_append1(s, "v-1", "V", "{}");
    assert_evs_ok(evs_verify(NULL, s, NULL, NULL));
    sql(f, "DELETE FROM \"%s\".evs_events WHERE pos = 3", f->schema);
    sql(f, "UPDATE \"%s\".evs_events SET data = 'not json' WHERE pos = 4", f->schema);
    int problems = 0;
    evs_verify_report rep;
    assert_evs(EVS_ECORRUPT, evs_verify(&rep, s, count_problems, &problems));
    assert_errmsg_has("problems found");
    /* the gap, version 3 after version 1, and the data that is not JSON */
    assert_true(problems >= 3);
    problems = 0;
    assert_evs(EVS_ECORRUPT, evs_verify_quick(&rep, s, count_problems, &problems));
    assert_true(problems >= 2);
    assert_evs_ok(evs_close(s));
}

/* ---- the outbox -------------------------------------------------------------------- */

static void test_outbox_commit_rollback(void **state)
{
    fx *f = *state;
    evs_event_in e = tu_event("Paid", "{\"cents\":5}");
    evs_append_result r;
    /* No transaction open: refused, nothing written. */
    assert_evs(EVS_EMISUSE, evs_pg_append_tx(&r, f->db, f->schema, "acct-1", EVS_EXPECT_ANY, &e, 1));
    assert_errmsg_has("BEGIN first");
    assert_evs(EVS_EMISUSE, evs_pg_append_tx(&r, NULL, f->schema, "acct-1", EVS_EXPECT_ANY, &e, 1));
    /* Rolled back: no event, no hole. */
    sql(f, "BEGIN");
    assert_evs_ok(evs_pg_append_tx(&r, f->db, f->schema, "acct-1", EVS_EXPECT_ANY, &e, 1));
    assert_int_equal(r.first_pos, 1);
    sql(f, "ROLLBACK");
    sql(f, "BEGIN");
    assert_evs_ok(evs_pg_append_tx(&r, f->db, f->schema, "acct-1", EVS_EXPECT_NO_STREAM, &e, 1));
    assert_int_equal(r.first_pos, 1);
    /* A conflict is reported before the commit; the transaction goes on. */
    assert_evs(EVS_ECONFLICT,
               evs_pg_append_tx(&r, f->db, f->schema, "acct-1", EVS_EXPECT_NO_STREAM, &e, 1));
    assert_evs_ok(evs_pg_append_tx(&r, f->db, f->schema, "acct-1", 0, &e, 1));
    assert_int_equal(r.first_pos, 2);
    sql(f, "COMMIT");
    evs_store *s;
    assert_evs_ok(evs_open(&s, f->loc, NULL));
    assert_int_equal(evs_head(s), 2);
    assert_int_equal(tu_count(s, NULL), 2);
    /* Idempotent ids across transactions. */
    unsigned char id[16] = {1, 2, 3};
    e.id = id;
    sql(f, "BEGIN");
    assert_evs_ok(evs_pg_append_tx(&r, f->db, f->schema, "acct-2", EVS_EXPECT_ANY, &e, 1));
    sql(f, "COMMIT");
    sql(f, "BEGIN");
    assert_evs_ok(evs_pg_append_tx(&r, f->db, f->schema, "acct-2", EVS_EXPECT_ANY, &e, 1));
    assert_int_equal(r.duplicate, 1);
    assert_int_equal(r.first_pos, 3);
    sql(f, "COMMIT");
    assert_int_equal(evs_head(s), 3);
    assert_evs_ok(evs_verify(NULL, s, NULL, NULL));
    assert_evs_ok(evs_close(s));
}

typedef struct blocked {
    const char *loc;
    int64_t pos;
    int64_t done_ms;
} blocked;

static void *append_through_handle(void *arg)
{
    blocked *b = arg;
    evs_store *s;
    if (evs_open(&s, b->loc, NULL) == 0) {
        evs_event_in e = tu_event("Other", "{}");
        evs_append_result r;
        if (evs_append(&r, s, "other-1", EVS_EXPECT_ANY, &e, 1) == 0)
            b->pos = r.first_pos;
        b->done_ms = tu_mono_ms();
        evs_close(s);
    }
    return NULL;
}

/* An open outbox transaction holds the head: another append waits for its commit and
 * takes the next position, so positions follow commit order. */
static void test_outbox_orders_commits(void **state)
{
    fx *f = *state;
    evs_store *s;
    assert_evs_ok(evs_open(&s, f->loc, NULL));
    evs_subscription *sub;
    assert_evs_ok(evs_subscribe(&sub, s, NULL, EVS_FROM_START));
    sql(f, "BEGIN");
    evs_event_in e = tu_event("Paid", "{}");
    evs_append_result r;
    assert_evs_ok(evs_pg_append_tx(&r, f->db, f->schema, "acct-1", EVS_EXPECT_ANY, &e, 1));
    assert_int_equal(r.first_pos, 1);
    blocked b = {f->loc, 0, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, append_through_handle, &b), 0);
    tu_sleep_ms(300);
    assert_int_equal(b.pos, 0); /* still waiting */
    evs_event ev;
    assert_evs(0, evs_subscription_next(&ev, sub, 0)); /* nothing committed yet */
    int64_t commit_ms = tu_mono_ms();
    sql(f, "COMMIT");
    pthread_join(t, NULL);
    assert_int_equal(b.pos, 2);
    assert_true(b.done_ms >= commit_ms);
    assert_int_equal(tu_next_pos(sub), 1);
    assert_int_equal(tu_next_pos(sub), 2);
    evs_subscription_close(sub);
    assert_evs_ok(evs_close(s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_locations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_finds_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_commit_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_orders_commits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
