/*
 * Strict base64 for readgate's own formats: standard alphabet with padding
 * (stored secrets, key lines) and url-safe without padding (tokens, cursors,
 * signing secrets). Decoding accepts only the canonical encoding of a byte
 * string, so no two different texts decode to the same bytes.
 */
#ifndef RG_B64_H
#define RG_B64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Characters needed to encode n bytes (without the NUL). */
size_t rg_b64_encoded_len(size_t n, bool url);

/*
 * Encode into out (outlen must hold rg_b64_encoded_len(n, url) + 1).
 * Returns the length written (NUL-terminated), or -1 if out is too small.
 */
int rg_b64_encode_to(const void *in, size_t n, bool url, char *out, size_t outlen);

/* Encode into a malloc'd, NUL-terminated string; NULL on allocation failure. */
char *rg_b64_encode(const void *in, size_t n, bool url);

/*
 * Decode exactly inlen characters. Rejects characters outside the alphabet,
 * wrong padding or length, non-canonical trailing bits, and output larger
 * than outcap. Returns 0 and sets *outlen, or -1.
 */
int rg_b64_decode(const char *in, size_t inlen, bool url, uint8_t *out, size_t outcap,
                  size_t *outlen);

/* The decoded size of inlen characters (an upper bound for padded input). */
size_t rg_b64_decoded_max(size_t inlen);

#endif
