/*
 * keyfile.h - the bytes of the key file (`keys` in the store's directory): a header,
 * then one record per subject key or destroyed key. Pure encoding and checking, no
 * I/O (keytab.c does that), so that a fuzz target can feed it any bytes.
 * docs/FORMAT.md, "The key file", describes the layout.
 */
#ifndef EVS_KEYFILE_H
#define EVS_KEYFILE_H

#include "seal.h"

#include "evstore.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVS__KEYFILE_HEAD_LEN 64u
#define EVS__KEYREC_FIXED_LEN 56u
#define EVS__KEYREC_MAX_LEN   (EVS__KEYREC_FIXED_LEN + EVS_MAX_SUBJECT_LEN)

/* One record: a live key (subject and key bytes) or a destroyed one (id only). */
typedef struct evs__keyrec {
    uint64_t id;
    bool destroyed;
    unsigned char key[EVS__KEY_LEN]; /* zero when destroyed */
    const char *subject;             /* not NUL-terminated; NULL when destroyed */
    size_t subject_len;
} evs__keyrec;

typedef int (*evs__keyrec_cb)(void *ctx, const evs__keyrec *r);

/* Write the file's header into out. */
void evs__keyfile_head(unsigned char out[EVS__KEYFILE_HEAD_LEN]);

/* Encode r into out (room for EVS__KEYREC_MAX_LEN); returns its length. */
size_t evs__keyrec_encode(unsigned char *out, const evs__keyrec *r);

/* Check a whole key file image and call cb for each record in order (a non-zero return
 * stops and is returned). A last record cut short by a crash (it runs past the end, or
 * only zeros follow its start) ends the records: *valid_end is where they end, where
 * the next record goes. Damage anywhere else is EVS_ECORRUPT naming `path` and the byte
 * offset; a header of another file or a newer version is EVS_EFORMAT. */
int evs__keyfile_parse(const unsigned char *buf, size_t len, const char *path, evs__keyrec_cb cb,
                       void *ctx, size_t *valid_end);

#endif /* EVS_KEYFILE_H */
