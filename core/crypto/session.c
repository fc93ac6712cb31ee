/* Stateless session tokens (layout in session.h). */
#include "session.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <string.h>

#include "b64.h"
#include "hmac.h"

#define TOKEN_PREFIX "sst_"
#define TOKEN_VERSION 0x01
/* MCP tokens: the same layout under their own prefix and first byte. The
   byte is authenticated, so neither kind of token passes for the other. */
#define MCP_PREFIX "rgm_"
#define MCP_VERSION 0x02
#define SITE_MAX 32
/* version, kid_len, kid, site_len, site, exp, nonce, mac */
#define RAW_MAX (1 + 1 + RG_KID_MAX + 1 + SITE_MAX + 8 + 16 + 32)

/* signing_secret = base64url(HMAC(signing_key, token)); the client signs
   with these exact characters. */
static int derive_signing_secret(const rg_master_key *k, const char *token, size_t len,
                                 char out[RG_SIGNING_SECRET_MAX])
{
    uint8_t mac[32];
    rg_bytes part = {token, len};
    int rc = -1;
    if (rg_hmac_sha256(k->signing_key, sizeof k->signing_key, &part, 1, mac) == 0 &&
        rg_b64_encode_to(mac, sizeof mac, true, out, RG_SIGNING_SECRET_MAX) > 0)
        rc = 0;
    rg_secure_zero(mac, sizeof mac);
    return rc;
}

/* The token of either kind for (key, site, exp, nonce): the layout of
   session.h behind `prefix`, authenticated with the key's session key.
   Returns the token's length, or -1. */
static int encode(const rg_master_key *k, uint8_t version, const char *prefix,
                  const char *site_id, uint64_t exp, const uint8_t nonce[16],
                  char token[RG_SESSION_TOKEN_MAX])
{
    size_t kid_len = strlen(k->kid), site_len = strlen(site_id);
    if (kid_len == 0 || kid_len > RG_KID_MAX || site_len == 0 || site_len > SITE_MAX)
        return -1;
    uint8_t raw[RAW_MAX];
    size_t n = rg_token_head(raw, version, k->kid);
    raw[n++] = (uint8_t)site_len;
    memcpy(raw + n, site_id, site_len);
    n += site_len;
    for (int i = 7; i >= 0; i--)
        raw[n++] = (uint8_t)(exp >> (i * 8));
    memcpy(raw + n, nonce, 16);
    n += 16;
    rg_bytes part = {raw, n};
    if (rg_hmac_sha256(k->session_key, sizeof k->session_key, &part, 1, raw + n) != 0)
        return -1;
    n += 32;
    memcpy(token, prefix, 4);
    int w = rg_b64_encode_to(raw, n, true, token + 4, RG_SESSION_TOKEN_MAX - 4);
    return w < 0 ? -1 : 4 + w;
}

int rg_session_mint(const rg_keyring *kr, const char *site_id, uint64_t now, uint32_t ttl_s,
                    char token[RG_SESSION_TOKEN_MAX], rg_session *out)
{
    if (!kr || kr->nkeys == 0 || !site_id || !token || !out)
        return -1;
    size_t site_len = strlen(site_id);
    if (site_len == 0 || site_len > SITE_MAX || now > UINT64_MAX - ttl_s)
        return -1;
    const rg_master_key *k = rg_keyring_primary(kr);
    uint64_t exp = now + ttl_s;
    uint8_t nonce[16];
    if (RAND_bytes(nonce, sizeof nonce) != 1)
        return -1;
    int len = encode(k, TOKEN_VERSION, TOKEN_PREFIX, site_id, exp, nonce, token);
    if (len < 0)
        return -1;
    memset(out, 0, sizeof *out);
    memcpy(out->site_id, site_id, site_len);
    memcpy(out->kid, k->kid, strlen(k->kid));
    out->expires_at = exp;
    memcpy(out->nonce, nonce, sizeof nonce);
    if (derive_signing_secret(k, token, (size_t)len, out->signing_secret) != 0) {
        rg_secure_zero(out, sizeof *out);
        token[0] = '\0';
        return -1;
    }
    return 0;
}

/* Check a token of either kind; a session's signing secret is derived too. */
static rg_session_status verify_kind(const rg_keyring *kr, const char *token, const char *site_id,
                                     uint64_t now, rg_session *out, const char *prefix,
                                     uint8_t version)
{
    if (!kr || !token || !site_id || !out)
        return RG_SESSION_MALFORMED;
    size_t len = strnlen(token, RG_SESSION_TOKEN_MAX);
    if (len >= RG_SESSION_TOKEN_MAX || len <= 4 || memcmp(token, prefix, 4) != 0)
        return RG_SESSION_MALFORMED;
    uint8_t raw[RAW_MAX + 3];
    size_t n;
    if (rg_b64_decode(token + 4, len - 4, true, raw, sizeof raw, &n) != 0)
        return RG_SESSION_MALFORMED;

    /* Walk the fields, checking each length against what is left. */
    size_t p = 0;
    if (n < 2 || raw[p++] != version)
        return RG_SESSION_MALFORMED;
    size_t kid_len = raw[p++];
    if (kid_len == 0 || kid_len > RG_KID_MAX || n - p < kid_len + 1)
        return RG_SESSION_MALFORMED;
    const char *kid = (const char *)raw + p;
    p += kid_len;
    size_t site_len = raw[p++];
    if (site_len == 0 || site_len > SITE_MAX || n - p != site_len + 8 + 16 + 32)
        return RG_SESSION_MALFORMED;
    const uint8_t *site = raw + p;
    p += site_len;
    uint64_t exp = 0;
    for (int i = 0; i < 8; i++)
        exp = exp << 8 | raw[p++];
    const uint8_t *nonce = raw + p;
    p += 16;
    const uint8_t *mac = raw + p;

    /* An unknown key id is indistinguishable from a forgery. */
    const rg_master_key *k = rg_keyring_find(kr, kid, kid_len);
    if (!k)
        return RG_SESSION_BAD_MAC;
    uint8_t want[32];
    rg_bytes part = {raw, p};
    if (rg_hmac_sha256(k->session_key, sizeof k->session_key, &part, 1, want) != 0 ||
        CRYPTO_memcmp(want, mac, 32) != 0)
        return RG_SESSION_BAD_MAC;

    if (now >= exp)
        return RG_SESSION_EXPIRED;
    if (memchr(site, '\0', site_len) || strlen(site_id) != site_len ||
        memcmp(site, site_id, site_len) != 0)
        return RG_SESSION_WRONG_SITE;

    memset(out, 0, sizeof *out);
    memcpy(out->site_id, site, site_len);
    memcpy(out->kid, kid, kid_len);
    out->expires_at = exp;
    memcpy(out->nonce, nonce, 16);
    if (version == TOKEN_VERSION &&
        derive_signing_secret(k, token, len, out->signing_secret) != 0) {
        rg_secure_zero(out, sizeof *out);
        return RG_SESSION_BAD_MAC;
    }
    return RG_SESSION_OK;
}

rg_session_status rg_session_verify(const rg_keyring *kr, const char *token, const char *site_id,
                                    uint64_t now, rg_session *out)
{
    return verify_kind(kr, token, site_id, now, out, TOKEN_PREFIX, TOKEN_VERSION);
}

int rg_mcp_token_mint(const rg_keyring *kr, const rg_session *s, char token[RG_SESSION_TOKEN_MAX])
{
    if (!kr || !s || !token)
        return -1;
    const rg_master_key *k = rg_keyring_find(kr, s->kid, strlen(s->kid));
    if (!k)
        return -1;
    return encode(k, MCP_VERSION, MCP_PREFIX, s->site_id, s->expires_at, s->nonce, token) < 0
               ? -1
               : 0;
}

rg_session_status rg_mcp_token_verify(const rg_keyring *kr, const char *token, const char *site_id,
                                      uint64_t now, rg_session *out)
{
    return verify_kind(kr, token, site_id, now, out, MCP_PREFIX, MCP_VERSION);
}
