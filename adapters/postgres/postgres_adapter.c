/*
 * readgate-adapter-postgres: reads PostgreSQL through libpq.
 *
 * Options: dsn (required; conninfo string or URI), statement_timeout_ms
 * (optional cap on every query's budget), application_name (default
 * "readgate"). The source settings timeout_ms, connect_timeout_ms and workers
 * are read by the core and never reach the adapter as options.
 *
 * Every query runs as BEGIN READ ONLY; SET LOCAL statement_timeout; EXECUTE;
 * COMMIT, so nothing can write and nothing outlives its budget, even behind a
 * transaction-pooling proxy; the four go out together in libpq's pipeline
 * mode, so a query costs one round trip. Identifiers are quoted with PQescapeIdentifier;
 * values travel as text parameters of prepared statements, cached per
 * connection by SQL text (which depends only on the plan's shape).
 */
#include <errno.h>
#include <stdbool.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <readgate/adapter.h>

#include "sqlbuild.h"
#include "adapter_err.h"

#define ADAPTER_NAME "postgres"
#define STMT_CACHE_SIZE 64
#define MAX_STATEMENT_TIMEOUT_MS 86400000UL

static const rg_host_api *host;

#define logf_(lvl, ...) rg_adapter_log(host, ADAPTER_NAME, lvl, __VA_ARGS__)

typedef struct cached_stmt {
    char *sql;
    char name[24];
    unsigned long long used; /* LRU clock */
} cached_stmt;

typedef struct pg_conn {
    PGconn *pg;
    unsigned long statement_timeout_ms; /* 0 = no cap from the options */
    cached_stmt cache[STMT_CACHE_SIZE];
    unsigned long long clock;
    unsigned long long next_name;
} pg_conn;

typedef struct pg_options {
    const char *dsn;
    const char *application_name;
    unsigned long statement_timeout_ms;
} pg_options;

static rg_status parse_options(const rg_source_info *src, pg_options *o, rg_error *err)
{
    memset(o, 0, sizeof *o);
    o->application_name = "readgate";
    for (size_t i = 0; i < src->noptions; i++) {
        const rg_option *opt = rg_option_at(src->options, i);
        if (!strcmp(opt->key, "dsn")) {
            o->dsn = opt->value;
        } else if (!strcmp(opt->key, "application_name")) {
            if (!opt->value || !*opt->value)
                return rg_adapter_fail(err, RG_ERR_CONFIG, "option 'application_name' must not be empty");
            o->application_name = opt->value;
        } else if (!strcmp(opt->key, "statement_timeout_ms")) {
            const char *v = opt->value ? opt->value : "";
            char *end;
            errno = 0;
            unsigned long ms = strtoul(v, &end, 10);
            if (!*v || *v == '-' || *end || errno || ms == 0 || ms > MAX_STATEMENT_TIMEOUT_MS)
                return rg_adapter_fail(err, RG_ERR_CONFIG,
                               "option 'statement_timeout_ms' must be an integer from 1 to %lu",
                               MAX_STATEMENT_TIMEOUT_MS);
            o->statement_timeout_ms = ms;
        } else {
            return rg_adapter_fail(err, RG_ERR_CONFIG,
                           "unknown option '%s' for the postgres adapter; expected: dsn, "
                           "statement_timeout_ms, application_name",
                           opt->key);
        }
    }
    if (!o->dsn || !*o->dsn)
        return rg_adapter_fail(err, RG_ERR_CONFIG,
                       "option 'dsn' is required: a libpq connection string or postgres:// URI");
    /* An encrypted value is checked once it has been decrypted, at connect. */
    if (strncmp(o->dsn, "enc:", 4) != 0) {
        char *why = NULL;
        PQconninfoOption *parsed = PQconninfoParse(o->dsn, &why);
        /* libpq's reason may quote part of the string, password included. */
        PQfreemem(why);
        if (!parsed)
            return rg_adapter_fail(err, RG_ERR_CONFIG,
                           "option 'dsn' is not a valid libpq connection string or URI");
        PQconninfoFree(parsed);
    }
    return RG_OK;
}

static rg_status check_options(const rg_source_info *src, rg_error *err)
{
    pg_options o;
    return parse_options(src, &o, err);
}

static void close_conn(pg_conn *c)
{
    for (size_t i = 0; i < STMT_CACHE_SIZE; i++)
        free(c->cache[i].sql);
    if (c->pg)
        PQfinish(c->pg);
    free(c);
}

static int looks_like_auth_failure(const char *msg)
{
    return strstr(msg, "password authentication failed") || strstr(msg, "authentication failed") ||
           strstr(msg, "no password supplied") || strstr(msg, "pg_hba.conf") ||
           (strstr(msg, "role \"") && strstr(msg, "does not exist"));
}

static rg_status connect_(const rg_source_info *src, void **out, rg_error *err)
{
    *out = NULL;
    pg_options o;
    rg_status st = parse_options(src, &o, err);
    if (st != RG_OK)
        return st;
    if (!strncmp(o.dsn, "enc:", 4))
        return rg_adapter_fail(err, RG_ERR_CONFIG, "option 'dsn' is still encrypted");

    char timeout[16];
    unsigned long secs = (src->connect_timeout_ms + 999) / 1000;
    snprintf(timeout, sizeof timeout, "%lu", secs ? secs : 1);
    /* Keepalives first so the DSN may override them; the DSN (expanded from
       dbname) next; then what readgate enforces. */
    const char *keys[] = {"keepalives", "keepalives_idle", "keepalives_interval",
                          "keepalives_count", "dbname", "connect_timeout",
                          "application_name", NULL};
    const char *vals[] = {"1", "30", "10", "3", o.dsn, timeout, o.application_name, NULL};

    pg_conn *c = calloc(1, sizeof *c);
    if (!c)
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
    c->statement_timeout_ms = o.statement_timeout_ms;
    c->pg = PQconnectdbParams(keys, vals, 1);
    if (!c->pg) {
        close_conn(c);
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
    }
    if (PQstatus(c->pg) != CONNECTION_OK) {
        const char *msg = PQerrorMessage(c->pg);
        st = (PQconnectionNeedsPassword(c->pg) || looks_like_auth_failure(msg))
                 ? RG_ERR_AUTH
                 : RG_ERR_UNAVAILABLE;
        rg_adapter_fail(err, st, "cannot connect to PostgreSQL: %s", msg);
        close_conn(c);
        return st;
    }
    /* Session defaults: read-only even outside our explicit transactions,
       UTC and ISO dates so text results parse the same everywhere, and
       shortest-exact float output. */
    PGresult *res = PQexec(c->pg, "SET default_transaction_read_only = on; "
                                  "SET TIME ZONE 'UTC'; SET DateStyle = 'ISO, YMD'; "
                                  "SET extra_float_digits = 3");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        st = PQstatus(c->pg) == CONNECTION_BAD ? RG_ERR_UNAVAILABLE : RG_ERR_UPSTREAM;
        rg_adapter_fail(err, st, "cannot set up the PostgreSQL session: %s", PQerrorMessage(c->pg));
        PQclear(res);
        close_conn(c);
        return st;
    }
    PQclear(res);
    *out = c;
    return RG_OK;
}

static void disconnect_(void *conn)
{
    close_conn(conn);
}

/* Map a failed result to the gateway's error classes. The message carries the
   SQLSTATE and, where it cannot contain a value, the server's primary text. */
static rg_status result_error(pg_conn *c, const PGresult *res, const char *what, rg_error *err)
{
    if (PQstatus(c->pg) == CONNECTION_BAD)
        return rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "%s: connection to PostgreSQL lost: %s", what,
                       PQerrorMessage(c->pg));
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!state)
        return rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "%s: %s", what, PQerrorMessage(c->pg));
    if (!strcmp(state, "57014"))
        return rg_adapter_fail(err, RG_ERR_TIMEOUT, "%s: statement timeout (SQLSTATE 57014)", what);
    if (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3) || !strcmp(state, "53300"))
        return rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "%s: SQLSTATE %s: %s", what, state,
                       primary ? primary : "");
    if (!strncmp(state, "28", 2))
        return rg_adapter_fail(err, RG_ERR_AUTH, "%s: SQLSTATE %s: %s", what, state,
                       primary ? primary : "");
    /* Data exceptions and constraint messages quote the offending value. */
    if (!strncmp(state, "22", 2) || !strncmp(state, "23", 2))
        return rg_adapter_fail(err, RG_ERR_UPSTREAM,
                       "%s: SQLSTATE %s: a value does not suit the column's type", what, state);
    return rg_adapter_fail(err, RG_ERR_UPSTREAM, "%s: SQLSTATE %s: %s", what, state,
                   primary ? primary : "");
}

/* Run a statement with no values; 0 on success. */
static int exec_simple(pg_conn *c, const char *sql, const char *what, rg_error *err,
                       rg_status *st)
{
    PGresult *res = PQexec(c->pg, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        *st = result_error(c, res, what, err);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

static void rollback(pg_conn *c)
{
    if (PQstatus(c->pg) != CONNECTION_OK)
        return;
    PGresult *res = PQexec(c->pg, "ROLLBACK");
    PQclear(res);
}

static int quote_ident(void *ctx, rg_sql_buf *out, const char *ident, size_t len)
{
    char *q = PQescapeIdentifier(ctx, ident, len);
    if (!q)
        return -1;
    rg_sql_buf_puts(out, q);
    PQfreemem(q);
    return 0;
}

/* Name of the prepared statement for `sql`, preparing it on first use. */
static const char *get_stmt(pg_conn *c, const rg_sql_query *q, rg_error *err, rg_status *st)
{
    cached_stmt *victim = &c->cache[0];
    for (size_t i = 0; i < STMT_CACHE_SIZE; i++) {
        cached_stmt *e = &c->cache[i];
        if (e->sql && !strcmp(e->sql, q->sql.data)) {
            e->used = ++c->clock;
            return e->name;
        }
        if (!e->sql || e->used < victim->used)
            victim = e;
        if (!e->sql)
            break;
    }
    if (victim->sql) {
        char dealloc[48];
        snprintf(dealloc, sizeof dealloc, "DEALLOCATE %s", victim->name);
        free(victim->sql);
        victim->sql = NULL;
        if (exec_simple(c, dealloc, "cannot drop a cached statement", err, st) != 0)
            return NULL;
    }
    char name[sizeof victim->name];
    snprintf(name, sizeof name, "rg_%llu", ++c->next_name);
    /* Parameter types are inferred from the columns they meet, except where
       the SQL casts them; values are sent as text. */
    PGresult *res = PQprepare(c->pg, name, q->sql.data, (int)q->nparams, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        *st = result_error(c, res, "cannot prepare query", err);
        PQclear(res);
        return NULL;
    }
    PQclear(res);
    victim->sql = strdup(q->sql.data);
    if (!victim->sql) {
        /* The statement stays on the server unnamed in our cache; harmless. */
        *st = rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    memcpy(victim->name, name, sizeof name);
    victim->used = ++c->clock;
    return victim->name;
}

/* Forget a cached statement (after an execution error, in case it is stale). */
static void drop_stmt(pg_conn *c, const char *name)
{
    for (size_t i = 0; i < STMT_CACHE_SIZE; i++) {
        cached_stmt *e = &c->cache[i];
        if (e->sql && !strcmp(e->name, name)) {
            char dealloc[48];
            snprintf(dealloc, sizeof dealloc, "DEALLOCATE %s", e->name);
            free(e->sql);
            e->sql = NULL;
            e->used = 0;
            if (PQstatus(c->pg) == CONNECTION_OK)
                PQclear(PQexec(c->pg, dealloc));
            return;
        }
    }
}

/* Text form of each parameter; everything in one allocation per value. */
static char **params_text(const rg_sql_query *q)
{
    char **out = calloc(q->nparams ? q->nparams : 1, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < q->nparams; i++) {
        const rg_value *v = &q->params[i];
        char num[40];
        switch (v->type) {
        case RG_TYPE_INTEGER:
            snprintf(num, sizeof num, "%lld", (long long)v->u.i);
            out[i] = strdup(num);
            break;
        case RG_TYPE_NUMBER:
            snprintf(num, sizeof num, "%.17g", v->u.n);
            out[i] = strdup(num);
            break;
        case RG_TYPE_BOOLEAN:
            out[i] = strdup(v->u.b ? "t" : "f");
            break;
        default:
            out[i] = strndup(v->u.str.ptr ? v->u.str.ptr : "", v->u.str.len);
            break;
        }
        if (!out[i]) {
            for (size_t j = 0; j < i; j++)
                free(out[j]);
            free(out);
            return NULL;
        }
    }
    return out;
}

static void free_params_text(char **p, size_t n)
{
    if (!p)
        return;
    for (size_t i = 0; i < n; i++)
        free(p[i]);
    free(p);
}

/* A text result as a value of the field's declared type; -1 if it does not parse. */
static int read_column(const PGresult *res, int row, int col, rg_type type, rg_value *v,
                       char *dt, size_t dtsz)
{
    memset(v, 0, sizeof *v);
    v->struct_size = sizeof *v; /* the gateway steps through a row by it */
    v->type = type;
    if (PQgetisnull(res, row, col)) {
        v->is_null = 1;
        return 0;
    }
    const char *s = PQgetvalue(res, row, col);
    size_t len = (size_t)PQgetlength(res, row, col);
    char *end;
    switch (type) {
    case RG_TYPE_INTEGER:
        errno = 0;
        v->u.i = strtoll(s, &end, 10);
        /* numeric columns print "12.00": the integral part is the value */
        if (end == s || errno || (*end && *end != '.'))
            return -1;
        return 0;
    case RG_TYPE_NUMBER:
        errno = 0;
        v->u.n = strtod(s, &end);
        if (end == s || *end)
            return -1;
        return 0;
    case RG_TYPE_BOOLEAN:
        if (!strcmp(s, "t") || !strcmp(s, "true") || !strcmp(s, "1"))
            v->u.b = 1;
        else if (!strcmp(s, "f") || !strcmp(s, "false") || !strcmp(s, "0"))
            v->u.b = 0;
        else
            return -1;
        return 0;
    case RG_TYPE_DATE:
        /* a timestamp column configured as a date keeps its day */
        if (len > 10 && s[10] == ' ')
            len = 10;
        break;
    case RG_TYPE_DATETIME: {
        size_t n = rg_sql_datetime_canon(s, len, dt, dtsz);
        if (n) {
            s = dt;
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

#define DT_SCRATCH 40

static const char *type_name(rg_type t)
{
    switch (t) {
    case RG_TYPE_INTEGER: return "integer";
    case RG_TYPE_NUMBER: return "number";
    case RG_TYPE_BOOLEAN: return "boolean";
    default: return "string";
    }
}

static rg_status send_rows(const PGresult *res, const rg_query_plan *plan,
                           const rg_row_sink *sink, rg_error *err)
{
    if (PQnfields(res) < 0 || (size_t)PQnfields(res) != plan->ncolumns)
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "result has %d columns, expected %zu",
                       PQnfields(res), plan->ncolumns);
    rg_value *vals = calloc(plan->ncolumns, sizeof *vals);
    char *dt = malloc(plan->ncolumns * DT_SCRATCH);
    if (!vals || !dt) {
        free(vals);
        free(dt);
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
    }
    rg_status st = RG_OK;
    int nrows = PQntuples(res);
    for (int r = 0; r < nrows && st == RG_OK; r++) {
        for (size_t i = 0; i < plan->ncolumns; i++) {
            const rg_field_desc *f = rg_field_at(plan->collection->fields, plan->columns[i]);
            if (read_column(res, r, (int)i, f->type, &vals[i], dt + i * DT_SCRATCH,
                            DT_SCRATCH) != 0) {
                st = rg_adapter_fail(err, RG_ERR_UPSTREAM,
                             "column '%s' holds a value that is not a %s as configured",
                             f->column, type_name(f->type));
                break;
            }
        }
        if (st == RG_OK && sink->row(sink->ctx, vals, plan->ncolumns) != 0)
            st = rg_adapter_fail(err, RG_ERR_ABORTED, "stopped by the gateway");
    }
    free(vals);
    free(dt);
    return st;
}

/*
 * BEGIN READ ONLY; SET LOCAL statement_timeout; EXECUTE; COMMIT, sent at once
 * in libpq's pipeline mode and answered in one round trip: the read-only
 * transaction and its timeout are exactly those of the four statements sent
 * one by one, without three waits for the network. After an error the server
 * skips the rest up to the sync (so no COMMIT runs), and the transaction left
 * open in its failed state is rolled back.
 */
static rg_status run_pipelined(pg_conn *c, const char *name, const rg_sql_query *q,
                               const char *const *values, unsigned long timeout,
                               const rg_query_plan *plan, const rg_row_sink *sink, rg_error *err)
{
    char set[64];
    snprintf(set, sizeof set, "SET LOCAL statement_timeout = %lu", timeout);
    enum { BEGIN_, SET_, EXEC_, COMMIT_, N_ };
    const char *what[N_] = {"cannot start a read-only transaction", "cannot set the timeout",
                            "query failed", "cannot end the transaction"};
    PGresult *res[N_] = {NULL, NULL, NULL, NULL};
    bool sent[N_] = {true, timeout > 0, true, true};
    if (PQenterPipelineMode(c->pg) != 1)
        return rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "cannot enter pipeline mode: %s",
                               PQerrorMessage(c->pg));
    int ok = PQsendQueryParams(c->pg, "BEGIN READ ONLY", 0, NULL, NULL, NULL, NULL, 0) == 1;
    if (ok && sent[SET_])
        ok = PQsendQueryParams(c->pg, set, 0, NULL, NULL, NULL, NULL, 0) == 1;
    ok = ok && PQsendQueryPrepared(c->pg, name, (int)q->nparams, values, NULL, NULL, 0) == 1;
    ok = ok && PQsendQueryParams(c->pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) == 1;
    ok = ok && PQpipelineSync(c->pg) == 1;
    if (!ok) {
        /* Half a pipeline may be on its way: the connection can't be used
           again, and UNAVAILABLE makes the gateway open a new one. */
        return rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "cannot send the query: %s",
                               PQerrorMessage(c->pg));
    }
    /* One result per statement, each followed by NULL, then the sync. */
    bool lost = false;
    for (int i = 0; i < N_ && !lost; i++) {
        if (!sent[i])
            continue;
        res[i] = PQgetResult(c->pg);
        if (!res[i]) {
            lost = true;
            break;
        }
        PGresult *extra;
        while ((extra = PQgetResult(c->pg)) != NULL)
            PQclear(extra);
    }
    PGresult *sync = lost ? NULL : PQgetResult(c->pg);
    lost = lost || PQresultStatus(sync) != PGRES_PIPELINE_SYNC;
    PQclear(sync);
    rg_status st = RG_OK;
    if (lost || PQexitPipelineMode(c->pg) != 1) {
        st = rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "connection to PostgreSQL lost: %s",
                             PQerrorMessage(c->pg));
    } else {
        /* The first statement that failed says why (the rest were skipped). */
        for (int i = 0; i < N_ && st == RG_OK; i++) {
            if (!sent[i])
                continue;
            ExecStatusType want = i == EXEC_ ? PGRES_TUPLES_OK : PGRES_COMMAND_OK;
            if (PQresultStatus(res[i]) != want) {
                st = result_error(c, res[i], what[i], err);
                /* A statement that failed may be stale (schema changed);
                   prepare it afresh next time. */
                if (i == EXEC_)
                    drop_stmt(c, name);
            }
        }
        if (st == RG_OK)
            st = send_rows(res[EXEC_], plan, sink, err);
        if (PQtransactionStatus(c->pg) != PQTRANS_IDLE)
            rollback(c);
    }
    for (int i = 0; i < N_; i++)
        PQclear(res[i]);
    return st;
}

static rg_status query_(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
                        rg_error *err)
{
    pg_conn *c = conn;
    if (PQstatus(c->pg) != CONNECTION_OK)
        return rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "connection to PostgreSQL lost");
    /* A transaction left open by an interrupted call must not swallow this one. */
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        rollback(c);

    rg_sql_dialect d;
    rg_sql_dialect_postgres(&d, quote_ident, c->pg);
    rg_sql_query q;
    memset(&q, 0, sizeof q);
    rg_status st = rg_sql_build_select(&d, plan, &q, err);
    char **values = NULL;
    if (st != RG_OK)
        goto out;
    values = params_text(&q);
    if (!values) {
        st = rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
        goto out;
    }
    const char *name = get_stmt(c, &q, err, &st);
    if (!name)
        goto out;

    unsigned long timeout = plan->timeout_ms;
    if (c->statement_timeout_ms && (!timeout || c->statement_timeout_ms < timeout))
        timeout = c->statement_timeout_ms;
    st = run_pipelined(c, name, &q, (const char *const *)values, timeout, plan, sink, err);
out:
    free_params_text(values, q.nparams);
    rg_sql_query_free(&q);
    if (st != RG_OK && st != RG_ERR_ABORTED)
        logf_(RG_LOG_DEBUG, "query on '%s' failed: %s", plan->collection->name, err->message);
    return st;
}

static rg_status ping_(void *conn, rg_error *err)
{
    pg_conn *c = conn;
    if (PQstatus(c->pg) != CONNECTION_OK)
        return rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "connection to PostgreSQL lost");
    PGresult *res = PQexec(c->pg, "SELECT 1");
    rg_status st = RG_OK;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        st = result_error(c, res, "ping failed", err);
    PQclear(res);
    return st;
}

static const rg_adapter postgres_adapter = {
    .struct_size = sizeof(rg_adapter),
    .abi_major = RG_ADAPTER_ABI_MAJOR,
    .abi_minor = RG_ADAPTER_ABI_MINOR,
    .name = ADAPTER_NAME,
    .version = "1.0.0",
    .check_options = check_options,
    .connect = connect_,
    .query = query_,
    .ping = ping_,
    .disconnect = disconnect_,
};

__attribute__((visibility("default"))) const rg_adapter *rg_adapter_entry(const rg_host_api *h)
{
    /* The host table is immutable and identical for every call. */
    host = h;
    return &postgres_adapter;
}
