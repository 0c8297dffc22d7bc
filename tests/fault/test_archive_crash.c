/*
 * test_archive_crash.c - crash trials for evs_archive: a forked process appends from one
 * thread and archives every sealed segment in a loop, and is killed with SIGKILL at a
 * random moment (mid-copy, between the copy and the removal, mid-removal...). Then:
 *   - no segment is lost: the first one is in the store or the archive, and evs_verify
 *     (gap-free positions across segments, every checksum) passes;
 *   - a segment in both places is the same bytes in both;
 *   - every event seen after an earlier trial reads back the same (a digest per
 *     position), and the store reaches at least as far.
 * The same store carries on from trial to trial, so each run first finishes what the
 * killed one left.
 *
 * EVS_ARCHIVE_CRASH_TRIALS sets the number of trials (default 25; `make crash-test` runs
 * more) and EVS_TEST_SEED replays a run. The last line counts trials and violations.
 */
#include "testutil.h"

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

static void *child_append(void *p)
{
    evs_store *s = p;
    char data[200], stream[32];
    for (int i = 0;; i++) {
        snprintf(stream, sizeof stream, "ar-%d", i % 13);
        snprintf(data, sizeof data, "{\"i\":%d,\"pad\":\"%0100d\"}", i, i);
        evs_event_in ev = tu_event("Tick", data);
        evs_append_result r;
        if (evs_append(&r, s, stream, EVS_EXPECT_ANY, &ev, 1) < 0)
            _exit(3);
        if (i % 32 == 0)
            tu_sleep_ms(1);
    }
    return NULL;
}

static void child_main(const char *dir, const char *cold)
{
    evs_options o = tu_fast_options();
    o.segment_size = 64 * 1024;
    evs_store *s = NULL;
    if (evs_open(&s, dir, &o) < 0)
        _exit(2);
    pthread_t th;
    pthread_create(&th, NULL, child_append, s);
    evs_archive_opts ao = EVS_ARCHIVE_OPTS_INIT;
    ao.dir = cold;
    for (;;) {
        evs_archive_report r;
        if (evs_archive(&r, s, &ao) < 0) {
            fprintf(stderr, "archive: %s\n", evs_errmsg());
            _exit(4);
        }
        tu_sleep_ms(2);
    }
}

static uint64_t digest(const evs_event *e)
{
    uint64_t h = 1469598103934665603ull;
    const unsigned char *parts[4] = {(const unsigned char *)e->stream,
                                     (const unsigned char *)e->type,
                                     (const unsigned char *)e->data, e->id};
    size_t lens[4] = {e->stream_len, e->type_len, e->data_len, 16};
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < lens[k]; i++)
            h = (h ^ parts[k][i]) * 1099511628211ull;
    return h ^ (uint64_t)e->version ^ (uint64_t)e->ts_ns * 31;
}

static bool has_file(const char *dir, const char *name)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* Segments in both places must be the same bytes. */
static int check_doubles(const char *dir, const char *cold)
{
    DIR *d = opendir(cold);
    int bad = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strlen(e->d_name) != 24 || !has_file(dir, e->d_name))
            continue;
        char cmd[9000];
        snprintf(cmd, sizeof cmd, "cmp -s '%s/%s' '%s/%s'", dir, e->d_name, cold, e->d_name);
        if (system(cmd) != 0) {
            fprintf(stderr, "violation: %s differs between the store and the archive\n",
                    e->d_name);
            bad++;
        }
    }
    if (d)
        closedir(d);
    return bad;
}

typedef struct seen {
    uint64_t *h;
    int64_t n;
} seen;

static int check_store(const char *dir, const char *cold, seen *sn)
{
    int bad = check_doubles(dir, cold);
    const char *first = "00000000000000000001.seg";
    if (sn->n > 0 && !has_file(dir, first) && !has_file(cold, first)) {
        fprintf(stderr, "violation: the first segment is in neither place\n");
        bad++;
    }
    evs_options o = tu_fast_options();
    o.segment_size = 64 * 1024;
    evs_store *s = NULL;
    if (evs_open(&s, dir, &o) < 0) {
        fprintf(stderr, "violation: the store does not open: %s\n", evs_errmsg());
        return bad + 1;
    }
    evs_verify_report vr;
    if (evs_verify(&vr, s, NULL, NULL) != 0) {
        fprintf(stderr, "violation: verify: %s\n", evs_errmsg());
        bad++;
    }
    int64_t head = evs_head(s);
    if (head < sn->n) {
        fprintf(stderr, "violation: the store ends at %" PRId64 ", before %" PRId64 "\n", head,
                sn->n);
        bad++;
    }
    uint64_t *h = realloc(sn->h, (size_t)(head + 1) * sizeof *h);
    if (!h)
        abort();
    sn->h = h;
    evs_query q = EVS_QUERY_INIT;
    evs_cursor *c = NULL;
    evs_event ev;
    int64_t expect = 1;
    int rc = evs_cursor_open(&c, s, &q);
    while (rc == 0 && (rc = evs_cursor_next(&ev, c)) == 1) {
        if (ev.pos != expect) {
            fprintf(stderr, "violation: position %" PRId64 " where %" PRId64 " was due\n", ev.pos,
                    expect);
            bad++;
            break;
        }
        uint64_t d = digest(&ev);
        if (ev.pos <= sn->n && h[ev.pos] != d) {
            fprintf(stderr, "violation: the event at %" PRId64 " changed\n", ev.pos);
            bad++;
        }
        h[ev.pos] = d;
        expect++;
        rc = 0;
    }
    if (rc < 0) {
        fprintf(stderr, "violation: read: %s\n", evs_errmsg());
        bad++;
    }
    evs_cursor_close(c);
    sn->n = head;
    evs_close(s);
    return bad;
}

int main(void)
{
    tu_seed_rng();
    const char *env = getenv("EVS_ARCHIVE_CRASH_TRIALS");
    int trials = env && *env ? atoi(env) : 25;
    char dir[4096], cold[4200];
    tu_tmpdir(dir, sizeof dir, "arcrash");
    snprintf(cold, sizeof cold, "%s-cold", dir);
    mkdir(cold, 0755);
    int violations = 0;
    seen sn = {NULL, 0};
    for (int t = 0; t < trials; t++) {
        pid_t pid = fork();
        if (pid == 0)
            child_main(dir, cold);
        tu_sleep_ms(10 + (int)tu_rnd_below(200));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        if (!WIFSIGNALED(status)) {
            fprintf(stderr, "trial %d: the child ended by itself (status %d)\n", t, status);
            violations++;
        }
        violations += check_store(dir, cold, &sn);
    }
    int archived = 0;
    DIR *d = opendir(cold);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        archived += strlen(e->d_name) == 24;
    if (d)
        closedir(d);
    if (archived == 0) { /* the trials tested nothing */
        fprintf(stderr, "violation: no segment was ever archived\n");
        violations++;
    }
    printf("archive crash trials: %d trials, %" PRId64 " events checked, %d segments archived, "
           "%d violations\n",
           trials, sn.n, archived, violations);
    free(sn.h);
    tu_rmtree(cold);
    tu_cleanup(dir);
    return violations ? 1 : 0;
}
