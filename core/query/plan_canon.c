/*
 * The canonical form of a validated plan: bytes that are equal exactly when
 * two requests ask the same thing. The query digest (what a cursor is bound
 * to) hashes the query part, and the result cache keys on the whole, so both
 * agree on which requests are the same: a body shared from the cache carries
 * a cursor the other caller's next request accepts.
 *
 * What is canonical beyond the typed plan itself (JSON layout, key order,
 * defaults, 50 vs 50.0 and datetime time zones are already gone there):
 * filters are AND-ed, so their order and repeats don't matter; an `in` list
 * is a set; search words must each occur, so their order and repeats don't
 * matter either. Everything else (sort order, fields and their order, limit,
 * cursor position) changes the response and stays as given.
 *
 * Layout: length-prefixed fields and fixed-width big-endian integers, so no
 * two different plans serialise to the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "query/plan_internal.h"

static void put(rg_canon *b, const void *p, size_t n)
{
    if (!b->ok || n == 0)
        return;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) {
                b->ok = 0;
                return;
            }
            cap *= 2;
        }
        unsigned char *np = realloc(b->p, cap);
        if (!np) {
            b->ok = 0;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put_u64(rg_canon *b, uint64_t v)
{
    unsigned char x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (56 - 8 * i));
    put(b, x, 8);
}

static void put_str(rg_canon *b, const char *s, size_t n)
{
    put_u64(b, n);
    put(b, s, n);
}

/* A value; a NULL (cursor positions only) is type byte 0 with no payload. */
static void put_value(rg_canon *b, const rg_value *v)
{
    unsigned char t = v->is_null ? 0 : (unsigned char)v->type;
    put(b, &t, 1);
    if (v->is_null)
        return;
    switch (v->type) {
    case RG_TYPE_INTEGER: put_u64(b, (uint64_t)v->u.i); break;
    case RG_TYPE_NUMBER: {
        double d = v->u.n == 0 ? 0.0 : v->u.n; /* -0 and 0 are the same value */
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        put_u64(b, bits);
        break;
    }
    case RG_TYPE_BOOLEAN: put_u64(b, v->u.b ? 1 : 0); break;
    default: put_str(b, v->u.str.ptr, v->u.str.len); break;
    }
}

/* Parts sorted and deduplicated by their bytes: order-free lists. */
typedef struct part {
    const unsigned char *p;
    size_t len;
} part;

static int part_cmp(const void *a, const void *b)
{
    const part *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->p, y->p, n) : 0;
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Write the n parts of `scratch` (each one encoded back to back, with
   ends[i] its end offset) as a count and the distinct parts in order. */
static void put_set(rg_canon *b, const rg_canon *scratch, const size_t *ends, size_t n)
{
    if (!b->ok || !scratch->ok) {
        b->ok = 0;
        return;
    }
    part *parts = malloc((n ? n : 1) * sizeof *parts);
    if (!parts) {
        b->ok = 0;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        size_t start = i ? ends[i - 1] : 0;
        parts[i].p = scratch->p + start;
        parts[i].len = ends[i] - start;
    }
    qsort(parts, n, sizeof *parts, part_cmp);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || part_cmp(&parts[i - 1], &parts[i]) != 0)
            parts[distinct++] = parts[i];
    put_u64(b, distinct);
    for (size_t i = 0; i < distinct; i++)
        put_str(b, (const char *)parts[i].p, parts[i].len);
    free(parts);
}

static void put_filter(rg_canon *b, const rg_filter *f)
{
    put_u64(b, f->field);
    put_u64(b, (uint64_t)f->op);
    if (f->op != RG_OP_IN) {
        /* between is [lo, hi]: its order is meaning, not layout */
        put_u64(b, f->nvalues);
        for (size_t k = 0; k < f->nvalues; k++)
            put_value(b, rg_value_at(f->values, k));
        return;
    }
    rg_canon vals = {.ok = 1};
    size_t *ends = malloc((f->nvalues ? f->nvalues : 1) * sizeof *ends);
    if (!ends)
        vals.ok = 0;
    for (size_t k = 0; ends && k < f->nvalues; k++) {
        put_value(&vals, rg_value_at(f->values, k));
        ends[k] = vals.len;
    }
    put_set(b, &vals, ends, ends ? f->nvalues : 0);
    if (!ends)
        b->ok = 0;
    free(ends);
    free(vals.p);
}

int rg_plan_canon_query(rg_canon *b, const char *site_id, const rg_collection *c,
                        const rg_filter *filters, size_t nfilters, const char *const *words,
                        size_t nwords, const rg_sort_key *sort, size_t nsort)
{
    static const char tag[] = "readgate query v2";
    put_str(b, tag, sizeof tag - 1);
    put_str(b, site_id, strlen(site_id));
    put_str(b, c->name, strlen(c->name));

    rg_canon scratch = {.ok = 1};
    size_t n = nfilters > nwords ? nfilters : nwords;
    size_t *ends = malloc((n ? n : 1) * sizeof *ends);
    if (!ends)
        b->ok = 0;
    for (size_t i = 0; ends && i < nfilters; i++) {
        put_filter(&scratch, rg_filter_at(filters, i));
        ends[i] = scratch.len;
    }
    put_set(b, &scratch, ends, ends ? nfilters : 0);
    scratch.len = 0;
    for (size_t i = 0; ends && i < nwords; i++) {
        put(&scratch, words[i], strlen(words[i]));
        ends[i] = scratch.len;
    }
    put_set(b, &scratch, ends, ends ? nwords : 0);
    free(ends);
    free(scratch.p);

    put_u64(b, nsort);
    for (size_t i = 0; i < nsort; i++) {
        put_u64(b, rg_sort_key_at(sort, i)->field);
        put_u64(b, (uint64_t)rg_sort_key_at(sort, i)->desc);
    }
    return b->ok ? 0 : -1;
}

int rg_plan_canonical(const rg_request_plan *rp, const char *site_id, unsigned char **out,
                      size_t *len)
{
    const rg_query_plan *p = &rp->plan;
    rg_canon b = {.ok = 1};
    *out = NULL;
    *len = 0;
    rg_plan_canon_query(&b, site_id, rp->collection, p->filters, p->nfilters, p->search_words,
                        p->nsearch_words, p->sort, p->nsort);
    /* The response part: which columns are written, in which order, how
       many rows, from which position. */
    put_u64(&b, p->ncolumns);
    for (size_t i = 0; i < p->ncolumns; i++) {
        put_u64(&b, p->columns[i]);
        unsigned char vis = rp->column_visible[i] ? 1 : 0;
        put(&b, &vis, 1);
    }
    put_u64(&b, rp->client_limit);
    put_u64(&b, p->after ? 1 : 0);
    for (size_t i = 0; p->after && i < p->nsort; i++)
        put_value(&b, rg_value_at(p->after, i));
    if (!b.ok) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}
