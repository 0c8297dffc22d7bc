/*
 * fuzz_common.h - what the fuzz targets share: the libFuzzer entry points they define,
 * and a check macro for the invariants each target asserts on top of "no crash, no
 * leak, no out-of-bounds access" (which the sanitizers catch by themselves).
 *
 * A failed check prints the condition and aborts, which libFuzzer reports as a crash
 * and saves the input; the standalone replay driver (standalone.c) then exits non-zero.
 */
#ifndef EVS_FUZZ_COMMON_H
#define EVS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Defined by every target; called once per input. Always returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional one-time set-up; the targets that need none do not define it. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- for targets that build stores ----------------------------------------------- */

#include "evstore.h"

/* An evs_verify callback counting the problems into *(int64_t *)ctx; each must say
 * what it is. */
static inline int fz_count_problem(void *ctx, const evs_problem *p, int64_t done, int64_t total)
{
    (void)done;
    (void)total;
    if (p) {
        FZ_CHECK(p->what != NULL);
        (*(int64_t *)ctx)++;
    }
    return 0;
}

/* A temporary directory of their own: */

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rmtree.h"

/* Remove a directory tree. */
static inline void fz_rmtree(const char *dir)
{
    FZ_CHECK(tu_rmtree(dir) == 0);
}

/* Write the file dir/name with len bytes. */
static inline void fz_write_file(const char *dir, const char *name, const void *buf, size_t len)
{
    char path[8400];
    FZ_CHECK(snprintf(path, sizeof path, "%s/%s", dir, name) < (int)sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    FZ_CHECK(fd >= 0);
    FZ_CHECK(len == 0 || write(fd, buf, len) == (ssize_t)len);
    close(fd);
}

static char fz_root[4096]; /* the target's temporary directory, removed at exit */

static inline void fz_cleanup(void)
{
    if (fz_root[0])
        fz_rmtree(fz_root);
}

/* Make fz_root: "evs-fuzz-<tag>-XXXXXX" under $EVS_FUZZ_TMPDIR, else under /dev/shm (a
 * tmpfs: inputs run faster) when it is writable, else /tmp. */
static inline void fz_make_root(const char *tag)
{
    const char *base = getenv("EVS_FUZZ_TMPDIR");
    if (!base || !*base)
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    (void)mkdir(base, 0755);
    snprintf(fz_root, sizeof fz_root, "%s/evs-fuzz-%s-XXXXXX", base, tag);
    FZ_CHECK(mkdtemp(fz_root) != NULL);
    atexit(fz_cleanup);
}

#endif /* EVS_FUZZ_COMMON_H */
