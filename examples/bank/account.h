/*
 * account.h - a bank account as an aggregate type: deposits, withdrawals, and the two
 * halves of a transfer (sent from one account, received by another: two aggregates,
 * two commands). A balance never goes below zero.
 */
#ifndef ACCOUNT_H
#define ACCOUNT_H

#include "evstore_domain.h"

typedef struct account {
    int64_t balance;
} account;

extern const evs_aggregate_type account_type;

/* Add the amount an event of this type moves to *balance (negative for money out);
 * 0, or -1 for a type that is not the account's. Shared by apply, the projection and
 * the check. */
int account_delta(int64_t *delta, const evs_event *ev);

#endif
