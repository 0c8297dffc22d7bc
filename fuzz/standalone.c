/*
 * standalone.c - a main() for the fuzz targets without libFuzzer: runs the target once
 * over every file named on the command line, or found (recursively) in the directories
 * named there, in name order so that runs are repeatable.
 *
 * This is how `make test` replays the committed corpora (fuzz/corpus/<target>/) under
 * gcc with ASan and UBSan: a regression that a fuzzer once found stays found. The
 * target aborts on a broken invariant and the sanitizers abort on a memory error, so
 * reaching the end means every input passed. Prints one line per directory and a
 * summary.
 */
#define _GNU_SOURCE
#include "fuzz_common.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Targets that need set-up define LLVMFuzzerInitialize; the others leave it NULL. */
#pragma weak LLVMFuzzerInitialize

static long files_run;

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "standalone: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return -1;
    }
    size_t n;
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            unsigned char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "standalone: cannot read %s\n", path);
        free(buf);
        return -1;
    }
    /* An exact-size copy, as libFuzzer hands inputs over: reads past the end trip ASan. */
    unsigned char *input = malloc(len ? len : 1);
    if (!input) {
        free(buf);
        return -1;
    }
    memcpy(input, buf, len);
    free(buf);
    (void)LLVMFuzzerTestOneInput(input, len);
    free(input);
    files_run++;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        fprintf(stderr, "standalone: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path);

    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "standalone: cannot list %s: %s\n", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* ".", ".." and hidden files such as .gitkeep */
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            char **bigger = realloc(names, cap * sizeof *names);
            if (!bigger) {
                rc = -1;
                break;
            }
            names = bigger;
        }
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        names[count] = malloc(len);
        if (!names[count]) {
            rc = -1;
            break;
        }
        snprintf(names[count], len, "%s/%s", path, e->d_name);
        count++;
    }
    closedir(d);
    qsort(names, count, sizeof *names, cmp_names);
    long before = files_run;
    for (size_t i = 0; i < count; i++) {
        if (rc == 0 && run_path(names[i]) < 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    printf("%s: %ld input(s)\n", path, files_run - before);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr,
                "usage: %s FILE_OR_DIR...\n"
                "Runs the fuzz target once on every file given or found.\n",
                argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    int rc = 0;
    for (int i = 1; i < argc; i++)
        if (run_path(argv[i]) < 0)
            rc = 1;
    printf("%ld input(s) run, %s\n", files_run, rc ? "with errors" : "all passed");
    return rc;
}
