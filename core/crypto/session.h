/*
 * Stateless sessions. A token is
 *   "sst_" base64url( 0x01 | kid_len | kid | site_len | site | exp(u64 BE) | nonce[16] | mac[32] )
 * with mac = HMAC-SHA256(session_key(kid), everything before it). Any
 * instance holding the same master keys verifies any token. The signing
 * secret is base64url(HMAC-SHA256(signing_key(kid), token)), without padding,
 * so it is derived, never stored.
 */
#ifndef RG_SESSION_H
#define RG_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "keyring.h"

#define RG_SESSION_TOKEN_MAX 192
#define RG_SIGNING_SECRET_MAX 64

typedef enum rg_session_status {
    RG_SESSION_OK = 0,
    RG_SESSION_MALFORMED,   /* not a token at all */
    RG_SESSION_BAD_MAC,     /* forged or unknown key id */
    RG_SESSION_EXPIRED,
    RG_SESSION_WRONG_SITE
} rg_session_status;

typedef struct rg_session {
    char site_id[33];
    char kid[RG_KID_MAX + 1];
    uint64_t expires_at;
    uint8_t nonce[16];
    char signing_secret[RG_SIGNING_SECRET_MAX];
} rg_session;

/* Mint a session under the primary key. 0 on success. */
int rg_session_mint(const rg_keyring *kr, const char *site_id, uint64_t now, uint32_t ttl_s,
                    char token[RG_SESSION_TOKEN_MAX], rg_session *out);

/* Verify a token for `site_id` at time `now`; fills *out on RG_SESSION_OK. */
rg_session_status rg_session_verify(const rg_keyring *kr, const char *token, const char *site_id,
                                    uint64_t now, rg_session *out);

/*
 * MCP tokens: "rgm_" and the same layout with its own first byte, for the
 * session `s` (same key id, site, expiry and nonce). An AI provider calls
 * /v1/{site}/mcp with it as a bearer; it expires with the session and is
 * ended with it (DELETE /session ends the nonce). It carries no signing
 * secret and is no session: neither kind of token verifies as the other.
 */
int rg_mcp_token_mint(const rg_keyring *kr, const rg_session *s, char token[RG_SESSION_TOKEN_MAX]);
/* As rg_session_verify; out->signing_secret is left empty. */
rg_session_status rg_mcp_token_verify(const rg_keyring *kr, const char *token, const char *site_id,
                                      uint64_t now, rg_session *out);

#endif
