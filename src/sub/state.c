/*
 * state.c - evs_state: a read model's state document and the position it reflects,
 * held in memory and kept in a state file (state_file.c has the bytes).
 *
 * What it decides: which state an application starts from. The file's, when it was
 * written for the same model version; otherwise the initial state at position 0, which
 * makes the application replay the log into a fresh read model. A damaged file is an
 * error, never silently replaced: the caller chooses to rebuild (EVS_STATE_REPLAY).
 */
#include "sub_internal.h"

#include <inttypes.h>
#include <limits.h>

struct evs_state {
    char *path;
    char *json; /* evs__alloc'd; json_len bytes */
    size_t json_len;
    int64_t pos;
    uint32_t model_version;
    uint32_t file_model_version;
    evs_state_origin origin;
};

/* Room for PATH.tmp within PATH_MAX. */
#define MAX_STATE_PATH_LEN (PATH_MAX - 8)

static int check_json(const char *json, size_t len, const char *what)
{
    if (!json)
        return evs__seterr(EVS_EINVAL, "%s is NULL", what);
    if (evs_json_validate(json, len) < 0)
        return evs__prefixerr("%s is not valid JSON", what);
    return 0;
}

static int check_open_args(const char *path, const char *initial, size_t initial_len,
                           unsigned int flags)
{
    if (!path || !*path)
        return evs__seterr(EVS_EINVAL, "evs_state_open: path is %s", path ? "empty" : "NULL");
    if (strnlen(path, MAX_STATE_PATH_LEN + 1) > MAX_STATE_PATH_LEN)
        return evs__seterr(EVS_EINVAL, "evs_state_open: path is longer than %d bytes",
                           MAX_STATE_PATH_LEN);
    if (flags & ~EVS_STATE_REPLAY)
        return evs__seterr(EVS_EINVAL, "evs_state_open: unknown flags 0x%x",
                           flags & ~EVS_STATE_REPLAY);
    return check_json(initial, initial_len, "evs_state_open: initial_json");
}

/* Make the initial state the current one. */
static int start_fresh(evs_state *st, const char *initial, size_t initial_len,
                       evs_state_origin origin)
{
    st->json = evs__alloc(initial_len ? initial_len : 1);
    if (!st->json)
        return evs__seterr(EVS_ENOMEM, "out of memory opening state '%s'", st->path);
    memcpy(st->json, initial, initial_len);
    st->json_len = initial_len;
    st->pos = 0;
    st->origin = origin;
    return 0;
}

static int load(evs_state *st, const char *initial, size_t initial_len, unsigned int flags)
{
    if (flags & EVS_STATE_REPLAY)
        return start_fresh(st, initial, initial_len, EVS_STATE_REPLAYING);
    evs__state_doc doc;
    int rc = evs__state_file_read(st->path, &doc);
    if (rc == EVS_ENOTFOUND)
        return start_fresh(st, initial, initial_len, EVS_STATE_NEW);
    if (rc < 0)
        return rc;
    st->file_model_version = doc.model_version;
    if (doc.model_version != st->model_version) {
        evs__free(doc.json);
        return start_fresh(st, initial, initial_len, EVS_STATE_MODEL_CHANGED);
    }
    st->json = doc.json;
    st->json_len = doc.json_len;
    st->pos = doc.pos;
    st->origin = EVS_STATE_LOADED;
    return 0;
}

int evs_state_open(evs_state **out, const char *path, uint32_t model_version,
                   const char *initial_json, size_t initial_len, unsigned int flags)
{
    if (!out)
        return evs__seterr(EVS_EMISUSE, "evs_state_open: out is NULL");
    *out = NULL;
    int rc = check_open_args(path, initial_json, initial_len, flags);
    if (rc < 0)
        return rc;
    evs_state *st = evs__calloc(1, sizeof *st);
    if (!st || !(st->path = evs__strndup(path, strlen(path)))) {
        evs__free(st);
        return evs__seterr(EVS_ENOMEM, "out of memory opening state '%s'", path);
    }
    st->model_version = model_version;
    rc = load(st, initial_json, initial_len, flags);
    if (rc < 0) {
        evs_state_close(st);
        return rc;
    }
    *out = st;
    evs__clearerr();
    return 0;
}

void evs_state_get(evs_state_info *out, const evs_state *st)
{
    memset(out, 0, sizeof *out);
    if (!st)
        return;
    out->json = st->json;
    out->json_len = st->json_len;
    out->pos = st->pos;
    out->model_version = st->model_version;
    out->origin = st->origin;
    out->file_model_version = st->file_model_version;
    out->path = st->path;
}

int evs_state_save(evs_state *st, const char *json, size_t json_len, int64_t pos)
{
    if (!st)
        return evs__seterr(EVS_EMISUSE, "evs_state_save: state is NULL");
    if (pos < 0)
        return evs__seterr(EVS_EINVAL, "state file '%s': position %" PRId64 " is negative",
                           st->path, pos);
    int rc = check_json(json, json_len, "the state to save");
    if (rc < 0)
        return evs__prefixerr("state file '%s'", st->path);
    /* Copied before the file changes, so running out of memory changes nothing. */
    char *copy = evs__alloc(json_len ? json_len : 1);
    if (!copy)
        return evs__seterr(EVS_ENOMEM, "out of memory saving state file '%s'", st->path);
    memcpy(copy, json, json_len);
    rc = evs__state_file_write(st->path, json, json_len, pos, st->model_version);
    if (rc < 0) {
        evs__free(copy);
        return rc;
    }
    evs__free(st->json);
    st->json = copy;
    st->json_len = json_len;
    st->pos = pos;
    evs__clearerr();
    return 0;
}

void evs_state_close(evs_state *st)
{
    if (!st)
        return;
    evs__free(st->json);
    evs__free(st->path);
    evs__free(st);
}
