/*
 * The result cache: exact response bodies of successful queries, keyed by
 * the canonical plan (query/plan.h, rg_plan_canonical), kept for the
 * collection's cache_ttl_s and bounded by a byte budget with LRU eviction.
 *
 * One cache belongs to one runtime (one configuration): a reload starts an
 * empty cache, so nothing computed under an old configuration is served.
 * It is split into shards by key hash, each with its own lock, so the event
 * loops never wait on one global lock. The key hash is keyed with a random
 * secret: keys carry client values, and a predictable hash would let a
 * client pile entries into one chain.
 *
 * Bodies are reference-counted and immutable once built, so a hit is sent
 * without copying and an eviction never pulls bytes from under a reply.
 *
 * Thread-safe: every function may be called from any thread.
 */
#ifndef RG_RESULT_CACHE_H
#define RG_RESULT_CACHE_H

#include <event2/buffer.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Process-wide counters (they outlive a reload, as Prometheus expects). */
typedef struct rg_cache_stats {
    atomic_ulong hits;
    atomic_ulong misses;
    atomic_ulong evictions; /* removed to make room (not expiry, not reload) */
    atomic_ulong coalesced; /* requests that waited for an identical one in flight */
    atomic_long bytes;      /* charged bytes of every live cache */
    atomic_long entries;
} rg_cache_stats;

/* An immutable response body shared by the cache and the replies sending it. */
typedef struct rg_cache_body {
    atomic_uint refs;
    size_t len;
    char data[];
} rg_cache_body;

/* A body holding a copy of the bytes of `buf` (left unchanged), refs 1; NULL when out of memory. */
rg_cache_body *rg_cache_body_from_evbuffer(struct evbuffer *buf);
void rg_cache_body_retain(rg_cache_body *b);
void rg_cache_body_release(rg_cache_body *b);
/* Append b's bytes to out without copying (holds a reference until sent). 0 or -1. */
int rg_cache_body_add_to(rg_cache_body *b, struct evbuffer *out);

typedef struct rg_result_cache rg_result_cache;

/* max_bytes 0: no cache (NULL is returned and is not an error). `stats` may
   be NULL (counted nowhere) and must outlive the cache. *failed is set to 1
   when out of memory. */
rg_result_cache *rg_result_cache_new(size_t max_bytes, rg_cache_stats *stats, int *failed);
/* Frees every entry (bodies still being sent stay alive until sent). NULL is fine. */
void rg_result_cache_free(rg_result_cache *c);

/* The keyed hash of a key, for get/put and for sharding. */
uint64_t rg_result_cache_hash(const rg_result_cache *c, const void *key, size_t len);

/*
 * The live body for key, retained for the caller (release it), or NULL. An
 * entry past its expiry is removed and is a miss. `now_ms` is monotonic
 * milliseconds (rg_result_cache_now_ms), passed in so tests control time.
 */
rg_cache_body *rg_result_cache_get(rg_result_cache *c, const void *key, size_t len, uint64_t hash,
                                   uint64_t now_ms);
/* The same, for a look that the caller follows with a full one when it
   finds nothing: a miss is not counted. */
rg_cache_body *rg_result_cache_peek(rg_result_cache *c, const void *key, size_t len,
                                    uint64_t hash, uint64_t now_ms);

/*
 * Store body (retained) for key until now_ms + ttl_ms, replacing an older
 * entry, evicting the least recently used entries of the shard until it
 * fits. A body larger than a shard's share of the budget is not stored.
 * Returns 1 if stored, 0 if not (too large, or out of memory).
 */
int rg_result_cache_put(rg_result_cache *c, const void *key, size_t len, uint64_t hash,
                        rg_cache_body *body, uint64_t ttl_ms, uint64_t now_ms);

/* Charged bytes and entries, summed over the shards (for tests). */
size_t rg_result_cache_bytes(rg_result_cache *c);
size_t rg_result_cache_entries(rg_result_cache *c);
/* What one entry is charged: its body, its key and the bookkeeping. */
size_t rg_result_cache_charge(size_t key_len, size_t body_len);

uint64_t rg_result_cache_now_ms(void);

/* The process-wide counters every runtime's cache reports to. */
rg_cache_stats *rg_cache_stats_shared(void);
/* Append the Prometheus text for the counters. */
void rg_cache_stats_render(const rg_cache_stats *s, struct evbuffer *out);

#endif
