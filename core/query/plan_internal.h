/*
 * Shared by plan.c (request shape, sort, fields, columns), plan_values.c
 * (typed filter values) and plan_cursor.c (query digest, cursor values).
 * Private to core/query.
 */
#ifndef RG_PLAN_INTERNAL_H
#define RG_PLAN_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "query/arena.h"
#include "query/plan.h"

/* What a value check needs: where to allocate and where to report. */
typedef struct rg_plan_ctx {
    const rg_limits *limits;
    const rg_collection *coll;
    rg_arena *arena;
    rg_api_error *err;
} rg_plan_ctx;

/*
 * The typed values of one filter: `j` is the filter's "value", checked
 * against field `f` and operator `op` (shape: one value, an array for in and
 * between, a non-empty string for prefix/contains). On success *values
 * (arena) and *nvalues are set. On failure err is filled (invalid_value,
 * field `path` or "path[i]") and -1 is returned.
 */
int rg_plan_filter_values(rg_plan_ctx *x, const rg_field *f, rg_op op, json_t *j, const char *path,
                          rg_value **values, size_t *nvalues);

/* Text rules for every client string (filter values, search): at most
   max_bytes, no control characters except that `allow_space_controls`
   admits tab, newline, CR, VT and FF (search separates words on them).
   0 if acceptable, else -1 with err set (code `code`, field `path`). */
int rg_plan_check_text(rg_plan_ctx *x, const char *s, size_t n, size_t max_bytes,
                       int allow_space_controls, rg_err_code code, const char *path);

/* True if s[0..n) is a real calendar date "YYYY-MM-DD" (years 0001-9999). */
int rg_date_valid(const char *s, size_t n);

/*
 * Parse an RFC 3339 date-time "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)"
 * and write it in UTC as "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" (fraction truncated
 * to microseconds, padded to 6 digits, omitted when zero) into out (NUL-
 * terminated). Returns the length written, or 0 if s is not such a date-time
 * or the UTC result falls outside years 0001-9999.
 */
size_t rg_datetime_normalise(const char *s, size_t n, char out[32]);

/* Order of two non-null values of the same type, as adapters sort them
   (strings by bytes, datetimes by instant). <0, 0, >0. */
int rg_value_compare(const rg_value *a, const rg_value *b);

/* A growing byte buffer for canonical forms; `ok` drops to 0 when out of
   memory and every later write is ignored. Start with {.ok = 1}; free(p). */
typedef struct rg_canon {
    unsigned char *p;
    size_t len, cap;
    int ok;
} rg_canon;

/*
 * Append the canonical form of a query's identity (site, collection, filters
 * as a set with `in` lists as sets, search words as a set, sort keys in
 * order) to b (plan_canon.c). 0, or -1 when out of memory (b->ok is 0).
 */
int rg_plan_canon_query(rg_canon *b, const char *site_id, const rg_collection *c,
                        const rg_filter *filters, size_t nfilters, const char *const *words,
                        size_t nwords, const rg_sort_key *sort, size_t nsort);

/*
 * 16 bytes of SHA-256 over the canonical query (rg_plan_canon_query): what
 * makes a query but not the limit, the fields shown or the cursor, so paging
 * keeps the digest. 0, or -1 if hashing failed.
 */
int rg_plan_digest(const char *site_id, const rg_collection *c, const rg_filter *filters,
                   size_t nfilters, const char *const *words, size_t nwords,
                   const rg_sort_key *sort, size_t nsort, uint8_t out[16]);

/*
 * Authenticate `cursor` for the query with `digest` and turn it into nsort
 * after-values (arena), checked against the sort fields' types. 0 on success,
 * -1 if the cursor is not valid for this query, -2 when out of memory.
 */
int rg_plan_decode_cursor(const rg_keyring *kr, const char *cursor, const uint8_t digest[16],
                          const rg_collection *c, const rg_sort_key *sort, size_t nsort,
                          rg_arena *arena, const rg_value **after);

#endif
