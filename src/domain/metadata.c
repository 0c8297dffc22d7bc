/*
 * metadata.c - who did what and why: the actor checks (id required, roles) and the
 * metadata object written into every event a command appends.
 */
#include "domain_internal.h"

static int write_to_buf(void *ctx, const char *p, size_t len)
{
    return evs__buf_append(ctx, p, len);
}

int evs__json_put_string(evs__buf *out, const char *s, size_t len)
{
    int rc = evs__buf_append(out, "\"", 1);
    if (rc == 0)
        rc = evs__json_escape(s, len, write_to_buf, out);
    if (rc == 0)
        rc = evs__buf_append(out, "\"", 1);
    return rc < 0 ? evs__seterr(EVS_ENOMEM, "out of memory writing an event's metadata") : 0;
}

static int check_text(const char *what, const char *s, size_t max)
{
    size_t n = strlen(s), bad;
    if (n > max)
        return evs__seterr(EVS_EINVAL, "%s is %zu bytes, more than %zu", what, n, max);
    if (!evs__utf8_validate(s, n, &bad))
        return evs__seterr(EVS_EINVAL, "%s: invalid UTF-8 at byte %zu", what, bad);
    return 0;
}

int evs__actor_check(const evs_actor *actor)
{
    if (!actor || !actor->id || !*actor->id)
        return evs__seterr(EVS_EINVAL, "the actor has no id");
    int rc = check_text("actor.id", actor->id, 256);
    if (rc == 0 && actor->name)
        rc = check_text("actor.name", actor->name, 1024);
    if (rc == 0 && actor->tenant)
        rc = check_text("actor.tenant", actor->tenant, 1024);
    for (size_t i = 0; rc == 0 && i < actor->role_count; i++)
        if (!actor->roles || !actor->roles[i])
            rc = evs__seterr(EVS_EINVAL, "actor.roles[%zu] is NULL", i);
    return rc;
}

bool evs__actor_allowed(const evs_actor *actor, const evs_command_def *def)
{
    if (def->role_count == 0)
        return true;
    for (size_t i = 0; i < def->role_count; i++)
        for (size_t k = 0; k < actor->role_count; k++)
            if (!strcmp(def->roles[i], actor->roles[k]))
                return true;
    return false;
}

/* ,"key":"value" (value NULL: nothing). */
static int put_member(evs__buf *out, const char *key, const char *value, bool first)
{
    if (!value)
        return 0;
    int rc = first ? 0 : evs__buf_append(out, ",", 1);
    if (rc == 0)
        rc = evs__json_put_string(out, key, strlen(key));
    if (rc == 0)
        rc = evs__buf_append(out, ":", 1);
    if (rc == 0)
        rc = evs__json_put_string(out, value, strlen(value));
    return rc;
}

int evs__command_metadata(evs__buf *out, const evs_actor *actor, const char *command,
                          const char *command_id, const char *correlation_id,
                          const char *causation_id)
{
    int rc = check_text("correlation_id", correlation_id, 256);
    if (rc == 0)
        rc = check_text("causation_id", causation_id, 256);
    if (rc == 0)
        rc = evs__buf_append(out, "{\"actor\":{", 10);
    if (rc == 0)
        rc = put_member(out, "id", actor->id, true);
    if (rc == 0)
        rc = put_member(out, "name", actor->name, false);
    if (rc == 0)
        rc = put_member(out, "tenant", actor->tenant, false);
    if (rc == 0)
        rc = evs__buf_append(out, "}", 1);
    if (rc == 0)
        rc = put_member(out, "command", command, false);
    if (rc == 0)
        rc = put_member(out, "command_id", command_id, false);
    if (rc == 0)
        rc = put_member(out, "correlation_id", correlation_id, false);
    if (rc == 0)
        rc = put_member(out, "causation_id", causation_id, false);
    if (rc == 0)
        rc = evs__buf_append(out, "}", 1);
    return rc;
}
