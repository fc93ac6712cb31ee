/*
 * The AI half of POST /v1/{site}/token: the site's token-provider plugin
 * (readgate/token_provider.h) mints the AI provider's short-lived credential
 * and the token answer gains an "ai" object with only what the browser needs.
 *
 * The provider's key is decrypted (and audited, purpose "mint") only for a
 * request that got past the token route's origin or API key check and its
 * rate limits. The provider call runs on the request's own event loop through
 * libcurl's multi interface, with the ai block's connect and total timeouts;
 * the loop never waits on it.
 */
#ifndef RG_AI_MINT_H
#define RG_AI_MINT_H

#include <event2/http.h>
#include <jansson.h>
#include <readgate/token_provider.h>

#include "workers/provider_check.h"

struct rg_loop;
struct rg_runtime;
struct rg_site_rt;

/* A site's ai block, resolved once per configuration load. */
typedef struct rg_site_ai {
    const rg_token_provider *provider; /* NULL: unusable, `why` says why */
    rg_ai_tools tools;                 /* effective mode */
    char *tools_json;                  /* tools: functions; else NULL */
    rg_provider_cfg pcfg;
    char why[400];
} rg_site_ai;

/* NULL only when out of memory; a refused plugin or ai block is logged and
   kept with provider NULL, so the site's /token answers 503. */
rg_site_ai *rg_site_ai_new(const rg_config *cfg, const rg_site *site);
void rg_site_ai_free(rg_site_ai *ai);

/*
 * Add the "ai" object to the session answer `doc` (taken) and reply.
 * cors_origin: the origin to echo (browser mode) or NULL; page_origin: the
 * page's vetted Origin, if any, for providers that bind the credential to it.
 * mcp_token: with tools: mcp, the session's bearer for /mcp (copied).
 * Returns the status answered now, or 0 when the answer (and its count in the
 * metrics) comes later.
 */
int rg_ai_mint(struct rg_loop *loop, struct rg_runtime *rt, const struct rg_site_rt *srt,
               struct evhttp_request *req, const char *cors_origin, const char *page_origin,
               const char *mcp_token, json_t *doc);

#endif
