/*
 * test_pg_skip.c - the skip test: no tailing reader ever misses an event, on
 * PostgreSQL, whatever the interleaving of transactions.
 *
 * The failure it looks for is the one PostgreSQL event stores are known for: positions
 * handed out at insert time, transactions committing in another order, and a reader
 * that has seen position N skipping a late commit below N for good. Here:
 *   - 16 writer processes append for EVS_PG_SKIP_SECONDS (default 60). Twelve append
 *     inside transactions of their own connections (evs_pg_append_tx) and wait a random
 *     0-4 ms between the insert and the commit; one transaction in ten rolls back.
 *     Four append through store handles (evs_append_multi, one to three streams).
 *   - Every 200-700 ms a random writer is SIGKILLed (mid-transaction often) and
 *     started again.
 *   - 4 tailing subscriber processes check that they get positions 1, 2, 3 ... each
 *     exactly once, in order, with no gap.
 *   - A durable consumer process, SIGKILLed and restarted every 1-3 s, checks that
 *     each run starts just after its checkpoint and then goes on with no gap.
 * At the end every subscriber must have reached the head, the consumer too, the events
 * acknowledged to the writers must all be there (their count bounds the head), and
 * evs_verify must find nothing wrong. The figures are printed.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "evstore_sql.h"
#include "testutil.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define WRITERS      16
#define TX_WRITERS   12 /* the first ones append in their own transactions */
#define SUBSCRIBERS  4

typedef struct shared {
    atomic_int stop_writers;
    atomic_llong final_head; /* set once the writers stopped; readers run up to it */
    atomic_llong acked_events[WRITERS];
    atomic_llong committed_tx[WRITERS];
    atomic_llong rolled_back[WRITERS];
    atomic_llong failed[WRITERS];
    atomic_llong sub_seen[SUBSCRIBERS];
    atomic_llong sub_last[SUBSCRIBERS];
    atomic_llong violations;
    atomic_llong consumer_last;
    atomic_llong consumer_delivered;
    char first_violation[256];
} shared;

static shared *sh;
static char location[512];

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
    if (atomic_fetch_add(&sh->violations, 1) == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(sh->first_violation, sizeof sh->first_violation, fmt, ap);
        va_end(ap);
    }
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* The URI without its schema, and the schema. */
static void split_location(char *uri, size_t len, const char **schema)
{
    const char *q = strstr(location, "?schema=");
    snprintf(uri, len, "%.*s", (int)(q - location), location);
    *schema = q + 8;
}

static PGconn *connect_or_wait(const char *uri)
{
    for (;;) {
        PGconn *c = PQconnectdb(uri);
        if (PQstatus(c) == CONNECTION_OK)
            return c;
        PQfinish(c);
        sleep_us(20000);
    }
}

static bool exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

/* Appends in its own transactions, with think time between insert and commit. */
static void tx_writer(int w, uint64_t seed)
{
    char uri[512];
    const char *schema;
    split_location(uri, sizeof uri, &schema);
    PGconn *c = connect_or_wait(uri);
    char stream[32];
    for (uint64_t n = 0; !atomic_load(&sh->stop_writers); n++) {
        size_t count = 1 + rng_next(&seed) % 3;
        evs_event_in ev[3];
        for (size_t i = 0; i < count; i++)
            ev[i] = tu_event("Skip", "{\"w\":1}");
        snprintf(stream, sizeof stream, "w%d-%d", w, (int)(rng_next(&seed) % 4));
        if (!exec_ok(c, "BEGIN")) {
            atomic_fetch_add(&sh->failed[w], 1);
            PQfinish(c);
            c = connect_or_wait(uri);
            continue;
        }
        evs_append_result res;
        int rc = evs_pg_append_tx(&res, c, schema, stream, EVS_EXPECT_ANY, ev, count);
        sleep_us((long)(rng_next(&seed) % 4000)); /* think time, the lock held */
        bool rollback = rc < 0 || rng_next(&seed) % 10 == 0;
        bool done = exec_ok(c, rollback ? "ROLLBACK" : "COMMIT");
        if (rc < 0 || !done)
            atomic_fetch_add(&sh->failed[w], 1);
        else if (rollback)
            atomic_fetch_add(&sh->rolled_back[w], 1);
        else {
            atomic_fetch_add(&sh->committed_tx[w], 1);
            atomic_fetch_add(&sh->acked_events[w], (long long)count);
        }
    }
    PQfinish(c);
}

/* Appends through a store handle: one atomic append to one to three streams. */
static void handle_writer(int w, uint64_t seed)
{
    evs_store *s;
    evs_options o = tu_fast_options();
    if (evs_open(&s, location, &o) < 0)
        _exit(3);
    char names[3][32];
    for (uint64_t n = 0; !atomic_load(&sh->stop_writers); n++) {
        size_t streams = 1 + rng_next(&seed) % 3, total = 0;
        evs_event_in ev[3];
        evs_batch_in b[3];
        for (size_t i = 0; i < streams; i++) {
            ev[i] = tu_event("Skip", "{\"h\":1}");
            snprintf(names[i], sizeof names[i], "h%d-%zu", w, i);
            b[i] = (evs_batch_in){names[i], EVS_EXPECT_ANY, &ev[i], 1};
            total++;
        }
        if (evs_append_multi(NULL, s, b, streams) < 0) {
            atomic_fetch_add(&sh->failed[w], 1);
            continue;
        }
        atomic_fetch_add(&sh->committed_tx[w], 1);
        atomic_fetch_add(&sh->acked_events[w], (long long)total);
        sleep_us((long)(rng_next(&seed) % 2000));
    }
    evs_close(s);
}

static bool past_final(int64_t pos)
{
    long long fin = atomic_load(&sh->final_head);
    return fin > 0 && pos >= fin;
}

static void subscriber(int k)
{
    evs_store *s;
    evs_options o = tu_fast_options();
    o.flags = EVS_OPEN_READONLY;
    if (evs_open(&s, location, &o) < 0)
        _exit(3);
    evs_subscription *sub;
    if (evs_subscribe(&sub, s, NULL, EVS_FROM_START) < 0)
        _exit(4);
    int64_t last = 0;
    while (!past_final(last)) {
        evs_event ev;
        int rc = evs_subscription_next(&ev, sub, 200);
        if (rc < 0) {
            violation("subscriber %d: %s", k, evs_errmsg());
            break;
        }
        if (rc == 0)
            continue;
        if (ev.pos != last + 1)
            violation("subscriber %d: position %" PRId64 " after %" PRId64, k, ev.pos, last);
        last = ev.pos;
        atomic_fetch_add(&sh->sub_seen[k], 1);
        atomic_store(&sh->sub_last[k], last);
    }
    evs_subscription_close(sub);
    evs_close(s);
}

/* One run of the durable consumer, until killed or past the final head. */
static void consumer_run(void)
{
    evs_store *s;
    evs_options o = tu_fast_options();
    if (evs_open(&s, location, &o) < 0)
        _exit(3);
    evs_consumer *c;
    int rc;
    while ((rc = evs_consumer_open(&c, s, "skip-consumer", NULL)) == EVS_EBUSY)
        sleep_us(10000); /* the session of a killed run is still ending */
    if (rc < 0)
        _exit(5);
    int64_t last = evs_consumer_checkpoint(c);
    while (!past_final(last)) {
        evs_event ev;
        rc = evs_consumer_next(&ev, c, 200);
        if (rc < 0) {
            violation("consumer: %s", evs_errmsg());
            break;
        }
        if (rc == 0)
            continue;
        if (ev.pos != last + 1)
            violation("consumer: position %" PRId64 " after %" PRId64, ev.pos, last);
        last = ev.pos;
        atomic_fetch_add(&sh->consumer_delivered, 1);
        atomic_store(&sh->consumer_last, last);
        evs_consumer_ack(c, ev.pos);
    }
    evs_consumer_close(c);
    evs_close(s);
}

static pid_t spawn(void (*fn)(int, uint64_t), int arg, uint64_t seed)
{
    pid_t pid = fork();
    if (pid == 0) {
        fn(arg, seed);
        _exit(0);
    }
    return pid;
}

static void run_subscriber(int k, uint64_t seed)
{
    (void)seed;
    subscriber(k);
}

static void run_consumer(int k, uint64_t seed)
{
    (void)k;
    (void)seed;
    consumer_run();
}

static void run_writer(int w, uint64_t seed)
{
    if (w < TX_WRITERS)
        tx_writer(w, seed);
    else
        handle_writer(w, seed);
}

static void kill_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

static int reap_status(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static long long sum(atomic_llong *a, int n)
{
    long long t = 0;
    for (int i = 0; i < n; i++)
        t += atomic_load(&a[i]);
    return t;
}

static void test_no_reader_skips(void **state)
{
    (void)state;
    const char *env = getenv("EVS_PG_SKIP_SECONDS");
    int seconds = env && *env ? atoi(env) : 60;
    tu_seed_rng();
    tu_pg_tmp(location, sizeof location, "skip");
    evs_store *s;
    evs_options o = tu_fast_options();
    assert_evs_ok(evs_open(&s, location, &o)); /* the schema, before anyone appends */

    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(sh != MAP_FAILED);
    memset(sh, 0, sizeof *sh);

    pid_t subs[SUBSCRIBERS], writers[WRITERS];
    for (int k = 0; k < SUBSCRIBERS; k++)
        subs[k] = spawn(run_subscriber, k, 0);
    pid_t consumer = spawn(run_consumer, 0, 0);
    for (int w = 0; w < WRITERS; w++)
        writers[w] = spawn(run_writer, w, tu_rnd() | 1);

    int64_t end = tu_mono_ms() + seconds * 1000LL, next_consumer_kill = tu_mono_ms() + 1000;
    long writer_kills = 0, consumer_kills = 0;
    while (tu_mono_ms() < end) {
        tu_sleep_ms(200 + (int)tu_rnd_below(500));
        int w = (int)tu_rnd_below(WRITERS);
        kill_reap(writers[w]);
        writer_kills++;
        writers[w] = spawn(run_writer, w, tu_rnd() | 1);
        if (tu_mono_ms() >= next_consumer_kill) {
            kill_reap(consumer);
            consumer_kills++;
            consumer = spawn(run_consumer, 0, 0);
            next_consumer_kill = tu_mono_ms() + 1000 + (int64_t)tu_rnd_below(2000);
        }
    }
    atomic_store(&sh->stop_writers, 1);
    for (int w = 0; w < WRITERS; w++)
        assert_int_equal(reap_status(writers[w]), 0);
    int64_t head = evs_head(s);
    atomic_store(&sh->final_head, head > 0 ? head : 1);
    for (int k = 0; k < SUBSCRIBERS; k++)
        assert_int_equal(reap_status(subs[k]), 0);
    assert_int_equal(reap_status(consumer), 0);

    long long acked = sum(sh->acked_events, WRITERS), tx = sum(sh->committed_tx, WRITERS);
    long long rolled = sum(sh->rolled_back, WRITERS), failed = sum(sh->failed, WRITERS);
    long long own_tx = sum(sh->committed_tx, TX_WRITERS) + rolled;
    print_message("skip test: the %d writers with their own transactions ended %lld of them, "
                  "%lld rolled back (%.1f%%)\n",
                  TX_WRITERS, own_tx, rolled, own_tx ? 100.0 * (double)rolled / (double)own_tx : 0);
    print_message("skip test: %d s, %" PRId64 " events in %lld acknowledged transactions "
                  "(%lld rolled back, %lld failed), %ld writer kills, %ld consumer "
                  "restarts, %lld consumer deliveries, subscribers saw %lld/%lld/%lld/%lld, "
                  "violations %lld\n",
                  seconds, head, tx, rolled, failed, writer_kills, consumer_kills,
                  (long long)atomic_load(&sh->consumer_delivered),
                  (long long)atomic_load(&sh->sub_seen[0]),
                  (long long)atomic_load(&sh->sub_seen[1]),
                  (long long)atomic_load(&sh->sub_seen[2]),
                  (long long)atomic_load(&sh->sub_seen[3]),
                  (long long)atomic_load(&sh->violations));
    if (atomic_load(&sh->violations))
        print_error("first violation: %s\n", sh->first_violation);
    assert_int_equal(atomic_load(&sh->violations), 0);
    for (int k = 0; k < SUBSCRIBERS; k++) {
        assert_int_equal(atomic_load(&sh->sub_seen[k]), head);
        assert_int_equal(atomic_load(&sh->sub_last[k]), head);
    }
    assert_int_equal(atomic_load(&sh->consumer_last), head);
    /* Acknowledged events are all there; the only others are those of writers killed
     * between their commit and its acknowledgement (at most 3 events each). */
    assert_true(head >= acked);
    assert_true(head <= acked + 3 * writer_kills);
    assert_int_equal(failed, 0); /* no append failed but those killed */
    assert_true(rolled > 0 && writer_kills > 0 && consumer_kills > 0);
    assert_evs_ok(evs_verify(NULL, s, NULL, NULL));
    assert_evs_ok(evs_close(s));
    munmap(sh, sizeof *sh);
    tu_cleanup(location);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_reader_skips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
