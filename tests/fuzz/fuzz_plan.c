/*
 * Request body -> query plan (core/query/plan*.c), the one gate between an
 * HTTP body and an adapter. The body is the fuzz input, unterminated, so an
 * over-read past it is caught. Besides "no crash, no leak", a plan that is
 * accepted must satisfy everything an adapter relies on, and the cursor made
 * for its last row must be accepted by the same query (and carry the values).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "query/plan.h"
#include "query/rowjson.h"
#include "query_fixture.h"

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

/* What an adapter may assume about every value of a filter. */
static void check_value(const rg_field *f, const rg_value *v)
{
    RG_FUZZ_CHECK(!v->is_null);
    RG_FUZZ_CHECK(v->type == f->type);
    if (!is_text(v->type))
        return;
    RG_FUZZ_CHECK(v->u.str.ptr != NULL);
    RG_FUZZ_CHECK(v->u.str.len <= fx_limits.max_string_bytes);
    RG_FUZZ_CHECK(v->u.str.ptr[v->u.str.len] == '\0');
    RG_FUZZ_CHECK(rg_utf8_valid(v->u.str.ptr, v->u.str.len));
    for (size_t i = 0; i < v->u.str.len; i++) {
        unsigned char c = (unsigned char)v->u.str.ptr[i];
        RG_FUZZ_CHECK(c >= 0x20 && c != 0x7f);
    }
}

static void check_plan(const rg_request_plan *rp)
{
    const rg_query_plan *p = &rp->plan;
    const rg_collection *c = rp->collection;
    RG_FUZZ_CHECK(c != NULL && p->collection == &c->desc);
    RG_FUZZ_CHECK(rp->client_limit >= 1 && rp->client_limit <= c->limit_max);
    RG_FUZZ_CHECK(p->limit == rp->client_limit + 1);
    RG_FUZZ_CHECK(p->nfilters <= fx_limits.max_filters);
    for (size_t i = 0; i < p->nfilters; i++) {
        const rg_filter *flt = &p->filters[i];
        RG_FUZZ_CHECK(flt->field < c->nfields);
        const rg_field *f = &c->fields[flt->field];
        RG_FUZZ_CHECK(f->ops & RG_OP_MASK(flt->op));
        if (flt->op == RG_OP_BETWEEN)
            RG_FUZZ_CHECK(flt->nvalues == 2);
        else if (flt->op == RG_OP_IN)
            RG_FUZZ_CHECK(flt->nvalues >= 1 && flt->nvalues <= fx_limits.max_in_values);
        else
            RG_FUZZ_CHECK(flt->nvalues == 1);
        for (size_t k = 0; k < flt->nvalues; k++)
            check_value(f, &flt->values[k]);
    }
    for (size_t i = 0; i < p->nsearch_words; i++) {
        const char *w = p->search_words[i];
        RG_FUZZ_CHECK(w && *w && rg_utf8_valid(w, strlen(w)));
    }
    RG_FUZZ_CHECK(p->nsearch_words == 0 || p->nsearch_fields > 0);
    for (size_t i = 0; i < p->nsearch_fields; i++)
        RG_FUZZ_CHECK(c->fields[p->search_fields[i]].searchable);
    /* Sort: sortable fields, the key last or earlier, so paging is total. */
    RG_FUZZ_CHECK(p->nsort >= 1 && p->nsort <= fx_limits.max_sort + 1);
    bool has_key = false;
    for (size_t i = 0; i < p->nsort; i++) {
        RG_FUZZ_CHECK(p->sort[i].field < c->nfields);
        RG_FUZZ_CHECK(c->fields[p->sort[i].field].sortable);
        has_key |= p->sort[i].field == c->key_index;
        RG_FUZZ_CHECK(rp->sort_column[i] < p->ncolumns);
        RG_FUZZ_CHECK(p->columns[rp->sort_column[i]] == p->sort[i].field);
    }
    RG_FUZZ_CHECK(has_key);
    /* Columns: visible ones are display fields; hidden ones are sort fields. */
    RG_FUZZ_CHECK(p->ncolumns >= 1);
    for (size_t i = 0; i < p->ncolumns; i++) {
        RG_FUZZ_CHECK(p->columns[i] < c->nfields);
        const rg_field *f = &c->fields[p->columns[i]];
        if (rp->column_visible[i])
            RG_FUZZ_CHECK(f->display);
        else
            RG_FUZZ_CHECK(f->sortable);
    }
}

/* A value of the field's type for the synthetic last row; some are null. */
static rg_value row_value(const rg_field *f, bool null)
{
    rg_value v;
    memset(&v, 0, sizeof v);
    v.struct_size = sizeof v; /* a row's values are stepped through by it */
    v.type = f->type;
    if (null) {
        v.is_null = 1;
        return v;
    }
    switch (f->type) {
    case RG_TYPE_INTEGER: v.u.i = -42; break;
    case RG_TYPE_NUMBER: v.u.n = 19.99; break;
    case RG_TYPE_BOOLEAN: v.u.b = 1; break;
    case RG_TYPE_ENUM: v.u.str.ptr = f->enum_values[f->nenum - 1]; break;
    case RG_TYPE_DATE: v.u.str.ptr = "2024-02-29"; break;
    case RG_TYPE_DATETIME: v.u.str.ptr = "2024-05-01T12:00:00.5Z"; break;
    case RG_TYPE_STRING: v.u.str.ptr = "Gr\xc3\xbc\xc3\x9f" "e 100% 'x'"; break;
    }
    if (is_text(f->type))
        v.u.str.len = strlen(v.u.str.ptr);
    return v;
}

/* The cursor for a last row must be accepted by the same query, and only
   by a query with the same digest. */
static void check_cursor_round_trip(const rg_request_plan *rp, const uint8_t *data, size_t size)
{
    const rg_query_plan *p = &rp->plan;
    rg_value row[64];
    if (p->ncolumns > sizeof row / sizeof row[0])
        return;
    for (size_t i = 0; i < p->ncolumns; i++) {
        const rg_field *f = &rp->collection->fields[p->columns[i]];
        /* Keys are never null; other columns are null depending on the input. */
        bool null = p->columns[i] != rp->collection->key_index && ((size >> (i % 8)) & 1);
        row[i] = row_value(f, null);
    }
    char *cursor = NULL;
    RG_FUZZ_CHECK(rg_plan_next_cursor(rp, kr, row, &cursor) == 0 && cursor);

    json_error_t je;
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    RG_FUZZ_CHECK(doc != NULL); /* the plan was built from it */
    json_t *jc = json_string(cursor);
    RG_FUZZ_CHECK(jc && json_object_set_new(doc, "cursor", jc) == 0);
    char *body2 = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    RG_FUZZ_CHECK(body2 != NULL);

    rg_request_plan rp2;
    rg_api_error err;
    int rc = rg_plan_build(&fx_site, &fx_limits, kr, body2, strlen(body2), &rp2, &err);
    if (rc != 0)
        fprintf(stderr, "cursor refused: %s %s: %s\nbody: %s\n", err.code, err.field, err.message,
                body2);
    RG_FUZZ_CHECK(rc == 0);
    RG_FUZZ_CHECK(memcmp(rp2.query_digest, rp->query_digest, 16) == 0);
    RG_FUZZ_CHECK(rp2.plan.after != NULL && rp2.plan.nsort == p->nsort);
    for (size_t i = 0; i < p->nsort; i++) {
        const rg_value *a = &rp2.plan.after[i], *w = &row[rp->sort_column[i]];
        RG_FUZZ_CHECK(a->is_null == w->is_null);
        if (a->is_null)
            continue;
        RG_FUZZ_CHECK(a->type == w->type);
        if (is_text(a->type))
            RG_FUZZ_CHECK(a->u.str.len == w->u.str.len &&
                          memcmp(a->u.str.ptr, w->u.str.ptr, a->u.str.len) == 0);
        else if (a->type == RG_TYPE_INTEGER)
            RG_FUZZ_CHECK(a->u.i == w->u.i);
        else if (a->type == RG_TYPE_NUMBER)
            RG_FUZZ_CHECK(a->u.n == w->u.n);
        else
            RG_FUZZ_CHECK(a->u.b == w->u.b);
    }
    rg_request_plan_free(&rp2);
    free(body2);
    free(cursor);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rg_request_plan rp;
    rg_api_error err;
    memset(&err, 0, sizeof err);
    int rc = rg_plan_build(&fx_site, &fx_limits, kr, (const char *)data, size, &rp, &err);
    if (rc != 0) {
        /* Every refusal is a 400 with a code, or a 500 for out of memory. */
        RG_FUZZ_CHECK(rc == -1 && err.code != NULL && err.message[0] != '\0');
        RG_FUZZ_CHECK(err.http_status == 400 || err.id == RG_E_INTERNAL);
        RG_FUZZ_CHECK(rp.arena == NULL);
        /* The error document is what the client gets: it must be valid JSON. */
        char *doc = rg_api_error_json(&err);
        RG_FUZZ_CHECK(doc != NULL);
        json_error_t je;
        json_t *j = json_loads(doc, 0, &je);
        RG_FUZZ_CHECK(j != NULL);
        json_decref(j);
        free(doc);
        return 0;
    }
    check_plan(&rp);
    check_cursor_round_trip(&rp, data, size);
    rg_request_plan_free(&rp);
    return 0;
}
