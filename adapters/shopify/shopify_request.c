/*
 * The shopify adapter's request: which members a plan reads, the GraphQL
 * document made of fixed text, and the search string that asks Shopify for a
 * superset of the answer, every value quoted by Shopify's search syntax.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shopify_internal.h"

void rg_sp_selection_free(selection *s)
{
    free(s->def);
    free(s->mf);
}

rg_status rg_sp_plan_selection(const sp_api *api, const rg_query_plan *p, const rg_mf_plan *mp,
                               selection *s, rg_error *err)
{
    const rg_collection_desc *coll = p->collection;
    memset(s, 0, sizeof *s);
    s->api = api;
    s->def = calloc(coll->nfields ? coll->nfields : 1, sizeof *s->def);
    s->mf = calloc(coll->nfields ? coll->nfields : 1, sizeof *s->mf);
    if (!s->def || !s->mf)
        return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    for (size_t f = 0; f < coll->nfields; f++) {
        s->mf[f] = -1;
        if (!mp->needed[f] && f != coll->key_field)
            continue;
        const rg_field_desc *fd = rg_field_at(coll->fields, f);
        const char *col = fd->column ? fd->column : fd->name, *dot = NULL;
        const col_def *d = rg_sp_find_column(api, col, &dot);
        if (!d) {
            /* A column of the other API is named as such: the likely slip. */
            int admin = api == &rg_sp_admin_api;
            const sp_api *other = admin ? &rg_sp_storefront_api : &rg_sp_admin_api;
            int theirs = rg_sp_find_column(other, col, &dot) != NULL;
            return rg_saas_fail(err, RG_ERR_CONFIG,
                                "field '%s': Shopify column '%s' is not supported%s%s; use %s",
                                fd->name, col, admin ? "" : " by the Storefront API",
                                !theirs ? ""
                                : admin ? " (a Storefront API column)"
                                        : " (an Admin API column)",
                                api->columns_hint);
        }
        s->def[f] = d;
        if (d->kind == COL_METAFIELD)
            s->mf[f] = (int)s->nmf++;
        s->price_min |= d->kind == COL_PRICE_MIN;
        s->price_max |= d->kind == COL_PRICE_MAX;
    }
    /* Shopify's calculated cost: an object costs 1, a scalar 0. */
    s->node_cost = 1 + (double)s->nmf + (s->price_min || s->price_max) + s->price_min + s->price_max;
    return RG_OK;
}

/* The GraphQL document: fixed text plus the selected members. */
rg_status rg_sp_build_document(const rg_query_plan *p, const selection *s, rg_sbuf *d,
                               rg_error *err)
{
    const rg_collection_desc *coll = p->collection;
    char num[32];
    rg_sbuf_puts(d, "query ReadgateProducts($first: Int!, $after: String, $query: String, "
                    "$sortKey: ProductSortKeys, $reverse: Boolean");
    for (size_t i = 0; i < s->nmf; i++) {
        snprintf(num, sizeof num, "%zu", i);
        rg_sbuf_puts(d, ", $mfns");
        rg_sbuf_puts(d, num);
        rg_sbuf_puts(d, ": String!, $mfkey");
        rg_sbuf_puts(d, num);
        rg_sbuf_puts(d, ": String!");
    }
    rg_sbuf_puts(d, ") { products(first: $first, after: $after, query: $query, sortKey: $sortKey, "
                    "reverse: $reverse) { pageInfo { hasNextPage endCursor } nodes {");
    /* Each scalar column once, whatever number of fields read it. */
    const col_def *cols = s->api->columns;
    for (size_t i = 0; i < s->api->ncolumns; i++) {
        if (cols[i].kind != COL_SCALAR && cols[i].kind != COL_ID)
            continue;
        for (size_t f = 0; f < coll->nfields; f++)
            if (s->def[f] == &cols[i]) {
                rg_sbuf_puts(d, " ");
                rg_sbuf_puts(d, cols[i].column);
                break;
            }
    }
    if (s->price_min || s->price_max) {
        rg_sbuf_puts(d, " ");
        rg_sbuf_puts(d, s->api->price_range);
        rg_sbuf_puts(d, " {");
        if (s->price_min)
            rg_sbuf_puts(d, " minVariantPrice { amount }");
        if (s->price_max)
            rg_sbuf_puts(d, " maxVariantPrice { amount }");
        rg_sbuf_puts(d, " }");
    }
    for (size_t i = 0; i < s->nmf; i++) {
        snprintf(num, sizeof num, "%zu", i);
        rg_sbuf_puts(d, " mf");
        rg_sbuf_puts(d, num);
        rg_sbuf_puts(d, ": metafield(namespace: $mfns");
        rg_sbuf_puts(d, num);
        rg_sbuf_puts(d, ", key: $mfkey");
        rg_sbuf_puts(d, num);
        rg_sbuf_puts(d, ") { value }");
    }
    rg_sbuf_puts(d, " } } }");
    if (d->oom)
        return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    return RG_OK;
}

/* ---- the search string -------------------------------------------------------------------------- */

/* field:"value" with \ and " escaped; control characters refused. */
static rg_status put_quoted(rg_sbuf *b, const char *s, size_t len, rg_error *err)
{
    rg_sbuf_puts(b, "\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            return rg_saas_fail(err, RG_ERR_CONFIG,
                                "a value holds a control character, which Shopify's search syntax "
                                "cannot carry");
        if (ch == '\\' || ch == '"')
            rg_sbuf_append(b, "\\", 1);
        rg_sbuf_append(b, s + i, 1);
    }
    rg_sbuf_puts(b, "\"");
    return RG_OK;
}

/* Shopify tokenises text; a value made only of punctuation may match nothing
   there, so it is left to the in-memory filter. */
static int has_word_char(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x80 || (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'))
            return 1;
    }
    return 0;
}

static void put_term_sep(rg_sbuf *b, size_t *nterms)
{
    if ((*nterms)++)
        rg_sbuf_puts(b, " AND ");
}

static rg_status put_filter(rg_sbuf *b, const col_def *d, const rg_field_desc *fd,
                            const rg_filter *flt, size_t *nterms, rg_error *err)
{
    static const char *cmp[] = {[RG_OP_EQ] = ":",  [RG_OP_LT] = ":<", [RG_OP_LTE] = ":<=",
                                [RG_OP_GT] = ":>", [RG_OP_GTE] = ":>="};
    const rg_value *v = flt->values;
    if (!d || !d->search)
        return RG_OK;
    rg_status st = RG_OK;
    int text = (d->search_kind == 't' || d->search_kind == 'l') &&
               (fd->type == RG_TYPE_STRING || fd->type == RG_TYPE_ENUM);
    int boolean = d->search_kind == 'b' && fd->type == RG_TYPE_BOOLEAN;
    if (text || boolean) {
        if (flt->op != RG_OP_EQ && flt->op != RG_OP_IN)
            return RG_OK;
        /* A list field would split a value at its commas and match its
           parts alone, which need not be a superset: left to memory. */
        for (size_t i = 0; text && i < flt->nvalues; i++) {
            const rg_value *vi = rg_value_at(v, i);
            if (!has_word_char(vi->u.str.ptr, vi->u.str.len) ||
                (d->search_kind == 'l' && memchr(vi->u.str.ptr, ',', vi->u.str.len)))
                return RG_OK;
        }
        put_term_sep(b, nterms);
        if (flt->nvalues > 1)
            rg_sbuf_puts(b, "(");
        for (size_t i = 0; i < flt->nvalues && st == RG_OK; i++) {
            if (i)
                rg_sbuf_puts(b, " OR ");
            rg_sbuf_puts(b, d->search);
            rg_sbuf_puts(b, ":");
            if (text)
                st = put_quoted(b, rg_value_at(v, i)->u.str.ptr, rg_value_at(v, i)->u.str.len, err);
            else
                rg_sbuf_puts(b, rg_value_at(v, i)->u.b ? "true" : "false");
        }
        if (flt->nvalues > 1)
            rg_sbuf_puts(b, ")");
        return st;
    }
    if (d->search_kind == 'n' && (fd->type == RG_TYPE_INTEGER || fd->type == RG_TYPE_NUMBER)) {
        switch (flt->op) {
        case RG_OP_EQ:
        case RG_OP_LT:
        case RG_OP_LTE:
        case RG_OP_GT:
        case RG_OP_GTE:
            put_term_sep(b, nterms);
            rg_sbuf_puts(b, d->search);
            rg_sbuf_puts(b, cmp[flt->op]);
            rg_sbuf_put_number(b, rg_value_at(v, 0));
            return RG_OK;
        case RG_OP_BETWEEN:
            put_term_sep(b, nterms);
            rg_sbuf_puts(b, d->search);
            rg_sbuf_puts(b, ":>=");
            rg_sbuf_put_number(b, rg_value_at(v, 0));
            put_term_sep(b, nterms);
            rg_sbuf_puts(b, d->search);
            rg_sbuf_puts(b, ":<=");
            rg_sbuf_put_number(b, rg_value_at(v, 1));
            return RG_OK;
        case RG_OP_IN:
            put_term_sep(b, nterms);
            rg_sbuf_puts(b, "(");
            for (size_t i = 0; i < flt->nvalues; i++) {
                if (i)
                    rg_sbuf_puts(b, " OR ");
                rg_sbuf_puts(b, d->search);
                rg_sbuf_puts(b, ":");
                rg_sbuf_put_number(b, rg_value_at(v, i));
            }
            rg_sbuf_puts(b, ")");
            return RG_OK;
        default:
            return RG_OK;
        }
    }
    if (d->search_kind == 'd' && (fd->type == RG_TYPE_DATE || fd->type == RG_TYPE_DATETIME)) {
        /* One day wider than the value: a superset whatever time zone
           Shopify reads a date in. */
        const rg_value *lo, *hi;
        rg_mf_bounds(flt, &lo, &hi);
        char los[16], his[16];
        if ((lo && rg_mf_day_bound(lo, -1, los, sizeof los) != 0) ||
            (hi && rg_mf_day_bound(hi, 1, his, sizeof his) != 0))
            return RG_OK;
        if (lo) {
            put_term_sep(b, nterms);
            rg_sbuf_puts(b, d->search);
            rg_sbuf_puts(b, ":>=");
            rg_sbuf_puts(b, los);
        }
        if (hi) {
            put_term_sep(b, nterms);
            rg_sbuf_puts(b, d->search);
            rg_sbuf_puts(b, ":<=");
            rg_sbuf_puts(b, his);
        }
    }
    return RG_OK;
}

/* Ordered by a numeric id column alone (the GID read as its number, or
   legacyResourceId): Shopify's sortKey ID is our order. */
int rg_sp_key_order(const rg_query_plan *p, const selection *s)
{
    const rg_collection_desc *coll = p->collection;
    size_t k = coll->key_field;
    const col_def *d = s->def[k];
    return p->nsort == 1 && rg_sort_key_at(p->sort, 0)->field == k &&
           rg_field_at(coll->fields, k)->type == RG_TYPE_INTEGER &&
           d && (d->kind == COL_ID || (d->search && !strcmp(d->search, "id")));
}

rg_status rg_sp_build_search(const rg_query_plan *p, const selection *s, rg_sbuf *b,
                             rg_error *err)
{
    const rg_collection_desc *coll = p->collection;
    size_t nterms = 0;
    rg_status st = RG_OK;
    for (size_t i = 0; i < p->nfilters && st == RG_OK; i++) {
        const rg_filter *f = rg_filter_at(p->filters, i);
        st = put_filter(b, s->def[f->field], rg_field_at(coll->fields, f->field), f, &nterms, err);
    }
    /* Where the API can search by id, the `after` position skips what came
       before; otherwise memfilter drops it (rg_mf_selected). */
    if (st == RG_OK && p->after && rg_sp_key_order(p, s) && s->def[coll->key_field]->search &&
        !rg_value_at(p->after, 0)->is_null) {
        put_term_sep(b, &nterms);
        rg_sbuf_puts(b, rg_sort_key_at(p->sort, 0)->desc ? "id:<" : "id:>");
        rg_sbuf_put_number(b, rg_value_at(p->after, 0));
    }
    if (st == RG_OK && b->oom)
        st = rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    return st;
}
