/*
 * The keys of a `rate_limits` block, the same in readgate.yaml (the defaults
 * of every site) and in a site file (that site's overrides, key by key):
 * per route, up to four sliding windows (docs/configuration.md and
 * SECURITY.md). The defaults here are readgate.yaml's.
 */
#include "config.h"
#include "keys.h"

#define MAX_PER_MIN 10000000LL
#define MAX_PER_S 1000000LL

#define DOC_PER_IP "60 s window per client address (an IPv6 client by its /64)."
#define DOC_PER_SITE "60 s window per site."
#define DOC_PER_SESSION "60 s window per session (and per MCP token's session or API key)."
#define DOC_BURST "1 s window per site."

/* A route's mapping: the struct of its windows is route[r] of rg_rate_limits. */
#define ROUTE(id, name, r, text)                                                                   \
    [RG_RLK_##id] = {.path = name, .type = RG_KEY_MAP, .doc = text,                                \
                     .offset = offsetof(rg_rate_limits, route) + (r) * sizeof(rg_route_limits),    \
                     .size = sizeof(rg_route_limits)}
#define WINDOW(id, route, field, hi, d, text)                                                      \
    [RG_RLK_##id] = {.path = route "." #field, .type = RG_KEY_INT, .min = 0, .max = hi,            \
                     .def = d, RG_KEY_STORE(rg_route_limits, field), .doc = text}

static const rg_key rows[] = {
    /* A token request has no session yet, so no per-session window. */
    ROUTE(TOKEN, "token", RG_RL_TOKEN,
          "`POST /v1/{site_id}/token` and Shopify webhooks. There is no session yet, so no "
          "per-session window."),
    WINDOW(TOKEN_PER_IP_PER_MIN, "token", per_ip_per_min, MAX_PER_MIN, 60, DOC_PER_IP),
    WINDOW(TOKEN_PER_SITE_PER_MIN, "token", per_site_per_min, MAX_PER_MIN, 200, DOC_PER_SITE),
    WINDOW(TOKEN_BURST_PER_S, "token", burst_per_s, MAX_PER_S, 20, DOC_BURST),
    ROUTE(QUERY, "query", RG_RL_QUERY, "`POST /v1/{site_id}/query` and the MCP endpoint."),
    WINDOW(QUERY_PER_IP_PER_MIN, "query", per_ip_per_min, MAX_PER_MIN, 0, DOC_PER_IP),
    WINDOW(QUERY_PER_SITE_PER_MIN, "query", per_site_per_min, MAX_PER_MIN, 300, DOC_PER_SITE),
    WINDOW(QUERY_PER_SESSION_PER_MIN, "query", per_session_per_min, MAX_PER_MIN, 0,
           DOC_PER_SESSION),
    WINDOW(QUERY_BURST_PER_S, "query", burst_per_s, MAX_PER_S, 30, DOC_BURST),
    ROUTE(COLLECTIONS, "collections", RG_RL_COLLECTIONS, "`GET /v1/{site_id}/collections`."),
    WINDOW(COLLECTIONS_PER_IP_PER_MIN, "collections", per_ip_per_min, MAX_PER_MIN, 0, DOC_PER_IP),
    WINDOW(COLLECTIONS_PER_SITE_PER_MIN, "collections", per_site_per_min, MAX_PER_MIN, 300,
           DOC_PER_SITE),
    WINDOW(COLLECTIONS_PER_SESSION_PER_MIN, "collections", per_session_per_min, MAX_PER_MIN, 0,
           DOC_PER_SESSION),
    WINDOW(COLLECTIONS_BURST_PER_S, "collections", burst_per_s, MAX_PER_S, 30, DOC_BURST),
    ROUTE(SESSION, "session", RG_RL_SESSION, "`DELETE /v1/{site_id}/session`."),
    WINDOW(SESSION_PER_IP_PER_MIN, "session", per_ip_per_min, MAX_PER_MIN, 0, DOC_PER_IP),
    WINDOW(SESSION_PER_SITE_PER_MIN, "session", per_site_per_min, MAX_PER_MIN, 300, DOC_PER_SITE),
    WINDOW(SESSION_PER_SESSION_PER_MIN, "session", per_session_per_min, MAX_PER_MIN, 0,
           DOC_PER_SESSION),
    WINDOW(SESSION_BURST_PER_S, "session", burst_per_s, MAX_PER_S, 30, DOC_BURST),
    /* The widget's analytics events: 600 a minute per site, 50 a second. */
    ROUTE(EVENTS, "events", RG_RL_EVENTS, "`POST /v1/{site_id}/events`."),
    WINDOW(EVENTS_PER_IP_PER_MIN, "events", per_ip_per_min, MAX_PER_MIN, 0, DOC_PER_IP),
    WINDOW(EVENTS_PER_SITE_PER_MIN, "events", per_site_per_min, MAX_PER_MIN, 600, DOC_PER_SITE),
    WINDOW(EVENTS_PER_SESSION_PER_MIN, "events", per_session_per_min, MAX_PER_MIN, 0,
           DOC_PER_SESSION),
    WINDOW(EVENTS_BURST_PER_S, "events", burst_per_s, MAX_PER_S, 50, DOC_BURST),
};

_Static_assert(sizeof rows / sizeof rows[0] == RG_RLK_COUNT, "one row per rg_rate_limit_key");

const rg_key_table rg_rate_limit_keys = {
    .name = "rate_limits",
    .doc = "Sliding-window rate limits per route; 0 turns a window off. A refusal is 429 "
           "rate_limited with Retry-After.",
    .keys = rows,
    .n = RG_RLK_COUNT,
};
