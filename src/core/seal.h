/*
 * seal.h - the envelope that holds an event's data encrypted under its subject's key
 * (AES-256-GCM through OpenSSL's libcrypto), and the "erased" marker a reader gets
 * once that key is gone. docs/FORMAT.md, "Encrypted data", describes the bytes.
 */
#ifndef EVS_SEAL_H
#define EVS_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVS__KEY_LEN       32u /* AES-256 */
#define EVS__SEAL_HEAD_LEN 24u /* marker, version, cipher, reserved, key id, nonce */
#define EVS__SEAL_TAG_LEN  16u
#define EVS__SEAL_OVERHEAD (EVS__SEAL_HEAD_LEN + EVS__SEAL_TAG_LEN)

/* What a reader gets instead of the data of an event whose key was destroyed. */
extern const char evs__erased_marker[];
extern const size_t evs__erased_marker_len;

/* Does stored data hold an envelope? Its first byte is 0x00, which no JSON text (all
 * that evs_append stores otherwise) starts with. */
static inline bool evs__is_sealed(const char *data, size_t len)
{
    return len > 0 && data[0] == '\0';
}

/* A cipher context reused across events: it keeps the last key's schedule, so events
 * under one key (a subject's run of events, a stream read) pay for it once. One per
 * append call or per cursor; one thread at a time. */
typedef struct evs__sealer {
    void *ctx;                     /* EVP_CIPHER_CTX, made on first use */
    uint64_t key_id;               /* the key ctx holds, 0 for none */
    bool encrypting;
    unsigned char nonce[12];       /* random base, then a counter in its last 8 bytes */
    bool nonce_ready;
} evs__sealer;

#define EVS__SEALER_INIT {NULL, 0, false, {0}, false}

void evs__sealer_free(evs__sealer *s); /* wipes the key schedule */

/* Encrypt plain[0..len) under key (id key_id) into out, which has room for len +
 * EVS__SEAL_OVERHEAD bytes. The event's id is authenticated with it, so an envelope
 * copied to another event fails to open. Nonces are a random 96-bit base per sealer
 * plus a counter, never repeated under one key. 0, EVS_EIO (no random nonce) or
 * EVS_ENOMEM. */
int evs__seal(evs__sealer *s, unsigned char *out, const unsigned char key[EVS__KEY_LEN],
              uint64_t key_id, const unsigned char event_id[16], const char *plain, size_t len);

/* The key id an envelope names: 0 and *key_id, or EVS_ECORRUPT when the envelope is
 * too short or of an unknown version or cipher (message names pos). */
int evs__seal_key_id(uint64_t *key_id, const char *sealed, size_t len, int64_t pos);

/* Decrypt an envelope into out (room for len - EVS__SEAL_OVERHEAD bytes): 0, or
 * EVS_ECORRUPT (naming pos) when it fails authentication. */
int evs__unseal(evs__sealer *s, char *out, const unsigned char key[EVS__KEY_LEN],
                const unsigned char event_id[16], const char *sealed, size_t len, int64_t pos);

#endif /* EVS_SEAL_H */
