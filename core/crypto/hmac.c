#include "hmac.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>

/*
 * Every signed request costs three HMACs and a digest or two, so what
 * OpenSSL 3 does per call matters: fetching an algorithm takes a lock and a
 * lookup, and creating a context allocates. The algorithms are fetched once
 * per process; each thread keeps one MAC context (digest already set, so a
 * new key only re-keys it) and one digest context, freed when it exits.
 */
static EVP_MAC *g_hmac;
static EVP_MD *g_sha256;
static pthread_key_t g_key;
static int g_ready;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

typedef struct thread_ctx {
    EVP_MAC_CTX *mac;
    EVP_MD_CTX *md;
} thread_ctx;

static void free_thread_ctx(void *p)
{
    thread_ctx *t = p;
    EVP_MAC_CTX_free(t->mac);
    EVP_MD_CTX_free(t->md);
    OPENSSL_free(t);
}

static void setup(void)
{
    g_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    g_ready = g_hmac && g_sha256 && pthread_key_create(&g_key, free_thread_ctx) == 0;
}

static thread_ctx *this_thread(void)
{
    if (pthread_once(&g_once, setup) != 0 || !g_ready)
        return NULL;
    thread_ctx *t = pthread_getspecific(g_key);
    if (t)
        return t;
    t = OPENSSL_zalloc(sizeof *t);
    if (!t)
        return NULL;
    t->mac = EVP_MAC_CTX_new(g_hmac);
    t->md = EVP_MD_CTX_new();
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (!t->mac || !t->md || EVP_MAC_CTX_set_params(t->mac, params) != 1 ||
        pthread_setspecific(g_key, t) != 0) {
        free_thread_ctx(t);
        return NULL;
    }
    return t;
}

int rg_hmac_sha256(const void *key, size_t keylen, const rg_bytes *parts, size_t nparts,
                   uint8_t mac[32])
{
    thread_ctx *t = this_thread();
    if (!t)
        return -1;
    /* HMAC accepts an empty key, but EVP wants a non-NULL pointer. */
    static const unsigned char empty = 0;
    if (!key)
        key = &empty;
    size_t outl = 0;
    if (EVP_MAC_init(t->mac, key, keylen, NULL) != 1)
        return -1;
    for (size_t i = 0; i < nparts; i++)
        if (parts[i].len && EVP_MAC_update(t->mac, parts[i].ptr, parts[i].len) != 1)
            return -1;
    if (EVP_MAC_final(t->mac, mac, &outl, 32) != 1 || outl != 32)
        return -1;
    return 0;
}

int rg_sha256(const rg_bytes *parts, size_t nparts, uint8_t digest[32])
{
    thread_ctx *t = this_thread();
    if (!t)
        return -1;
    unsigned int outl = 0;
    if (EVP_DigestInit_ex(t->md, g_sha256, NULL) != 1)
        return -1;
    for (size_t i = 0; i < nparts; i++)
        if (parts[i].len && EVP_DigestUpdate(t->md, parts[i].ptr, parts[i].len) != 1)
            return -1;
    if (EVP_DigestFinal_ex(t->md, digest, &outl) != 1 || outl != 32)
        return -1;
    return 0;
}
