/*
 * main.c - the bookmarks service of tiny-event-sourcing's README, in C on evstore.
 *
 *   bookmarks DATA add URL [TAG...]            record a `bookmark` event (the POST)
 *   bookmarks DATA run [--model N] [--replay]  fetch page info for new bookmarks, bring
 *                                              the read model up to date, print it
 *
 * DATA holds the event store (DATA/store) and the read model's state file
 * (DATA/by-url.state). `run` starts two push consumers and waits until both have caught
 * up: the info fetcher (a durable consumer of `bookmark` events that appends `info`
 * events, fetcher.c) and the read model "by-url" (a read model over the `bookmark`
 * category that keeps bookmarks by URL in its state file, model.c). A real service
 * would keep both running and answer queries from the model; here each run catches up
 * and stops, so that a script can show what happens between runs.
 *
 * Changing the read model's code: --model 2 selects the second version of the
 * projection. Its state file says it was built by version 1, so evstore starts it from
 * the initial state and the whole log is replayed into it. --replay does the same for
 * the current version (after a bug fix, or to get past a damaged state file).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkdir, open_memstream */
#endif
#include "evstore.h"
#include "fetcher.h"
#include "json.h"
#include "model.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CATCH_UP_MS 30000

static const char usage[] = "usage: bookmarks DATA add URL [TAG...]\n"
                            "       bookmarks DATA run [--model 1|2] [--replay]\n";

static int fail(const char *what)
{
    fprintf(stderr, "bookmarks: %s: %s\n", what, evs_errmsg());
    return 1;
}

static int open_store(const char *data, evs_store **store)
{
    if (mkdir(data, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "bookmarks: cannot create '%s': %s\n", data, strerror(errno));
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/store", data);
    return evs_open(store, path, NULL) < 0 ? fail("opening the store") : 0;
}

/* One stream per bookmarked URL: "bookmark-" and a hash of it (FNV-1a). */
static void stream_for(const char *url, char *buf, size_t cap)
{
    uint32_t h = 2166136261u;
    for (const char *p = url; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    snprintf(buf, cap, "bookmark-%08" PRIx32, h);
}

static int cmd_add(evs_store *store, int argc, char **argv)
{
    if (argc < 1) {
        fputs(usage, stderr);
        return 2;
    }
    char *data = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&data, &len);
    if (!out)
        return 1;
    fputs("{\"url\":", out);
    json_put_string(out, argv[0]);
    fputs(",\"tags\":[", out);
    for (int i = 1; i < argc; i++) {
        fputs(i > 1 ? "," : "", out);
        json_put_string(out, argv[i]);
    }
    fputs("]}", out);
    if (fclose(out) != 0)
        return 1;
    char stream[32];
    stream_for(argv[0], stream, sizeof stream);
    evs_event_in ev = {"bookmark", data, len, NULL, 0, NULL, 0};
    evs_append_result r;
    int rc = evs_append(&r, store, stream, EVS_EXPECT_ANY, &ev, 1);
    free(data);
    if (rc < 0)
        return fail("appending the bookmark");
    printf("bookmarked %s at position %" PRId64 "\n", argv[0], r.first_pos);
    return 0;
}

static void say_where_it_starts(const evs_state_info *info)
{
    switch (info->origin) {
    case EVS_STATE_LOADED:
        printf("read model: model %" PRIu32 ", loaded at position %" PRId64 "\n",
               info->model_version, info->pos);
        break;
    case EVS_STATE_NEW:
        printf("read model: model %" PRIu32 ", new: building it from the first event\n",
               info->model_version);
        break;
    case EVS_STATE_REPLAYING:
        printf("read model: model %" PRIu32 ", --replay: rebuilding it from the first event\n",
               info->model_version);
        break;
    case EVS_STATE_MODEL_CHANGED:
        printf("read model: model changed from %" PRIu32 " to %" PRIu32
               ": rebuilding it from the first event\n",
               info->file_model_version, info->model_version);
        break;
    }
}

/* The read model "by-url", resumed from its state file into m, pushing. */
static int start_projection(evs_store *store, const char *data, model *m, bool replay,
                            evs_push **out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/by-url.state", data);
    evs_state *st;
    int rc = evs_state_open(&st, path, (uint32_t)m->version, MODEL_INITIAL, strlen(MODEL_INITIAL),
                            replay ? EVS_STATE_REPLAY : 0);
    if (rc == EVS_ECORRUPT || rc == EVS_EFORMAT) {
        fprintf(stderr, "bookmarks: %s\n", evs_errmsg());
        fprintf(stderr, "bookmarks: run with --replay to rebuild the read model from the log\n");
        return 1;
    }
    if (rc < 0)
        return fail("opening the read model's state");
    evs_query q = EVS_QUERY_INIT;
    q.category = "bookmark";
    evs_readmodel *rm;
    if (evs_readmodel_open(&rm, store, "by-url", &q, st) < 0)
        return fail("opening the read model");
    evs_state_info info;
    evs_state_get(&info, evs_readmodel_state(rm));
    say_where_it_starts(&info);
    if (!model_load(m, info.json, info.json_len)) {
        fprintf(stderr, "bookmarks: '%s' does not hold a bookmarks read model\n", path);
        evs_readmodel_close(rm);
        return 1;
    }
    /* Saved once a second while events come, and when the push is stopped. */
    return evs_push_readmodel(out, rm, model_apply, model_dump, m, 1000) < 0
               ? fail("starting the read model")
               : 0;
}

static int start_fetcher(evs_store *store, fetcher *f, evs_push **out)
{
    const char *types[] = {"bookmark"};
    evs_query q = EVS_QUERY_INIT;
    q.types = types;
    q.type_count = 1;
    evs_consumer *c;
    if (evs_consumer_open(&c, store, "info-fetcher", &q) < 0)
        return fail("opening the info fetcher");
    return evs_push_consumer(out, c, fetcher_handle, f) < 0 ? fail("starting the info fetcher") : 0;
}

/* Wait until p has dealt with everything up to the head as it is now. */
static int catch_up(evs_store *store, evs_push *p, const char *who)
{
    int rc = evs_push_wait(p, evs_head(store), CATCH_UP_MS);
    if (rc == 1)
        return 0;
    if (rc == 0)
        fprintf(stderr, "bookmarks: %s did not catch up within %d ms\n", who, CATCH_UP_MS);
    else
        fprintf(stderr, "bookmarks: %s: %s\n", who, evs_errmsg());
    return 1;
}

static int parse_run_args(int argc, char **argv, int *version, bool *replay)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--replay") == 0) {
            *replay = true;
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc &&
                   (strcmp(argv[i + 1], "1") == 0 || strcmp(argv[i + 1], "2") == 0)) {
            *version = argv[++i][0] - '0';
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    return 0;
}

static int cmd_run(evs_store *store, const char *data, int argc, char **argv)
{
    int version = 1;
    bool replay = false;
    int code = parse_run_args(argc, argv, &version, &replay);
    if (code)
        return code;
    model m;
    model_init(&m, version);
    fetcher f = {store, 0};
    evs_push *projection = NULL, *fetch = NULL;
    code = start_projection(store, data, &m, replay, &projection);
    if (code == 0)
        code = start_fetcher(store, &f, &fetch);
    /* The fetcher first: the info events it appends are part of what the read model
     * must then catch up with. */
    if (code == 0)
        code = catch_up(store, fetch, "the info fetcher");
    if (code == 0)
        code = catch_up(store, projection, "the read model");
    evs_push_status st;
    if (evs_push_close(NULL, fetch) < 0 && code == 0)
        code = fail("the info fetcher");
    if (evs_push_close(&st, projection) < 0 && code == 0)
        code = fail("saving the read model");
    if (code == 0) {
        const char *json;
        size_t len;
        printf("info fetcher: %ld page info%s appended\n", f.appended, f.appended == 1 ? "" : "s");
        printf("read model: %lld event%s read, up to date at position %" PRId64 "\n", m.events,
               m.events == 1 ? "" : "s", st.position);
        if (model_dump(&m, &json, &len) == 0)
            printf("%.*s\n", (int)len, json);
    }
    model_free(&m);
    return code;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fputs(usage, stderr);
        return 2;
    }
    const char *data = argv[1], *cmd = argv[2];
    if (strcmp(cmd, "add") != 0 && strcmp(cmd, "run") != 0) {
        fputs(usage, stderr);
        return 2;
    }
    evs_store *store;
    int code = open_store(data, &store);
    if (code)
        return code;
    if (strcmp(cmd, "add") == 0)
        code = cmd_add(store, argc - 3, argv + 3);
    else
        code = cmd_run(store, data, argc - 3, argv + 3);
    if (evs_close(store) < 0 && code == 0)
        code = fail("closing the store");
    return code;
}
