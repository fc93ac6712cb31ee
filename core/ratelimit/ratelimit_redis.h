/*
 * Rate limits and replay protection shared by several instances through
 * Redis: one asynchronous hiredis connection per event loop (its libevent
 * adapter, so the loop never blocks), and one atomic Lua script per request
 * that checks the replay key (SET NX EX) and every sliding window, and
 * counts the request only if all admit it. EVALSHA first, EVAL when Redis
 * has forgotten the script.
 *
 * A request waits at most limits.ratelimit_timeout_ms; past that, or while
 * Redis is down, the caller decides with its local counters (never
 * unlimited). A timeout drops the connection; it is re-established in the
 * background, and each change between up and down is logged once.
 */
#ifndef RG_RATELIMIT_REDIS_H
#define RG_RATELIMIT_REDIS_H

#include <event2/event.h>
#include <stdatomic.h>
#include <stdint.h>

#include "ratelimit/ratelimit_check.h"

/* Shared by the loops of one server, for /metrics. */
typedef struct rg_rl_redis_stats {
    atomic_int configured;  /* loops that should have a connection */
    atomic_int up;          /* loops whose connection is ready */
    atomic_ulong timeouts;  /* answers that took longer than the timeout */
    atomic_ulong errors;    /* error replies and lost connections */
} rg_rl_redis_stats;

typedef struct rg_rl_redis rg_rl_redis;
typedef struct rg_rl_redis_req rg_rl_redis_req;

typedef enum rg_rl_redis_status {
    RG_RL_REDIS_OK,          /* verdicts filled (admitted or not) */
    RG_RL_REDIS_REPLAY,      /* the replay key was already there */
    RG_RL_REDIS_ENDED,       /* the session was ended (on any instance) */
    RG_RL_REDIS_UNAVAILABLE, /* no answer in time: decide locally */
} rg_rl_redis_status;

/* v has one verdict per window of the check when status is OK. */
typedef void (*rg_rl_redis_cb)(void *arg, rg_rl_redis_status status, const rg_swin_verdict *v);

/* `index` names the loop in log lines. */
rg_rl_redis *rg_rl_redis_new(struct event_base *base, int index, rg_rl_redis_stats *stats);
/* Point the connection at host:port (NULL host: no Redis). Reconnects only
   when the address changed. Loop thread only. */
void rg_rl_redis_configure(rg_rl_redis *r, const char *host, int port, uint32_t timeout_ms);
/* Pending callbacks are answered UNAVAILABLE (or not at all if cancelled). */
void rg_rl_redis_free(rg_rl_redis *r);

/*
 * Send one check. Returns 0 when sent: cb runs exactly once, later, on this
 * loop, unless rg_rl_redis_cancel is called first. Returns -1 when Redis
 * can't take it now (down, connecting, too much waiting): decide locally.
 */
int rg_rl_redis_check(rg_rl_redis *r, const rg_rl_check *c, rg_rl_redis_cb cb, void *arg,
                      rg_rl_redis_req **handle);
/* The asker is gone: cb will not be called. */
void rg_rl_redis_cancel(rg_rl_redis_req *q);

#endif
