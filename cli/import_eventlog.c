/*
 * import_eventlog.c - `evstore import --format eventlog`: the daily log files of
 * @rymdtiden/eventlog, named by a template such as data/events-%y-%m-%d.log (%y the
 * four-digit year, %m and %d two-digit month and day). Each line is
 *   {"event":{...},"meta":{"id":"..."}}
 *
 * The files are walked in date order, whatever order the directory lists them in. An
 * eventlog position is the day (YYYYMMDD) times 10^8 plus the event's 0-based line
 * number in that day's file (its README: the first event of 31 January 1984 is
 * 1984013100000000). The event object is stored as the data, byte for byte; its "type"
 * (when it is a string) is the type, else "event"; the eventlog id and position go to
 * the metadata as {"eventlog_id":...,"eventlog_pos":...}, since the ids are not UUIDs.
 */
#include "import.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One log file found for a template. */
struct day_file {
    char *path;
    int64_t day;  /* YYYYMMDD */
    size_t order; /* template index, then name, for files of the same day */
};

/* Does `name` match the template's file part? On success *day is YYYYMMDD. */
static bool match_name(const char *pat, const char *name, int64_t *day)
{
    int64_t y = -1, m = -1, d = -1;
    while (*pat != '\0') {
        if (pat[0] == '%' && (pat[1] == 'y' || pat[1] == 'm' || pat[1] == 'd')) {
            int digits = pat[1] == 'y' ? 4 : 2;
            int64_t v = 0;
            for (int i = 0; i < digits; i++, name++) {
                if (*name < '0' || *name > '9')
                    return false;
                v = v * 10 + (*name - '0');
            }
            *(pat[1] == 'y' ? &y : pat[1] == 'm' ? &m : &d) = v;
            pat += 2;
        } else if (*pat++ != *name++) {
            return false;
        }
    }
    if (*name != '\0' || y < 0 || m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    *day = y * 10000 + m * 100 + d;
    return true;
}

static int cmp_day(const void *a, const void *b)
{
    const struct day_file *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return strcmp(x->path, y->path);
}

struct file_list {
    struct day_file *v;
    size_t count, cap;
};

/* Add every file of the template's directory that matches it. Returns an exit code. */
static int list_template(struct file_list *fl, const char *tmpl, size_t order)
{
    const char *slash = strrchr(tmpl, '/');
    const char *pat = slash != NULL ? slash + 1 : tmpl;
    size_t dir_len = slash != NULL ? (size_t)(slash - tmpl) : 0;
    if (strstr(pat, "%y") == NULL || strstr(pat, "%m") == NULL || strstr(pat, "%d") == NULL)
        return cli_usage("import",
                         "eventlog wants a file name template with %%y, %%m and %%d, such "
                         "as data/events-%%y-%%m-%%d.log, not '%s'",
                         tmpl);
    char dir[4096];
    if (slash == NULL)
        (void)snprintf(dir, sizeof dir, ".");
    else
        (void)snprintf(dir, sizeof dir, "%.*s", dir_len == 0 ? 1 : (int)dir_len, tmpl);
    DIR *dh = opendir(dir);
    if (dh == NULL) {
        char why[256];
        if (strerror_r(errno, why, sizeof why) != 0)
            why[0] = '\0';
        cli_err("import", "cannot list directory '%s' of template '%s': %s", dir, tmpl, why);
        return CLI_EXIT_ERROR;
    }
    struct dirent *e;
    int code = CLI_EXIT_OK;
    while (code == CLI_EXIT_OK && (e = readdir(dh)) != NULL) {
        int64_t day;
        if (!match_name(pat, e->d_name, &day))
            continue;
        if (fl->count == fl->cap) {
            size_t cap = fl->cap == 0 ? 64 : fl->cap * 2;
            struct day_file *v = realloc(fl->v, cap * sizeof *v);
            if (v == NULL) {
                code = CLI_EXIT_ERROR;
                break;
            }
            fl->v = v;
            fl->cap = cap;
        }
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *path = malloc(n);
        if (path == NULL) {
            code = CLI_EXIT_ERROR;
            break;
        }
        (void)snprintf(path, n, "%s/%s", dir, e->d_name);
        fl->v[fl->count++] = (struct day_file){path, day, order};
    }
    (void)closedir(dh);
    if (code != CLI_EXIT_OK)
        cli_err("import", "out of memory");
    return code;
}

struct el_walk {
    evs_json_member event, meta;
    bool has_event, has_meta;
    evs_json_member type, id, stream;
    bool has_type, has_id, has_stream;
    const char *stream_field;
};

static int el_member(void *vctx, const evs_json_member *m)
{
    struct el_walk *w = vctx;
    if (im_key_is(m, "event")) {
        w->event = *m;
        w->has_event = true;
    } else if (im_key_is(m, "meta")) {
        w->meta = *m;
        w->has_meta = true;
    }
    return 0;
}

static int el_event_member(void *vctx, const evs_json_member *m)
{
    struct el_walk *w = vctx;
    if (im_key_is(m, "type") && m->kind == EVS_JSON_STRING) {
        w->type = *m;
        w->has_type = true;
    }
    if (w->stream_field != NULL && im_key_is(m, w->stream_field)) {
        w->stream = *m;
        w->has_stream = true;
    }
    return 0;
}

static int el_meta_member(void *vctx, const evs_json_member *m)
{
    struct el_walk *w = vctx;
    if (im_key_is(m, "id")) {
        w->id = *m;
        w->has_id = true;
    }
    return 0;
}

static int el_line(im_ctx *ic, const char *line, size_t len, int64_t pos)
{
    struct el_walk w;
    memset(&w, 0, sizeof w);
    w.stream_field = ic->stream_field;
    evs_json_error jerr = {0, NULL};
    if (evs__json_object_walk(line, len, EVS_MAX_JSON_DEPTH + 2, el_member, &w, &jerr) < 0)
        return im_bad(ic, "not a JSON object: %s at byte %zu",
                      jerr.reason != NULL ? jerr.reason : "error", jerr.offset);
    if (!w.has_event || w.event.kind != EVS_JSON_OBJECT)
        return im_bad(ic, "field \"event\" is missing or not an object");
    (void)evs__json_object_walk(w.event.value, w.event.value_len, EVS_MAX_JSON_DEPTH + 1,
                                el_event_member, &w, NULL);
    if (w.has_meta && w.meta.kind == EVS_JSON_OBJECT)
        (void)evs__json_object_walk(w.meta.value, w.meta.value_len, EVS_MAX_JSON_DEPTH + 1,
                                    el_meta_member, &w, NULL);
    im_event ev = {
        ic->default_stream, "event", w.event.value, w.event.value_len, NULL, 0, NULL, -1};
    int code = CLI_EXIT_OK;
    if (w.has_type && im_string(ic, &w.type, "event.type", &ev.type, &code) < 0)
        return code;
    if (ic->stream_field != NULL) {
        if (!w.has_stream)
            return im_bad(ic, "field \"event.%s\" (--stream-field) is missing", ic->stream_field);
        if (im_string(ic, &w.stream, ic->stream_field, &ev.stream, &code) < 0)
            return code;
    }
    char *meta = ic->scratch.ptr + ic->scratch.len;
    int n = 0;
    if (w.has_id)
        n = snprintf(meta, w.id.value_len + 64, "{\"eventlog_id\":%.*s,\"eventlog_pos\":%lld}",
                     (int)w.id.value_len, w.id.value, (long long)pos);
    else
        n = snprintf(meta, 64, "{\"eventlog_pos\":%lld}", (long long)pos);
    ev.meta = meta;
    ev.meta_len = n > 0 ? (size_t)n : 0;
    return im_add(ic, &ev);
}

static int el_each(im_ctx *ic, const char *line, size_t len, uint64_t line_no, void *arg)
{
    const struct day_file *f = arg;
    /* A position is the day * 10^8 + the line: past that, positions would collide. */
    if (line_no > 100000000)
        return im_bad(ic, "more than 10^8 events in one day's file (eventlog's limit)");
    return el_line(ic, line, len, f->day * 100000000 + (int64_t)line_no - 1);
}

static int el_file(im_ctx *ic, const struct day_file *f)
{
    /* Names (at most the line), then the metadata (the id, at most the line). */
    return im_each_line(ic, f->path, 128, el_each, (void *)f);
}

int im_eventlog_files(im_ctx *ic, char **templates, size_t count)
{
    struct file_list fl = {NULL, 0, 0};
    int code = CLI_EXIT_OK;
    for (size_t i = 0; i < count && code == CLI_EXIT_OK; i++)
        code = list_template(&fl, templates[i], i);
    if (code == CLI_EXIT_OK && fl.count == 0) {
        cli_err("import", "no file matches the template%s '%s'%s", count > 1 ? "s" : "",
                templates[0], count > 1 ? ", ..." : "");
        code = CLI_EXIT_ERROR;
    }
    if (fl.count > 1)
        qsort(fl.v, fl.count, sizeof *fl.v, cmp_day);
    for (size_t i = 0; i < fl.count && code == CLI_EXIT_OK; i++)
        code = el_file(ic, &fl.v[i]);
    /* Paths are kept to the end: pending events and messages point at them. */
    if (code == CLI_EXIT_OK)
        code = im_commit(ic);
    for (size_t i = 0; i < fl.count; i++)
        free(fl.v[i].path);
    free(fl.v);
    return code;
}
