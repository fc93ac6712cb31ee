/*
 * The mongo adapter's query: run the pipeline within the plan's budget and
 * convert each document to a row of typed values for the sink.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mongo_internal.h"

/* ---- rows ------------------------------------------------------------------ */

static const char *type_name(rg_type t)
{
    switch (t) {
    case RG_TYPE_INTEGER: return "integer";
    case RG_TYPE_NUMBER: return "number";
    case RG_TYPE_BOOLEAN: return "boolean";
    case RG_TYPE_DATE: return "date ('YYYY-MM-DD' string)";
    case RG_TYPE_DATETIME: return "datetime (BSON date)";
    case RG_TYPE_ENUM: return "enum (string)";
    default: return "string";
    }
}

#define DT_SCRATCH 40

/* 2^63 as a double: the first value past int64's range. */
#define TWO_POW_63 9223372036854775808.0

/* The document's value for one column as a value of the field's type; -1
   when it holds something else. */
static int read_value(const bson_t *doc, const char *col, int dotted, rg_type type, rg_value *v,
                      char *dt, size_t dtsz)
{
    memset(v, 0, sizeof *v);
    v->struct_size = sizeof *v; /* the gateway steps through a row by it */
    v->type = type;
    bson_iter_t it, child;
    const bson_iter_t *at = NULL;
    if (dotted && strchr(col, '.')) {
        if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, col, &child))
            at = &child;
    } else if (bson_iter_init_find_w_len(&it, doc, col, -1)) {
        at = &it;
    }
    if (!at || BSON_ITER_HOLDS_NULL(at) || BSON_ITER_HOLDS_UNDEFINED(at)) {
        v->is_null = 1;
        return 0;
    }
    switch (type) {
    case RG_TYPE_INTEGER:
        if (BSON_ITER_HOLDS_INT32(at)) {
            v->u.i = bson_iter_int32(at);
        } else if (BSON_ITER_HOLDS_INT64(at)) {
            v->u.i = bson_iter_int64(at);
        } else if (BSON_ITER_HOLDS_DOUBLE(at)) {
            double d = bson_iter_double(at);
            /* an integral double in range, as the mongo shell stores numbers */
            if (!(d >= -TWO_POW_63 && d < TWO_POW_63) || d != (double)(int64_t)d)
                return -1;
            v->u.i = (int64_t)d;
        } else {
            return -1;
        }
        return 0;
    case RG_TYPE_NUMBER:
        if (BSON_ITER_HOLDS_DOUBLE(at))
            v->u.n = bson_iter_double(at);
        else if (BSON_ITER_HOLDS_INT32(at))
            v->u.n = bson_iter_int32(at);
        else if (BSON_ITER_HOLDS_INT64(at))
            v->u.n = (double)bson_iter_int64(at);
        else
            return -1;
        return 0;
    case RG_TYPE_BOOLEAN:
        if (!BSON_ITER_HOLDS_BOOL(at))
            return -1;
        v->u.b = bson_iter_bool(at) ? 1 : 0;
        return 0;
    case RG_TYPE_DATETIME: {
        if (!BSON_ITER_HOLDS_DATE_TIME(at))
            return -1;
        size_t n = rg_mg_format_datetime(bson_iter_date_time(at), dt, dtsz);
        if (!n)
            return -1;
        v->u.str.ptr = dt;
        v->u.str.len = n;
        return 0;
    }
    default: {
        if (!BSON_ITER_HOLDS_UTF8(at))
            return -1;
        uint32_t len;
        const char *s = bson_iter_utf8(at, &len);
        /* BSON strings are meant to be UTF-8, but not every writer checks. */
        if (!bson_utf8_validate(s, len, false))
            return -1;
        v->u.str.ptr = s;
        v->u.str.len = len;
        return 0;
    }
    }
}

static rg_status send_rows(mongo_conn *c, mongoc_cursor_t *cursor, const rg_query_plan *plan,
                           const rg_row_sink *sink, rg_error *err)
{
    rg_value *vals = calloc(plan->ncolumns, sizeof *vals);
    char *dt = malloc(plan->ncolumns * DT_SCRATCH);
    if (!vals || !dt) {
        free(vals);
        free(dt);
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
    }
    rg_status st = RG_OK;
    const bson_t *doc;
    while (st == RG_OK && mongoc_cursor_next(cursor, &doc)) {
        for (size_t i = 0; i < plan->ncolumns; i++) {
            const rg_field_desc *f = rg_field_at(plan->collection->fields, plan->columns[i]);
            const char *col = rg_mg_column_of(f);
            if (read_value(doc, col, c->allow_dotted, f->type, &vals[i], dt + i * DT_SCRATCH,
                           DT_SCRATCH) != 0) {
                st = rg_adapter_fail(err, RG_ERR_UPSTREAM,
                             "field '%s' holds a value that is not a %s as configured", col,
                             type_name(f->type));
                break;
            }
        }
        if (st == RG_OK && sink->row(sink->ctx, vals, plan->ncolumns) != 0)
            st = rg_adapter_fail(err, RG_ERR_ABORTED, "stopped by the gateway");
    }
    free(vals);
    free(dt);
    if (st == RG_OK) {
        bson_error_t e;
        const bson_t *reply = NULL;
        if (mongoc_cursor_error_document(cursor, &e, &reply))
            st = rg_mg_map_error(c, &e, reply, "query failed", 1, err);
    }
    return st;
}

/* Strings and enums are both BSON strings. */
static int same_value_type(rg_type a, rg_type b)
{
    return a == b || ((a == RG_TYPE_STRING || a == RG_TYPE_ENUM) &&
                      (b == RG_TYPE_STRING || b == RG_TYPE_ENUM));
}

/*
 * The gateway types every value as its field. A value of another type is a
 * malformed plan: refused, because MongoDB compares values of different BSON
 * types without complaint (an id equal to a string matches nothing, a string
 * after a number sorts after every number) and would answer it.
 */
static rg_status check_value_types(const rg_query_plan *plan, rg_error *err)
{
    const rg_collection_desc *coll = plan->collection;
    for (size_t i = 0; i < plan->nfilters; i++) {
        const rg_filter *f = rg_filter_at(plan->filters, i);
        if (f->field >= coll->nfields || !f->values)
            continue; /* the builder reports it */
        const rg_field_desc *fd = rg_field_at(coll->fields, f->field);
        for (size_t k = 0; k < f->nvalues; k++)
            if (!same_value_type(rg_value_at(f->values, k)->type, fd->type))
                return rg_adapter_fail(err, RG_ERR_CONFIG,
                                       "a value for '%s' does not have the field's type", fd->name);
    }
    for (size_t i = 0; plan->after && i < plan->nsort; i++) {
        size_t field = rg_sort_key_at(plan->sort, i)->field;
        if (field >= coll->nfields)
            continue;
        const rg_field_desc *fd = rg_field_at(coll->fields, field);
        if (!same_value_type(rg_value_at(plan->after, i)->type, fd->type))
            return rg_adapter_fail(err, RG_ERR_CONFIG,
                                   "the 'after' value for '%s' does not have its type", fd->name);
    }
    return RG_OK;
}

rg_status rg_mg_query(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
                      rg_error *err)
{
    mongo_conn *c = conn;
    if (!plan || plan->struct_size < sizeof(rg_query_plan) || !plan->collection ||
        plan->collection->struct_size < sizeof(rg_collection_desc))
        return rg_adapter_fail(err, RG_ERR_CONFIG, "query plan or collection description is malformed");
    if (plan->ncolumns == 0 || !plan->columns)
        return rg_adapter_fail(err, RG_ERR_CONFIG, "query plan selects no columns");
    if (plan->nsort && !plan->sort)
        return rg_adapter_fail(err, RG_ERR_CONFIG, "query plan sort keys missing");
    rg_status st = rg_mg_check_collection(c, plan->collection, err);
    if (st != RG_OK)
        return st;
    for (size_t i = 0; i < plan->ncolumns; i++)
        if (plan->columns[i] >= plan->collection->nfields)
            return rg_adapter_fail(err, RG_ERR_CONFIG, "plan refers to a field index out of range");
    st = check_value_types(plan, err);
    if (st != RG_OK)
        return st;
    if (plan->limit == 0)
        return RG_OK; /* $limit must be positive; nothing to read */

    builder b = {.plan = plan, .coll = plan->collection, .err = err, .st = RG_OK};
    bson_t pipeline = BSON_INITIALIZER;
    rg_mg_build_pipeline(&b, &pipeline);
    if (b.st != RG_OK) {
        bson_destroy(&pipeline);
        return b.st;
    }

    unsigned long budget = plan->timeout_ms;
    if (c->max_time_ms && (!budget || c->max_time_ms < budget))
        budget = c->max_time_ms;
    bson_t opts = BSON_INITIALIZER;
    bool ok = true;
    if (budget)
        ok = BSON_APPEND_INT64(&opts, "maxTimeMS", (int64_t)budget);
    /* One batch for the whole page: $limit bounds it already. */
    int64_t batch = plan->limit > 10000 ? 10000 : (int64_t)plan->limit;
    ok = ok && BSON_APPEND_INT64(&opts, "batchSize", batch);
    if (!ok) {
        bson_destroy(&opts);
        bson_destroy(&pipeline);
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "cannot build the command options");
    }

    /* Without a budget, the driver's default socket timeout (or the URI's). */
    st = rg_mg_make_client(
        c, budget ? rg_mg_socket_timeout_for(budget) : MONGOC_DEFAULT_SOCKETTIMEOUTMS, err);
    if (st != RG_OK) {
        bson_destroy(&opts);
        bson_destroy(&pipeline);
        return st;
    }
    mongoc_collection_t *coll = mongoc_client_get_collection(c->client, c->database,
                                                             plan->collection->target);
    rg_mg_start_deadline(c);
    mongoc_cursor_t *cursor = mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, &pipeline,
                                                          &opts, c->read_prefs);
    st = send_rows(c, cursor, plan, sink, err);
    /* Destroying a live cursor (sink stopped early) kills it on the server. */
    mongoc_cursor_destroy(cursor);
    c->deadline_us = 0;
    mongoc_collection_destroy(coll);
    bson_destroy(&opts);
    bson_destroy(&pipeline);
    if (st != RG_OK && st != RG_ERR_ABORTED)
        logf_(RG_LOG_DEBUG, "query on '%s' failed: %s", plan->collection->name, err->message);
    return st;
}
