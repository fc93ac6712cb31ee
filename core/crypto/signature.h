/*
 * Request signatures (docs/http-api.md):
 *   string_to_sign = "v1\n" ts "\n" nonce "\n" METHOD "\n" path "\n" hex(sha256(body))
 *   X-Readgate-Signature: sha256=<lower-hex HMAC-SHA256(signing_secret bytes, string_to_sign)>
 */
#ifndef RG_SIGNATURE_H
#define RG_SIGNATURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Nonce: 16-64 of [A-Za-z0-9_-]. */
bool rg_sig_nonce_valid(const char *nonce);
/* Timestamp: decimal unix seconds, no sign, no spaces, <= 12 digits. */
bool rg_sig_parse_timestamp(const char *s, int64_t *out);
/* "sha256=" followed by exactly 64 lower- or upper-case hex digits -> 32 bytes. */
bool rg_sig_parse_header(const char *s, uint8_t mac[32]);

/* Compute the HMAC of the string to sign. */
void rg_sig_compute(const char *signing_secret, const char *ts, const char *nonce,
                    const char *method, const char *path, const void *body, size_t body_len,
                    uint8_t mac[32]);
/* The header value "sha256=<hex>" for the client side. out >= 72 bytes. */
void rg_sig_format(const uint8_t mac[32], char out[72]);
/* Constant-time verify. */
bool rg_sig_verify(const char *signing_secret, const char *ts, const char *nonce,
                   const char *method, const char *path, const void *body, size_t body_len,
                   const uint8_t mac[32]);

#endif
