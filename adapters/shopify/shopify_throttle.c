/*
 * The shopify adapter's cost-based throttle: the last bucket status Shopify
 * reported, per app and shop, process-wide, and waiting for it to refill
 * within a query's deadline.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "shopify_internal.h"

/* Until a shop tells its bucket: Shopify's standard Admin API limits. */
#define DEFAULT_BUCKET_MAX 1000.0
#define DEFAULT_RESTORE 50.0

/* ---- the shared throttle state ------------------------------------------------------------ */

typedef struct bucket {
    struct bucket *next;
    char *key;
    double max, available, restore; /* points, points, points per second */
    int64_t updated_ms;
} bucket;

static pthread_mutex_t bucket_lock = PTHREAD_MUTEX_INITIALIZER;
static bucket *buckets;

/* Under bucket_lock. */
static bucket *bucket_find(const char *key)
{
    bucket *b = buckets;
    while (b && strcmp(b->key, key))
        b = b->next;
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b || !(b->key = strdup(key))) {
            free(b);
            return NULL;
        }
        b->max = b->available = DEFAULT_BUCKET_MAX;
        b->restore = DEFAULT_RESTORE;
        b->updated_ms = rg_saas_now_ms();
        b->next = buckets;
        buckets = b;
    }
    return b;
}

__attribute__((destructor)) static void free_buckets(void)
{
    pthread_mutex_lock(&bucket_lock);
    for (bucket *b = buckets, *next; b; b = next) {
        next = b->next;
        free(b->key);
        free(b);
    }
    buckets = NULL;
    pthread_mutex_unlock(&bucket_lock);
}

double rg_sp_bucket_max(const char *key)
{
    double m = DEFAULT_BUCKET_MAX;
    pthread_mutex_lock(&bucket_lock);
    bucket *b = bucket_find(key);
    if (b)
        m = b->max;
    pthread_mutex_unlock(&bucket_lock);
    return m;
}

/* Take `cost` points, waiting for the bucket to refill within the deadline. */
rg_status rg_sp_bucket_take(const char *key, double cost, int64_t deadline, rg_error *err)
{
    for (;;) {
        int64_t now = rg_saas_now_ms();
        pthread_mutex_lock(&bucket_lock);
        bucket *b = bucket_find(key);
        if (!b) {
            pthread_mutex_unlock(&bucket_lock);
            return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
        }
        double avail = b->available + (double)(now - b->updated_ms) * b->restore / 1000.0;
        if (avail > b->max)
            avail = b->max;
        b->available = avail;
        b->updated_ms = now;
        if (avail >= cost) {
            b->available -= cost;
            pthread_mutex_unlock(&bucket_lock);
            return RG_OK;
        }
        double restore = b->restore > 0 ? b->restore : 1;
        int64_t wait = (int64_t)ceil((cost - avail) * 1000.0 / restore);
        double max = b->max;
        pthread_mutex_unlock(&bucket_lock);
        if (now + wait > deadline)
            return rg_saas_fail(err, RG_ERR_UNAVAILABLE,
                                "Shopify's query cost budget holds %.0f of %.0f points and this "
                                "request needs %.0f: refilling takes %lld ms, beyond the query's "
                                "time budget",
                                avail, max, cost, (long long)wait);
        rg_saas_sleep_until(now + wait);
    }
}

/* Record the shop's bucket as Shopify reported it. */
void rg_sp_bucket_update(const char *key, const json_t *ext)
{
    json_t *cost = json_object_get(ext, "cost");
    json_t *ts = json_object_get(cost, "throttleStatus");
    json_t *max = json_object_get(ts, "maximumAvailable"),
           *cur = json_object_get(ts, "currentlyAvailable"),
           *rate = json_object_get(ts, "restoreRate");
    if (!json_is_number(max) || !json_is_number(cur) || !json_is_number(rate))
        return;
    pthread_mutex_lock(&bucket_lock);
    bucket *b = bucket_find(key);
    if (b) {
        b->max = json_number_value(max);
        b->available = json_number_value(cur);
        b->restore = json_number_value(rate);
        b->updated_ms = rg_saas_now_ms();
    }
    pthread_mutex_unlock(&bucket_lock);
}

void rg_sp_bucket_set_max(const char *key, double max)
{
    pthread_mutex_lock(&bucket_lock);
    bucket *b = bucket_find(key);
    if (b)
        b->max = max;
    pthread_mutex_unlock(&bucket_lock);
}
