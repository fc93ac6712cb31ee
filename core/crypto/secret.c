/*
 * Stored secrets, AES-256-GCM. The AES key is the master key's HKDF sub-key
 * "readgate secret v1" (rg_master_key.secret_key), so the master key itself
 * is only ever HKDF input.
 */
#include "secret.h"

#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"

#define IV_LEN 12
#define TAG_LEN 16
#define PREFIX "enc:v1:"
/* Stored secrets are DSNs and tokens; anything this large is not one. */
#define SECRET_MAX (1024 * 1024)

static const char MALFORMED[] = "malformed encrypted value (expected enc:v1:<kid>:<iv>:<ct>:<tag>)";

bool rg_secret_is_encrypted(const char *value)
{
    /* Any "enc:" value is treated as encrypted, so an unknown version is
       reported instead of being used as a literal option value. */
    return value && strncmp(value, "enc:", 4) == 0;
}

/* AAD "<site_id>/<path>" binds the ciphertext to one site and field. */
/* Plaintext and ciphertext buffers are wiped before they go back to malloc. */
static void free_wiped(void *p, size_t n)
{
    if (p) {
        OPENSSL_cleanse(p, n);
        free(p);
    }
}

static int set_aad(EVP_CIPHER_CTX *ctx, const char *site_id, const char *path)
{
    int outl;
    size_t sl = strlen(site_id), pl = strlen(path);
    if (sl > INT_MAX / 2 || pl > INT_MAX / 2)
        return -1;
    if (EVP_CipherUpdate(ctx, NULL, &outl, (const unsigned char *)site_id, (int)sl) != 1 ||
        EVP_CipherUpdate(ctx, NULL, &outl, (const unsigned char *)"/", 1) != 1 ||
        EVP_CipherUpdate(ctx, NULL, &outl, (const unsigned char *)path, (int)pl) != 1)
        return -1;
    return 0;
}

int rg_secret_encrypt(const rg_keyring *kr, const char *site_id, const char *path,
                      const void *plaintext, size_t len, char **out)
{
    *out = NULL;
    if (!kr || kr->nkeys == 0)
        return -1;
    return rg_secret_encrypt_with(rg_keyring_primary(kr), site_id, path, plaintext, len, out);
}

int rg_secret_encrypt_with(const rg_master_key *k, const char *site_id, const char *path,
                           const void *plaintext, size_t len, char **out)
{
    *out = NULL;
    if (!k || !site_id || !path || (!plaintext && len) || len > SECRET_MAX)
        return -1;
    uint8_t iv[IV_LEN], tag[TAG_LEN];
    uint8_t *ct = malloc(len ? len : 1);
    char *ct64 = NULL, *res = NULL;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int rc = -1, outl = 0, finl = 0;
    if (!ct || !ctx || RAND_bytes(iv, sizeof iv) != 1)
        goto done;
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, IV_LEN, NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, k->secret_key, iv) != 1 ||
        set_aad(ctx, site_id, path) != 0)
        goto done;
    if (len && EVP_EncryptUpdate(ctx, ct, &outl, plaintext, (int)len) != 1)
        goto done;
    if (EVP_EncryptFinal_ex(ctx, ct + outl, &finl) != 1 || (size_t)(outl + finl) != len ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
        goto done;
    char iv64[24], tag64[32];
    ct64 = rg_b64_encode(ct, len, false);
    if (!ct64 || rg_b64_encode_to(iv, IV_LEN, false, iv64, sizeof iv64) < 0 ||
        rg_b64_encode_to(tag, TAG_LEN, false, tag64, sizeof tag64) < 0)
        goto done;
    size_t n = strlen(PREFIX) + strlen(k->kid) + strlen(iv64) + strlen(ct64) + strlen(tag64) + 4;
    res = malloc(n);
    if (!res)
        goto done;
    snprintf(res, n, PREFIX "%s:%s:%s:%s", k->kid, iv64, ct64, tag64);
    *out = res;
    rc = 0;
done:
    EVP_CIPHER_CTX_free(ctx);
    free_wiped(ct, len ? len : 1);
    free(ct64);
    return rc;
}

/* Splits "enc:v1:kid:iv:ct:tag" into its four fields (pointers into enc). */
static int split(const char *enc, const char *part[4], size_t plen[4])
{
    if (strncmp(enc, PREFIX, strlen(PREFIX)) != 0)
        return -1;
    const char *p = enc + strlen(PREFIX);
    for (int i = 0; i < 4; i++) {
        size_t n = strcspn(p, ":");
        part[i] = p;
        plen[i] = n;
        if (i < 3) {
            if (p[n] != ':')
                return -1;
            p += n + 1;
        } else if (p[n] != '\0') {
            return -1;
        }
    }
    return 0;
}

static bool kid_ok(const char *s, size_t n)
{
    if (n == 0 || n > RG_KID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

int rg_secret_decrypt(const rg_keyring *kr, const char *site_id, const char *path,
                      const char *enc, char **out, size_t *out_len, char *err, size_t errlen)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!kr || !site_id || !path || !enc) {
        snprintf(err, errlen, "no value to decrypt");
        return -1;
    }
    const char *part[4];
    size_t plen[4];
    uint8_t iv[IV_LEN], tag[TAG_LEN];
    size_t ivn = 0, tagn = 0, ctn = 0;
    if (strnlen(enc, SECRET_MAX * 2) >= SECRET_MAX * 2 || split(enc, part, plen) != 0 ||
        !kid_ok(part[0], plen[0]) ||
        rg_b64_decode(part[1], plen[1], false, iv, sizeof iv, &ivn) != 0 || ivn != IV_LEN ||
        rg_b64_decode(part[3], plen[3], false, tag, sizeof tag, &tagn) != 0 || tagn != TAG_LEN) {
        snprintf(err, errlen, "%s", MALFORMED);
        return -1;
    }
    const rg_master_key *k = rg_keyring_find(kr, part[0], plen[0]);
    if (!k) {
        snprintf(err, errlen, "unknown key id '%.*s'; it is not among the loaded master keys",
                 (int)plen[0], part[0]);
        return -1;
    }
    size_t cap = rg_b64_decoded_max(plen[2]);
    uint8_t *ct = malloc(cap ? cap : 1);
    char *pt = malloc(cap + 1);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int rc = -1, outl = 0, finl = 0;
    if (!ct || !pt || !ctx) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (rg_b64_decode(part[2], plen[2], false, ct, cap, &ctn) != 0) {
        snprintf(err, errlen, "%s", MALFORMED);
        goto done;
    }
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, IV_LEN, NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, k->secret_key, iv) != 1 ||
        set_aad(ctx, site_id, path) != 0 ||
        (ctn && EVP_DecryptUpdate(ctx, (unsigned char *)pt, &outl, ct, (int)ctn) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1) {
        snprintf(err, errlen, "decryption failed (internal error)");
        goto done;
    }
    if (EVP_DecryptFinal_ex(ctx, (unsigned char *)pt + outl, &finl) != 1) {
        snprintf(err, errlen, "authentication failed: the value was encrypted for another site "
                              "or field, or was altered");
        goto done;
    }
    size_t n = (size_t)(outl + finl);
    pt[n] = '\0';
    *out = pt;
    if (out_len)
        *out_len = n;
    pt = NULL;
    rc = 0;
done:
    EVP_CIPHER_CTX_free(ctx);
    free_wiped(ct, cap ? cap : 1);
    free_wiped(pt, cap + 1);
    return rc;
}
