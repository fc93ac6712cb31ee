/*
 * readgate adapter ABI.
 *
 * An adapter is a shared object (readgate-adapter-<name>.so) that turns a
 * validated, typed query plan into a read in its backend's own language and
 * streams typed rows back to the gateway. This header is the whole contract:
 * an adapter includes nothing else from readgate.
 *
 * Versioning. RG_ADAPTER_ABI_MAJOR changes only when an existing layout or
 * meaning changes; a gateway refuses an adapter whose major differs. Minor
 * versions only append fields at the end of structs, so every struct that
 * crosses the boundary starts with `uint32_t struct_size` and the reader
 * checks it before touching a field past the 2.0 layout. An adapter built
 * against 2.0 keeps loading under every 2.x gateway. (2.0 differs from 1.0 in
 * one way: rg_value, rg_field_desc, rg_filter, rg_sort_key, rg_row_sink,
 * rg_error and rg_option gained their leading struct_size.)
 *
 * Arrays. A later minor may make an element bigger, so an array that crosses
 * the boundary is never indexed with the reader's own sizeof:
 *  - the writer sets struct_size = sizeof(the element) on every element it
 *    builds, and all elements of one array have the same struct_size;
 *  - the reader steps with the accessors below (rg_value_at, rg_field_at,
 *    rg_filter_at, rg_sort_key_at; rg_option_at in readgate/plugin.h), which
 *    move by the elements' own struct_size;
 *  - before reading a field added after 2.0 the reader checks that the
 *    element's struct_size covers it; a struct_size below the 2.0 layout
 *    (RG_VALUE_SIZE_2_0 and its kin) is malformed and refused.
 * readgate builds every array it hands an adapter this way (plan values,
 * filters, sort keys, field descriptions, options) and checks the rows an
 * adapter sends: a row whose values' struct_size is below RG_VALUE_SIZE_2_0,
 * or differs between values, fails the query as an adapter error.
 *
 * Entry point. The shared object exports exactly one function,
 * RG_ADAPTER_ENTRY_SYMBOL ("rg_adapter_entry"), of type rg_adapter_entry_fn.
 * The gateway calls it once after dlopen(RTLD_NOW|RTLD_LOCAL); it returns a
 * pointer to a static, immutable rg_adapter that must stay valid until the
 * object is unloaded.
 *
 * Threads. connect/query/ping/disconnect run on the gateway's worker threads,
 * never on an event loop, so they may block. A connection (the void *conn that
 * connect returns) is used by one thread at a time and never concurrently;
 * different connections of the same adapter are used in parallel, so an
 * adapter keeps no unsynchronised global state.
 *
 * Memory. Everything the gateway passes in (options, plans, values) is owned by
 * the gateway and valid only for the duration of the call; copy what you keep.
 * Everything an adapter returns through the sink is read during the sink call
 * and not kept by the gateway. Connections are owned by the adapter and freed
 * by disconnect.
 *
 * Safety rules every adapter follows (docs/writing-an-adapter.md):
 *  - identifiers (targets, columns) come only from the plan, which carries the
 *    configured whitelist; quote them by the backend's own means;
 *  - values are bound parameters or escaped by the backend's documented rules,
 *    never concatenated as syntax; in prefix/contains/search the characters
 *    % _ \ * quotes and regex metacharacters are literal;
 *  - reads only: no write path exists.
 */
#ifndef READGATE_ADAPTER_H
#define READGATE_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RG_ADAPTER_ABI_MAJOR 2
#define RG_ADAPTER_ABI_MINOR 1
#define RG_ADAPTER_ENTRY_SYMBOL "rg_adapter_entry"

/* ---- types ------------------------------------------------------------ */

typedef enum rg_type {
    RG_TYPE_STRING = 1,
    RG_TYPE_INTEGER = 2,  /* int64 */
    RG_TYPE_NUMBER = 3,   /* double */
    RG_TYPE_BOOLEAN = 4,
    RG_TYPE_DATE = 5,     /* "YYYY-MM-DD" as a string value */
    RG_TYPE_DATETIME = 6, /* RFC 3339 normalised to UTC "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" */
    RG_TYPE_ENUM = 7      /* a string from the field's configured values */
} rg_type;

/* Operators. Values are stable; new ones are appended. */
typedef enum rg_op {
    RG_OP_EQ = 1,
    RG_OP_NE = 2,
    RG_OP_LT = 3,
    RG_OP_LTE = 4,
    RG_OP_GT = 5,
    RG_OP_GTE = 6,
    RG_OP_IN = 7,       /* 1..50 values */
    RG_OP_BETWEEN = 8,  /* exactly 2 values: [lo, hi], both inclusive */
    RG_OP_PREFIX = 9,   /* strings; ASCII case-insensitive */
    RG_OP_CONTAINS = 10 /* strings; ASCII case-insensitive */
} rg_op;

/*
 * A typed value. For STRING, DATE, DATETIME and ENUM the payload is `str`
 * (UTF-8, not NUL-terminated in general: use len; the gateway does add a NUL
 * after values it passes in). `is_null` is set for NULL/missing values in
 * rows and in cursor positions; filter values are never NULL.
 */
typedef struct rg_value {
    uint32_t struct_size; /* sizeof(rg_value) of the writer */
    rg_type type;
    int is_null;
    union {
        struct {
            const char *ptr;
            size_t len;
        } str;
        int64_t i;
        double n;
        int b; /* 0 or 1 */
    } u;
} rg_value;

/* The 2.0 layouts: the smallest struct_size a reader accepts. A later minor
   appends fields after these, so the elements' own struct_size grows. */
#define RG_VALUE_SIZE_2_0 (offsetof(rg_value, u) + sizeof(((const rg_value *)0)->u))

/* ---- collection description (from the site config) -------------------- */

typedef struct rg_field_desc {
    uint32_t struct_size;
    const char *name;   /* public name used in the API */
    const char *column; /* backend name (column / document field / header) */
    rg_type type;
} rg_field_desc;

typedef struct rg_collection_desc {
    uint32_t struct_size;
    const char *name;   /* public collection name */
    const char *target; /* table, "schema.table", Mongo collection, sheet range ... */
    const rg_field_desc *fields; /* read with rg_field_at */
    size_t nfields;
    size_t key_field;   /* index into fields of the unique key */
} rg_collection_desc;

#define RG_FIELD_DESC_SIZE_2_0 (offsetof(rg_field_desc, type) + sizeof(rg_type))

/* ---- query plan --------------------------------------------------------- */

typedef struct rg_filter {
    uint32_t struct_size;
    size_t field; /* index into collection->fields */
    rg_op op;
    const rg_value *values; /* 1 value, or 2 for BETWEEN, or 1..50 for IN; rg_value_at */
    size_t nvalues;
} rg_filter;

typedef struct rg_sort_key {
    uint32_t struct_size;
    size_t field;
    int desc; /* 0 ascending, 1 descending */
} rg_sort_key;

#define RG_FILTER_SIZE_2_0 (offsetof(rg_filter, nvalues) + sizeof(size_t))
#define RG_SORT_KEY_SIZE_2_0 (offsetof(rg_sort_key, desc) + sizeof(int))

/*
 * Element i of an array that crossed the boundary: the elements lie
 * base->struct_size bytes apart, whatever the reader's own sizeof is (the
 * array rule at the top of this file). base must not be NULL.
 */
static inline const rg_value *rg_value_at(const rg_value *base, size_t i)
{
    return (const rg_value *)(const void *)((const char *)base + i * base->struct_size);
}

static inline const rg_field_desc *rg_field_at(const rg_field_desc *base, size_t i)
{
    return (const rg_field_desc *)(const void *)((const char *)base + i * base->struct_size);
}

static inline const rg_filter *rg_filter_at(const rg_filter *base, size_t i)
{
    return (const rg_filter *)(const void *)((const char *)base + i * base->struct_size);
}

static inline const rg_sort_key *rg_sort_key_at(const rg_sort_key *base, size_t i)
{
    return (const rg_sort_key *)(const void *)((const char *)base + i * base->struct_size);
}

/*
 * A validated query. Semantics every adapter implements exactly (the
 * conformance suite checks them):
 *  - filters are AND-ed; a row whose field is NULL/missing matches no filter
 *    on that field (ne included);
 *  - search: every word must occur, ASCII case-insensitively, as a substring
 *    of at least one of search_fields (NULLs never match);
 *  - order by sort[0..nsort) in order; the last sort key is always the
 *    collection key ascending. NULLs sort last ascending, first descending.
 *    Strings compare by UTF-8 byte order (SQL "C" collation);
 *  - after != NULL: keyset paging. Return only rows strictly after the
 *    position `after[0..nsort)` (the sort-key values of the previous page's
 *    last row, NULLs possible) in that order;
 *  - return at most `limit` rows, each with the values of columns[0..ncolumns)
 *    in that order (columns always includes every sort field).
 */
typedef struct rg_query_plan {
    uint32_t struct_size;
    const rg_collection_desc *collection;
    const rg_filter *filters; /* read with rg_filter_at */
    size_t nfilters;
    const char *const *search_words; /* NUL-terminated UTF-8, non-empty */
    size_t nsearch_words;
    const size_t *search_fields;
    size_t nsearch_fields;
    const rg_sort_key *sort; /* read with rg_sort_key_at */
    size_t nsort;
    const rg_value *after; /* NULL, or nsort values; rg_value_at */
    const size_t *columns;
    size_t ncolumns;
    size_t limit;
    uint32_t timeout_ms; /* budget for this query; enforce it in the backend */
} rg_query_plan;

/* ---- sink: rows flow back through it ------------------------------------ */

typedef struct rg_row_sink {
    uint32_t struct_size;
    /*
     * Called once per row with plan->ncolumns values in plan->columns order,
     * each with struct_size = sizeof(rg_value) (the array rule above).
     * Values (and the memory they point to) need only live for the call.
     * Returns 0 to continue; non-zero means "stop": the adapter returns
     * RG_ERR_ABORTED promptly without calling the sink again.
     */
    int (*row)(void *ctx, const rg_value *values, size_t nvalues);
    void *ctx;
} rg_row_sink;

/* ---- host services: rg_host_api, rg_option (readgate/plugin.h) ---------- */

typedef struct rg_source_info {
    uint32_t struct_size;
    const char *site_id;
    const char *source_name;
    const rg_option *options; /* read with rg_option_at */
    size_t noptions;
    uint32_t connect_timeout_ms;
    const char *base_dir; /* directory of the site file: resolve relative paths against it */
} rg_source_info;

/* ---- the adapter ---------------------------------------------------------- */

/*
 * Status mapping for adapters (rg_status is in readgate/plugin.h):
 * RG_ERR_UNAVAILABLE -> 503, RG_ERR_TIMEOUT -> 504, RG_ERR_UPSTREAM -> 502,
 * RG_ERR_AUTH -> 503, RG_ERR_INTERNAL -> 500; RG_ERR_ABORTED means the sink
 * asked to stop.
 */

typedef struct rg_adapter {
    uint32_t struct_size; /* rg_plugin_header: struct_size, abi_major, abi_minor, name, version */
    uint16_t abi_major; /* RG_ADAPTER_ABI_MAJOR the adapter was built with */
    uint16_t abi_minor;
    const char *name;    /* "postgres" */
    const char *version; /* adapter's own version string */

    /*
     * Optional (may be NULL). Called by `readgate check` and at config load,
     * on any thread, without connecting: reject unknown or malformed options.
     * Return RG_OK or RG_ERR_CONFIG with a message naming the option.
     */
    rg_status (*check_options)(const rg_source_info *src, rg_error *err);

    /*
     * Open a connection for one worker thread. On success store an
     * adapter-owned handle in *conn. The gateway calls it lazily and again
     * after a connection-level failure, so a backend that comes back is used
     * again without restarting readgate. Honour src->connect_timeout_ms.
     */
    rg_status (*connect)(const rg_source_info *src, void **conn, rg_error *err);

    /*
     * Run one plan. Rows go to sink->row in order. Return RG_OK after the
     * last row; an error status otherwise. If a connection-level failure
     * occurred, return RG_ERR_UNAVAILABLE: the gateway will disconnect and
     * reconnect for the next query. When that happens on a connection that
     * had already served a query (it may have died idle), the gateway
     * reconnects at once and runs the same plan again, once; rows sent by
     * the first attempt are discarded.
     */
    rg_status (*query)(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
                       rg_error *err);

    /* Cheap liveness check for /readyz. Same error mapping as query. */
    rg_status (*ping)(void *conn, rg_error *err);

    /* Close and free the connection. conn is never NULL. */
    void (*disconnect)(void *conn);

    /* ---- since 2.1: optional, non-blocking queries ----------------------
     *
     * An adapter whose client library can wait on a socket (libpq's
     * non-blocking API, say) may offer these three; all three or none. The
     * gateway then runs queries of its sources on its event-loop threads,
     * without handing each one to a worker thread and back: connect, ping
     * and disconnect still run on workers, and a connection is used by one
     * thread at a time as always. The gateway reads these fields only when
     * struct_size covers them.
     *
     * query_start sends the query for plan (the gateway keeps plan and sink
     * valid until the query is over). Then, while the status is RG_OK and
     * *wait is non-zero (RG_WAIT_READ and/or RG_WAIT_WRITE), the gateway
     * waits until socket(conn) is ready that way and calls query_resume,
     * which may call the sink. RG_OK with *wait == 0: every row went to the
     * sink. Any other status ends the query as query's would (the same
     * meanings; after RG_ERR_UNAVAILABLE the connection is not used again).
     * Neither call may block. If the gateway gives up on a query in
     * progress (its client went away long ago), it calls disconnect.
     */
    rg_status (*query_start)(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
                             int *wait, rg_error *err);
    rg_status (*query_resume)(void *conn, int *wait, rg_error *err);
    int (*socket)(void *conn);
} rg_adapter;

#define RG_WAIT_READ 1
#define RG_WAIT_WRITE 2

typedef const rg_adapter *(*rg_adapter_entry_fn)(const rg_host_api *host);

/* The size of the 2.0 layout: the smallest struct_size a gateway accepts. */
#define RG_ADAPTER_SIZE_2_0 (offsetof(rg_adapter, disconnect) + sizeof(void (*)(void *)))
/* The size of the 2.1 layout, with the non-blocking queries. */
#define RG_ADAPTER_SIZE_2_1 (offsetof(rg_adapter, socket) + sizeof(int (*)(void *)))

/*
 * The entry point for a descriptor: exports rg_adapter_entry, and keeps the
 * host services in a static `rg_host` when the table is one this file was
 * compiled for (NULL otherwise: log and allocate with libc then). Declare
 *     static const rg_host_api *rg_host;
 * at the top of the file to use it above the macro.
 */
#define RG_DEFINE_ADAPTER(descriptor)                                                      \
    static const rg_host_api *rg_host;                                                    \
    RG_PLUGIN_EXPORT const rg_adapter *rg_adapter_entry(const rg_host_api *h)             \
    {                                                                                     \
        if (h && h->abi_major == RG_ADAPTER_ABI_MAJOR && h->log &&                        \
            h->struct_size >= offsetof(rg_host_api, free) + sizeof h->free)               \
            rg_host = h;                                                                  \
        return &(descriptor);                                                             \
    }

/* The whole adapter in one line:
 *     RG_ADAPTER("mydb", "1.0.0", my_check_options, my_connect, my_query, my_ping,
 *                my_disconnect)
 * (check_options may be NULL). */
#define RG_ADAPTER(name_, version_, check_options_, connect_, query_, ping_, disconnect_)    \
    static const rg_adapter rg_adapter_descriptor_ = {                                    \
        .struct_size = sizeof(rg_adapter),                                                \
        .abi_major = RG_ADAPTER_ABI_MAJOR,                                                \
        .abi_minor = RG_ADAPTER_ABI_MINOR,                                                \
        .name = (name_),                                                                  \
        .version = (version_),                                                            \
        .check_options = (check_options_),                                                \
        .connect = (connect_),                                                            \
        .query = (query_),                                                                \
        .ping = (ping_),                                                                  \
        .disconnect = (disconnect_),                                                      \
    };                                                                                    \
    RG_DEFINE_ADAPTER(rg_adapter_descriptor_)

#ifdef __cplusplus
}
#endif

#endif /* READGATE_ADAPTER_H */
