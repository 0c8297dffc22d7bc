/*
 * import_eventlog_files.c - the files of `evstore import --format eventlog`:
 * @rymdtiden/eventlog's daily log files, named by a template such as
 * data/events-%y-%m-%d.log (%y the four-digit year, %m and %d two-digit month and day).
 *
 * The files are walked in date order, whatever order the directory lists them in. An
 * eventlog position is the day (YYYYMMDD) times 10^8 plus the event's 0-based line
 * number in that day's file (its README: the first event of 31 January 1984 is
 * 1984013100000000); the lines themselves are import_eventlog.c's.
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
    char **paths = code == CLI_EXIT_OK ? calloc(fl.count, sizeof *paths) : NULL;
    if (code == CLI_EXIT_OK && paths == NULL) {
        cli_err("import", "out of memory");
        code = CLI_EXIT_ERROR;
    }
    for (size_t i = 0; i < fl.count && paths != NULL; i++)
        paths[i] = fl.v[i].path;
    if (paths != NULL)
        im_progress_size_files(&ic->progress, paths, fl.count);
    for (size_t i = 0; i < fl.count && code == CLI_EXIT_OK; i++) {
        im_seq seq = {fl.v[i].day * (int64_t)100000000, true};
        code = im_lines_file(ic, fl.v[i].path, im_parse_eventlog, &seq);
    }
    /* Paths are kept to the end: pending events and messages point at them. */
    if (code == CLI_EXIT_OK)
        code = im_commit(ic);
    free(paths);
    for (size_t i = 0; i < fl.count; i++)
        free(fl.v[i].path);
    free(fl.v);
    return code;
}
