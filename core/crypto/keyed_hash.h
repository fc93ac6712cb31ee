/*
 * A 64-bit keyed hash (SipHash-2-4 with a random key per table) for the
 * in-memory tables whose keys come from clients: nonces, rate-limit windows,
 * cached and in-flight queries. A client can't aim keys at one bucket
 * because it can't know the key. One keyed template per table, duplicated
 * per call, so concurrent callers share nothing mutable.
 */
#ifndef RG_KEYED_HASH_H
#define RG_KEYED_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct rg_keyed_hash rg_keyed_hash;

/* A new random key; NULL when OpenSSL can't provide one or out of memory. */
rg_keyed_hash *rg_keyed_hash_new(void);
void rg_keyed_hash_free(rg_keyed_hash *h);

/* 0 with the hash of data in *out, or -1 (OpenSSL failed). Thread-safe. */
int rg_keyed_hash64(const rg_keyed_hash *h, const void *data, size_t len, uint64_t *out);
/* The 128-bit SipHash of data: a fingerprint that stands for the data
   itself where two different inputs must never be confused (2^-128 under a
   key the client can't know). 0, or -1 (OpenSSL failed). Thread-safe. */
int rg_keyed_hash128(const rg_keyed_hash *h, const void *data, size_t len, uint64_t out[2]);

#endif
