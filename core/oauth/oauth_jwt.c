#include "oauth_jwt.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/b64.h"
#include "crypto/keyring.h"
#include "crypto/pem_key.h"

static char *b64url_json(json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    char *out = text ? rg_b64_encode(text, strlen(text), true) : NULL;
    free(text);
    return out;
}

char *rg_jwt_service_account(const char *pem, size_t pem_len, const char *email,
                             const char *scopes, const char *aud, int64_t now, char *err,
                             size_t errlen)
{
    char *out = NULL, *h64 = NULL, *c64 = NULL, *s64 = NULL, *input = NULL;
    unsigned char *sig = NULL;
    EVP_MD_CTX *md = NULL;
    json_t *header = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
    json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", email, "scope", scopes, "aud",
                               aud, "iat", (json_int_t)now, "exp",
                               (json_int_t)(now + RG_JWT_LIFETIME_S));
    EVP_PKEY *key = rg_pem_private_key(pem, pem_len);
    if (!key || !EVP_PKEY_is_a(key, "RSA")) {
        snprintf(err, errlen, "the service account private_key is not a PEM RSA private key");
        goto out;
    }
    h64 = b64url_json(header);
    c64 = b64url_json(claims);
    if (!h64 || !c64 || asprintf(&input, "%s.%s", h64, c64) < 0) {
        input = NULL;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    size_t siglen = 0;
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input, strlen(input)) != 1 ||
        !(sig = malloc(siglen)) ||
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, strlen(input)) != 1) {
        snprintf(err, errlen, "could not sign the service account assertion (RS256)");
        goto out;
    }
    s64 = rg_b64_encode(sig, siglen, true);
    if (!s64 || asprintf(&out, "%s.%s", input, s64) < 0) {
        out = NULL;
        snprintf(err, errlen, "out of memory");
    }
out:
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    json_decref(header);
    json_decref(claims);
    free(h64);
    free(c64);
    free(s64);
    free(input);
    free(sig);
    return out;
}
