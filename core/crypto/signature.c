/* Request signatures (layout in signature.h). */
#include "signature.h"

#include <openssl/crypto.h>
#include <string.h>

#include "hmac.h"
#include "keyring.h"

#define NONCE_MIN 16
#define NONCE_MAX 64
#define TS_MAX_DIGITS 12

bool rg_sig_nonce_valid(const char *nonce)
{
    if (!nonce)
        return false;
    size_t n = 0;
    for (; nonce[n]; n++) {
        char c = nonce[n];
        if (n >= NONCE_MAX ||
            !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return n >= NONCE_MIN;
}

bool rg_sig_parse_timestamp(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    int64_t v = 0;
    size_t n = 0;
    for (; s[n]; n++) {
        if (n >= TS_MAX_DIGITS || s[n] < '0' || s[n] > '9')
            return false;
        v = v * 10 + (s[n] - '0'); /* 12 digits can't overflow int64 */
    }
    *out = v;
    return true;
}

bool rg_sig_parse_header(const char *s, uint8_t mac[32])
{
    static const char prefix[] = "sha256=";
    if (!s || strncmp(s, prefix, sizeof prefix - 1) != 0)
        return false;
    s += sizeof prefix - 1;
    uint8_t tmp[32];
    for (size_t i = 0; i < 32; i++) {
        /* OPENSSL_hexchar2int takes any case and returns -1 for non-hex;
           the NUL terminator of a short value fails here too. */
        int hi = OPENSSL_hexchar2int((unsigned char)s[2 * i]);
        int lo = hi < 0 ? -1 : OPENSSL_hexchar2int((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        tmp[i] = (uint8_t)(hi << 4 | lo);
    }
    if (s[64] != '\0')
        return false;
    memcpy(mac, tmp, 32);
    return true;
}

static void to_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int compute(const char *signing_secret, const char *ts, const char *nonce,
                   const char *method, const char *path, const void *body, size_t body_len,
                   uint8_t mac[32])
{
    if (!signing_secret || !ts || !nonce || !method || !path || (!body && body_len))
        return -1;
    uint8_t digest[32];
    rg_bytes whole = {body, body_len};
    if (rg_sha256(&whole, 1, digest) != 0)
        return -1;
    char hex[65];
    to_hex(digest, 32, hex);
    const rg_bytes parts[] = {
        {"v1\n", 3},  {ts, strlen(ts)},     {"\n", 1}, {nonce, strlen(nonce)}, {"\n", 1},
        {method, strlen(method)}, {"\n", 1}, {path, strlen(path)}, {"\n", 1}, {hex, 64},
    };
    return rg_hmac_sha256(signing_secret, strlen(signing_secret), parts,
                          sizeof parts / sizeof parts[0], mac);
}

void rg_sig_compute(const char *signing_secret, const char *ts, const char *nonce,
                    const char *method, const char *path, const void *body, size_t body_len,
                    uint8_t mac[32])
{
    /* On failure the MAC is zeroed; rg_sig_verify never relies on this. */
    if (compute(signing_secret, ts, nonce, method, path, body, body_len, mac) != 0)
        memset(mac, 0, 32);
}

void rg_sig_format(const uint8_t mac[32], char out[72])
{
    memcpy(out, "sha256=", 7);
    to_hex(mac, 32, out + 7);
}

bool rg_sig_verify(const char *signing_secret, const char *ts, const char *nonce,
                   const char *method, const char *path, const void *body, size_t body_len,
                   const uint8_t mac[32])
{
    uint8_t want[32];
    if (compute(signing_secret, ts, nonce, method, path, body, body_len, want) != 0)
        return false;
    bool ok = CRYPTO_memcmp(want, mac, 32) == 0;
    rg_secure_zero(want, sizeof want);
    return ok;
}
