/*
 * What the files of the mongo adapter share. Private to the adapter (linked
 * into one .so, symbols hidden):
 *   mongo_adapter.c   the descriptor and the entry point
 *   mongo_conn.c      options, connections, error mapping, ping
 *   mongo_bson.c      the BSON builder, names, datetimes and typed values
 *   mongo_filter.c    filters, search words and the keyset position
 *   mongo_pipeline.c  the aggregate pipeline of a plan
 *   mongo_rows.c      running a plan and converting documents to rows
 */
#ifndef RG_MONGO_INTERNAL_H
#define RG_MONGO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

#include <readgate/adapter.h>
#include "adapter_err.h"

#define ADAPTER_NAME "mongo"
/* Computed fields used for sorting; columns may not start with this. */
#define RESERVED_PREFIX "__rg_"

/* The host services, set once by the entry point before any other call. */
extern const rg_host_api *rg_mg_host;

#define logf_(lvl, ...) rg_adapter_log(rg_mg_host, ADAPTER_NAME, lvl, __VA_ARGS__)

/* ---- connection (mongo_conn.c) ------------------------------------------- */

typedef struct mongo_conn {
    mongoc_client_t *client;
    mongoc_uri_t *uri;          /* kept to rebuild the client with another socket timeout */
    int32_t uri_socket_timeout; /* socketTimeoutMS the URI itself set, 0 if none */
    int32_t socket_timeout;     /* socketTimeoutMS the current client was built with */
    mongoc_read_prefs_t *read_prefs;
    char *database;
    int allow_dotted;
    unsigned long max_time_ms;
    int64_t deadline_us; /* monotonic: when the running command's socket timeout expires */
} mongo_conn;

rg_status rg_mg_check_options(const rg_source_info *src, rg_error *err);
rg_status rg_mg_connect(const rg_source_info *src, void **out, rg_error *err);
void rg_mg_disconnect(void *conn);
rg_status rg_mg_ping(void *conn, rg_error *err);

/*
 * Map a driver error to the gateway's classes. `in_query` tells a socket
 * timeout of a running query (RG_ERR_TIMEOUT) from one while connecting
 * (RG_ERR_UNAVAILABLE).
 */
rg_status rg_mg_map_error(const mongo_conn *c, const bson_error_t *e, const bson_t *reply,
                          const char *what, int in_query, rg_error *err);
/* (Re)build the client so that no socket read or write waits longer than
   `socket_timeout` ms. */
rg_status rg_mg_make_client(mongo_conn *c, int32_t socket_timeout, rg_error *err);
/* The socket timeout for a query budget (the budget plus a grace period). */
int32_t rg_mg_socket_timeout_for(unsigned long budget_ms);
/* Starts the clock of the command about to run (see map_error). */
void rg_mg_start_deadline(mongo_conn *c);

/* ---- the BSON builder (mongo_bson.c) --------------------------------------- */

/* Builds BSON; after the first failure everything is a no-op and `st` says why. */
typedef struct builder {
    const rg_query_plan *plan;
    const rg_collection_desc *coll;
    rg_error *err;
    rg_status st;
} builder;

/* Array keys: "0", "1", ... */
typedef struct idx_key {
    char buf[16];
    const char *str;
} idx_key;

void rg_mg_fail(builder *b, rg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* bson_append_* fail only when a document would exceed the BSON size limit. */
void rg_mg_check(builder *b, bool ok);
const char *rg_mg_column_of(const rg_field_desc *f);
/* Refuses a collection description whose names could change the meaning of
   the query. */
rg_status rg_mg_check_collection(const mongo_conn *c, const rg_collection_desc *coll,
                                 rg_error *err);
/* 1 when `field` indexes the collection's fields; otherwise fails b. */
int rg_mg_field_ok(builder *b, size_t field);

/* "YYYY-MM-DDTHH:MM:SS[.f…]Z" to milliseconds since the epoch; *sub_ms is set
   when the fraction goes below a millisecond. 0, or -1 if malformed. */
int rg_mg_parse_datetime(const char *s, size_t len, int64_t *ms, int *sub_ms);
/* Milliseconds since the epoch to "YYYY-MM-DDTHH:MM:SS[.ffffff]Z"; 0 if the
   year is outside 0000-9999. */
size_t rg_mg_format_datetime(int64_t ms, char *out, size_t outsz);

/* A filter or keyset value as BSON, typed by the value itself. */
void rg_mg_append_value(builder *b, bson_t *doc, const char *key, const rg_value *v);

/* Embedded documents and arrays: a child that could not be opened is neither
   filled nor closed; one that was opened is always closed. */
int rg_mg_open_doc(builder *b, bson_t *parent, const char *key, bson_t *child);
int rg_mg_open_array(builder *b, bson_t *parent, const char *key, bson_t *child);
void rg_mg_close_doc(builder *b, bson_t *parent, bson_t *child);
void rg_mg_close_array(builder *b, bson_t *parent, bson_t *child);
const char *rg_mg_index_key(idx_key *k, uint32_t i);

/* ---- conditions (mongo_filter.c) -------------------------------------------- */

void rg_mg_append_filter(builder *b, bson_t *cond, const rg_filter *f);
/* Every word must occur in at least one searchable field. */
void rg_mg_append_search(builder *b, bson_t *cond, const char *word);
/* Rows strictly after the plan's `after` position, in the plan's order. */
void rg_mg_append_after(builder *b, bson_t *cond);

/* ---- the pipeline (mongo_pipeline.c) and rows (mongo_rows.c) ------------------ */

void rg_mg_build_pipeline(builder *b, bson_t *pipeline);

rg_status rg_mg_query(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
                      rg_error *err);

#endif
