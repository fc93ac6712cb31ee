/*
 * Each shard: a chained hash table (buckets picked with SipHash under a
 * random key, since client addresses are chosen by clients) and an LRU list.
 * Window memory is allocated when a key is first seen and freed on eviction,
 * so an idle server holds little.
 */
#include "ratelimit/ratelimit_memory.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keyed_hash.h"

#define NSHARDS 64

typedef struct entry {
    struct entry *chain;          /* hash bucket */
    struct entry *newer, *older;  /* LRU list */
    uint64_t hash;
    uint8_t key[RG_RL_KEY_MAX];
    uint8_t keylen;
    rg_swin win;                  /* flexible: keep last */
} entry;

typedef struct shard {
    pthread_mutex_t mu;
    entry **buckets;
    size_t nbuckets; /* power of two */
    size_t count, cap;
    entry *newest, *oldest;
} shard;

struct rg_rl_memory {
    shard shards[NSHARDS];
    rg_keyed_hash *hash;
    atomic_size_t entries;
    atomic_uint_fast64_t live_evictions;
};

static int hash_key(const rg_rl_memory *m, const uint8_t *key, size_t len, uint64_t *out)
{
    return rg_keyed_hash64(m->hash, key, len, out);
}

rg_rl_memory *rg_rl_memory_new(size_t max_entries)
{
    rg_rl_memory *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    size_t per = max_entries / NSHARDS;
    if (per < 4)
        per = 4;
    size_t nb = 16;
    while (nb < per)
        nb <<= 1;
    size_t inited = 0;
    for (; inited < NSHARDS; inited++) {
        shard *s = &m->shards[inited];
        s->buckets = calloc(nb, sizeof *s->buckets);
        if (!s->buckets || pthread_mutex_init(&s->mu, NULL) != 0) {
            free(s->buckets);
            goto fail;
        }
        s->nbuckets = nb;
        s->cap = per;
    }
    if (!(m->hash = rg_keyed_hash_new()))
        goto fail;
    return m;
fail:
    for (size_t i = 0; i < inited; i++) {
        free(m->shards[i].buckets);
        pthread_mutex_destroy(&m->shards[i].mu);
    }
    rg_keyed_hash_free(m->hash);
    free(m);
    return NULL;
}

void rg_rl_memory_free(rg_rl_memory *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < NSHARDS; i++) {
        shard *s = &m->shards[i];
        entry *e = s->newest;
        while (e) {
            entry *next = e->older;
            free(e);
            e = next;
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->mu);
    }
    rg_keyed_hash_free(m->hash);
    free(m);
}

static void lru_unlink(shard *s, entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        s->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        s->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push(shard *s, entry *e)
{
    e->older = s->newest;
    e->newer = NULL;
    if (s->newest)
        s->newest->newer = e;
    s->newest = e;
    if (!s->oldest)
        s->oldest = e;
}

static void chain_unlink(shard *s, entry *e)
{
    entry **pp = &s->buckets[(e->hash / NSHARDS) & (s->nbuckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->chain;
    if (*pp)
        *pp = e->chain;
}

/* The window for `w` in shard s (caller holds s->mu), created if missing.
   NULL only when memory runs out. */
static entry *lookup(rg_rl_memory *m, shard *s, uint64_t h, const rg_rl_window *w,
                     int64_t now_ms)
{
    size_t b = (h / NSHARDS) & (s->nbuckets - 1);
    for (entry *e = s->buckets[b]; e; e = e->chain) {
        if (e->hash == h && e->keylen == w->keylen && memcmp(e->key, w->key, w->keylen) == 0 &&
            e->win.nbuckets == w->nbuckets && e->win.bucket_ms == w->bucket_ms) {
            lru_unlink(s, e);
            lru_push(s, e);
            return e;
        }
    }
    if (s->count >= s->cap && s->oldest) {
        entry *old = s->oldest;
        if (rg_swin_count(&old->win, now_ms) > 0)
            atomic_fetch_add(&m->live_evictions, 1);
        lru_unlink(s, old);
        chain_unlink(s, old);
        free(old);
        s->count--;
        atomic_fetch_sub(&m->entries, 1);
    }
    entry *e = malloc(offsetof(entry, win) + rg_swin_size(w->nbuckets));
    if (!e)
        return NULL;
    memset(e, 0, offsetof(entry, win));
    rg_swin_init(&e->win, w->nbuckets, w->bucket_ms);
    e->hash = h;
    memcpy(e->key, w->key, w->keylen);
    e->keylen = w->keylen;
    e->chain = s->buckets[b];
    s->buckets[b] = e;
    lru_push(s, e);
    s->count++;
    atomic_fetch_add(&m->entries, 1);
    return e;
}

static shard *shard_of(rg_rl_memory *m, uint64_t h)
{
    return &m->shards[h % NSHARDS];
}

void rg_rl_memory_check(rg_rl_memory *m, const rg_rl_check *c, int64_t now_ms,
                        rg_swin_verdict *v)
{
    uint64_t hashes[RG_RL_NDIMS];
    bool refused = false;
    /* Phase one: try each window under its own lock. Counting as we go keeps
       every window exact under concurrency; a refusal undoes the others. */
    for (size_t i = 0; i < c->nwin; i++) {
        const rg_rl_window *w = &c->win[i];
        memset(&v[i], 0, sizeof v[i]);
        if (hash_key(m, w->key, w->keylen, &hashes[i]) != 0) {
            /* Fail closed: no hash, no count, no admission. */
            v[i].allowed = false;
            v[i].wait_ms = 1000;
            refused = true;
            continue;
        }
        shard *s = shard_of(m, hashes[i]);
        pthread_mutex_lock(&s->mu);
        entry *e = lookup(m, s, hashes[i], w, now_ms);
        if (e) {
            if (!rg_swin_try(&e->win, w->limit, now_ms, &v[i]))
                refused = true;
        } else {
            v[i].allowed = false;
            v[i].wait_ms = 1000;
            refused = true;
        }
        pthread_mutex_unlock(&s->mu);
    }
    if (!refused)
        return;
    for (size_t i = 0; i < c->nwin; i++) {
        if (!v[i].allowed)
            continue;
        const rg_rl_window *w = &c->win[i];
        shard *s = shard_of(m, hashes[i]);
        pthread_mutex_lock(&s->mu);
        size_t b = (hashes[i] / NSHARDS) & (s->nbuckets - 1);
        for (entry *e = s->buckets[b]; e; e = e->chain)
            if (e->hash == hashes[i] && e->keylen == w->keylen &&
                memcmp(e->key, w->key, w->keylen) == 0 && e->win.nbuckets == w->nbuckets) {
                rg_swin_undo(&e->win, v[i].tick);
                break;
            }
        pthread_mutex_unlock(&s->mu);
        /* The request is refused: this window did not spend one on it. */
        v[i].remaining++;
    }
}

void rg_rl_memory_record(rg_rl_memory *m, const rg_rl_check *c, int64_t now_ms)
{
    for (size_t i = 0; i < c->nwin; i++) {
        const rg_rl_window *w = &c->win[i];
        uint64_t h;
        if (hash_key(m, w->key, w->keylen, &h) != 0)
            continue;
        shard *s = shard_of(m, h);
        pthread_mutex_lock(&s->mu);
        entry *e = lookup(m, s, h, w, now_ms);
        if (e)
            rg_swin_add(&e->win, now_ms);
        pthread_mutex_unlock(&s->mu);
    }
}

size_t rg_rl_memory_entries(rg_rl_memory *m)
{
    return atomic_load(&m->entries);
}

uint64_t rg_rl_memory_live_evictions(rg_rl_memory *m)
{
    return atomic_load(&m->live_evictions);
}
