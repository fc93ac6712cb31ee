/*
 * Replay protection: remembers (session nonce, request nonce) pairs for the
 * timestamp window. Sharded locks, no global lock on the request path, bounded
 * memory (expired entries are dropped as shards are touched).
 */
#ifndef RG_NONCE_CACHE_H
#define RG_NONCE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rg_nonce_cache rg_nonce_cache;

rg_nonce_cache *rg_nonce_cache_new(size_t max_entries);
void rg_nonce_cache_free(rg_nonce_cache *c);
/*
 * Record `key` (any bytes) until `expires_at`. Returns true if it was new,
 * false if it was already present and not yet expired (a replay), or if the
 * cache is full of live entries (fail closed).
 */
bool rg_nonce_cache_insert(rg_nonce_cache *c, const void *key, size_t len, uint64_t now,
                           uint64_t expires_at);

/* Is `key` present and not expired? (Used for sessions ended early.) */
bool rg_nonce_cache_contains(rg_nonce_cache *c, const void *key, size_t len, uint64_t now);

#endif
