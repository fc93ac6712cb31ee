#include "ratelimit/ratelimit_check.h"

#include <string.h>

const char *rg_rl_route_name(rg_rl_route r)
{
    switch (r) {
    case RG_RL_TOKEN: return "token";
    case RG_RL_QUERY: return "query";
    case RG_RL_COLLECTIONS: return "collections";
    case RG_RL_SESSION: return "session";
    case RG_RL_EVENTS: return "events";
    default: return "other";
    }
}

void rg_rl_add_window(rg_rl_check *c, rg_rl_route route, int dim, uint32_t limit,
                      const void *id, size_t idlen)
{
    if (limit == 0 || c->nwin >= RG_RL_NDIMS || idlen > RG_RL_KEY_MAX - 2)
        return;
    rg_rl_window *w = &c->win[c->nwin++];
    w->limit = limit;
    if (dim == RG_RL_DIM_BURST) {
        w->nbuckets = 10;
        w->bucket_ms = 100;
    } else {
        w->nbuckets = 60;
        w->bucket_ms = 1000;
    }
    w->key[0] = (uint8_t)route;
    w->key[1] = (uint8_t)dim;
    memcpy(w->key + 2, id, idlen);
    w->keylen = (uint8_t)(idlen + 2);
}

void rg_rl_summarize(const rg_rl_check *c, const rg_swin_verdict *v, rg_rl_result *out)
{
    memset(out, 0, sizeof *out);
    out->outcome = RG_RL_ALLOWED;
    if (c->nwin == 0)
        return;
    out->has_headers = true;
    int pick = -1;
    uint32_t retry_ms = 0;
    for (size_t i = 0; i < c->nwin; i++) {
        if (v[i].allowed)
            continue;
        out->outcome = RG_RL_LIMITED;
        if (pick < 0 || v[i].wait_ms > retry_ms) {
            pick = (int)i;
            retry_ms = v[i].wait_ms;
        }
    }
    if (out->outcome == RG_RL_LIMITED) {
        out->limit = c->win[pick].limit;
        out->remaining = 0;
        out->retry_after_s = rg_swin_seconds(retry_ms);
        out->reset_s = out->retry_after_s;
        return;
    }
    /* Allowed: the window with the fewest requests left speaks for all;
       among equals, the one that takes longest to recover. */
    for (size_t i = 0; i < c->nwin; i++) {
        if (pick < 0 || v[i].remaining < v[pick].remaining ||
            (v[i].remaining == v[pick].remaining && v[i].wait_ms > v[pick].wait_ms))
            pick = (int)i;
    }
    out->limit = c->win[pick].limit;
    out->remaining = v[pick].remaining;
    out->reset_s = rg_swin_seconds(v[pick].wait_ms);
}
