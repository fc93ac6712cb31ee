/*
 * The Storefront API side of the shopify adapter (option `api: storefront`):
 * POST /api/{version}/graphql.json, the buyer-facing `products` connection.
 *
 * A Storefront token is made in the shop's admin (Headless channel or a
 * custom app) and does not expire: there is no OAuth refresh for it, so it
 * comes from the option `access_token` alone. readgate reads from a server,
 * so the default is a private (delegate) token in
 * Shopify-Storefront-Private-Token; `token_type: public` sends a public token
 * in X-Shopify-Storefront-Access-Token instead (Shopify throttles public
 * tokens by the caller's IP, which is readgate's for every buyer).
 *
 * Columns are Storefront Product members. The search fields are the ones
 * Shopify documents for Storefront `products(query:)`: available_for_sale,
 * created_at, product_type, tag, tag_not, title, updated_at, variants.price,
 * vendor. There is no id field, so the Admin API's `id:>N` paging shortcut
 * does not exist here: ordered by id, the adapter reads from the start with
 * sortKey ID and stops once enough rows passed the exact filter. The
 * Storefront API reports no query cost (extensions.cost), so no bucket is
 * kept.
 */
#include <stdio.h>

#include "shopify_api.h"

static const col_def COLUMNS[] = {
    {"id", COL_ID, NULL, 0},
    {"title", COL_SCALAR, "title", 't'},
    {"vendor", COL_SCALAR, "vendor", 't'},
    /* Documented as "a comma-separated list of product types". */
    {"productType", COL_SCALAR, "product_type", 'l'},
    {"handle", COL_SCALAR, NULL, 0},
    {"description", COL_SCALAR, NULL, 0},
    {"createdAt", COL_SCALAR, "created_at", 'd'},
    {"updatedAt", COL_SCALAR, "updated_at", 'd'},
    {"publishedAt", COL_SCALAR, NULL, 0},
    /* "at least one product variant available for sale": the member's meaning. */
    {"availableForSale", COL_SCALAR, "available_for_sale", 'b'},
    /* Needs the unauthenticated_read_product_inventory scope. */
    {"totalInventory", COL_SCALAR, NULL, 0},
    /* variants.price: any variant, a superset for the minimum and the maximum. */
    {"priceRange.minVariantPrice.amount", COL_PRICE_MIN, "variants.price", 'n'},
    {"priceRange.maxVariantPrice.amount", COL_PRICE_MAX, "variants.price", 'n'},
};

static const char *const PATH[] = {"api"};

const sp_api rg_sp_storefront_api = {
    .name = "storefront",
    .columns = COLUMNS,
    .ncolumns = sizeof COLUMNS / sizeof COLUMNS[0],
    .price_range = "priceRange",
    .columns_hint = "id, title, vendor, productType, handle, description, createdAt, updatedAt, "
                    "publishedAt, availableForSale, totalInventory, priceRange.min/maxVariantPrice"
                    ".amount or metafield:NAMESPACE.KEY (a metafield exposed to the Storefront "
                    "API)",
    .scope_hint = "the Storefront token needs the unauthenticated_read_product_listings scope, "
                  "and unauthenticated_read_product_inventory to read totalInventory",
    .path = PATH,
    .npath = 1,
    .cost_throttle = 0,
};

char *rg_sp_storefront_auth_header(const char *token, int private_token)
{
    return rg_saas_concat3(private_token ? "Shopify-Storefront-Private-Token: "
                                         : "X-Shopify-Storefront-Access-Token: ",
                           token, "");
}

rg_status rg_sp_storefront_http_error(const char *shop, const rg_http_resp *r, rg_error *err)
{
    switch (r->status) {
    case 401:
        /* {"errors":[{"message":"","extensions":{"code":"UNAUTHORIZED"}}]} */
        return rg_saas_fail(err, RG_ERR_AUTH,
                            "Shopify refused the Storefront access token for %s (HTTP 401): it is "
                            "missing, deleted, or of the other kind than option 'token_type' says "
                            "(private tokens go in Shopify-Storefront-Private-Token, public ones "
                            "in X-Shopify-Storefront-Access-Token)",
                            shop);
    case 430:
        return rg_saas_fail(err, RG_ERR_UNAVAILABLE,
                            "Shopify's bot protection rejected the Storefront request for %s "
                            "(HTTP 430 Shopify Security Rejection); try again later, and prefer a "
                            "private token",
                            shop);
    default:
        return RG_OK;
    }
}
