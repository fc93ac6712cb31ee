/*
 * The in-memory rate-limit counters: a fixed-capacity table of sliding
 * windows shared by every event loop. 64 shards, each under its own mutex,
 * so loops rarely meet on a lock; memory is bounded by `max_entries`, and
 * when the table is full the least recently used window is evicted (an
 * idle window holds nothing worth keeping; a busy one is never the least
 * recently used). Used alone by default, and as the local fallback (and
 * shadow copy) of the Redis backend.
 */
#ifndef RG_RATELIMIT_MEMORY_H
#define RG_RATELIMIT_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "ratelimit/ratelimit_check.h"

typedef struct rg_rl_memory rg_rl_memory;

rg_rl_memory *rg_rl_memory_new(size_t max_entries);
void rg_rl_memory_free(rg_rl_memory *m);

/*
 * Count the request in every window of `c` if all of them admit it; if any
 * refuses, count it in none. v[i] is the verdict of c->win[i]. Never admits
 * more than a window's limit, even with concurrent callers.
 */
void rg_rl_memory_check(rg_rl_memory *m, const rg_rl_check *c, int64_t now_ms,
                        rg_swin_verdict *v);
/* Count the request in every window without checking (Redis admitted it;
   keeping local counts current makes a fallback start from the truth). */
void rg_rl_memory_record(rg_rl_memory *m, const rg_rl_check *c, int64_t now_ms);

size_t rg_rl_memory_entries(rg_rl_memory *m);
/* Windows evicted while they still counted requests (the table is too small). */
uint64_t rg_rl_memory_live_evictions(rg_rl_memory *m);

#endif
