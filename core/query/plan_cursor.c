/* What binds a cursor to its query: the query digest, and the cursor's
   sort-key values in and out of the plan. */
#include <math.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../crypto/cursor.h"
#include "plan_internal.h"
#include "rowjson.h"

/* ---- query digest ---------------------------------------------------------------- */

/* Length-prefixed fields with fixed-width integers: no two different
   queries serialise to the same bytes. */
typedef struct hasher {
    EVP_MD_CTX *md;
    int ok;
} hasher;

static void h_bytes(hasher *h, const void *p, size_t n)
{
    if (h->ok && n && EVP_DigestUpdate(h->md, p, n) != 1)
        h->ok = 0;
}

static void h_u64(hasher *h, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (56 - 8 * i));
    h_bytes(h, b, 8);
}

static void h_str(hasher *h, const char *s, size_t n)
{
    h_u64(h, n);
    h_bytes(h, s, n);
}

static void h_value(hasher *h, const rg_value *v)
{
    unsigned char t = (unsigned char)v->type;
    h_bytes(h, &t, 1);
    switch (v->type) {
    case RG_TYPE_INTEGER: h_u64(h, (uint64_t)v->u.i); break;
    case RG_TYPE_NUMBER: {
        double d = v->u.n == 0 ? 0.0 : v->u.n; /* -0 and 0 are the same filter */
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        h_u64(h, bits);
        break;
    }
    case RG_TYPE_BOOLEAN: h_u64(h, v->u.b ? 1 : 0); break;
    default: h_str(h, v->u.str.ptr, v->u.str.len); break;
    }
}

int rg_plan_digest(const char *site_id, const rg_collection *c, const rg_filter *filters,
                   size_t nfilters, const char *const *words, size_t nwords,
                   const rg_sort_key *sort, size_t nsort, uint8_t out[16])
{
    static const char tag[] = "readgate query v1";
    hasher h = {EVP_MD_CTX_new(), 1};
    if (!h.md || EVP_DigestInit_ex(h.md, EVP_sha256(), NULL) != 1)
        h.ok = 0;
    h_str(&h, tag, sizeof tag - 1);
    h_str(&h, site_id, strlen(site_id));
    h_str(&h, c->name, strlen(c->name));
    h_u64(&h, nfilters);
    for (size_t i = 0; i < nfilters; i++) {
        const rg_filter *f = &filters[i];
        h_u64(&h, f->field);
        h_u64(&h, (uint64_t)f->op);
        h_u64(&h, f->nvalues);
        for (size_t k = 0; k < f->nvalues; k++)
            h_value(&h, &f->values[k]);
    }
    h_u64(&h, nwords);
    for (size_t i = 0; i < nwords; i++)
        h_str(&h, words[i], strlen(words[i]));
    h_u64(&h, nsort);
    for (size_t i = 0; i < nsort; i++) {
        h_u64(&h, sort[i].field);
        h_u64(&h, (uint64_t)sort[i].desc);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (h.ok && (EVP_DigestFinal_ex(h.md, md, &mdlen) != 1 || mdlen < 16))
        h.ok = 0;
    EVP_MD_CTX_free(h.md);
    if (!h.ok)
        return -1;
    memcpy(out, md, 16);
    return 0;
}

/* ---- cursor values --------------------------------------------------------------- */

static bool is_text(rg_type t)
{
    return t == RG_TYPE_STRING || t == RG_TYPE_ENUM || t == RG_TYPE_DATE || t == RG_TYPE_DATETIME;
}

int rg_plan_decode_cursor(const rg_keyring *kr, const char *cursor, const uint8_t digest[16],
                          const rg_collection *c, const rg_sort_key *sort, size_t nsort,
                          rg_arena *arena, const rg_value **after)
{
    *after = NULL;
    if (!kr || nsort == 0 || nsort > RG_CURSOR_MAX_VALUES)
        return -1;
    rg_value vals[RG_CURSOR_MAX_VALUES];
    memset(vals, 0, sizeof vals);
    char *scratch = NULL;
    if (rg_cursor_decode(kr, cursor, digest, vals, nsort, &scratch) != 0) {
        free(scratch);
        return -1;
    }
    rg_value *out = rg_arena_alloc(arena, nsort * sizeof *out);
    int rc = out ? 0 : -2;
    /* The MAC proves we wrote it; the checks keep a value of the wrong type
       (say, after a config change) from reaching an adapter. */
    for (size_t i = 0; rc == 0 && i < nsort; i++) {
        const rg_field *f = &c->fields[sort[i].field];
        rg_value *v = &out[i];
        *v = vals[i];
        if (v->is_null) {
            v->type = f->type;
            continue;
        }
        if (v->type != f->type || (v->type == RG_TYPE_NUMBER && !isfinite(v->u.n)) ||
            (v->type == RG_TYPE_BOOLEAN && v->u.b != 0 && v->u.b != 1)) {
            rc = -1;
        } else if (is_text(v->type)) {
            const char *p = v->u.str.ptr ? v->u.str.ptr : "";
            if ((v->u.str.len && !v->u.str.ptr) || !rg_utf8_valid(p, v->u.str.len) ||
                memchr(p, 0, v->u.str.len)) {
                rc = -1;
            } else {
                /* Copied out of the scratch buffer, NUL-terminated for adapters. */
                char *copy = rg_arena_strndup(arena, p, v->u.str.len);
                if (!copy)
                    rc = -2;
                v->u.str.ptr = copy;
            }
        }
    }
    free(scratch);
    if (rc == 0)
        *after = out;
    return rc;
}

int rg_plan_next_cursor(const rg_request_plan *p, const rg_keyring *kr, const rg_value *row,
                        char **out)
{
    const rg_query_plan *q = &p->plan;
    rg_value v[RG_CURSOR_MAX_VALUES];
    *out = NULL;
    if (!kr || q->nsort == 0 || q->nsort > RG_CURSOR_MAX_VALUES)
        return -1;
    for (size_t i = 0; i < q->nsort; i++) {
        v[i] = row[p->sort_column[i]];
        /* A value of another type would make a cursor the next request refuses. */
        if (!v[i].is_null && v[i].type != q->collection->fields[q->sort[i].field].type)
            return -1;
    }
    return rg_cursor_encode(kr, p->query_digest, v, q->nsort, out);
}
