/*
 * tenant_inflight.c - appends in flight per tenant (--max-inflight-appends): one
 * tenant's writers cannot take every connection's thread and the group commit for
 * themselves; past the limit a request gets 429 with Retry-After at once, before any
 * work. Counted from dispatch (after the token is checked and the tenant's store is
 * found, so only real tenants get a counter) to the handler's return.
 */
#include "server.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct inflight_slot {
    char tenant[EVS_MAX_TENANT_NAME_LEN + 1];
    unsigned count;
};

/* One table for the process: one server per process. Tenants are few and a lookup is
 * a short scan under the lock, as in the tenant registry. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct inflight_slot *slots;
static size_t slot_count, slot_cap;

static struct inflight_slot *find_or_add(const char *tenant)
{
    for (size_t i = 0; i < slot_count; i++) {
        if (strcmp(slots[i].tenant, tenant) == 0)
            return &slots[i];
    }
    if (slot_count == slot_cap) {
        size_t cap = slot_cap != 0 ? slot_cap * 2 : 16;
        struct inflight_slot *p = realloc(slots, cap * sizeof *p);
        if (p == NULL)
            return NULL;
        slots = p;
        slot_cap = cap;
    }
    struct inflight_slot *s = &slots[slot_count++];
    memcpy(s->tenant, tenant, strlen(tenant) + 1);
    s->count = 0;
    return s;
}

bool srv_inflight_enter(srv_req *r, int *reply_rc)
{
    unsigned max = r->s->limits.inflight_max;
    pthread_mutex_lock(&mu);
    struct inflight_slot *s = find_or_add(r->tenant);
    bool admitted = s != NULL && s->count < max;
    if (admitted)
        s->count++;
    pthread_mutex_unlock(&mu);
    if (s == NULL) {
        *reply_rc =
            srv_error_retry(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
        return false;
    }
    if (!admitted) {
        *reply_rc = srv_error_retry(r, MHD_HTTP_TOO_MANY_REQUESTS, "too_many_requests",
                                    "tenant '%s' has %u appends in flight, its limit "
                                    "(--max-inflight-appends); retry later",
                                    r->tenant, max);
        return false;
    }
    r->inflight_held = true;
    return true;
}

void srv_inflight_leave(srv_req *r)
{
    if (!r->inflight_held)
        return;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < slot_count; i++) {
        if (strcmp(slots[i].tenant, r->tenant) == 0 && slots[i].count > 0)
            slots[i].count--;
    }
    pthread_mutex_unlock(&mu);
    r->inflight_held = false;
}
