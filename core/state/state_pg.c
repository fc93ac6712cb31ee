/*
 * The PostgreSQL state store (state_store: postgres://...), for several
 * readgate hosts sharing tokens. The refresh protocol's row lock is
 * SELECT ... FOR UPDATE inside a transaction: another process's refresh of the
 * same connection waits for our COMMIT, then re-reads and finds the new token.
 * If this process dies, the server ends the transaction when the connection
 * drops, which releases the lock.
 */
#include "state/state_backend.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Schema creation runs under this advisory lock so two processes starting
   together don't race in CREATE TABLE IF NOT EXISTS. */
#define SCHEMA_LOCK_ID "7274656761746501"

static void set_err(PGconn *c, char *err, size_t errlen, const char *what)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s", c ? PQerrorMessage(c) : "?");
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    snprintf(err, errlen, "state store (postgres): %s: %s", what, msg);
}

/* A dropped connection (server restart) is reopened on next use. */
static void ensure_connected(PGconn *c)
{
    if (PQstatus(c) == CONNECTION_BAD)
        PQreset(c);
}

static int exec_cmd(PGconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (!ok)
        set_err(c, err, errlen, sql);
    return ok ? 0 : -1;
}

/* A parameterised command; *affected (when asked) is its row count. 0 or
   -1 with the reason ("<what>: <server message>"). */
static int exec_params(PGconn *c, const char *sql, int n, const char *const *params,
                       const char *what, int *affected, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (ok && affected)
        *affected = atoi(PQcmdTuples(r));
    PQclear(r);
    if (!ok)
        set_err(c, err, errlen, what);
    return ok ? 0 : -1;
}

/* Server notices ("relation already exists, skipping") are not ours to print. */
static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

void *rg_state_pg_open(const char *url, char *err, size_t errlen)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {url, "5", "readgate-state", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        set_err(c, err, errlen, "connect");
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet, NULL);
    /* Waiting for another process's refresh is expected; forever is not. */
    if (exec_cmd(c, "SET lock_timeout = '60s'", err, errlen) != 0 ||
        exec_cmd(c, "BEGIN", err, errlen) != 0) {
        PQfinish(c);
        return NULL;
    }
    if (exec_cmd(c, "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK_ID ")", err, errlen) != 0 ||
        exec_cmd(c, RG_STATE_SCHEMA, err, errlen) != 0 || exec_cmd(c, "COMMIT", err, errlen) != 0) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

static void pg_close(void *c) { PQfinish(c); }

static char *val(PGresult *r, int row, int col, int *oom)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    char *d = strdup(PQgetvalue(r, row, col));
    if (!d)
        *oom = 1;
    return d;
}

static int64_t ival(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : (int64_t)strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int read_row(PGresult *r, int i, rg_token_row *out)
{
    int oom = 0;
    rg_token_row t = {0};
    t.site_id = val(r, i, 0, &oom);
    t.source = val(r, i, 1, &oom);
    t.provider = val(r, i, 2, &oom);
    t.access_token_enc = val(r, i, 3, &oom);
    t.refresh_token_enc = val(r, i, 4, &oom);
    t.expires_at = ival(r, i, 5);
    t.last_refresh = ival(r, i, 6);
    t.state = val(r, i, 7, &oom);
    t.error = val(r, i, 8, &oom);
    t.updated_at = ival(r, i, 9);
    t.version = ival(r, i, 10);
    if (oom || !t.site_id || !t.source || !t.state || (!t.error && !(t.error = strdup("")))) {
        rg_token_row_clear(&t);
        return -1;
    }
    *out = t;
    return 0;
}

static int select_one(PGconn *c, const char *sql, const char *site, const char *source,
                      rg_token_row *out, char *err, size_t errlen)
{
    const char *params[2] = {site, source};
    PGresult *r = PQexecParams(c, sql, 2, NULL, params, NULL, NULL, 0);
    int ret;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        set_err(c, err, errlen, "select");
        ret = -1;
    } else if (PQntuples(r) == 0) {
        ret = 0;
    } else if (read_row(r, 0, out) != 0) {
        snprintf(err, errlen, "state store (postgres): out of memory");
        ret = -1;
    } else {
        ret = 1;
    }
    PQclear(r);
    return ret;
}

static int pg_get(void *c, const char *site, const char *source, rg_token_row *out, char *err,
                  size_t errlen)
{
    ensure_connected(c);
    return select_one(c, "SELECT " RG_STATE_COLUMNS
                         " FROM oauth_tokens WHERE site_id = $1 AND source = $2",
                      site, source, out, err, errlen);
}

/* Every row that `sql` selects (RG_STATE_COLUMNS, in that order). */
static int select_rows(PGconn *c, const char *sql, rg_token_row **rows, size_t *n, char *err,
                       size_t errlen)
{
    *rows = NULL;
    *n = 0;
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        set_err(c, err, errlen, "list");
        PQclear(r);
        return -1;
    }
    int nt = PQntuples(r);
    *rows = calloc(nt ? (size_t)nt : 1, sizeof **rows);
    if (!*rows) {
        PQclear(r);
        snprintf(err, errlen, "state store (postgres): out of memory");
        return -1;
    }
    for (int i = 0; i < nt; i++) {
        if (read_row(r, i, &(*rows)[*n]) != 0) {
            PQclear(r);
            rg_token_rows_free(*rows, *n);
            *rows = NULL;
            *n = 0;
            snprintf(err, errlen, "state store (postgres): out of memory");
            return -1;
        }
        (*n)++;
    }
    PQclear(r);
    return 0;
}

static int pg_list(void *c, rg_token_row **rows, size_t *n, char *err, size_t errlen)
{
    ensure_connected(c);
    return select_rows(c, "SELECT " RG_STATE_COLUMNS " FROM oauth_tokens ORDER BY site_id, source",
                       rows, n, err, errlen);
}

static void pg_rollback(void *c)
{
    PGresult *r = PQexec(c, "ROLLBACK");
    PQclear(r);
}

static int pg_commit(void *c, char *err, size_t errlen)
{
    if (exec_cmd(c, "COMMIT", err, errlen) != 0) {
        pg_rollback(c);
        return -1;
    }
    return 0;
}

static int pg_lock(void *c, const char *site, const char *source, rg_token_row *out, char *err,
                   size_t errlen)
{
    ensure_connected(c);
    if (exec_cmd(c, "BEGIN", err, errlen) != 0)
        return -1;
    int rc = select_one(c, "SELECT " RG_STATE_COLUMNS
                           " FROM oauth_tokens WHERE site_id = $1 AND source = $2 FOR UPDATE",
                        site, source, out, err, errlen);
    if (rc < 0)
        pg_rollback(c);
    return rc;
}

static int upsert(PGconn *c, const rg_token_row *t, char *err, size_t errlen)
{
    char e[24], l[24], u[24], v[24];
    snprintf(e, sizeof e, "%" PRId64, t->expires_at);
    snprintf(l, sizeof l, "%" PRId64, t->last_refresh);
    snprintf(u, sizeof u, "%" PRId64, t->updated_at);
    snprintf(v, sizeof v, "%" PRId64, t->version);
    const char *p[11] = {t->site_id, t->source, t->provider, t->access_token_enc,
                         t->refresh_token_enc, e, l, t->state, t->error ? t->error : "", u, v};
    return exec_params(
        c,
        "INSERT INTO oauth_tokens (" RG_STATE_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
        "$9, $10, $11) ON CONFLICT (site_id, source) DO UPDATE SET provider = EXCLUDED.provider, "
        "access_token_enc = EXCLUDED.access_token_enc, refresh_token_enc = "
        "EXCLUDED.refresh_token_enc, expires_at = EXCLUDED.expires_at, last_refresh = "
        "EXCLUDED.last_refresh, state = EXCLUDED.state, error = EXCLUDED.error, updated_at = "
        "EXCLUDED.updated_at, version = EXCLUDED.version",
        11, p, "write", NULL, err, errlen);
}

static int pg_update_locked(void *c, const rg_token_row *row, char *err, size_t errlen)
{
    if (upsert(c, row, err, errlen) != 0) {
        pg_rollback(c);
        return -1;
    }
    return 0;
}

static int pg_import(void *c, const rg_token_row *row, char *err, size_t errlen)
{
    rg_token_row old = {0};
    int found = pg_lock(c, row->site_id, row->source, &old, err, errlen);
    if (found < 0)
        return -1;
    rg_token_row t = *row;
    t.version = found ? old.version + 1 : 1;
    rg_token_row_clear(&old);
    /* An absent row can't be locked: a concurrent import may insert it
       first, and the upsert then replaces it, which is what import means. */
    if (upsert(c, &t, err, errlen) != 0) {
        pg_rollback(c);
        return -1;
    }
    return pg_commit(c, err, errlen);
}

static int pg_delete(void *c, const char *site, const char *source, char *err, size_t errlen)
{
    ensure_connected(c);
    const char *p[2] = {site, source};
    int n = 0;
    if (exec_params(c, "DELETE FROM oauth_tokens WHERE site_id = $1 AND source = $2", 2, p,
                    "delete", &n, err, errlen) != 0)
        return -1;
    return n > 0 ? 1 : 0;
}

static int pg_ensure(void *c, const char *site, const char *source, const char *provider,
                     char *err, size_t errlen)
{
    ensure_connected(c);
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)time(NULL));
    const char *p[4] = {site, source, provider, now};
    return exec_params(c,
                       "INSERT INTO oauth_tokens (site_id, source, provider, expires_at, state, "
                       "error, updated_at, version) VALUES ($1, $2, $3, 1, 'ok', '', $4, 0) "
                       "ON CONFLICT (site_id, source) DO NOTHING",
                       4, p, "ensure", NULL, err, errlen);
}

static int pg_lock_all(void *c, rg_token_row **rows, size_t *n, char *err, size_t errlen)
{
    ensure_connected(c);
    *rows = NULL;
    *n = 0;
    if (exec_cmd(c, "BEGIN", err, errlen) != 0)
        return -1;
    /* The same row locks a refresh takes (pg_lock), in one order, so that two
       of these never deadlock each other; a refresh holds one row at a time,
       so it can only make us wait (lock_timeout), never deadlock. */
    if (select_rows(c,
                    "SELECT " RG_STATE_COLUMNS
                    " FROM oauth_tokens ORDER BY site_id, source FOR UPDATE",
                    rows, n, err, errlen) != 0) {
        pg_rollback(c);
        return -1;
    }
    return 0;
}

static int pg_events_add(void *vc, const rg_event_count *rows, size_t n, char *err,
                         size_t errlen)
{
    PGconn *c = vc;
    if (exec_cmd(c, "BEGIN", err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const rg_event_count *r = &rows[i];
        char nb[24], ib[24];
        snprintf(nb, sizeof nb, "%lld", (long long)r->n);
        snprintf(ib, sizeof ib, "%lld", (long long)r->items);
        const char *params[8] = {r->site_id, r->day,   r->event, r->collection,
                                 r->field,   r->latency, nb,     ib};
        if (exec_params(c, RG_EVENTS_UPSERT("$1", "$2", "$3", "$4", "$5", "$6", "$7::bigint",
                                            "$8::bigint"),
                        8, params, "events", NULL, err, errlen) != 0) {
            exec_cmd(c, "ROLLBACK", NULL, 0);
            return -1;
        }
    }
    return exec_cmd(c, "COMMIT", err, errlen);
}

static int pg_events_list(void *vc, const char *site, rg_event_count **rows, size_t *n,
                          char *err, size_t errlen)
{
    PGconn *c = vc;
    *rows = NULL;
    *n = 0;
    const char *params[1] = {site};
    PGresult *r = PQexecParams(c, site ? RG_EVENTS_LIST " WHERE site_id = $1" RG_EVENTS_GROUP
                                       : RG_EVENTS_LIST RG_EVENTS_GROUP,
                               site ? 1 : 0, NULL, site ? params : NULL, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        set_err(c, err, errlen, "events list");
        PQclear(r);
        return -1;
    }
    int nt = PQntuples(r);
    if (nt > 0 && !(*rows = calloc((size_t)nt, sizeof **rows))) {
        snprintf(err, errlen, "out of memory");
        PQclear(r);
        return -1;
    }
    for (int i = 0; i < nt; i++) {
        rg_event_count *e = &(*rows)[i];
        snprintf(e->site_id, sizeof e->site_id, "%s", PQgetvalue(r, i, 0));
        snprintf(e->event, sizeof e->event, "%s", PQgetvalue(r, i, 1));
        snprintf(e->collection, sizeof e->collection, "%s", PQgetvalue(r, i, 2));
        snprintf(e->field, sizeof e->field, "%s", PQgetvalue(r, i, 3));
        snprintf(e->latency, sizeof e->latency, "%s", PQgetvalue(r, i, 4));
        e->n = ival(r, i, 5);
        e->items = ival(r, i, 6);
    }
    *n = (size_t)nt;
    PQclear(r);
    return 0;
}

const rg_state_ops rg_state_pg_ops = {
    .kind = "postgres",
    .close = pg_close,
    .get = pg_get,
    .list = pg_list,
    .import = pg_import,
    .del = pg_delete,
    .lock = pg_lock,
    .update_locked = pg_update_locked,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .ensure = pg_ensure,
    .lock_all = pg_lock_all,
    .events_add = pg_events_add,
    .events_list = pg_events_list,
};
