/*
 * test_erase.c - erasure by crypto-shredding: events appended with a subject read back
 * byte for byte until the subject is forgotten, and as the erased marker after, through
 * every kind of read, checked against a model; bad subjects, bad and missing key files,
 * and a forget seen by another handle.
 */
#include "testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define SUBJECTS 6
#define EVENTS   300

/* What the model knows of one appended event. */
typedef struct model_ev {
    int64_t pos;
    int subject;      /* -1: none */
    int epoch;        /* the subject's forget count when it was appended */
    char data[96];
    char meta[96];    /* "" when it has none */
    char type[8];
    char stream[16];
} model_ev;

typedef struct model {
    model_ev ev[EVENTS];
    size_t count;
    int forgets[SUBJECTS]; /* forgets so far per subject */
} model;

static void subject_name(char *buf, size_t len, int k)
{
    snprintf(buf, len, "person-%d", k);
}

static bool should_be_erased(const model *m, const model_ev *e)
{
    return e->subject >= 0 && m->forgets[e->subject] > e->epoch;
}

/* Append one random event: no subject, a subject in the metadata, or one through
 * evs_append_with. */
static void append_random(evs_store *s, model *m)
{
    model_ev *e = &m->ev[m->count];
    memset(e, 0, sizeof *e);
    size_t i = m->count;
    int way = (int)tu_rnd_below(3);
    e->subject = way == 0 ? -1 : (int)tu_rnd_below(SUBJECTS);
    e->epoch = e->subject >= 0 ? m->forgets[e->subject] : 0;
    snprintf(e->data, sizeof e->data, "{\"n\":%zu,\"secret\":\"card-%llu\"}", i,
             (unsigned long long)tu_rnd_below(1000000));
    snprintf(e->type, sizeof e->type, "T%d", (int)(i % 3));
    snprintf(e->stream, sizeof e->stream, "acct-%d", (int)tu_rnd_below(5));
    char subject[32] = "";
    if (e->subject >= 0)
        subject_name(subject, sizeof subject, e->subject);
    if (way == 1)
        snprintf(e->meta, sizeof e->meta, "{\"actor\":\"x\",\"subject\":\"%s\"}", subject);
    else if (tu_rnd_below(2))
        snprintf(e->meta, sizeof e->meta, "{\"actor\":\"y\"}");
    evs_event_in in = tu_event(e->type, e->data);
    if (e->meta[0]) {
        in.metadata = e->meta;
        in.metadata_len = strlen(e->meta);
    }
    evs_append_opts opts = EVS_APPEND_OPTS_INIT;
    opts.subject = way == 2 ? subject : NULL;
    evs_append_result r;
    assert_evs_ok(evs_append_with(&r, NULL, s, e->stream, EVS_EXPECT_ANY, &in, 1, &opts));
    e->pos = r.first_pos;
    m->count++;
}

/* Check one event handed out by any read against the model. */
static void check_event(const model *m, const evs_event *ev)
{
    assert_true(ev->pos >= 1 && (size_t)ev->pos <= m->count);
    const model_ev *e = &m->ev[ev->pos - 1];
    assert_int_equal(ev->pos, e->pos);
    assert_int_equal(ev->stream_len, strlen(e->stream));
    assert_memory_equal(ev->stream, e->stream, ev->stream_len);
    assert_int_equal(ev->type_len, strlen(e->type));
    assert_memory_equal(ev->type, e->type, ev->type_len);
    if (e->meta[0]) {
        assert_int_equal(ev->metadata_len, strlen(e->meta));
        assert_memory_equal(ev->metadata, e->meta, ev->metadata_len);
    } else {
        assert_null(ev->metadata);
    }
    if (should_be_erased(m, e)) {
        assert_true(evs_event_erased(ev));
        assert_int_equal(ev->data_len, strlen(evs_erased_data()));
        assert_memory_equal(ev->data, "{\"$erased\":true}", ev->data_len);
    } else {
        assert_false(evs_event_erased(ev));
        assert_int_equal(ev->data_len, strlen(e->data));
        assert_memory_equal(ev->data, e->data, ev->data_len);
    }
}

/* Read with a query and check every event; returns how many came. */
static size_t check_query(evs_store *s, const model *m, const evs_query *q)
{
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, q));
    evs_event ev;
    int rc;
    size_t n = 0;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        check_event(m, &ev);
        n++;
    }
    assert_evs_ok(rc);
    evs_cursor_close(c);
    return n;
}

/* Every kind of read: all forward and backward, one stream, one type, a category, a
 * subscription's catch-up; and verify. */
static void check_all_reads(evs_store *s, const model *m)
{
    evs_query q = EVS_QUERY_INIT;
    assert_int_equal(check_query(s, m, &q), m->count);
    q.direction = EVS_BACKWARD;
    assert_int_equal(check_query(s, m, &q), m->count);
    size_t total = 0;
    for (int k = 0; k < 5; k++) {
        char stream[32];
        snprintf(stream, sizeof stream, "acct-%d", k);
        evs_query qs = EVS_QUERY_INIT;
        qs.stream = stream;
        total += check_query(s, m, &qs);
    }
    assert_int_equal(total, m->count);
    const char *types[] = {"T1"};
    evs_query qt = EVS_QUERY_INIT;
    qt.types = types;
    qt.type_count = 1;
    check_query(s, m, &qt);
    evs_query qc = EVS_QUERY_INIT;
    qc.category = "acct";
    assert_int_equal(check_query(s, m, &qc), m->count);

    evs_subscription *sub;
    assert_evs_ok(evs_subscribe(&sub, s, NULL, EVS_FROM_START));
    evs_event ev;
    for (size_t i = 0; i < m->count; i++) {
        assert_evs(1, evs_subscription_next(&ev, sub, 1000));
        check_event(m, &ev);
    }
    evs_subscription_close(sub);

    evs_verify_report rep;
    assert_evs_ok(evs_verify(&rep, s, NULL, NULL));
}

/* Random appends and forgets, every read checked against the model after each forget
 * and after reopening. */
static void test_model(void **state)
{
    tu_fixture *f = *state;
    tu_seed_rng();
    evs_store *s = tu_fx_open(f, NULL);
    model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    while (m->count < EVENTS) {
        append_random(s, m);
        if (tu_rnd_below(40) == 0) {
            int k = (int)tu_rnd_below(SUBJECTS);
            char subject[32];
            subject_name(subject, sizeof subject, k);
            /* A subject with no live key (none of its events since its last forget)
             * has nothing to forget. */
            bool has_key = false;
            for (size_t i = 0; i < m->count; i++)
                has_key |= m->ev[i].subject == k && m->ev[i].epoch == m->forgets[k];
            size_t destroyed = 0;
            assert_evs(has_key ? 0 : EVS_ENOTFOUND, evs_forget(&destroyed, s, subject));
            assert_int_equal(destroyed, has_key ? 1 : 0);
            if (has_key)
                m->forgets[k]++;
            check_all_reads(s, m);
        }
    }
    check_all_reads(s, m);
    s = tu_fx_reopen(f);
    check_all_reads(s, m);
    free(m);
}

/* The plain text of an event with a subject is nowhere in the log; without, it is. */
static bool file_has(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    size_t len = strlen(needle);
    for (size_t i = 0; i + len <= n; i++)
        if (memcmp(buf + i, needle, len) == 0)
            return true;
    return false;
}

static void append_meta(evs_store *s, const char *stream, const char *data, const char *meta,
                        int want)
{
    evs_event_in in = tu_event("T", data);
    if (meta) {
        in.metadata = meta;
        in.metadata_len = strlen(meta);
    }
    assert_evs(want, evs_append(NULL, s, stream, EVS_EXPECT_ANY, &in, 1));
}

static void seg_path(char *buf, size_t len, const char *dir)
{
    snprintf(buf, len, "%s/00000000000000000001.seg", dir);
}

static void test_encrypted_at_rest(void **state)
{
    tu_fixture *f = *state;
    evs_store *s = tu_fx_open(f, NULL);
    append_meta(s, "u-1", "{\"name\":\"Alice Secret\"}", "{\"subject\":\"alice\"}", 0);
    append_meta(s, "u-2", "{\"name\":\"Bob Plain\"}", NULL, 0);
    /* The subject spelled with escapes is the same subject. */
    append_meta(s, "u-1", "{\"name\":\"Alice Again\"}", "{\"su\\u0062ject\":\"al\\u0069ce\"}", 0);
    assert_evs_ok(evs_sync(s));
    char seg[4200];
    seg_path(seg, sizeof seg, f->dir);
    assert_false(file_has(seg, "Alice Secret"));
    assert_false(file_has(seg, "Alice Again"));
    assert_true(file_has(seg, "Bob Plain"));
    size_t destroyed = 0;
    assert_evs_ok(evs_forget(&destroyed, s, "alice"));
    assert_int_equal(destroyed, 1);
    evs_query q = EVS_QUERY_INIT;
    q.stream = "u-1";
    assert_int_equal(tu_count(s, &q), 2);
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    evs_event ev;
    assert_evs(1, evs_cursor_next(&ev, c));
    assert_true(evs_event_erased(&ev));
    assert_evs(1, evs_cursor_next(&ev, c));
    assert_true(evs_event_erased(&ev));
    evs_cursor_close(c);
}

/* The old key file's bytes are overwritten with zeros, not only unlinked: a descriptor
 * opened on it before the forget reads zeros after. */
static void test_forget_scrubs_old_file(void **state)
{
    tu_fixture *f = *state;
    evs_store *s = tu_fx_open(f, NULL);
    append_meta(s, "u-1", "{\"a\":1}", "{\"subject\":\"alice\"}", 0);
    append_meta(s, "u-2", "{\"b\":1}", "{\"subject\":\"bob\"}", 0);
    char keys[4200], old[4200];
    snprintf(keys, sizeof keys, "%s/keys", f->dir);
    snprintf(old, sizeof old, "%s/keys.old", f->dir);
    int fd = open(keys, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_true(st.st_size > 64 + 2 * 56);
    assert_evs_ok(evs_forget(NULL, s, "alice"));
    unsigned char buf[4096];
    ssize_t n = pread(fd, buf, sizeof buf, 0);
    close(fd);
    assert_int_equal(n, st.st_size);
    for (ssize_t i = 0; i < n; i++)
        assert_int_equal(buf[i], 0);
    assert_int_equal(access(old, F_OK), -1);
    /* bob's key survived the rewrite. */
    evs_query q = EVS_QUERY_INIT;
    q.stream = "u-2";
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    evs_event ev;
    assert_evs(1, evs_cursor_next(&ev, c));
    assert_false(evs_event_erased(&ev));
    assert_memory_equal(ev.data, "{\"b\":1}", ev.data_len);
    evs_cursor_close(c);
}

static void test_bad_subjects(void **state)
{
    tu_fixture *f = *state;
    evs_store *s = tu_fx_open(f, NULL);
    append_meta(s, "u", "{}", "{\"subject\":1}", EVS_EINVAL);
    assert_errmsg_has("'metadata.subject' must be a string");
    append_meta(s, "u", "{}", "{\"subject\":\"\"}", EVS_EINVAL);
    assert_errmsg_has("is empty");
    append_meta(s, "u", "{}", "{\"subject\":\"a\\u0001b\"}", EVS_EINVAL);
    assert_errmsg_has("control character");
    append_meta(s, "u", "{}", "{\"subject\":\"a\",\"subject\":\"b\"}", EVS_EINVAL);
    assert_errmsg_has("names 'subject' 2 times");
    char meta[400];
    snprintf(meta, sizeof meta, "{\"subject\":\"%0257d\"}", 7);
    append_meta(s, "u", "{}", meta, EVS_EINVAL);
    assert_errmsg_has("longer than");
    /* A subject inside a nested object is not the event's subject. */
    append_meta(s, "plain", "{\"n\":1}", "{\"x\":{\"subject\":\"a\"}}", 0);
    evs_event_in in = tu_event("T", "{}");
    in.metadata = "{\"subject\":\"a\"}";
    in.metadata_len = strlen(in.metadata);
    evs_append_opts opts = EVS_APPEND_OPTS_INIT;
    opts.subject = "b";
    assert_evs(EVS_EINVAL, evs_append_with(NULL, NULL, s, "u", EVS_EXPECT_ANY, &in, 1, &opts));
    assert_errmsg_has("differs from the append's subject option");
    opts.version = 99;
    assert_evs(EVS_EINVAL, evs_append_with(NULL, NULL, s, "u", EVS_EXPECT_ANY, &in, 1, &opts));
    assert_int_equal(evs_head(s), 1);
    /* Forgetting: unknown, empty, NULL. */
    assert_evs(EVS_ENOTFOUND, evs_forget(NULL, s, "nobody"));
    assert_errmsg_has("'nobody' has no key");
    assert_evs(EVS_EINVAL, evs_forget(NULL, s, ""));
    assert_evs(EVS_EINVAL, evs_forget(NULL, s, NULL));
    assert_evs(EVS_EINVAL, evs_forget(NULL, s, "a\001b"));
    assert_errmsg_has("control character");
    char keys[4200];
    snprintf(keys, sizeof keys, "%s/keys", f->dir);
    assert_int_equal(access(keys, F_OK), -1); /* nothing made a key */
}

static void test_readonly_forget(void **state)
{
    tu_fixture *f = *state;
    evs_store *s = tu_fx_open(f, NULL);
    append_meta(s, "u", "{}", "{\"subject\":\"a\"}", 0);
    tu_fx_close(f);
    evs_options o = tu_fast_options();
    o.flags = EVS_OPEN_READONLY;
    s = tu_fx_open(f, &o);
    assert_evs(EVS_EREADONLY, evs_forget(NULL, s, "a"));
    evs_query q = EVS_QUERY_INIT;
    assert_int_equal(tu_count(s, &q), 1);
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* The message of read_all's first failure. */
static char first_msg[1024];

#define assert_first_msg_has(needle) assert_non_null(strstr(first_msg, (needle)))

/* Read every event; returns the error of the first that fails (0 if none, its message
 * in first_msg) and counts the events that came. A failing event does not stop the
 * cursor. */
static int read_all(evs_store *s, size_t *ok)
{
    evs_query q = EVS_QUERY_INIT;
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    evs_event ev;
    int rc, first = 0;
    *ok = 0;
    while ((rc = evs_cursor_next(&ev, c)) != 0) {
        if (rc < 0 && first == 0) {
            first = rc;
            snprintf(first_msg, sizeof first_msg, "%s", evs_errmsg());
        }
        if (rc < 0 && rc != EVS_ECORRUPT)
            break;
        if (rc > 0)
            (*ok)++;
    }
    evs_cursor_close(c);
    return first;
}

static void test_missing_key_file(void **state)
{
    tu_fixture *f = *state;
    evs_store *s = tu_fx_open(f, NULL);
    append_meta(s, "u", "{\"n\":1}", "{\"subject\":\"a\"}", 0);
    append_meta(s, "v", "{\"n\":2}", NULL, 0);
    tu_fx_close(f);
    char keys[4200], aside[4200];
    snprintf(keys, sizeof keys, "%s/keys", f->dir);
    snprintf(aside, sizeof aside, "%s.aside", f->dir);
    assert_int_equal(rename(keys, aside), 0);
    s = tu_fx_open(f, NULL);
    size_t ok;
    assert_int_equal(read_all(s, &ok), EVS_ECORRUPT);
    assert_int_equal(ok, 1); /* the event without a subject still reads */
    assert_first_msg_has("is missing; restore it from a backup");
    tu_fx_close(f);
    assert_int_equal(rename(aside, keys), 0);
    s = tu_fx_open(f, NULL);
    assert_int_equal(read_all(s, &ok), 0);
    assert_int_equal(ok, 2);
}

/* Damage in the middle of the key file: reads of encrypted events, appends with a
 * subject and forgets fail naming the file and offset, and nothing changes. */
static void test_damaged_key_file(void **state)
{
    tu_fixture *f = *state;
    evs_store *s = tu_fx_open(f, NULL);
    append_meta(s, "u", "{\"n\":1}", "{\"subject\":\"a\"}", 0);
    append_meta(s, "u", "{\"n\":2}", "{\"subject\":\"b\"}", 0);
    tu_fx_close(f);
    char keys[4200], good[4200];
    snprintf(keys, sizeof keys, "%s/keys", f->dir);
    snprintf(good, sizeof good, "%s.good", f->dir);
    copy_file(keys, good);
    FILE *fp = fopen(keys, "r+b");
    assert_non_null(fp);
    fseek(fp, 64 + 30, SEEK_SET); /* inside the first record's key */
    int ch = fgetc(fp);
    fseek(fp, 64 + 30, SEEK_SET);
    fputc(ch ^ 0x40, fp);
    fclose(fp);
    s = tu_fx_open(f, NULL);
    size_t ok;
    assert_int_equal(read_all(s, &ok), EVS_ECORRUPT);
    assert_first_msg_has("record checksum mismatch at byte 64");
    append_meta(s, "u", "{\"n\":3}", "{\"subject\":\"c\"}", EVS_ECORRUPT);
    assert_int_equal(evs_head(s), 2);
    assert_evs(EVS_ECORRUPT, evs_forget(NULL, s, "b"));
    /* Nothing was changed: putting the good file back brings every event back. */
    tu_fx_close(f);
    copy_file(good, keys);
    s = tu_fx_open(f, NULL);
    assert_int_equal(read_all(s, &ok), 0);
    assert_int_equal(ok, 2);
    /* Not a key file at all. */
    tu_fx_close(f);
    fp = fopen(keys, "wb");
    fputs("hello", fp);
    fclose(fp);
    s = tu_fx_open(f, NULL);
    assert_int_equal(read_all(s, &ok), EVS_EFORMAT);
    assert_first_msg_has("not an evstore key file");
}

/* A torn last record (a crash while a key was added, before anything used it) is
 * ignored, and cut by the next key added. */
static void test_torn_key_file_tail(void **state)
{
    tu_fixture *f = *state;
    evs_store *s = tu_fx_open(f, NULL);
    append_meta(s, "u", "{\"n\":1}", "{\"subject\":\"a\"}", 0);
    tu_fx_close(f);
    char keys[4200];
    snprintf(keys, sizeof keys, "%s/keys", f->dir);
    struct stat st;
    assert_int_equal(stat(keys, &st), 0);
    FILE *fp = fopen(keys, "ab");
    fwrite("\x51\x52\x53\x54\x40\x00\x00\x00\x01", 1, 9, fp);
    fclose(fp);
    s = tu_fx_open(f, NULL);
    size_t ok;
    assert_int_equal(read_all(s, &ok), 0);
    assert_int_equal(ok, 1);
    append_meta(s, "u", "{\"n\":2}", "{\"subject\":\"b\"}", 0);
    struct stat st2;
    assert_int_equal(stat(keys, &st2), 0);
    assert_int_equal(st2.st_size, st.st_size + 56 + 1);
    s = tu_fx_reopen(f);
    assert_int_equal(read_all(s, &ok), 0);
    assert_int_equal(ok, 2);
}

/* A forget killed between linking `keys.old` and renaming the new file over `keys`
 * leaves `keys.old` naming the live file: the next forget removes the name and must not
 * overwrite the live keys (found by test_erase_crash). */
static void test_leftover_link_to_live_file(void **state)
{
    tu_fixture *f = *state;
    evs_store *s = tu_fx_open(f, NULL);
    append_meta(s, "u-1", "{\"a\":1}", "{\"subject\":\"alice\"}", 0);
    append_meta(s, "u-2", "{\"b\":1}", "{\"subject\":\"bob\"}", 0);
    char keys[4200], old[4200];
    snprintf(keys, sizeof keys, "%s/keys", f->dir);
    snprintf(old, sizeof old, "%s/keys.old", f->dir);
    assert_int_equal(link(keys, old), 0);
    assert_evs_ok(evs_forget(NULL, s, "alice"));
    assert_int_equal(access(old, F_OK), -1);
    s = tu_fx_reopen(f);
    size_t ok;
    assert_int_equal(read_all(s, &ok), 0);
    assert_int_equal(ok, 2);
    evs_query q = EVS_QUERY_INIT;
    q.stream = "u-2";
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    evs_event ev;
    assert_evs(1, evs_cursor_next(&ev, c));
    assert_false(evs_event_erased(&ev));
    evs_cursor_close(c);
}

/* Two handles (as two processes would): a forget through one is seen by the other's
 * reads within 100 ms and by its next append at once. */
static void test_other_handle_sees_forget(void **state)
{
    tu_fixture *f = *state;
    evs_store *a = tu_fx_open(f, NULL);
    evs_store *b;
    evs_options o = tu_fast_options();
    assert_evs_ok(evs_open(&b, f->dir, &o));
    append_meta(a, "u", "{\"n\":1}", "{\"subject\":\"p\"}", 0);
    size_t ok;
    assert_int_equal(read_all(a, &ok), 0); /* a's table holds p's key */
    assert_evs_ok(evs_forget(NULL, b, "p"));
    /* a's next append with p makes a new key: it must not use the destroyed one. */
    append_meta(a, "u", "{\"n\":2}", "{\"subject\":\"p\"}", 0);
    tu_sleep_ms(150);
    model m;
    memset(&m, 0, sizeof m);
    evs_query q = EVS_QUERY_INIT;
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, a, &q));
    evs_event ev;
    assert_evs(1, evs_cursor_next(&ev, c));
    assert_true(evs_event_erased(&ev));
    assert_evs(1, evs_cursor_next(&ev, c));
    assert_false(evs_event_erased(&ev));
    assert_memory_equal(ev.data, "{\"n\":2}", ev.data_len);
    evs_cursor_close(c);
    assert_evs_ok(evs_close(b));
}

/* Threads appending with subjects, reading, and forgetting at once (make tsan runs
 * this): no read fails, every event reads as its data or as erased, and once the
 * threads are done exactly the forgotten subjects' earlier events are erased. */
typedef struct race_ctx {
    evs_store *s;
    atomic_bool stop;
    atomic_int failures;
} race_ctx;

typedef struct race_arg {
    race_ctx *ctx;
    int thread;
} race_arg;

static void *race_appender(void *p)
{
    race_arg *a = p;
    char data[64], meta[64];
    for (int i = 0; i < 200; i++) {
        snprintf(data, sizeof data, "{\"t\":%d,\"i\":%d}", a->thread, i);
        snprintf(meta, sizeof meta, "{\"subject\":\"s-%d\"}", i % 4);
        evs_event_in in = tu_event("T", data);
        in.metadata = meta;
        in.metadata_len = strlen(meta);
        if (evs_append(NULL, a->ctx->s, "race", EVS_EXPECT_ANY, &in, 1) != 0)
            atomic_fetch_add(&a->ctx->failures, 1);
    }
    return NULL;
}

static void *race_reader(void *p)
{
    race_arg *a = p;
    while (!atomic_load(&a->ctx->stop)) {
        evs_cursor *c;
        if (evs_cursor_open(&c, a->ctx->s, NULL) != 0) {
            atomic_fetch_add(&a->ctx->failures, 1);
            return NULL;
        }
        evs_event ev;
        int rc;
        while ((rc = evs_cursor_next(&ev, c)) > 0)
            if (!evs_event_erased(&ev) && (ev.data_len < 5 || memcmp(ev.data, "{\"t\":", 5) != 0))
                atomic_fetch_add(&a->ctx->failures, 1);
        if (rc < 0)
            atomic_fetch_add(&a->ctx->failures, 1);
        evs_cursor_close(c);
    }
    return NULL;
}

static void test_threads_race_forget(void **state)
{
    tu_fixture *f = *state;
    race_ctx ctx = {tu_fx_open(f, NULL), false, 0};
    pthread_t t[4];
    race_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (race_arg){&ctx, i};
        pthread_create(&t[i], NULL, i < 3 ? race_appender : race_reader, &args[i]);
    }
    for (int k = 0; k < 20; k++) {
        char subject[16];
        snprintf(subject, sizeof subject, "s-%d", k % 4);
        int rc = evs_forget(NULL, ctx.s, subject);
        assert_true(rc == 0 || rc == EVS_ENOTFOUND);
        tu_sleep_ms(2);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    atomic_store(&ctx.stop, true);
    pthread_join(t[3], NULL);
    assert_int_equal(atomic_load(&ctx.failures), 0);
    /* Forget every subject now: all 600 events read as erased. */
    for (int k = 0; k < 4; k++) {
        char subject[16];
        snprintf(subject, sizeof subject, "s-%d", k);
        int rc = evs_forget(NULL, ctx.s, subject);
        assert_true(rc == 0 || rc == EVS_ENOTFOUND);
    }
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, ctx.s, NULL));
    evs_event ev;
    int n = 0;
    while (evs_cursor_next(&ev, c) > 0) {
        assert_true(evs_event_erased(&ev));
        n++;
    }
    evs_cursor_close(c);
    assert_int_equal(n, 600);
}

static void test_sqlite_refuses_subjects(void **state)
{
    (void)state;
    char loc[4200];
    tu_sqlite_tmp(loc, sizeof loc, "erase-sql");
    evs_store *s;
    assert_evs_ok(evs_open(&s, loc, NULL));
    append_meta(s, "u", "{}", "{\"subject\":\"a\"}", EVS_ENOTSUP);
    assert_evs(EVS_ENOTSUP, evs_forget(NULL, s, "a"));
    append_meta(s, "u", "{}", "{\"actor\":\"a\"}", 0);
    assert_evs_ok(evs_close(s));
    tu_cleanup(loc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_model, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_encrypted_at_rest, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_forget_scrubs_old_file, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_bad_subjects, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_readonly_forget, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_missing_key_file, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_damaged_key_file, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_torn_key_file_tail, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_leftover_link_to_live_file, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_other_handle_sees_forget, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_threads_race_forget, tu_setup, tu_teardown),
        cmocka_unit_test(test_sqlite_refuses_subjects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
