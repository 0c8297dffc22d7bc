/*
 * keyfile_io.h - reading, adding to and replacing the key file on disk, crash-safely,
 * and overwriting the bytes of a replaced one so that destroyed keys do not stay
 * readable in it.
 */
#ifndef EVS_KEYFILE_IO_H
#define EVS_KEYFILE_IO_H

#include "keyfile.h"

#include <stdbool.h>
#include <sys/stat.h>

/* Which file a path named when it was last looked at: a different one (renamed over
 * it) or a grown one means the table must be loaded again. */
typedef struct evs__file_sig {
    bool exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} evs__file_sig;

bool evs__file_sig_equal(const evs__file_sig *a, const evs__file_sig *b);

/* The signature of `path` now (exists false when it is missing). 0 or EVS_EIO. */
int evs__keyfile_sig(const char *path, evs__file_sig *sig);

/* Read the whole file into *buf (evs__free it): 0, or 1 when it does not exist
 * (*buf NULL); EVS_EIO, EVS_ECORRUPT (larger than a key file can be), EVS_ENOMEM. */
int evs__keyfile_read(const char *path, unsigned char **buf, size_t *len, evs__file_sig *sig);

/* Take (and release) `keys.lock` in `dir`: serialises changes across processes. */
int evs__keyfile_lock(const char *dir, int *fd);
void evs__keyfile_unlock(int fd);

/* Add record r at valid_end (cutting a torn tail first), creating the file with its
 * header when it is missing, and sync it; *end is where the records now end. 0,
 * EVS_EIO, EVS_ENOSPC. */
int evs__keyfile_add(const char *dir, const char *path, bool exists, size_t valid_end,
                     const evs__keyrec *r, size_t *end);

/* Replace the file with img[0..len): written beside it, synced and renamed over it;
 * then the old file's bytes are overwritten with zeros, synced, and it is removed.
 * A crash in between leaves `keys.old`, which the next change scrubs first. */
int evs__keyfile_replace(const char *dir, const char *path, const unsigned char *img, size_t len);

/* Scrub and remove a `keys.old` left by a crash, if any. 0 or EVS_EIO. */
int evs__keyfile_scrub_leftover(const char *dir);

#endif /* EVS_KEYFILE_IO_H */
