/*
 * Request body -> typed query plan (docs/http-api.md), the only way a request
 * reaches an adapter. Every check the spec lists happens here; the adapter
 * gets field indices, typed values and a fixed sort order.
 *
 * Validation error codes (RG_E_* of errors.h, all HTTP 400):
 *   invalid_json        body is not a JSON object / duplicate keys / too deep
 *   unknown_property    a top-level key other than collection, filters, search,
 *                       sort, fields, limit, cursor
 *   unknown_collection  collection missing or not configured
 *   invalid_filter      filters not an array, bad element shape, too many
 *   unknown_field       a field name that is not in the collection (or has no role)
 *   field_not_filterable / operator_not_allowed / invalid_value
 *   invalid_search      not a string, too long, no searchable fields
 *   invalid_sort        not sortable, too many, bad dir
 *   invalid_fields      not a display field
 *   invalid_limit       not an integer in 1..max
 *   invalid_cursor      forged, malformed or from another query
 */
#ifndef RG_PLAN_H
#define RG_PLAN_H

#include <readgate/adapter.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "crypto/keyring.h"
#include "query/errors.h"

/*
 * A validated request. All memory is owned by the plan (one arena) and
 * released by rg_request_plan_free. `plan` is what the adapter sees.
 */
typedef struct rg_request_plan {
    const rg_collection *collection;
    rg_query_plan plan;       /* plan.limit is the client's limit + 1 (to detect a next page) */
    size_t client_limit;
    /* Which of plan.columns are written to the response (the display fields
       asked for); the others are sort fields needed for the cursor only. */
    const unsigned char *column_visible; /* ncolumns entries, 0/1 */
    /* For each sort key, its index in plan.columns (to build the next cursor). */
    const size_t *sort_column;
    uint8_t query_digest[16]; /* binds cursors to this query */
    void *arena;              /* private */
} rg_request_plan;

/*
 * Validate `body` (len bytes, not necessarily NUL-terminated) for `site`.
 * On success returns 0 and fills *out (free with rg_request_plan_free).
 * On failure returns -1 and fills *err (nothing to free).
 */
int rg_plan_build(const rg_site *site, const rg_limits *limits, const rg_keyring *kr,
                  const char *body, size_t len, rg_request_plan *out, rg_api_error *err);
void rg_request_plan_free(rg_request_plan *p);

/*
 * Canonical bytes of what `p` answers for site `site_id` (plan_canon.c):
 * equal for two requests exactly when they must get the same response body
 * under the same configuration (filter order, repeated filters, the order of
 * an `in` list and of search words don't count; fields, sort, limit and the
 * cursor position do). The result cache keys on them. *out is malloc'd.
 * 0, or -1 when out of memory.
 */
int rg_plan_canonical(const rg_request_plan *p, const char *site_id, unsigned char **out,
                      size_t *len);

/* The next-page cursor from the values of the last returned row (plan.columns order). */
int rg_plan_next_cursor(const rg_request_plan *p, const rg_keyring *kr, const rg_value *row,
                        char **out);

#endif
