#include "hmac.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>

static EVP_MAC *g_hmac;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* Fetched once: a fetch per request would look the algorithm up every time. */
static void fetch_hmac(void) { g_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL); }

int rg_hmac_sha256(const void *key, size_t keylen, const rg_bytes *parts, size_t nparts,
                   uint8_t mac[32])
{
    if (pthread_once(&g_once, fetch_hmac) != 0 || !g_hmac)
        return -1;
    /* HMAC accepts an empty key, but EVP wants a non-NULL pointer. */
    static const unsigned char empty = 0;
    if (!key)
        key = &empty;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(g_hmac);
    if (!ctx)
        return -1;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    int rc = -1;
    size_t outl = 0;
    if (EVP_MAC_init(ctx, key, keylen, params) != 1)
        goto done;
    for (size_t i = 0; i < nparts; i++)
        if (parts[i].len && EVP_MAC_update(ctx, parts[i].ptr, parts[i].len) != 1)
            goto done;
    if (EVP_MAC_final(ctx, mac, &outl, 32) != 1 || outl != 32)
        goto done;
    rc = 0;
done:
    EVP_MAC_CTX_free(ctx);
    return rc;
}
