/* Keyset cursors (layout in cursor.h). */
#include "cursor.h"

#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "hmac.h"

#define CURSOR_VERSION 0x01
#define CURSOR_STR_MAX 1024
#define MAC_LEN 16
#define HEADER_MAX (1 + 1 + RG_KID_MAX + 16 + 1)
#define RAW_MAX (HEADER_MAX + RG_CURSOR_MAX_VALUES * (1 + 2 + CURSOR_STR_MAX) + MAC_LEN)

static bool is_string_type(int t)
{
    return t == RG_TYPE_STRING || t == RG_TYPE_DATE || t == RG_TYPE_DATETIME || t == RG_TYPE_ENUM;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static int mac16(const rg_master_key *k, const uint8_t *raw, size_t n, uint8_t out[MAC_LEN])
{
    uint8_t full[32];
    rg_bytes part = {raw, n};
    if (rg_hmac_sha256(k->cursor_key, sizeof k->cursor_key, &part, 1, full) != 0)
        return -1;
    memcpy(out, full, MAC_LEN);
    return 0;
}

int rg_cursor_encode(const rg_keyring *kr, const uint8_t query_digest[16], const rg_value *values,
                     size_t nvalues, char **out)
{
    *out = NULL;
    if (!kr || kr->nkeys == 0 || !query_digest || (!values && nvalues) ||
        nvalues > RG_CURSOR_MAX_VALUES)
        return -1;
    const rg_master_key *k = rg_keyring_primary(kr);
    uint8_t raw[RAW_MAX];
    size_t n = rg_token_head(raw, CURSOR_VERSION, k->kid);
    memcpy(raw + n, query_digest, 16);
    n += 16;
    raw[n++] = (uint8_t)nvalues;
    for (size_t i = 0; i < nvalues; i++) {
        const rg_value *v = &values[i];
        if (v->is_null) {
            raw[n++] = 0;
            continue;
        }
        raw[n++] = (uint8_t)v->type;
        if (is_string_type(v->type)) {
            if (v->u.str.len > CURSOR_STR_MAX || (!v->u.str.ptr && v->u.str.len))
                return -1;
            raw[n++] = (uint8_t)(v->u.str.len >> 8);
            raw[n++] = (uint8_t)v->u.str.len;
            if (v->u.str.len)
                memcpy(raw + n, v->u.str.ptr, v->u.str.len);
            n += v->u.str.len;
        } else if (v->type == RG_TYPE_INTEGER) {
            put_u64(raw + n, (uint64_t)v->u.i);
            n += 8;
        } else if (v->type == RG_TYPE_NUMBER) {
            uint64_t bits;
            memcpy(&bits, &v->u.n, sizeof bits);
            put_u64(raw + n, bits);
            n += 8;
        } else if (v->type == RG_TYPE_BOOLEAN) {
            raw[n++] = v->u.b ? 1 : 0;
        } else {
            return -1;
        }
    }
    if (mac16(k, raw, n, raw + n) != 0)
        return -1;
    n += MAC_LEN;
    *out = rg_b64_encode(raw, n, true);
    return *out ? 0 : -1;
}

int rg_cursor_decode(const rg_keyring *kr, const char *cursor, const uint8_t query_digest[16],
                     rg_value *values, size_t nvalues, char **scratch)
{
    *scratch = NULL;
    if (!kr || !cursor || !query_digest || (!values && nvalues) || nvalues > RG_CURSOR_MAX_VALUES)
        return -1;
    size_t clen = strnlen(cursor, rg_b64_encoded_len(RAW_MAX, true) + 1);
    uint8_t raw[RAW_MAX];
    size_t n;
    if (clen > rg_b64_encoded_len(RAW_MAX, true) ||
        rg_b64_decode(cursor, clen, true, raw, sizeof raw, &n) != 0)
        return -1;

    size_t p = 0;
    if (n < 2 + MAC_LEN || raw[p++] != CURSOR_VERSION)
        return -1;
    size_t kid_len = raw[p++];
    size_t body = n - MAC_LEN;
    if (kid_len == 0 || kid_len > RG_KID_MAX || body - p < kid_len + 16 + 1)
        return -1;
    const rg_master_key *k = rg_keyring_find(kr, (const char *)raw + p, kid_len);
    if (!k)
        return -1;
    uint8_t want[MAC_LEN];
    if (mac16(k, raw, body, want) != 0 || CRYPTO_memcmp(want, raw + body, MAC_LEN) != 0)
        return -1;
    p += kid_len;
    if (CRYPTO_memcmp(raw + p, query_digest, 16) != 0)
        return -1;
    p += 16;
    if (raw[p++] != nvalues)
        return -1;

    /* Authenticated; still parse defensively, into tmp so that the caller's
       values are only written on success. */
    rg_value tmp[RG_CURSOR_MAX_VALUES];
    size_t str_total = 0;
    for (size_t i = 0; i < nvalues; i++) {
        rg_value *v = &tmp[i];
        memset(v, 0, sizeof *v);
        if (p >= body)
            return -1;
        int t = raw[p++];
        if (t == 0) {
            v->is_null = 1;
            continue;
        }
        v->type = (rg_type)t;
        if (is_string_type(t)) {
            if (body - p < 2)
                return -1;
            size_t len = (size_t)raw[p] << 8 | raw[p + 1];
            p += 2;
            if (len > CURSOR_STR_MAX || body - p < len)
                return -1;
            v->u.str.len = len;
            /* Offset into raw for now; becomes a pointer into scratch below. */
            v->u.str.ptr = (const char *)(uintptr_t)p;
            p += len;
            str_total += len + 1;
        } else if (t == RG_TYPE_INTEGER || t == RG_TYPE_NUMBER) {
            if (body - p < 8)
                return -1;
            uint64_t bits = get_u64(raw + p);
            p += 8;
            if (t == RG_TYPE_INTEGER)
                v->u.i = (int64_t)bits;
            else
                memcpy(&v->u.n, &bits, sizeof bits);
        } else if (t == RG_TYPE_BOOLEAN) {
            if (body - p < 1 || raw[p] > 1)
                return -1;
            v->u.b = raw[p++];
        } else {
            return -1;
        }
    }
    if (p != body)
        return -1;

    char *s = malloc(str_total ? str_total : 1);
    if (!s)
        return -1;
    size_t off = 0;
    for (size_t i = 0; i < nvalues; i++) {
        rg_value *v = &tmp[i];
        values[i] = *v;
        if (v->is_null || !is_string_type(v->type))
            continue;
        size_t at = (size_t)(uintptr_t)v->u.str.ptr;
        memcpy(s + off, raw + at, v->u.str.len);
        s[off + v->u.str.len] = '\0';
        values[i].u.str.ptr = s + off;
        off += v->u.str.len + 1;
    }
    *scratch = s;
    return 0;
}
