/*
 * The rate-limit decision of one request, whichever backend holds the
 * counters: Redis when configured and answering (shared by every instance),
 * otherwise this process's own table. Replay protection rides along: the
 * replay key of a signed request is checked first, in the same place as the
 * counters, so several instances refuse a replay just like one.
 */
#ifndef RG_RATELIMIT_H
#define RG_RATELIMIT_H

#include <event2/buffer.h>
#include <event2/http.h>

#include "ratelimit/ratelimit_check.h"

struct rg_loop;
struct rg_server;
typedef struct rg_rl_pending rg_rl_pending;

typedef void (*rg_rl_done)(void *arg, const rg_rl_result *r);

/*
 * Returns 1 when decided at once (*out filled, done not called), or 0 when
 * the answer comes later through done(arg, result) on this loop's thread;
 * until then rg_rl_cancel(*pending) withdraws the question.
 */
int rg_ratelimit_check(struct rg_loop *loop, const rg_rl_check *c, rg_rl_done done, void *arg,
                       rg_rl_pending **pending, rg_rl_result *out);
void rg_rl_cancel(rg_rl_pending *p);

/* RateLimit-Limit / -Remaining / -Reset, and Retry-After when limited. */
void rg_rl_add_headers(struct evhttp_request *req, const rg_rl_result *r);

/* Gauges and counters for /metrics. */
void rg_ratelimit_render_metrics(struct rg_server *srv, struct evbuffer *out);

#endif
