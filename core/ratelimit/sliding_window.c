#include "ratelimit/sliding_window.h"

#include <string.h>

size_t rg_swin_size(unsigned nbuckets)
{
    return sizeof(rg_swin) + (size_t)nbuckets * sizeof(uint32_t);
}

void rg_swin_init(rg_swin *w, unsigned nbuckets, uint32_t bucket_ms)
{
    if (nbuckets < 1)
        nbuckets = 1;
    if (nbuckets > RG_SWIN_MAX_BUCKETS)
        nbuckets = RG_SWIN_MAX_BUCKETS;
    w->head = 0;
    w->total = 0;
    w->bucket_ms = bucket_ms ? bucket_ms : 1;
    w->nbuckets = (uint16_t)nbuckets;
    memset(w->counts, 0, (size_t)nbuckets * sizeof w->counts[0]);
}

static size_t slot(const rg_swin *w, int64_t tick)
{
    int64_t n = w->nbuckets;
    return (size_t)(((tick % n) + n) % n);
}

/* Drop the buckets that left the window by `tick`. A clock that went back
   keeps counting into the newest bucket rather than reopening old ones. */
static int64_t advance(rg_swin *w, int64_t now_ms)
{
    int64_t tick = now_ms / w->bucket_ms;
    if (tick <= w->head)
        return w->head;
    if (tick - w->head >= w->nbuckets || w->total == 0) {
        memset(w->counts, 0, (size_t)w->nbuckets * sizeof w->counts[0]);
        w->total = 0;
    } else {
        for (int64_t t = w->head + 1; t <= tick; t++) {
            uint32_t *c = &w->counts[slot(w, t)];
            w->total -= *c;
            *c = 0;
        }
    }
    w->head = tick;
    return tick;
}

/* Smallest k >= 1 such that, k buckets from now, dropping the oldest k
   buckets leaves fewer than `below` requests; ms from now_ms to then. */
static uint32_t wait_until_below(const rg_swin *w, int64_t tick, int64_t now_ms, uint32_t below)
{
    uint32_t left = w->total;
    int64_t oldest = tick - w->nbuckets + 1;
    int64_t k = 1;
    for (; k <= w->nbuckets; k++) {
        left -= w->counts[slot(w, oldest + k - 1)];
        if (left < below)
            break;
    }
    if (k > w->nbuckets)
        k = w->nbuckets;
    int64_t ms = (tick + k) * (int64_t)w->bucket_ms - now_ms;
    return ms < 1 ? 1u : (uint32_t)ms;
}

bool rg_swin_try(rg_swin *w, uint32_t limit, int64_t now_ms, rg_swin_verdict *v)
{
    int64_t tick = advance(w, now_ms);
    v->tick = tick;
    if (limit == 0 || w->total >= limit) {
        v->allowed = false;
        v->remaining = 0;
        /* Admitted again once the count drops below the limit. */
        v->wait_ms = wait_until_below(w, tick, now_ms, limit ? limit : 1);
        return false;
    }
    w->counts[slot(w, tick)]++;
    w->total++;
    v->allowed = true;
    v->remaining = limit - w->total;
    /* Remaining rises when the oldest counted request leaves. */
    v->wait_ms = wait_until_below(w, tick, now_ms, w->total);
    return true;
}

void rg_swin_add(rg_swin *w, int64_t now_ms)
{
    int64_t tick = advance(w, now_ms);
    if (w->total == UINT32_MAX)
        return;
    w->counts[slot(w, tick)]++;
    w->total++;
}

void rg_swin_undo(rg_swin *w, int64_t tick)
{
    if (tick > w->head || tick <= w->head - w->nbuckets)
        return; /* already out of the window */
    uint32_t *c = &w->counts[slot(w, tick)];
    if (*c == 0)
        return;
    (*c)--;
    w->total--;
}

uint32_t rg_swin_count(rg_swin *w, int64_t now_ms)
{
    advance(w, now_ms);
    return w->total;
}

uint32_t rg_swin_seconds(uint32_t ms)
{
    uint32_t s = ms / 1000 + (ms % 1000 ? 1 : 0);
    return s ? s : 1;
}
