/*
 * main.c - a bank on the domain layer, and its audit.
 *
 *   bank run DIR SECONDS THREADS SEED TALLY   random commands from THREADS threads on
 *                                             100 accounts; writes what was accepted
 *   bank check DIR TALLY...                   the audit over every run's tally
 *
 * Several `bank run` processes may share a store. The audit checks: the money in the
 * accounts is the money the runs say they deposited minus what they withdrew (none
 * created or destroyed), no event history ever went below zero, every transfer sent
 * was received once with its amount, and the balances projected by an event handler
 * table equal both the aggregates' states and the sums of their events.
 * Exit status: 0 when every check holds, 1 when one fails or a command fails with
 * anything but a refusal or a reported conflict, 2 for bad usage.
 */
#include "account.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ACCOUNTS 100

static const evs_actor teller = {"teller-1", "Teller", "bank", NULL, 0};

/* ---- run ---------------------------------------------------------------------------- */

typedef struct tally {
    int64_t net; /* deposits minus withdrawals accepted */
    int64_t commands, accepted, refused, conflicts, retries, transfers;
} tally;

typedef struct worker {
    evs_domain *d;
    int seed, index;
    double seconds;
    tally t;
    int failed;
} worker;

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One command; counts it. 1 accepted, 0 refused or conflict reported, -1 failed. */
static int command(worker *w, const char *name, int acct, const char *payload)
{
    char id[16];
    evs_command_result res;
    snprintf(id, sizeof id, "%d", acct);
    int rc = evs_command(&res, NULL, w->d, &teller, name, id, payload, strlen(payload), NULL);
    w->t.commands++;
    w->t.retries += res.retries;
    if (rc == 0) {
        w->t.accepted++;
        return 1;
    }
    if (rc == EVS_EPRECONDITION) {
        w->t.refused++;
        return 0;
    }
    if (rc == EVS_ECONFLICT) {
        w->t.conflicts++;
        return 0;
    }
    fprintf(stderr, "bank: %s on account %d: %s\n", name, acct, evs_errmsg());
    w->failed = 1;
    return -1;
}

/* A transfer: sent by one account, then received by the other. The receipt is retried
 * until it is stored, since the money is on its way. */
static int transfer(worker *w, int from, int to, int64_t amount, int64_t n)
{
    char payload[256];
    snprintf(payload, sizeof payload,
             "{\"transfer\":\"s%d-t%d-%" PRId64 "\",\"to\":\"%d\",\"amount\":%" PRId64 "}", w->seed,
             w->index, n, to, amount);
    int rc = command(w, "SendTransfer", from, payload);
    if (rc <= 0)
        return rc;
    snprintf(payload, sizeof payload,
             "{\"transfer\":\"s%d-t%d-%" PRId64 "\",\"from\":\"%d\",\"amount\":%" PRId64 "}",
             w->seed, w->index, n, from, amount);
    while ((rc = command(w, "ReceiveTransfer", to, payload)) == 0)
        ;
    w->t.transfers += rc == 1;
    return rc;
}

static void *work(void *arg)
{
    worker *w = arg;
    uint64_t s = (uint64_t)w->seed * 7919u + (uint64_t)w->index * 104729u + 1;
    double end = now_s() + w->seconds;
    for (int64_t n = 0; !w->failed && now_s() < end; n++) {
        int a = (int)(next_rand(&s) % ACCOUNTS), b = (int)(next_rand(&s) % ACCOUNTS);
        int64_t amount = (int64_t)(next_rand(&s) % 150) + 1;
        char payload[64];
        snprintf(payload, sizeof payload, "{\"amount\":%" PRId64 "}", amount);
        switch (next_rand(&s) % 3) {
        case 0:
            if (command(w, "Deposit", a, payload) == 1)
                w->t.net += amount;
            break;
        case 1:
            if (command(w, "Withdraw", a, payload) == 1)
                w->t.net -= amount;
            break;
        default:
            if (a != b)
                transfer(w, a, b, amount, n);
        }
    }
    return NULL;
}

static int run(evs_domain *d, double seconds, int threads, int seed, const char *tally_path)
{
    worker w[64];
    pthread_t t[64];
    if (threads < 1 || threads > 64)
        return 2;
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){d, seed, i, seconds, {0}, 0};
        if (pthread_create(&t[i], NULL, work, &w[i]) != 0)
            return 1;
    }
    tally sum = {0};
    int failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        failed |= w[i].failed;
        sum.net += w[i].t.net, sum.commands += w[i].t.commands;
        sum.accepted += w[i].t.accepted, sum.refused += w[i].t.refused;
        sum.conflicts += w[i].t.conflicts, sum.retries += w[i].t.retries;
        sum.transfers += w[i].t.transfers;
    }
    FILE *f = fopen(tally_path, "w");
    if (!f || fprintf(f, "%" PRId64 "\n", sum.net) < 0 || fclose(f) != 0) {
        fprintf(stderr, "bank: cannot write %s\n", tally_path);
        return 1;
    }
    printf("run %d: %" PRId64 " commands, %" PRId64 " accepted, %" PRId64
           " refused (no funds), %" PRId64 " conflicts reported after %" PRId64 " retries, %" PRId64
           " transfers\n",
           seed, sum.commands, sum.accepted, sum.refused, sum.conflicts, sum.retries,
           sum.transfers);
    return failed;
}

/* ---- check -------------------------------------------------------------------------- */

typedef struct leg {
    char id[64];
    int64_t amount;
    int received; /* 0 sent, 1 received */
} leg;

static int leg_cmp(const void *a, const void *b)
{
    const leg *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : x->received - y->received;
}

/* Every transfer sent once and received once, for the same amount. */
static int check_transfers(leg *legs, size_t n)
{
    qsort(legs, n, sizeof *legs, leg_cmp);
    for (size_t i = 0; i < n; i += 2) {
        if (i + 1 >= n || strcmp(legs[i].id, legs[i + 1].id) != 0 || legs[i].received ||
            !legs[i + 1].received || legs[i].amount != legs[i + 1].amount) {
            fprintf(stderr, "bank: transfer %s is not one send and one receipt of one amount\n",
                    legs[i].id);
            return 1;
        }
    }
    printf("transfers: %zu, each sent and received once\n", n / 2);
    return 0;
}

/* The account number of an event's stream "account-N", or -1. */
static int account_number(const evs_event *ev)
{
    char buf[32];
    size_t p = strlen("account-"), n = ev->stream_len;
    if (n <= p || n - p >= sizeof buf)
        return -1;
    memcpy(buf, ev->stream + p, n - p);
    buf[n - p] = '\0';
    char *end;
    long v = strtol(buf, &end, 10);
    return *end || v < 0 || v >= ACCOUNTS ? -1 : (int)v;
}

/* Fold every account's events in log order: never below zero. Fills sums[]. */
static int replay_events(evs_store *s, int64_t *sums, leg **legs, size_t *leg_count)
{
    evs_query q = EVS_QUERY_INIT;
    q.category = "account";
    evs_cursor *c;
    if (evs_cursor_open(&c, s, &q) < 0)
        return 1;
    evs_event ev;
    int rc, failed = 0;
    size_t cap = 0;
    while ((rc = evs_cursor_next(&ev, c)) > 0 && !failed) {
        int64_t delta;
        int a = account_number(&ev);
        if (account_delta(&delta, &ev) < 0 || a < 0 || a >= ACCOUNTS)
            failed = 1;
        else if ((sums[a] += delta) < 0) {
            fprintf(stderr, "bank: account %d overdrawn at position %" PRId64 "\n", a, ev.pos);
            failed = 1;
        }
        char id[64];
        if (!failed && evs_json_get_string(id, sizeof id, ev.data, ev.data_len, "transfer") == 1) {
            if (*leg_count == cap) {
                cap = cap ? cap * 2 : 1024;
                leg *l = realloc(*legs, cap * sizeof *l);
                if (!l)
                    return 1;
                *legs = l;
            }
            leg *l = &(*legs)[(*leg_count)++];
            memcpy(l->id, id, sizeof id);
            l->amount = delta < 0 ? -delta : delta;
            l->received = delta > 0;
        }
    }
    evs_cursor_close(c);
    return failed || rc < 0;
}

/* The projection: a handler table summing balances, over durable consumer "balances". */
static int on_money(void *user, const evs_event *ev)
{
    int64_t *balances = user, delta;
    int a = account_number(ev);
    if (account_delta(&delta, ev) < 0 || a < 0 || a >= ACCOUNTS)
        return 1;
    balances[a] += delta;
    return 0;
}

static int project(evs_store *s, int64_t *balances)
{
    static const evs_event_handler table[] = {{"Deposited", on_money},
                                              {"Withdrawn", on_money},
                                              {"TransferSent", on_money},
                                              {"TransferReceived", on_money}};
    evs_reader *r;
    int64_t handled;
    if (evs_consumer_reset(s, "balances", 0) < 0 && evs_errcode() != EVS_ENOTFOUND)
        return 1;
    if (evs_reader_open(&r, s, "balances", table, 4, balances, NULL) < 0)
        return 1;
    int rc = evs_reader_poll(&handled, r, 0);
    if (evs_reader_close(r) < 0 || rc < 0)
        return 1;
    printf("projection: %" PRId64 " events handled\n", handled);
    return 0;
}

static int check(evs_store *s, evs_domain *d, int64_t net)
{
    int64_t sums[ACCOUNTS] = {0}, projected[ACCOUNTS] = {0}, total = 0;
    leg *legs = NULL;
    size_t leg_count = 0;
    int failed = replay_events(s, sums, &legs, &leg_count);
    failed = failed || check_transfers(legs, leg_count);
    free(legs);
    failed = failed || project(s, projected);
    for (int a = 0; a < ACCOUNTS && !failed; a++) {
        account acc;
        char id[16];
        snprintf(id, sizeof id, "%d", a);
        if (evs_aggregate_load(NULL, &acc, d, "account", id) < 0)
            failed = 1;
        else if (acc.balance != sums[a] || acc.balance != projected[a]) {
            fprintf(stderr,
                    "bank: account %d: state %" PRId64 ", events %" PRId64 ", projection %" PRId64
                    "\n",
                    a, acc.balance, sums[a], projected[a]);
            failed = 1;
        }
        total += acc.balance;
    }
    if (!failed && total != net) {
        fprintf(stderr, "bank: the accounts hold %" PRId64 ", the runs put in %" PRId64 "\n", total,
                net);
        failed = 1;
    }
    if (failed)
        fprintf(stderr, "bank: audit failed%s%s\n", evs_errcode() ? ": " : "", evs_errmsg());
    else
        printf("audit: %" PRId64 " in 100 accounts = deposits - withdrawals; no overdraft; "
               "projection = states = events\n",
               total);
    return failed;
}

static int64_t read_tallies(char **paths, int n, int *bad)
{
    int64_t net = 0;
    for (int i = 0; i < n; i++) {
        FILE *f = fopen(paths[i], "r");
        long long v;
        if (!f || fscanf(f, "%lld", &v) != 1)
            *bad = 1;
        else
            net += v;
        if (f)
            fclose(f);
    }
    return net;
}

int main(int argc, char **argv)
{
    int is_run = argc == 7 && !strcmp(argv[1], "run");
    if (!is_run && !(argc >= 4 && !strcmp(argv[1], "check"))) {
        fprintf(stderr, "usage: bank run DIR SECONDS THREADS SEED TALLY\n"
                        "       bank check DIR TALLY...\n");
        return 2;
    }
    evs_store *s;
    evs_domain *d = NULL;
    const evs_aggregate_type *types[] = {&account_type};
    if (evs_open(&s, argv[2], NULL) < 0 || evs_domain_open(&d, s, types, 1, NULL) < 0) {
        fprintf(stderr, "bank: %s\n", evs_errmsg());
        return 1;
    }
    int rc, bad = 0;
    if (is_run) {
        rc = run(d, strtod(argv[3], NULL), (int)strtol(argv[4], NULL, 10),
                 (int)strtol(argv[5], NULL, 10), argv[6]);
    } else {
        int64_t net = read_tallies(argv + 3, argc - 3, &bad);
        rc = bad ? 1 : check(s, d, net);
    }
    evs_domain_close(d);
    if (evs_close(s) < 0)
        rc = 1;
    return rc;
}
