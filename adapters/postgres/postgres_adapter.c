/*
 * readgate-adapter-postgres: reads PostgreSQL through libpq.
 *
 * Options: dsn (required; conninfo string or URI), statement_timeout_ms
 * (optional cap on every query's budget), application_name (default
 * "readgate"), transaction_pooling (true behind a transaction-pooling proxy
 * such as PgBouncer in transaction mode; default false), plan_cache_mode
 * (force_generic_plan, the default, auto or force_custom_plan; see
 * plan_cache_sql). The source settings timeout_ms, connect_timeout_ms and
 * workers are read by the core and never reach the adapter as options.
 *
 * Every query is read-only and bounded by its budget: in a session the server
 * reports read-only, the EXECUTE alone (with SET statement_timeout when the
 * budget changes); otherwise, behind a transaction-pooling proxy or on an
 * older server, BEGIN READ ONLY; SET LOCAL statement_timeout; EXECUTE;
 * COMMIT. Either goes out in libpq's pipeline mode, so a query costs one
 * round trip (run_pipelined). Identifiers are quoted with PQescapeIdentifier;
 * values travel as text parameters of prepared statements, cached per
 * connection by SQL text (which depends only on the plan's shape).
 */
#include <errno.h>
#include <poll.h>
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

/* The session's statement_timeout is not known (after connect, or after a
   pipeline that did not commit): the next query sets it. */
#define TIMEOUT_UNKNOWN (~0UL)

#define PENDING_DEALLOC_MAX 4

/* The query in progress on a connection (one at a time). */
typedef struct pg_job {
    bool active;
    const rg_query_plan *plan;
    rg_row_sink sink;
    rg_sql_query q;
    char **values;
    char name[24];            /* prepared statement */
    struct cached_stmt *slot; /* where a new statement is cached once prepared */
    char *new_sql;
    bool session, sent_set, prepare_ok, exec_failed, server_failed, committed, got;
    unsigned long timeout, had_timeout;
    unsigned char steps[2 + PENDING_DEALLOC_MAX + 5];
    size_t nsteps, next;
    rg_status st; /* the first failure */
    rg_error err;
} pg_job;

typedef struct pg_conn {
    PGconn *pg;
    pg_job job;
    char pending[PENDING_DEALLOC_MAX][24]; /* statements to deallocate with the next query */
    size_t npending;
    unsigned long statement_timeout_ms; /* 0 = no cap from the options */
    unsigned long session_timeout;      /* statement_timeout of the session, or TIMEOUT_UNKNOWN */
    bool per_transaction;               /* transaction_pooling: never rely on the session */
    cached_stmt cache[STMT_CACHE_SIZE];
    unsigned long long clock;
    unsigned long long next_name;
} pg_conn;

typedef struct pg_options {
    const char *dsn;
    const char *application_name;
    unsigned long statement_timeout_ms;
    bool transaction_pooling;
    const char *plan_cache_mode; /* one of plan_cache_modes[] */
    bool plan_cache_mode_set;    /* given in the options, not the default */
} pg_options;

/*
 * The session's plan_cache_mode. PostgreSQL's own choice (auto) plans a
 * prepared statement again on every execution for as long as its generic
 * plan looks costlier, and a generic plan with "LIMIT $n" is always costed
 * for 10% of the rows: every readgate statement has one, so under auto it is
 * planned on every query, which cost more than half of the backend's time
 * for a 20-row page by index. readgate's statements are few fixed shapes
 * whose values are parameters, the case generic plans are made for; auto is
 * for data so skewed that a value changes the best plan.
 */
static const char *const plan_cache_modes[] = {"force_generic_plan", "auto", "force_custom_plan"};

static rg_status parse_options(const rg_source_info *src, pg_options *o, rg_error *err)
{
    memset(o, 0, sizeof *o);
    o->application_name = "readgate";
    o->plan_cache_mode = plan_cache_modes[0];
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
        } else if (!strcmp(opt->key, "transaction_pooling")) {
            const char *v = opt->value ? opt->value : "";
            if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
                return rg_adapter_fail(err, RG_ERR_CONFIG,
                                       "option 'transaction_pooling' must be true or false");
            o->transaction_pooling = !strcmp(v, "true");
        } else if (!strcmp(opt->key, "plan_cache_mode")) {
            const char *v = opt->value ? opt->value : "";
            o->plan_cache_mode = NULL;
            for (size_t m = 0; m < sizeof plan_cache_modes / sizeof *plan_cache_modes; m++)
                if (!strcmp(v, plan_cache_modes[m]))
                    o->plan_cache_mode = plan_cache_modes[m];
            if (!o->plan_cache_mode)
                return rg_adapter_fail(err, RG_ERR_CONFIG,
                                       "option 'plan_cache_mode' must be force_generic_plan, "
                                       "auto or force_custom_plan");
            o->plan_cache_mode_set = true;
        } else {
            return rg_adapter_fail(err, RG_ERR_CONFIG,
                           "unknown option '%s' for the postgres adapter; expected: dsn, "
                           "statement_timeout_ms, application_name, transaction_pooling, "
                           "plan_cache_mode",
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

static void job_clear(struct pg_job *j);

static void close_conn(pg_conn *c)
{
    job_clear(&c->job);
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
    c->session_timeout = TIMEOUT_UNKNOWN;
    c->per_transaction = o.transaction_pooling;
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
    /* plan_cache_mode exists from PostgreSQL 12 on; an older server plans as
       it always has, unless a mode was asked for by name. */
    bool plan_mode = PQserverVersion(c->pg) >= 120000;
    if (!plan_mode && o.plan_cache_mode_set && strcmp(o.plan_cache_mode, "auto") != 0) {
        close_conn(c);
        return rg_adapter_fail(err, RG_ERR_CONFIG,
                               "option 'plan_cache_mode' needs PostgreSQL 12 or later");
    }
    /* Session defaults, in one round trip: read-only even outside our
       explicit transactions, UTC and ISO dates so text results parse the
       same everywhere, shortest-exact float output, and the plan cache mode
       (one of plan_cache_modes[], never text from the options). */
    char setup[256];
    snprintf(setup, sizeof setup,
             "SET default_transaction_read_only = on; SET TIME ZONE 'UTC'; "
             "SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 3%s%s",
             plan_mode ? "; SET plan_cache_mode = " : "", plan_mode ? o.plan_cache_mode : "");
    PGresult *res = PQexec(c->pg, setup);
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

static int quote_ident(void *ctx, rg_sql_buf *out, const char *ident, size_t len)
{
    char *q = PQescapeIdentifier(ctx, ident, len);
    if (!q)
        return -1;
    rg_sql_buf_puts(out, q);
    PQfreemem(q);
    return 0;
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
    switch (type) {
    case RG_TYPE_INTEGER:
    case RG_TYPE_NUMBER:
        return rg_sql_number_from_text(s, type, v);
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
 * A query goes out in libpq's pipeline mode, every statement at once, and is
 * answered in one round trip. Two shapes:
 *
 *  - session: the server itself reports (ParameterStatus, PostgreSQL 14+)
 *    that this session's default_transaction_read_only is on, which connect
 *    set; then the EXECUTE alone, in the pipeline's implicit transaction, is
 *    read-only, preceded by SET statement_timeout only when the budget
 *    differs from the one the session already has. The report is checked
 *    before every query, so a session that is not read-only never takes
 *    this path.
 *  - transaction: otherwise (an older server, a pooler that does not pass
 *    the report on, or the option transaction_pooling: true, for a
 *    transaction-pooling proxy between readgate and the server): BEGIN READ
 *    ONLY; SET LOCAL statement_timeout; EXECUTE; COMMIT, exactly the four
 *    statements sent one by one, without three waits.
 *
 * A statement shape seen for the first time is prepared in the same
 * pipeline (and the least recently used one deallocated), so even that
 * costs no extra round trip. After an error the server skips the rest up to
 * the sync (so no COMMIT runs and a SET in the same implicit transaction is
 * undone); a transaction left open in its failed state is rolled back at the
 * head of the next pipeline.
 *
 * The same machine serves both entries: query_start/query_resume on the
 * gateway's event loop (libpq non-blocking), and query, which drives it with
 * poll() on a worker thread.
 */
enum step_kind { S_ROLLBACK, S_DEALLOC, S_PREPARE, S_BEGIN, S_SET, S_EXEC, S_COMMIT };
#define MAX_STEPS (2 + PENDING_DEALLOC_MAX + 5)

static const char *const step_what[] = {
    "cannot roll back", "cannot drop a cached statement", "cannot prepare query",
    "cannot start a read-only transaction", "cannot set the timeout", "query failed",
    "cannot end the transaction"};

static bool session_read_only(const pg_conn *c)
{
    if (c->per_transaction)
        return false;
    const char *v = PQparameterStatus(c->pg, "default_transaction_read_only");
    return v && !strcmp(v, "on");
}

static void job_clear(pg_job *j)
{
    free_params_text(j->values, j->q.nparams);
    j->values = NULL;
    rg_sql_query_free(&j->q);
    memset(&j->q, 0, sizeof j->q);
    free(j->new_sql);
    j->new_sql = NULL;
    j->active = false;
}

/* The cache slot of this SQL, or the one to prepare it into (its old
   statement queued for deallocation). */
static cached_stmt *stmt_slot(pg_conn *c, const char *sql, bool *hit)
{
    cached_stmt *victim = &c->cache[0];
    for (size_t i = 0; i < STMT_CACHE_SIZE; i++) {
        cached_stmt *e = &c->cache[i];
        if (e->sql && !strcmp(e->sql, sql)) {
            e->used = ++c->clock;
            *hit = true;
            return e;
        }
        if (!e->sql || e->used < victim->used)
            victim = e;
        if (!e->sql)
            break;
    }
    *hit = false;
    return victim;
}

/* Forget a cached statement; it is deallocated with the next pipeline. */
static void forget_stmt(pg_conn *c, cached_stmt *e)
{
    if (!e->sql)
        return;
    if (c->npending < PENDING_DEALLOC_MAX)
        memcpy(c->pending[c->npending++], e->name, sizeof e->name);
    /* else: more failures than slots before any query went out; the server
       frees them with the session */
    free(e->sql);
    e->sql = NULL;
    e->used = 0;
}

static int send_step(pg_conn *c, pg_job *j, enum step_kind k, const char *arg)
{
    int ok;
    char sql[64];
    switch (k) {
    case S_ROLLBACK: ok = PQsendQueryParams(c->pg, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0); break;
    case S_DEALLOC:
        snprintf(sql, sizeof sql, "DEALLOCATE %s", arg);
        ok = PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0);
        break;
    case S_PREPARE:
        /* Parameter types are inferred from the columns they meet, except
           where the SQL casts them; values are sent as text. */
        ok = PQsendPrepare(c->pg, j->name, j->q.sql.data, (int)j->q.nparams, NULL);
        break;
    case S_BEGIN: ok = PQsendQueryParams(c->pg, "BEGIN READ ONLY", 0, NULL, NULL, NULL, NULL, 0); break;
    case S_SET:
        snprintf(sql, sizeof sql, "SET %sstatement_timeout = %lu", j->session ? "" : "LOCAL ",
                 j->timeout);
        ok = PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0);
        break;
    case S_EXEC:
        ok = PQsendQueryPrepared(c->pg, j->name, (int)j->q.nparams,
                                 (const char *const *)j->values, NULL, NULL, 0);
        break;
    default: ok = PQsendQueryParams(c->pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0); break;
    }
    if (ok != 1)
        return -1;
    j->steps[j->nsteps++] = (unsigned char)k;
    return 0;
}

/* Write what libpq holds; *wait for what comes next. */
static rg_status flush_wait(pg_conn *c, int *wait, rg_error *err)
{
    int r = PQflush(c->pg);
    if (r < 0)
        return rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "cannot send the query: %s",
                               PQerrorMessage(c->pg));
    *wait = r == 1 ? RG_WAIT_READ | RG_WAIT_WRITE : RG_WAIT_READ;
    return RG_OK;
}

/* The end of a query, successful or not: the connection is ready for the next. */
static rg_status job_end(pg_conn *c, pg_job *j, rg_status st, rg_error *err)
{
    if (st != RG_ERR_UNAVAILABLE) {
        /* The new statement is cached only once the server has it. */
        if (j->prepare_ok && j->slot && j->new_sql) {
            j->slot->sql = j->new_sql;
            j->new_sql = NULL;
            memcpy(j->slot->name, j->name, sizeof j->name);
            j->slot->used = ++c->clock;
        }
        /* A statement that failed may be stale (schema changed): prepared
           afresh next time. */
        if (j->exec_failed) {
            bool hit = false;
            cached_stmt *e = stmt_slot(c, j->q.sql.data, &hit);
            if (hit)
                forget_stmt(c, e);
        }
        if (j->session && j->committed)
            c->session_timeout = j->sent_set ? j->timeout : j->had_timeout;
        if (PQexitPipelineMode(c->pg) != 1 || PQsetnonblocking(c->pg, 0) != 0)
            st = rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "connection to PostgreSQL lost: %s",
                                 PQerrorMessage(c->pg));
    }
    if (st == RG_OK && j->st != RG_OK) {
        st = j->st;
        *err = j->err;
    }
    if (st != RG_OK && st != RG_ERR_ABORTED)
        logf_(RG_LOG_DEBUG, "query on '%s' failed: %s", j->plan->collection->name, err->message);
    job_clear(j);
    return st;
}

static rg_status pg_query_start(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
                                int *wait, rg_error *err)
{
    pg_conn *c = conn;
    pg_job *j = &c->job;
    *wait = 0;
    if (PQstatus(c->pg) != CONNECTION_OK)
        return rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "connection to PostgreSQL lost");
    if (j->active)
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "a query is already running on this connection");
    memset(j, 0, sizeof *j);
    j->plan = plan;
    j->sink = *sink;
    j->st = RG_OK;
    rg_sql_dialect d;
    rg_sql_dialect_postgres(&d, quote_ident, c->pg);
    rg_status st = rg_sql_build_select(&d, plan, &j->q, err);
    if (st != RG_OK) {
        rg_sql_query_free(&j->q);
        return st;
    }
    j->active = true;
    j->values = params_text(&j->q);
    if (!j->values) {
        job_clear(j);
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
    }
    unsigned long timeout = plan->timeout_ms;
    if (c->statement_timeout_ms && (!timeout || c->statement_timeout_ms < timeout))
        timeout = c->statement_timeout_ms;
    j->timeout = timeout;
    j->session = session_read_only(c);

    bool hit = false;
    cached_stmt *slot = stmt_slot(c, j->q.sql.data, &hit);
    if (hit) {
        memcpy(j->name, slot->name, sizeof j->name);
    } else {
        forget_stmt(c, slot); /* its old statement goes with the pending ones */
        j->slot = slot;
        snprintf(j->name, sizeof j->name, "rg_%llu", ++c->next_name);
        if (!(j->new_sql = strdup(j->q.sql.data))) {
            job_clear(j);
            return rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
        }
    }
    if (PQsetnonblocking(c->pg, 1) != 0 || PQenterPipelineMode(c->pg) != 1) {
        job_clear(j);
        return rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "cannot enter pipeline mode: %s",
                               PQerrorMessage(c->pg));
    }
    int bad = 0;
    /* A transaction left open by an interrupted call must not swallow this one. */
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        bad |= send_step(c, j, S_ROLLBACK, NULL);
    for (size_t i = 0; i < c->npending && !bad; i++)
        bad |= send_step(c, j, S_DEALLOC, c->pending[i]);
    c->npending = 0;
    if (!hit && !bad)
        bad |= send_step(c, j, S_PREPARE, NULL);
    if (!j->session && !bad)
        bad |= send_step(c, j, S_BEGIN, NULL);
    j->had_timeout = c->session_timeout;
    j->sent_set = j->session ? timeout != c->session_timeout : timeout > 0;
    if (j->sent_set && !bad)
        bad |= send_step(c, j, S_SET, NULL);
    if (!bad)
        bad |= send_step(c, j, S_EXEC, NULL);
    if (!j->session && !bad)
        bad |= send_step(c, j, S_COMMIT, NULL);
    if (!bad)
        bad = PQpipelineSync(c->pg) != 1;
    /* Until the answer says otherwise, the session's timeout is unknown. */
    c->session_timeout = TIMEOUT_UNKNOWN;
    if (bad) {
        /* Half a pipeline may be on its way: the connection can't be used
           again, and UNAVAILABLE makes the gateway open a new one. */
        rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "cannot send the query: %s",
                        PQerrorMessage(c->pg));
        return job_end(c, j, RG_ERR_UNAVAILABLE, err);
    }
    st = flush_wait(c, wait, err);
    if (st != RG_OK) {
        *wait = 0;
        return job_end(c, j, st, err);
    }
    return RG_OK;
}

/* One result of step `k`. The first failure is the query's error; the
   rows go to the sink only when everything before them succeeded. */
static void take_result(pg_conn *c, pg_job *j, enum step_kind k, PGresult *res)
{
    ExecStatusType got = PQresultStatus(res);
    if (got == PGRES_PIPELINE_ABORTED)
        return; /* skipped after an earlier failure, which says why */
    ExecStatusType want = k == S_EXEC ? PGRES_TUPLES_OK : PGRES_COMMAND_OK;
    if (got != want) {
        j->server_failed = true;
        if (j->st == RG_OK)
            j->st = result_error(c, res, step_what[k], &j->err);
        if (k == S_EXEC)
            j->exec_failed = true;
        return;
    }
    if (k == S_PREPARE)
        j->prepare_ok = true;
    if (k == S_EXEC && j->st == RG_OK)
        j->st = send_rows(res, j->plan, &j->sink, &j->err);
}

static rg_status pg_query_resume(void *conn, int *wait, rg_error *err)
{
    pg_conn *c = conn;
    pg_job *j = &c->job;
    *wait = 0;
    if (!j->active)
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "no query is running on this connection");
    rg_status st = flush_wait(c, wait, err);
    if (st != RG_OK || PQconsumeInput(c->pg) != 1) {
        *wait = 0;
        if (st == RG_OK)
            rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "connection to PostgreSQL lost: %s",
                            PQerrorMessage(c->pg));
        return job_end(c, j, RG_ERR_UNAVAILABLE, err);
    }
    while (!PQisBusy(c->pg)) {
        PGresult *res = PQgetResult(c->pg);
        if (j->next == j->nsteps) {
            /* Every statement answered: the sync ends the pipeline. */
            if (!res)
                break; /* not here yet */
            bool synced = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
            PQclear(res);
            if (!synced) {
                rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "connection to PostgreSQL lost: %s",
                                PQerrorMessage(c->pg));
                return job_end(c, j, RG_ERR_UNAVAILABLE, err);
            }
            /* The server ran every statement (the rows may still have been
               cut short here, by the sink or a value that did not convert:
               the statements before the sync, a SET among them, stand). */
            j->committed = !j->server_failed;
            *wait = 0;
            return job_end(c, j, RG_OK, err);
        }
        if (!res) { /* the end of one statement's results */
            if (j->got)
                j->next++;
            j->got = false;
            continue;
        }
        if (!j->got)
            take_result(c, j, (enum step_kind)j->steps[j->next], res);
        j->got = true;
        PQclear(res);
    }
    if (PQstatus(c->pg) != CONNECTION_OK) {
        rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "connection to PostgreSQL lost: %s",
                        PQerrorMessage(c->pg));
        return job_end(c, j, RG_ERR_UNAVAILABLE, err);
    }
    return RG_OK; /* *wait set by flush_wait */
}

static int pg_socket(void *conn) { return PQsocket(((pg_conn *)conn)->pg); }

/* The blocking form, on a worker thread: the same machine, waited on with poll(). */
static rg_status query_(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
                        rg_error *err)
{
    int wait = 0;
    rg_status st = pg_query_start(conn, plan, sink, &wait, err);
    while (st == RG_OK && wait) {
        struct pollfd pfd = {.fd = pg_socket(conn),
                             .events = (short)(((wait & RG_WAIT_READ) ? POLLIN : 0) |
                                               ((wait & RG_WAIT_WRITE) ? POLLOUT : 0))};
        int n = poll(&pfd, 1, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            pg_conn *c = conn;
            rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "cannot wait for PostgreSQL: %s",
                            strerror(errno));
            return job_end(c, &c->job, RG_ERR_UNAVAILABLE, err);
        }
        st = pg_query_resume(conn, &wait, err);
    }
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
    .query_start = pg_query_start,
    .query_resume = pg_query_resume,
    .socket = pg_socket,
};

__attribute__((visibility("default"))) const rg_adapter *rg_adapter_entry(const rg_host_api *h)
{
    /* The host table is immutable and identical for every call. */
    host = h;
    return &postgres_adapter;
}
