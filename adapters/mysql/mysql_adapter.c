/*
 * readgate-adapter-mysql: reads MariaDB (10.2.2 and later) and MySQL (8.0 and
 * later) through MariaDB Connector/C, the libmysqlclient API.
 *
 * Options: host or unix_socket (exactly one), port (with host; default 3306),
 * user (required), password, database (required), statement_timeout_ms
 * (optional cap on every query's budget). The source settings timeout_ms,
 * connect_timeout_ms and workers are read by the core and never reach the
 * adapter as options.
 *
 * Each connection is made read-only (SET SESSION TRANSACTION READ ONLY) with
 * autocommit, UTC, utf8mb4 and a fixed sql_mode, so the generated SQL means the
 * same on every server. A query's budget becomes the session's
 * max_statement_time (MariaDB) or max_execution_time (MySQL), set only when it
 * changes. Identifiers are quoted with backticks from the collection's
 * whitelist; values travel as typed parameters of server-side prepared
 * statements, cached per connection by SQL text (which depends only on the
 * plan's shape). Strings compare, sort and match in a binary NO PAD collation,
 * whatever the catalog's collation is (see rg_sql_dialect_mysql).
 */
#include <errmsg.h>
#include <errno.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <readgate/adapter.h>

#include "sqlbuild.h"
#include "adapter_err.h"

#define ADAPTER_NAME "mysql"
#define STMT_CACHE_SIZE 64
#define MAX_STATEMENT_TIMEOUT_MS 86400000UL
/* The largest budget the core gives a query (a source's timeout_ms). */
#define MAX_QUERY_BUDGET_MS 600000UL
/* Beyond a query's budget, how long the client waits for a silent server
   before it gives the connection up; the server's own timeout fires first. */
#define NET_TIMEOUT_SLACK_S 30U
#define DEFAULT_PORT 3306U
/* Server-side error numbers MySQL has and MariaDB's headers lack. */
#define MYSQL_ER_QUERY_TIMEOUT 3024          /* max_execution_time exceeded */
#define MYSQL_ER_ACCOUNT_LOCKED 3118
#define MYSQL_ER_CLIENT_INTERACTION_TIMEOUT 4031 /* idle connection closed by the server */
#define MYSQL_ER_HOST_NOT_PRIVILEGED 1130
#define MYSQL_ER_TOO_MANY_USER_CONNECTIONS 1203
#define MYSQL_ER_USER_LIMIT_REACHED 1226

static const rg_host_api *host;

#define logf_(lvl, ...) rg_adapter_log(host, ADAPTER_NAME, lvl, __VA_ARGS__)

/* ---- library ------------------------------------------------------------- */

/* mysql_library_init is not thread-safe and mysql_init calls it implicitly, so
   it runs once, before any connection, whichever worker thread comes first. */
static pthread_once_t library_once = PTHREAD_ONCE_INIT;
static int library_ready;

static void library_init(void)
{
    library_ready = mysql_library_init(0, NULL, NULL) == 0;
}

/* Release the connector's global state when the adapter is unloaded, so a
   reload does not leak it. */
__attribute__((destructor)) static void library_end(void)
{
    if (library_ready)
        mysql_library_end();
}

/* ---- options ------------------------------------------------------------- */

typedef struct my_options {
    const char *host;
    const char *unix_socket;
    unsigned port; /* 0: not given */
    const char *user;
    const char *password;
    const char *database;
    unsigned long statement_timeout_ms; /* 0 = no cap */
} my_options;

static int parse_ulong(const char *v, unsigned long max, unsigned long *out)
{
    if (!v || !*v || *v == '-' || *v == '+' || *v == ' ')
        return -1;
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (*end || errno || n == 0 || n > max)
        return -1;
    *out = n;
    return 0;
}

static rg_status parse_options(const rg_source_info *src, my_options *o, rg_error *err)
{
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < src->noptions; i++) {
        const rg_option *opt = &src->options[i];
        const char *v = opt->value ? opt->value : "";
        if (!strcmp(opt->key, "host")) {
            if (!*v || strlen(v) > 255 || strpbrk(v, " \t\r\n/"))
                return rg_adapter_fail(err, RG_ERR_CONFIG,
                               "option 'host' must be a host name or IP address (no port, no "
                               "path: use 'port' or 'unix_socket')");
            o->host = v;
        } else if (!strcmp(opt->key, "unix_socket")) {
            if (!*v)
                return rg_adapter_fail(err, RG_ERR_CONFIG,
                               "option 'unix_socket' must be the path of the server's socket");
            o->unix_socket = v;
        } else if (!strcmp(opt->key, "port")) {
            unsigned long port;
            if (parse_ulong(v, 65535, &port) != 0)
                return rg_adapter_fail(err, RG_ERR_CONFIG, "option 'port' must be an integer from 1 to 65535");
            o->port = (unsigned)port;
        } else if (!strcmp(opt->key, "user")) {
            if (!*v)
                return rg_adapter_fail(err, RG_ERR_CONFIG, "option 'user' must not be empty");
            o->user = v;
        } else if (!strcmp(opt->key, "password")) {
            o->password = v;
        } else if (!strcmp(opt->key, "database")) {
            if (!*v || strlen(v) > 64)
                return rg_adapter_fail(err, RG_ERR_CONFIG,
                               "option 'database' must be a database name of 1 to 64 characters");
            o->database = v;
        } else if (!strcmp(opt->key, "statement_timeout_ms")) {
            if (parse_ulong(v, MAX_STATEMENT_TIMEOUT_MS, &o->statement_timeout_ms) != 0)
                return rg_adapter_fail(err, RG_ERR_CONFIG,
                               "option 'statement_timeout_ms' must be an integer from 1 to %lu",
                               MAX_STATEMENT_TIMEOUT_MS);
        } else {
            return rg_adapter_fail(err, RG_ERR_CONFIG,
                           "unknown option '%s' for the mysql adapter; expected: host, port, "
                           "unix_socket, user, password, database, statement_timeout_ms",
                           opt->key);
        }
    }
    if (o->host && o->unix_socket)
        return rg_adapter_fail(err, RG_ERR_CONFIG,
                       "options 'host' and 'unix_socket' exclude each other: give one");
    if (!o->host && !o->unix_socket)
        return rg_adapter_fail(err, RG_ERR_CONFIG,
                       "option 'host' (with optional 'port') or 'unix_socket' is required");
    if (o->port && !o->host)
        return rg_adapter_fail(err, RG_ERR_CONFIG, "option 'port' applies only with 'host'");
    if (!o->user)
        return rg_adapter_fail(err, RG_ERR_CONFIG, "option 'user' is required");
    if (!o->database)
        return rg_adapter_fail(err, RG_ERR_CONFIG, "option 'database' is required");
    return RG_OK;
}

static rg_status check_options(const rg_source_info *src, rg_error *err)
{
    my_options o;
    return parse_options(src, &o, err);
}

/* ---- errors ---------------------------------------------------------------- */

static int is_timeout_error(unsigned code)
{
    return code == ER_STATEMENT_TIMEOUT || code == MYSQL_ER_QUERY_TIMEOUT;
}

/* The connection is gone or unusable: the gateway reconnects on next use. */
static int is_connection_error(unsigned code)
{
    switch (code) {
    case CR_SOCKET_CREATE_ERROR:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_IPSOCK_ERROR:
    case CR_UNKNOWN_HOST:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_HANDSHAKE_ERR:
    case CR_SERVER_LOST:
    case CR_COMMANDS_OUT_OF_SYNC: /* protocol state lost: only a new connection recovers */
    case CR_SSL_CONNECTION_ERROR:
    case CR_MALFORMED_PACKET:
    case CR_SERVER_LOST_EXTENDED:
    case CR_ERR_NET_READ:
    case CR_ERR_NET_WRITE:
    case ER_CON_COUNT_ERROR:
    case ER_SERVER_SHUTDOWN:
    case ER_CONNECTION_KILLED:
    case MYSQL_ER_CLIENT_INTERACTION_TIMEOUT:
    case MYSQL_ER_TOO_MANY_USER_CONNECTIONS:
    case MYSQL_ER_USER_LIMIT_REACHED:
        return 1;
    default:
        return 0;
    }
}

static int is_auth_error(unsigned code)
{
    switch (code) {
    case ER_DBACCESS_DENIED_ERROR:
    case ER_ACCESS_DENIED_ERROR:
    case ER_NOT_SUPPORTED_AUTH_MODE:
    case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
    case ER_MUST_CHANGE_PASSWORD_LOGIN:
    case ER_ACCESS_DENIED_CHANGE_USER_ERROR:
    case ER_ACCOUNT_HAS_BEEN_LOCKED:
    case MYSQL_ER_ACCOUNT_LOCKED:
    case MYSQL_ER_HOST_NOT_PRIVILEGED:
    case CR_AUTH_PLUGIN_CANNOT_LOAD:
    case CR_AUTH_PLUGIN_ERR:
        return 1;
    default:
        return 0;
    }
}

/* Map an error to the gateway's classes. Messages carry the error number and,
   where it cannot quote a value, the server's text. */
static rg_status map_error(unsigned code, const char *sqlstate, const char *msg, const char *what,
                           rg_error *err)
{
    if (!sqlstate)
        sqlstate = "HY000";
    if (!msg)
        msg = "";
    if (code == 0)
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "%s: the connector reported no error", what);
    if (is_timeout_error(code))
        return rg_adapter_fail(err, RG_ERR_TIMEOUT, "%s: statement timeout (error %u)", what, code);
    if (is_connection_error(code))
        return rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "%s: error %u: %s", what, code, msg);
    if (is_auth_error(code))
        return rg_adapter_fail(err, RG_ERR_AUTH, "%s: error %u: %s", what, code, msg);
    if (code == CR_OUT_OF_MEMORY)
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "%s: out of memory", what);
    /* Data exceptions and constraint messages quote the offending value. */
    if (!strncmp(sqlstate, "22", 2) || !strncmp(sqlstate, "23", 2))
        return rg_adapter_fail(err, RG_ERR_UPSTREAM,
                       "%s: error %u (SQLSTATE %s): a value does not suit the column's type", what,
                       code, sqlstate);
    return rg_adapter_fail(err, RG_ERR_UPSTREAM, "%s: error %u (SQLSTATE %s): %s", what, code, sqlstate,
                   msg);
}

static rg_status db_error(MYSQL *db, const char *what, rg_error *err)
{
    return map_error(mysql_errno(db), mysql_sqlstate(db), mysql_error(db), what, err);
}

static rg_status stmt_error(MYSQL_STMT *stmt, const char *what, rg_error *err)
{
    return map_error(mysql_stmt_errno(stmt), mysql_stmt_sqlstate(stmt), mysql_stmt_error(stmt),
                     what, err);
}

/* ---- connections ------------------------------------------------------------ */

typedef struct cached_stmt {
    char *sql;
    MYSQL_STMT *stmt;
    unsigned long long used; /* LRU clock */
} cached_stmt;

typedef struct my_conn {
    MYSQL *db;
    int mariadb;
    unsigned long statement_timeout_ms; /* 0 = no cap from the options */
    unsigned long session_timeout_ms;   /* what the session's timeout is set to now */
    rg_sql_dialect dialect;
    cached_stmt cache[STMT_CACHE_SIZE];
    unsigned long long clock;
} my_conn;

static void close_stmt(cached_stmt *e)
{
    if (e->stmt && mysql_stmt_close(e->stmt) != 0)
        logf_(RG_LOG_DEBUG, "closing a cached statement failed (connection already gone?)");
    free(e->sql);
    memset(e, 0, sizeof *e);
}

static void close_conn(my_conn *c)
{
    for (size_t i = 0; i < STMT_CACHE_SIZE; i++)
        close_stmt(&c->cache[i]);
    if (c->db)
        mysql_close(c->db);
    free(c);
}

/* TCP keepalives as the postgres adapter has them: a server that vanished
   without closing the connection is noticed in about a minute. */
static void set_keepalive(MYSQL *db)
{
    int fd = (int)mysql_get_socket(db);
    int on = 1, idle = 30, intvl = 10, cnt = 3;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt) != 0)
        logf_(RG_LOG_WARN, "cannot enable TCP keepalives: %s", strerror(errno));
}

/* Run a statement that returns no rows. */
static rg_status exec_simple(my_conn *c, const char *sql, const char *what, rg_error *err)
{
    if (mysql_real_query(c->db, sql, strlen(sql)) != 0)
        return db_error(c->db, what, err);
    /* A SET returns no result set; anything else would be a protocol surprise. */
    if (mysql_field_count(c->db) != 0) {
        MYSQL_RES *res = mysql_store_result(c->db);
        if (res)
            mysql_free_result(res);
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "%s: unexpected result set", what);
    }
    return RG_OK;
}

static rg_status set_options(MYSQL *db, const my_options *o, const rg_source_info *src,
                             rg_error *err)
{
    unsigned connect_s = (unsigned)((src->connect_timeout_ms + 999) / 1000);
    if (connect_s == 0)
        connect_s = 1;
    unsigned long budget = o->statement_timeout_ms ? o->statement_timeout_ms : MAX_QUERY_BUDGET_MS;
    unsigned net_s = (unsigned)((budget + 999) / 1000) + NET_TIMEOUT_SLACK_S;
    unsigned local_infile = 0;
    my_bool off = 0, on = 1;
    enum mysql_protocol_type proto = o->host ? MYSQL_PROTOCOL_TCP : MYSQL_PROTOCOL_SOCKET;
    /* utf8mb4 from the handshake on; no automatic reconnect, which would drop
       the read-only session settings; no LOAD DATA LOCAL, which would let a
       hostile server read the gateway's files; TCP even for "localhost". */
    if (mysql_options(db, MYSQL_SET_CHARSET_NAME, "utf8mb4") != 0 ||
        mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s) != 0 ||
        mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &net_s) != 0 ||
        mysql_options(db, MYSQL_OPT_WRITE_TIMEOUT, &net_s) != 0 ||
        mysql_options(db, MYSQL_OPT_RECONNECT, &off) != 0 ||
        mysql_options(db, MYSQL_OPT_LOCAL_INFILE, &local_infile) != 0 ||
        mysql_options(db, MYSQL_REPORT_DATA_TRUNCATION, &on) != 0 ||
        mysql_options(db, MYSQL_OPT_PROTOCOL, &proto) != 0 ||
        mysql_options4(db, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", "readgate") != 0)
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "cannot set the connector's options");
    return RG_OK;
}

/* Read-only, autocommit (a transaction left open would pin an old snapshot),
   UTC, and a fixed sql_mode: NO_BACKSLASH_ESCAPES makes the ESCAPE '\' of
   LIKE mean one backslash; nothing else in the mode changes a SELECT we
   generate, and a server default such as ANSI_QUOTES or ORACLE must not. */
static rg_status setup_session(my_conn *c, rg_error *err)
{
    if (mysql_set_character_set(c->db, "utf8mb4") != 0)
        return db_error(c->db, "cannot switch the connection to utf8mb4", err);
    rg_status st = exec_simple(c, "SET SESSION TRANSACTION READ ONLY",
                               "cannot make the session read-only", err);
    if (st != RG_OK)
        return st;
    const char *set = c->mariadb
                          ? "SET SESSION autocommit = 1, SESSION time_zone = '+00:00', "
                            "SESSION sql_mode = 'NO_BACKSLASH_ESCAPES', "
                            "SESSION max_statement_time = 0"
                          : "SET SESSION autocommit = 1, SESSION time_zone = '+00:00', "
                            "SESSION sql_mode = 'NO_BACKSLASH_ESCAPES', "
                            "SESSION max_execution_time = 0";
    st = exec_simple(c, set, "cannot set up the session", err);
    c->session_timeout_ms = 0;
    return st;
}

static rg_status connect_(const rg_source_info *src, void **out, rg_error *err)
{
    *out = NULL;
    my_options o;
    rg_status st = parse_options(src, &o, err);
    if (st != RG_OK)
        return st;
    if (o.password && !strncmp(o.password, "enc:v1:", 7))
        return rg_adapter_fail(err, RG_ERR_CONFIG, "option 'password' is still encrypted");
    if (pthread_once(&library_once, library_init) != 0 || !library_ready)
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "cannot initialise MariaDB Connector/C");

    /* A relative socket path is relative to the site file, like every path. */
    char socket_path[4096];
    const char *sock = o.unix_socket;
    if (sock && sock[0] != '/' && src->base_dir && *src->base_dir) {
        int n = snprintf(socket_path, sizeof socket_path, "%s/%s", src->base_dir, sock);
        if (n < 0 || (size_t)n >= sizeof socket_path)
            return rg_adapter_fail(err, RG_ERR_CONFIG, "option 'unix_socket': the path is too long");
        sock = socket_path;
    }

    my_conn *c = calloc(1, sizeof *c);
    if (!c)
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
    c->statement_timeout_ms = o.statement_timeout_ms;
    c->db = mysql_init(NULL);
    if (!c->db) {
        close_conn(c);
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
    }
    st = set_options(c->db, &o, src, err);
    if (st != RG_OK) {
        close_conn(c);
        return st;
    }
    /* Explicit port and password: the connector would otherwise consult
       MYSQL_TCP_PORT and MYSQL_PWD in the gateway's environment. */
    if (!mysql_real_connect(c->db, o.host ? o.host : "localhost", o.user,
                            o.password ? o.password : "", o.database,
                            o.host ? (o.port ? o.port : DEFAULT_PORT) : 0, o.host ? NULL : sock,
                            0)) {
        unsigned code = mysql_errno(c->db);
        st = is_auth_error(code) ? RG_ERR_AUTH : code == CR_OUT_OF_MEMORY ? RG_ERR_INTERNAL
                                                                          : RG_ERR_UNAVAILABLE;
        rg_adapter_fail(err, st, "cannot connect to the MySQL/MariaDB server: error %u: %s", code,
                mysql_error(c->db));
        close_conn(c);
        return st;
    }
    const char *info = mysql_get_server_info(c->db);
    unsigned long version = mysql_get_server_version(c->db);
    c->mariadb = info && strstr(info, "MariaDB") != NULL;
    /* NO PAD binary collations: MariaDB 10.2.2, MySQL 8.0. */
    if (c->mariadb ? version < 100202 : version < 80000) {
        rg_adapter_fail(err, RG_ERR_CONFIG,
                "server version %s is not supported: the mysql adapter needs MariaDB 10.2.2 or "
                "MySQL 8.0 or later",
                info ? info : "?");
        close_conn(c);
        return RG_ERR_CONFIG;
    }
    rg_sql_dialect_mysql(&c->dialect, c->mariadb);
    if (o.host)
        set_keepalive(c->db);
    st = setup_session(c, err);
    if (st != RG_OK) {
        close_conn(c);
        return st;
    }
    *out = c;
    return RG_OK;
}

static void disconnect_(void *conn)
{
    close_conn(conn);
}

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
    close_stmt(victim);
    MYSQL_STMT *stmt = mysql_stmt_init(c->db);
    if (!stmt) {
        *st = rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    if (mysql_stmt_prepare(stmt, sql->data, sql->len) != 0) {
        *st = stmt_error(stmt, "cannot prepare query", err);
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
    rg_status st = exec_simple(c, sql, "cannot set the statement timeout", err);
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
    char *end;
    switch (type) {
    case RG_TYPE_INTEGER:
        errno = 0;
        v->u.i = strtoll(s, &end, 10);
        /* DECIMAL columns print "12.00": the integral part is the value */
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
        return mysql_stmt_errno(stmt) ? stmt_error(stmt, "cannot read the result's columns", err)
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
        const rg_field_desc *f = &plan->collection->fields[plan->columns[i]];
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
        st = stmt_error(stmt, "cannot bind the result's columns", err);
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
            return stmt_error(stmt, "cannot read a long value", err);
        rebind = 1;
    }
    /* The statement keeps its own copy of the bindings: give it the new buffers. */
    if (rebind && mysql_stmt_bind_result(stmt, rb) != 0)
        return stmt_error(stmt, "cannot bind the result's columns", err);
    return RG_OK;
}

static rg_status send_rows(MYSQL_STMT *stmt, const rg_query_plan *plan, const rg_row_sink *sink,
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
            st = stmt_error(stmt, "cannot read a row", err);
            break;
        }
        if (rc == MYSQL_DATA_TRUNCATED) {
            st = refetch_long(stmt, plan, rb, oc, err);
            if (st != RG_OK)
                break;
        }
        for (size_t i = 0; i < plan->ncolumns; i++) {
            const rg_field_desc *f = &plan->collection->fields[plan->columns[i]];
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
        st = stmt_error(stmt, "cannot bind the query's values", err);
        goto out;
    }
    if (mysql_stmt_execute(stmt) != 0) {
        st = stmt_error(stmt, "query failed", err);
        goto out;
    }
    stored = 1;
    if (mysql_stmt_store_result(stmt) != 0) {
        st = stmt_error(stmt, "query failed while reading its rows", err);
        goto out;
    }
    st = send_rows(stmt, plan, sink, err);
out:
    if (stored && mysql_stmt_free_result(stmt) != 0 && st == RG_OK)
        st = stmt_error(stmt, "cannot release the result", err);
    free(pb);
    free(pv);
    free(plen);
    return st;
}

static rg_status query_(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
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
        close_stmt(e);
out:
    rg_sql_query_free(&q);
    if (st != RG_OK && st != RG_ERR_ABORTED)
        logf_(RG_LOG_DEBUG, "query on '%s' failed: %s", plan->collection->name, err->message);
    return st;
}

static rg_status ping_(void *conn, rg_error *err)
{
    my_conn *c = conn;
    if (mysql_ping(c->db) != 0)
        return db_error(c->db, "ping failed", err);
    return RG_OK;
}

static const rg_adapter mysql_adapter = {
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
    return &mysql_adapter;
}
