/*
 * import_eventlog_files.c - the files of `evstore import --format eventlog`:
 * @rymdtiden/eventlog's daily log files, named by a template such as
 * data/events-%y-%m-%d.log (%y the four-digit year, as the package writes it, or %Y
 * as strftime spells it; %m and %d two-digit month and day), or named one by one (a
 * shell glob), each dated by the YYYY-MM-DD (or YYYYMMDD) in its name.
 *
 * A day file may be compressed: NAME.gz and NAME.zst are read as well (the codec is
 * told by the content, import_source.c). Nothing that looks like a day file is passed
 * over in silence: a name that matches the template but for another ending, or a day
 * present twice (plain and compressed), stops the import before anything is written.
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

static bool is_year(const char *pat)
{
    return pat[0] == '%' && (pat[1] == 'y' || pat[1] == 'Y');
}

/* Does `name` start with a match of the template's file part? On success *day is
 * YYYYMMDD and *rest what follows the match ("" for an exact one). */
static bool match_name(const char *pat, const char *name, int64_t *day, const char **rest)
{
    int64_t y = -1, m = -1, d = -1;
    while (*pat != '\0') {
        if (is_year(pat) || (pat[0] == '%' && (pat[1] == 'm' || pat[1] == 'd'))) {
            int digits = is_year(pat) ? 4 : 2;
            int64_t v = 0;
            for (int i = 0; i < digits; i++, name++) {
                if (*name < '0' || *name > '9')
                    return false;
                v = v * 10 + (*name - '0');
            }
            *(is_year(pat) ? &y : pat[1] == 'm' ? &m : &d) = v;
            pat += 2;
        } else if (*pat++ != *name++) {
            return false;
        }
    }
    if (y < 0 || m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    *day = y * 10000 + m * 100 + d;
    *rest = name;
    return true;
}

/* The day of a file named on its own: the first YYYY-MM-DD or YYYYMMDD in its name. */
static bool day_in_name(const char *path, int64_t *day)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash != NULL ? slash + 1 : path;
    static const char *const forms[] = {"%Y-%m-%d", "%Y%m%d"};
    for (const char *p = name; *p != '\0'; p++) {
        const char *rest;
        for (size_t f = 0; f < 2; f++)
            if ((p == name || p[-1] < '0' || p[-1] > '9') && match_name(forms[f], p, day, &rest) &&
                (*rest < '0' || *rest > '9'))
                return true;
    }
    return false;
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

static int add_file(struct file_list *fl, const char *dir, const char *name, int64_t day,
                    size_t order)
{
    if (fl->count == fl->cap) {
        size_t cap = fl->cap == 0 ? 64 : fl->cap * 2;
        struct day_file *v = realloc(fl->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        fl->v = v;
        fl->cap = cap;
    }
    char *path = im_path_join(dir, name);
    if (path == NULL)
        return -1;
    fl->v[fl->count++] = (struct day_file){path, day, order};
    return 0;
}

/* What follows a template's match: nothing, or a compression suffix. */
static bool readable_rest(const char *rest)
{
    return rest[0] == '\0' || strcmp(rest, ".gz") == 0 || strcmp(rest, ".zst") == 0;
}

/* Add every file of the template's directory that matches it. Returns an exit code. */
static int list_template(struct file_list *fl, const char *tmpl, size_t order)
{
    const char *slash = strrchr(tmpl, '/');
    const char *pat = slash != NULL ? slash + 1 : tmpl;
    size_t dir_len = slash != NULL ? (size_t)(slash - tmpl) : 0;
    if ((strstr(pat, "%y") == NULL && strstr(pat, "%Y") == NULL) || strstr(pat, "%m") == NULL ||
        strstr(pat, "%d") == NULL)
        return cli_usage("import",
                         "eventlog wants a file name template with %%y (or %%Y), %%m and "
                         "%%d, such as data/events-%%y-%%m-%%d.log, not '%s'",
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
        const char *rest;
        if (!match_name(pat, e->d_name, &day, &rest))
            continue;
        if (!readable_rest(rest)) {
            cli_err("import",
                    "'%s/%s' looks like a day file of template '%s' but ends in '%s': only "
                    "plain, .gz and .zst day files are read; move it away or rename it; "
                    "nothing was imported",
                    dir, e->d_name, tmpl, rest);
            code = CLI_EXIT_INVALID;
        } else if (add_file(fl, dir, e->d_name, day, order) < 0) {
            cli_err("import", "out of memory");
            code = CLI_EXIT_ERROR;
        }
    }
    (void)closedir(dh);
    return code;
}

/* A path without %: one file, dated by its name. */
static int list_file(struct file_list *fl, const char *path, size_t order)
{
    int64_t day;
    if (!day_in_name(path, &day)) {
        cli_err("import",
                "cannot tell the day of '%s' from its name: eventlog files are read by "
                "a template such as 'data/events-%%y-%%m-%%d.log', or by names holding "
                "their day as YYYY-MM-DD or YYYYMMDD; nothing was imported",
                path);
        return CLI_EXIT_USAGE;
    }
    if (add_file(fl, NULL, path, day, order) < 0) {
        cli_err("import", "out of memory");
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}

/* Two files of one day (a plain and a compressed copy, or two names given for one
 * day) would import that day twice: refused by name. */
static int check_days(const struct file_list *fl)
{
    for (size_t i = 1; i < fl->count; i++) {
        if (fl->v[i].day != fl->v[i - 1].day)
            continue;
        cli_err("import",
                "'%s' and '%s' are both the file of day %lld: reading both would import "
                "that day twice; keep one; nothing was imported",
                fl->v[i - 1].path, fl->v[i].path, (long long)fl->v[i].day);
        return CLI_EXIT_INVALID;
    }
    return CLI_EXIT_OK;
}

/* UTC midnight of day YYYYMMDD, in ns. */
static int64_t day_start_ns(int64_t day)
{
    char text[32];
    int n = snprintf(text, sizeof text, "%04lld-%02lld-%02lldT00:00:00Z", (long long)(day / 10000),
                     (long long)(day / 100 % 100), (long long)(day % 100));
    int64_t ns = 0;
    if (n <= 0 || evs_time_parse(&ns, text, (size_t)n) != 0)
        return 0;
    return ns;
}

int im_eventlog_files(im_ctx *ic, char **templates, size_t count)
{
    struct file_list fl = {NULL, 0, 0};
    int code = CLI_EXIT_OK;
    for (size_t i = 0; i < count && code == CLI_EXIT_OK; i++)
        code = strchr(templates[i], '%') != NULL ? list_template(&fl, templates[i], i)
                                                 : list_file(&fl, templates[i], i);
    if (code == CLI_EXIT_OK && fl.count == 0) {
        cli_err("import", "no file matches the template%s '%s'%s", count > 1 ? "s" : "",
                templates[0], count > 1 ? ", ..." : "");
        code = CLI_EXIT_ERROR;
    }
    if (fl.count > 1)
        qsort(fl.v, fl.count, sizeof *fl.v, cmp_day);
    if (code == CLI_EXIT_OK)
        code = check_days(&fl);
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
        im_seq seq = {fl.v[i].day * (int64_t)100000000, true, day_start_ns(fl.v[i].day)};
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
