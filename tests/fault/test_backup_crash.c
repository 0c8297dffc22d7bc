/*
 * test_backup_crash.c - crash trials for evs_backup: a forked process appends from two
 * threads and takes backups into one destination in a loop, reporting each finished
 * backup's position over a pipe, and is killed with SIGKILL at a random moment. Then:
 *   - the destination opens as a store and verifies;
 *   - it holds exactly the store's events up to its `backup` file's position, byte for
 *     byte, and nothing more (never a store that claims more than it holds);
 *   - that position is the last one reported or a later one (the backup that was
 *     committed when the kill came): never an older backup, never a mix.
 * The same store and destination carry on from trial to trial, so every backup after
 * the first is incremental, and each starts by removing what the killed one left.
 *
 * EVS_BACKUP_CRASH_TRIALS sets the number of trials (default 25; `make crash-test` runs
 * more) and EVS_TEST_SEED replays a run. The last line counts trials and violations.
 */
#include "backup_check.h"
#include "testutil.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

typedef struct child_writer {
    evs_store *s;
    int id;
} child_writer;

static void *child_append(void *p)
{
    child_writer *w = p;
    char data[160], stream[32];
    for (int i = 0;; i++) {
        snprintf(stream, sizeof stream, "bk-%d-%d", w->id, i % 9);
        snprintf(data, sizeof data, "{\"w\":%d,\"i\":%d,\"pad\":\"%060d\"}", w->id, i, i);
        evs_event_in ev[2] = {tu_event("Tick", data), tu_event("Tock", data)};
        evs_append_result r;
        if (evs_append(&r, w->s, stream, EVS_EXPECT_ANY, ev, 1 + (size_t)(i % 2)) < 0)
            _exit(3);
        if (i % 16 == 0)
            tu_sleep_ms(1);
    }
    return NULL;
}

static void child_main(const char *dir, const char *dest, int fd, bool copy)
{
    evs_options o = tu_fast_options();
    o.segment_size = 64 * 1024;
    evs_store *s = NULL;
    if (evs_open(&s, dir, &o) < 0)
        _exit(2);
    pthread_t th[2];
    child_writer w[2] = {{s, 0}, {s, 1}};
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, child_append, &w[i]);
    evs_backup_opts bo = EVS_BACKUP_OPTS_INIT;
    bo.flags = copy ? EVS_BACKUP_COPY : 0;
    for (;;) {
        evs_backup_report r;
        if (evs_backup(&r, s, dest, &bo) < 0) {
            fprintf(stderr, "backup: %s\n", evs_errmsg());
            _exit(4);
        }
        if (write(fd, &r.pos, sizeof r.pos) != (ssize_t)sizeof r.pos)
            _exit(5);
    }
}

/* The position dest's `backup` file names, or -1. */
static int64_t mark_pos(const char *dest)
{
    char path[4300], line[256] = "";
    snprintf(path, sizeof path, "%s/backup", dest);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long long pos = -1;
    if (!fgets(line, sizeof line, f) || sscanf(line, "evstore-backup 1 pos=%lld", &pos) != 1)
        pos = -1;
    fclose(f);
    return pos;
}

/* Check dest after a kill; returns the violations found (printed). */
static int check_dest(const char *dir, const char *dest, int64_t last_reported, int64_t *known)
{
    struct stat st;
    if (stat(dest, &st) != 0) {
        if (last_reported > 0 || *known > 0) {
            fprintf(stderr, "violation: no backup in %s after one was made\n", dest);
            return 1;
        }
        return 0;
    }
    int64_t mark = mark_pos(dest);
    evs_options ro = EVS_OPTIONS_INIT;
    ro.flags = EVS_OPEN_READONLY | EVS_OPEN_NOCREATE;
    evs_store *b = NULL, *s = NULL;
    int bad = 0;
    if (evs_open(&b, dest, &ro) < 0) {
        fprintf(stderr, "violation: the backup does not open: %s\n", evs_errmsg());
        return 1;
    }
    int64_t head = evs_head(b);
    if (mark != head) {
        fprintf(stderr, "violation: the backup holds %" PRId64 " but its mark says %" PRId64 "\n",
                head, mark);
        bad++;
    }
    if (head < last_reported || head < *known) {
        fprintf(stderr, "violation: the backup is at %" PRId64 ", older than %" PRId64 "\n", head,
                last_reported > *known ? last_reported : *known);
        bad++;
    }
    if (evs_verify(NULL, b, NULL, NULL) != 0) {
        fprintf(stderr, "violation: the backup fails verification: %s\n", evs_errmsg());
        bad++;
    }
    evs_options o = tu_fast_options();
    char why[256] = "";
    if (evs_open(&s, dir, &o) < 0 || bc_compare_prefix(s, b, head, why, sizeof why) != 0) {
        fprintf(stderr, "violation: the backup is not the store's prefix: %s %s\n", why,
                evs_errmsg());
        bad++;
    }
    evs_close(s);
    evs_close(b);
    *known = head;
    return bad;
}

int main(void)
{
    tu_seed_rng();
    const char *env = getenv("EVS_BACKUP_CRASH_TRIALS");
    int trials = env && *env ? atoi(env) : 25;
    char dir[4096], dest[4200];
    tu_tmpdir(dir, sizeof dir, "bkcrash");
    snprintf(dest, sizeof dest, "%s-backup", dir);
    int violations = 0, backups = 0;
    int64_t known = 0;
    for (int t = 0; t < trials; t++) {
        int p[2];
        if (pipe(p) != 0)
            abort();
        bool copy = t % 3 == 2;
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            child_main(dir, dest, p[1], copy);
        }
        close(p[1]);
        tu_sleep_ms(20 + (int)tu_rnd_below(400));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        if (!WIFSIGNALED(status)) {
            fprintf(stderr, "trial %d: the child ended by itself (status %d)\n", t, status);
            violations++;
        }
        int64_t pos, last = 0;
        while (read(p[0], &pos, sizeof pos) == (ssize_t)sizeof pos) {
            last = pos;
            backups++;
        }
        close(p[0]);
        violations += check_dest(dir, dest, last, &known);
    }
    printf("backup crash trials: %d trials, %d backups finished, %d violations\n", trials,
           backups, violations);
    tu_rmtree(dest);
    tu_cleanup(dir);
    return violations ? 1 : 0;
}
