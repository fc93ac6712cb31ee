/*
 * The shopify adapter's Admin API columns, the source's options, and
 * connections (one libcurl handle and the token's header each).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shopify_internal.h"

#define DEFAULT_API_VERSION "2025-01"

/* ---- columns ------------------------------------------------------------------------ */

/* The Admin API's (col_def: shopify_api.h). */
static const col_def COLUMNS[] = {
    {"id", COL_ID, "id", 'n'},
    {"legacyResourceId", COL_SCALAR, "id", 'n'},
    {"title", COL_SCALAR, "title", 't'},
    {"vendor", COL_SCALAR, "vendor", 't'},
    /* Read as a list of types, as the Storefront API documents: a value
       holding a comma is filtered in memory only. */
    {"productType", COL_SCALAR, "product_type", 'l'},
    {"handle", COL_SCALAR, NULL, 0},
    {"description", COL_SCALAR, NULL, 0},
    {"status", COL_SCALAR, NULL, 0},
    {"createdAt", COL_SCALAR, "created_at", 'd'},
    {"updatedAt", COL_SCALAR, "updated_at", 'd'},
    {"publishedAt", COL_SCALAR, "published_at", 'd'},
    {"totalInventory", COL_SCALAR, "inventory_total", 'n'},
    {"tracksInventory", COL_SCALAR, NULL, 0},
    {"priceRangeV2.minVariantPrice.amount", COL_PRICE_MIN, "price", 'n'},
    {"priceRangeV2.maxVariantPrice.amount", COL_PRICE_MAX, "price", 'n'},
};

static const char *const ADMIN_PATH[] = {"admin", "api"};

const sp_api rg_sp_admin_api = {
    .name = "admin",
    .columns = COLUMNS,
    .ncolumns = sizeof COLUMNS / sizeof COLUMNS[0],
    .price_range = "priceRangeV2",
    .columns_hint = "id, legacyResourceId, title, vendor, productType, handle, description, "
                    "status, createdAt, updatedAt, publishedAt, totalInventory, tracksInventory, "
                    "priceRangeV2.min/maxVariantPrice.amount or metafield:NAMESPACE.KEY",
    .scope_hint = "the token needs the read_products scope",
    .path = ADMIN_PATH,
    .npath = 2,
    .cost_throttle = 1,
};

/* A metafield namespace or key: letters, digits, '-' and '_'. */
static int valid_mf_part(const char *s, size_t len)
{
    if (len == 0 || len > 255)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return 0;
    return 1;
}

/* The column's definition in `api`; for metafields a shared entry and *dot set. */
const col_def *rg_sp_find_column(const sp_api *api, const char *column, const char **dot)
{
    static const col_def metafield = {METAFIELD_PREFIX, COL_METAFIELD, NULL, 0};
    for (size_t i = 0; i < api->ncolumns; i++)
        if (!strcmp(api->columns[i].column, column))
            return &api->columns[i];
    size_t pl = strlen(METAFIELD_PREFIX);
    if (!strncmp(column, METAFIELD_PREFIX, pl)) {
        const char *d = strchr(column + pl, '.');
        if (d && valid_mf_part(column + pl, (size_t)(d - column - pl)) &&
            valid_mf_part(d + 1, strlen(d + 1))) {
            *dot = d;
            return &metafield;
        }
    }
    return NULL;
}

/* ---- options -------------------------------------------------------------------------- */

typedef struct sp_options {
    const char *shop, *api_version, *base_url, *access_token, *token_type;
    const sp_api *api;
    int private_token; /* Storefront: the token is a private (delegate) one */
} sp_options;

static int valid_shop(const char *s)
{
    if (!s || !*s || strlen(s) > 255 || *s == '.' || *s == '-')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '.'))
            return 0;
    return 1;
}

static int valid_version(const char *v)
{
    if (!strcmp(v, "unstable"))
        return 1;
    return strlen(v) == 7 && strspn(v, "0123456789") == 4 && v[4] == '-' &&
           (!strcmp(v + 5, "01") || !strcmp(v + 5, "04") || !strcmp(v + 5, "07") ||
            !strcmp(v + 5, "10"));
}

static rg_status parse_options(const rg_source_info *src, sp_options *o, rg_error *err)
{
    memset(o, 0, sizeof *o);
    o->api_version = DEFAULT_API_VERSION;
    o->api = &rg_sp_admin_api;
    const char *api = "admin";
    for (size_t i = 0; i < src->noptions; i++) {
        const rg_option *opt = rg_option_at(src->options, i);
        const char *k = opt->key, *v = opt->value;
        if (!strcmp(k, "shop")) {
            o->shop = v;
        } else if (!strcmp(k, "api_version")) {
            o->api_version = v ? v : "";
        } else if (!strcmp(k, "base_url")) {
            if (rg_saas_opt_base_url(k, v, err) != 0)
                return RG_ERR_CONFIG;
            o->base_url = v;
        } else if (!strcmp(k, "access_token")) {
            o->access_token = v;
        } else if (!strcmp(k, "api")) {
            api = v ? v : "";
        } else if (!strcmp(k, "token_type")) {
            o->token_type = v ? v : "";
        } else {
            return rg_saas_fail(err, RG_ERR_CONFIG,
                                "unknown option '%s' for the shopify adapter; expected: shop, "
                                "access_token, api_version, base_url, api, token_type",
                                k);
        }
    }
    if (!valid_shop(o->shop))
        return rg_saas_fail(err, RG_ERR_CONFIG,
                            "option 'shop' is required: the shop's domain, e.g. "
                            "example.myshopify.com");
    if (!valid_version(o->api_version))
        return rg_saas_fail(err, RG_ERR_CONFIG,
                            "option 'api_version' must be a Shopify API version such as 2025-01 "
                            "(YYYY-01, -04, -07 or -10) or 'unstable'");
    if (!strcmp(api, "storefront"))
        o->api = &rg_sp_storefront_api;
    else if (strcmp(api, "admin"))
        return rg_saas_fail(err, RG_ERR_CONFIG, "option 'api' must be 'admin' or 'storefront'");
    /* readgate reads from a server: a private token unless told otherwise. */
    o->private_token = 1;
    if (o->token_type) {
        if (o->api != &rg_sp_storefront_api)
            return rg_saas_fail(err, RG_ERR_CONFIG,
                                "option 'token_type' applies to 'api: storefront' only (an Admin "
                                "API token always goes in X-Shopify-Access-Token)");
        if (!strcmp(o->token_type, "public"))
            o->private_token = 0;
        else if (strcmp(o->token_type, "private"))
            return rg_saas_fail(err, RG_ERR_CONFIG,
                                "option 'token_type' must be 'private' (a delegate token, sent "
                                "as Shopify-Storefront-Private-Token) or 'public' (sent as "
                                "X-Shopify-Storefront-Access-Token)");
    }
    if (o->access_token && strncmp(o->access_token, "enc:", 4) &&
        rg_saas_opt_token("access_token", o->access_token, err) != 0)
        return RG_ERR_CONFIG;
    return RG_OK;
}

rg_status rg_sp_check_options(const rg_source_info *src, rg_error *err)
{
    sp_options o;
    return parse_options(src, &o, err);
}

/* ---- connections --------------------------------------------------------------------------- */

static void close_conn(sp_conn *c)
{
    rg_http_close(&c->http);
    free(c->base_url);
    free(c->api_version);
    free(c->auth_header);
    free(c->bucket_key);
    free(c->shop);
    free(c);
}

rg_status rg_sp_connect(const rg_source_info *src, void **out, rg_error *err)
{
    *out = NULL;
    sp_options o;
    rg_status st = parse_options(src, &o, err);
    if (st != RG_OK)
        return st;
    /* Storefront tokens do not expire and have no OAuth grant to refresh. */
    st = rg_saas_check_access_token(o.access_token,
                                    o.api == &rg_sp_admin_api
                                        ? "no Shopify access token: give the source an oauth "
                                          "block (and run readgate oauth import) or an "
                                          "access_token option"
                                        : "no Shopify Storefront access token: give the source "
                                          "an access_token option (a token from the shop's "
                                          "Headless channel or custom app)",
                                    err);
    if (st != RG_OK)
        return st;
    sp_conn *c = calloc(1, sizeof *c);
    if (!c)
        return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    c->api = o.api;
    c->shop = strdup(o.shop);
    c->base_url = o.base_url ? strdup(o.base_url) : rg_saas_concat3("https://", o.shop, "");
    c->api_version = strdup(o.api_version);
    c->auth_header = o.api == &rg_sp_admin_api
                         ? rg_saas_concat3("X-Shopify-Access-Token: ", o.access_token, "")
                         : rg_sp_storefront_auth_header(o.access_token, o.private_token);
    /* The bucket belongs to the app on the shop. */
    c->bucket_key = c->base_url ? rg_saas_concat3(c->base_url, "|", o.shop) : NULL;
    if (!c->shop || !c->base_url || !c->api_version || !c->auth_header || !c->bucket_key) {
        close_conn(c);
        return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    }
    if (!o.base_url && rg_saas_opt_base_url("shop", c->base_url, err) != 0) {
        close_conn(c);
        return RG_ERR_CONFIG;
    }
    st = rg_http_open(&c->http, "Shopify", src->connect_timeout_ms, err);
    if (st != RG_OK) {
        close_conn(c);
        return st;
    }
    *out = c;
    return RG_OK;
}

void rg_sp_disconnect(void *conn)
{
    close_conn(conn);
}

rg_status rg_sp_ping(void *conn, rg_error *err)
{
    sp_conn *c = conn;
    return rg_http_ping(&c->http, c->base_url, rg_saas_deadline(5000), err);
}
