/*
 * account.c - the account's commands and apply. Money leaves an account only through
 * Withdraw and SendTransfer, whose handlers check the balance; apply checks it again,
 * so no overdraft is stored even by a handler with a bug.
 */
#include "account.h"

#include <string.h>

static int amount_of(int64_t *amount, const char *json, size_t len)
{
    if (evs_json_get_int64(amount, json, len, "amount") != 1 || *amount <= 0 ||
        *amount > 1000000000)
        return evs_reject_argument("amount", "must be an integer from 1 to 1000000000");
    return 0;
}

static int deposit(void *user, evs_command_ctx *ctx, const void *state, const char *payload,
                   size_t len)
{
    int64_t amount;
    (void)state, (void)user;
    int rc = amount_of(&amount, payload, len);
    return rc < 0 ? rc : evs_command_emit(ctx, "Deposited", NULL, 0);
}

/* Money out: the balance must cover it. */
static int money_out(evs_command_ctx *ctx, const account *a, const char *payload, size_t len,
                     const char *type)
{
    int64_t amount;
    int rc = amount_of(&amount, payload, len);
    if (rc < 0)
        return rc;
    if (a->balance < amount)
        return evs_reject_precondition("balance %lld is less than %lld", (long long)a->balance,
                                       (long long)amount);
    return evs_command_emit(ctx, type, NULL, 0);
}

static int withdraw(void *user, evs_command_ctx *ctx, const void *state, const char *payload,
                    size_t len)
{
    (void)user;
    return money_out(ctx, state, payload, len, "Withdrawn");
}

static int has_transfer(const char *payload, size_t len, const char *party)
{
    char buf[128];
    return evs_json_get_string(buf, sizeof buf, payload, len, "transfer") == 1 &&
           evs_json_get_string(buf, sizeof buf, payload, len, party) == 1;
}

static int send_transfer(void *user, evs_command_ctx *ctx, const void *state, const char *payload,
                         size_t len)
{
    (void)user;
    if (!has_transfer(payload, len, "to"))
        return evs_reject_argument("transfer", "a transfer needs 'transfer' and 'to'");
    return money_out(ctx, state, payload, len, "TransferSent");
}

static int receive_transfer(void *user, evs_command_ctx *ctx, const void *state,
                            const char *payload, size_t len)
{
    int64_t amount;
    (void)state, (void)user;
    if (!has_transfer(payload, len, "from"))
        return evs_reject_argument("transfer", "a transfer needs 'transfer' and 'from'");
    int rc = amount_of(&amount, payload, len);
    return rc < 0 ? rc : evs_command_emit(ctx, "TransferReceived", NULL, 0);
}

int account_delta(int64_t *delta, const evs_event *ev)
{
    static const char *const in[] = {"Deposited", "TransferReceived"};
    static const char *const out[] = {"Withdrawn", "TransferSent"};
    int sign = 0;
    for (int i = 0; i < 2; i++) {
        if (ev->type_len == strlen(in[i]) && !memcmp(ev->type, in[i], ev->type_len))
            sign = 1;
        if (ev->type_len == strlen(out[i]) && !memcmp(ev->type, out[i], ev->type_len))
            sign = -1;
    }
    int64_t amount;
    if (sign == 0 || evs_json_get_int64(&amount, ev->data, ev->data_len, "amount") != 1)
        return -1;
    *delta = sign * amount;
    return 0;
}

static int apply(void *user, void *state, const evs_event *ev)
{
    account *a = state;
    int64_t delta;
    (void)user;
    if (account_delta(&delta, ev) < 0)
        return evs_reject_argument("amount", "event %lld is not an account's",
                                   (long long)ev->version);
    if (a->balance + delta < 0)
        return evs_reject_precondition("an overdraft at version %lld", (long long)ev->version);
    a->balance += delta;
    return 0;
}

static const evs_command_def commands[] = {
    {"Deposit", deposit, NULL, 0},
    {"Withdraw", withdraw, NULL, 0},
    {"SendTransfer", send_transfer, NULL, 0},
    {"ReceiveTransfer", receive_transfer, NULL, 0},
};

const evs_aggregate_type account_type = {
    EVS_AGGREGATE_TYPE_VERSION,
    "account",
    sizeof(account),
    NULL,
    apply,
    NULL,
    commands,
    sizeof commands / sizeof commands[0],
    1,  /* state_version */
    25, /* snapshots under concurrency too */
    NULL,
    NULL,
    NULL,
};
