/*
 * Stored secrets: AES-256-GCM, "enc:v1:<kid>:<iv>:<ct>:<tag>" with each part
 * standard base64, a random 96-bit IV per record, and AAD "<site_id>/<path>"
 * so that a ciphertext can't be moved to another site or field.
 */
#ifndef RG_SECRET_H
#define RG_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "keyring.h"

bool rg_secret_is_encrypted(const char *value);

/* Encrypt under the primary key. *out is malloc'd, NUL-terminated. 0 on success. */
int rg_secret_encrypt(const rg_keyring *kr, const char *site_id, const char *path,
                      const void *plaintext, size_t len, char **out);

/* Encrypt under a given key (key rotation re-encrypts under the new key id
 * before it becomes the primary). */
int rg_secret_encrypt_with(const rg_master_key *k, const char *site_id, const char *path,
                           const void *plaintext, size_t len, char **out);

/*
 * Decrypt. *out is malloc'd and NUL-terminated (caller wipes and frees it);
 * *out_len its length. On failure returns -1 and writes a message that names
 * what is wrong (unknown key id, malformed, authentication failed: wrong
 * site/field or tampered) but never any secret material.
 */
int rg_secret_decrypt(const rg_keyring *kr, const char *site_id, const char *path,
                      const char *enc, char **out, size_t *out_len, char *err, size_t errlen);

#endif
