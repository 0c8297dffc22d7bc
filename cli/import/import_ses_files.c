/*
 * import_ses_files.c - the files of `evstore import --format simple-event-sourcing`:
 * @mountainpass/simple-event-sourcing's chunked log, "jsonl & gzip" files written one
 * after the other, of which the package documents no naming. So:
 *
 *  - a PATH that is a directory stands for its files named *.jsonl, *.jsonl.gz or
 *    *.jsonl.zst (not those of its subdirectories); other files there (snapshots, say)
 *    are left alone. A PATH that is a file is taken whatever its name.
 *  - all files are read in natural order of their names without the compression
 *    suffix: runs of digits compare as numbers, so chunk-9 comes before chunk-10
 *    whether or not the package pads its numbers; equal names order by path.
 *  - a chunk present both plain and compressed in one directory (x.jsonl beside
 *    x.jsonl.gz: the package compresses a chunk, then deletes the plain file, and a
 *    crash between the two leaves both) stops the import before anything is written,
 *    since reading both would import its events twice.
 *
 * The lines themselves are import_ses.c's; the event index runs on across files.
 */
#include "import.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct chunk {
    char *path;
    const char *name; /* the file name inside path */
    size_t stem_len;  /* of name, without .gz or .zst */
    size_t dir_len;   /* of path, up to the name */
};

struct chunk_list {
    struct chunk *v;
    size_t count, cap;
};

static bool ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

static size_t stem_len(const char *name)
{
    size_t len = strlen(name);
    if (ends_with(name, len, ".gz"))
        return len - 3;
    if (ends_with(name, len, ".zst"))
        return len - 4;
    return len;
}

static bool is_chunk_name(const char *name)
{
    return name[0] != '.' && ends_with(name, stem_len(name), ".jsonl");
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Natural order: digit runs by value (leading zeros aside), everything else bytewise. */
static int natural_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t i = 0, j = 0;
    while (i < alen && j < blen) {
        if (is_digit(a[i]) && is_digit(b[j])) {
            while (i < alen && a[i] == '0')
                i++;
            while (j < blen && b[j] == '0')
                j++;
            size_t si = i, sj = j;
            while (i < alen && is_digit(a[i]))
                i++;
            while (j < blen && is_digit(b[j]))
                j++;
            if (i - si != j - sj)
                return i - si < j - sj ? -1 : 1;
            int c = memcmp(a + si, b + sj, i - si);
            if (c != 0)
                return c;
            continue;
        }
        if (a[i] != b[j])
            return (unsigned char)a[i] < (unsigned char)b[j] ? -1 : 1;
        i++;
        j++;
    }
    return (alen - i > blen - j) - (alen - i < blen - j);
}

static int cmp_chunk(const void *pa, const void *pb)
{
    const struct chunk *a = pa, *b = pb;
    int c = natural_cmp(a->name, a->stem_len, b->name, b->stem_len);
    return c != 0 ? c : strcmp(a->path, b->path);
}

static int add_chunk(struct chunk_list *cl, const char *dir, const char *name)
{
    if (cl->count == cl->cap) {
        size_t cap = cl->cap == 0 ? 64 : cl->cap * 2;
        struct chunk *v = realloc(cl->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        cl->v = v;
        cl->cap = cap;
    }
    char *path = im_path_join(dir, name);
    if (path == NULL)
        return -1;
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    cl->v[cl->count++] = (struct chunk){path, base, stem_len(base), (size_t)(base - path)};
    return 0;
}

static void errno_msg(const char *what, const char *path, int err)
{
    char why[256];
    if (strerror_r(err, why, sizeof why) != 0)
        why[0] = '\0';
    cli_err("import", "cannot %s '%s': %s; nothing was imported", what, path, why);
}

/* Add the chunks of directory `dir`. Returns an exit code (reported). */
static int list_dir(struct chunk_list *cl, const char *dir)
{
    DIR *dh = opendir(dir);
    if (dh == NULL) {
        errno_msg("list directory", dir, errno);
        return CLI_EXIT_ERROR;
    }
    size_t before = cl->count;
    struct dirent *e;
    int code = CLI_EXIT_OK;
    while (code == CLI_EXIT_OK && (e = readdir(dh)) != NULL) {
        if (is_chunk_name(e->d_name) && add_chunk(cl, dir, e->d_name) < 0) {
            cli_err("import", "out of memory");
            code = CLI_EXIT_ERROR;
        }
    }
    (void)closedir(dh);
    if (code == CLI_EXIT_OK && cl->count == before) {
        cli_err("import",
                "no chunk in directory '%s' (files named *.jsonl, *.jsonl.gz or *.jsonl.zst); "
                "nothing was imported",
                dir);
        code = CLI_EXIT_ERROR;
    }
    return code;
}

/* A chunk twice in one directory, plain and compressed (or one file given twice)? */
static int check_twins(const struct chunk_list *cl)
{
    for (size_t i = 1; i < cl->count; i++) {
        const struct chunk *a = &cl->v[i - 1], *b = &cl->v[i];
        if (a->dir_len == b->dir_len && a->stem_len == b->stem_len &&
            memcmp(a->path, b->path, a->dir_len) == 0 &&
            memcmp(a->name, b->name, a->stem_len) == 0) {
            cli_err("import",
                    "chunk '%.*s' is there twice, as '%s' and '%s' (a compression the package "
                    "did not finish?): keep the one you trust and move the other away; nothing "
                    "was imported",
                    (int)a->stem_len, a->name, a->path, b->path);
            return CLI_EXIT_INVALID;
        }
    }
    return CLI_EXIT_OK;
}

int im_ses_files(im_ctx *ic, char **paths, size_t count)
{
    struct chunk_list cl = {NULL, 0, 0};
    int code = CLI_EXIT_OK;
    for (size_t i = 0; i < count && code == CLI_EXIT_OK; i++) {
        struct stat st;
        if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            code = list_dir(&cl, paths[i]);
        } else if (add_chunk(&cl, NULL, paths[i]) < 0) {
            cli_err("import", "out of memory");
            code = CLI_EXIT_ERROR;
        }
    }
    if (code == CLI_EXIT_OK && cl.count > 1)
        qsort(cl.v, cl.count, sizeof *cl.v, cmp_chunk);
    if (code == CLI_EXIT_OK)
        code = check_twins(&cl);
    char **ordered = code == CLI_EXIT_OK ? calloc(cl.count, sizeof *ordered) : NULL;
    if (code == CLI_EXIT_OK && ordered == NULL) {
        cli_err("import", "out of memory");
        code = CLI_EXIT_ERROR;
    }
    for (size_t i = 0; ordered != NULL && i < cl.count; i++)
        ordered[i] = cl.v[i].path;
    /* One index across all chunks: the package numbers its events that way. */
    if (code == CLI_EXIT_OK)
        code = im_lines_files(ic, ordered, cl.count, im_parse_ses, false);
    free(ordered);
    for (size_t i = 0; i < cl.count; i++)
        free(cl.v[i].path);
    free(cl.v);
    return code;
}
