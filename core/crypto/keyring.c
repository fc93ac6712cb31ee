/* Master keys: parsing "kid:base64" entries, the key file checks, and the
   HKDF-derived sub-keys. */
#include "keyring.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64.h"

/* A key file is a handful of lines; anything larger is not one. */
#define KEYFILE_MAX (64 * 1024)
#define KEYRING_MAX_KEYS 256

size_t rg_token_head(uint8_t *raw, uint8_t version, const char *kid)
{
    size_t len = strlen(kid);
    raw[0] = version;
    raw[1] = (uint8_t)len;
    memcpy(raw + 2, kid, len);
    return 2 + len;
}

void rg_secure_zero(void *p, size_t n)
{
    if (p && n)
        OPENSSL_cleanse(p, n);
}

static bool kid_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

static bool kid_valid(const char *kid, size_t len)
{
    if (len == 0 || len > RG_KID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!kid_char(kid[i]))
            return false;
    return true;
}

static int hkdf(const uint8_t key[RG_KEY_LEN], const char *info, uint8_t out[32])
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (!kdf)
        return -1;
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (!ctx)
        return -1;
    static const char salt[] = "readgate";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, RG_KEY_LEN),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, sizeof salt - 1),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info)),
        OSSL_PARAM_construct_end(),
    };
    int rc = EVP_KDF_derive(ctx, out, 32, params) == 1 ? 0 : -1;
    EVP_KDF_CTX_free(ctx);
    return rc;
}

static int derive_subkeys(rg_master_key *k)
{
    if (hkdf(k->key, "readgate session v1", k->session_key) != 0 ||
        hkdf(k->key, "readgate signing v1", k->signing_key) != 0 ||
        hkdf(k->key, "readgate cursor v1", k->cursor_key) != 0 ||
        hkdf(k->key, "readgate secret v1", k->secret_key) != 0)
        return -1;
    return 0;
}

void rg_keyring_free(rg_keyring *kr)
{
    if (!kr)
        return;
    if (kr->keys) {
        rg_secure_zero(kr->keys, kr->nkeys * sizeof *kr->keys);
        free(kr->keys);
    }
    free(kr);
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* One "kid:base64" entry, already trimmed. */
static int parse_entry(rg_keyring *kr, const char *s, size_t len, int line, char *err,
                       size_t errlen)
{
    const char *colon = memchr(s, ':', len);
    if (!colon) {
        snprintf(err, errlen, "line %d: expected kid:base64-of-32-bytes (e.g. k1:...)", line);
        return -1;
    }
    size_t kid_len = (size_t)(colon - s);
    if (!kid_valid(s, kid_len)) {
        snprintf(err, errlen,
                 "line %d: key id '%.*s' is invalid; it must be 1-32 of A-Z a-z 0-9 _ -", line,
                 (int)(kid_len > 40 ? 40 : kid_len), s);
        return -1;
    }
    if (rg_keyring_find(kr, s, kid_len)) {
        snprintf(err, errlen, "line %d: key id '%.*s' appears twice; key ids must be unique", line,
                 (int)kid_len, s);
        return -1;
    }
    if (kr->nkeys >= KEYRING_MAX_KEYS) {
        snprintf(err, errlen, "line %d: too many keys (at most %d)", line, KEYRING_MAX_KEYS);
        return -1;
    }
    const char *b = colon + 1;
    size_t blen = len - kid_len - 1;
    uint8_t buf[64];
    size_t n = 0;
    if (blen > 88 || rg_b64_decode(b, blen, false, buf, sizeof buf, &n) != 0) {
        rg_secure_zero(buf, sizeof buf);
        snprintf(err, errlen,
                 "line %d: key '%.*s' is not valid base64; expected 32 random bytes in standard "
                 "base64 (readgate keys generate, or openssl rand -base64 32)",
                 line, (int)kid_len, s);
        return -1;
    }
    if (n != RG_KEY_LEN) {
        rg_secure_zero(buf, sizeof buf);
        snprintf(err, errlen, "line %d: key '%.*s' is %zu bytes; a key must be exactly %d bytes",
                 line, (int)kid_len, s, n, RG_KEY_LEN);
        return -1;
    }
    rg_master_key *k = &kr->keys[kr->nkeys];
    memset(k, 0, sizeof *k);
    memcpy(k->kid, s, kid_len);
    k->kid[kid_len] = '\0';
    memcpy(k->key, buf, RG_KEY_LEN);
    rg_secure_zero(buf, sizeof buf);
    if (derive_subkeys(k) != 0) {
        rg_secure_zero(k, sizeof *k);
        snprintf(err, errlen, "line %d: key '%.*s': deriving sub-keys failed", line,
                 (int)kid_len, s);
        return -1;
    }
    kr->nkeys++;
    return 0;
}

rg_keyring *rg_keyring_parse(const char *text, char *err, size_t errlen)
{
    rg_keyring *kr = calloc(1, sizeof *kr);
    if (!kr || !text) {
        snprintf(err, errlen, "%s", kr ? "no key text" : "out of memory");
        free(kr);
        return NULL;
    }
    /* Upper bound on entries: one per separator, plus one. */
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        if (*p == '\n' || *p == ',')
            cap++;
    if (cap > KEYRING_MAX_KEYS + 1)
        cap = KEYRING_MAX_KEYS + 1;
    kr->keys = calloc(cap, sizeof *kr->keys);
    if (!kr->keys) {
        snprintf(err, errlen, "out of memory");
        free(kr);
        return NULL;
    }
    int line = 1;
    const char *p = text;
    for (;;) {
        size_t n = strcspn(p, ",\n");
        const char *s = p, *e = p + n;
        while (s < e && is_space(*s))
            s++;
        while (e > s && is_space(e[-1]))
            e--;
        if (e > s && *s != '#' && parse_entry(kr, s, (size_t)(e - s), line, err, errlen) != 0) {
            rg_keyring_free(kr);
            return NULL;
        }
        if (p[n] == '\0')
            break;
        if (p[n] == '\n')
            line++;
        p += n + 1;
    }
    if (kr->nkeys == 0) {
        snprintf(err, errlen, "no keys found; expected lines of kid:base64-of-32-bytes");
        rg_keyring_free(kr);
        return NULL;
    }
    return kr;
}

/* Reads the key file after checking, on the open descriptor, that only its
   owner can read it. Returns malloc'd text or NULL + message. */
static char *read_key_file(const char *file, char *err, size_t errlen)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open key file %s: %s", file, strerror(errno));
        return NULL;
    }
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat key file %s: %s", file, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "key file %s is not a regular file", file);
        goto fail;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen, "key file %s has mode %04o; it must be 0600 (chmod 600 %s)", file,
                 (unsigned)(st.st_mode & 07777), file);
        goto fail;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errlen,
                 "key file %s is owned by uid %u; it must be owned by the user readgate runs as "
                 "(uid %u)",
                 file, (unsigned)st.st_uid, (unsigned)geteuid());
        goto fail;
    }
    if (st.st_size > KEYFILE_MAX) {
        snprintf(err, errlen, "key file %s is too large (%lld bytes; at most %d)", file,
                 (long long)st.st_size, KEYFILE_MAX);
        goto fail;
    }
    buf = malloc(KEYFILE_MAX + 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, KEYFILE_MAX + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "cannot read key file %s: %s", file, strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > KEYFILE_MAX) {
            snprintf(err, errlen, "key file %s is too large (at most %d bytes)", file,
                     KEYFILE_MAX);
            goto fail;
        }
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        snprintf(err, errlen, "key file %s contains a NUL byte; expected text lines", file);
        goto fail;
    }
    close(fd);
    return buf;
fail:
    if (buf) {
        rg_secure_zero(buf, KEYFILE_MAX + 1);
        free(buf);
    }
    close(fd);
    return NULL;
}

rg_keyring *rg_keyring_load(const char *env_name, const char *file, char *err, size_t errlen)
{
    char why[256];
    if (file) {
        char *text = read_key_file(file, err, errlen);
        if (!text)
            return NULL;
        size_t len = strlen(text);
        rg_keyring *kr = rg_keyring_parse(text, why, sizeof why);
        rg_secure_zero(text, len);
        free(text);
        if (!kr)
            snprintf(err, errlen, "key file %s: %s", file, why);
        return kr;
    }
    if (!env_name || !*env_name) {
        snprintf(err, errlen, "no master keys configured: set keys.file or keys.env");
        return NULL;
    }
    const char *val = getenv(env_name);
    if (!val || !*val) {
        snprintf(err, errlen,
                 "environment variable %s is not set or empty; it must hold the master keys as "
                 "kid:base64 entries separated by commas or newlines",
                 env_name);
        return NULL;
    }
    rg_keyring *kr = rg_keyring_parse(val, why, sizeof why);
    if (!kr)
        snprintf(err, errlen, "environment variable %s: %s", env_name, why);
    return kr;
}

const rg_master_key *rg_keyring_find(const rg_keyring *kr, const char *kid, size_t kid_len)
{
    if (!kr || !kid || kid_len == 0 || kid_len > RG_KID_MAX)
        return NULL;
    for (size_t i = 0; i < kr->nkeys; i++)
        if (strlen(kr->keys[i].kid) == kid_len && memcmp(kr->keys[i].kid, kid, kid_len) == 0)
            return &kr->keys[i];
    return NULL;
}

int rg_keyring_generate_line(const char *kid, char *out, size_t outlen)
{
    if (!kid || !kid_valid(kid, strlen(kid)))
        return -1;
    uint8_t key[RG_KEY_LEN];
    char b64[64];
    int rc = -1;
    if (RAND_bytes(key, sizeof key) == 1 &&
        rg_b64_encode_to(key, sizeof key, false, b64, sizeof b64) > 0) {
        int n = snprintf(out, outlen, "%s:%s", kid, b64);
        rc = n > 0 && (size_t)n < outlen ? 0 : -1;
        if (rc != 0 && outlen)
            rg_secure_zero(out, outlen);
    }
    rg_secure_zero(key, sizeof key);
    rg_secure_zero(b64, sizeof b64);
    return rc;
}
