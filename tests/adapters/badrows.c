/*
 * An adapter that breaks ABI 2.0's array rule on purpose (readgate/adapter.h):
 * every query answers one row whose values say the wrong struct_size. With
 * option mode=small every value claims a size below the 2.0 rg_value (as a
 * value without struct_size would); with mode=mixed the values of one row
 * claim different sizes. readgate must refuse the row as the adapter's error,
 * log why and keep serving, never read past the values.
 */
#include <stdlib.h>
#include <string.h>

#include <readgate/adapter.h>

typedef struct badrows_conn {
    int mixed;
} badrows_conn;

static rg_status fail(rg_error *err, rg_status st, const char *msg)
{
    err->status = st;
    strncpy(err->message, msg, sizeof err->message - 1);
    err->message[sizeof err->message - 1] = '\0';
    return st;
}

static rg_status parse(const rg_source_info *src, int *mixed, rg_error *err)
{
    *mixed = 0;
    for (size_t i = 0; i < src->noptions; i++) {
        const rg_option *o = rg_option_at(src->options, i);
        if (strcmp(o->key, "mode") != 0)
            return fail(err, RG_ERR_CONFIG, "unknown option; expected: mode");
        if (strcmp(o->value, "mixed") == 0)
            *mixed = 1;
        else if (strcmp(o->value, "small") != 0)
            return fail(err, RG_ERR_CONFIG, "option 'mode' must be small or mixed");
    }
    return RG_OK;
}

static rg_status check_options(const rg_source_info *src, rg_error *err)
{
    int mixed;
    return parse(src, &mixed, err);
}

static rg_status connect_(const rg_source_info *src, void **conn, rg_error *err)
{
    int mixed;
    rg_status st = parse(src, &mixed, err);
    if (st != RG_OK)
        return st;
    badrows_conn *c = calloc(1, sizeof *c);
    if (!c)
        return fail(err, RG_ERR_INTERNAL, "out of memory");
    c->mixed = mixed;
    *conn = c;
    return RG_OK;
}

/* One row of plan->ncolumns values of the right types, with the wrong sizes. */
static rg_status query(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
                       rg_error *err)
{
    const badrows_conn *c = conn;
    if (plan->ncolumns == 0 || plan->limit == 0)
        return RG_OK;
    rg_value *vals = calloc(plan->ncolumns, sizeof *vals);
    if (!vals)
        return fail(err, RG_ERR_INTERNAL, "out of memory");
    for (size_t i = 0; i < plan->ncolumns; i++) {
        rg_value *v = &vals[i];
        v->type = rg_field_at(plan->collection->fields, plan->columns[i])->type;
        v->struct_size = c->mixed ? (uint32_t)(sizeof *v + (i % 2) * 8) : 8;
        if (v->type == RG_TYPE_INTEGER)
            v->u.i = 1;
        else if (v->type == RG_TYPE_NUMBER)
            v->u.n = 1.5;
        else if (v->type == RG_TYPE_BOOLEAN)
            v->u.b = 1;
        else
            v->is_null = 1;
    }
    rg_status st = RG_OK;
    if (sink->row(sink->ctx, vals, plan->ncolumns) != 0)
        st = fail(err, RG_ERR_ABORTED, "stopped by the gateway");
    free(vals);
    return st;
}

static rg_status ping(void *conn, rg_error *err)
{
    (void)conn;
    (void)err;
    return RG_OK;
}

static void disconnect(void *conn)
{
    free(conn);
}

RG_ADAPTER("badrows", "0", check_options, connect_, query, ping, disconnect)
