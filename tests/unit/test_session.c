/* Stateless sessions: minting, verification, expiry, site binding, forgery,
   rotation, and the token layout and signing secret recomputed here with
   OpenSSL directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto/session.h"
#include "keyring_fixture.h"

#define NOW 1763801400u

/* base64url without padding -> bytes, via EVP_DecodeBlock. */
static size_t unb64url(const char *s, uint8_t *out)
{
    char buf[512];
    size_t n = strlen(s), i;
    for (i = 0; i < n; i++)
        buf[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    size_t pad = (4 - n % 4) % 4;
    for (size_t j = 0; j < pad; j++)
        buf[i++] = '=';
    int len = EVP_DecodeBlock(out, (unsigned char *)buf, (int)i);
    assert_true(len >= 0);
    return (size_t)len - pad;
}

static void test_mint_verify(void **state)
{
    (void)state;
    rg_keyring *kr = ring(K1);
    char token[RG_SESSION_TOKEN_MAX];
    rg_session s, v;
    assert_int_equal(rg_session_mint(kr, "demo0001", NOW, 600, token, &s), 0);
    assert_int_equal(strncmp(token, "sst_", 4), 0);
    assert_string_equal(s.site_id, "demo0001");
    assert_string_equal(s.kid, "k1");
    assert_int_equal(s.expires_at, NOW + 600);
    assert_int_equal(strlen(s.signing_secret), 43);

    assert_int_equal(rg_session_verify(kr, token, "demo0001", NOW, &v), RG_SESSION_OK);
    assert_string_equal(v.site_id, "demo0001");
    assert_string_equal(v.kid, "k1");
    assert_int_equal(v.expires_at, NOW + 600);
    assert_memory_equal(v.nonce, s.nonce, 16);
    assert_string_equal(v.signing_secret, s.signing_secret);
    assert_int_equal(rg_session_verify(kr, token, "demo0001", NOW + 599, &v), RG_SESSION_OK);

    /* Two sessions differ in nonce, token and secret. */
    char token2[RG_SESSION_TOKEN_MAX];
    rg_session s2;
    assert_int_equal(rg_session_mint(kr, "demo0001", NOW, 600, token2, &s2), 0);
    assert_string_not_equal(token, token2);
    assert_string_not_equal(s.signing_secret, s2.signing_secret);
    assert_memory_not_equal(s.nonce, s2.nonce, 16);

    /* Longest site id and kid fit within RG_SESSION_TOKEN_MAX. */
    rg_keyring *big =
        ring("k1234567890123456789012345678901:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    const char *site32 = "abcdefghijklmnopqrstuvwxyz012345";
    assert_int_equal(rg_session_mint(big, site32, NOW, 600, token, &s), 0);
    assert_int_equal(rg_session_verify(big, token, site32, NOW, &v), RG_SESSION_OK);
    assert_string_equal(v.site_id, site32);
    assert_int_not_equal(rg_session_mint(big, "abcdefghijklmnopqrstuvwxyz0123456", NOW, 600,
                                         token, &s),
                         0);
    assert_int_not_equal(rg_session_mint(big, "", NOW, 600, token, &s), 0);
    rg_keyring_free(big);
    rg_keyring_free(kr);
}

static void test_layout(void **state)
{
    (void)state;
    rg_keyring *kr = ring(K1);
    const rg_master_key *k = rg_keyring_primary(kr);
    char token[RG_SESSION_TOKEN_MAX];
    rg_session s;
    assert_int_equal(rg_session_mint(kr, "demo0001", NOW, 600, token, &s), 0);
    uint8_t raw[256];
    size_t n = unb64url(token + 4, raw);
    /* 0x01 | 2 | "k1" | 8 | "demo0001" | exp | nonce[16] | mac[32] */
    assert_int_equal(n, 1 + 1 + 2 + 1 + 8 + 8 + 16 + 32);
    assert_int_equal(raw[0], 1);
    assert_int_equal(raw[1], 2);
    assert_memory_equal(raw + 2, "k1", 2);
    assert_int_equal(raw[4], 8);
    assert_memory_equal(raw + 5, "demo0001", 8);
    uint64_t exp = 0;
    for (int i = 0; i < 8; i++)
        exp = exp << 8 | raw[13 + i];
    assert_int_equal(exp, NOW + 600);
    assert_memory_equal(raw + 21, s.nonce, 16);
    uint8_t mac[32];
    unsigned int ml = 0;
    assert_non_null(HMAC(EVP_sha256(), k->session_key, 32, raw, 37, mac, &ml));
    assert_memory_equal(raw + 37, mac, 32);

    /* signing_secret = base64url(HMAC(signing_key, token)) without padding. */
    assert_non_null(HMAC(EVP_sha256(), k->signing_key, 32, (const unsigned char *)token,
                         strlen(token), mac, &ml));
    char b64[64];
    assert_int_equal(EVP_EncodeBlock((unsigned char *)b64, mac, 32), 44);
    for (char *p = b64; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    b64[43] = '\0';
    assert_string_equal(s.signing_secret, b64);
    rg_keyring_free(kr);
}

static void test_expired_and_site(void **state)
{
    (void)state;
    rg_keyring *kr = ring(K1);
    char token[RG_SESSION_TOKEN_MAX];
    rg_session s, v;
    assert_int_equal(rg_session_mint(kr, "demo0001", NOW, 600, token, &s), 0);
    assert_int_equal(rg_session_verify(kr, token, "demo0001", NOW + 600, &v), RG_SESSION_EXPIRED);
    assert_int_equal(rg_session_verify(kr, token, "demo0001", NOW + 100000, &v),
                     RG_SESSION_EXPIRED);
    assert_int_equal(rg_session_verify(kr, token, "demo0002", NOW, &v), RG_SESSION_WRONG_SITE);
    assert_int_equal(rg_session_verify(kr, token, "demo000", NOW, &v), RG_SESSION_WRONG_SITE);
    assert_int_equal(rg_session_verify(kr, token, "demo00011", NOW, &v), RG_SESSION_WRONG_SITE);
    /* Zero TTL is expired at once. */
    assert_int_equal(rg_session_mint(kr, "demo0001", NOW, 0, token, &s), 0);
    assert_int_equal(rg_session_verify(kr, token, "demo0001", NOW, &v), RG_SESSION_EXPIRED);
    rg_keyring_free(kr);
}

static void test_tampering(void **state)
{
    (void)state;
    rg_keyring *kr = ring(K1);
    char token[RG_SESSION_TOKEN_MAX];
    rg_session s, v;
    assert_int_equal(rg_session_mint(kr, "demo0001", NOW, 600, token, &s), 0);
    size_t n = strlen(token);
    for (size_t i = 0; i < n; i++) {
        static const char alt[] = "AB_-sz";
        for (const char *a = alt; *a; a++) {
            if (*a == token[i])
                continue;
            char t[RG_SESSION_TOKEN_MAX];
            memcpy(t, token, n + 1);
            t[i] = *a;
            if (rg_session_verify(kr, t, "demo0001", NOW, &v) == RG_SESSION_OK)
                fail_msg("accepted token with position %zu changed to '%c'", i, *a);
        }
    }
    /* Truncated tokens, every length. */
    for (size_t cut = 1; cut <= n; cut++) {
        char t[RG_SESSION_TOKEN_MAX];
        memcpy(t, token, n - cut);
        t[n - cut] = '\0';
        assert_int_not_equal(rg_session_verify(kr, t, "demo0001", NOW, &v), RG_SESSION_OK);
    }
    /* Extra characters. */
    char t[RG_SESSION_TOKEN_MAX + 64];
    snprintf(t, sizeof t, "%sAA", token);
    assert_int_not_equal(rg_session_verify(kr, t, "demo0001", NOW, &v), RG_SESSION_OK);

    assert_int_equal(rg_session_verify(kr, "", "demo0001", NOW, &v), RG_SESSION_MALFORMED);
    assert_int_equal(rg_session_verify(kr, "sst_", "demo0001", NOW, &v), RG_SESSION_MALFORMED);
    assert_int_equal(rg_session_verify(kr, "Bearer abc", "demo0001", NOW, &v),
                     RG_SESSION_MALFORMED);
    memcpy(t, token, n + 1);
    t[0] = 'S';
    assert_int_equal(rg_session_verify(kr, t, "demo0001", NOW, &v), RG_SESSION_MALFORMED);
    memcpy(t, token, n + 1);
    t[10] = '=';
    assert_int_equal(rg_session_verify(kr, t, "demo0001", NOW, &v), RG_SESSION_MALFORMED);
    /* Over the maximum length, however it starts. */
    char big[400];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "sst_", 4);
    assert_int_equal(rg_session_verify(kr, big, "demo0001", NOW, &v), RG_SESSION_MALFORMED);
    rg_keyring_free(kr);
}

static void test_rotation(void **state)
{
    (void)state;
    rg_keyring *k1 = ring(K1), *k21 = ring(K2 "\n" K1), *k2 = ring(K2);
    char token[RG_SESSION_TOKEN_MAX];
    rg_session s, v;
    assert_int_equal(rg_session_mint(k1, "demo0001", NOW, 600, token, &s), 0);
    assert_int_equal(rg_session_verify(k21, token, "demo0001", NOW, &v), RG_SESSION_OK);
    assert_string_equal(v.kid, "k1");
    assert_string_equal(v.signing_secret, s.signing_secret);
    /* Key k1 retired: the token no longer verifies. */
    assert_int_equal(rg_session_verify(k2, token, "demo0001", NOW, &v), RG_SESSION_BAD_MAC);
    /* New sessions use the primary key. */
    assert_int_equal(rg_session_mint(k21, "demo0001", NOW, 600, token, &s), 0);
    assert_string_equal(s.kid, "k2");
    assert_int_equal(rg_session_verify(k1, token, "demo0001", NOW, &v), RG_SESSION_BAD_MAC);
    /* Same kid, different key material: forged. */
    rg_keyring *fake = ring("k2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    assert_int_equal(rg_session_verify(fake, token, "demo0001", NOW, &v), RG_SESSION_BAD_MAC);
    rg_keyring_free(fake);
    rg_keyring_free(k1);
    rg_keyring_free(k2);
    rg_keyring_free(k21);
}

/* MCP tokens: bound to their session, and never usable as one (or back). */
static void test_mcp_token(void **state)
{
    (void)state;
    rg_keyring *kr = ring(K1);
    char token[RG_SESSION_TOKEN_MAX], mcp[RG_SESSION_TOKEN_MAX];
    rg_session s, v;
    assert_int_equal(rg_session_mint(kr, "demo0001", NOW, 600, token, &s), 0);
    assert_int_equal(rg_mcp_token_mint(kr, &s, mcp), 0);
    assert_int_equal(strncmp(mcp, "rgm_", 4), 0);
    assert_int_equal(rg_mcp_token_verify(kr, mcp, "demo0001", NOW, &v), RG_SESSION_OK);
    assert_memory_equal(v.nonce, s.nonce, 16); /* ended with its session */
    assert_int_equal(v.expires_at, s.expires_at);
    assert_string_equal(v.signing_secret, "");
    assert_int_equal(rg_mcp_token_verify(kr, mcp, "other001", NOW, &v), RG_SESSION_WRONG_SITE);
    assert_int_equal(rg_mcp_token_verify(kr, mcp, "demo0001", NOW + 600, &v), RG_SESSION_EXPIRED);
    /* Neither kind passes for the other, even with the prefix swapped. */
    assert_int_equal(rg_session_verify(kr, mcp, "demo0001", NOW, &v), RG_SESSION_MALFORMED);
    assert_int_equal(rg_mcp_token_verify(kr, token, "demo0001", NOW, &v), RG_SESSION_MALFORMED);
    char swapped[RG_SESSION_TOKEN_MAX];
    snprintf(swapped, sizeof swapped, "sst_%s", mcp + 4);
    assert_int_not_equal(rg_session_verify(kr, swapped, "demo0001", NOW, &v), RG_SESSION_OK);
    snprintf(swapped, sizeof swapped, "rgm_%s", token + 4);
    assert_int_not_equal(rg_mcp_token_verify(kr, swapped, "demo0001", NOW, &v), RG_SESSION_OK);
    /* A flipped character anywhere is refused. */
    size_t n = strlen(mcp);
    for (size_t i = 4; i < n; i++) {
        char t[RG_SESSION_TOKEN_MAX];
        memcpy(t, mcp, n + 1);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        assert_int_not_equal(rg_mcp_token_verify(kr, t, "demo0001", NOW, &v), RG_SESSION_OK);
    }
    /* Another keyring (another deployment) refuses it. */
    rg_keyring *k2 = ring(K2);
    assert_int_equal(rg_mcp_token_verify(k2, mcp, "demo0001", NOW, &v), RG_SESSION_BAD_MAC);
    rg_keyring_free(k2);
    rg_keyring_free(kr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mint_verify), cmocka_unit_test(test_layout),
        cmocka_unit_test(test_expired_and_site), cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_rotation),          cmocka_unit_test(test_mcp_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
