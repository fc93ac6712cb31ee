/* Stored secrets: AES-256-GCM round trips, binding to site and field,
   tampering, malformed values and key rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/secret.h"
#include "keyring_fixture.h"

static const char DSN[] = "postgres://reader:s3cr3t-p@ss@db.internal:5432/shop";

static char *encrypt_dsn(rg_keyring *kr)
{
    char *enc = NULL;
    assert_int_equal(rg_secret_encrypt(kr, "demo0001", "sources.catalog.options.dsn", DSN,
                                       strlen(DSN), &enc),
                     0);
    assert_non_null(enc);
    return enc;
}

/* Decrypt expecting failure; returns the message. */
static void expect_fail(rg_keyring *kr, const char *site, const char *path, const char *enc,
                        const char *msg)
{
    char *out = (char *)"untouched";
    size_t len = 99;
    char err[256] = "";
    assert_int_equal(rg_secret_decrypt(kr, site, path, enc, &out, &len, err, sizeof err), -1);
    assert_null(out);
    if (!strstr(err, msg))
        fail_msg("error '%s' for '%s' does not contain '%s'", err, enc, msg);
    /* Never any of the secret in a message. */
    assert_null(strstr(err, "s3cr3t"));
}

static const char AUTH[] = "authentication failed: the value was encrypted for another site or "
                           "field, or was altered";
static const char MALFORMED[] =
    "malformed encrypted value (expected enc:v1:<kid>:<iv>:<ct>:<tag>)";

static void test_round_trip(void **state)
{
    (void)state;
    rg_keyring *kr = ring(K1);
    char *enc = encrypt_dsn(kr);
    assert_true(rg_secret_is_encrypted(enc));
    assert_int_equal(strncmp(enc, "enc:v1:k1:", 10), 0);
    assert_null(strstr(enc, "s3cr3t"));
    /* Parts: 12-byte IV and 16-byte tag in padded standard base64. */
    char *copy = strdup(enc);
    char *parts[6];
    char *save = NULL;
    int n = 0;
    for (char *t = strtok_r(copy, ":", &save); t && n < 6; t = strtok_r(NULL, ":", &save))
        parts[n++] = t;
    assert_int_equal(n, 6);
    assert_int_equal(strlen(parts[3]), 16);
    assert_int_equal(strlen(parts[5]), 24);
    free(copy);

    char *out = NULL;
    size_t len = 0;
    char err[256];
    assert_int_equal(rg_secret_decrypt(kr, "demo0001", "sources.catalog.options.dsn", enc, &out,
                                       &len, err, sizeof err),
                     0);
    assert_int_equal(len, strlen(DSN));
    assert_string_equal(out, DSN);
    free(out);

    /* Same plaintext twice gives different ciphertexts (random IV). */
    char *enc2 = encrypt_dsn(kr);
    assert_string_not_equal(enc, enc2);
    free(enc2);
    free(enc);

    /* Empty plaintext and binary plaintext. */
    assert_int_equal(rg_secret_encrypt(kr, "s", "p", "", 0, &enc), 0);
    assert_int_equal(rg_secret_decrypt(kr, "s", "p", enc, &out, &len, err, sizeof err), 0);
    assert_int_equal(len, 0);
    assert_string_equal(out, "");
    free(out);
    free(enc);
    const uint8_t bin[5] = {0, 1, 0xff, 0, 7};
    assert_int_equal(rg_secret_encrypt(kr, "s", "p", bin, sizeof bin, &enc), 0);
    assert_int_equal(rg_secret_decrypt(kr, "s", "p", enc, &out, &len, err, sizeof err), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(out, bin, 5);
    free(out);
    free(enc);
    rg_keyring_free(kr);
}

/* Replace one base64 character of part `idx` (3 iv, 4 ct, 5 tag) with another. */
static char *tamper(const char *enc, int idx)
{
    char *t = strdup(enc);
    char *p = t;
    for (int i = 0; i < idx; i++)
        p = strchr(p, ':') + 1;
    p[0] = p[0] == 'A' ? 'B' : 'A';
    return t;
}

static void test_tampering(void **state)
{
    (void)state;
    rg_keyring *kr = ring(K1);
    char *enc = encrypt_dsn(kr);
    const char *site = "demo0001", *path = "sources.catalog.options.dsn";
    for (int idx = 3; idx <= 5; idx++) {
        char *t = tamper(enc, idx);
        expect_fail(kr, site, path, t, AUTH);
        free(t);
    }
    /* Moved to another site or another field. */
    expect_fail(kr, "demo0002", path, enc, AUTH);
    expect_fail(kr, site, "sources.catalog.options.password", enc, AUTH);
    /* The AAD separator can't be shifted between site and path. */
    expect_fail(kr, "demo0001/sources", "catalog.options.dsn", enc, AUTH);
    free(enc);
    rg_keyring_free(kr);
}

static void test_unknown_kid(void **state)
{
    (void)state;
    rg_keyring *k1 = ring(K1), *k2 = ring(K2);
    char *enc = encrypt_dsn(k1);
    expect_fail(k2, "demo0001", "sources.catalog.options.dsn", enc, "unknown key id 'k1'");
    char *k9 = strdup(enc);
    k9[8] = '9';
    expect_fail(k1, "demo0001", "sources.catalog.options.dsn", k9, "unknown key id 'k9'");
    free(k9);
    free(enc);
    rg_keyring_free(k1);
    rg_keyring_free(k2);
}

static void test_malformed(void **state)
{
    (void)state;
    rg_keyring *kr = ring(K1);
    char *enc = encrypt_dsn(kr);
    const char *site = "demo0001", *path = "sources.catalog.options.dsn";
    static const char *const bad[] = {
        "",
        "enc:",
        "enc:v1:",
        "enc:v2:k1:AAAAAAAAAAAAAAAA:AAAA:AAAAAAAAAAAAAAAAAAAAAA==",
        "enc:v1:k1:AAAAAAAAAAAAAAAA:AAAA",                                   /* missing tag */
        "enc:v1:k1:AAAAAAAAAAAAAAAA:AAAA:AAAAAAAAAAAAAAAAAAAAAA==:extra",     /* extra part */
        "enc:v1::AAAAAAAAAAAAAAAA:AAAA:AAAAAAAAAAAAAAAAAAAAAA==",             /* empty kid */
        "enc:v1:k 1:AAAAAAAAAAAAAAAA:AAAA:AAAAAAAAAAAAAAAAAAAAAA==",          /* bad kid */
        "enc:v1:k1:AAAAAAAAAAAA:AAAA:AAAAAAAAAAAAAAAAAAAAAA==",               /* 9-byte IV */
        "enc:v1:k1:AAAAAAAAAAAAAAAA:AAAA:AAAAAAAAAAAAAAAAAAAA",               /* 15-byte tag */
        "enc:v1:k1:AAAAAAAAAAAAAAA*:AAAA:AAAAAAAAAAAAAAAAAAAAAA==",           /* bad char */
        "enc:v1:k1:AAAAAAAAAAAAAAAA:AA=A:AAAAAAAAAAAAAAAAAAAAAA==",           /* bad padding */
        "enc:v1:k1:AAAAAAAAAAAAAAAA:AAA:AAAAAAAAAAAAAAAAAAAAAA==",            /* bad length */
        "enc:v1:k1:AAAAAAAAAAAAAAAA:AAAA:AAAAAAAAAAAAAAAAAAAAAA-_",           /* url alphabet */
        "enc:v1:k1:AAAAAAAAAAAAAAAA:AA AA:AAAAAAAAAAAAAAAAAAAAAA==",          /* space */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_fail(kr, site, path, bad[i], MALFORMED);
    /* Truncated versions of a real value. */
    size_t n = strlen(enc);
    for (size_t cut = 1; cut < n; cut += 3) {
        char *t = strndup(enc, n - cut);
        char *out = NULL;
        size_t len;
        char err[256];
        assert_int_equal(rg_secret_decrypt(kr, site, path, t, &out, &len, err, sizeof err), -1);
        assert_null(out);
        free(t);
    }
    free(enc);
    assert_false(rg_secret_is_encrypted("postgres://x"));
    assert_false(rg_secret_is_encrypted(""));
    assert_true(rg_secret_is_encrypted("enc:v1:k1:a:b:c"));
    rg_keyring_free(kr);
}

static void test_rotation(void **state)
{
    (void)state;
    rg_keyring *old = ring(K1);
    char *enc = encrypt_dsn(old);
    rg_keyring_free(old);
    rg_keyring *kr = ring(K2 "\n" K1);
    char *out = NULL;
    size_t len;
    char err[256];
    assert_int_equal(rg_secret_decrypt(kr, "demo0001", "sources.catalog.options.dsn", enc, &out,
                                       &len, err, sizeof err),
                     0);
    assert_string_equal(out, DSN);
    free(out);
    free(enc);
    /* New values use the primary key. */
    enc = encrypt_dsn(kr);
    assert_int_equal(strncmp(enc, "enc:v1:k2:", 10), 0);
    free(enc);
    rg_keyring_free(kr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_unknown_kid), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_rotation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
