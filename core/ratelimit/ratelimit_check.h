/*
 * One rate-limit decision, independent of where the counters live: the
 * windows a request is counted in (per client IP, per site, per session, and
 * the one-second burst window per site, each for one route), the replay key
 * of a signed request, and how the per-window verdicts become the response
 * headers. The memory and Redis backends both fill rg_rl_verdicts.
 */
#ifndef RG_RATELIMIT_CHECK_H
#define RG_RATELIMIT_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "ratelimit/sliding_window.h"

enum { RG_RL_DIM_IP, RG_RL_DIM_SITE, RG_RL_DIM_SESSION, RG_RL_DIM_BURST, RG_RL_NDIMS };

#define RG_RL_KEY_MAX 40
#define RG_RL_NONCE_KEY_MAX (16 + 64)

typedef struct rg_rl_window {
    uint32_t limit;
    uint16_t nbuckets;  /* 60 x 1 s for per-minute windows, 10 x 100 ms for burst */
    uint32_t bucket_ms;
    uint8_t key[RG_RL_KEY_MAX]; /* route, dimension, identity */
    uint8_t keylen;
} rg_rl_window;

typedef struct rg_rl_check {
    rg_rl_window win[RG_RL_NDIMS];
    size_t nwin;
    /* Replay protection of a signed request: (session nonce, request nonce),
       remembered until the timestamp leaves the window. */
    bool has_nonce;
    uint8_t nonce[RG_RL_NONCE_KEY_MAX];
    size_t nonce_len;
    uint64_t nonce_until; /* unix seconds */
    /* The verified session of a signed request. With Redis, a session ended
       on any instance is refused on every instance (the ended mark lives
       until the session would have expired); end_session sets that mark
       once the request is admitted (DELETE /session). */
    bool has_session, end_session;
    uint8_t session_id[16];
    uint64_t session_until; /* unix seconds */
} rg_rl_check;

typedef enum rg_rl_outcome {
    RG_RL_ALLOWED,
    RG_RL_LIMITED, /* 429 rate_limited */
    RG_RL_REPLAY,  /* 401 replayed_request */
    RG_RL_ENDED,   /* 401 session_ended: ended on another instance */
} rg_rl_outcome;

typedef struct rg_rl_result {
    rg_rl_outcome outcome;
    bool has_headers;     /* at least one window applied */
    uint32_t limit;       /* RateLimit-Limit */
    uint32_t remaining;   /* RateLimit-Remaining */
    uint32_t reset_s;     /* RateLimit-Reset */
    uint32_t retry_after_s; /* Retry-After (LIMITED only) */
} rg_rl_result;

/* Add the window of one dimension (key: route, dimension, identity bytes);
   a limit of 0 means the window is off and nothing is added. */
void rg_rl_add_window(rg_rl_check *c, rg_rl_route route, int dim, uint32_t limit,
                      const void *id, size_t idlen);

/*
 * From one verdict per window (parallel to c->win): refused if any window
 * refused, with Retry-After the longest wait among the refusing windows;
 * the headers describe the window closest to refusing.
 */
void rg_rl_summarize(const rg_rl_check *c, const rg_swin_verdict *v, rg_rl_result *out);

const char *rg_rl_route_name(rg_rl_route r);

#endif
