/* Request signatures. The expected MACs were computed independently:
 *   python3 -c 'import hmac,hashlib
 *   def sig(secret,ts,nonce,method,path,body):
 *       s="v1\n"+ts+"\n"+nonce+"\n"+method+"\n"+path+"\n"+hashlib.sha256(body).hexdigest()
 *       return hmac.new(secret.encode(),s.encode(),hashlib.sha256).hexdigest()
 *   print(sig(SECRET,"1763801400","abcdefghijklmnop","GET","/v1/demo0001/collections",b""))
 *   print(sig(SECRET,"1763801400","Nonce_0123-456789","POST","/v1/demo0001/query",
 *             b"{\"collection\":\"products\",\"limit\":5}"))'
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "crypto/signature.h"

#define SECRET "q3JxV1bX8nW9s0kLmPzT4yUaHcDeFgRi5oN6t7u2v1w"
#define TS "1763801400"
#define BODY "{\"collection\":\"products\",\"limit\":5}"
#define GET_HEX "b2457bcd48ccf7feb5a535fe41e93a74a1b81d923e0e7af2f3617f35e6062bac"
#define POST_HEX "480322ab917cbfe416dff288192df8c6341518adce68af70250f5f252f200356"

static void test_vectors(void **state)
{
    (void)state;
    uint8_t mac[32];
    char hdr[72];
    rg_sig_compute(SECRET, TS, "abcdefghijklmnop", "GET", "/v1/demo0001/collections", "", 0,
                   mac);
    rg_sig_format(mac, hdr);
    assert_string_equal(hdr, "sha256=" GET_HEX);
    /* A NULL body of length 0 is the empty body. */
    rg_sig_compute(SECRET, TS, "abcdefghijklmnop", "GET", "/v1/demo0001/collections", NULL, 0,
                   mac);
    rg_sig_format(mac, hdr);
    assert_string_equal(hdr, "sha256=" GET_HEX);

    rg_sig_compute(SECRET, TS, "Nonce_0123-456789", "POST", "/v1/demo0001/query", BODY,
                   strlen(BODY), mac);
    rg_sig_format(mac, hdr);
    assert_string_equal(hdr, "sha256=" POST_HEX);
}

/* The vectors the JavaScript client is tested with (clients/js/test):
   both implementations must produce these exact headers. */
static void test_shared_vectors(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *doc = json_load_file(RG_SOURCE_DIR "/clients/js/test/vectors.json", 0, &jerr);
    if (!doc)
        fail_msg("clients/js/test/vectors.json: %s", jerr.text);
    assert_true(json_is_array(doc));
    assert_true(json_array_size(doc) >= 5);
    size_t i;
    json_t *v;
    json_array_foreach(doc, i, v) {
        const char *secret = json_string_value(json_object_get(v, "signing_secret"));
        const char *ts = json_string_value(json_object_get(v, "timestamp"));
        const char *nonce = json_string_value(json_object_get(v, "nonce"));
        const char *method = json_string_value(json_object_get(v, "method"));
        const char *path = json_string_value(json_object_get(v, "path"));
        json_t *body = json_object_get(v, "body");
        const char *want = json_string_value(json_object_get(v, "signature"));
        assert_non_null(secret);
        assert_non_null(ts);
        assert_non_null(nonce);
        assert_non_null(method);
        assert_non_null(path);
        assert_true(json_is_string(body));
        assert_non_null(want);
        uint8_t mac[32];
        char hdr[72];
        rg_sig_compute(secret, ts, nonce, method, path, json_string_value(body),
                       json_string_length(body), mac);
        rg_sig_format(mac, hdr);
        if (strcmp(hdr, want) != 0)
            fail_msg("vector %zu: C signs %s, the file says %s", i, hdr, want);
        assert_true(rg_sig_verify(secret, ts, nonce, method, path, json_string_value(body),
                                  json_string_length(body), mac));
    }
    json_decref(doc);
}

static void test_verify(void **state)
{
    (void)state;
    uint8_t mac[32];
    assert_true(rg_sig_parse_header("sha256=" POST_HEX, mac));
    const char *n = "Nonce_0123-456789", *m = "POST", *p = "/v1/demo0001/query";
    size_t bl = strlen(BODY);
    assert_true(rg_sig_verify(SECRET, TS, n, m, p, BODY, bl, mac));
    assert_false(rg_sig_verify(SECRET "x", TS, n, m, p, BODY, bl, mac));
    assert_false(rg_sig_verify("q3JxV1bX8nW9s0kLmPzT4yUaHcDeFgRi5oN6t7u2v1W", TS, n, m, p, BODY,
                               bl, mac));
    assert_false(rg_sig_verify(SECRET, "1763801401", n, m, p, BODY, bl, mac));
    assert_false(rg_sig_verify(SECRET, TS, "Nonce_0123-456788", m, p, BODY, bl, mac));
    assert_false(rg_sig_verify(SECRET, TS, n, "GET", p, BODY, bl, mac));
    assert_false(rg_sig_verify(SECRET, TS, n, "post", p, BODY, bl, mac));
    assert_false(rg_sig_verify(SECRET, TS, n, m, "/v1/demo0002/query", BODY, bl, mac));
    assert_false(rg_sig_verify(SECRET, TS, n, m, p, BODY, bl - 1, mac));
    assert_false(rg_sig_verify(SECRET, TS, n, m, p, "{\"collection\":\"products\",\"limit\":6}",
                               bl, mac));
    assert_false(rg_sig_verify(SECRET, TS, n, m, p, "", 0, mac));
    /* Fields can't be shifted across the newline separators. */
    assert_false(rg_sig_verify(SECRET, TS "\nNonce_0123-456789", "", m, p, BODY, bl, mac));
    for (int i = 0; i < 32; i++) {
        uint8_t bad[32];
        memcpy(bad, mac, 32);
        bad[i] ^= 0x01;
        assert_false(rg_sig_verify(SECRET, TS, n, m, p, BODY, bl, bad));
    }

    uint8_t empty[32];
    assert_true(rg_sig_parse_header("sha256=" GET_HEX, empty));
    assert_true(rg_sig_verify(SECRET, TS, "abcdefghijklmnop", "GET", "/v1/demo0001/collections",
                              "", 0, empty));
    assert_false(rg_sig_verify(SECRET, TS, "abcdefghijklmnop", "GET", "/v1/demo0001/collections",
                               "x", 1, empty));
}

static void test_parse_header(void **state)
{
    (void)state;
    uint8_t mac[32], want[32];
    assert_true(rg_sig_parse_header("sha256=" GET_HEX, want));
    assert_int_equal(want[0], 0xb2);
    assert_int_equal(want[31], 0xac);
    /* Upper case is accepted and means the same bytes. */
    assert_true(rg_sig_parse_header(
        "sha256=B2457BCD48CCF7FEB5A535FE41E93A74A1B81D923E0E7AF2F3617F35E6062BAC", mac));
    assert_memory_equal(mac, want, 32);

    memset(mac, 0x5a, sizeof mac);
    static const char *const bad[] = {
        GET_HEX,                     /* missing prefix */
        "sha256:" GET_HEX,           /* wrong separator */
        "SHA256=" GET_HEX,           /* prefix is lower case */
        "sha1=" GET_HEX,             /* other algorithm */
        " sha256=" GET_HEX,          /* leading space */
        "sha256= " GET_HEX,          /* space after = */
        "sha256=" GET_HEX " ",       /* trailing space */
        "sha256=" GET_HEX "00",      /* too long */
        "sha256=b2457bcd48ccf7feb5a535fe41e93a74a1b81d923e0e7af2f3617f35e6062ba", /* 63 */
        "sha256=b2457bcd",           /* short */
        "sha256=",                   /* empty */
        "sha256=g2457bcd48ccf7feb5a535fe41e93a74a1b81d923e0e7af2f3617f35e6062bac", /* non-hex */
        "sha256=b2457bcd48ccf7feb5a535fe41e93a74a1b81d923e0e7af2f3617f35e6062baz",
        "sha256=0xb2457bcd48ccf7feb5a535fe41e93a74a1b81d923e0e7af2f3617f35e6062b",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (rg_sig_parse_header(bad[i], mac))
            fail_msg("accepted header '%s'", bad[i]);
    /* A rejected header leaves the output alone. */
    for (int i = 0; i < 32; i++)
        assert_int_equal(mac[i], 0x5a);
}

static void test_nonce(void **state)
{
    (void)state;
    assert_false(rg_sig_nonce_valid("abcdefghijklmno"));   /* 15 */
    assert_true(rg_sig_nonce_valid("abcdefghijklmnop"));   /* 16 */
    assert_true(rg_sig_nonce_valid("AZaz09_-AZaz09_-"));
    char n64[65], n65[66];
    memset(n64, 'a', 64);
    n64[64] = '\0';
    memset(n65, 'b', 65);
    n65[65] = '\0';
    assert_true(rg_sig_nonce_valid(n64));
    assert_false(rg_sig_nonce_valid(n65));
    assert_false(rg_sig_nonce_valid(""));
    assert_false(rg_sig_nonce_valid(NULL));
    assert_false(rg_sig_nonce_valid("abcdefghijklmno="));
    assert_false(rg_sig_nonce_valid("abcdefghijklmno "));
    assert_false(rg_sig_nonce_valid("abcdefgh.ijklmnop"));
    assert_false(rg_sig_nonce_valid("abcdefgh/ijklmnop"));
    assert_false(rg_sig_nonce_valid("abcdefgh+ijklmnop"));
    assert_false(rg_sig_nonce_valid("abcdefgh\nijklmnop"));
    assert_false(rg_sig_nonce_valid("abcdefgh\xc3\xa9ijklmnop"));
}

static void test_timestamp(void **state)
{
    (void)state;
    int64_t t = -1;
    assert_true(rg_sig_parse_timestamp("1763801400", &t));
    assert_int_equal(t, 1763801400);
    assert_true(rg_sig_parse_timestamp("0", &t));
    assert_int_equal(t, 0);
    assert_true(rg_sig_parse_timestamp("999999999999", &t)); /* 12 digits */
    assert_int_equal(t, 999999999999LL);
    t = 42;
    static const char *const bad[] = {
        "", "+1763801400", "-1763801400", " 1763801400", "1763801400 ", "17638 01400",
        "1763801400x", "abc", "1e9", "0x10", "1763801400.5", "1000000000000", /* 13 digits */
        "99999999999999999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (rg_sig_parse_timestamp(bad[i], &t))
            fail_msg("accepted timestamp '%s'", bad[i]);
    assert_false(rg_sig_parse_timestamp(NULL, &t));
    assert_int_equal(t, 42);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),   cmocka_unit_test(test_shared_vectors),   cmocka_unit_test(test_verify),
        cmocka_unit_test(test_parse_header), cmocka_unit_test(test_nonce),
        cmocka_unit_test(test_timestamp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
