/*
 * A sliding window counter made of fixed buckets: the window is `nbuckets`
 * buckets of `bucket_ms` each, ending with the bucket that holds "now". The
 * count is exact (integers, no weighting of a previous window), so a limit
 * of N admits exactly N requests in any window, and the time until a refused
 * request would be admitted is known to the bucket: that is what makes
 * Retry-After honest. The Redis backend runs the same arithmetic in Lua
 * (ratelimit_redis.c); keep the two in step.
 *
 * Not thread-safe: callers lock (ratelimit_memory.c shards).
 */
#ifndef RG_SLIDING_WINDOW_H
#define RG_SLIDING_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RG_SWIN_MAX_BUCKETS 60

typedef struct rg_swin {
    int64_t head;        /* tick (now_ms / bucket_ms) of the newest bucket */
    uint32_t total;      /* sum of counts */
    uint32_t bucket_ms;
    uint16_t nbuckets;
    uint32_t counts[];   /* counts[tick % nbuckets] */
} rg_swin;

/* What one window says about one request. */
typedef struct rg_swin_verdict {
    bool allowed;
    uint32_t remaining; /* after this request (0 when refused) */
    /* Refused: ms until a retry would be admitted. Allowed: ms until the
       oldest counted request leaves the window (Remaining goes up). */
    uint32_t wait_ms;
    int64_t tick;       /* the bucket counted in, for rg_swin_undo */
} rg_swin_verdict;

/* Bytes to allocate for a window of n buckets (1..RG_SWIN_MAX_BUCKETS). */
size_t rg_swin_size(unsigned nbuckets);
void rg_swin_init(rg_swin *w, unsigned nbuckets, uint32_t bucket_ms);

/* Count one request if fewer than `limit` are in the window (limit >= 1). */
bool rg_swin_try(rg_swin *w, uint32_t limit, int64_t now_ms, rg_swin_verdict *v);
/* Count one request whatever the count (another authority admitted it). */
void rg_swin_add(rg_swin *w, int64_t now_ms);
/* Take back a request counted at `tick` (a later window refused it). */
void rg_swin_undo(rg_swin *w, int64_t tick);
/* Requests in the window at now_ms (advances the window). */
uint32_t rg_swin_count(rg_swin *w, int64_t now_ms);

/* Whole seconds for a header: ceil(ms / 1000), at least 1. */
uint32_t rg_swin_seconds(uint32_t ms);

#endif
