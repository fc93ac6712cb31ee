/*
 * The mysql adapter's queries: the plan as SQL (sqlbuild.c), a cache of
 * prepared statements per connection, the session's statement timeout, and
 * the plan's values as typed parameters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql_internal.h"

/* ---- statements -------------------------------------------------------------- */

/* The prepared statement for `sql`, preparing it on first use. */
static cached_stmt *get_stmt(my_conn *c, const rg_sql_buf *sql, rg_error *err, rg_status *st)
{
    cached_stmt *victim = &c->cache[0];
    for (size_t i = 0; i < STMT_CACHE_SIZE; i++) {
        cached_stmt *e = &c->cache[i];
        if (e->sql && !strcmp(e->sql, sql->data)) {
            e->used = ++c->clock;
            return e;
        }
        if (!e->sql || e->used < victim->used)
            victim = e;
        if (!e->sql)
            break;
    }
    rg_my_close_stmt(victim);
    MYSQL_STMT *stmt = mysql_stmt_init(c->db);
    if (!stmt) {
        *st = rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    if (mysql_stmt_prepare(stmt, sql->data, sql->len) != 0) {
        *st = rg_my_stmt_error(stmt, "cannot prepare query", err);
        if (mysql_stmt_close(stmt) != 0)
            logf_(RG_LOG_DEBUG, "closing a statement that failed to prepare failed");
        return NULL;
    }
    victim->sql = strdup(sql->data);
    if (!victim->sql) {
        if (mysql_stmt_close(stmt) != 0)
            logf_(RG_LOG_DEBUG, "closing a statement failed");
        *st = rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    victim->stmt = stmt;
    victim->used = ++c->clock;
    return victim;
}

/* The session's statement timeout, changed only when this query's differs. */
static rg_status set_timeout(my_conn *c, unsigned long ms, rg_error *err)
{
    if (ms == c->session_timeout_ms)
        return RG_OK;
    char sql[96];
    if (c->mariadb) /* seconds, with microsecond resolution */
        snprintf(sql, sizeof sql, "SET SESSION max_statement_time = %lu.%03lu", ms / 1000,
                 ms % 1000);
    else
        snprintf(sql, sizeof sql, "SET SESSION max_execution_time = %lu", ms);
    rg_status st = rg_my_exec_simple(c, sql, "cannot set the statement timeout", err);
    if (st == RG_OK)
        c->session_timeout_ms = ms;
    return st;
}

/* ---- parameters ---------------------------------------------------------------- */

typedef union param_value {
    long long i;
    double d;
    signed char b;
    MYSQL_TIME t;
} param_value;

static int two_digits(const char *s, unsigned *out)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return -1;
    *out = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
    return 0;
}

/* "YYYY-MM-DD" at s into t; -1 if it is not that. */
static int parse_day(const char *s, size_t len, MYSQL_TIME *t)
{
    unsigned hi, lo;
    if (len < 10 || s[4] != '-' || s[7] != '-' || two_digits(s, &hi) || two_digits(s + 2, &lo) ||
        two_digits(s + 5, &t->month) || two_digits(s + 8, &t->day))
        return -1;
    t->year = hi * 100 + lo;
    return 0;
}

/*
 * Dates and datetimes go as MYSQL_TIME, so they compare as temporal values
 * with DATE, DATETIME and TIMESTAMP columns (a TIMESTAMP in the UTC session
 * zone). A value that does not parse goes as text: the server decides.
 */
static int temporal_param(const rg_value *v, MYSQL_TIME *t)
{
    memset(t, 0, sizeof *t);
    const char *s = v->u.str.ptr;
    size_t len = v->u.str.len;
    if (!s)
        return -1;
    if (v->type == RG_TYPE_DATE) {
        if (len != 10 || parse_day(s, len, t) != 0)
            return -1;
        t->time_type = MYSQL_TIMESTAMP_DATE;
        return 0;
    }
    char canon[40];
    size_t n = rg_sql_datetime_canon(s, len, canon, sizeof canon);
    /* canon is "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" */
    if (n < 20 || parse_day(canon, n, t) != 0 || two_digits(canon + 11, &t->hour) ||
        two_digits(canon + 14, &t->minute) || two_digits(canon + 17, &t->second))
        return -1;
    if (canon[19] == '.') {
        unsigned long us = 0;
        for (size_t i = 20; i < 26; i++) {
            if (canon[i] < '0' || canon[i] > '9')
                return -1;
            us = us * 10 + (unsigned long)(canon[i] - '0');
        }
        t->second_part = us;
    }
    t->time_type = MYSQL_TIMESTAMP_DATETIME;
    return 0;
}

static void bind_param(const rg_value *v, MYSQL_BIND *b, param_value *pv, unsigned long *len)
{
    memset(b, 0, sizeof *b);
    switch (v->type) {
    case RG_TYPE_INTEGER:
        pv->i = v->u.i;
        b->buffer_type = MYSQL_TYPE_LONGLONG;
        b->buffer = &pv->i;
        return;
    case RG_TYPE_NUMBER:
        pv->d = v->u.n;
        b->buffer_type = MYSQL_TYPE_DOUBLE;
        b->buffer = &pv->d;
        return;
    case RG_TYPE_BOOLEAN:
        pv->b = v->u.b ? 1 : 0;
        b->buffer_type = MYSQL_TYPE_TINY;
        b->buffer = &pv->b;
        return;
    case RG_TYPE_DATE:
    case RG_TYPE_DATETIME:
        if (temporal_param(v, &pv->t) == 0) {
            b->buffer_type = v->type == RG_TYPE_DATE ? MYSQL_TYPE_DATE : MYSQL_TYPE_DATETIME;
            b->buffer = &pv->t;
            return;
        }
        break;
    default:
        break;
    }
    *len = v->u.str.len;
    b->buffer_type = MYSQL_TYPE_STRING;
    b->buffer = (void *)(v->u.str.ptr ? v->u.str.ptr : "");
    b->buffer_length = *len;
    b->length = len;
}

/* Bind, execute, buffer the result and stream it to the sink. Buffering the
   (at most `limit`) rows first leaves the connection free again at once,
   whatever the sink does. */
static rg_status run_stmt(MYSQL_STMT *stmt, const rg_sql_query *q, const rg_query_plan *plan,
                          const rg_row_sink *sink, rg_error *err)
{
    if (mysql_stmt_param_count(stmt) != q->nparams)
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "statement has %lu parameters, expected %zu",
                       mysql_stmt_param_count(stmt), q->nparams);
    size_t n = q->nparams ? q->nparams : 1;
    MYSQL_BIND *pb = calloc(n, sizeof *pb);
    param_value *pv = calloc(n, sizeof *pv);
    unsigned long *plen = calloc(n, sizeof *plen);
    rg_status st = RG_OK;
    int stored = 0;
    if (!pb || !pv || !plen) {
        st = rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < q->nparams; i++)
        bind_param(&q->params[i], &pb[i], &pv[i], &plen[i]);
    if (mysql_stmt_bind_param(stmt, pb) != 0) {
        st = rg_my_stmt_error(stmt, "cannot bind the query's values", err);
        goto out;
    }
    if (mysql_stmt_execute(stmt) != 0) {
        st = rg_my_stmt_error(stmt, "query failed", err);
        goto out;
    }
    stored = 1;
    if (mysql_stmt_store_result(stmt) != 0) {
        st = rg_my_stmt_error(stmt, "query failed while reading its rows", err);
        goto out;
    }
    st = rg_my_send_rows(stmt, plan, sink, err);
out:
    if (stored && mysql_stmt_free_result(stmt) != 0 && st == RG_OK)
        st = rg_my_stmt_error(stmt, "cannot release the result", err);
    free(pb);
    free(pv);
    free(plen);
    return st;
}

rg_status rg_my_query(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
                      rg_error *err)
{
    my_conn *c = conn;
    rg_sql_query q;
    memset(&q, 0, sizeof q);
    rg_status st = rg_sql_build_select(&c->dialect, plan, &q, err);
    if (st != RG_OK)
        goto out;

    unsigned long timeout = plan->timeout_ms;
    if (c->statement_timeout_ms && (!timeout || c->statement_timeout_ms < timeout))
        timeout = c->statement_timeout_ms;
    st = set_timeout(c, timeout, err);
    if (st != RG_OK)
        goto out;

    cached_stmt *e = get_stmt(c, &q.sql, err, &st);
    if (!e)
        goto out;
    st = run_stmt(e->stmt, &q, plan, sink, err);
    /* A statement that failed may be stale or half-read; prepare it afresh
       next time. After a lost connection the gateway reconnects anyway. */
    if (st != RG_OK && st != RG_ERR_ABORTED && st != RG_ERR_UNAVAILABLE)
        rg_my_close_stmt(e);
out:
    rg_sql_query_free(&q);
    if (st != RG_OK && st != RG_ERR_ABORTED)
        logf_(RG_LOG_DEBUG, "query on '%s' failed: %s", plan->collection->name, err->message);
    return st;
}
