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
 *
 * This file holds the descriptor; mysql_internal.h lists the others.
 */
#include "mysql_internal.h"

/* Set once by rg_adapter_entry, before any other call, and only read after. */
const rg_host_api *rg_my_host;

static const rg_adapter mysql_adapter = {
    .struct_size = sizeof(rg_adapter),
    .abi_major = RG_ADAPTER_ABI_MAJOR,
    .abi_minor = RG_ADAPTER_ABI_MINOR,
    .name = ADAPTER_NAME,
    .version = "1.0.0",
    .check_options = rg_my_check_options,
    .connect = rg_my_connect,
    .query = rg_my_query,
    .ping = rg_my_ping,
    .disconnect = rg_my_disconnect,
};

__attribute__((visibility("default"))) const rg_adapter *rg_adapter_entry(const rg_host_api *h)
{
    /* The host table is immutable and identical for every call. */
    rg_my_host = h;
    return &mysql_adapter;
}
