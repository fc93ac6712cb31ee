/*
 * The mysql adapter's rows: result columns bound as text (or DOUBLE for
 * floating-point columns), grown for long values, and read as typed values
 * for the sink.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mysql_internal.h"

/* ---- rows ----------------------------------------------------------------------- */

#define DT_SCRATCH 40
#define TEXT_INITIAL 128

typedef struct out_col {
    char *buf;       /* text columns: buffer_length is cap - 1, for the NUL */
    size_t cap;
    unsigned long len;
    my_bool is_null;
    my_bool error;
    double d;        /* number columns read as DOUBLE */
    int as_double;
    char dt[DT_SCRATCH];
} out_col;

static const char *type_name(rg_type t)
{
    switch (t) {
    case RG_TYPE_INTEGER: return "integer";
    case RG_TYPE_NUMBER: return "number";
    case RG_TYPE_BOOLEAN: return "boolean";
    case RG_TYPE_DATE: return "date";
    case RG_TYPE_DATETIME: return "datetime";
    default: return "string";
    }
}

static int grow_text(out_col *oc, MYSQL_BIND *b, size_t need)
{
    size_t cap = oc->cap ? oc->cap : TEXT_INITIAL;
    while (cap < need) {
        if (cap > ((size_t)-1) / 2)
            return -1;
        cap *= 2;
    }
    if (cap != oc->cap) {
        char *p = realloc(oc->buf, cap);
        if (!p)
            return -1;
        oc->buf = p;
        oc->cap = cap;
    }
    b->buffer = oc->buf;
    b->buffer_length = (unsigned long)(oc->cap - 1);
    return 0;
}

/*
 * Floating-point columns are read as DOUBLE (their text form could round);
 * everything else as text, parsed the way the postgres adapter parses its
 * text results, so both give the same values for the same data.
 */
static int read_column(out_col *oc, rg_type type, rg_value *v)
{
    memset(v, 0, sizeof *v);
    v->struct_size = sizeof *v; /* the gateway steps through a row by it */
    v->type = type;
    if (oc->is_null) {
        v->is_null = 1;
        return 0;
    }
    if (oc->as_double) {
        if (oc->error)
            return -1;
        if (type == RG_TYPE_NUMBER) {
            v->u.n = oc->d;
            return 0;
        }
        return -1;
    }
    const char *s = oc->buf;
    size_t len = oc->len;
    oc->buf[len] = '\0';
    switch (type) {
    case RG_TYPE_INTEGER:
    case RG_TYPE_NUMBER:
        return rg_sql_number_from_text(s, type, v);
    case RG_TYPE_BOOLEAN:
        /* BOOLEAN is TINYINT(1): "1"/"0"; BIT(1) arrives as one raw byte. */
        if ((len == 1 && (s[0] == '1' || s[0] == 1)) || !strcmp(s, "t") || !strcmp(s, "true"))
            v->u.b = 1;
        else if ((len == 1 && (s[0] == '0' || s[0] == 0)) || !strcmp(s, "f") ||
                 !strcmp(s, "false"))
            v->u.b = 0;
        else
            return -1;
        return 0;
    case RG_TYPE_DATE:
        /* a DATETIME column configured as a date keeps its day */
        if (len > 10 && s[10] == ' ')
            len = 10;
        break;
    case RG_TYPE_DATETIME: {
        size_t n = rg_sql_datetime_canon(s, len, oc->dt, sizeof oc->dt);
        if (n) {
            s = oc->dt;
            len = n;
        }
        break;
    }
    default:
        break;
    }
    v->u.str.ptr = s;
    v->u.str.len = len;
    return 0;
}

static rg_status bind_results(MYSQL_STMT *stmt, const rg_query_plan *plan, MYSQL_BIND *rb,
                              out_col *oc, rg_error *err)
{
    MYSQL_RES *meta = mysql_stmt_result_metadata(stmt);
    if (!meta)
        return mysql_stmt_errno(stmt)
                   ? rg_my_stmt_error(stmt, "cannot read the result's columns", err)
                   : rg_adapter_fail(err, RG_ERR_INTERNAL, "query returned no result set");
    rg_status st = RG_OK;
    unsigned nfields = mysql_num_fields(meta);
    MYSQL_FIELD *fields = mysql_fetch_fields(meta);
    if (nfields != plan->ncolumns || !fields) {
        st = rg_adapter_fail(err, RG_ERR_INTERNAL, "result has %u columns, expected %zu", nfields,
                     plan->ncolumns);
        goto out;
    }
    for (size_t i = 0; i < plan->ncolumns; i++) {
        const rg_field_desc *f = rg_field_at(plan->collection->fields, plan->columns[i]);
        MYSQL_BIND *b = &rb[i];
        memset(b, 0, sizeof *b);
        b->is_null = &oc[i].is_null;
        b->error = &oc[i].error;
        b->length = &oc[i].len;
        oc[i].as_double = f->type == RG_TYPE_NUMBER && (fields[i].type == MYSQL_TYPE_DOUBLE ||
                                                        fields[i].type == MYSQL_TYPE_FLOAT);
        if (oc[i].as_double) {
            b->buffer_type = MYSQL_TYPE_DOUBLE;
            b->buffer = &oc[i].d;
        } else {
            b->buffer_type = MYSQL_TYPE_STRING;
            if (grow_text(&oc[i], b, TEXT_INITIAL) != 0) {
                st = rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
                goto out;
            }
        }
    }
    if (mysql_stmt_bind_result(stmt, rb) != 0)
        st = rg_my_stmt_error(stmt, "cannot bind the result's columns", err);
out:
    mysql_free_result(meta);
    return st;
}

/* After MYSQL_DATA_TRUNCATED: fetch again every text column that did not fit. */
static rg_status refetch_long(MYSQL_STMT *stmt, const rg_query_plan *plan, MYSQL_BIND *rb,
                              out_col *oc, rg_error *err)
{
    int rebind = 0;
    for (size_t i = 0; i < plan->ncolumns; i++) {
        if (oc[i].as_double || oc[i].is_null || oc[i].len < oc[i].cap)
            continue;
        if (grow_text(&oc[i], &rb[i], (size_t)oc[i].len + 1) != 0)
            return rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
        if (mysql_stmt_fetch_column(stmt, &rb[i], (unsigned)i, 0) != 0)
            return rg_my_stmt_error(stmt, "cannot read a long value", err);
        rebind = 1;
    }
    /* The statement keeps its own copy of the bindings: give it the new buffers. */
    if (rebind && mysql_stmt_bind_result(stmt, rb) != 0)
        return rg_my_stmt_error(stmt, "cannot bind the result's columns", err);
    return RG_OK;
}

rg_status rg_my_send_rows(MYSQL_STMT *stmt, const rg_query_plan *plan, const rg_row_sink *sink,
                          rg_error *err)
{
    MYSQL_BIND *rb = calloc(plan->ncolumns, sizeof *rb);
    out_col *oc = calloc(plan->ncolumns, sizeof *oc);
    rg_value *vals = calloc(plan->ncolumns, sizeof *vals);
    rg_status st = RG_OK;
    if (!rb || !oc || !vals) {
        st = rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
        goto out;
    }
    st = bind_results(stmt, plan, rb, oc, err);
    while (st == RG_OK) {
        int rc = mysql_stmt_fetch(stmt);
        if (rc == MYSQL_NO_DATA)
            break;
        if (rc == 1) {
            st = rg_my_stmt_error(stmt, "cannot read a row", err);
            break;
        }
        if (rc == MYSQL_DATA_TRUNCATED) {
            st = refetch_long(stmt, plan, rb, oc, err);
            if (st != RG_OK)
                break;
        }
        for (size_t i = 0; i < plan->ncolumns; i++) {
            const rg_field_desc *f = rg_field_at(plan->collection->fields, plan->columns[i]);
            if (read_column(&oc[i], f->type, &vals[i]) != 0) {
                st = rg_adapter_fail(err, RG_ERR_UPSTREAM,
                             "column '%s' holds a value that is not a %s as configured",
                             f->column, type_name(f->type));
                break;
            }
        }
        if (st == RG_OK && sink->row(sink->ctx, vals, plan->ncolumns) != 0)
            st = rg_adapter_fail(err, RG_ERR_ABORTED, "stopped by the gateway");
    }
out:
    if (oc)
        for (size_t i = 0; i < plan->ncolumns; i++)
            free(oc[i].buf);
    free(rb);
    free(oc);
    free(vals);
    return st;
}
