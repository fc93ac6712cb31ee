/*
 * Loading `rate_limits` over defaults or inherited values, driven by the
 * block's key table (keys_rate_limits.c), and the Redis URL of `rate_limit`.
 */
#include "ratelimit_config.h"

#include "keys.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rg_rate_limits_defaults(rg_rate_limits *rl)
{
    /* A window without a row (the token route's per-session one) is off. */
    memset(rl, 0, sizeof *rl);
    rg_key_defaults(&rg_rate_limit_keys, NULL, rl);
}

void rg_rate_limits_load(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k, rg_rate_limits *rl)
{
    char where[32];
    rg_cfgmap block;
    if (rg_cfg_key_map(c, m, k, where, sizeof where, &block) != 0)
        return;
    /* Only the windows given: the others keep what *rl has (a site file
       inherits the server's). */
    for (const rg_key *r = rg_key_next_child(block.table, NULL, NULL); r;
         r = rg_key_next_child(block.table, NULL, r)) {
        char rwhere[64];
        rg_cfgmap route;
        if (rg_cfg_key_map(c, &block, r, rwhere, sizeof rwhere, &route) == 0)
            rg_cfg_key_values(c, &route, (char *)rl + r->offset);
    }
}

int rg_redis_url_parse(const char *s, char **host, int *port)
{
    static const char scheme[] = "redis://";
    if (strncmp(s, scheme, sizeof scheme - 1) != 0)
        return -1;
    const char *h = s + sizeof scheme - 1;
    const char *end, *after;
    if (*h == '[') {
        end = strchr(h, ']');
        if (!end)
            return -1;
        h++;
        after = end + 1;
    } else {
        end = h + strcspn(h, ":");
        after = end;
        for (const char *q = h; q < end; q++) {
            char ch = *q;
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '-'))
                return -1; /* user info, paths and options are not supported */
        }
    }
    size_t hlen = (size_t)(end - h);
    if (hlen == 0 || hlen > 253)
        return -1;
    char tmp[256];
    memcpy(tmp, h, hlen);
    tmp[hlen] = '\0';
    if (h[-1] == '[') {
        unsigned char buf[16];
        if (inet_pton(AF_INET6, tmp, buf) != 1)
            return -1;
    }
    long p = 6379;
    if (*after == ':') {
        const char *d = after + 1;
        size_t dl = strlen(d);
        if (dl == 0 || dl > 5 || strspn(d, "0123456789") != dl)
            return -1;
        p = strtol(d, NULL, 10);
        if (p < 1 || p > 65535)
            return -1;
    } else if (*after != '\0') {
        return -1;
    }
    char *copy = strdup(tmp);
    if (!copy)
        return -1;
    *host = copy;
    *port = (int)p;
    return 0;
}
