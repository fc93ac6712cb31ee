/*
 * Origin allowlist (docs/http-api.md). Matching is exact and anchored:
 *   "example.com"    -> https://example.com only (no port, default port 443 ok)
 *   "*.example.com"  -> https://<one or more labels>.example.com, not example.com itself
 *   "host:port"      -> that host at exactly that port (http or https)
 * Host names compare case-insensitively. An Origin with a path, query, user
 * info, or the value "null" never matches. allow_localhost admits
 * http(s)://localhost:* and http(s)://127.0.0.1:*.
 */
#ifndef RG_ORIGIN_H
#define RG_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>

/* One pattern of a site's allowed_origins, parsed. */
typedef struct rg_origin_pattern {
    char *host;     /* lower case; for wildcards the suffix without "*." */
    bool wildcard;  /* "*.example.com" */
    int port;       /* 0 = no port given */
} rg_origin_pattern;

/* Parse a configured pattern. 0 on success; -1 with a message saying what is expected. */
int rg_origin_pattern_parse(const char *text, rg_origin_pattern *out, char *err, size_t errlen);
void rg_origin_pattern_clear(rg_origin_pattern *p);

/* Does the Origin header value match any of the patterns (or localhost)? */
bool rg_origin_allowed(const rg_origin_pattern *patterns, size_t n, bool allow_localhost,
                       const char *origin);

#endif
