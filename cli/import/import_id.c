/*
 * import_id.c - the ids of imported events that their source gives none (every format
 * but ndjson): a name-based UUID, version 5 (RFC 4122 section 4.3: SHA-1 of a namespace
 * and a name), so the same event of the same source gets the same id on every import.
 * The store writes an id it holds already in that stream only once, which is what makes
 * an import that is run again, or resumed after a failure, write only what is missing.
 *
 * The name is "<format>/<number>/<stream>" for formats that number their events
 * (tiny-event-sourcing's and simple-event-sourcing's index), "eventlog/<meta.id as
 * written, JSON>" and "futoin/<event id>"; the namespace is IMPORT_NAMESPACE below. SHA-1
 * comes from OpenSSL's libcrypto: a UUIDv5 is defined by it, and a hash is not code to
 * write by hand.
 */
#include "import.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

/* 76f5dc13-1c53-46ed-aa45-e51f70306f33: evstore's namespace for imported events. */
static const unsigned char IMPORT_NAMESPACE[16] = {0x76, 0xf5, 0xdc, 0x13, 0x1c, 0x53,
                                                   0x46, 0xed, 0xaa, 0x45, 0xe5, 0x1f,
                                                   0x70, 0x30, 0x6f, 0x33};

int im_id_init(im_id *g)
{
    g->md = EVP_MD_fetch(NULL, "SHA1", NULL);
    g->ctx = EVP_MD_CTX_new();
    if (g->md != NULL && g->ctx != NULL)
        return 0;
    im_id_free(g);
    return -1;
}

void im_id_free(im_id *g)
{
    EVP_MD_CTX_free(g->ctx);
    EVP_MD_free(g->md);
    g->ctx = NULL;
    g->md = NULL;
}

int im_id_derive(im_id *g, const im_event *ev, unsigned char out[16])
{
    char head[160];
    int n = ev->origin_seq >= 0
                ? snprintf(head, sizeof head, "%s/%lld%s", ev->origin, (long long)ev->origin_seq,
                           ev->origin_key_len > 0 ? "/" : "")
                : snprintf(head, sizeof head, "%s/", ev->origin);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (n < 0 || (size_t)n >= sizeof head || EVP_DigestInit_ex(g->ctx, g->md, NULL) != 1 ||
        EVP_DigestUpdate(g->ctx, IMPORT_NAMESPACE, sizeof IMPORT_NAMESPACE) != 1 ||
        EVP_DigestUpdate(g->ctx, head, (size_t)n) != 1 ||
        (ev->origin_key_len > 0 &&
         EVP_DigestUpdate(g->ctx, ev->origin_key, ev->origin_key_len) != 1) ||
        EVP_DigestFinal_ex(g->ctx, md, &md_len) != 1 || md_len < 16)
        return -1;
    memcpy(out, md, 16);
    out[6] = (unsigned char)((out[6] & 0x0F) | 0x50); /* version 5 */
    out[8] = (unsigned char)((out[8] & 0x3F) | 0x80); /* variant 10xx */
    return 0;
}
