/*
 * readgate-adapter-shopify: reads a shop's products through Shopify's GraphQL
 * APIs: the Admin API (POST /admin/api/{version}/graphql.json, `products`),
 * or with `api: storefront` the Storefront API (shopify_storefront.c).
 *
 * Options: shop (required, "name.myshopify.com"), access_token (Admin: header
 * X-Shopify-Access-Token, injected by the core for sources with an oauth
 * block; Storefront: a Storefront token, see token_type), api_version
 * (default 2025-01), base_url (default https://{shop}), api (admin or
 * storefront), token_type (storefront only: private, the default, or
 * public). The collection target is "products" (the only one); each field's
 * column names a product field. Admin API columns:
 *
 *   id                  the product GID (string field) or its number (integer)
 *   legacyResourceId    the product number
 *   title vendor productType handle description status
 *   createdAt updatedAt publishedAt           (date or datetime fields)
 *   totalInventory      (integer)     tracksInventory (boolean)
 *   priceRangeV2.minVariantPrice.amount, priceRangeV2.maxVariantPrice.amount
 *   metafield:NAMESPACE.KEY          the metafield's value, read as the field's type
 *
 * (the Storefront API's are listed in shopify_storefront.c; a column the
 * chosen API does not have is refused with RG_ERR_CONFIG naming it).
 *
 * How a query runs. The document is built from fixed text and depends only on
 * which columns are read; every value travels as a GraphQL variable, the
 * search string included. The search string asks Shopify for a SUPERSET of
 * the answer; memfilter.c evaluates the plan again on what comes back, so the
 * answer is exact whatever Shopify's tokenised text matching does:
 *   - text eq/in on title, vendor, productType: field:"value" with \ and "
 *     backslash-escaped (control characters refused; a value with no letter
 *     or digit is not sent, as a tokenizer may drop it entirely);
 *   - numeric comparisons on totalInventory (inventory_total), the price
 *     columns (price: any variant, a superset for min and max) and the id;
 *   - date bounds on createdAt/updatedAt/publishedAt, one day wider;
 *   - ne, prefix, contains, search, metafields and text order: in memory only.
 * Relay cursors page through Shopify. When the plan is ordered by a numeric
 * id column alone, Shopify sorts by ID with the `after` position in the
 * search string (Admin API; the Storefront API has no id search field and
 * reads from the start) and reading stops once `limit` rows passed the exact
 * filter; otherwise every matching product is read and sorted in memory.
 *
 * Throttle (Admin API). Shopify charges each query its requested cost from a
 * leaky bucket (extensions.cost.throttleStatus). The adapter keeps the last
 * status per shop, process-wide, and before sending waits until the bucket
 * has refilled enough for the request, if that happens before the query's
 * deadline; otherwise it answers RG_ERR_UNAVAILABLE at once. A THROTTLED
 * answer updates the status and is retried the same way.
 *
 * This file holds the descriptor; shopify_internal.h lists the others.
 */
#include "shopify_internal.h"

/* Set once by rg_adapter_entry, before any other call, and only read after. */
const rg_host_api *rg_sp_host;

static const rg_adapter shopify_adapter = {
    .struct_size = sizeof(rg_adapter),
    .abi_major = RG_ADAPTER_ABI_MAJOR,
    .abi_minor = RG_ADAPTER_ABI_MINOR,
    .name = ADAPTER_NAME,
    .version = "1.0.0",
    .check_options = rg_sp_check_options,
    .connect = rg_sp_connect,
    .query = rg_sp_query,
    .ping = rg_sp_ping,
    .disconnect = rg_sp_disconnect,
};

__attribute__((visibility("default"))) const rg_adapter *rg_adapter_entry(const rg_host_api *h)
{
    rg_sp_host = h;
    return &shopify_adapter;
}
