#include "ratelimit/ratelimit.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/server.h"
#include "util/log.h"

struct rg_rl_pending {
    rg_loop *loop;
    rg_rl_check chk;
    rg_rl_done done;
    void *arg;
    rg_rl_redis_req *rq;
};

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void note_live_evictions(rg_server *srv)
{
    uint64_t n = rg_rl_memory_live_evictions(srv->rl_mem);
    if (n == 0 || atomic_exchange(&srv->rl_evict_warned, 1))
        return;
    rg_warn("rate limits: the in-memory table is full and windows still counting are being "
            "evicted; raise limits.ratelimit_entries");
}

/* This process's counters decide (memory backend, or Redis unavailable). */
static void decide_local(rg_server *srv, const rg_rl_check *c, rg_rl_result *out)
{
    if (c->end_session && atomic_load(&srv->rl_stats.configured) > 0)
        rg_warn("DELETE /session: Redis is not answering; the session is ended on this "
                "instance only");
    if (c->has_nonce &&
        !rg_nonce_cache_insert(srv->nonces, c->nonce, c->nonce_len, (uint64_t)time(NULL),
                               c->nonce_until)) {
        /* A replay, or a cache full of live nonces: refusing fails closed. */
        memset(out, 0, sizeof *out);
        out->outcome = RG_RL_REPLAY;
        return;
    }
    rg_swin_verdict v[RG_RL_NDIMS];
    rg_rl_memory_check(srv->rl_mem, c, mono_ms(), v);
    rg_rl_summarize(c, v, out);
    note_live_evictions(srv);
}

static void on_redis(void *arg, rg_rl_redis_status st, const rg_swin_verdict *v)
{
    rg_rl_pending *p = arg;
    rg_server *srv = p->loop->srv;
    rg_rl_result res;
    switch (st) {
    case RG_RL_REDIS_REPLAY:
        memset(&res, 0, sizeof res);
        res.outcome = RG_RL_REPLAY;
        break;
    case RG_RL_REDIS_ENDED:
        /* Ended on another instance: remember it here too, so the next
           request with it is refused before its signature is checked. */
        memset(&res, 0, sizeof res);
        res.outcome = RG_RL_ENDED;
        (void)rg_nonce_cache_insert(srv->ended, p->chk.session_id, sizeof p->chk.session_id,
                                    (uint64_t)time(NULL), p->chk.session_until);
        break;
    case RG_RL_REDIS_OK:
        rg_rl_summarize(&p->chk, v, &res);
        if (res.outcome == RG_RL_ALLOWED) {
            /* Shadow copies, so a fallback starts from what Redis knew. */
            rg_rl_memory_record(srv->rl_mem, &p->chk, mono_ms());
            if (p->chk.has_nonce)
                (void)rg_nonce_cache_insert(srv->nonces, p->chk.nonce, p->chk.nonce_len,
                                            (uint64_t)time(NULL), p->chk.nonce_until);
        }
        break;
    default:
        atomic_fetch_add(&srv->rl_fallbacks, 1);
        decide_local(srv, &p->chk, &res);
        break;
    }
    rg_rl_done done = p->done;
    void *darg = p->arg;
    free(p);
    done(darg, &res);
}

int rg_ratelimit_check(rg_loop *loop, const rg_rl_check *c, rg_rl_done done, void *arg,
                       rg_rl_pending **pending, rg_rl_result *out)
{
    rg_server *srv = loop->srv;
    *pending = NULL;
    if (loop->rt->cfg->redis_host && (c->nwin > 0 || c->has_nonce)) {
        rg_rl_pending *p = malloc(sizeof *p);
        if (p) {
            p->loop = loop;
            p->chk = *c;
            p->done = done;
            p->arg = arg;
            p->rq = NULL;
            if (rg_rl_redis_check(loop->redis, &p->chk, on_redis, p, &p->rq) == 0) {
                *pending = p;
                return 0;
            }
            free(p);
        }
        /* Configured but not answering: never unlimited, count locally. */
        if (atomic_load(&loop->srv->rl_stats.configured) > 0)
            atomic_fetch_add(&srv->rl_fallbacks, 1);
    }
    decide_local(srv, c, out);
    return 1;
}

void rg_rl_cancel(rg_rl_pending *p)
{
    if (!p)
        return;
    rg_rl_redis_cancel(p->rq);
    free(p);
}

void rg_rl_add_headers(struct evhttp_request *req, const rg_rl_result *r)
{
    if (!r->has_headers)
        return;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char v[24];
    snprintf(v, sizeof v, "%u", r->limit);
    evhttp_add_header(h, "RateLimit-Limit", v);
    snprintf(v, sizeof v, "%u", r->remaining);
    evhttp_add_header(h, "RateLimit-Remaining", v);
    snprintf(v, sizeof v, "%u", r->reset_s);
    evhttp_add_header(h, "RateLimit-Reset", v);
    if (r->outcome == RG_RL_LIMITED) {
        snprintf(v, sizeof v, "%u", r->retry_after_s);
        evhttp_add_header(h, "Retry-After", v);
    }
}

void rg_ratelimit_render_metrics(rg_server *srv, struct evbuffer *out)
{
    int configured = atomic_load(&srv->rl_stats.configured);
    int up = atomic_load(&srv->rl_stats.up);
    evbuffer_add_printf(
        out,
        "# HELP readgate_ratelimit_redis_up 1 when every event loop has a working Redis "
        "connection (rate_limit: redis://...), else 0.\n"
        "# TYPE readgate_ratelimit_redis_up gauge\nreadgate_ratelimit_redis_up %d\n"
        "# HELP readgate_ratelimit_redis_connections_up Event loops whose Redis connection works.\n"
        "# TYPE readgate_ratelimit_redis_connections_up gauge\n"
        "readgate_ratelimit_redis_connections_up %d\n"
        "# HELP readgate_ratelimit_fallback_total Rate-limit decisions made with local counters "
        "because Redis could not answer.\n"
        "# TYPE readgate_ratelimit_fallback_total counter\nreadgate_ratelimit_fallback_total %lu\n"
        "# HELP readgate_ratelimit_redis_timeouts_total Redis answers that took too long.\n"
        "# TYPE readgate_ratelimit_redis_timeouts_total counter\n"
        "readgate_ratelimit_redis_timeouts_total %lu\n"
        "# HELP readgate_ratelimit_redis_errors_total Lost Redis connections and error replies.\n"
        "# TYPE readgate_ratelimit_redis_errors_total counter\n"
        "readgate_ratelimit_redis_errors_total %lu\n"
        "# HELP readgate_ratelimit_memory_entries Windows held in the in-memory table.\n"
        "# TYPE readgate_ratelimit_memory_entries gauge\nreadgate_ratelimit_memory_entries %zu\n"
        "# HELP readgate_ratelimit_memory_live_evictions_total Windows evicted while still "
        "counting (the table is too small).\n"
        "# TYPE readgate_ratelimit_memory_live_evictions_total counter\n"
        "readgate_ratelimit_memory_live_evictions_total %llu\n",
        configured > 0 && up >= configured ? 1 : 0, up,
        (unsigned long)atomic_load(&srv->rl_fallbacks),
        (unsigned long)atomic_load(&srv->rl_stats.timeouts),
        (unsigned long)atomic_load(&srv->rl_stats.errors), rg_rl_memory_entries(srv->rl_mem),
        (unsigned long long)rg_rl_memory_live_evictions(srv->rl_mem));
}
