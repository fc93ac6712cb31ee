/*
 * The `rate_limits` block, the same in readgate.yaml (the defaults of every
 * site) and in a site file (that site's overrides, key by key), and the
 * Redis address of `rate_limit: redis://host[:port]`.
 */
#ifndef RG_RATELIMIT_CONFIG_H
#define RG_RATELIMIT_CONFIG_H

#include "node.h"

/* docs/configuration.md and SECURITY.md: token 60/min per IP, 200/min per site, 20/s burst; query
   (and collections, session) 300/min per site, 30/s burst. */
void rg_rate_limits_defaults(rg_rate_limits *rl);
/* Apply the `rate_limits` pair (if any) of a document over *rl. */
void rg_rate_limits_load(rg_cfgctx *c, const rg_node *root, rg_rate_limits *rl);
/* "redis://host[:port]" (host a name, an IPv4 address or [IPv6]); port 6379
   unless given. 0, or -1 if malformed. */
int rg_redis_url_parse(const char *s, char **host, int *port);

#endif
