/* Keyset cursors: round trips of every value kind, authentication, binding
   to the query digest, strict parsing and key rotation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto/cursor.h"
#include "keyring_fixture.h"

static const uint8_t DIGEST[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const char UNI[] = "Gr\xc3\xbc\xc3\x9f" "e \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x91\x9f";

static rg_value vint(int64_t i)
{
    rg_value v = {.type = RG_TYPE_INTEGER};
    v.u.i = i;
    return v;
}
static rg_value vnum(double n)
{
    rg_value v = {.type = RG_TYPE_NUMBER};
    v.u.n = n;
    return v;
}
static rg_value vstr(rg_type t, const char *s)
{
    rg_value v = {.type = t};
    v.u.str.ptr = s;
    v.u.str.len = strlen(s);
    return v;
}
static rg_value vbool(int b)
{
    rg_value v = {.type = RG_TYPE_BOOLEAN};
    v.u.b = b;
    return v;
}
static rg_value vnull(void)
{
    rg_value v = {.type = RG_TYPE_STRING, .is_null = 1};
    return v;
}

static void test_round_trip(void **state)
{
    (void)state;
    rg_keyring *kr = ring(K1);
    rg_value in[4] = {vint(-9007199254740993LL), vnum(-12.625), vstr(RG_TYPE_STRING, UNI),
                      vbool(1)};
    char *cur = NULL, *scratch = NULL;
    assert_int_equal(rg_cursor_encode(kr, DIGEST, in, 4, &cur), 0);
    /* base64url without padding: safe in JSON and URLs as is. */
    static const char url64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    assert_int_equal(strspn(cur, url64), strlen(cur));
    rg_value out[4];
    assert_int_equal(rg_cursor_decode(kr, cur, DIGEST, out, 4, &scratch), 0);
    assert_non_null(scratch);
    assert_int_equal(out[0].type, RG_TYPE_INTEGER);
    assert_false(out[0].is_null);
    assert_int_equal(out[0].u.i, -9007199254740993LL);
    assert_int_equal(out[1].type, RG_TYPE_NUMBER);
    assert_true(out[1].u.n == -12.625);
    assert_int_equal(out[2].type, RG_TYPE_STRING);
    assert_int_equal(out[2].u.str.len, strlen(UNI));
    assert_memory_equal(out[2].u.str.ptr, UNI, strlen(UNI));
    assert_int_equal(out[2].u.str.ptr[strlen(UNI)], '\0');
    assert_true(out[2].u.str.ptr >= scratch && out[2].u.str.ptr < scratch + strlen(UNI) + 1);
    assert_int_equal(out[3].type, RG_TYPE_BOOLEAN);
    assert_int_equal(out[3].u.b, 1);
    free(scratch);
    free(cur);

    /* Nulls, false, every string type, empty string, extreme numbers. */
    rg_value in2[4] = {vnull(), vbool(0), vstr(RG_TYPE_DATETIME, "2025-11-22T08:30:00Z"),
                       vstr(RG_TYPE_ENUM, "")};
    assert_int_equal(rg_cursor_encode(kr, DIGEST, in2, 4, &cur), 0);
    assert_int_equal(rg_cursor_decode(kr, cur, DIGEST, out, 4, &scratch), 0);
    assert_true(out[0].is_null);
    assert_int_equal(out[1].type, RG_TYPE_BOOLEAN);
    assert_int_equal(out[1].u.b, 0);
    assert_int_equal(out[2].type, RG_TYPE_DATETIME);
    assert_string_equal(out[2].u.str.ptr, "2025-11-22T08:30:00Z");
    assert_int_equal(out[3].type, RG_TYPE_ENUM);
    assert_int_equal(out[3].u.str.len, 0);
    assert_string_equal(out[3].u.str.ptr, "");
    free(scratch);
    free(cur);

    rg_value in3[3] = {vint(INT64_MIN), vnum(-0.0), vstr(RG_TYPE_DATE, "2024-02-29")};
    assert_int_equal(rg_cursor_encode(kr, DIGEST, in3, 3, &cur), 0);
    assert_int_equal(rg_cursor_decode(kr, cur, DIGEST, out, 3, &scratch), 0);
    assert_true(out[0].u.i == INT64_MIN);
    assert_true(out[1].u.n == 0.0 && signbit(out[1].u.n));
    assert_int_equal(out[2].type, RG_TYPE_DATE);
    assert_string_equal(out[2].u.str.ptr, "2024-02-29");
    free(scratch);
    free(cur);

    /* Longest string allowed, and one byte more refused. */
    char *longs = malloc(1026);
    memset(longs, 'x', 1025);
    longs[1024] = '\0';
    rg_value in4 = vstr(RG_TYPE_STRING, longs);
    assert_int_equal(rg_cursor_encode(kr, DIGEST, &in4, 1, &cur), 0);
    assert_int_equal(rg_cursor_decode(kr, cur, DIGEST, out, 1, &scratch), 0);
    assert_int_equal(out[0].u.str.len, 1024);
    free(scratch);
    free(cur);
    longs[1024] = 'x';
    longs[1025] = '\0';
    in4 = vstr(RG_TYPE_STRING, longs);
    assert_int_not_equal(rg_cursor_encode(kr, DIGEST, &in4, 1, &cur), 0);
    assert_null(cur);
    free(longs);
    /* Too many values, bad type. */
    rg_value five[5] = {vint(1), vint(2), vint(3), vint(4), vint(5)};
    assert_int_not_equal(rg_cursor_encode(kr, DIGEST, five, 5, &cur), 0);
    rg_value bad = {.type = (rg_type)9};
    assert_int_not_equal(rg_cursor_encode(kr, DIGEST, &bad, 1, &cur), 0);
    rg_keyring_free(kr);
}

static void expect_reject(rg_keyring *kr, const char *cur, const uint8_t digest[16], size_t n)
{
    rg_value out[RG_CURSOR_MAX_VALUES];
    memset(out, 0x5a, sizeof out);
    char *scratch = (char *)"untouched";
    if (rg_cursor_decode(kr, cur, digest, out, n, &scratch) != -1)
        fail_msg("accepted cursor '%s'", cur);
    assert_null(scratch);
    /* values are left alone on failure */
    const unsigned char *b = (const unsigned char *)out;
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(b[i], 0x5a);
}

static void test_rejects(void **state)
{
    (void)state;
    rg_keyring *kr = ring(K1);
    rg_value in[2] = {vnum(19.99), vint(42)};
    char *cur = NULL;
    assert_int_equal(rg_cursor_encode(kr, DIGEST, in, 2, &cur), 0);
    size_t n = strlen(cur);

    uint8_t other[16];
    memcpy(other, DIGEST, 16);
    other[15] ^= 1;
    expect_reject(kr, cur, other, 2);
    expect_reject(kr, cur, DIGEST, 1);
    expect_reject(kr, cur, DIGEST, 3);

    for (size_t i = 0; i < n; i++) {
        char *t = strdup(cur);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        expect_reject(kr, t, DIGEST, 2);
        free(t);
    }
    for (size_t len = 0; len < n; len++) {
        char *t = strndup(cur, len);
        expect_reject(kr, t, DIGEST, 2);
        free(t);
    }
    char *t = malloc(n + 3);
    memcpy(t, cur, n);
    memcpy(t + n, "AA", 3);
    expect_reject(kr, t, DIGEST, 2);
    t[n] = '=';
    t[n + 1] = '\0';
    expect_reject(kr, t, DIGEST, 2);
    free(t);
    expect_reject(kr, "not a cursor", DIGEST, 2);
    expect_reject(kr, "", DIGEST, 2);

    /* Another key with the same kid: forged. */
    rg_keyring *fake = ring("k1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=");
    expect_reject(fake, cur, DIGEST, 2);
    rg_keyring_free(fake);
    free(cur);
    rg_keyring_free(kr);
}

/* Builds a correctly MAC'd cursor from raw body bytes (version..values), to
   check that the parser rejects malformed content even when authentic. */
static char *forge(const rg_keyring *kr, const uint8_t *body, size_t n)
{
    uint8_t raw[256], mac[32];
    unsigned int ml;
    memcpy(raw, body, n);
    assert_non_null(HMAC(EVP_sha256(), rg_keyring_primary(kr)->cursor_key, 32, raw, n, mac, &ml));
    memcpy(raw + n, mac, 16);
    n += 16;
    char *b64 = malloc(n * 2 + 4);
    int w = EVP_EncodeBlock((unsigned char *)b64, raw, (int)n);
    while (w > 0 && b64[w - 1] == '=')
        b64[--w] = '\0';
    for (char *p = b64; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return b64;
}

static void test_authentic_but_malformed(void **state)
{
    (void)state;
    rg_keyring *kr = ring(K1);
    uint8_t body[128];
    size_t h = 0;
    body[h++] = 1;
    body[h++] = 2;
    body[h++] = 'k';
    body[h++] = '1';
    memcpy(body + h, DIGEST, 16);
    h += 16;

    /* Sanity: a hand-built valid cursor is accepted (int 7). */
    body[h] = 1;
    body[h + 1] = RG_TYPE_INTEGER;
    memset(body + h + 2, 0, 7);
    body[h + 9] = 7;
    char *c = forge(kr, body, h + 10);
    rg_value out[2];
    char *scratch = NULL;
    assert_int_equal(rg_cursor_decode(kr, c, DIGEST, out, 1, &scratch), 0);
    assert_int_equal(out[0].u.i, 7);
    free(scratch);
    free(c);
    /* Trailing byte after the values. */
    body[h + 10] = 0;
    c = forge(kr, body, h + 11);
    expect_reject(kr, c, DIGEST, 1);
    free(c);
    /* Truncated integer. */
    c = forge(kr, body, h + 6);
    expect_reject(kr, c, DIGEST, 1);
    free(c);
    /* Unknown type byte. */
    body[h + 1] = 8;
    c = forge(kr, body, h + 10);
    expect_reject(kr, c, DIGEST, 1);
    free(c);
    /* Boolean other than 0/1. */
    body[h + 1] = RG_TYPE_BOOLEAN;
    body[h + 2] = 2;
    c = forge(kr, body, h + 3);
    expect_reject(kr, c, DIGEST, 1);
    free(c);
    /* String length past the end. */
    body[h + 1] = RG_TYPE_STRING;
    body[h + 2] = 0;
    body[h + 3] = 5;
    memcpy(body + h + 4, "abcd", 4);
    c = forge(kr, body, h + 8);
    expect_reject(kr, c, DIGEST, 1);
    free(c);
    /* Wrong version byte. */
    body[h + 3] = 4;
    body[0] = 2;
    c = forge(kr, body, h + 8);
    expect_reject(kr, c, DIGEST, 1);
    free(c);
    body[0] = 1;
    c = forge(kr, body, h + 8);
    assert_int_equal(rg_cursor_decode(kr, c, DIGEST, out, 1, &scratch), 0);
    assert_string_equal(out[0].u.str.ptr, "abcd");
    free(scratch);
    free(c);
    rg_keyring_free(kr);
}

static void test_rotation(void **state)
{
    (void)state;
    rg_keyring *k1 = ring(K1), *k21 = ring(K2 "," K1), *k2 = ring(K2);
    rg_value in[2] = {vstr(RG_TYPE_STRING, "boots"), vint(17)};
    char *cur = NULL, *scratch = NULL;
    assert_int_equal(rg_cursor_encode(k1, DIGEST, in, 2, &cur), 0);
    rg_value out[2];
    assert_int_equal(rg_cursor_decode(k21, cur, DIGEST, out, 2, &scratch), 0);
    assert_string_equal(out[0].u.str.ptr, "boots");
    assert_int_equal(out[1].u.i, 17);
    free(scratch);
    expect_reject(k2, cur, DIGEST, 2);
    free(cur);
    rg_keyring_free(k1);
    rg_keyring_free(k2);
    rg_keyring_free(k21);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_authentic_but_malformed),
        cmocka_unit_test(test_rotation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
