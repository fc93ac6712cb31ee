/*
 * What the files of the shopify adapter share. Private to the adapter
 * (linked into one .so, symbols hidden):
 *   shopify_adapter.c     the descriptor and the entry point
 *   shopify_conn.c        the Admin API's columns, options, connections
 *   shopify_storefront.c  the Storefront API (shopify_api.h)
 *   shopify_throttle.c    the cost-based throttle's buckets, per shop
 *   shopify_request.c     the GraphQL document and the search string
 *   shopify_query.c       reading pages of products and answering a plan
 */
#ifndef RG_SHOPIFY_INTERNAL_H
#define RG_SHOPIFY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <readgate/adapter.h>

#include "adapter_err.h"
#include "memfilter.h"
#include "saas_http.h"
#include "shopify_api.h"

#define ADAPTER_NAME "shopify"
#define METAFIELD_PREFIX "metafield:"

/* The host services, set once by the entry point before any other call. */
extern const rg_host_api *rg_sp_host;

#define logf_(lvl, ...) rg_adapter_log(rg_sp_host, ADAPTER_NAME, lvl, __VA_ARGS__)

/* ---- columns and connections (shopify_conn.c) ------------------------------------ */

extern const sp_api rg_sp_admin_api;

/* The column's definition in `api`; for metafields a shared entry and *dot set. */
const col_def *rg_sp_find_column(const sp_api *api, const char *column, const char **dot);

typedef struct sp_conn {
    rg_http http;
    const sp_api *api;
    char *base_url, *api_version, *auth_header, *bucket_key, *shop;
} sp_conn;

rg_status rg_sp_check_options(const rg_source_info *src, rg_error *err);
rg_status rg_sp_connect(const rg_source_info *src, void **out, rg_error *err);
void rg_sp_disconnect(void *conn);
rg_status rg_sp_ping(void *conn, rg_error *err);

/* ---- the cost-based throttle (shopify_throttle.c) ------------------------------------ */

/* The bucket's size as Shopify last reported it for `key`. */
double rg_sp_bucket_max(const char *key);
/* Take `cost` points, waiting for the bucket to refill within the deadline. */
rg_status rg_sp_bucket_take(const char *key, double cost, int64_t deadline, rg_error *err);
/* Record the shop's bucket as Shopify reported it (the answer's extensions). */
void rg_sp_bucket_update(const char *key, const json_t *ext);
/* Record the single-query maximum Shopify named in MAX_COST_EXCEEDED. */
void rg_sp_bucket_set_max(const char *key, double max);

/* ---- the request (shopify_request.c) ------------------------------------------------- */

/* What the query reads: per field its column definition and, for
   metafields, its alias number. */
typedef struct selection {
    const sp_api *api;
    const col_def **def; /* per field (NULL when not read) */
    int *mf;             /* per field: metafield alias index, or -1 */
    size_t nmf;
    int price_min, price_max;
    double node_cost;
} selection;

void rg_sp_selection_free(selection *s);
rg_status rg_sp_plan_selection(const sp_api *api, const rg_query_plan *p, const rg_mf_plan *mp,
                               selection *s, rg_error *err);
/* The GraphQL document: fixed text plus the selected members. */
rg_status rg_sp_build_document(const rg_query_plan *p, const selection *s, rg_sbuf *d,
                               rg_error *err);
/* Ordered by a numeric id column alone: Shopify's sortKey ID is our order. */
int rg_sp_key_order(const rg_query_plan *p, const selection *s);
/* The search string: a superset of the plan's filters Shopify can apply. */
rg_status rg_sp_build_search(const rg_query_plan *p, const selection *s, rg_sbuf *b,
                             rg_error *err);

/* ---- answering a plan (shopify_query.c) ------------------------------------------------ */

rg_status rg_sp_query(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
                      rg_error *err);

#endif
