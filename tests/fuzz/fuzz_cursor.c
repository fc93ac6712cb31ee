/*
 * Cursor decoding (core/crypto/cursor.c). A client can send any string as
 * "cursor", so the decoder sees hostile text before and after the MAC check.
 * First byte: bit 0 picks the mode, the next bits how many values the query
 * expects (0-4).
 *   mode 0: the rest is the cursor text, as a client would send it;
 *   mode 1: the rest is a cursor's raw bytes without the MAC; the target
 *           signs them with the key they name and encodes them, so the parser
 *           behind the MAC (which no forger reaches) is explored too.
 * A decoded cursor must re-encode to one that decodes to the same values, and
 * under the primary key to the very same text.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/b64.h"
#include "crypto/cursor.h"
#include "crypto/hmac.h"
#include "fuzz_common.h"

#define RAW_CAP 8192

static rg_keyring *kr;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    kr = rg_fuzz_keyring();
    return 0;
}

static bool is_text(rg_type t)
{
    return t == RG_TYPE_STRING || t == RG_TYPE_ENUM || t == RG_TYPE_DATE || t == RG_TYPE_DATETIME;
}

static bool same_values(const rg_value *a, const rg_value *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].is_null != b[i].is_null)
            return false;
        if (a[i].is_null)
            continue;
        if (a[i].type != b[i].type)
            return false;
        if (is_text(a[i].type)) {
            if (a[i].u.str.len != b[i].u.str.len ||
                memcmp(a[i].u.str.ptr, b[i].u.str.ptr, a[i].u.str.len) != 0)
                return false;
        } else if (a[i].type == RG_TYPE_INTEGER) {
            if (a[i].u.i != b[i].u.i)
                return false;
        } else if (a[i].type == RG_TYPE_NUMBER) {
            if (memcmp(&a[i].u.n, &b[i].u.n, sizeof a[i].u.n) != 0)
                return false;
        } else if (a[i].u.b != b[i].u.b) {
            return false;
        }
    }
    return true;
}

/* mode 1: raw bytes + HMAC (truncated to 16 bytes) under the key they name,
   base64url. NULL when the bytes are too long to be a cursor at all. */
static char *sign_raw(const uint8_t *raw, size_t n)
{
    if (n > RAW_CAP - 16)
        return NULL;
    const rg_master_key *k = NULL;
    if (n >= 2)
        k = rg_keyring_find(kr, (const char *)raw + 2, raw[1] <= n - 2 ? raw[1] : 0);
    if (!k)
        k = rg_keyring_primary(kr);
    uint8_t buf[RAW_CAP], mac[32];
    memcpy(buf, raw, n);
    rg_bytes part = {buf, n};
    RG_FUZZ_CHECK(rg_hmac_sha256(k->cursor_key, sizeof k->cursor_key, &part, 1, mac) == 0);
    memcpy(buf + n, mac, 16);
    char *text = rg_b64_encode(buf, n + 16, true);
    RG_FUZZ_CHECK(text != NULL);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t nvalues = (size_t)(data[0] >> 1) % (RG_CURSOR_MAX_VALUES + 1);
    char *cursor = data[0] & 1 ? sign_raw(data + 1, size - 1) : rg_fuzz_cstr(data + 1, size - 1);
    if (!cursor)
        return 0;

    rg_value v[RG_CURSOR_MAX_VALUES];
    memset(v, 0xA5, sizeof v); /* untouched on failure: checked below */
    rg_value before[RG_CURSOR_MAX_VALUES];
    memcpy(before, v, sizeof v);
    char *scratch = NULL;
    int rc = rg_cursor_decode(kr, cursor, rg_fuzz_digest, v, nvalues, &scratch);
    if (rc != 0) {
        RG_FUZZ_CHECK(rc == -1 && scratch == NULL);
        RG_FUZZ_CHECK(memcmp(before, v, sizeof v) == 0);
        free(cursor);
        return 0;
    }
    RG_FUZZ_CHECK(scratch != NULL);
    for (size_t i = 0; i < nvalues; i++) {
        if (v[i].is_null || !is_text(v[i].type))
            continue;
        RG_FUZZ_CHECK(v[i].u.str.ptr && v[i].u.str.ptr[v[i].u.str.len] == '\0');
    }
    /* A cursor that decodes for one digest decodes for no other. */
    uint8_t other[16];
    memcpy(other, rg_fuzz_digest, 16);
    other[15] ^= 1;
    rg_value w[RG_CURSOR_MAX_VALUES];
    char *scratch2 = NULL;
    RG_FUZZ_CHECK(rg_cursor_decode(kr, cursor, other, w, nvalues, &scratch2) == -1);

    char *again = NULL;
    RG_FUZZ_CHECK(rg_cursor_encode(kr, rg_fuzz_digest, v, nvalues, &again) == 0 && again);
    RG_FUZZ_CHECK(rg_cursor_decode(kr, again, rg_fuzz_digest, w, nvalues, &scratch2) == 0);
    RG_FUZZ_CHECK(same_values(v, w, nvalues));
    /* Under the primary key the encoding is canonical: same text. */
    uint8_t raw[RAW_CAP];
    size_t n = 0;
    const char *kid = rg_keyring_primary(kr)->kid;
    if (rg_b64_decode(cursor, strlen(cursor), true, raw, sizeof raw, &n) == 0 && n > 2 &&
        raw[1] == strlen(kid) && n - 2 >= raw[1] && memcmp(raw + 2, kid, raw[1]) == 0)
        RG_FUZZ_CHECK(strcmp(again, cursor) == 0);
    free(scratch2);
    free(again);
    free(scratch);
    free(cursor);
    return 0;
}
