/*
 * What the shopify adapter's two GraphQL APIs differ in.
 *
 * The Admin API (shopify_adapter.c) and the Storefront API
 * (shopify_storefront.c) share one query path: a fixed document that depends
 * only on the columns read, the search string as a GraphQL variable, Relay
 * cursors, and exact evaluation of the plan in memory. What differs is
 * described here: the endpoint, the token header, which Product members a
 * column may name and which search field (if any) Shopify documents for it,
 * whether the cost-based throttle applies, and how a refusal looks.
 *
 * Private to the adapter (linked into one .so, symbols hidden).
 */
#ifndef RG_SHOPIFY_API_H
#define RG_SHOPIFY_API_H

#include <stddef.h>

#include <readgate/adapter.h>

#include "saas_http.h"

typedef enum col_kind {
    COL_ID = 1,     /* id: a GID */
    COL_SCALAR,     /* a scalar member of Product */
    COL_PRICE_MIN,  /* {price range}.minVariantPrice.amount */
    COL_PRICE_MAX,
    COL_METAFIELD
} col_kind;

/*
 * Search kinds: 't' text eq/in; 'l' the same, but Shopify reads the value
 * as a comma-separated list, so a value holding a comma is not sent;
 * 'n' number; 'd' date; 'b' boolean eq/in.
 */
typedef struct col_def {
    const char *column;
    col_kind kind;
    const char *search;  /* search field, or NULL */
    int search_kind;
} col_def;

typedef struct sp_api {
    const char *name;          /* the value of option `api` */
    const col_def *columns;
    size_t ncolumns;
    const char *price_range;   /* the Product member holding min/maxVariantPrice */
    const char *columns_hint;  /* the supported columns, for a message */
    const char *scope_hint;    /* what an ACCESS_DENIED answer asks the token for */
    const char *const *path;   /* URL path segments before {version}/graphql.json */
    size_t npath;
    int cost_throttle;         /* extensions.cost and the leaky bucket apply */
} sp_api;

extern const sp_api rg_sp_storefront_api;

/* The header line that carries a Storefront token (malloc'd, NULL when out
   of memory): public tokens in X-Shopify-Storefront-Access-Token, private
   (delegate) tokens in Shopify-Storefront-Private-Token. */
char *rg_sp_storefront_auth_header(const char *token, int private_token);

/*
 * The Storefront API's own refusals: 401 (its `errors` is a list with code
 * UNAUTHORIZED), 403 and 430 (Shopify Security Rejection). RG_OK when the
 * status is none of these and the caller maps it as for the Admin API.
 */
rg_status rg_sp_storefront_http_error(const char *shop, const rg_http_resp *r, rg_error *err);

#endif
