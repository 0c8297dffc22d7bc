/*
 * store_backup.c - evs_backup and evs_archive, the lifecycle calls that copy or move a
 * store's files: check the options, then hand them to the backend, which knows its
 * files.
 */
#include "core.h"

#include <string.h>

/* Where each version's fields end; a new version adds its line. */
static const size_t backup_opts_ends[] = {0, EVS__FIELDS_END(evs_backup_opts, flags)};
_Static_assert(sizeof backup_opts_ends / sizeof backup_opts_ends[0] ==
                   EVS_BACKUP_OPTS_VERSION + 1,
               "every backup options version has its line in backup_opts_ends");

int evs_backup(evs_backup_report *out, evs_store *store, const char *dest,
               const evs_backup_opts *opts)
{
    if (!out)
        return evs__seterr(EVS_EMISUSE, "evs_backup: out is NULL");
    memset(out, 0, sizeof *out);
    int rc = evs__check_store(store, "evs_backup");
    if (rc < 0)
        return rc;
    if (!dest || !*dest)
        return evs__seterr(EVS_EINVAL, "evs_backup: the destination path is empty");
    const evs_backup_opts defaults = EVS_BACKUP_OPTS_INIT;
    evs_backup_opts o = defaults;
    if (opts && (rc = evs__versioned_copy(&o, &defaults, opts, sizeof o, backup_opts_ends,
                                          EVS_BACKUP_OPTS_VERSION, "evs_backup: options",
                                          "EVS_BACKUP_OPTS_INIT")) < 0)
        return rc;
    if (o.flags & ~EVS_BACKUP_COPY)
        return evs__seterr(EVS_EINVAL, "evs_backup: unknown flags 0x%x", o.flags & ~EVS_BACKUP_COPY);
    rc = store->m->backup(store->be, dest, &o, out);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

static const size_t archive_opts_ends[] = {0, EVS__FIELDS_END(evs_archive_opts, keep_bytes)};
_Static_assert(sizeof archive_opts_ends / sizeof archive_opts_ends[0] ==
                   EVS_ARCHIVE_OPTS_VERSION + 1,
               "every archive options version has its line in archive_opts_ends");

int evs_archive(evs_archive_report *out, evs_store *store, const evs_archive_opts *opts)
{
    if (!out)
        return evs__seterr(EVS_EMISUSE, "evs_archive: out is NULL");
    memset(out, 0, sizeof *out);
    int rc = evs__check_store(store, "evs_archive");
    if (rc < 0)
        return rc;
    const evs_archive_opts defaults = EVS_ARCHIVE_OPTS_INIT;
    evs_archive_opts o = defaults;
    if (opts && (rc = evs__versioned_copy(&o, &defaults, opts, sizeof o, archive_opts_ends,
                                          EVS_ARCHIVE_OPTS_VERSION, "evs_archive: options",
                                          "EVS_ARCHIVE_OPTS_INIT")) < 0)
        return rc;
    if (o.older_than_ns < 0 || o.keep_bytes < 0)
        return evs__seterr(EVS_EINVAL, "evs_archive: older_than_ns and keep_bytes must not be "
                                       "negative");
    if (o.dir && !*o.dir)
        return evs__seterr(EVS_EINVAL, "evs_archive: the archive directory is empty");
    rc = store->m->archive(store->be, &o, out);
    if (rc == 0)
        evs__clearerr();
    return rc;
}
