/*
 * readgate-adapter-sqlite: reads a SQLite database file, read-only.
 *
 * Options: path (required; relative to the site file's directory). The core's
 * own source options (timeout_ms, connect_timeout_ms, workers) are accepted
 * and ignored here.
 *
 * One connection per worker thread, opened read-only with query_only set, so
 * no statement can write. Prepared statements are cached per connection by
 * SQL text; the text depends only on the plan's shape, never on values.
 */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <readgate/adapter.h>

#include "sqlbuild.h"
#include "adapter_err.h"

#define ADAPTER_NAME "sqlite"
#define STMT_CACHE_SIZE 64
/* VM instructions between deadline checks: cheap, and well under 1 ms. */
#define PROGRESS_STEPS 1000

static const rg_host_api *host;

#define logf_(lvl, ...) rg_adapter_log(host, ADAPTER_NAME, lvl, __VA_ARGS__)

typedef struct cached_stmt {
    char *sql;
    sqlite3_stmt *stmt;
    unsigned long long used; /* LRU clock */
} cached_stmt;

typedef struct sqlite_conn {
    sqlite3 *db;
    cached_stmt cache[STMT_CACHE_SIZE];
    unsigned long long clock;
    struct timespec deadline;
    int timed_out;
} sqlite_conn;

static rg_status check_options(const rg_source_info *src, rg_error *err)
{
    const char *path = NULL;
    for (size_t i = 0; i < src->noptions; i++) {
        const rg_option *o = rg_option_at(src->options, i);
        if (!strcmp(o->key, "path"))
            path = o->value;
        else
            return rg_adapter_fail(err, RG_ERR_CONFIG,
                           "unknown option '%s' for the sqlite adapter; expected: path", o->key);
    }
    if (!path || !*path)
        return rg_adapter_fail(err, RG_ERR_CONFIG,
                       "option 'path' is required: the SQLite database file to read");
    return RG_OK;
}

static int deadline_passed(void *arg)
{
    sqlite_conn *c = arg;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > c->deadline.tv_sec ||
        (now.tv_sec == c->deadline.tv_sec && now.tv_nsec >= c->deadline.tv_nsec)) {
        c->timed_out = 1;
        return 1; /* interrupts the statement with SQLITE_INTERRUPT */
    }
    return 0;
}

static void close_conn(sqlite_conn *c)
{
    for (size_t i = 0; i < STMT_CACHE_SIZE; i++) {
        if (c->cache[i].stmt)
            sqlite3_finalize(c->cache[i].stmt);
        free(c->cache[i].sql);
    }
    if (c->db)
        sqlite3_close(c->db);
    free(c);
}

static rg_status connect_(const rg_source_info *src, void **out, rg_error *err)
{
    *out = NULL;
    rg_status st = check_options(src, err);
    if (st != RG_OK)
        return st;
    const char *path = NULL;
    for (size_t i = 0; i < src->noptions; i++)
        if (!strcmp(rg_option_at(src->options, i)->key, "path"))
            path = rg_option_at(src->options, i)->value;

    char full[PATH_MAX];
    int n;
    if (path[0] == '/' || !src->base_dir || !*src->base_dir)
        n = snprintf(full, sizeof full, "%s", path);
    else
        n = snprintf(full, sizeof full, "%s/%s", src->base_dir, path);
    if (n < 0 || (size_t)n >= sizeof full)
        return rg_adapter_fail(err, RG_ERR_CONFIG, "option 'path' is too long");

    /* SQLite would report a missing file only as "unable to open"; say which. */
    struct stat sb;
    if (stat(full, &sb) != 0)
        return rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "cannot open SQLite database '%s': %s", full,
                       strerror(errno));

    sqlite_conn *c = calloc(1, sizeof *c);
    if (!c)
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
    /* Each connection belongs to one worker thread at a time, so SQLite's own
       per-connection mutex is unnecessary when the library is thread-safe. */
    int flags = SQLITE_OPEN_READONLY;
    if (sqlite3_threadsafe())
        flags |= SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(full, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "cannot open SQLite database '%s': %s", full,
                c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        close_conn(c);
        return RG_ERR_UNAVAILABLE;
    }
    sqlite3_extended_result_codes(c->db, 1);
    char *emsg = NULL;
    rc = sqlite3_exec(c->db, "PRAGMA query_only = 1", NULL, NULL, &emsg);
    if (rc != SQLITE_OK) {
        rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "cannot set query_only on '%s': %s", full,
                emsg ? emsg : sqlite3_errstr(rc));
        sqlite3_free(emsg);
        close_conn(c);
        return RG_ERR_UNAVAILABLE;
    }
    /* Reading the schema now turns "not a database" into a connect error. */
    rc = sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, &emsg);
    if (rc != SQLITE_OK) {
        rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "cannot read SQLite database '%s': %s", full,
                emsg ? emsg : sqlite3_errstr(rc));
        sqlite3_free(emsg);
        close_conn(c);
        return RG_ERR_UNAVAILABLE;
    }
    sqlite3_progress_handler(c->db, PROGRESS_STEPS, deadline_passed, c);
    *out = c;
    return RG_OK;
}

static void disconnect_(void *conn)
{
    close_conn(conn);
}

/* Map a SQLite result code to the gateway's error classes. */
static rg_status map_error(sqlite_conn *c, int rc, const char *what, rg_error *err)
{
    int prim = rc & 0xff;
    if (prim == SQLITE_INTERRUPT && c->timed_out)
        return rg_adapter_fail(err, RG_ERR_TIMEOUT, "query exceeded its time budget");
    if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
        return rg_adapter_fail(err, RG_ERR_TIMEOUT, "database is locked: %s", sqlite3_errstr(rc));
    if (prim == SQLITE_NOMEM)
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory in SQLite");
    if (prim == SQLITE_IOERR || prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB ||
        prim == SQLITE_CANTOPEN || prim == SQLITE_FULL)
        return rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "%s: %s", what, sqlite3_errmsg(c->db));
    /* Schema problems (no such table/column) and the like: values are bound,
       so the message holds identifiers only. */
    return rg_adapter_fail(err, RG_ERR_UPSTREAM, "%s: %s", what, sqlite3_errmsg(c->db));
}

/* A cached statement for `sql`, prepared on first use; LRU eviction. */
static sqlite3_stmt *get_stmt(sqlite_conn *c, const char *sql, size_t len, int *rc)
{
    cached_stmt *victim = &c->cache[0];
    for (size_t i = 0; i < STMT_CACHE_SIZE; i++) {
        cached_stmt *e = &c->cache[i];
        if (e->sql && !strcmp(e->sql, sql)) {
            e->used = ++c->clock;
            *rc = SQLITE_OK;
            return e->stmt;
        }
        if (!e->sql || e->used < victim->used)
            victim = e;
        if (!e->sql)
            break;
    }
    sqlite3_stmt *stmt = NULL;
    *rc = sqlite3_prepare_v3(c->db, sql, (int)len + 1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (*rc != SQLITE_OK)
        return NULL;
    char *copy = strdup(sql);
    if (!copy) {
        sqlite3_finalize(stmt);
        *rc = SQLITE_NOMEM;
        return NULL;
    }
    if (victim->stmt)
        sqlite3_finalize(victim->stmt);
    free(victim->sql);
    victim->sql = copy;
    victim->stmt = stmt;
    victim->used = ++c->clock;
    return stmt;
}

static int bind_value(sqlite3_stmt *stmt, int idx, const rg_value *v)
{
    switch (v->type) {
    case RG_TYPE_INTEGER: return sqlite3_bind_int64(stmt, idx, v->u.i);
    case RG_TYPE_NUMBER: return sqlite3_bind_double(stmt, idx, v->u.n);
    case RG_TYPE_BOOLEAN: return sqlite3_bind_int(stmt, idx, v->u.b ? 1 : 0);
    case RG_TYPE_STRING:
    case RG_TYPE_ENUM:
    case RG_TYPE_DATE:
    case RG_TYPE_DATETIME:
        if (v->u.str.len > INT_MAX)
            return SQLITE_TOOBIG;
        /* STATIC: the values outlive the statement's use (cleared before return). */
        return sqlite3_bind_text(stmt, idx, v->u.str.ptr ? v->u.str.ptr : "", (int)v->u.str.len,
                                 SQLITE_STATIC);
    }
    return SQLITE_MISMATCH;
}

/*
 * A column with no integer or real value in it (SQLite keeps whatever was
 * stored, whatever the declared type): text counts when all of it is the
 * number, as the postgres and mysql adapters read their text results
 * (rg_sql_number_from_text). -1 when it does not convert.
 */
static int number_from_text(sqlite3_stmt *stmt, int i, rg_type type, rg_value *v)
{
    if (sqlite3_column_type(stmt, i) != SQLITE_TEXT)
        return -1; /* a BLOB */
    const char *t = (const char *)sqlite3_column_text(stmt, i);
    return t ? rg_sql_number_from_text(t, type, v) : -1;
}

/* Column `i` of the current row as a value of the field's declared type.
   `dt` is scratch space for a normalised datetime. -1 when the stored value
   is not a number and the field is numeric. */
static int read_column(sqlite3_stmt *stmt, int i, rg_type type, rg_value *v, char *dt,
                       size_t dtsz)
{
    memset(v, 0, sizeof *v);
    v->struct_size = sizeof *v; /* the gateway steps through a row by it */
    v->type = type;
    int ct = sqlite3_column_type(stmt, i);
    if (ct == SQLITE_NULL) {
        v->is_null = 1;
        return 0;
    }
    switch (type) {
    case RG_TYPE_INTEGER:
        if (ct != SQLITE_INTEGER && ct != SQLITE_FLOAT)
            return number_from_text(stmt, i, type, v);
        v->u.i = sqlite3_column_int64(stmt, i);
        break;
    case RG_TYPE_NUMBER:
        if (ct != SQLITE_INTEGER && ct != SQLITE_FLOAT)
            return number_from_text(stmt, i, type, v);
        v->u.n = sqlite3_column_double(stmt, i);
        break;
    case RG_TYPE_BOOLEAN:
        if (ct == SQLITE_TEXT) {
            const unsigned char *t = sqlite3_column_text(stmt, i);
            v->u.b = t && (t[0] == 't' || t[0] == 'T' || t[0] == 'y' || t[0] == 'Y' ||
                           (t[0] >= '1' && t[0] <= '9'));
        } else {
            v->u.b = sqlite3_column_double(stmt, i) != 0;
        }
        break;
    case RG_TYPE_DATETIME:
        if (ct == SQLITE_INTEGER) {
            size_t n = rg_sql_datetime_from_unix(sqlite3_column_int64(stmt, i), dt, dtsz);
            if (n) {
                v->u.str.ptr = dt;
                v->u.str.len = n;
                break;
            }
        } else {
            const char *t = (const char *)sqlite3_column_text(stmt, i);
            size_t len = (size_t)sqlite3_column_bytes(stmt, i);
            size_t n = t ? rg_sql_datetime_canon(t, len, dt, dtsz) : 0;
            v->u.str.ptr = n ? dt : (t ? t : "");
            v->u.str.len = n ? n : (t ? len : 0);
            break;
        }
        /* fallthrough */
    default: {
        const char *t = (const char *)sqlite3_column_text(stmt, i);
        v->u.str.ptr = t ? t : "";
        v->u.str.len = t ? (size_t)sqlite3_column_bytes(stmt, i) : 0;
        break;
    }
    }
    return 0;
}

#define DT_SCRATCH 40

static rg_status run_stmt(sqlite_conn *c, sqlite3_stmt *stmt, const rg_query_plan *plan,
                          const rg_row_sink *sink, rg_error *err)
{
    int ncols = sqlite3_column_count(stmt);
    if (ncols < 0 || (size_t)ncols != plan->ncolumns)
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "statement returns %d columns, expected %zu", ncols,
                       plan->ncolumns);
    rg_value *vals = calloc(plan->ncolumns, sizeof *vals);
    char *dt = malloc(plan->ncolumns * DT_SCRATCH);
    if (!vals || !dt) {
        free(vals);
        free(dt);
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
    }
    rg_status st = RG_OK;
    for (;;) {
        int rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            st = map_error(c, rc, "query failed", err);
            break;
        }
        for (size_t i = 0; i < plan->ncolumns && st == RG_OK; i++) {
            const rg_field_desc *f = rg_field_at(plan->collection->fields, plan->columns[i]);
            if (read_column(stmt, (int)i, f->type, &vals[i], dt + i * DT_SCRATCH, DT_SCRATCH) != 0)
                st = rg_adapter_fail(err, RG_ERR_UPSTREAM,
                                     "column '%s' holds a value that is not a%s %s as configured",
                                     f->column ? f->column : f->name,
                                     f->type == RG_TYPE_INTEGER ? "n" : "",
                                     f->type == RG_TYPE_INTEGER ? "integer" : "number");
        }
        if (st != RG_OK)
            break;
        if (sink->row(sink->ctx, vals, plan->ncolumns) != 0) {
            st = rg_adapter_fail(err, RG_ERR_ABORTED, "stopped by the gateway");
            break;
        }
    }
    free(vals);
    free(dt);
    return st;
}

static rg_status query_(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
                        rg_error *err)
{
    sqlite_conn *c = conn;
    rg_sql_dialect d;
    rg_sql_dialect_sqlite(&d);
    rg_sql_query q;
    memset(&q, 0, sizeof q);
    rg_status st = rg_sql_build_select(&d, plan, &q, err);
    if (st != RG_OK) {
        rg_sql_query_free(&q);
        return st;
    }

    /* The deadline covers prepare and every step. */
    uint32_t budget = plan->timeout_ms ? plan->timeout_ms : 5000;
    clock_gettime(CLOCK_MONOTONIC, &c->deadline);
    c->deadline.tv_sec += budget / 1000;
    c->deadline.tv_nsec += (long)(budget % 1000) * 1000000L;
    if (c->deadline.tv_nsec >= 1000000000L) {
        c->deadline.tv_sec++;
        c->deadline.tv_nsec -= 1000000000L;
    }
    c->timed_out = 0;
    sqlite3_busy_timeout(c->db, (int)(budget > INT_MAX ? INT_MAX : budget));

    int rc;
    sqlite3_stmt *stmt = get_stmt(c, q.sql.data, q.sql.len, &rc);
    if (!stmt) {
        st = map_error(c, rc, "cannot prepare query", err);
        rg_sql_query_free(&q);
        return st;
    }
    for (size_t i = 0; i < q.nparams && st == RG_OK; i++) {
        rc = bind_value(stmt, (int)i + 1, &q.params[i]);
        if (rc != SQLITE_OK)
            st = map_error(c, rc, "cannot bind parameter", err);
    }
    if (st == RG_OK)
        st = run_stmt(c, stmt, plan, sink, err);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    rg_sql_query_free(&q);
    if (st != RG_OK && st != RG_ERR_ABORTED)
        logf_(RG_LOG_DEBUG, "query on '%s' failed: %s", plan->collection->name, err->message);
    return st;
}

static rg_status ping_(void *conn, rg_error *err)
{
    sqlite_conn *c = conn;
    clock_gettime(CLOCK_MONOTONIC, &c->deadline);
    c->deadline.tv_sec += 2;
    c->timed_out = 0;
    int rc = sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return map_error(c, rc, "ping failed", err);
    return RG_OK;
}

static const rg_adapter sqlite_adapter = {
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
    return &sqlite_adapter;
}
