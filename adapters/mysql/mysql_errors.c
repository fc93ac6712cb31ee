/*
 * The mysql adapter's error mapping: connector (CR_*) and server (ER_*)
 * error numbers to the gateway's classes.
 */
#include <errmsg.h>
#include <mysqld_error.h>
#include <string.h>

#include "mysql_internal.h"

/* Server-side error numbers MySQL has and MariaDB's headers lack. */
#define MYSQL_ER_QUERY_TIMEOUT 3024          /* max_execution_time exceeded */
#define MYSQL_ER_ACCOUNT_LOCKED 3118
#define MYSQL_ER_CLIENT_INTERACTION_TIMEOUT 4031 /* idle connection closed by the server */
#define MYSQL_ER_HOST_NOT_PRIVILEGED 1130
#define MYSQL_ER_TOO_MANY_USER_CONNECTIONS 1203
#define MYSQL_ER_USER_LIMIT_REACHED 1226

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

int rg_my_is_auth_error(unsigned code)
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
    if (rg_my_is_auth_error(code))
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

rg_status rg_my_db_error(MYSQL *db, const char *what, rg_error *err)
{
    return map_error(mysql_errno(db), mysql_sqlstate(db), mysql_error(db), what, err);
}

rg_status rg_my_stmt_error(MYSQL_STMT *stmt, const char *what, rg_error *err)
{
    return map_error(mysql_stmt_errno(stmt), mysql_stmt_sqlstate(stmt), mysql_stmt_error(stmt),
                     what, err);
}
