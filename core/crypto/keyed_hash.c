#include "keyed_hash.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdlib.h>

struct rg_keyed_hash {
    EVP_MAC_CTX *tmpl; /* keyed once, duplicated per call */
};

rg_keyed_hash *rg_keyed_hash_new(void)
{
    rg_keyed_hash *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    uint8_t key[16];
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    if (mac && RAND_bytes(key, sizeof key) == 1) {
        h->tmpl = EVP_MAC_CTX_new(mac);
        size_t outsize = 8;
        OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &outsize),
                               OSSL_PARAM_construct_end()};
        if (h->tmpl && EVP_MAC_init(h->tmpl, key, sizeof key, params) != 1) {
            EVP_MAC_CTX_free(h->tmpl);
            h->tmpl = NULL;
        }
    }
    OPENSSL_cleanse(key, sizeof key);
    EVP_MAC_free(mac);
    if (!h->tmpl) {
        free(h);
        return NULL;
    }
    return h;
}

void rg_keyed_hash_free(rg_keyed_hash *h)
{
    if (!h)
        return;
    EVP_MAC_CTX_free(h->tmpl);
    free(h);
}

int rg_keyed_hash64(const rg_keyed_hash *h, const void *data, size_t len, uint64_t *out)
{
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(h->tmpl);
    if (!ctx)
        return -1;
    uint8_t d[8];
    size_t outl = 0;
    int rc = -1;
    if ((len == 0 || EVP_MAC_update(ctx, data, len) == 1) &&
        EVP_MAC_final(ctx, d, &outl, sizeof d) == 1 && outl == sizeof d) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | d[i];
        *out = v;
        rc = 0;
    }
    EVP_MAC_CTX_free(ctx);
    return rc;
}
