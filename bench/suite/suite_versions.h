/*
 * suite_versions.h - a peer driver's in-memory table of its streams' last versions, so
 * that an append knows the stream's version without reading it back from the store, as
 * evstore's stream table lets it (issue 26). A driver fills it when it opens a store
 * (empty for a new store, loaded from the store's index for an existing one) and keeps
 * it up to date as its commits succeed. The store stays the judge: the UNIQUE (stream,
 * version) index (LMDB: MDB_NOOVERWRITE) turns away a version the table got wrong, and
 * after any failed commit the driver forgets the table (suite_versions_forget), so the
 * streams are read from the store again until it knows them.
 */
#ifndef SUITE_VERSIONS_H
#define SUITE_VERSIONS_H

#include <stdint.h>

#define SUITE_VERSION_UNKNOWN INT64_MIN /* the table cannot say: read the store */

typedef struct suite_versions suite_versions;

suite_versions *suite_versions_new(void); /* empty and complete (a new store); NULL: ENOMEM */
void suite_versions_free(suite_versions *v);

/* The stream's last version, -1 when it has none, SUITE_VERSION_UNKNOWN when the table
 * does not know (it is not complete and the stream is not in it). */
int64_t suite_versions_get(const suite_versions *v, const char *stream);
/* Record the stream's last version; -1 when out of memory (the table is then forgotten,
 * which is always safe). */
int suite_versions_set(suite_versions *v, const char *stream, int64_t last);
/* Drop every entry; complete: the store has no streams besides those set from now on
 * (loading), else every stream not set again is unknown. */
void suite_versions_forget(suite_versions *v, int complete);

#endif
