/*
 * Backend-neutral SQL text generation for the SQL adapters.
 *
 * rg_sql_build_select turns a validated rg_query_plan into one parameterised
 * SELECT plus the ordered list of values to bind. Identifiers come only from
 * the plan's collection description and are quoted by the dialect's callback;
 * every value (including LIKE patterns and the LIMIT) is a bound parameter, so
 * the SQL text depends only on the shape of the plan and can be cached as a
 * prepared statement.
 *
 * Everything here uses plain malloc/free and only the public adapter ABI.
 * Functions are reentrant: no global state.
 */
#ifndef RG_SQLBUILD_H
#define RG_SQLBUILD_H

#include <readgate/adapter.h>
#include <stddef.h>

/* A growable NUL-terminated text buffer. After an allocation failure `oom` is
   set and further appends do nothing, so callers check once at the end. */
typedef struct rg_sql_buf {
    char *data;
    size_t len;
    size_t cap;
    int oom;
} rg_sql_buf;

void rg_sql_buf_append(rg_sql_buf *b, const char *s, size_t len);
void rg_sql_buf_puts(rg_sql_buf *b, const char *s);
void rg_sql_buf_free(rg_sql_buf *b);

/*
 * Append `ident` (len bytes) to `out` as a quoted identifier. Returns 0, or -1
 * if the identifier cannot be quoted (the builder then fails with
 * RG_ERR_CONFIG).
 */
typedef int (*rg_sql_quote_fn)(void *ctx, rg_sql_buf *out, const char *ident, size_t len);

/* Standard SQL quoting: "..." with embedded " doubled; refuses NUL bytes. */
int rg_sql_quote_ansi(void *ctx, rg_sql_buf *out, const char *ident, size_t len);

/* MySQL/MariaDB quoting: `...`. Refuses empty names, NUL bytes and backticks
   (legal when doubled, but never in a sane catalog, so a whitelist entry with
   one is more likely a mistake or an attack than a column). */
int rg_sql_quote_backtick(void *ctx, rg_sql_buf *out, const char *ident, size_t len);

typedef struct rg_sql_dialect {
    int numbered_params;        /* 1: "$1, $2 ..." (postgres); 0: "?" (sqlite) */
    int cast_params;            /* 1: "$1::bigint" / "::float8" / "::boolean" on typed params */
    const char *fold_prefix;    /* ASCII-only lower-casing: fold_prefix col fold_suffix */
    const char *fold_suffix;
    const char *string_collate; /* appended to string columns in ordering comparisons and ORDER BY */
    rg_sql_quote_fn quote;
    void *quote_ctx;
    /* The rest is zero for sqlite and postgres, whose SQL does not change. */
    const char *collate_prefix; /* put before string columns wherever string_collate goes after */
    int collate_equality;       /* 1: = <> IN (and keyset equality) on strings are collated too,
                                   for backends whose default collation is case-insensitive */
    int nulls_by_is_null;       /* 1: no NULLS FIRST/LAST; ORDER BY "col IS NULL [DESC]" first */
    const char *like_param_prefix; /* around the LIKE pattern's placeholder (NULL: nothing) */
    const char *like_param_suffix;
    /* Optional, with nulls_by_is_null: 1 when the field's column is declared
       NOT NULL, so ORDER BY needs no "col IS NULL" term (which keeps an index
       from giving the order); 0 when it may hold NULLs or nobody knows. */
    int (*not_null)(void *ctx, const rg_collection_desc *coll, size_t field);
    void *not_null_ctx;
} rg_sql_dialect;

/* Ready-made dialects. postgres needs the adapter's quoting callback
   (PQescapeIdentifier on its connection). */
void rg_sql_dialect_sqlite(rg_sql_dialect *d);
void rg_sql_dialect_postgres(rg_sql_dialect *d, rg_sql_quote_fn quote, void *quote_ctx);

/*
 * MySQL 8 and MariaDB: "?" parameters, backtick quoting, NULL ordering spelt
 * out, and every string comparison, sort and LIKE in a binary code-point
 * collation with no trailing-space padding (utf8mb4_nopad_bin on MariaDB,
 * utf8mb4_0900_bin on MySQL), converted to utf8mb4 first so columns in other
 * character sets compare the same way. The SQL uses ESCAPE '\' as sqlite and
 * postgres do, so the session must run with sql_mode NO_BACKSLASH_ESCAPES.
 */
void rg_sql_dialect_mysql(rg_sql_dialect *d, int mariadb);

/*
 * A built statement. params[i] is the value for placeholder i+1; string
 * payloads point either into the plan (valid while the plan is) or into
 * `owned` (LIKE patterns, NUL-terminated). Integer LIMIT is params' last
 * entry, typed RG_TYPE_INTEGER.
 */
typedef struct rg_sql_query {
    rg_sql_buf sql;
    rg_value *params;
    size_t nparams;
    size_t params_cap;
    char **owned;
    size_t nowned;
    size_t owned_cap;
} rg_sql_query;

/*
 * Build "SELECT cols FROM target WHERE ... ORDER BY ... LIMIT ?" for `plan`.
 * `q` must be zeroed before the call and released with rg_sql_query_free
 * whatever the result. Returns RG_OK, RG_ERR_CONFIG for a plan the builder
 * cannot express (bad indices, value counts, unquotable identifiers), or
 * RG_ERR_INTERNAL when out of memory; err->message says which.
 */
rg_status rg_sql_build_select(const rg_sql_dialect *d, const rg_query_plan *plan,
                              rg_sql_query *q, rg_error *err);
void rg_sql_query_free(rg_sql_query *q);

/*
 * The LIKE pattern for a prefix (anywhere = 0) or substring (anywhere = 1)
 * match of `s`: ASCII letters lower-cased, % _ and \ escaped with a backslash
 * (to be used with ESCAPE '\'), then "%" appended (and prepended when
 * anywhere). Returns a malloc'd NUL-terminated string, or NULL when out of
 * memory.
 */
char *rg_sql_like_pattern(const char *s, size_t len, int anywhere);

/*
 * Normalise a datetime read from a backend ("YYYY-MM-DD[T ]HH:MM:SS[.f...]"
 * with an optional "Z", "+00", "+00:00" or no offset, taken as UTC) to
 * "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" (the fraction padded to 6 digits, omitted
 * when zero). Writes a NUL-terminated result into out (size >= 32) and returns
 * its length, or returns 0 when `s` is not in that form (the caller then
 * passes it through unchanged).
 */
size_t rg_sql_datetime_canon(const char *s, size_t len, char *out, size_t outsz);

/*
 * A number the backend sent as text (NUL-terminated), for a field of type
 * RG_TYPE_INTEGER or RG_TYPE_NUMBER, into v->u: all of it must be the
 * number, except that an integer field takes the integral part of a
 * decimal ("12.00" from a numeric/DECIMAL column). 0, or -1 when it does not
 * convert. Every SQL adapter reads text results this one way.
 */
int rg_sql_number_from_text(const char *s, rg_type type, rg_value *v);

/* Format unix seconds as "YYYY-MM-DDTHH:MM:SSZ" into out (size >= 32). */
size_t rg_sql_datetime_from_unix(long long secs, char *out, size_t outsz);

#endif
