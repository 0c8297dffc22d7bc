/*
 * test_readmodel.c - read models in pull form: a durable consumer whose progress is its
 * state file.
 *
 * Covers: a new read model writes its initial state at open and starts at position 1;
 * a save records the position of the last event handed out and acknowledges it (the
 * consumer's checkpoint follows); reopening resumes after the state's position, not
 * after the checkpoint (also when an older state file is put back: its later events
 * are delivered again, and the checkpoint moves back); a filtered read model saved
 * while idle records the positions it passed over; replay (EVS_STATE_REPLAY and a new
 * model version) starts from position 1 and writes the fresh state at once, so an
 * interrupted replay starts over; a state past the store's head is EVS_ECORRUPT; a
 * second open is EVS_EBUSY and leaves the file alone; a damaged checkpoint does not
 * matter; bad arguments; a failed save changes neither the file nor the checkpoint.
 */
#include "testutil.h"

#include <inttypes.h>

#define INITIAL "{\"n\":0}"

static char state_path[4200];

static int setup(void **state)
{
    if (tu_setup_open(state) < 0)
        return -1;
    tu_fixture *f = *state;
    /* The state file lives next to the store, as an application would keep it. */
    tu_beside(state_path, sizeof state_path, f->dir, ".state");
    for (int i = 1; i <= 10; i++)
        tu_append1(f->s, i % 2 ? "odd-1" : "even-1", "T", "{}");
    return 0;
}

static evs_readmodel *rm_open(evs_store *s, const char *name, uint32_t model, unsigned flags,
                              const evs_query *filter)
{
    evs_state *st;
    assert_evs_ok(evs_state_open(&st, state_path, model, INITIAL, strlen(INITIAL), flags));
    evs_readmodel *rm;
    assert_evs_ok(evs_readmodel_open(&rm, s, name, filter, st));
    return rm;
}

static evs_state_info rm_info(const evs_readmodel *rm)
{
    evs_state_info info;
    evs_state_get(&info, evs_readmodel_state(rm));
    return info;
}

static int64_t rnext(evs_readmodel *rm)
{
    evs_event ev;
    assert_evs(1, evs_readmodel_next(&ev, rm, 2000));
    return ev.pos;
}

/* The state in the file, read by a separate handle. */
static int64_t file_pos(uint32_t model, char *json, size_t cap)
{
    evs_state *st;
    assert_evs_ok(evs_state_open(&st, state_path, model, "null", 4, 0));
    evs_state_info info;
    evs_state_get(&info, st);
    assert_int_equal(info.origin, EVS_STATE_LOADED);
    if (json) {
        assert_true(info.json_len < cap);
        memcpy(json, info.json, info.json_len);
        json[info.json_len] = '\0';
    }
    evs_state_close(st);
    return info.pos;
}

static void test_new_save_resume(void **state)
{
    tu_fixture *f = *state;
    evs_readmodel *rm = rm_open(f->s, "counter", 1, 0, NULL);
    evs_state_info info = rm_info(rm);
    assert_int_equal(info.origin, EVS_STATE_NEW);
    assert_int_equal(file_pos(1, NULL, 0), 0); /* the initial state is on disk at once */
    for (int i = 1; i <= 4; i++)
        assert_int_equal(rnext(rm), i);
    assert_evs_ok(evs_readmodel_save(rm, "{\"n\":4}", 7));
    assert_int_equal(rm_info(rm).pos, 4);
    assert_int_equal(rnext(rm), 5); /* handed out, applied in memory, not saved */
    evs_readmodel_close(rm);
    char json[64];
    assert_int_equal(file_pos(1, json, sizeof json), 4);
    assert_string_equal(json, "{\"n\":4}");
    assert_int_equal(tu_consumer_stored(f->s, "counter", NULL), 4);

    rm = rm_open(f->s, "counter", 1, 0, NULL);
    info = rm_info(rm);
    assert_int_equal(info.origin, EVS_STATE_LOADED);
    assert_memory_equal(info.json, "{\"n\":4}", 7);
    assert_int_equal(rnext(rm), 5); /* 5 is not in the saved state: again */
    evs_readmodel_close(rm);
}

static void test_state_not_checkpoint_decides(void **state)
{
    tu_fixture *f = *state;
    evs_readmodel *rm = rm_open(f->s, "counter", 1, 0, NULL);
    for (int i = 1; i <= 3; i++)
        rnext(rm);
    assert_evs_ok(evs_readmodel_save(rm, "{\"n\":3}", 7));
    evs_readmodel_close(rm);
    char backup[4300];
    snprintf(backup, sizeof backup, "%s.bak", state_path);
    assert_int_equal(rename(state_path, backup), 0); /* keep the state at 3 aside */

    rm = rm_open(f->s, "counter", 1, 0, NULL); /* no file: starts over, fine */
    assert_int_equal(rm_info(rm).origin, EVS_STATE_NEW);
    for (int i = 1; i <= 8; i++)
        assert_int_equal(rnext(rm), i);
    assert_evs_ok(evs_readmodel_save(rm, "{\"n\":8}", 7));
    evs_readmodel_close(rm);
    assert_int_equal(tu_consumer_stored(f->s, "counter", NULL), 8);

    /* The backup at 3 comes back: resume at 4, though the checkpoint said 8. */
    assert_int_equal(rename(backup, state_path), 0);
    rm = rm_open(f->s, "counter", 1, 0, NULL);
    assert_int_equal(rm_info(rm).pos, 3);
    assert_int_equal(tu_consumer_stored(f->s, "counter", NULL), 3);
    assert_int_equal(rnext(rm), 4);
    evs_readmodel_close(rm);
}

static void test_filtered_idle_save(void **state)
{
    tu_fixture *f = *state;
    evs_query q = EVS_QUERY_INIT;
    q.stream = "odd-1";
    evs_readmodel *rm = rm_open(f->s, "odds", 1, 0, &q);
    for (int i = 1; i <= 9; i += 2)
        assert_int_equal(rnext(rm), i);
    evs_event ev;
    assert_evs(0, evs_readmodel_next(&ev, rm, 0)); /* idle: passed over 10 too */
    assert_evs_ok(evs_readmodel_save(rm, "{\"n\":5}", 7));
    assert_int_equal(rm_info(rm).pos, 10);
    evs_readmodel_close(rm);
    assert_int_equal(file_pos(1, NULL, 0), 10);
}

static void test_replay(void **state)
{
    tu_fixture *f = *state;
    evs_readmodel *rm = rm_open(f->s, "counter", 1, 0, NULL);
    for (int i = 1; i <= 6; i++)
        rnext(rm);
    assert_evs_ok(evs_readmodel_save(rm, "{\"n\":6}", 7));
    evs_readmodel_close(rm);

    /* The projection's code changed: version 2 rebuilds from the first event. */
    rm = rm_open(f->s, "counter", 2, 0, NULL);
    evs_state_info info = rm_info(rm);
    assert_int_equal(info.origin, EVS_STATE_MODEL_CHANGED);
    assert_int_equal(info.file_model_version, 1);
    assert_memory_equal(info.json, INITIAL, strlen(INITIAL));
    assert_int_equal(rnext(rm), 1);
    assert_int_equal(rnext(rm), 2);
    /* Interrupted here (closed without saving): the file already says version 2 at 0,
     * so the next run replays from the start, never from version 1's position 6. */
    evs_readmodel_close(rm);
    assert_int_equal(file_pos(2, NULL, 0), 0);
    rm = rm_open(f->s, "counter", 2, 0, NULL);
    assert_int_equal(rm_info(rm).origin, EVS_STATE_LOADED);
    assert_int_equal(rnext(rm), 1);
    for (int i = 2; i <= 10; i++)
        assert_int_equal(rnext(rm), i);
    assert_evs_ok(evs_readmodel_save(rm, "{\"n\":10}", 8));
    evs_readmodel_close(rm);

    /* Same version, asked explicitly. */
    rm = rm_open(f->s, "counter", 2, EVS_STATE_REPLAY, NULL);
    assert_int_equal(rm_info(rm).origin, EVS_STATE_REPLAYING);
    assert_int_equal(rnext(rm), 1);
    evs_readmodel_close(rm);
    assert_int_equal(file_pos(2, NULL, 0), 0);
    assert_int_equal(tu_consumer_stored(f->s, "counter", NULL), 0);
}

static void test_errors(void **state)
{
    tu_fixture *f = *state;
    /* A state from a longer store. */
    evs_state *st;
    assert_evs_ok(evs_state_open(&st, state_path, 1, INITIAL, strlen(INITIAL), 0));
    assert_evs_ok(evs_state_save(st, "{\"n\":99}", 8, 99));
    evs_state_close(st);
    assert_evs_ok(evs_state_open(&st, state_path, 1, INITIAL, strlen(INITIAL), 0));
    evs_readmodel *rm = (evs_readmodel *)1;
    assert_evs(EVS_ECORRUPT, evs_readmodel_open(&rm, f->s, "far", NULL, st));
    assert_null(rm);
    assert_errmsg_has("position 99");
    assert_errmsg_has(state_path);
    assert_int_equal(tu_consumer_stored(f->s, "far", NULL), -2); /* no consumer was created */

    /* Busy: the second open fails before touching the file. */
    rm = rm_open(f->s, "busy", 1, EVS_STATE_REPLAY, NULL);
    assert_int_equal(file_pos(1, NULL, 0), 0);
    evs_readmodel *again = (evs_readmodel *)1;
    assert_evs_ok(evs_state_open(&st, state_path, 7, INITIAL, strlen(INITIAL), 0));
    assert_evs(EVS_EBUSY, evs_readmodel_open(&again, f->s, "busy", NULL, st));
    assert_null(again);
    assert_errmsg_has("'busy'");
    assert_int_equal(file_pos(1, NULL, 0), 0); /* still version 1: untouched */

    /* A failed save: nothing moves. */
    rnext(rm);
    assert_evs(EVS_EINVAL, evs_readmodel_save(rm, "{oops", 5));
    assert_errmsg_has("read model 'busy'");
    assert_int_equal(rm_info(rm).pos, 0);
    evs_readmodel_close(rm);
    assert_int_equal(tu_consumer_stored(f->s, "busy", NULL), 0);

    /* Misuse: the state is taken over (and closed) even then. */
    assert_evs_ok(evs_state_open(&st, state_path, 1, INITIAL, strlen(INITIAL), 0));
    assert_evs(EVS_EMISUSE, evs_readmodel_open(NULL, f->s, "x", NULL, st));
    assert_evs(EVS_EMISUSE, evs_readmodel_open(&rm, f->s, "x", NULL, NULL));
    assert_evs_ok(evs_state_open(&st, state_path, 1, INITIAL, strlen(INITIAL), 0));
    assert_evs(EVS_EINVAL, evs_readmodel_open(&rm, f->s, "bad name", NULL, st));
    assert_evs(EVS_EMISUSE, evs_readmodel_save(NULL, "{}", 2));
    evs_event ev;
    assert_evs(EVS_EMISUSE, evs_readmodel_next(&ev, NULL, 0));
    assert_null(evs_readmodel_state(NULL));
    evs_readmodel_close(NULL);
}

static void test_damaged_checkpoint_is_irrelevant(void **state)
{
    if (!tu_backend_is("file"))
        tu_not_supported("it damages the file backend's checkpoint file; SQLite checks its own rows");
    tu_fixture *f = *state;
    evs_readmodel *rm = rm_open(f->s, "counter", 1, 0, NULL);
    rnext(rm);
    rnext(rm);
    assert_evs_ok(evs_readmodel_save(rm, "{\"n\":2}", 7));
    evs_readmodel_close(rm);
    char ckpt[4300];
    snprintf(ckpt, sizeof ckpt, "%s/consumers/counter.ckpt", f->dir);
    FILE *fp = fopen(ckpt, "wb");
    assert_non_null(fp);
    assert_int_equal(fputs("garbage", fp) >= 0, 1);
    fclose(fp);
    evs_consumer *c;
    assert_evs(EVS_ECORRUPT, evs_consumer_open(&c, f->s, "counter", NULL));
    rm = rm_open(f->s, "counter", 1, 0, NULL); /* the state says 2: repaired to 2 */
    assert_int_equal(rnext(rm), 3);
    evs_readmodel_close(rm);
    assert_int_equal(tu_consumer_stored(f->s, "counter", NULL), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_save_resume, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_state_not_checkpoint_decides, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_filtered_idle_save, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_replay, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_damaged_checkpoint_is_irrelevant, setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
