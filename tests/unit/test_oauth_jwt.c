/* The Google service-account assertion (RFC 7523 JWT bearer grant, RS256):
   built for an RSA key generated here with OpenSSL's EVP API, then taken
   apart independently of the code under test — base64url without padding,
   the exact header and claims, and the signature verified with the public
   half of the key only. Bad keys give a clear message with no key material. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oauth/oauth_jwt.h"

#define EMAIL "reader@proj.iam.gserviceaccount.com"
#define SCOPES                                                                                 \
    "https://www.googleapis.com/auth/spreadsheets.readonly "                                   \
    "https://www.googleapis.com/auth/drive.readonly"
#define AUD "https://oauth2.googleapis.com/token"
#define NOW ((int64_t)1767225600) /* 2026-01-01T00:00:00Z */

typedef struct keypair {
    char *priv_pem; /* PKCS#8 PEM, as a service account's JSON key holds it */
    size_t priv_len;
    EVP_PKEY *pub; /* the public half only, read back from its own PEM */
} keypair;

/* A malloc'd copy of what a memory BIO holds. */
static char *bio_text(BIO *b, size_t *len)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    assert_true(n > 0);
    char *out = malloc((size_t)n + 1);
    assert_non_null(out);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    *len = (size_t)n;
    return out;
}

static EVP_PKEY *generate(const char *type, const char *param)
{
    EVP_PKEY *k = strcmp(type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                                           : EVP_PKEY_Q_keygen(NULL, NULL, type, param);
    assert_non_null(k);
    return k;
}

static char *private_pem(EVP_PKEY *k, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_non_null(b);
    assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
    char *pem = bio_text(b, len);
    BIO_free(b);
    return pem;
}

static int key_setup(void **state)
{
    keypair *kp = calloc(1, sizeof *kp);
    if (!kp)
        return -1;
    EVP_PKEY *k = generate("RSA", NULL);
    kp->priv_pem = private_pem(k, &kp->priv_len);
    BIO *b = BIO_new(BIO_s_mem());
    if (b && PEM_write_bio_PUBKEY(b, k) == 1)
        kp->pub = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    BIO_free(b);
    EVP_PKEY_free(k);
    if (!kp->pub) {
        free(kp->priv_pem);
        free(kp);
        return -1;
    }
    *state = kp;
    return 0;
}

static int key_teardown(void **state)
{
    keypair *kp = *state;
    OPENSSL_cleanse(kp->priv_pem, kp->priv_len);
    free(kp->priv_pem);
    EVP_PKEY_free(kp->pub);
    free(kp);
    return 0;
}

/* base64url without padding, decoded with OpenSSL's standard-alphabet
   decoder (not readgate's own) after mapping the alphabet back. */
static unsigned char *b64url_decode(const char *in, size_t n, size_t *outlen)
{
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            fail_msg("character '%c' at %zu is not base64url (no '+', '/' or '=' padding)", c, i);
    }
    assert_int_not_equal(n % 4, 1); /* no base64 text has this length */
    size_t padded = (n + 3) / 4 * 4;
    unsigned char *std = malloc(padded + 1);
    unsigned char *out = malloc(padded / 4 * 3 + 1);
    assert_non_null(std);
    assert_non_null(out);
    for (size_t i = 0; i < n; i++)
        std[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : (unsigned char)in[i];
    for (size_t i = n; i < padded; i++)
        std[i] = '=';
    int got = EVP_DecodeBlock(out, std, (int)padded);
    assert_true(got >= 0);
    /* EVP_DecodeBlock counts the padding's zero bytes: drop them. */
    *outlen = (size_t)got - (padded - n);
    out[*outlen] = '\0';
    free(std);
    return out;
}

typedef struct jwt_parts {
    char *text;
    const char *part[3];
    size_t len[3];
} jwt_parts;

static void split(char *jwt, jwt_parts *p)
{
    p->text = jwt;
    const char *s = jwt;
    for (int i = 0; i < 3; i++) {
        const char *dot = strchr(s, '.');
        assert_true(i < 2 ? dot != NULL : dot == NULL);
        p->part[i] = s;
        p->len[i] = dot ? (size_t)(dot - s) : strlen(s);
        assert_true(p->len[i] > 0);
        s = dot ? dot + 1 : s;
    }
}

static json_t *part_json(const jwt_parts *p, int i)
{
    size_t n;
    unsigned char *raw = b64url_decode(p->part[i], p->len[i], &n);
    json_error_t je;
    json_t *j = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        fail_msg("part %d is not JSON: %s", i, je.text);
    free(raw);
    assert_true(json_is_object(j));
    return j;
}

/* RS256: RSASSA-PKCS1-v1_5 with SHA-256 over "header.claims". 1 valid. */
static int verify(EVP_PKEY *pub, const char *signed_part, size_t signed_len,
                  const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_non_null(md);
    EVP_PKEY_CTX *pctx = NULL;
    assert_int_equal(EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pub), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING), 1);
    int rc = EVP_DigestVerify(md, sig, siglen, (const unsigned char *)signed_part, signed_len);
    EVP_MD_CTX_free(md);
    return rc;
}

static char *make(const keypair *kp, int64_t now)
{
    char err[256] = "";
    char *jwt = rg_jwt_service_account(kp->priv_pem, kp->priv_len, EMAIL, SCOPES, AUD, now, err,
                                       sizeof err);
    if (!jwt)
        fail_msg("rg_jwt_service_account: %s", err);
    return jwt;
}

static void test_header_and_claims(void **state)
{
    keypair *kp = *state;
    jwt_parts p;
    split(make(kp, NOW), &p);

    json_t *h = part_json(&p, 0);
    assert_int_equal(json_object_size(h), 2);
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "RS256");
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");

    json_t *c = part_json(&p, 1);
    assert_int_equal(json_object_size(c), 5);
    assert_string_equal(json_string_value(json_object_get(c, "iss")), EMAIL);
    assert_string_equal(json_string_value(json_object_get(c, "scope")), SCOPES);
    assert_string_equal(json_string_value(json_object_get(c, "aud")), AUD);
    assert_true(json_is_integer(json_object_get(c, "iat")));
    assert_int_equal(json_integer_value(json_object_get(c, "iat")), NOW);
    /* Google's maximum lifetime: one hour. */
    assert_int_equal(json_integer_value(json_object_get(c, "exp")), NOW + 3600);
    assert_int_equal(RG_JWT_LIFETIME_S, 3600);
    json_decref(h);
    json_decref(c);
    free(p.text);
}

static void test_rs256_signature(void **state)
{
    keypair *kp = *state;
    jwt_parts p;
    split(make(kp, NOW), &p);
    size_t siglen;
    unsigned char *sig = b64url_decode(p.part[2], p.len[2], &siglen);
    assert_int_equal(siglen, 256); /* a 2048-bit RSA signature */
    size_t signed_len = p.len[0] + 1 + p.len[1];
    assert_int_equal(verify(kp->pub, p.text, signed_len, sig, siglen), 1);

    /* Any change to what was signed, or to the signature, fails. */
    char *tampered = strdup(p.text);
    assert_non_null(tampered);
    tampered[p.len[0] + 3] ^= 0x01;
    assert_int_not_equal(verify(kp->pub, tampered, signed_len, sig, siglen), 1);
    sig[siglen / 2] ^= 0x80;
    assert_int_not_equal(verify(kp->pub, p.text, signed_len, sig, siglen), 1);

    /* PKCS#1 v1.5 is deterministic: the same inputs give the same
       assertion; another issue time gives another. */
    char *again = make(kp, NOW), *later = make(kp, NOW + 1);
    assert_string_equal(again, p.text);
    assert_string_not_equal(later, p.text);
    free(again);
    free(later);
    free(tampered);
    free(sig);
    free(p.text);
}

static void expect_refused(const char *pem, size_t len, const char *not_in_err)
{
    char err[256] = "";
    char *jwt = rg_jwt_service_account(pem, len, EMAIL, SCOPES, AUD, NOW, err, sizeof err);
    assert_null(jwt);
    assert_string_equal(err, "the service account private_key is not a PEM RSA private key");
    if (not_in_err)
        assert_null(strstr(err, not_in_err));
}

static void test_bad_keys(void **state)
{
    keypair *kp = *state;
    expect_refused("", 0, NULL);
    expect_refused("not a key at all", 16, NULL);
    /* Half a key: the PEM armour is there, the body is cut. */
    expect_refused(kp->priv_pem, kp->priv_len / 2, NULL);
    /* A valid PEM of the public half: not a private key. */
    BIO *b = BIO_new(BIO_s_mem());
    assert_non_null(b);
    assert_int_equal(PEM_write_bio_PUBKEY(b, kp->pub), 1);
    size_t n;
    char *pub = bio_text(b, &n);
    BIO_free(b);
    expect_refused(pub, n, "BEGIN");
    free(pub);
    /* A valid private key of another type: RS256 needs RSA. */
    EVP_PKEY *ec = generate("EC", "P-256");
    char *ec_pem = private_pem(ec, &n);
    EVP_PKEY_free(ec);
    expect_refused(ec_pem, n, "BEGIN");
    /* Never any of the key's text in the message. */
    char body[24];
    memcpy(body, ec_pem + 40, sizeof body - 1);
    body[sizeof body - 1] = '\0';
    expect_refused(ec_pem, n, body);
    OPENSSL_cleanse(ec_pem, n);
    free(ec_pem);
    /* A passphrase-protected RSA key: refused like any unreadable key, and
       never a prompt for the passphrase (which would block a server). */
    EVP_PKEY *rsa = generate("RSA", NULL);
    b = BIO_new(BIO_s_mem());
    assert_non_null(b);
    static char pass[] = "correct horse";
    assert_int_equal(PEM_write_bio_PKCS8PrivateKey(b, rsa, EVP_aes_256_cbc(), pass,
                                                   (int)strlen(pass), NULL, NULL),
                     1);
    EVP_PKEY_free(rsa);
    char *enc = bio_text(b, &n);
    BIO_free(b);
    assert_non_null(strstr(enc, "ENCRYPTED PRIVATE KEY"));
    expect_refused(enc, n, "BEGIN");
    free(enc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_and_claims),
        cmocka_unit_test(test_rs256_signature),
        cmocka_unit_test(test_bad_keys),
    };
    return cmocka_run_group_tests(tests, key_setup, key_teardown);
}
