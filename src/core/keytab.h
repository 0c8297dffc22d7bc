/*
 * keytab.h - a store's subject keys: the key file (`keys`, keyfile.h) and an in-memory
 * table of it, so that an append or a read finds its key without I/O. The table is
 * loaded on first use and loaded again when the file changes (another handle or
 * process added a key or destroyed one): appends look at the file's identity once per
 * call (evs__keytab_refresh), reads every 100 ms and whenever they meet a key id the
 * table lacks.
 *
 * Thread-safe. Across processes, changes to the file are serialised by `keys.lock`.
 */
#ifndef EVS_KEYTAB_H
#define EVS_KEYTAB_H

#include "keyfile.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct evs__keytab evs__keytab;

/* A table for the key file of store directory `dir`; reads nothing yet. 0 or ENOMEM. */
int evs__keytab_new(evs__keytab **out, const char *dir);
void evs__keytab_free(evs__keytab *t); /* NULL accepted; wipes the keys from memory */

/* Hold off a forget in this process from before an append looks its keys up until it
 * is written, so that no event is written under a key being destroyed. */
void evs__keytab_append_begin(evs__keytab *t);
void evs__keytab_append_end(evs__keytab *t);

/* Load the table again if the key file changed since it was loaded (one stat when it
 * did not): an append calls it once before its evs__keytab_key_for calls, so that it
 * never uses a key another process destroyed before the append began. 0, or the
 * errors of loading (EVS_ECORRUPT, EVS_EFORMAT, EVS_EIO, EVS_ENOMEM). */
int evs__keytab_refresh(evs__keytab *t);

/* The key of `subject` (valid UTF-8, 1..EVS_MAX_SUBJECT_LEN bytes), made when it has
 * none: a random 256-bit key under a random id, written to the key file and synced
 * before this returns. 0, EVS_ECORRUPT / EVS_EFORMAT (the key file is damaged: nothing
 * written), EVS_EIO, EVS_ENOSPC, EVS_ENOMEM. */
int evs__keytab_key_for(evs__keytab *t, const char *subject, size_t len, uint64_t *id,
                        unsigned char key[EVS__KEY_LEN]);

/* The key with id `id`: 1 with key filled, 0 when it was destroyed, or EVS_ECORRUPT
 * naming the event's position when the key file does not know it (missing, or not
 * this store's), or when the key file is damaged. */
int evs__keytab_lookup(evs__keytab *t, uint64_t id, int64_t pos, unsigned char key[EVS__KEY_LEN]);

/* Destroy every key of `subject`, durably: the key file is rewritten without them
 * (each leaves a record saying it was destroyed) and synced, and the old file's bytes
 * are overwritten with zeros and synced before it is removed. *destroyed receives the
 * number of keys. 0; EVS_ENOTFOUND (the subject has no key: never used, or forgotten
 * already); EVS_ECORRUPT / EVS_EFORMAT (damaged key file: nothing changed); EVS_EIO,
 * EVS_ENOSPC, EVS_ENOMEM. */
int evs__keytab_forget(evs__keytab *t, const char *subject, size_t len, size_t *destroyed);

#endif /* EVS_KEYTAB_H */
