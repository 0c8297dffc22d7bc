/*
 * cmd_streams.c - `evstore streams`: one line per stream with its version, event count
 * and first and last position, in name order, optionally only the streams of a prefix
 * or a category.
 */
#include "cli_common.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char streams_help[] =
    "usage: evstore streams [DIR] [--prefix P] [--category C] [--unsorted]\n"
    "\n"
    "Print one line per stream, in name order (bytewise):\n"
    "  {\"stream\":\"order-1\",\"version\":2,\"events\":3,\"first_pos\":1,\"last_pos\":7}\n"
    "version is the stream's last version, events its number of events, first_pos and\n"
    "last_pos the positions of its first and last event.\n"
    "\n"
    "options:\n"
    "  --prefix P     only streams whose name starts with P\n"
    "  --category C   only streams of category C: named C, or starting with C-\n"
    "  --unsorted     print in the index's order, as the streams are found: the first\n"
    "                 line comes at once and memory stays flat (sorting keeps every\n"
    "                 matching stream in memory, ~60 bytes plus its name each)\n"
    "  --help, -h     this text\n"
    "\n"
    "DIR defaults to $EVSTORE_DIR. The store is opened read-only and never created.\n"
    "\n"
    "Exit codes: 0 ok, 1 error, 2 usage, 5 corrupt store.\n";

enum { OPT_PREFIX, OPT_CATEGORY, OPT_UNSORTED };

static const cli_optdef streams_opts[] = {
    [OPT_PREFIX] = {"prefix", true, 0},
    [OPT_CATEGORY] = {"category", true, 0},
    [OPT_UNSORTED] = {"unsorted", false, 0},
    {NULL, false, 0},
};

struct streams_args {
    const char *dir;
    const char *prefix;
    const char *category;
    bool unsorted;
};

/* Returns an exit code, or -1 for --help. */
static int parse_args(struct streams_args *sa, int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "streams", argc, argv);
    const char *dir = NULL;
    int opt;
    while ((opt = cli_parser_next(&p, streams_opts)) != CLI_OPT_END) {
        switch (opt) {
        case CLI_OPT_HELP:
            return -1;
        case CLI_OPT_ARG:
            if (dir != NULL)
                return cli_usage("streams", "unexpected argument '%s'", p.value);
            dir = p.value;
            break;
        case OPT_PREFIX:
            if (!cli_check_name("streams", "--prefix", p.value, EVS_MAX_STREAM_LEN))
                return CLI_EXIT_USAGE;
            sa->prefix = p.value;
            break;
        case OPT_CATEGORY:
            if (!cli_check_name("streams", "--category", p.value, EVS_MAX_STREAM_LEN))
                return CLI_EXIT_USAGE;
            sa->category = p.value;
            break;
        case OPT_UNSORTED:
            sa->unsorted = true;
            break;
        default:
            return CLI_EXIT_USAGE;
        }
    }
    sa->dir = cli_store_dir("streams", dir);
    return sa->dir != NULL ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

static bool wanted(const struct streams_args *sa, const char *name, size_t len)
{
    return (sa->category == NULL || cli_stream_in_category(name, len, sa->category)) &&
           (sa->prefix == NULL || strncmp(name, sa->prefix, strlen(sa->prefix)) == 0);
}

/* The matching streams, kept to be sorted: names in one arena, found by offset while it
 * grows, by pointer once it is complete. */
struct found {
    union {
        size_t off;
        const char *ptr;
    } name;
    size_t len;
    evs_stream_info info;
};

struct found_list {
    struct found *items;
    size_t count, cap;
    evs__buf names;
};

static int found_add(struct found_list *l, const char *name, size_t len,
                     const evs_stream_info *info)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 1024;
        struct found *items = realloc(l->items, cap * sizeof *items);
        if (items == NULL)
            return -1;
        l->items = items;
        l->cap = cap;
    }
    struct found *f = &l->items[l->count++];
    f->name.off = l->names.len;
    f->len = len;
    f->info = *info;
    return evs__buf_append(&l->names, name, len) == 0 ? 0 : -1;
}

static int by_name(const void *a, const void *b)
{
    const struct found *x = a, *y = b;
    int c = memcmp(x->name.ptr, y->name.ptr, x->len < y->len ? x->len : y->len);
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

static int print_streams(evs_stream_iter *it, const struct streams_args *sa)
{
    cli_out out;
    if (cli_out_init(&out, STDOUT_FILENO, 256u << 10) < 0) {
        cli_err("streams", "out of memory");
        return CLI_EXIT_ERROR;
    }
    struct found_list found = {NULL, 0, 0, EVS__BUF_INIT};
    const char *name;
    size_t len;
    evs_stream_info info;
    int rc;
    bool oom = false;
    while ((rc = evs_streams_next(&name, &len, &info, it)) > 0) {
        if (!wanted(sa, name, len))
            continue;
        if (!sa->unsorted) {
            if (found_add(&found, name, len, &info) < 0) {
                oom = true;
                break;
            }
        } else if (cli_out_stream(&out, name, len, &info) < 0) {
            break;
        }
    }
    if (rc >= 0 && !oom && !sa->unsorted) {
        for (size_t i = 0; i < found.count; i++)
            found.items[i].name.ptr = found.names.ptr + found.items[i].name.off;
        if (found.count > 1)
            qsort(found.items, found.count, sizeof *found.items, by_name);
        for (size_t i = 0; i < found.count; i++) {
            const struct found *f = &found.items[i];
            if (cli_out_stream(&out, f->name.ptr, f->len, &f->info) < 0)
                break;
        }
    }
    (void)cli_out_flush(&out);
    int code;
    if (oom) {
        cli_err("streams", "out of memory after %zu streams (--unsorted needs no memory)",
                found.count);
        code = CLI_EXIT_ERROR;
    } else {
        code = rc < 0 ? cli_lib_err("streams", rc) : cli_out_report("streams", &out);
    }
    free(found.items);
    evs__buf_free(&found.names);
    cli_out_free(&out);
    return code;
}

int cli_cmd_streams(int argc, char **argv)
{
    struct streams_args sa = {NULL, NULL, NULL, false};
    int code = parse_args(&sa, argc, argv);
    if (code < 0)
        return cli_help(streams_help);
    if (code != CLI_EXIT_OK)
        return code;
    evs_store *store = cli_open_readonly("streams", sa.dir, &code);
    if (store == NULL)
        return code;
    /* The library narrows by prefix; a category is a prefix too (C, then the check for
     * the end or a '-'), so only the matching part of the stream index is walked. The
     * longer of the two narrows more; both are checked on each name regardless. */
    const char *narrow = sa.prefix;
    if (sa.category != NULL && (narrow == NULL || strlen(sa.category) > strlen(narrow)))
        narrow = sa.category;
    evs_stream_iter *it = NULL;
    int rc = evs_streams_open(&it, store, narrow);
    code = rc < 0 ? cli_lib_err("streams", rc) : print_streams(it, &sa);
    evs_streams_close(it);
    evs_close(store);
    return code;
}
