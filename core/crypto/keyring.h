/*
 * Master keys. 256-bit keys with key ids, from an environment variable or a
 * key file that must be mode 0600 (refused otherwise). Format, one key per
 * line (or comma-separated in the environment variable):
 *
 *     k1:BASE64-OF-32-BYTES
 *
 * kid is [A-Za-z0-9_-]{1,32}. The first key is the primary: new secrets,
 * sessions and cursors use it; the others still decrypt / verify what was made
 * under them (rotation). Blank lines and lines starting with '#' are skipped.
 *
 * Sub-keys for each purpose are derived with HKDF-SHA256 (info strings such as
 * "readgate session v1"), so the master key itself never signs anything.
 */
#ifndef RG_KEYRING_H
#define RG_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RG_KEY_LEN 32
#define RG_KID_MAX 32

typedef struct rg_master_key {
    char kid[RG_KID_MAX + 1];
    uint8_t key[RG_KEY_LEN];
    /* Derived sub-keys, computed once at load. */
    uint8_t session_key[32]; /* authenticates session tokens */
    uint8_t signing_key[32]; /* derives per-session signing secrets */
    uint8_t cursor_key[32];  /* authenticates cursors */
    uint8_t secret_key[32];  /* AES-256-GCM key of stored secrets (enc:v1:...) */
} rg_master_key;

typedef struct rg_keyring {
    rg_master_key *keys; /* keys[0] is the primary */
    size_t nkeys;
} rg_keyring;

/* Parse key text (file contents or env value). NULL + message on error. */
rg_keyring *rg_keyring_parse(const char *text, char *err, size_t errlen);
/*
 * Load from `file` if non-NULL (checks it is a regular file with mode 0600 or
 * stricter, owned by the current user; says why it refuses), otherwise from
 * the environment variable `env_name`. NULL + message on error.
 */
rg_keyring *rg_keyring_load(const char *env_name, const char *file, char *err, size_t errlen);
void rg_keyring_free(rg_keyring *kr);
const rg_master_key *rg_keyring_find(const rg_keyring *kr, const char *kid, size_t kid_len);
static inline const rg_master_key *rg_keyring_primary(const rg_keyring *kr) { return &kr->keys[0]; }

/* A new key line "kid:base64" (random key) into out. 0 on success. */
int rg_keyring_generate_line(const char *kid, char *out, size_t outlen);

/* The start of every token readgate signs (sessions, MCP tokens, cursors):
   a version byte, then the key id as one length byte and its bytes, so the
   reader knows which key to verify with. Returns the bytes written
   (2 + strlen(kid); kid is at most RG_KID_MAX). */
size_t rg_token_head(uint8_t *raw, uint8_t version, const char *kid);

/* Wipe key material (OPENSSL_cleanse). */
void rg_secure_zero(void *p, size_t n);

#endif
