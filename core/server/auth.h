/*
 * Credentials on the public API: minting sessions (token route) and checking
 * signed requests. Checks run cheapest-first and each refusal has its own
 * 401 code. The replay check comes after, with the rate limits (it lives
 * where they do: in memory, or in Redis shared by every instance), and only
 * for a valid signature so an attacker can't fill the cache with garbage.
 */
#ifndef RG_AUTH_H
#define RG_AUTH_H

#include <event2/http.h>
#include <stddef.h>

#include "crypto/session.h"
#include "query/errors.h"
#include "ratelimit/ratelimit_check.h"
#include "server/server.h"

/* 0 with *out filled and the request's replay key put in chk, or -1 with
   *err (401). */
int rg_auth_verify_signed(rg_server *srv, const rg_runtime *rt, const rg_site *site,
                          struct evhttp_request *req, const char *method, const char *path,
                          const void *body, size_t len, rg_session *out, rg_rl_check *chk,
                          rg_api_error *err);

/* The token route. Every refusal is the same 404 widget_unavailable. A site
   with an `ai` block gets its AI credential minted too (ai_mint.h).
   Returns the HTTP status it answered with, or 0 when the answer (and its
   count) comes later. */
int rg_auth_handle_token(rg_loop *loop, rg_runtime *rt, const rg_site_rt *srt,
                         struct evhttp_request *req, const char *origin);

/* Is `key` (a whole rgk_... key) one of the site's api_keys? Its SHA-256 is
   left in digest either way. */
int rg_auth_api_key_ok(const rg_site *site, const char *key, uint8_t digest[32]);

/* Is the Origin header allowed for this site? Returns the header or NULL. */
const char *rg_auth_allowed_origin(const rg_site *site, struct evhttp_request *req);

#endif
