#include "keyed_hash.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdlib.h>

struct rg_keyed_hash {
    EVP_MAC_CTX *tmpl;   /* keyed once, duplicated per call */
    EVP_MAC_CTX *tmpl16; /* the same key, 128-bit output */
};

static EVP_MAC_CTX *keyed(EVP_MAC *mac, const uint8_t *key, size_t keylen, size_t outsize)
{
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &outsize),
                           OSSL_PARAM_construct_end()};
    if (ctx && EVP_MAC_init(ctx, key, keylen, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

rg_keyed_hash *rg_keyed_hash_new(void)
{
    rg_keyed_hash *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    uint8_t key[16];
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    if (mac && RAND_bytes(key, sizeof key) == 1) {
        h->tmpl = keyed(mac, key, sizeof key, 8);
        h->tmpl16 = keyed(mac, key, sizeof key, 16);
    }
    OPENSSL_cleanse(key, sizeof key);
    EVP_MAC_free(mac);
    if (!h->tmpl || !h->tmpl16) {
        rg_keyed_hash_free(h);
        return NULL;
    }
    return h;
}

void rg_keyed_hash_free(rg_keyed_hash *h)
{
    if (!h)
        return;
    EVP_MAC_CTX_free(h->tmpl);
    EVP_MAC_CTX_free(h->tmpl16);
    free(h);
}

/* out[0..n) = the MAC of data under template t, big-endian 64-bit words. */
static int mac_words(EVP_MAC_CTX *t, const void *data, size_t len, uint64_t *out, size_t n)
{
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(t);
    if (!ctx)
        return -1;
    uint8_t d[16];
    size_t outl = 0;
    int rc = -1;
    if ((len == 0 || EVP_MAC_update(ctx, data, len) == 1) &&
        EVP_MAC_final(ctx, d, &outl, 8 * n) == 1 && outl == 8 * n) {
        for (size_t w = 0; w < n; w++) {
            uint64_t v = 0;
            for (int i = 0; i < 8; i++)
                v = v << 8 | d[8 * w + (size_t)i];
            out[w] = v;
        }
        rc = 0;
    }
    EVP_MAC_CTX_free(ctx);
    return rc;
}

int rg_keyed_hash128(const rg_keyed_hash *h, const void *data, size_t len, uint64_t out[2])
{
    return mac_words(h->tmpl16, data, len, out, 2);
}

int rg_keyed_hash64(const rg_keyed_hash *h, const void *data, size_t len, uint64_t *out)
{
    return mac_words(h->tmpl, data, len, out, 1);
}
