/*
 * main.c - the seed's calculator test, in C: the five cases of its README, run as
 * commands against a store in DIR, with a tracer counting commands and events per
 * command-event pair, as the seed's ConsoleTracer does.
 *
 *   calculator DIR     run the cases; exit 0 when every result is the seed's
 */
#include "calculator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the tracer: counts per "command-event" key ---------------------------------- */

#define MAX_KEYS 16

typedef struct stats {
    char key[MAX_KEYS][64];
    long count[MAX_KEYS];
    int keys;
    long commands, events, refused;
} stats;

static void count_key(stats *s, const char *command, const char *event)
{
    char key[64];
    (void)snprintf(key, sizeof key, "%s-%s", command, event);
    int i = 0;
    while (i < s->keys && strcmp(s->key[i], key) != 0)
        i++;
    if (i == s->keys) {
        if (s->keys == MAX_KEYS)
            return;
        memcpy(s->key[s->keys++], key, sizeof key);
    }
    s->count[i]++;
}

static void on_command(void *user, const evs_command_trace *t)
{
    stats *s = user;
    s->commands++;
    if (t->rc != 0)
        s->refused++;
    for (size_t i = 0; i < t->event_count; i++) {
        s->events++;
        count_key(s, t->command, t->events[i].type);
    }
}

static long count_of(const stats *s, const char *key)
{
    for (int i = 0; i < s->keys; i++)
        if (!strcmp(s->key[i], key))
            return s->count[i];
    return 0;
}

/* ---- the cases -------------------------------------------------------------------- */

static const evs_actor actor1 = {"user1", "user1", "tenant1", NULL, 0};

/* Press the keys of `keys` on calculator `id`, each as one command with the version
 * the previous one returned as the expected version (as the seed's helper does). */
static int press(calculator *out, evs_domain *d, const char *id, const char *keys)
{
    evs_command_result res;
    evs_command_opts opts = EVS_COMMAND_OPTS_INIT;
    for (const char *k = keys; *k; k++) {
        char payload[64];
        const char *command = "PressDigit";
        if (*k >= '0' && *k <= '9') {
            (void)snprintf(payload, sizeof payload, "{\"digit\":\"%c\"}", *k);
        } else if (*k == '.') {
            command = "PressDot";
            (void)snprintf(payload, sizeof payload, "{}");
        } else if (*k == '=') {
            command = "PressEquals";
            (void)snprintf(payload, sizeof payload, "{}");
        } else {
            command = "PressOperator";
            (void)snprintf(payload, sizeof payload, "{\"operator\":\"%c\"}", *k);
        }
        int rc = evs_command(&res, out, d, &actor1, command, id, payload, strlen(payload),
                             k == keys ? NULL : &opts);
        if (rc < 0) {
            fprintf(stderr, "calculator %s: key '%c' of %s: %s\n", id, *k, keys, evs_errmsg());
            return rc;
        }
        opts.expected_version = res.version;
    }
    return 0;
}

typedef struct calc_case {
    const char *id;
    const char *keys;
    const char *want; /* the seed's expected result: exact, or to two places */
    int two_places;
} calc_case;

static const calc_case cases[] = {
    {"c1", "1+2-3*5=", "0", 0},
    {"c2", "4*4+21-16*3=", "63", 0},
    {"c3", "4*4+21-16*3===", "567", 0},
    {"c4", "1.5+2.0-11.22+.33=", "-7.39", 1},
    {"c5", "5.23/.33*2=", "31.6969696969697", 0},
};

static int run_case(evs_domain *d, const calc_case *c)
{
    calculator calc;
    if (press(&calc, d, c->id, c->keys) < 0)
        return 1;
    char got[64];
    int ok;
    if (c->two_places) {
        (void)snprintf(got, sizeof got, "%.2f", calc.result);
        ok = !strcmp(got, c->want);
    } else {
        (void)snprintf(got, sizeof got, "%s", calc.left);
        ok = calc.result == strtod(c->want, NULL);
    }
    printf("%-20s = %-18s %s\n", c->keys, got, ok ? "ok" : "WRONG");
    if (!ok)
        fprintf(stderr, "calculator %s: %s gave %.17g, want %s\n", c->id, c->keys, calc.result,
                c->want);
    return !ok;
}

/* A bad digit names its field; an equals with nothing to compute is a precondition. */
static int run_refusals(evs_domain *d)
{
    evs_command_result res;
    int failed = 0;
    int rc = evs_command(&res, NULL, d, &actor1, "PressDigit", "c6", "{\"digit\":\"x\"}", 13, NULL);
    if (rc != EVS_EARGUMENT || strcmp(res.field, "digit") != 0) {
        fprintf(stderr, "calculator: a digit 'x' gave %s (field '%s'), want EVS_EARGUMENT\n",
                evs_errname(rc), res.field);
        failed = 1;
    }
    rc = evs_command(&res, NULL, d, &actor1, "PressEquals", "c6", "{}", 2, NULL);
    if (rc != EVS_EPRECONDITION || !strstr(evs_errmsg(), "missing right side")) {
        fprintf(stderr, "calculator: '=' first gave %s (%s), want EVS_EPRECONDITION\n",
                evs_errname(rc), evs_errmsg());
        failed = 1;
    }
    printf("refusals: %s\n", failed ? "WRONG" : "ok");
    return failed;
}

/* The tracer saw one command and one event per key, keyed as the seed keys them. */
static int check_stats(const stats *s)
{
    long keys = 0, digits = 0, dots = 0, ops = 0, equals = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (const char *k = cases[i].keys; *k; k++, keys++)
            *k >= '0' && *k <= '9' ? digits++ : *k == '.' ? dots++ : *k == '=' ? equals++ : ops++;
    printf("tracer: %ld commands (%ld refused), %ld events: {\"PressDigit-DigitPressed\":%ld,"
           "\"PressDot-DotPressed\":%ld,\"PressOperator-OperatorPressed\":%ld,"
           "\"PressEquals-EqualsPressed\":%ld}\n",
           s->commands, s->refused, s->events, count_of(s, "PressDigit-DigitPressed"),
           count_of(s, "PressDot-DotPressed"), count_of(s, "PressOperator-OperatorPressed"),
           count_of(s, "PressEquals-EqualsPressed"));
    int ok = s->commands == keys + 2 && s->refused == 2 && s->events == keys &&
             count_of(s, "PressDigit-DigitPressed") == digits &&
             count_of(s, "PressDot-DotPressed") == dots &&
             count_of(s, "PressOperator-OperatorPressed") == ops &&
             count_of(s, "PressEquals-EqualsPressed") == equals;
    if (!ok)
        fprintf(stderr, "calculator: the tracer's counts differ from the keys pressed (%ld)\n",
                keys);
    return !ok;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: calculator DIR\n");
        return 2;
    }
    evs_store *store;
    if (evs_open(&store, argv[1], NULL) < 0) {
        fprintf(stderr, "calculator: %s\n", evs_errmsg());
        return 1;
    }
    stats s = {0};
    evs_tracer tracer = {on_command, NULL, NULL, &s};
    evs_domain_opts opts = EVS_DOMAIN_OPTS_INIT;
    opts.tracer = &tracer;
    const evs_aggregate_type *types[] = {&calculator_type};
    evs_domain *d;
    int failed = 0;
    if (evs_domain_open(&d, store, types, 1, &opts) < 0) {
        fprintf(stderr, "calculator: %s\n", evs_errmsg());
        failed = 1;
    } else {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            failed |= run_case(d, &cases[i]);
        failed |= run_refusals(d);
        failed |= check_stats(&s);
        evs_domain_close(d);
    }
    if (evs_close(store) < 0)
        failed = 1;
    return failed;
}
