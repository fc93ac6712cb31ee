#include "cache/result_cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/keyed_hash.h"

#define MAX_SHARDS 16
/* A shard's share of the budget must hold a sizeable response; below that,
   fewer shards (lock contention only matters for big, busy caches). */
#define MIN_SHARD_BYTES ((size_t)1 << 20)
#define FIRST_BUCKETS 64

typedef struct entry {
    struct entry *hnext;       /* bucket chain */
    struct entry *prev, *next; /* LRU list, head = most recently used */
    uint64_t hash;
    uint64_t expires_ms;
    size_t charge;
    rg_cache_body *body;
    size_t key_len;
    unsigned char key[];
} entry;

typedef struct shard {
    pthread_mutex_t lock;
    entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    size_t bytes;
    size_t budget;
    entry *head, *tail;
} shard;

struct rg_result_cache {
    rg_keyed_hash *hash;
    rg_cache_stats *stats;
    size_t nshards;
    shard shards[];
};

/* ---- bodies ------------------------------------------------------------------- */

rg_cache_body *rg_cache_body_from_evbuffer(struct evbuffer *buf)
{
    size_t len = evbuffer_get_length(buf);
    rg_cache_body *b = malloc(sizeof *b + (len ? len : 1));
    if (!b)
        return NULL;
    if (len && evbuffer_copyout(buf, b->data, len) != (ev_ssize_t)len) {
        free(b);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->len = len;
    return b;
}

void rg_cache_body_retain(rg_cache_body *b) { atomic_fetch_add(&b->refs, 1); }

void rg_cache_body_release(rg_cache_body *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

static void body_sent(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    rg_cache_body_release(arg);
}

int rg_cache_body_add_to(rg_cache_body *b, struct evbuffer *out)
{
    rg_cache_body_retain(b);
    if (evbuffer_add_reference(out, b->data, b->len, body_sent, b) != 0) {
        rg_cache_body_release(b);
        return -1;
    }
    return 0;
}

/* ---- the cache ------------------------------------------------------------------ */

size_t rg_result_cache_charge(size_t key_len, size_t body_len)
{
    return sizeof(entry) + key_len + sizeof(rg_cache_body) + body_len;
}

uint64_t rg_result_cache_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

rg_result_cache *rg_result_cache_new(size_t max_bytes, rg_cache_stats *stats, int *failed)
{
    *failed = 0;
    if (max_bytes == 0)
        return NULL;
    size_t n = max_bytes / MIN_SHARD_BYTES;
    n = n < 1 ? 1 : n > MAX_SHARDS ? MAX_SHARDS : n;
    /* A power of two, so the low hash bits pick the shard. */
    while (n & (n - 1))
        n &= n - 1;
    rg_result_cache *c = calloc(1, sizeof *c + n * sizeof c->shards[0]);
    if (!c) {
        *failed = 1;
        return NULL;
    }
    c->stats = stats;
    c->nshards = n;
    if (!(c->hash = rg_keyed_hash_new())) {
        free(c);
        *failed = 1;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        shard *s = &c->shards[i];
        s->budget = max_bytes / n;
        s->nbuckets = FIRST_BUCKETS;
        s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
        if (!s->buckets || pthread_mutex_init(&s->lock, NULL) != 0) {
            free(s->buckets);
            s->buckets = NULL;
            c->nshards = i;
            rg_result_cache_free(c);
            *failed = 1;
            return NULL;
        }
    }
    return c;
}

static void stats_add(rg_result_cache *c, long bytes, long entries)
{
    if (!c->stats)
        return;
    atomic_fetch_add_explicit(&c->stats->bytes, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->stats->entries, entries, memory_order_relaxed);
}

static void count(atomic_ulong *counter)
{
    if (counter)
        atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

void rg_result_cache_free(rg_result_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nshards; i++) {
        shard *s = &c->shards[i];
        for (entry *e = s->head, *next; e; e = next) {
            next = e->next;
            rg_cache_body_release(e->body);
            free(e);
        }
        stats_add(c, -(long)s->bytes, -(long)s->count);
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
    rg_keyed_hash_free(c->hash);
    free(c);
}

uint64_t rg_result_cache_hash(const rg_result_cache *c, const void *key, size_t len)
{
    uint64_t h;
    /* On failure every key hashes to 0: slower, never wrong (keys are compared in full). */
    return rg_keyed_hash64(c->hash, key, len, &h) == 0 ? h : 0;
}

static shard *shard_of(rg_result_cache *c, uint64_t hash)
{
    return &c->shards[hash & (c->nshards - 1)];
}

static size_t bucket_of(const shard *s, uint64_t hash)
{
    return (size_t)(hash >> 8) & (s->nbuckets - 1);
}

static entry **find_link(shard *s, const void *key, size_t len, uint64_t hash)
{
    entry **link = &s->buckets[bucket_of(s, hash)];
    for (; *link; link = &(*link)->hnext) {
        entry *e = *link;
        if (e->hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0)
            return link;
    }
    return NULL;
}

static void lru_unlink(shard *s, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(shard *s, entry *e)
{
    e->prev = NULL;
    e->next = s->head;
    if (s->head)
        s->head->prev = e;
    s->head = e;
    if (!s->tail)
        s->tail = e;
}

/* Unlink e (whose chain link is *link) and free it. */
static void remove_entry(rg_result_cache *c, shard *s, entry **link, entry *e)
{
    *link = e->hnext;
    lru_unlink(s, e);
    s->count--;
    s->bytes -= e->charge;
    stats_add(c, -(long)e->charge, -1);
    rg_cache_body_release(e->body);
    free(e);
}

static void evict_tail(rg_result_cache *c, shard *s)
{
    entry *e = s->tail;
    entry **link = &s->buckets[bucket_of(s, e->hash)];
    while (*link != e)
        link = &(*link)->hnext;
    remove_entry(c, s, link, e);
    count(c->stats ? &c->stats->evictions : NULL);
}

/* Double the buckets when chains get long; keeps the old table when out of memory. */
static void maybe_grow(shard *s)
{
    if (s->count < s->nbuckets || s->nbuckets > SIZE_MAX / 4 / sizeof(entry *))
        return;
    size_t n = s->nbuckets * 2;
    entry **nb = calloc(n, sizeof *nb);
    if (!nb)
        return;
    size_t old_n = s->nbuckets;
    entry **old = s->buckets;
    s->buckets = nb;
    s->nbuckets = n;
    for (size_t i = 0; i < old_n; i++)
        for (entry *e = old[i], *next; e; e = next) {
            next = e->hnext;
            size_t b = bucket_of(s, e->hash);
            e->hnext = nb[b];
            nb[b] = e;
        }
    free(old);
}

static rg_cache_body *lookup(rg_result_cache *c, const void *key, size_t len, uint64_t hash,
                             uint64_t now_ms, int count_miss)
{
    shard *s = shard_of(c, hash);
    rg_cache_body *b = NULL;
    pthread_mutex_lock(&s->lock);
    entry **link = find_link(s, key, len, hash);
    if (link) {
        entry *e = *link;
        if (now_ms >= e->expires_ms) {
            remove_entry(c, s, link, e);
        } else {
            lru_unlink(s, e);
            lru_push(s, e);
            b = e->body;
            rg_cache_body_retain(b);
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (c->stats && (b || count_miss))
        count(b ? &c->stats->hits : &c->stats->misses);
    return b;
}

rg_cache_body *rg_result_cache_get(rg_result_cache *c, const void *key, size_t len, uint64_t hash,
                                   uint64_t now_ms)
{
    return lookup(c, key, len, hash, now_ms, 1);
}

rg_cache_body *rg_result_cache_peek(rg_result_cache *c, const void *key, size_t len,
                                    uint64_t hash, uint64_t now_ms)
{
    return lookup(c, key, len, hash, now_ms, 0);
}

int rg_result_cache_put(rg_result_cache *c, const void *key, size_t len, uint64_t hash,
                        rg_cache_body *body, uint64_t ttl_ms, uint64_t now_ms)
{
    shard *s = shard_of(c, hash);
    size_t charge = rg_result_cache_charge(len, body->len);
    if (charge > s->budget || ttl_ms == 0)
        return 0;
    entry *e = malloc(sizeof *e + len);
    if (!e)
        return 0;
    memcpy(e->key, key, len);
    e->key_len = len;
    e->hash = hash;
    e->expires_ms = now_ms + ttl_ms;
    e->charge = charge;
    e->body = body;
    rg_cache_body_retain(body);
    pthread_mutex_lock(&s->lock);
    entry **link = find_link(s, key, len, hash);
    if (link)
        remove_entry(c, s, link, *link);
    while (s->tail && s->bytes + charge > s->budget)
        evict_tail(c, s);
    maybe_grow(s);
    size_t b = bucket_of(s, hash);
    e->hnext = s->buckets[b];
    s->buckets[b] = e;
    lru_push(s, e);
    s->count++;
    s->bytes += charge;
    stats_add(c, (long)charge, 1);
    pthread_mutex_unlock(&s->lock);
    return 1;
}

/* Bytes and entries summed over the shards, each read under its lock. */
static void totals(rg_result_cache *c, size_t *bytes, size_t *entries)
{
    *bytes = *entries = 0;
    for (size_t i = 0; i < c->nshards; i++) {
        pthread_mutex_lock(&c->shards[i].lock);
        *bytes += c->shards[i].bytes;
        *entries += c->shards[i].count;
        pthread_mutex_unlock(&c->shards[i].lock);
    }
}

size_t rg_result_cache_bytes(rg_result_cache *c)
{
    size_t bytes, entries;
    totals(c, &bytes, &entries);
    return bytes;
}

size_t rg_result_cache_entries(rg_result_cache *c)
{
    size_t bytes, entries;
    totals(c, &bytes, &entries);
    return entries;
}

/* ---- metrics -------------------------------------------------------------------- */

static rg_cache_stats shared_stats;

rg_cache_stats *rg_cache_stats_shared(void) { return &shared_stats; }

void rg_cache_stats_render(const rg_cache_stats *s, struct evbuffer *out)
{
    long bytes = atomic_load(&s->bytes), entries = atomic_load(&s->entries);
    evbuffer_add_printf(
        out,
        "# HELP readgate_cache_hits_total Queries answered from the result cache.\n"
        "# TYPE readgate_cache_hits_total counter\nreadgate_cache_hits_total %lu\n"
        "# HELP readgate_cache_misses_total Cacheable queries not found in the result cache.\n"
        "# TYPE readgate_cache_misses_total counter\nreadgate_cache_misses_total %lu\n"
        "# HELP readgate_cache_evictions_total Entries removed to stay within cache.max_bytes.\n"
        "# TYPE readgate_cache_evictions_total counter\nreadgate_cache_evictions_total %lu\n"
        "# HELP readgate_cache_bytes Bytes held by the result cache.\n"
        "# TYPE readgate_cache_bytes gauge\nreadgate_cache_bytes %ld\n"
        "# HELP readgate_cache_entries Entries in the result cache.\n"
        "# TYPE readgate_cache_entries gauge\nreadgate_cache_entries %ld\n"
        "# HELP readgate_coalesced_requests_total Queries that shared the backend call of an "
        "identical query in flight.\n"
        "# TYPE readgate_coalesced_requests_total counter\nreadgate_coalesced_requests_total %lu\n",
        (unsigned long)atomic_load(&s->hits), (unsigned long)atomic_load(&s->misses),
        (unsigned long)atomic_load(&s->evictions), bytes < 0 ? 0 : bytes,
        entries < 0 ? 0 : entries, (unsigned long)atomic_load(&s->coalesced));
}
