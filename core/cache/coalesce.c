#include "cache/coalesce.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keyed_hash.h"

#define NSHARDS 16
/* Flights are few (the in-flight caps bound them): fixed chains suffice. */
#define NBUCKETS 64

struct rg_flight {
    rg_flight *hnext;
    uint64_t hash;
    void *value;
    rg_flight_waiter *waiters;
    size_t key_len;
    unsigned char key[];
};

typedef struct shard {
    pthread_mutex_t lock;
    rg_flight *buckets[NBUCKETS];
    size_t open;
} shard;

struct rg_flights {
    rg_keyed_hash *hash;
    shard shards[NSHARDS];
};

rg_flights *rg_flights_new(void)
{
    rg_flights *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    if (!(t->hash = rg_keyed_hash_new())) {
        free(t);
        return NULL;
    }
    for (int i = 0; i < NSHARDS; i++)
        if (pthread_mutex_init(&t->shards[i].lock, NULL) != 0) {
            while (i-- > 0)
                pthread_mutex_destroy(&t->shards[i].lock);
            rg_keyed_hash_free(t->hash);
            free(t);
            return NULL;
        }
    return t;
}

void rg_flights_free(rg_flights *t)
{
    if (!t)
        return;
    for (int i = 0; i < NSHARDS; i++)
        pthread_mutex_destroy(&t->shards[i].lock);
    rg_keyed_hash_free(t->hash);
    free(t);
}

uint64_t rg_flights_hash(const rg_flights *t, const void *key, size_t len)
{
    uint64_t h;
    /* On failure every key hashes to 0: slower, never wrong (keys are compared in full). */
    return rg_keyed_hash64(t->hash, key, len, &h) == 0 ? h : 0;
}

static shard *shard_of(rg_flights *t, uint64_t hash) { return &t->shards[hash % NSHARDS]; }

static rg_flight **bucket_of(shard *s, uint64_t hash) { return &s->buckets[(hash >> 8) % NBUCKETS]; }

rg_flight_role rg_flights_join(rg_flights *t, const void *key, size_t len, uint64_t hash,
                               void *value, rg_flight_waiter *w, int (*found)(void *arg),
                               void *arg, void **joined, rg_flight **flight)
{
    shard *s = shard_of(t, hash);
    rg_flight_role role;
    *joined = NULL;
    *flight = NULL;
    w->next = NULL;
    pthread_mutex_lock(&s->lock);
    rg_flight **b = bucket_of(s, hash);
    rg_flight *f = *b;
    while (f && !(f->hash == hash && f->key_len == len && memcmp(f->key, key, len) == 0))
        f = f->hnext;
    if (f) {
        /* Appended, so waiters are woken in arrival order. */
        rg_flight_waiter **tail = &f->waiters;
        while (*tail)
            tail = &(*tail)->next;
        *tail = w;
        *joined = f->value;
        role = RG_FLIGHT_FOLLOW;
    } else if (found && found(arg)) {
        role = RG_FLIGHT_FOUND;
    } else if (!(f = malloc(sizeof *f + len))) {
        role = RG_FLIGHT_ERROR;
    } else {
        memcpy(f->key, key, len);
        f->key_len = len;
        f->hash = hash;
        f->value = value;
        f->waiters = w;
        f->hnext = *b;
        *b = f;
        s->open++;
        *flight = f;
        role = RG_FLIGHT_LEAD;
    }
    pthread_mutex_unlock(&s->lock);
    return role;
}

rg_flight_waiter *rg_flights_close(rg_flights *t, rg_flight *f)
{
    shard *s = shard_of(t, f->hash);
    pthread_mutex_lock(&s->lock);
    rg_flight **link = bucket_of(s, f->hash);
    while (*link && *link != f)
        link = &(*link)->hnext;
    if (*link) {
        *link = f->hnext;
        s->open--;
    }
    rg_flight_waiter *w = f->waiters;
    pthread_mutex_unlock(&s->lock);
    free(f);
    return w;
}

size_t rg_flights_open(rg_flights *t)
{
    size_t n = 0;
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_lock(&t->shards[i].lock);
        n += t->shards[i].open;
        pthread_mutex_unlock(&t->shards[i].lock);
    }
    return n;
}
