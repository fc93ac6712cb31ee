/*
 * The mysql adapter's connections: the connector library, the source's
 * options, a read-only UTC utf8mb4 session per connection, and ping.
 */
#include <errmsg.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mysql_internal.h"

#define MAX_STATEMENT_TIMEOUT_MS 86400000UL
/* The largest budget the core gives a query (a source's timeout_ms). */
#define MAX_QUERY_BUDGET_MS 600000UL
/* Beyond a query's budget, how long the client waits for a silent server
   before it gives the connection up; the server's own timeout fires first. */
#define NET_TIMEOUT_SLACK_S 30U
#define DEFAULT_PORT 3306U

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
        const rg_option *opt = rg_option_at(src->options, i);
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

rg_status rg_my_check_options(const rg_source_info *src, rg_error *err)
{
    my_options o;
    return parse_options(src, &o, err);
}

/* ---- connections ------------------------------------------------------------ */

void rg_my_close_stmt(cached_stmt *e)
{
    if (e->stmt && mysql_stmt_close(e->stmt) != 0)
        logf_(RG_LOG_DEBUG, "closing a cached statement failed (connection already gone?)");
    free(e->sql);
    memset(e, 0, sizeof *e);
}

static void close_conn(my_conn *c)
{
    for (size_t i = 0; i < STMT_CACHE_SIZE; i++)
        rg_my_close_stmt(&c->cache[i]);
    rg_my_columns_free(c);
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
rg_status rg_my_exec_simple(my_conn *c, const char *sql, const char *what, rg_error *err)
{
    if (mysql_real_query(c->db, sql, strlen(sql)) != 0)
        return rg_my_db_error(c->db, what, err);
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
        return rg_my_db_error(c->db, "cannot switch the connection to utf8mb4", err);
    rg_status st = rg_my_exec_simple(c, "SET SESSION TRANSACTION READ ONLY",
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
    st = rg_my_exec_simple(c, set, "cannot set up the session", err);
    c->session_timeout_ms = 0;
    return st;
}

rg_status rg_my_connect(const rg_source_info *src, void **out, rg_error *err)
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
        st = rg_my_is_auth_error(code) ? RG_ERR_AUTH : code == CR_OUT_OF_MEMORY ? RG_ERR_INTERNAL
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
    c->dialect.not_null = rg_my_not_null;
    c->dialect.not_null_ctx = c;
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

void rg_my_disconnect(void *conn)
{
    close_conn(conn);
}

rg_status rg_my_ping(void *conn, rg_error *err)
{
    my_conn *c = conn;
    if (mysql_ping(c->db) != 0)
        return rg_my_db_error(c->db, "ping failed", err);
    return RG_OK;
}
