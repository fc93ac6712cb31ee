/*
 * POST /v1/{site}/mcp: the site's collections as read-only tools for AI
 * agents, over the Model Context Protocol's Streamable HTTP transport
 * (protocol 2025-11-25, also 2025-06-18 and 2025-03-26), stateless and with
 * JSON answers only (docs/mcp.md).
 *
 * routes.c does the HTTP part, in the order of every route: site, method,
 * Origin (403 when present and not allowed), the bearer (401 with the
 * protected-resource metadata's address), MCP-Protocol-Version, body size
 * and type, then the rate limits (the site's query limits, per caller). This
 * file authenticates the bearer and answers the JSON-RPC message: tools/call
 * runs the same validated plan, cache, limits and adapters as /query.
 */
#ifndef RG_MCP_H
#define RG_MCP_H

#include <event2/http.h>
#include <stdbool.h>
#include <stdint.h>

#include "crypto/session.h"
#include "query/errors.h"
#include "server/runtime.h"
#include "server/server.h"

/* Protocol versions this gateway speaks, newest first. */
extern const char *const rg_mcp_versions[];

/* Who called: a site API key, or an MCP token minted with a session. */
typedef struct rg_mcp_caller {
    bool token;       /* an rgm_ token (else an API key) */
    uint8_t id[16];   /* the session nonce, or the key's SHA-256 prefix: the per-caller window */
    uint64_t expires_at;
} rg_mcp_caller;

/*
 * The Authorization header against the site. 0 with *who filled, or -1 with
 * the 401 in *e and *invalid_token set when a bearer was given but refused.
 */
int rg_mcp_authenticate(const rg_server *srv, const rg_runtime *rt, const rg_site *site,
                        struct evhttp_request *req, rg_mcp_caller *who, bool *invalid_token,
                        rg_api_error *e);

/* The gateway's public address for this request: public_url, else from Host. */
void rg_mcp_base_url(const rg_runtime *rt, struct evhttp_request *req, char *out, size_t outlen);

/* Add WWW-Authenticate: Bearer resource_metadata="…" (and error="invalid_token"). */
void rg_mcp_challenge(const rg_runtime *rt, struct evhttp_request *req, const char *site_id,
                      bool invalid_token);

/* GET /.well-known/oauth-protected-resource/v1/{site}/mcp (RFC 9728). */
int rg_mcp_metadata(const rg_runtime *rt, const rg_site_rt *srt, struct evhttp_request *req);

/* The admitted request. Returns the status answered, or 0 when the answer
   (and its count) comes later (tools/call). */
int rg_mcp_handle(rg_loop *loop, rg_runtime *rt, const rg_site_rt *srt,
                  struct evhttp_request *req, const char *origin, const char *body, size_t len);

/* An MCP-Protocol-Version header value this gateway accepts (NULL: absent, fine). */
bool rg_mcp_version_ok(const char *v);

#endif
