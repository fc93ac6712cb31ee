/* Base64 through OpenSSL's EVP_EncodeBlock / EVP_DecodeBlock, with the
   strictness those lack (they skip white space and ignore trailing bits). */
#include "b64.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

size_t rg_b64_encoded_len(size_t n, bool url)
{
    if (!url)
        return (n + 2) / 3 * 4;
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t rg_b64_decoded_max(size_t inlen) { return (inlen + 3) / 4 * 3; }

int rg_b64_encode_to(const void *in, size_t n, bool url, char *out, size_t outlen)
{
    size_t padded = (n + 2) / 3 * 4;
    /* EVP_EncodeBlock writes the padded form plus a NUL, and takes an int. */
    if (outlen < padded + 1 || n > (size_t)(INT32_MAX / 4 * 3))
        return -1;
    int w = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)n);
    if (w < 0 || (size_t)w != padded)
        return -1;
    if (!url)
        return w;
    size_t len = rg_b64_encoded_len(n, true);
    for (size_t i = 0; i < len; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    out[len] = '\0';
    return (int)len;
}

char *rg_b64_encode(const void *in, size_t n, bool url)
{
    size_t cap = (n + 2) / 3 * 4 + 1;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    if (rg_b64_encode_to(in, n, url, out, cap) < 0) {
        free(out);
        return NULL;
    }
    return out;
}

static bool std_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

static bool url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

int rg_b64_decode(const char *in, size_t inlen, bool url, uint8_t *out, size_t outcap,
                  size_t *outlen)
{
    size_t data, pad;
    if (url) {
        if (inlen % 4 == 1)
            return -1;
        for (size_t i = 0; i < inlen; i++)
            if (!url_char(in[i]))
                return -1;
        data = inlen;
        pad = (4 - inlen % 4) % 4;
    } else {
        if (inlen % 4 != 0)
            return -1;
        pad = 0;
        while (pad < 2 && pad < inlen && in[inlen - 1 - pad] == '=')
            pad++;
        data = inlen - pad;
        for (size_t i = 0; i < data; i++)
            if (!std_char(in[i]))
                return -1;
    }
    size_t padded = data + pad;
    size_t nbytes = padded / 4 * 3 - pad;
    if (nbytes > outcap || padded > (size_t)INT32_MAX)
        return -1;
    if (padded == 0) {
        *outlen = 0;
        return 0;
    }
    /* Standard alphabet, padded, in a scratch copy; decoded into scratch too
       because EVP_DecodeBlock writes the padding bytes as well. */
    char *tmp = malloc(padded + 1);
    unsigned char *dec = malloc(padded / 4 * 3);
    char *check = malloc(padded + 1);
    int rc = -1;
    if (!tmp || !dec || !check)
        goto done;
    for (size_t i = 0; i < data; i++)
        tmp[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    memset(tmp + data, '=', pad);
    tmp[padded] = '\0';
    int n = EVP_DecodeBlock(dec, (const unsigned char *)tmp, (int)padded);
    if (n < 0 || (size_t)n != padded / 4 * 3)
        goto done;
    /* Canonical form only: re-encoding must give back the same text, which
       rejects set bits after the last byte. */
    if (EVP_EncodeBlock((unsigned char *)check, dec, (int)nbytes) != (int)padded ||
        memcmp(check, tmp, padded) != 0)
        goto done;
    memcpy(out, dec, nbytes);
    *outlen = nbytes;
    rc = 0;
done:
    if (dec)
        OPENSSL_cleanse(dec, padded / 4 * 3);
    if (tmp)
        OPENSSL_cleanse(tmp, padded + 1);
    if (check)
        OPENSSL_cleanse(check, padded + 1);
    free(tmp);
    free(dec);
    free(check);
    return rc;
}
