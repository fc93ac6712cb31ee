/*
 * The SQLite state store (state_store: sqlite:PATH, the default). WAL mode so
 * readers never wait for the one writer, synchronous=FULL so a committed
 * refresh token survives a power cut, and a long busy_timeout: a writer waits
 * for another process's refresh instead of failing. The row lock of the
 * refresh protocol is SQLite's write lock, taken by BEGIN IMMEDIATE (the whole
 * file: refreshes are rare and short, so that costs nothing).
 */
#include "state/state_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Longer than a token endpoint may take (core/oauth uses 20 s), so a
   process waiting for another's refresh gets the lock rather than an error. */
#define BUSY_TIMEOUT_MS 60000

static void set_err(sqlite3 *db, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "state store (sqlite): %s: %s", what, db ? sqlite3_errmsg(db) : "?");
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        set_err(db, err, errlen, sql);
        return -1;
    }
    return 0;
}

/*
 * Created 0600 before SQLite sees it: tokens are encrypted, but who used
 * which provider when is nobody else's business (the -wal and -shm files take
 * the database file's mode). Only when it does not exist yet, and under a
 * process-wide lock: closing any descriptor of a file drops every POSIX lock
 * this process holds on it, so closing one while another thread's connection
 * has the database open would silently release that connection's locks.
 */
static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;

static int create_private(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return 0;
    if (errno != ENOENT) {
        snprintf(err, errlen, "state store (sqlite): cannot use %s: %s", path, strerror(errno));
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) {
        snprintf(err, errlen, "state store (sqlite): cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    if (fd >= 0)
        close(fd);
    return 0;
}

void *rg_state_sqlite_open(const char *path, char *err, size_t errlen)
{
    pthread_mutex_lock(&create_lock);
    int rc = create_private(path, err, errlen);
    pthread_mutex_unlock(&create_lock);
    if (rc != 0)
        return NULL;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        set_err(db, err, errlen, "open");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    if (exec(db, "PRAGMA journal_mode=WAL", err, errlen) != 0 ||
        exec(db, "PRAGMA synchronous=FULL", err, errlen) != 0 ||
        exec(db, RG_STATE_SCHEMA, err, errlen) != 0) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static void sq_close(void *db) { sqlite3_close(db); }

static char *col_text(sqlite3_stmt *s, int i, int *oom)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    if (!t)
        return NULL;
    char *d = strdup((const char *)t);
    if (!d)
        *oom = 1;
    return d;
}

static int read_row(sqlite3_stmt *s, rg_token_row *out)
{
    int oom = 0;
    rg_token_row r = {0};
    r.site_id = col_text(s, 0, &oom);
    r.source = col_text(s, 1, &oom);
    r.provider = col_text(s, 2, &oom);
    r.access_token_enc = col_text(s, 3, &oom);
    r.refresh_token_enc = col_text(s, 4, &oom);
    r.expires_at = sqlite3_column_int64(s, 5);
    r.last_refresh = sqlite3_column_int64(s, 6);
    r.state = col_text(s, 7, &oom);
    r.error = col_text(s, 8, &oom);
    r.updated_at = sqlite3_column_int64(s, 9);
    r.version = sqlite3_column_int64(s, 10);
    if (oom || !r.site_id || !r.source || !r.state) {
        rg_token_row_clear(&r);
        return -1;
    }
    if (!r.error && !(r.error = strdup(""))) {
        rg_token_row_clear(&r);
        return -1;
    }
    *out = r;
    return 0;
}

/* A statement, or -1 with the reason ("prepare <what>: <sqlite's message>"). */
static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **s, char *err, size_t errlen,
                   const char *what)
{
    if (sqlite3_prepare_v2(db, sql, -1, s, NULL) == SQLITE_OK)
        return 0;
    char w[64];
    snprintf(w, sizeof w, "prepare %s", what);
    set_err(db, err, errlen, w);
    return -1;
}

static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
    return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

/* Parameters first .. first+n-1 from v[0..n). */
static void bind_texts(sqlite3_stmt *s, int first, const char *const *v, int n)
{
    for (int i = 0; i < n; i++)
        bind_text(s, first + i, v[i]);
}

static int select_one(sqlite3 *db, const char *site, const char *source, rg_token_row *out,
                      char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    if (prepare(db,
                "SELECT " RG_STATE_COLUMNS " FROM oauth_tokens WHERE site_id = ?1 AND source = ?2",
                &s, err, errlen, "select") != 0)
        return -1;
    bind_text(s, 1, site);
    bind_text(s, 2, source);
    int rc = sqlite3_step(s), ret;
    if (rc == SQLITE_ROW) {
        ret = read_row(s, out) == 0 ? 1 : -1;
        if (ret < 0)
            snprintf(err, errlen, "state store (sqlite): out of memory");
    } else if (rc == SQLITE_DONE) {
        ret = 0;
    } else {
        set_err(db, err, errlen, "select");
        ret = -1;
    }
    sqlite3_finalize(s);
    return ret;
}

static int sq_get(void *db, const char *site, const char *source, rg_token_row *out, char *err,
                  size_t errlen)
{
    return select_one(db, site, source, out, err, errlen);
}

static int sq_list(void *vdb, rg_token_row **rows, size_t *n, char *err, size_t errlen)
{
    sqlite3 *db = vdb;
    sqlite3_stmt *s = NULL;
    *rows = NULL;
    *n = 0;
    if (prepare(db, "SELECT " RG_STATE_COLUMNS " FROM oauth_tokens ORDER BY site_id, source",
                &s, err, errlen, "list") != 0)
        return -1;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            rg_token_row *nr = realloc(*rows, nc * sizeof *nr);
            if (!nr)
                goto oom;
            *rows = nr;
            cap = nc;
        }
        if (read_row(s, &(*rows)[*n]) != 0)
            goto oom;
        (*n)++;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        set_err(db, err, errlen, "list");
        rg_token_rows_free(*rows, *n);
        *rows = NULL;
        *n = 0;
        return -1;
    }
    return 0;
oom:
    sqlite3_finalize(s);
    rg_token_rows_free(*rows, *n);
    *rows = NULL;
    *n = 0;
    snprintf(err, errlen, "state store (sqlite): out of memory");
    return -1;
}

static void sq_rollback(void *db) { sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL); }

static int sq_commit(void *db, char *err, size_t errlen)
{
    if (exec(db, "COMMIT", err, errlen) != 0) {
        sq_rollback(db);
        return -1;
    }
    return 0;
}

/* INSERT OR REPLACE of every column. */
static int write_row(sqlite3 *db, const rg_token_row *r, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    if (prepare(db,
                "INSERT OR REPLACE INTO oauth_tokens (" RG_STATE_COLUMNS
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                &s, err, errlen, "write") != 0)
        return -1;
    const char *keys[] = {r->site_id, r->source, r->provider, r->access_token_enc,
                          r->refresh_token_enc};
    bind_texts(s, 1, keys, 5);
    sqlite3_bind_int64(s, 6, r->expires_at);
    sqlite3_bind_int64(s, 7, r->last_refresh);
    bind_text(s, 8, r->state);
    bind_text(s, 9, r->error ? r->error : "");
    sqlite3_bind_int64(s, 10, r->updated_at);
    sqlite3_bind_int64(s, 11, r->version);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        set_err(db, err, errlen, "write");
        return -1;
    }
    return 0;
}

static int sq_lock(void *vdb, const char *site, const char *source, rg_token_row *out, char *err,
                   size_t errlen)
{
    sqlite3 *db = vdb;
    /* Waits (busy_timeout) while another connection, in this process or
       another, holds the write lock: that is the one-refresh-at-a-time rule. */
    if (exec(db, "BEGIN IMMEDIATE", err, errlen) != 0)
        return -1;
    int rc = select_one(db, site, source, out, err, errlen);
    if (rc < 0)
        sq_rollback(db);
    return rc;
}

static int sq_update_locked(void *db, const rg_token_row *row, char *err, size_t errlen)
{
    if (write_row(db, row, err, errlen) != 0) {
        sq_rollback(db);
        return -1;
    }
    return 0;
}

static int sq_import(void *vdb, const rg_token_row *row, char *err, size_t errlen)
{
    sqlite3 *db = vdb;
    rg_token_row old = {0};
    int found = sq_lock(db, row->site_id, row->source, &old, err, errlen);
    if (found < 0)
        return -1;
    rg_token_row r = *row;
    r.version = found ? old.version + 1 : 1;
    rg_token_row_clear(&old);
    if (write_row(db, &r, err, errlen) != 0) {
        sq_rollback(db);
        return -1;
    }
    return sq_commit(db, err, errlen);
}

static int sq_delete(void *vdb, const char *site, const char *source, char *err, size_t errlen)
{
    sqlite3 *db = vdb;
    sqlite3_stmt *s = NULL;
    if (prepare(db, "DELETE FROM oauth_tokens WHERE site_id = ?1 AND source = ?2", &s, err,
                errlen, "delete") != 0)
        return -1;
    bind_text(s, 1, site);
    bind_text(s, 2, source);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        set_err(db, err, errlen, "delete");
        return -1;
    }
    return sqlite3_changes(db) > 0 ? 1 : 0;
}

static int sq_ensure(void *vdb, const char *site, const char *source, const char *provider,
                     char *err, size_t errlen)
{
    sqlite3 *db = vdb;
    sqlite3_stmt *s = NULL;
    if (prepare(db,
                "INSERT OR IGNORE INTO oauth_tokens (site_id, source, provider, "
                "expires_at, state, error, updated_at, version) "
                "VALUES (?1, ?2, ?3, 1, 'ok', '', ?4, 0)",
                &s, err, errlen, "ensure") != 0) {
        return -1;
    }
    bind_text(s, 1, site);
    bind_text(s, 2, source);
    bind_text(s, 3, provider);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)time(NULL));
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        set_err(db, err, errlen, "ensure");
        return -1;
    }
    return 0;
}

static int sq_lock_all(void *vdb, rg_token_row **rows, size_t *n, char *err, size_t errlen)
{
    sqlite3 *db = vdb;
    *rows = NULL;
    *n = 0;
    /* The database-wide write lock: a refresh (sq_lock) waits for our
       COMMIT and then re-reads what we wrote, and we wait for one in flight.
       Readers go on meanwhile (WAL). */
    if (exec(db, "BEGIN IMMEDIATE", err, errlen) != 0)
        return -1;
    if (sq_list(db, rows, n, err, errlen) != 0) {
        sq_rollback(db);
        return -1;
    }
    return 0;
}

static int sq_events_add(void *vdb, const rg_event_count *rows, size_t n, char *err,
                         size_t errlen)
{
    sqlite3 *db = vdb;
    sqlite3_stmt *s = NULL;
    if (exec(db, "BEGIN IMMEDIATE", err, errlen) != 0)
        return -1;
    if (prepare(db, RG_EVENTS_UPSERT("?1", "?2", "?3", "?4", "?5", "?6", "?7", "?8"), &s, err,
                errlen, "events") != 0) {
        exec(db, "ROLLBACK", NULL, 0);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const rg_event_count *r = &rows[i];
        sqlite3_reset(s);
        const char *dims[] = {r->site_id, r->day, r->event, r->collection, r->field, r->latency};
        bind_texts(s, 1, dims, 6);
        sqlite3_bind_int64(s, 7, r->n);
        sqlite3_bind_int64(s, 8, r->items);
        if (sqlite3_step(s) != SQLITE_DONE) {
            set_err(db, err, errlen, "events");
            sqlite3_finalize(s);
            exec(db, "ROLLBACK", NULL, 0);
            return -1;
        }
    }
    sqlite3_finalize(s);
    return exec(db, "COMMIT", err, errlen);
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static int sq_events_list(void *vdb, const char *site, rg_event_count **rows, size_t *n,
                          char *err, size_t errlen)
{
    sqlite3 *db = vdb;
    sqlite3_stmt *s = NULL;
    *rows = NULL;
    *n = 0;
    const char *sql = site ? RG_EVENTS_LIST " WHERE site_id = ?1" RG_EVENTS_GROUP
                           : RG_EVENTS_LIST RG_EVENTS_GROUP;
    if (prepare(db, sql, &s, err, errlen, "events list") != 0)
        return -1;
    if (site)
        bind_text(s, 1, site);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            rg_event_count *nr = realloc(*rows, nc * sizeof *nr);
            if (!nr) {
                snprintf(err, errlen, "out of memory");
                sqlite3_finalize(s);
                free(*rows);
                *rows = NULL;
                *n = 0;
                return -1;
            }
            *rows = nr;
            cap = nc;
        }
        rg_event_count *r = &(*rows)[(*n)++];
        memset(r, 0, sizeof *r);
        copy_col(r->site_id, sizeof r->site_id, s, 0);
        copy_col(r->event, sizeof r->event, s, 1);
        copy_col(r->collection, sizeof r->collection, s, 2);
        copy_col(r->field, sizeof r->field, s, 3);
        copy_col(r->latency, sizeof r->latency, s, 4);
        r->n = sqlite3_column_int64(s, 5);
        r->items = sqlite3_column_int64(s, 6);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        set_err(db, err, errlen, "events list");
        free(*rows);
        *rows = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

const rg_state_ops rg_state_sqlite_ops = {
    .kind = "sqlite",
    .close = sq_close,
    .get = sq_get,
    .list = sq_list,
    .import = sq_import,
    .del = sq_delete,
    .lock = sq_lock,
    .update_locked = sq_update_locked,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .ensure = sq_ensure,
    .events_add = sq_events_add,
    .events_list = sq_events_list,
    .lock_all = sq_lock_all,
};
