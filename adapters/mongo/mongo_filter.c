/*
 * The mongo adapter's conditions: filters with SQL's NULL semantics, search
 * words and the keyset position as $match terms, every value typed BSON and
 * every pattern a literal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mongo_internal.h"

/* A condition that no document satisfies ({_id: {$in: []}}), for plans that
   can match nothing. */
static void append_nothing(builder *b, bson_t *cond)
{
    bson_t op, arr;
    if (rg_mg_open_doc(b, cond, "_id", &op)) {
        if (rg_mg_open_array(b, &op, "$in", &arr))
            rg_mg_close_array(b, &op, &arr);
        rg_mg_close_doc(b, cond, &op);
    }
}

/* {column: {op: value}} */
static void append_op(builder *b, bson_t *cond, size_t field, const char *op, const rg_value *v)
{
    bson_t sub;
    if (rg_mg_open_doc(b, cond, rg_mg_column_of(rg_field_at(b->coll->fields, field)), &sub)) {
        rg_mg_append_value(b, &sub, op, v);
        rg_mg_close_doc(b, cond, &sub);
    }
}

/* {column: {op: date}} */
static void append_op_date(builder *b, bson_t *cond, size_t field, const char *op, int64_t ms)
{
    bson_t sub;
    if (rg_mg_open_doc(b, cond, rg_mg_column_of(rg_field_at(b->coll->fields, field)), &sub)) {
        rg_mg_check(b, bson_append_date_time(&sub, op, -1, ms));
        rg_mg_close_doc(b, cond, &sub);
    }
}

/* {column: null} (NULL or missing), or {column: {$ne: null}} (neither). */
static void append_is_null(builder *b, bson_t *cond, size_t field, int negate)
{
    bson_t sub;
    if (rg_mg_open_doc(b, cond, rg_mg_column_of(rg_field_at(b->coll->fields, field)), &sub)) {
        rg_mg_check(b, bson_append_null(&sub, negate ? "$ne" : "$eq", 3));
        rg_mg_close_doc(b, cond, &sub);
    }
}

/*
 * {column: {op: value}} for eq/ne/lt/lte/gt/gte into the (empty) document
 * `cond`. A datetime finer than a millisecond cannot equal any BSON date, so
 * its comparisons are rewritten on whole milliseconds: x >= 1.5 is x > 1,
 * x < 1.5 is x <= 1, x = 1.5 is nothing, x <> 1.5 is any non-NULL value.
 */
static void append_cmp(builder *b, bson_t *cond, size_t field, rg_op op, const rg_value *v)
{
    static const char *const ops[] = {
        [RG_OP_EQ] = "$eq", [RG_OP_NE] = "$ne", [RG_OP_LT] = "$lt",
        [RG_OP_LTE] = "$lte", [RG_OP_GT] = "$gt", [RG_OP_GTE] = "$gte",
    };
    if (b->st != RG_OK)
        return;
    if (op < RG_OP_EQ || op > RG_OP_GTE) {
        rg_mg_fail(b, RG_ERR_CONFIG, "unsupported comparison");
        return;
    }
    if (v->type == RG_TYPE_DATETIME && !v->is_null) {
        int64_t ms;
        int sub;
        if (rg_mg_parse_datetime(v->u.str.ptr, v->u.str.len, &ms, &sub) != 0) {
            rg_mg_fail(b, RG_ERR_CONFIG,
                       "datetime value is not in the form YYYY-MM-DDTHH:MM:SS[.f]Z");
            return;
        }
        if (sub) {
            switch (op) {
            case RG_OP_EQ: append_nothing(b, cond); break;
            case RG_OP_NE: append_is_null(b, cond, field, 1); break;
            case RG_OP_GT: case RG_OP_GTE: append_op_date(b, cond, field, "$gt", ms); break;
            default: append_op_date(b, cond, field, "$lte", ms); break; /* LT, LTE */
            }
            return;
        }
    }
    if (op == RG_OP_NE) {
        /* SQL semantics: NULL/missing never matches, `ne` included; plain
           $ne would match them. {column: {$nin: [value, null]}} */
        bson_t sub, arr;
        if (rg_mg_open_doc(b, cond, rg_mg_column_of(rg_field_at(b->coll->fields, field)), &sub)) {
            if (rg_mg_open_array(b, &sub, "$nin", &arr)) {
                rg_mg_append_value(b, &arr, "0", v);
                rg_mg_check(b, bson_append_null(&arr, "1", 1));
                rg_mg_close_array(b, &sub, &arr);
            }
            rg_mg_close_doc(b, cond, &sub);
        }
        return;
    }
    append_op(b, cond, field, ops[op], v);
}

/*
 * The pattern that matches `s` literally: every regex metacharacter escaped
 * with a backslash (literal in PCRE and in JavaScript regexes alike), and
 * space and control characters as \xHH so the pattern stays literal even
 * under an extended-syntax flag. Bytes >= 0x80 (UTF-8) are copied.
 */
static char *regex_literal(const char *s, size_t len, int anchored)
{
    if (len > (SIZE_MAX - 2) / 4)
        return NULL;
    char *out = malloc(len * 4 + 2);
    if (!out)
        return NULL;
    size_t o = 0;
    if (anchored)
        out[o++] = '^';
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch == 0x7f) {
            static const char hex[] = "0123456789ABCDEF";
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        } else {
            if (strchr("\\^$.|?*+()[]{}-#", ch))
                out[o++] = '\\';
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
    return out;
}

/* {column: {$regex: pattern, $options: "i"}}: case-insensitive, so ASCII
   letters fold (other letters may fold too, depending on the server). */
static void append_regex(builder *b, bson_t *cond, size_t field, const char *s, size_t len,
                         int anchored)
{
    if (b->st != RG_OK)
        return;
    char *pat = regex_literal(s, len, anchored);
    if (!pat) {
        rg_mg_fail(b, RG_ERR_INTERNAL, "out of memory");
        return;
    }
    bson_t sub;
    if (rg_mg_open_doc(b, cond, rg_mg_column_of(rg_field_at(b->coll->fields, field)), &sub)) {
        rg_mg_check(b, bson_append_utf8(&sub, "$regex", 6, pat, -1));
        rg_mg_check(b, bson_append_utf8(&sub, "$options", 8, "i", 1));
        rg_mg_close_doc(b, cond, &sub);
    }
    free(pat);
}

static int is_text_type(rg_type t)
{
    return t == RG_TYPE_STRING || t == RG_TYPE_ENUM || t == RG_TYPE_DATE || t == RG_TYPE_DATETIME;
}

void rg_mg_append_filter(builder *b, bson_t *cond, const rg_filter *f)
{
    if (!rg_mg_field_ok(b, f->field))
        return;
    size_t want = f->op == RG_OP_BETWEEN ? 2 : 1;
    if (!f->values || (f->op == RG_OP_IN ? f->nvalues == 0 : f->nvalues != want)) {
        rg_mg_fail(b, RG_ERR_CONFIG, "filter has the wrong number of values");
        return;
    }
    switch (f->op) {
    case RG_OP_EQ:
    case RG_OP_NE:
    case RG_OP_LT:
    case RG_OP_LTE:
    case RG_OP_GT:
    case RG_OP_GTE:
        append_cmp(b, cond, f->field, f->op, rg_value_at(f->values, 0));
        break;
    case RG_OP_BETWEEN: {
        /* Two conditions on one field: an $and keeps them apart. */
        bson_t and, c;
        if (rg_mg_open_array(b, cond, "$and", &and)) {
            if (rg_mg_open_doc(b, &and, "0", &c)) {
                append_cmp(b, &c, f->field, RG_OP_GTE, rg_value_at(f->values, 0));
                rg_mg_close_doc(b, &and, &c);
            }
            if (rg_mg_open_doc(b, &and, "1", &c)) {
                append_cmp(b, &c, f->field, RG_OP_LTE, rg_value_at(f->values, 1));
                rg_mg_close_doc(b, &and, &c);
            }
            rg_mg_close_array(b, cond, &and);
        }
        break;
    }
    case RG_OP_IN: {
        bson_t sub, arr;
        uint32_t n = 0;
        if (!rg_mg_open_doc(b, cond, rg_mg_column_of(rg_field_at(b->coll->fields, f->field)), &sub))
            break;
        if (rg_mg_open_array(b, &sub, "$in", &arr)) {
            for (size_t i = 0; i < f->nvalues && b->st == RG_OK; i++) {
                const rg_value *v = rg_value_at(f->values, i);
                if (v->type == RG_TYPE_DATETIME && !v->is_null) {
                    int64_t ms;
                    int subms;
                    if (rg_mg_parse_datetime(v->u.str.ptr, v->u.str.len, &ms, &subms) != 0) {
                        rg_mg_fail(b, RG_ERR_CONFIG,
                                   "datetime value is not in the form YYYY-MM-DDTHH:MM:SS[.f]Z");
                        break;
                    }
                    if (subms)
                        continue; /* equals no BSON date */
                }
                idx_key k;
                rg_mg_append_value(b, &arr, rg_mg_index_key(&k, n++), v);
            }
            rg_mg_close_array(b, &sub, &arr);
        }
        rg_mg_close_doc(b, cond, &sub);
        break;
    }
    case RG_OP_PREFIX:
    case RG_OP_CONTAINS: {
        const rg_value *v = rg_value_at(f->values, 0);
        if (v->is_null || !is_text_type(v->type) || !v->u.str.ptr) {
            rg_mg_fail(b, RG_ERR_CONFIG, "prefix/contains need a string value");
            return;
        }
        append_regex(b, cond, f->field, v->u.str.ptr, v->u.str.len, f->op == RG_OP_PREFIX);
        break;
    }
    default:
        rg_mg_fail(b, RG_ERR_CONFIG, "unsupported filter operator %d", (int)f->op);
        break;
    }
}

/* Every word must occur in at least one searchable field:
   {$or: [{field1: regex}, {field2: regex}, ...]} */
void rg_mg_append_search(builder *b, bson_t *cond, const char *word)
{
    if (!word) {
        rg_mg_fail(b, RG_ERR_CONFIG, "search word missing");
        return;
    }
    if (b->plan->nsearch_fields == 0 || !b->plan->search_fields) {
        append_nothing(b, cond);
        return;
    }
    bson_t or, alt;
    if (!rg_mg_open_array(b, cond, "$or", &or))
        return;
    for (size_t i = 0; i < b->plan->nsearch_fields && b->st == RG_OK; i++) {
        size_t field = b->plan->search_fields[i];
        idx_key k;
        if (rg_mg_field_ok(b, field) &&
            rg_mg_open_doc(b, &or, rg_mg_index_key(&k, (uint32_t)i), &alt)) {
            append_regex(b, &alt, field, word, strlen(word), 0);
            rg_mg_close_doc(b, &or, &alt);
        }
    }
    rg_mg_close_array(b, cond, &or);
}

/* Term j of keyset clause i (see rg_mg_append_after). */
static void append_after_term(builder *b, bson_t *term, size_t i, size_t j)
{
    const rg_sort_key *k = rg_sort_key_at(b->plan->sort, j);
    const rg_value *a = rg_value_at(b->plan->after, j);
    if (j < i) {
        /* an earlier key: equal to the position's value */
        if (a->is_null)
            append_is_null(b, term, k->field, 0);
        else
            append_cmp(b, term, k->field, RG_OP_EQ, a);
    } else if (!k->desc) {
        /* after a value ascending: greater values, then the NULLs */
        bson_t alts, alt;
        if (rg_mg_open_array(b, term, "$or", &alts)) {
            if (rg_mg_open_doc(b, &alts, "0", &alt)) {
                append_cmp(b, &alt, k->field, RG_OP_GT, a);
                rg_mg_close_doc(b, &alts, &alt);
            }
            if (rg_mg_open_doc(b, &alts, "1", &alt)) {
                append_is_null(b, &alt, k->field, 0);
                rg_mg_close_doc(b, &alts, &alt);
            }
            rg_mg_close_array(b, term, &alts);
        }
    } else if (a->is_null) {
        /* after a NULL descending: every value */
        append_is_null(b, term, k->field, 1);
    } else {
        append_cmp(b, term, k->field, RG_OP_LT, a);
    }
}

/*
 * Rows strictly after `after` in the plan's order (NULLs last ascending,
 * first descending), as $or over i of ($and of: keys before i equal, key i
 * after), the same shape as the SQL adapters' keyset condition.
 */
void rg_mg_append_after(builder *b, bson_t *cond)
{
    const rg_query_plan *p = b->plan;
    for (size_t i = 0; i < p->nsort; i++)
        if (!rg_mg_field_ok(b, rg_sort_key_at(p->sort, i)->field))
            return;
    bson_t or, clause, and, term;
    uint32_t nclauses = 0;
    if (!rg_mg_open_array(b, cond, "$or", &or))
        return;
    for (size_t i = 0; i < p->nsort && b->st == RG_OK; i++) {
        /* Ascending with NULLs last: nothing sorts after a NULL. */
        if (!rg_sort_key_at(p->sort, i)->desc && rg_value_at(p->after, i)->is_null)
            continue;
        idx_key k;
        if (!rg_mg_open_doc(b, &or, rg_mg_index_key(&k, nclauses++), &clause))
            break;
        if (rg_mg_open_array(b, &clause, "$and", &and)) {
            for (size_t j = 0; j <= i && b->st == RG_OK; j++) {
                idx_key tk;
                if (rg_mg_open_doc(b, &and, rg_mg_index_key(&tk, (uint32_t)j), &term)) {
                    append_after_term(b, &term, i, j);
                    rg_mg_close_doc(b, &and, &term);
                }
            }
            rg_mg_close_array(b, &clause, &and);
        }
        rg_mg_close_doc(b, &or, &clause);
    }
    if (nclauses == 0 && rg_mg_open_doc(b, &or, "0", &clause)) {
        /* Every position was the last of its NULLs: nothing follows. */
        append_nothing(b, &clause);
        rg_mg_close_doc(b, &or, &clause);
    }
    rg_mg_close_array(b, cond, &or);
}
