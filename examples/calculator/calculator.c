/*
 * calculator.c - the calculator's commands and its apply, after the seed's
 * Calculator class: the commands check their argument and emit the payload as the
 * event; apply does the arithmetic, and refuses an equals or operator that has no
 * right side to compute with.
 */
#include "calculator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int press_digit(void *user, evs_command_ctx *ctx, const void *state, const char *payload,
                       size_t len)
{
    const calculator *c = state;
    char digit[8];
    (void)user;
    if (evs_json_get_string(digit, sizeof digit, payload, len, "digit") != 1 || digit[0] < '0' ||
        digit[0] > '9' || digit[1] != '\0')
        return evs_reject_argument("digit", "must be one character 0-9");
    if (strlen(c->op ? c->right : c->left) >= CALC_NUMBER_LEN)
        return evs_reject_precondition("a number has at most %d characters", CALC_NUMBER_LEN);
    return evs_command_emit(ctx, "DigitPressed", NULL, 0);
}

static int press_dot(void *user, evs_command_ctx *ctx, const void *state, const char *payload,
                     size_t len)
{
    const calculator *c = state;
    (void)payload, (void)len, (void)user;
    if (strlen(c->op ? c->right : c->left) >= CALC_NUMBER_LEN)
        return evs_reject_precondition("a number has at most %d characters", CALC_NUMBER_LEN);
    return evs_command_emit(ctx, "DotPressed", NULL, 0);
}

static int press_operator(void *user, evs_command_ctx *ctx, const void *state, const char *payload,
                          size_t len)
{
    char op[8];
    (void)state, (void)user;
    if (evs_json_get_string(op, sizeof op, payload, len, "operator") != 1 || op[1] != '\0' ||
        !strchr("+-*/", op[0]) || op[0] == '\0')
        return evs_reject_argument("operator", "must be one of + - * /");
    return evs_command_emit(ctx, "OperatorPressed", NULL, 0);
}

static int press_equals(void *user, evs_command_ctx *ctx, const void *state, const char *payload,
                        size_t len)
{
    (void)state, (void)payload, (void)len, (void)user;
    return evs_command_emit(ctx, "EqualsPressed", NULL, 0);
}

/* JavaScript's Number.toString for the results the seed prints: the shortest decimal
 * that reads back as the same double. */
static void number_to_string(char *buf, size_t cap, double v)
{
    for (int digits = 1; digits <= 17; digits++) {
        (void)snprintf(buf, cap, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static int compute(calculator *c)
{
    if (!c->left[0])
        return evs_reject_precondition("missing left side");
    if (!c->right[0])
        return evs_reject_precondition("missing right side");
    if (!c->op)
        return evs_reject_precondition("missing operator");
    double l = strtod(c->left, NULL), r = strtod(c->right, NULL);
    c->result = c->op == '+' ? l + r : c->op == '-' ? l - r : c->op == '*' ? l * r : l / r;
    number_to_string(c->left, sizeof c->left, c->result);
    return 0;
}

static void type_into(calculator *c, char ch)
{
    char *s = c->op ? c->right : c->left;
    size_t n = strlen(s);
    if (n < CALC_NUMBER_LEN) {
        s[n] = ch;
        s[n + 1] = '\0';
    }
}

static int is_type(const evs_event *ev, const char *type)
{
    return ev->type_len == strlen(type) && !memcmp(ev->type, type, ev->type_len);
}

static int apply(void *user, void *state, const evs_event *ev)
{
    calculator *c = state;
    char arg[8];
    (void)user;
    if (is_type(ev, "DigitPressed")) {
        if (evs_json_get_string(arg, sizeof arg, ev->data, ev->data_len, "digit") != 1)
            return evs_reject_argument("digit", "missing from the event");
        type_into(c, arg[0]);
    } else if (is_type(ev, "DotPressed")) {
        type_into(c, '.');
    } else if (is_type(ev, "OperatorPressed")) {
        if (evs_json_get_string(arg, sizeof arg, ev->data, ev->data_len, "operator") != 1)
            return evs_reject_argument("operator", "missing from the event");
        if (c->op) {
            int rc = compute(c);
            if (rc < 0)
                return rc;
        }
        c->op = arg[0];
        c->right[0] = '\0';
    } else if (is_type(ev, "EqualsPressed")) {
        return compute(c);
    }
    return 0;
}

static int init(void *user, void *state)
{
    calculator *c = state;
    (void)user;
    memcpy(c->left, "0", 2);
    return 0;
}

static const evs_command_def commands[] = {
    {"PressDigit", press_digit, NULL, 0},
    {"PressDot", press_dot, NULL, 0},
    {"PressOperator", press_operator, NULL, 0},
    {"PressEquals", press_equals, NULL, 0},
};

const evs_aggregate_type calculator_type = {
    EVS_AGGREGATE_TYPE_VERSION,
    "calculator",
    sizeof(calculator),
    init,
    apply,
    NULL,
    commands,
    sizeof commands / sizeof commands[0],
    1,  /* state_version */
    10, /* a snapshot every 10 events: the longer cases use one */
    NULL,
    NULL,
    NULL,
};
