/* What binds a cursor to its query: the query digest, and the cursor's
   sort-key values in and out of the plan. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cursor.h"
#include "crypto/hmac.h"
#include "query/plan_internal.h"
#include "query/rowjson.h"

/* ---- query digest ---------------------------------------------------------------- */

/* The SHA-256 of the canonical query (plan_canon.c), so requests that
   differ only in layout share cursors as they share cached answers. */
int rg_plan_digest(const char *site_id, const rg_collection *c, const rg_filter *filters,
                   size_t nfilters, const char *const *words, size_t nwords,
                   const rg_sort_key *sort, size_t nsort, uint8_t out[16])
{
    rg_canon b = {.ok = 1};
    uint8_t md[32];
    int rc = rg_plan_canon_query(&b, site_id, c, filters, nfilters, words, nwords, sort, nsort);
    rg_bytes all = {b.p, b.len};
    if (rc == 0 && rg_sha256(&all, 1, md) != 0)
        rc = -1;
    free(b.p);
    if (rc != 0)
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
        const rg_field *f = &c->fields[rg_sort_key_at(sort, i)->field];
        rg_value *v = &out[i];
        *v = vals[i];
        v->struct_size = sizeof *v;
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
        const rg_value *rv = rg_value_at(row, p->sort_column[i]);
        v[i] = (rg_value){
            .struct_size = sizeof(rg_value), .type = rv->type, .is_null = rv->is_null, .u = rv->u};
        /* A value of another type would make a cursor the next request refuses. */
        size_t field = rg_sort_key_at(q->sort, i)->field;
        if (!v[i].is_null && v[i].type != rg_field_at(q->collection->fields, field)->type)
            return -1;
    }
    return rg_cursor_encode(kr, p->query_digest, v, q->nsort, out);
}
