#include "ratelimit_config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PER_MIN 10000000LL
#define MAX_PER_S 1000000LL

static const char *const route_keys[] = {"token", "query", "collections", "session", "events",
                                         NULL};
/* A token request has no session yet, so no per-session window. */
static const char *const token_keys[] = {"per_ip_per_min", "per_site_per_min", "burst_per_s",
                                         NULL};
static const char *const route_limit_keys[] = {"per_ip_per_min", "per_site_per_min",
                                               "per_session_per_min", "burst_per_s", NULL};

void rg_rate_limits_defaults(rg_rate_limits *rl)
{
    memset(rl, 0, sizeof *rl);
    rl->route[RG_RL_TOKEN] = (rg_route_limits){
        .per_ip_per_min = 60, .per_site_per_min = 200, .burst_per_s = 20};
    const rg_route_limits signed_route = {.per_site_per_min = 300, .burst_per_s = 30};
    rl->route[RG_RL_QUERY] = signed_route;
    rl->route[RG_RL_COLLECTIONS] = signed_route;
    rl->route[RG_RL_SESSION] = signed_route;
    /* The seed's /analytics/event: 600 a minute per site, 50 a second. */
    rl->route[RG_RL_EVENTS] = (rg_route_limits){.per_site_per_min = 600, .burst_per_s = 50};
}

static void load_route(rg_cfgctx *c, const rg_node_pair *p, rg_route_limits *l, bool token)
{
    char where[64];
    snprintf(where, sizeof where, "rate_limits.%s", p->key);
    if (rg_cfg_kind(c, p->value, where, RG_NODE_MAP) != 0)
        return;
    rg_cfg_check_keys(c, p->value, where, token ? token_keys : route_limit_keys);
    static const struct {
        const char *name;
        size_t offset;
        long long max;
    } fields[] = {
        {"per_ip_per_min", offsetof(rg_route_limits, per_ip_per_min), MAX_PER_MIN},
        {"per_site_per_min", offsetof(rg_route_limits, per_site_per_min), MAX_PER_MIN},
        {"per_session_per_min", offsetof(rg_route_limits, per_session_per_min), MAX_PER_MIN},
        {"burst_per_s", offsetof(rg_route_limits, burst_per_s), MAX_PER_S},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (token && strcmp(fields[i].name, "per_session_per_min") == 0)
            continue; /* already reported as an unknown key */
        const rg_node_pair *v = rg_node_find(p->value, fields[i].name);
        char path[96];
        long long x;
        snprintf(path, sizeof path, "%s.%s", where, fields[i].name);
        if (v && rg_cfg_int(c, v->value, path, 0, fields[i].max, &x) == 0)
            *(uint32_t *)(void *)((char *)l + fields[i].offset) = (uint32_t)x;
    }
}

void rg_rate_limits_load(rg_cfgctx *c, const rg_node *root, rg_rate_limits *rl)
{
    const rg_node_pair *p = rg_node_find(root, "rate_limits");
    if (!p || rg_cfg_kind(c, p->value, "rate_limits", RG_NODE_MAP) != 0)
        return;
    rg_cfg_check_keys(c, p->value, "rate_limits", route_keys);
    for (int r = 0; r < RG_RL_NROUTES; r++) {
        const rg_node_pair *rp = rg_node_find(p->value, route_keys[r]);
        if (rp)
            load_route(c, rp, &rl->route[r], r == RG_RL_TOKEN);
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
