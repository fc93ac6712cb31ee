/*
 * Keyset cursors. A cursor carries the sort-key values of the last row of a
 * page and is authenticated (HMAC-SHA256 with the cursor sub-key, truncated to
 * 16 bytes) together with a digest of the query it belongs to, so it can't be
 * forged or moved to another query, collection or site.
 *
 *   base64url( 0x01 | kid_len | kid | query_digest[16] | nvalues | values... | mac[16] )
 *   value: type byte (0 = null, else rg_type) then payload
 *          (int64 BE / double bits BE / 1 byte bool / u16 BE length + bytes)
 */
#ifndef RG_CURSOR_H
#define RG_CURSOR_H

#include <readgate/adapter.h>
#include <stddef.h>
#include <stdint.h>

#include "keyring.h"

#define RG_CURSOR_MAX_VALUES 4

/* Encode. *out malloc'd, NUL-terminated. 0 on success. */
int rg_cursor_encode(const rg_keyring *kr, const uint8_t query_digest[16], const rg_value *values,
                     size_t nvalues, char **out);

/*
 * Decode and authenticate. Values are written to `values` (nvalues must
 * match what the query expects); their string payloads point into `scratch`
 * (malloc'd here, caller frees), NUL-terminated. A NULL position comes back
 * with is_null = 1 and type 0; non-null values carry the type they were
 * encoded with, which the caller checks against its sort fields. Returns 0,
 * or -1 for any defect (the caller answers 400 invalid_cursor without saying
 * which); on -1 `values` is untouched and *scratch is NULL.
 */
int rg_cursor_decode(const rg_keyring *kr, const char *cursor, const uint8_t query_digest[16],
                     rg_value *values, size_t nvalues, char **scratch);

#endif
