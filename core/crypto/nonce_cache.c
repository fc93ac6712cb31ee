/*
 * Replay cache. 64 shards, each a chained hash table under its own mutex.
 * Keys are attacker-chosen, so they are known by their 128-bit SipHash under
 * a random per-cache key (no crafted collisions; two keys are confused with
 * a probability of 2^-128): an entry is that fingerprint and an expiry, 32
 * bytes from a per-shard slab, whatever the key's length. A busy gateway
 * remembers every signed request of the timestamp window, so this is most of
 * what its memory grows with. The entry limit is global: when it is
 * reached, expired entries are swept from every shard (at most once a
 * second) before an insert is refused.
 */
#include "nonce_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "keyed_hash.h"

#define NSHARDS 64
#define INITIAL_BUCKETS 16

#define SLAB_ENTRIES 127

typedef struct entry {
    struct entry *next; /* chain, or free list */
    uint64_t hash;      /* fingerprint: bucket bits (shard bits removed) */
    uint64_t tag;       /* fingerprint: the other 64 bits */
    uint64_t expires_at;
} entry;

typedef struct slab {
    struct slab *next;
    entry e[SLAB_ENTRIES];
} slab;

typedef struct shard {
    pthread_mutex_t mu;
    entry **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    uint64_t next_sweep; /* don't rescan the shard more than once a second */
    slab *slabs;
    entry *free;
} shard;

struct rg_nonce_cache {
    shard shards[NSHARDS];
    size_t max_entries;
    atomic_size_t total;
    atomic_uint_fast64_t last_full_sweep;
    rg_keyed_hash *hash;
};

static int hash_key(const rg_nonce_cache *c, const void *key, size_t len, uint64_t out[2])
{
    return rg_keyed_hash128(c->hash, key, len, out);
}

static entry *entry_new(shard *s)
{
    if (!s->free) {
        slab *b = malloc(sizeof *b);
        if (!b)
            return NULL;
        b->next = s->slabs;
        s->slabs = b;
        for (size_t i = 0; i < SLAB_ENTRIES; i++) {
            b->e[i].next = s->free;
            s->free = &b->e[i];
        }
    }
    entry *e = s->free;
    s->free = e->next;
    return e;
}

static void entry_free(shard *s, entry *e)
{
    e->next = s->free;
    s->free = e;
}

rg_nonce_cache *rg_nonce_cache_new(size_t max_entries)
{
    if (max_entries == 0)
        return NULL;
    rg_nonce_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->max_entries = max_entries;
    atomic_init(&c->total, 0);
    atomic_init(&c->last_full_sweep, 0);
    size_t inited = 0;
    for (; inited < NSHARDS; inited++) {
        shard *s = &c->shards[inited];
        s->buckets = calloc(INITIAL_BUCKETS, sizeof *s->buckets);
        if (!s->buckets || pthread_mutex_init(&s->mu, NULL) != 0) {
            free(s->buckets);
            goto fail;
        }
        s->nbuckets = INITIAL_BUCKETS;
    }
    if (!(c->hash = rg_keyed_hash_new()))
        goto fail;
    return c;
fail:
    for (size_t i = 0; i < inited; i++) {
        free(c->shards[i].buckets);
        pthread_mutex_destroy(&c->shards[i].mu);
    }
    rg_keyed_hash_free(c->hash);
    free(c);
    return NULL;
}

void rg_nonce_cache_free(rg_nonce_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < NSHARDS; i++) {
        shard *s = &c->shards[i];
        for (slab *b = s->slabs, *next; b; b = next) {
            next = b->next;
            free(b);
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->mu);
    }
    rg_keyed_hash_free(c->hash);
    free(c);
}

/* Drops expired entries; caller holds s->mu. */
static void sweep(rg_nonce_cache *c, shard *s, uint64_t now)
{
    size_t dropped = 0;
    for (size_t b = 0; b < s->nbuckets; b++) {
        entry **pp = &s->buckets[b];
        while (*pp) {
            entry *e = *pp;
            if (e->expires_at <= now) {
                *pp = e->next;
                entry_free(s, e);
                dropped++;
            } else {
                pp = &e->next;
            }
        }
    }
    s->count -= dropped;
    atomic_fetch_sub(&c->total, dropped);
    s->next_sweep = now + 1;
}

static void maybe_sweep(rg_nonce_cache *c, shard *s, uint64_t now)
{
    if (now >= s->next_sweep)
        sweep(c, s, now);
}

static entry *find(shard *s, uint64_t hash, uint64_t tag)
{
    for (entry *e = s->buckets[hash & (s->nbuckets - 1)]; e; e = e->next)
        if (e->hash == hash && e->tag == tag)
            return e;
    return NULL;
}

/* Doubles the bucket array when chains get long; failure just keeps chains longer. */
static void maybe_grow(shard *s)
{
    if (s->count < s->nbuckets * 2 || s->nbuckets > SIZE_MAX / 4 / sizeof(entry *))
        return;
    size_t nb = s->nbuckets * 2;
    entry **nbk = calloc(nb, sizeof *nbk);
    if (!nbk)
        return;
    for (size_t b = 0; b < s->nbuckets; b++) {
        entry *e = s->buckets[b];
        while (e) {
            entry *next = e->next;
            size_t i = e->hash & (nb - 1);
            e->next = nbk[i];
            nbk[i] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = nbk;
    s->nbuckets = nb;
}

static bool reserve(rg_nonce_cache *c)
{
    size_t cur = atomic_load(&c->total);
    while (cur < c->max_entries)
        if (atomic_compare_exchange_weak(&c->total, &cur, cur + 1))
            return true;
    return false;
}

/* Under pressure, reclaim expired entries everywhere before refusing. */
static void sweep_all(rg_nonce_cache *c, uint64_t now)
{
    uint_fast64_t last = atomic_load(&c->last_full_sweep);
    if (last >= now + 1 || !atomic_compare_exchange_strong(&c->last_full_sweep, &last, now + 1))
        return;
    for (size_t i = 0; i < NSHARDS; i++) {
        shard *s = &c->shards[i];
        pthread_mutex_lock(&s->mu);
        sweep(c, s, now);
        pthread_mutex_unlock(&s->mu);
    }
}

bool rg_nonce_cache_insert(rg_nonce_cache *c, const void *key, size_t len, uint64_t now,
                           uint64_t expires_at)
{
    uint64_t h[2];
    if (!c || (!key && len) || hash_key(c, key, len, h) != 0)
        return false;
    shard *s = &c->shards[h[0] % NSHARDS];
    /* The low bits pick the shard, so buckets use the rest. */
    uint64_t bh = h[0] / NSHARDS;
    for (int attempt = 0; attempt < 2; attempt++) {
        pthread_mutex_lock(&s->mu);
        maybe_sweep(c, s, now);
        entry *e = find(s, bh, h[1]);
        if (e) {
            bool expired = e->expires_at <= now;
            if (expired)
                e->expires_at = expires_at;
            pthread_mutex_unlock(&s->mu);
            return expired;
        }
        if (reserve(c)) {
            e = entry_new(s);
            if (!e) {
                atomic_fetch_sub(&c->total, 1);
                pthread_mutex_unlock(&s->mu);
                return false;
            }
            e->hash = bh;
            e->tag = h[1];
            e->expires_at = expires_at;
            size_t b = bh & (s->nbuckets - 1);
            e->next = s->buckets[b];
            s->buckets[b] = e;
            s->count++;
            maybe_grow(s);
            pthread_mutex_unlock(&s->mu);
            return true;
        }
        pthread_mutex_unlock(&s->mu);
        if (attempt == 0)
            sweep_all(c, now);
    }
    return false; /* full of live entries: fail closed */
}

bool rg_nonce_cache_contains(rg_nonce_cache *c, const void *key, size_t len, uint64_t now)
{
    uint64_t h[2];
    if (!c || (!key && len) || hash_key(c, key, len, h) != 0)
        return false;
    shard *s = &c->shards[h[0] % NSHARDS];
    uint64_t bh = h[0] / NSHARDS;
    pthread_mutex_lock(&s->mu);
    entry *e = find(s, bh, h[1]);
    bool live = e && e->expires_at > now;
    pthread_mutex_unlock(&s->mu);
    return live;
}
