/*
 * Which windows a request is counted in: always its client address; with a
 * known site also the site's per-minute and one-second burst windows; with a
 * verified session also the session's. The limits are the site file's when
 * the site is known (its rate_limits over the server's), else the server's.
 * HTTP routing only says which route and identities a request has.
 */
#ifndef RG_RATELIMIT_POLICY_H
#define RG_RATELIMIT_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "ratelimit/ratelimit_check.h"

typedef struct rg_rl_identity {
    uint8_t ip_key[16];           /* rg_ip_limit_key of the client address */
    const char *site_id;          /* NULL: unknown site */
    const uint8_t *session_nonce; /* NULL: no verified session */
    size_t session_nonce_len;
} rg_rl_identity;

void rg_rl_add_request_windows(rg_rl_check *c, rg_rl_route route, const rg_config *cfg,
                               const rg_site *site, const rg_rl_identity *who);

#endif
