/*
 * What the files of the mysql adapter share. Private to the adapter (linked
 * into one .so, symbols hidden):
 *   mysql_adapter.c  the descriptor and the entry point
 *   mysql_conn.c     the connector library, options, connections, ping
 *   mysql_errors.c   mapping connector and server errors to the gateway's
 *   mysql_query.c    prepared statements, parameters, running a plan
 *   mysql_rows.c     reading result columns as typed values for the sink
 *   mysql_columns.c  which columns are NOT NULL (ORDER BY without IS NULL)
 */
#ifndef RG_MYSQL_INTERNAL_H
#define RG_MYSQL_INTERNAL_H

#include <mysql.h>

#include <readgate/adapter.h>

#include "sqlbuild.h"
#include "adapter_err.h"

#define ADAPTER_NAME "mysql"
#define STMT_CACHE_SIZE 64

/* The host services, set once by the entry point before any other call. */
extern const rg_host_api *rg_my_host;

#define logf_(lvl, ...) rg_adapter_log(rg_my_host, ADAPTER_NAME, lvl, __VA_ARGS__)

/* ---- connections (mysql_conn.c) ---------------------------------------------- */

typedef struct cached_stmt {
    char *sql;
    MYSQL_STMT *stmt;
    unsigned long long used; /* LRU clock */
} cached_stmt;

#define COLUMNS_CACHE_SIZE 16

/* NOT NULL columns of one target (mysql_columns.c). */
typedef struct rg_my_columns rg_my_columns;
struct rg_my_columns {
    char *target;
    char *names;
    unsigned long long used;
};

typedef struct my_conn {
    MYSQL *db;
    rg_my_columns columns[COLUMNS_CACHE_SIZE];
    int mariadb;
    unsigned long statement_timeout_ms; /* 0 = no cap from the options */
    unsigned long session_timeout_ms;   /* what the session's timeout is set to now */
    rg_sql_dialect dialect;
    cached_stmt cache[STMT_CACHE_SIZE];
    unsigned long long clock;
} my_conn;

rg_status rg_my_check_options(const rg_source_info *src, rg_error *err);
rg_status rg_my_connect(const rg_source_info *src, void **out, rg_error *err);
void rg_my_disconnect(void *conn);
rg_status rg_my_ping(void *conn, rg_error *err);

/* Close a cached statement and empty its slot. */
void rg_my_close_stmt(cached_stmt *e);
/* Run a statement that returns no rows. */
rg_status rg_my_exec_simple(my_conn *c, const char *sql, const char *what, rg_error *err);

/* ---- column nullability (mysql_columns.c) ---------------------------------------- */

/* The dialect's not_null callback (ctx: the connection). */
int rg_my_not_null(void *ctx, const rg_collection_desc *coll, size_t field);
void rg_my_columns_free(my_conn *c);

/* ---- errors (mysql_errors.c) --------------------------------------------------- */

int rg_my_is_auth_error(unsigned code);
rg_status rg_my_db_error(MYSQL *db, const char *what, rg_error *err);
rg_status rg_my_stmt_error(MYSQL_STMT *stmt, const char *what, rg_error *err);

/* ---- queries (mysql_query.c) and rows (mysql_rows.c) ------------------------------ */

rg_status rg_my_query(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
                      rg_error *err);
/* Stream the stored result of an executed statement to the sink. */
rg_status rg_my_send_rows(MYSQL_STMT *stmt, const rg_query_plan *plan, const rg_row_sink *sink,
                          rg_error *err);

#endif
