/*
 * HMAC-SHA256 and SHA-256 over one or more byte ranges (EVP). The
 * algorithms are fetched once per process, contexts kept per thread; every
 * call is thread-safe.
 */
#ifndef RG_HMAC_H
#define RG_HMAC_H

#include <stddef.h>
#include <stdint.h>

typedef struct rg_bytes {
    const void *ptr;
    size_t len;
} rg_bytes;

/* mac = HMAC-SHA256(key, parts[0] || parts[1] || ...). 0 on success, -1 on failure. */
int rg_hmac_sha256(const void *key, size_t keylen, const rg_bytes *parts, size_t nparts,
                   uint8_t mac[32]);
/* digest = SHA-256(parts[0] || parts[1] || ...). 0 on success, -1 on failure. */
int rg_sha256(const rg_bytes *parts, size_t nparts, uint8_t digest[32]);

#endif
