/*
 * Session-token and MCP-token decoding (core/crypto/session.c):
 * X-Readgate-Session and the MCP bearer are client text. First byte, bit 0:
 *   mode 0: the rest is the token as sent;
 *   mode 1: the rest is a token's raw bytes without the MAC; the target signs
 *           them under the key they name and adds the prefix + base64url, so
 *           the checks behind the MAC are explored too;
 * bit 1: 0 a session token ("sst_"), 1 an MCP token ("rgm_").
 * An accepted token must be for the site asked about, unexpired, refused for
 * any other site or later time, and never pass for the other kind; a session
 * has a well-formed signing secret, and the MCP token made from it verifies
 * with the same nonce and expiry.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/b64.h"
#include "crypto/hmac.h"
#include "crypto/session.h"
#include "fuzz_common.h"

#define SITE "demo0001"
#define RAW_CAP 512

static rg_keyring *kr;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    kr = rg_fuzz_keyring();
    return 0;
}

static char *sign_raw(const uint8_t *raw, size_t n, const char *prefix)
{
    if (n > RAW_CAP - 32)
        return NULL;
    const rg_master_key *k = NULL;
    if (n >= 2)
        k = rg_keyring_find(kr, (const char *)raw + 2, raw[1] <= n - 2 ? raw[1] : 0);
    if (!k)
        k = rg_keyring_primary(kr);
    uint8_t buf[RAW_CAP];
    memcpy(buf, raw, n);
    rg_bytes part = {buf, n};
    RG_FUZZ_CHECK(rg_hmac_sha256(k->session_key, sizeof k->session_key, &part, 1, buf + n) == 0);
    char *b = rg_b64_encode(buf, n + 32, true);
    RG_FUZZ_CHECK(b != NULL);
    char *token = malloc(strlen(b) + 5);
    RG_FUZZ_CHECK(token != NULL);
    memcpy(token, prefix, 4);
    memcpy(token + 4, b, strlen(b) + 1);
    free(b);
    return token;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool mcp = data[0] & 2;
    char *token = data[0] & 1 ? sign_raw(data + 1, size - 1, mcp ? "rgm_" : "sst_")
                              : rg_fuzz_cstr(data + 1, size - 1);
    if (!token)
        return 0;
    rg_session s;
    if (mcp) {
        rg_session_status st = rg_mcp_token_verify(kr, token, SITE, RG_FUZZ_NOW, &s);
        RG_FUZZ_CHECK(st >= RG_SESSION_OK && st <= RG_SESSION_WRONG_SITE);
        if (st == RG_SESSION_OK) {
            rg_session again;
            RG_FUZZ_CHECK(strcmp(s.site_id, SITE) == 0);
            RG_FUZZ_CHECK(s.expires_at > RG_FUZZ_NOW);
            RG_FUZZ_CHECK(s.signing_secret[0] == '\0'); /* no session to sign with */
            RG_FUZZ_CHECK(rg_session_verify(kr, token, SITE, RG_FUZZ_NOW, &again) !=
                          RG_SESSION_OK);
            RG_FUZZ_CHECK(rg_mcp_token_verify(kr, token, "demo0002", RG_FUZZ_NOW, &again) ==
                          RG_SESSION_WRONG_SITE);
            RG_FUZZ_CHECK(rg_mcp_token_verify(kr, token, SITE, s.expires_at, &again) ==
                          RG_SESSION_EXPIRED);
        }
        free(token);
        return 0;
    }
    rg_session_status st = rg_session_verify(kr, token, SITE, RG_FUZZ_NOW, &s);
    RG_FUZZ_CHECK(st >= RG_SESSION_OK && st <= RG_SESSION_WRONG_SITE);
    if (st == RG_SESSION_OK) {
        RG_FUZZ_CHECK(strcmp(s.site_id, SITE) == 0);
        RG_FUZZ_CHECK(s.expires_at > RG_FUZZ_NOW);
        RG_FUZZ_CHECK(rg_keyring_find(kr, s.kid, strlen(s.kid)) != NULL);
        size_t sl = strnlen(s.signing_secret, sizeof s.signing_secret);
        RG_FUZZ_CHECK(sl == 43); /* base64url of 32 bytes, no padding */
        for (size_t i = 0; i < sl; i++) {
            char c = s.signing_secret[i];
            RG_FUZZ_CHECK((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '_');
        }
        rg_session again;
        RG_FUZZ_CHECK(rg_session_verify(kr, token, "demo0002", RG_FUZZ_NOW, &again) ==
                      RG_SESSION_WRONG_SITE);
        RG_FUZZ_CHECK(rg_session_verify(kr, token, SITE, s.expires_at, &again) ==
                      RG_SESSION_EXPIRED);
        RG_FUZZ_CHECK(rg_session_verify(kr, token, SITE, RG_FUZZ_NOW, &again) == RG_SESSION_OK);
        RG_FUZZ_CHECK(memcmp(&again, &s, sizeof s) == 0);
        RG_FUZZ_CHECK(rg_mcp_token_verify(kr, token, SITE, RG_FUZZ_NOW, &again) != RG_SESSION_OK);
        char mcp_token[RG_SESSION_TOKEN_MAX];
        RG_FUZZ_CHECK(rg_mcp_token_mint(kr, &s, mcp_token) == 0);
        RG_FUZZ_CHECK(rg_mcp_token_verify(kr, mcp_token, SITE, RG_FUZZ_NOW, &again) ==
                      RG_SESSION_OK);
        RG_FUZZ_CHECK(memcmp(again.nonce, s.nonce, sizeof s.nonce) == 0);
        RG_FUZZ_CHECK(again.expires_at == s.expires_at);
    }
    free(token);
    return 0;
}
