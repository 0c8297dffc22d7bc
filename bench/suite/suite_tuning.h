/*
 * suite_tuning.h - how the suite sets up each peer engine, shared by its drivers
 * (suite_sqlite.c, suite_lmdb.c) and the reference drivers (bench/ref), so that the
 * check of one against the other compares code, not settings. Each choice was measured
 * (bench/RESULTS.md, "Peers' best case"). Include the engine's header first.
 */
#ifndef SUITE_TUNING_H
#define SUITE_TUNING_H

/* SQLite, run on a new connection before journal_mode=WAL (a page size takes effect only
 * on a database not yet written): 8 KiB pages, a 64 MiB cache, reads of the database
 * file through a mapping, a checkpoint every 10,000 pages of WAL rather than 1,000. */
#define SQ_TUNING                                                                                  \
    "PRAGMA page_size=8192; PRAGMA cache_size=-65536; PRAGMA mmap_size=1073741824;"                \
    " PRAGMA wal_autocheckpoint=10000;"

/* LMDB: the flags of a durable environment (an unsynced one adds MDB_NOSYNC). */
#define SUITE_LMDB_FLAGS    0
#define SUITE_LMDB_MAP_SIZE (64ull << 30) /* address space only; the file grows as needed */

#endif
