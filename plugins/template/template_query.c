/*
 * One query of the template adapter: the file is read line by line within
 * the budget, each line's needed fields become cells, filters, search and
 * the keyset position are evaluated in C, and the best `limit` rows are kept,
 * sorted and handed to the sink in plan->columns order.
 */
#include "template_adapter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

static int deadline_passed(const query_run *r)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > r->deadline.tv_sec ||
           (now.tv_sec == r->deadline.tv_sec && now.tv_nsec >= r->deadline.tv_nsec);
}

/* Sleep `us`, but never past the deadline. */
static void delay_within_deadline(const query_run *r, unsigned long us)
{
    struct timespec now, ts;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long left = (long long)(r->deadline.tv_sec - now.tv_sec) * 1000000 +
                     (r->deadline.tv_nsec - now.tv_nsec) / 1000;
    if (left <= 0)
        return;
    if ((long long)us > left)
        us = (unsigned long)left;
    ts.tv_sec = (time_t)(us / 1000000);
    ts.tv_nsec = (long)(us % 1000000) * 1000;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}

/*
 * The plan comes from the gateway, validated against the site file, so these
 * checks never fail there; they keep a bad caller (a test, a future ABI minor
 * with a new operator) from making the adapter read out of bounds.
 */
rg_status tpl_check_plan(const rg_query_plan *p, rg_error *err)
{
    const rg_collection_desc *coll = p->collection;
    size_t nf = coll->nfields;
    if (coll->key_field >= nf)
        return tpl_fail(err, RG_ERR_CONFIG, "collection key is not one of its fields");
    /* Arrays are read with the rg_*_at accessors, which step by the
       elements' own struct_size (readgate/adapter.h); an element smaller than
       the 2.0 layout would be read past its end. */
    if ((nf && coll->fields->struct_size < RG_FIELD_DESC_SIZE_2_0) ||
        (p->nfilters && p->filters->struct_size < RG_FILTER_SIZE_2_0) ||
        (p->nsort && p->sort->struct_size < RG_SORT_KEY_SIZE_2_0) ||
        (p->nsort && p->after && p->after->struct_size < RG_VALUE_SIZE_2_0))
        return tpl_fail(err, RG_ERR_CONFIG,
                        "the plan has elements smaller than their ABI 2.0 layout");
    for (size_t i = 0; i < p->nfilters; i++) {
        const rg_filter *f = rg_filter_at(p->filters, i);
        if (f->field >= nf || f->nvalues == 0 || !f->values ||
            f->values->struct_size < RG_VALUE_SIZE_2_0)
            return tpl_fail(err, RG_ERR_CONFIG, "filter %zu is malformed", i);
        if (f->op < RG_OP_EQ || f->op > RG_OP_CONTAINS)
            return tpl_fail(err, RG_ERR_CONFIG, "operator %d is not supported by the %s adapter",
                            (int)f->op, ADAPTER_NAME);
        if ((f->op == RG_OP_BETWEEN && f->nvalues != 2) ||
            ((f->op == RG_OP_PREFIX || f->op == RG_OP_CONTAINS) &&
             !tpl_is_text_type(rg_field_at(coll->fields, f->field)->type)))
            return tpl_fail(err, RG_ERR_CONFIG, "filter on '%s' is malformed",
                            rg_field_at(coll->fields, f->field)->name);
    }
    for (size_t i = 0; i < p->nsearch_fields; i++)
        if (p->search_fields[i] >= nf ||
            !tpl_is_text_type(rg_field_at(coll->fields, p->search_fields[i])->type))
            return tpl_fail(err, RG_ERR_CONFIG, "search field %zu is not a string field", i);
    for (size_t i = 0; i < p->nsearch_words; i++)
        if (!p->search_words[i])
            return tpl_fail(err, RG_ERR_CONFIG, "search word %zu is missing", i);
    for (size_t i = 0; i < p->nsort; i++)
        if (rg_sort_key_at(p->sort, i)->field >= nf)
            return tpl_fail(err, RG_ERR_CONFIG, "sort key %zu is not a field", i);
    for (size_t i = 0; i < p->ncolumns; i++)
        if (p->columns[i] >= nf)
            return tpl_fail(err, RG_ERR_CONFIG, "column %zu is not a field", i);
    return RG_OK;
}

rg_status tpl_run_init(query_run *r, const rg_query_plan *p, rg_error *err)
{
    memset(r, 0, sizeof r[0]);
    r->plan = p;
    r->fields = p->collection->fields;
    r->nfields = p->collection->nfields;

    /* The budget starts now and covers reading, sorting and handing rows over. */
    uint32_t budget = p->timeout_ms ? p->timeout_ms : DEFAULT_BUDGET_MS;
    clock_gettime(CLOCK_MONOTONIC, &r->deadline);
    r->deadline.tv_sec += budget / 1000;
    r->deadline.tv_nsec += (long)(budget % 1000) * 1000000L;
    if (r->deadline.tv_nsec >= 1000000000L) {
        r->deadline.tv_sec++;
        r->deadline.tv_nsec -= 1000000000L;
    }

    /* Keep at most about 2 * limit rows: sorting and cutting back to `limit`
       whenever that fills bounds memory on big files. */
    r->keep_max = p->limit <= SIZE_MAX / 4 ? 2 * p->limit + 16 : SIZE_MAX;

    size_t nvals = 0;
    for (size_t i = 0; i < p->nfilters; i++)
        nvals += rg_filter_at(p->filters, i)->nvalues;
    r->needed = calloc(r->nfields, 1);
    r->scratch = calloc(r->nfields, sizeof r->scratch[0]);
    r->fvals = calloc(nvals ? nvals : 1, sizeof r->fvals[0]);
    if (p->after)
        r->pos = calloc(r->nfields, sizeof r->pos[0]);
    if (!r->needed || !r->scratch || !r->fvals || (p->after && !r->pos))
        return tpl_fail(err, RG_ERR_INTERNAL, "out of memory");

    size_t k = 0;
    for (size_t i = 0; i < p->nfilters; i++) {
        const rg_filter *f = rg_filter_at(p->filters, i);
        r->needed[f->field] = 1;
        for (size_t j = 0; j < f->nvalues; j++, k++) {
            const rg_value *v = rg_value_at(f->values, j);
            if (v->is_null ||
                tpl_cell_from_value(v, rg_field_at(r->fields, f->field)->type, &r->fvals[k]) != 0)
                return tpl_fail(err, RG_ERR_CONFIG, "a value for '%s' does not have the field's type",
                                rg_field_at(r->fields, f->field)->name);
        }
    }
    for (size_t i = 0; i < p->nsearch_fields; i++)
        r->needed[p->search_fields[i]] = 1;
    for (size_t i = 0; i < p->ncolumns; i++)
        r->needed[p->columns[i]] = 1;
    for (size_t i = 0; i < p->nsort; i++) {
        size_t f = rg_sort_key_at(p->sort, i)->field;
        r->needed[f] = 1;
        rg_type t = rg_field_at(r->fields, f)->type;
        if (p->after && tpl_cell_from_value(rg_value_at(p->after, i), t, &r->pos[f]) != 0)
            return tpl_fail(err, RG_ERR_CONFIG, "the 'after' value for '%s' does not have its type",
                            rg_field_at(r->fields, f)->name);
    }
    return RG_OK;
}

void tpl_run_free(query_run *r)
{
    for (size_t i = 0; i < r->nrows; i++) {
        json_decref(r->rows[i].obj);
        free(r->rows[i].cells);
    }
    free(r->rows);
    free(r->needed);
    free(r->fvals);
    free(r->pos);
    free(r->scratch);
}

/* A row whose field is NULL matches no filter on it, `ne` included. */
static int filter_matches(const query_run *r, const rg_filter *f, const cell *vals,
                          const cell *row)
{
    const cell *x = &row[f->field];
    rg_type t = rg_field_at(r->fields, f->field)->type;
    if (x->v.is_null)
        return 0;
    switch (f->op) {
    case RG_OP_EQ: return tpl_cmp_cells(x, &vals[0], t) == 0;
    case RG_OP_NE: return tpl_cmp_cells(x, &vals[0], t) != 0;
    case RG_OP_LT: return tpl_cmp_cells(x, &vals[0], t) < 0;
    case RG_OP_LTE: return tpl_cmp_cells(x, &vals[0], t) <= 0;
    case RG_OP_GT: return tpl_cmp_cells(x, &vals[0], t) > 0;
    case RG_OP_GTE: return tpl_cmp_cells(x, &vals[0], t) >= 0;
    case RG_OP_BETWEEN: return tpl_cmp_cells(x, &vals[0], t) >= 0 && tpl_cmp_cells(x, &vals[1], t) <= 0;
    case RG_OP_IN:
        for (size_t i = 0; i < f->nvalues; i++)
            if (tpl_cmp_cells(x, &vals[i], t) == 0)
                return 1;
        return 0;
    case RG_OP_PREFIX:
        return tpl_starts_with_fold(x->v.u.str.ptr, x->v.u.str.len, vals[0].v.u.str.ptr,
                                    vals[0].v.u.str.len);
    case RG_OP_CONTAINS:
        return tpl_contains_fold(x->v.u.str.ptr, x->v.u.str.len, vals[0].v.u.str.ptr,
                                 vals[0].v.u.str.len);
    }
    return 0;
}

/* Every word occurs in at least one search field (NULLs never match). */
static int search_matches(const query_run *r, const cell *row)
{
    const rg_query_plan *p = r->plan;
    for (size_t w = 0; w < p->nsearch_words; w++) {
        const char *word = p->search_words[w];
        size_t wlen = strlen(word);
        int found = 0;
        for (size_t i = 0; i < p->nsearch_fields && !found; i++) {
            const cell *x = &row[p->search_fields[i]];
            found = !x->v.is_null && tpl_contains_fold(x->v.u.str.ptr, x->v.u.str.len, word, wlen);
        }
        if (!found)
            return 0;
    }
    return 1;
}

/* The plan's order: sort keys in turn, NULLs last ascending and first
   descending. The gateway always makes the unique key the last sort key, so
   two different rows never compare equal and paging is deterministic. */
static int cmp_order(const query_run *r, const cell *a, const cell *b)
{
    const rg_query_plan *p = r->plan;
    for (size_t k = 0; k < p->nsort; k++) {
        size_t f = rg_sort_key_at(p->sort, k)->field;
        const cell *x = &a[f], *y = &b[f];
        int c;
        if (x->v.is_null || y->v.is_null)
            c = x->v.is_null - y->v.is_null; /* a NULL comes after a value... */
        else
            c = tpl_cmp_cells(x, y, rg_field_at(r->fields, f)->type);
        if (c)
            return rg_sort_key_at(p->sort, k)->desc ? -c : c; /* ...and before it descending */
    }
    return 0;
}

static int cmp_kept(const void *a, const void *b)
{
    const kept_row *x = a, *y = b;
    return cmp_order(x->run, x->cells, y->cells);
}

/* Sort the kept rows and drop all but the first `limit`. */
void tpl_cut_to_limit(query_run *r)
{
    if (r->nrows > 1)
        qsort(r->rows, r->nrows, sizeof r->rows[0], cmp_kept);
    while (r->nrows > r->plan->limit) {
        r->nrows--;
        json_decref(r->rows[r->nrows].obj);
        free(r->rows[r->nrows].cells);
    }
}

/* Take ownership of `obj` and a copy of the scratch cells. */
static rg_status keep_row(query_run *r, json_t *obj, rg_error *err)
{
    if (r->nrows == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        kept_row *rows = realloc(r->rows, cap * sizeof rows[0]);
        if (!rows) {
            json_decref(obj);
            return tpl_fail(err, RG_ERR_INTERNAL, "out of memory");
        }
        r->rows = rows;
        r->cap = cap;
    }
    cell *cells = malloc(r->nfields * sizeof cells[0]);
    if (!cells) {
        json_decref(obj);
        return tpl_fail(err, RG_ERR_INTERNAL, "out of memory");
    }
    memcpy(cells, r->scratch, r->nfields * sizeof cells[0]);
    r->rows[r->nrows++] = (kept_row){obj, cells, r};
    if (r->nrows >= r->keep_max)
        tpl_cut_to_limit(r);
    return RG_OK;
}

/* Look at one line: keep it when it matches and lies after the position. */
static rg_status consider_line(query_run *r, const char *text, size_t len, size_t lineno,
                               rg_error *err)
{
    json_error_t jerr;
    json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj)
        /* jerr.text can quote the data, so only the place is reported. */
        return tpl_fail(err, RG_ERR_UPSTREAM, "line %zu, column %d: not valid JSON", lineno,
                        jerr.column);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return tpl_fail(err, RG_ERR_UPSTREAM, "line %zu is not a JSON object", lineno);
    }
    for (size_t i = 0; i < r->nfields; i++) {
        if (!r->needed[i])
            continue;
        rg_status st = tpl_read_cell(obj, rg_field_at(r->fields, i), lineno, &r->scratch[i], err);
        if (st != RG_OK) {
            json_decref(obj);
            return st;
        }
    }
    const rg_query_plan *p = r->plan;
    int match = 1;
    const cell *vals = r->fvals;
    for (size_t i = 0; i < p->nfilters && match; vals += rg_filter_at(p->filters, i)->nvalues, i++)
        match = filter_matches(r, rg_filter_at(p->filters, i), vals, r->scratch);
    match = match && search_matches(r, r->scratch);
    /* Keyset paging: only rows strictly after the previous page's last row. */
    match = match && (!r->pos || cmp_order(r, r->scratch, r->pos) > 0);
    if (!match) {
        json_decref(obj);
        return RG_OK;
    }
    return keep_row(r, obj, err);
}

static int blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

/* Read the whole file, checking the deadline on every line: this loop is
   where the time goes, so this is where a query must notice it is late. */
rg_status tpl_scan_file(query_run *r, const tpl_conn *c, rg_error *err)
{
    char ebuf[128];
    FILE *f = fopen(c->path, "r");
    if (!f)
        return tpl_fail(err, RG_ERR_UNAVAILABLE, "cannot open '%s': %s", c->path,
                        tpl_errno_text(errno, ebuf, sizeof ebuf));
    char *line = NULL;
    size_t linecap = 0, lineno = 0;
    rg_status st = RG_OK;
    for (;;) {
        if (deadline_passed(r)) {
            st = tpl_fail(err, RG_ERR_TIMEOUT, "query exceeded its time budget of %u ms after %zu lines",
                          r->plan->timeout_ms, lineno);
            break;
        }
        errno = 0;
        ssize_t n = getline(&line, &linecap, f);
        if (n < 0) {
            if (errno == ENOMEM)
                st = tpl_fail(err, RG_ERR_INTERNAL, "out of memory");
            else if (ferror(f))
                st = tpl_fail(err, RG_ERR_UNAVAILABLE, "cannot read '%s': %s", c->path,
                              tpl_errno_text(errno ? errno : EIO, ebuf, sizeof ebuf));
            break; /* otherwise the end of the file */
        }
        lineno++;
        if (!blank(line, (size_t)n) &&
            (st = consider_line(r, line, (size_t)n, lineno, err)) != RG_OK)
            break;
        if (c->line_delay_us)
            delay_within_deadline(r, c->line_delay_us);
    }
    free(line);
    fclose(f);
    return st;
}

/* Hand the first `limit` rows to the sink, values in plan->columns order. */
rg_status tpl_emit_rows(query_run *r, const rg_row_sink *sink, rg_error *err)
{
    const rg_query_plan *p = r->plan;
    rg_value *out = calloc(p->ncolumns ? p->ncolumns : 1, sizeof out[0]);
    if (!out)
        return tpl_fail(err, RG_ERR_INTERNAL, "out of memory");
    rg_status st = RG_OK;
    for (size_t i = 0; i < r->nrows && i < p->limit; i++) {
        for (size_t j = 0; j < p->ncolumns; j++) {
            const cell *x = &r->rows[i].cells[p->columns[j]];
            out[j] = x->v;
            /* Every value carries our sizeof: the gateway steps through the row
               by it (a cell may hold a copy of a plan value, with the
               gateway's struct_size). */
            out[j].struct_size = sizeof out[j];
            /* Datetimes go back in canonical UTC form, whatever the file held. */
            if (x->v.type == RG_TYPE_DATETIME && !x->v.is_null) {
                out[j].u.str.ptr = x->text;
                out[j].u.str.len = strlen(x->text);
            }
        }
        /* The values (and what they point to) only need to live for this call. */
        if (sink->row(sink->ctx, out, p->ncolumns) != 0) {
            st = tpl_fail(err, RG_ERR_ABORTED, "stopped by the gateway");
            break;
        }
    }
    free(out);
    return st;
}
