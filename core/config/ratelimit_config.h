/*
 * The `rate_limits` block, the same in readgate.yaml (the defaults of every
 * site) and in a site file (that site's overrides, key by key), and the
 * Redis address of `rate_limit: redis://host[:port]`.
 */
#ifndef RG_RATELIMIT_CONFIG_H
#define RG_RATELIMIT_CONFIG_H

#include "check.h"
#include "config.h"

/* The defaults of every window (keys_rate_limits.c). */
void rg_rate_limits_defaults(rg_rate_limits *rl);
/* Apply the block `k` of the document read as `m` (if it has it) over *rl. */
void rg_rate_limits_load(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k, rg_rate_limits *rl);
/* "redis://host[:port]" (host a name, an IPv4 address or [IPv6]); port 6379
   unless given. 0, or -1 if malformed. */
int rg_redis_url_parse(const char *s, char **host, int *port);

#endif
