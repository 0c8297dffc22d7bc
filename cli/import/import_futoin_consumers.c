/*
 * import_futoin_consumers.c - futoin-eventstream's registered consumers (table
 * evt_consumers: ident, last_evt_id) as evstore durable consumers, checkpointed where
 * futoin left them.
 *
 * futoin names a consumer "<user id>:<component>"; evstore names allow A-Z a-z 0-9 . _ -
 * only, so ':' becomes '.' and any other character '_' ("1:Security" -> "1.Security"),
 * and a name never starts with '-' (a leading '-' becomes '_': "-internal:BENCH" ->
 * "_internal.BENCH"), which commands would take for an option. Two idents that come out
 * the same stop the import before any event is written: a consumer is never merged
 * into another silently. A name the store has already is left as it is (an import run
 * again must not move a consumer back, after it consumed): the result lists it as
 * kept, with the checkpoint it has.
 *
 * last_evt_id is the id of the last event futoin delivered; the checkpoint is the
 * position of the last imported event whose id is at most that. A consumer that has
 * seen nothing of the import gets the store's head before the import, so it starts at
 * the first imported event (and not at events the store held before, which futoin
 * never delivered to it).
 */
#include "import_futoin.h"

#include "cli_common.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fu_consumers_free(fu_consumers *fc)
{
    for (size_t i = 0; i < fc->count; i++)
        free(fc->v[i].ident);
    free(fc->v);
    memset(fc, 0, sizeof *fc);
}

static int add(fu_consumers *fc, const char *ident, int64_t last, const char *path)
{
    if (fc->count == fc->cap) {
        size_t cap = fc->cap == 0 ? 16 : fc->cap * 2;
        fu_consumer *v = realloc(fc->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        fc->v = v;
        fc->cap = cap;
    }
    char *copy = strdup(ident);
    if (copy == NULL)
        return -1;
    fc->v[fc->count++] = (fu_consumer){copy, path, last, "", 0, false};
    return 0;
}

int fu_consumers_load(fu_consumers *fc, sqlite3 *db, const char *path)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT ident, last_evt_id FROM evt_consumers ORDER BY ident", -1,
                           &st, NULL) != SQLITE_OK) {
        cli_err("import", "%s: table evt_consumers: %s; nothing was imported", path,
                sqlite3_errmsg(db));
        return -1;
    }
    int rc;
    int result = 0;
    while (result == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *ident = (const char *)sqlite3_column_text(st, 0);
        size_t bad;
        if (ident == NULL || ident[0] == '\0' || !evs__utf8_validate(ident, strlen(ident), &bad)) {
            cli_err("import", "%s: table evt_consumers: a row has %s; nothing was imported", path,
                    ident == NULL || ident[0] == '\0' ? "no ident" : "an ident that is not UTF-8");
            result = -1;
        } else if (sqlite3_column_type(st, 1) != SQLITE_INTEGER ||
                   sqlite3_column_int64(st, 1) < 0) {
            cli_err("import",
                    "%s: table evt_consumers: consumer '%s' has a last_evt_id that is not an "
                    "event id (a whole number >= 0); nothing was imported",
                    path, ident);
            result = -1;
        } else if (add(fc, ident, sqlite3_column_int64(st, 1), path) < 0) {
            cli_err("import", "out of memory");
            result = -1;
        }
    }
    if (result == 0 && rc != SQLITE_DONE) {
        cli_err("import", "%s: table evt_consumers: %s; nothing was imported", path,
                sqlite3_errmsg(db));
        result = -1;
    }
    (void)sqlite3_finalize(st);
    return result;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

static int map_name(fu_consumer *c)
{
    size_t n = strlen(c->ident);
    if (n > EVS_MAX_CONSUMER_NAME_LEN) {
        cli_err("import",
                "%s: consumer '%.60s...' has an ident longer than evstore's %d-byte consumer "
                "names; nothing was imported",
                c->file, c->ident, EVS_MAX_CONSUMER_NAME_LEN);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        c->name[i] = name_char(c->ident[i]) ? c->ident[i] : c->ident[i] == ':' ? '.' : '_';
    if (c->name[0] == '-')
        c->name[0] = '_';
    c->name[n] = '\0';
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const fu_consumer *)a)->name, ((const fu_consumer *)b)->name);
}

static int cmp_last(const void *pa, const void *pb)
{
    const fu_consumer *a = pa, *b = pb;
    return (a->last_evt_id > b->last_evt_id) - (a->last_evt_id < b->last_evt_id);
}

/* Names must be unique; the same consumer from two files (the same database given
 * twice, say) counts once when it agrees on last_evt_id. */
static int check_unique(fu_consumers *fc)
{
    if (fc->count > 1)
        qsort(fc->v, fc->count, sizeof *fc->v, cmp_name);
    size_t kept = 0;
    for (size_t i = 0; i < fc->count; i++) {
        fu_consumer *prev = kept > 0 ? &fc->v[kept - 1] : NULL;
        fu_consumer *c = &fc->v[i];
        if (prev == NULL || strcmp(prev->name, c->name) != 0) {
            fc->v[kept++] = *c;
            continue;
        }
        if (strcmp(prev->ident, c->ident) != 0 || prev->last_evt_id != c->last_evt_id) {
            cli_err("import",
                    "consumers '%s' (%s, last_evt_id %lld) and '%s' (%s, last_evt_id %lld) "
                    "would both become evstore consumer '%s'; nothing was imported",
                    prev->ident, prev->file, (long long)prev->last_evt_id, c->ident, c->file,
                    (long long)c->last_evt_id, c->name);
            return -1;
        }
        free(c->ident);
    }
    fc->count = kept;
    return 0;
}

/* Names the store has already are kept as they are. */
static int mark_kept(fu_consumers *fc, evs_store *store)
{
    if (fc->count == 0)
        return 0;
    evs_consumer_iter *it;
    int rc = evs_consumers_open(&it, store);
    if (rc < 0) {
        cli_err("import", "cannot list the store's consumers: %s; nothing was imported",
                evs_errmsg());
        return -1;
    }
    evs_consumer_info info;
    while (evs_consumers_next(&info, it) > 0) {
        fu_consumer key;
        (void)snprintf(key.name, sizeof key.name, "%s", info.name);
        fu_consumer *c = bsearch(&key, fc->v, fc->count, sizeof *fc->v, cmp_name);
        if (c != NULL) {
            c->kept = true;
            c->checkpoint = info.checkpoint;
        }
    }
    evs_consumers_close(it);
    return 0;
}

int fu_consumers_prepare(fu_consumers *fc, evs_store *store, int64_t head)
{
    for (size_t i = 0; i < fc->count; i++)
        if (map_name(&fc->v[i]) < 0)
            return -1;
    if (check_unique(fc) < 0 || mark_kept(fc, store) < 0)
        return -1;
    if (fc->count > 1)
        qsort(fc->v, fc->count, sizeof *fc->v, cmp_last);
    fc->settled = 0;
    fc->last_pos = head;
    return 0;
}

static void settle(fu_consumer *c, int64_t pos)
{
    if (!c->kept)
        c->checkpoint = pos;
}

void fu_consumers_committed(void *arg, uint64_t id, int64_t pos)
{
    fu_consumers *fc = arg;
    /* A consumer whose last id lies below this event has seen everything up to the
     * previous one, and nothing after. */
    while (fc->settled < fc->count && (uint64_t)fc->v[fc->settled].last_evt_id < id)
        settle(&fc->v[fc->settled++], fc->last_pos);
    fc->last_pos = pos;
}

int fu_consumers_create(fu_consumers *fc, evs_store *store)
{
    while (fc->settled < fc->count)
        settle(&fc->v[fc->settled++], fc->last_pos);
    for (size_t i = 0; i < fc->count; i++) {
        const fu_consumer *c = &fc->v[i];
        if (c->kept)
            continue;
        evs_consumer *h = NULL;
        /* futoin kept no filter (its consumers name one at every poll): the first
         * subscribe chooses it. */
        int rc = evs_consumer_open_v2(&h, store, c->name, NULL, EVS_CONSUMER_ADOPT_NEXT);
        char msg[512] = "";
        if (rc == 0) {
            if (c->checkpoint > 0)
                rc = evs_consumer_ack(h, c->checkpoint);
            if (rc == 0)
                rc = evs_consumer_flush(h);
            if (rc < 0)
                (void)snprintf(msg, sizeof msg, "%s", evs_errmsg());
            evs_consumer_close(h);
        } else {
            (void)snprintf(msg, sizeof msg, "%s", evs_errmsg());
        }
        if (rc < 0) {
            cli_err("import",
                    "the events were imported, but consumer '%s' (futoin '%s') could not be "
                    "created at checkpoint %lld: %s",
                    c->name, c->ident, (long long)c->checkpoint, msg);
            return cli_exit_code(rc);
        }
    }
    return CLI_EXIT_OK;
}

static int put_str(evs__buf *out, const char *s)
{
    return evs__buf_append(out, s, strlen(s));
}

static int buf_write(void *ctx, const char *p, size_t len)
{
    return evs__buf_append(ctx, p, len);
}

static int put_json_str(evs__buf *out, const char *s)
{
    if (evs__buf_append(out, "\"", 1) < 0)
        return -1;
    if (evs__json_escape(s, strlen(s), buf_write, out) < 0)
        return -1;
    return evs__buf_append(out, "\"", 1);
}

int fu_consumers_result(const fu_consumers *fc, evs__buf *out)
{
    int rc = put_str(out, ",\"consumers\":[");
    for (size_t i = 0; rc == 0 && i < fc->count; i++) {
        char num[32];
        (void)snprintf(num, sizeof num, ",\"checkpoint\":%lld%s}", (long long)fc->v[i].checkpoint,
                       fc->v[i].kept ? ",\"kept\":true" : "");
        rc = put_str(out, i > 0 ? ",{\"consumer\":" : "{\"consumer\":");
        if (rc == 0)
            rc = put_json_str(out, fc->v[i].name);
        if (rc == 0)
            rc = put_str(out, ",\"ident\":");
        if (rc == 0)
            rc = put_json_str(out, fc->v[i].ident);
        if (rc == 0)
            rc = put_str(out, num);
    }
    return rc == 0 ? put_str(out, "]") : -1;
}
