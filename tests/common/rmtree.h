/*
 * rmtree.h - removing a directory tree: shared by the tests (testutil.h) and the fuzz
 * targets, so it needs nothing beyond POSIX 2008 (plain opendir/readdir, no cmocka).
 */
#ifndef EVS_TEST_RMTREE_H
#define EVS_TEST_RMTREE_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Remove dir and all below it, as much as can be: 0, or -1 when an entry's path was
 * too long to name (it is left). */
static inline int tu_rmtree(const char *dir)
{
    int rc = 0;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char path[8400];
            if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) {
                rc = -1;
                continue;
            }
            struct stat st;
            if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
                rc |= tu_rmtree(path);
            else
                (void)unlink(path);
        }
        closedir(d);
    }
    (void)rmdir(dir);
    return rc;
}

#endif /* EVS_TEST_RMTREE_H */
