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
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <readgate/adapter.h>

#include "memfilter.h"
#include "adapter_err.h"
#include "saas_http.h"
#include "shopify_api.h"

#define ADAPTER_NAME "shopify"
#define DEFAULT_API_VERSION "2025-01"
#define MAX_PAGE 250
/* Until a shop tells its bucket: Shopify's standard Admin API limits. */
#define DEFAULT_BUCKET_MAX 1000.0
#define DEFAULT_RESTORE 50.0
#define MAX_THROTTLE_RETRIES 3
#define MAX_PRODUCTS 100000

static const rg_host_api *host;

#define logf_(lvl, ...) rg_adapter_log(host, ADAPTER_NAME, lvl, __VA_ARGS__)

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
#define METAFIELD_PREFIX "metafield:"

static const char *const ADMIN_PATH[] = {"admin", "api"};

static const sp_api admin_api = {
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
static const col_def *find_column(const sp_api *api, const char *column, const char **dot)
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
    o->api = &admin_api;
    const char *api = "admin";
    for (size_t i = 0; i < src->noptions; i++) {
        const char *k = src->options[i].key, *v = src->options[i].value;
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

static rg_status check_options(const rg_source_info *src, rg_error *err)
{
    sp_options o;
    return parse_options(src, &o, err);
}

/* ---- the shared throttle state ------------------------------------------------------------ */

typedef struct bucket {
    struct bucket *next;
    char *key;
    double max, available, restore; /* points, points, points per second */
    int64_t updated_ms;
} bucket;

static pthread_mutex_t bucket_lock = PTHREAD_MUTEX_INITIALIZER;
static bucket *buckets;

/* Under bucket_lock. */
static bucket *bucket_find(const char *key)
{
    bucket *b = buckets;
    while (b && strcmp(b->key, key))
        b = b->next;
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b || !(b->key = strdup(key))) {
            free(b);
            return NULL;
        }
        b->max = b->available = DEFAULT_BUCKET_MAX;
        b->restore = DEFAULT_RESTORE;
        b->updated_ms = rg_saas_now_ms();
        b->next = buckets;
        buckets = b;
    }
    return b;
}

__attribute__((destructor)) static void free_buckets(void)
{
    pthread_mutex_lock(&bucket_lock);
    for (bucket *b = buckets, *next; b; b = next) {
        next = b->next;
        free(b->key);
        free(b);
    }
    buckets = NULL;
    pthread_mutex_unlock(&bucket_lock);
}

static double bucket_max(const char *key)
{
    double m = DEFAULT_BUCKET_MAX;
    pthread_mutex_lock(&bucket_lock);
    bucket *b = bucket_find(key);
    if (b)
        m = b->max;
    pthread_mutex_unlock(&bucket_lock);
    return m;
}

/* Take `cost` points, waiting for the bucket to refill within the deadline. */
static rg_status bucket_take(const char *key, double cost, int64_t deadline, rg_error *err)
{
    for (;;) {
        int64_t now = rg_saas_now_ms();
        pthread_mutex_lock(&bucket_lock);
        bucket *b = bucket_find(key);
        if (!b) {
            pthread_mutex_unlock(&bucket_lock);
            return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
        }
        double avail = b->available + (double)(now - b->updated_ms) * b->restore / 1000.0;
        if (avail > b->max)
            avail = b->max;
        b->available = avail;
        b->updated_ms = now;
        if (avail >= cost) {
            b->available -= cost;
            pthread_mutex_unlock(&bucket_lock);
            return RG_OK;
        }
        double restore = b->restore > 0 ? b->restore : 1;
        int64_t wait = (int64_t)ceil((cost - avail) * 1000.0 / restore);
        double max = b->max;
        pthread_mutex_unlock(&bucket_lock);
        if (now + wait > deadline)
            return rg_saas_fail(err, RG_ERR_UNAVAILABLE,
                                "Shopify's query cost budget holds %.0f of %.0f points and this "
                                "request needs %.0f: refilling takes %lld ms, beyond the query's "
                                "time budget",
                                avail, max, cost, (long long)wait);
        rg_saas_sleep_until(now + wait);
    }
}

/* Record the shop's bucket as Shopify reported it. */
static void bucket_update(const char *key, const json_t *ext)
{
    json_t *cost = json_object_get(ext, "cost");
    json_t *ts = json_object_get(cost, "throttleStatus");
    json_t *max = json_object_get(ts, "maximumAvailable"),
           *cur = json_object_get(ts, "currentlyAvailable"),
           *rate = json_object_get(ts, "restoreRate");
    if (!json_is_number(max) || !json_is_number(cur) || !json_is_number(rate))
        return;
    pthread_mutex_lock(&bucket_lock);
    bucket *b = bucket_find(key);
    if (b) {
        b->max = json_number_value(max);
        b->available = json_number_value(cur);
        b->restore = json_number_value(rate);
        b->updated_ms = rg_saas_now_ms();
    }
    pthread_mutex_unlock(&bucket_lock);
}

/* ---- connections --------------------------------------------------------------------------- */

typedef struct sp_conn {
    rg_http http;
    const sp_api *api;
    char *base_url, *api_version, *auth_header, *bucket_key, *shop;
} sp_conn;

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

static rg_status connect_(const rg_source_info *src, void **out, rg_error *err)
{
    *out = NULL;
    sp_options o;
    rg_status st = parse_options(src, &o, err);
    if (st != RG_OK)
        return st;
    /* Storefront tokens do not expire and have no OAuth grant to refresh. */
    st = rg_saas_check_access_token(o.access_token,
                                    o.api == &admin_api
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
    c->auth_header = o.api == &admin_api
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

static void disconnect_(void *conn)
{
    close_conn(conn);
}

static rg_status ping_(void *conn, rg_error *err)
{
    sp_conn *c = conn;
    return rg_http_ping(&c->http, c->base_url, rg_saas_deadline(5000), err);
}

/* ---- the request ----------------------------------------------------------------------------- */

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

static void selection_free(selection *s)
{
    free(s->def);
    free(s->mf);
}

static rg_status plan_selection(const sp_api *api, const rg_query_plan *p, const rg_mf_plan *mp,
                                selection *s, rg_error *err)
{
    const rg_collection_desc *coll = p->collection;
    memset(s, 0, sizeof *s);
    s->api = api;
    s->def = calloc(coll->nfields ? coll->nfields : 1, sizeof *s->def);
    s->mf = calloc(coll->nfields ? coll->nfields : 1, sizeof *s->mf);
    if (!s->def || !s->mf)
        return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    for (size_t f = 0; f < coll->nfields; f++) {
        s->mf[f] = -1;
        if (!mp->needed[f] && f != coll->key_field)
            continue;
        const rg_field_desc *fd = &coll->fields[f];
        const char *col = fd->column ? fd->column : fd->name, *dot = NULL;
        const col_def *d = find_column(api, col, &dot);
        if (!d) {
            /* A column of the other API is named as such: the likely slip. */
            const sp_api *other = api == &admin_api ? &rg_sp_storefront_api : &admin_api;
            int theirs = find_column(other, col, &dot) != NULL;
            return rg_saas_fail(err, RG_ERR_CONFIG,
                                "field '%s': Shopify column '%s' is not supported%s%s; use %s",
                                fd->name, col, api == &admin_api ? "" : " by the Storefront API",
                                !theirs               ? ""
                                : api == &admin_api ? " (a Storefront API column)"
                                                      : " (an Admin API column)",
                                api->columns_hint);
        }
        s->def[f] = d;
        if (d->kind == COL_METAFIELD)
            s->mf[f] = (int)s->nmf++;
        s->price_min |= d->kind == COL_PRICE_MIN;
        s->price_max |= d->kind == COL_PRICE_MAX;
    }
    /* Shopify's calculated cost: an object costs 1, a scalar 0. */
    s->node_cost = 1 + (double)s->nmf + (s->price_min || s->price_max) + s->price_min + s->price_max;
    return RG_OK;
}

/* The GraphQL document: fixed text plus the selected members. */
static rg_status build_document(const rg_query_plan *p, const selection *s, rg_sbuf *d,
                                rg_error *err)
{
    const rg_collection_desc *coll = p->collection;
    char num[32];
    rg_sbuf_puts(d, "query ReadgateProducts($first: Int!, $after: String, $query: String, "
                    "$sortKey: ProductSortKeys, $reverse: Boolean");
    for (size_t i = 0; i < s->nmf; i++) {
        snprintf(num, sizeof num, "%zu", i);
        rg_sbuf_puts(d, ", $mfns");
        rg_sbuf_puts(d, num);
        rg_sbuf_puts(d, ": String!, $mfkey");
        rg_sbuf_puts(d, num);
        rg_sbuf_puts(d, ": String!");
    }
    rg_sbuf_puts(d, ") { products(first: $first, after: $after, query: $query, sortKey: $sortKey, "
                    "reverse: $reverse) { pageInfo { hasNextPage endCursor } nodes {");
    /* Each scalar column once, whatever number of fields read it. */
    const col_def *cols = s->api->columns;
    for (size_t i = 0; i < s->api->ncolumns; i++) {
        if (cols[i].kind != COL_SCALAR && cols[i].kind != COL_ID)
            continue;
        for (size_t f = 0; f < coll->nfields; f++)
            if (s->def[f] == &cols[i]) {
                rg_sbuf_puts(d, " ");
                rg_sbuf_puts(d, cols[i].column);
                break;
            }
    }
    if (s->price_min || s->price_max) {
        rg_sbuf_puts(d, " ");
        rg_sbuf_puts(d, s->api->price_range);
        rg_sbuf_puts(d, " {");
        if (s->price_min)
            rg_sbuf_puts(d, " minVariantPrice { amount }");
        if (s->price_max)
            rg_sbuf_puts(d, " maxVariantPrice { amount }");
        rg_sbuf_puts(d, " }");
    }
    for (size_t i = 0; i < s->nmf; i++) {
        snprintf(num, sizeof num, "%zu", i);
        rg_sbuf_puts(d, " mf");
        rg_sbuf_puts(d, num);
        rg_sbuf_puts(d, ": metafield(namespace: $mfns");
        rg_sbuf_puts(d, num);
        rg_sbuf_puts(d, ", key: $mfkey");
        rg_sbuf_puts(d, num);
        rg_sbuf_puts(d, ") { value }");
    }
    rg_sbuf_puts(d, " } } }");
    if (d->oom)
        return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    return RG_OK;
}

/* ---- the search string -------------------------------------------------------------------------- */

/* field:"value" with \ and " escaped; control characters refused. */
static rg_status put_quoted(rg_sbuf *b, const char *s, size_t len, rg_error *err)
{
    rg_sbuf_puts(b, "\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            return rg_saas_fail(err, RG_ERR_CONFIG,
                                "a value holds a control character, which Shopify's search syntax "
                                "cannot carry");
        if (ch == '\\' || ch == '"')
            rg_sbuf_append(b, "\\", 1);
        rg_sbuf_append(b, s + i, 1);
    }
    rg_sbuf_puts(b, "\"");
    return RG_OK;
}

/* Shopify tokenises text; a value made only of punctuation may match nothing
   there, so it is left to the in-memory filter. */
static int has_word_char(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x80 || (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'))
            return 1;
    }
    return 0;
}

static void put_term_sep(rg_sbuf *b, size_t *nterms)
{
    if ((*nterms)++)
        rg_sbuf_puts(b, " AND ");
}

static rg_status put_filter(rg_sbuf *b, const col_def *d, const rg_field_desc *fd,
                            const rg_filter *flt, size_t *nterms, rg_error *err)
{
    static const char *cmp[] = {[RG_OP_EQ] = ":",  [RG_OP_LT] = ":<", [RG_OP_LTE] = ":<=",
                                [RG_OP_GT] = ":>", [RG_OP_GTE] = ":>="};
    const rg_value *v = flt->values;
    if (!d || !d->search)
        return RG_OK;
    rg_status st = RG_OK;
    int text = (d->search_kind == 't' || d->search_kind == 'l') &&
               (fd->type == RG_TYPE_STRING || fd->type == RG_TYPE_ENUM);
    int boolean = d->search_kind == 'b' && fd->type == RG_TYPE_BOOLEAN;
    if (text || boolean) {
        if (flt->op != RG_OP_EQ && flt->op != RG_OP_IN)
            return RG_OK;
        /* A list field would split a value at its commas and match its
           parts alone, which need not be a superset: left to memory. */
        for (size_t i = 0; text && i < flt->nvalues; i++)
            if (!has_word_char(v[i].u.str.ptr, v[i].u.str.len) ||
                (d->search_kind == 'l' && memchr(v[i].u.str.ptr, ',', v[i].u.str.len)))
                return RG_OK;
        put_term_sep(b, nterms);
        if (flt->nvalues > 1)
            rg_sbuf_puts(b, "(");
        for (size_t i = 0; i < flt->nvalues && st == RG_OK; i++) {
            if (i)
                rg_sbuf_puts(b, " OR ");
            rg_sbuf_puts(b, d->search);
            rg_sbuf_puts(b, ":");
            if (text)
                st = put_quoted(b, v[i].u.str.ptr, v[i].u.str.len, err);
            else
                rg_sbuf_puts(b, v[i].u.b ? "true" : "false");
        }
        if (flt->nvalues > 1)
            rg_sbuf_puts(b, ")");
        return st;
    }
    if (d->search_kind == 'n' && (fd->type == RG_TYPE_INTEGER || fd->type == RG_TYPE_NUMBER)) {
        switch (flt->op) {
        case RG_OP_EQ:
        case RG_OP_LT:
        case RG_OP_LTE:
        case RG_OP_GT:
        case RG_OP_GTE:
            put_term_sep(b, nterms);
            rg_sbuf_puts(b, d->search);
            rg_sbuf_puts(b, cmp[flt->op]);
            rg_sbuf_put_number(b, &v[0]);
            return RG_OK;
        case RG_OP_BETWEEN:
            put_term_sep(b, nterms);
            rg_sbuf_puts(b, d->search);
            rg_sbuf_puts(b, ":>=");
            rg_sbuf_put_number(b, &v[0]);
            put_term_sep(b, nterms);
            rg_sbuf_puts(b, d->search);
            rg_sbuf_puts(b, ":<=");
            rg_sbuf_put_number(b, &v[1]);
            return RG_OK;
        case RG_OP_IN:
            put_term_sep(b, nterms);
            rg_sbuf_puts(b, "(");
            for (size_t i = 0; i < flt->nvalues; i++) {
                if (i)
                    rg_sbuf_puts(b, " OR ");
                rg_sbuf_puts(b, d->search);
                rg_sbuf_puts(b, ":");
                rg_sbuf_put_number(b, &v[i]);
            }
            rg_sbuf_puts(b, ")");
            return RG_OK;
        default:
            return RG_OK;
        }
    }
    if (d->search_kind == 'd' && (fd->type == RG_TYPE_DATE || fd->type == RG_TYPE_DATETIME)) {
        /* One day wider than the value: a superset whatever time zone
           Shopify reads a date in. */
        const rg_value *lo, *hi;
        rg_mf_bounds(flt, &lo, &hi);
        char los[16], his[16];
        if ((lo && rg_mf_day_bound(lo, -1, los, sizeof los) != 0) ||
            (hi && rg_mf_day_bound(hi, 1, his, sizeof his) != 0))
            return RG_OK;
        if (lo) {
            put_term_sep(b, nterms);
            rg_sbuf_puts(b, d->search);
            rg_sbuf_puts(b, ":>=");
            rg_sbuf_puts(b, los);
        }
        if (hi) {
            put_term_sep(b, nterms);
            rg_sbuf_puts(b, d->search);
            rg_sbuf_puts(b, ":<=");
            rg_sbuf_puts(b, his);
        }
    }
    return RG_OK;
}

/* Ordered by a numeric id column alone (the GID read as its number, or
   legacyResourceId): Shopify's sortKey ID is our order. */
static int key_order(const rg_query_plan *p, const selection *s)
{
    const rg_collection_desc *coll = p->collection;
    size_t k = coll->key_field;
    const col_def *d = s->def[k];
    return p->nsort == 1 && p->sort[0].field == k && coll->fields[k].type == RG_TYPE_INTEGER &&
           d && (d->kind == COL_ID || (d->search && !strcmp(d->search, "id")));
}

static rg_status build_search(const rg_query_plan *p, const selection *s, rg_sbuf *b,
                              rg_error *err)
{
    const rg_collection_desc *coll = p->collection;
    size_t nterms = 0;
    rg_status st = RG_OK;
    for (size_t i = 0; i < p->nfilters && st == RG_OK; i++) {
        const rg_filter *f = &p->filters[i];
        st = put_filter(b, s->def[f->field], &coll->fields[f->field], f, &nterms, err);
    }
    /* Where the API can search by id, the `after` position skips what came
       before; otherwise memfilter drops it (rg_mf_selected). */
    if (st == RG_OK && p->after && key_order(p, s) && s->def[coll->key_field]->search &&
        !p->after[0].is_null) {
        put_term_sep(b, &nterms);
        rg_sbuf_puts(b, p->sort[0].desc ? "id:<" : "id:>");
        rg_sbuf_put_number(b, &p->after[0]);
    }
    if (st == RG_OK && b->oom)
        st = rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    return st;
}

/* ---- answers ------------------------------------------------------------------------------------- */

/* Set one cell from a product node. */
static int read_cell(rg_mf_rows *rows, rg_mf_cell *c, const rg_field_desc *fd, const col_def *d,
                     int mf, const char *price_range, const json_t *node)
{
    const json_t *j = NULL;
    char alias[24];
    switch (d->kind) {
    case COL_ID: {
        j = json_object_get(node, "id");
        if (json_is_string(j) && fd->type == RG_TYPE_INTEGER) {
            /* gid://shopify/Product/123 -> 123 */
            const char *s = json_string_value(j), *slash = strrchr(s, '/');
            const char *n = slash ? slash + 1 : s;
            return rg_mf_set_text(rows, c, fd->type, n, strlen(n), 0);
        }
        break;
    }
    case COL_SCALAR:
        j = json_object_get(node, d->column);
        break;
    case COL_PRICE_MIN:
    case COL_PRICE_MAX:
        j = json_object_get(json_object_get(json_object_get(node, price_range),
                                            d->kind == COL_PRICE_MIN ? "minVariantPrice"
                                                                     : "maxVariantPrice"),
                            "amount");
        break;
    case COL_METAFIELD:
        snprintf(alias, sizeof alias, "mf%d", mf);
        j = json_object_get(json_object_get(node, alias), "value");
        break;
    }
    /* Decimal, UnsignedInt64 and metafield values are strings in GraphQL. */
    if (json_is_string(j) && fd->type != RG_TYPE_STRING && fd->type != RG_TYPE_ENUM)
        return rg_mf_set_text(rows, c, fd->type, json_string_value(j), json_string_length(j),
                              RG_MF_DATE_FROM_DATETIME);
    return rg_mf_set_json(rows, c, fd->type, j, RG_MF_DATE_FROM_DATETIME);
}

static rg_status read_nodes(const rg_query_plan *p, const rg_mf_plan *mp, const selection *s,
                            const json_t *nodes, rg_mf_rows *rows, rg_error *err)
{
    const rg_collection_desc *coll = p->collection;
    size_t i;
    json_t *node;
    json_array_foreach(nodes, i, node) {
        rg_mf_cell *row = rg_mf_rows_add(rows);
        if (!row)
            return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
        for (size_t f = 0; f < coll->nfields; f++) {
            if (!mp->needed[f] || !s->def[f])
                continue;
            const rg_field_desc *fd = &coll->fields[f];
            int rc = read_cell(rows, &row[f], fd, s->def[f], s->mf[f], s->api->price_range, node);
            if (rc == -2)
                return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
            if (rc != 0)
                return rg_saas_fail(err, RG_ERR_UPSTREAM,
                                    "Shopify product column '%s' holds a value that is not a %s "
                                    "as configured for field '%s'",
                                    fd->column ? fd->column : fd->name,
                                    rg_mf_type_name(fd->type), fd->name);
        }
    }
    return RG_OK;
}

/* The first GraphQL error's code (extensions.code), or NULL. */
static const char *gql_code(const json_t *errors)
{
    json_t *e = json_array_get(errors, 0);
    json_t *code = json_object_get(json_object_get(e, "extensions"), "code");
    return json_is_string(code) ? json_string_value(code) : NULL;
}

static rg_status http_error(sp_conn *c, const rg_http_resp *r, rg_error *err)
{
    if (c->api == &rg_sp_storefront_api) {
        rg_status st = rg_sp_storefront_http_error(c->shop, r, err);
        if (st != RG_OK)
            return st;
    }
    json_t *errors = json_object_get(r->json, "errors");
    switch (r->status) {
    case 401:
        /* {"errors":"[API] Invalid API key or access token ..."}: a string. */
        return rg_saas_fail(err, RG_ERR_AUTH,
                            "Shopify refused the access token for %s (HTTP 401%s): it is missing, "
                            "expired, revoked or the app was uninstalled",
                            c->shop, json_is_string(errors) ? ", invalid API key or access token"
                                                            : "");
    case 402:
        return rg_saas_fail(err, RG_ERR_UNAVAILABLE,
                            "Shopify shop %s is frozen (HTTP 402 Payment Required)", c->shop);
    case 404:
        return rg_saas_fail(err, RG_ERR_CONFIG,
                            "Shopify answered HTTP 404 for %s: check options 'shop' and "
                            "'api_version' (%s)",
                            c->shop, c->api_version);
    case 423:
        return rg_saas_fail(err, RG_ERR_UNAVAILABLE, "Shopify shop %s is locked (HTTP 423)",
                            c->shop);
    default:
        return rg_http_status_error(&c->http, r->status, NULL, err);
    }
}

static rg_status query_(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
                        rg_error *err)
{
    sp_conn *c = conn;
    int64_t deadline = rg_saas_deadline(plan->timeout_ms);
    rg_mf_plan mp;
    rg_mf_rows rows;
    selection sel;
    rg_sbuf doc = {0}, search = {0};
    json_t *body = NULL, *vars = NULL;
    CURLU *url = NULL;
    memset(&sel, 0, sizeof sel);
    rg_mf_rows_init(&rows, plan->collection);
    rg_status st = rg_mf_plan_init(&mp, plan, err);
    if (st != RG_OK)
        goto out;
    const char *target = plan->collection->target;
    if (target && *target && strcmp(target, "products")) {
        st = rg_saas_fail(err, RG_ERR_CONFIG,
                          "collection '%s': the shopify adapter reads target 'products' only",
                          plan->collection->name);
        goto out;
    }
    if ((st = plan_selection(c->api, plan, &mp, &sel, err)) != RG_OK ||
        (st = build_document(plan, &sel, &doc, err)) != RG_OK ||
        (st = build_search(plan, &sel, &search, err)) != RG_OK)
        goto out;
    /* {api path}/{version}/graphql.json: every segment but the version is
       fixed text. */
    const char *segs[4];
    size_t nsegs = 0;
    unsigned raw = 0;
    for (size_t i = 0; i < c->api->npath && i < 2; i++) {
        raw |= 1u << nsegs;
        segs[nsegs++] = c->api->path[i];
    }
    segs[nsegs++] = c->api_version;
    raw |= 1u << nsegs;
    segs[nsegs++] = "graphql.json";
    url = rg_http_url(c->base_url, segs, nsegs, raw, err);
    if (!url) {
        st = err->status;
        goto out;
    }
    int early = key_order(plan, &sel);
    vars = json_object();
    body = json_object();
    int ok = vars && body && !json_object_set_new(body, "query", json_string(doc.data)) &&
             !json_object_set(body, "variables", vars) &&
             !json_object_set_new(vars, "sortKey", json_string("ID")) &&
             !json_object_set_new(vars, "reverse", json_boolean(early && plan->sort[0].desc));
    if (ok && search.len)
        ok = !json_object_set_new(vars, "query", json_string(search.data));
    for (size_t f = 0; ok && f < plan->collection->nfields; f++) {
        if (sel.mf[f] < 0)
            continue;
        const rg_field_desc *fd = &plan->collection->fields[f];
        const char *col = (fd->column ? fd->column : fd->name) + strlen(METAFIELD_PREFIX);
        const char *dot = strchr(col, '.');
        char name[32];
        snprintf(name, sizeof name, "mfns%d", sel.mf[f]);
        ok = !json_object_set_new(vars, name, json_stringn(col, (size_t)(dot - col)));
        snprintf(name, sizeof name, "mfkey%d", sel.mf[f]);
        ok = ok && !json_object_set_new(vars, name, json_string(dot + 1));
    }
    if (!ok) {
        st = rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
        goto out;
    }
    const char *headers[] = {c->auth_header};
    int cost_bucket = c->api->cost_throttle;
    /* In key order a page holds no more than the limit, unless the rows
       before the `after` position are read too (no id search field). */
    int whole_pages = early && plan->after && !sel.def[plan->collection->key_field]->search;
    int retries = 0;
    for (;;) {
        /* A page as large as half the bucket allows, so a page never waits
           for a whole bucket. */
        long first = MAX_PAGE;
        if (cost_bucket) {
            double max = bucket_max(c->bucket_key);
            first = (long)floor((max / 2 - 2) / sel.node_cost);
            if (first > MAX_PAGE)
                first = MAX_PAGE;
        }
        if (early && !whole_pages && (size_t)first > plan->limit)
            first = (long)plan->limit;
        if (first < 1)
            first = 1;
        double cost = 2 + (double)first * sel.node_cost;
        if (json_object_set_new(vars, "first", json_integer(first)) != 0) {
            st = rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
            goto out;
        }
        if (cost_bucket && (st = bucket_take(c->bucket_key, cost, deadline, err)) != RG_OK)
            goto out;
        rg_http_resp r;
        st = rg_http_send(&c->http, "POST", url, headers, 1, body, deadline, &r, err);
        if (st == RG_OK && (r.status < 200 || r.status > 299))
            st = http_error(c, &r, err);
        if (st != RG_OK) {
            rg_http_resp_free(&r);
            goto out;
        }
        if (cost_bucket)
            bucket_update(c->bucket_key, json_object_get(r.json, "extensions"));
        json_t *errors = json_object_get(r.json, "errors");
        json_t *products = json_object_get(json_object_get(r.json, "data"), "products");
        /* The Storefront API answers a field the token may not read
           (totalInventory without the inventory scope) with null beside an
           error: rows read from it would be wrong, so any error fails. */
        if (json_array_size(errors) && (!json_is_object(products) || !cost_bucket)) {
            const char *code = gql_code(errors);
            if (cost_bucket && code &&
                (!strcmp(code, "THROTTLED") || !strcmp(code, "MAX_COST_EXCEEDED")) &&
                retries++ < MAX_THROTTLE_RETRIES) {
                if (!strcmp(code, "MAX_COST_EXCEEDED")) {
                    /* Shopify tells the single-query maximum: remember it. */
                    json_t *e = json_array_get(errors, 0);
                    json_t *mc = json_object_get(json_object_get(e, "extensions"), "maxCost");
                    if (json_is_number(mc)) {
                        pthread_mutex_lock(&bucket_lock);
                        bucket *b = bucket_find(c->bucket_key);
                        if (b)
                            b->max = json_number_value(mc);
                        pthread_mutex_unlock(&bucket_lock);
                    }
                }
                logf_(RG_LOG_INFO, "Shopify answered %s; waiting for the cost bucket", code);
                rg_http_resp_free(&r);
                continue;
            }
            if (code && !strcmp(code, "THROTTLED"))
                st = rg_saas_fail(err, RG_ERR_UNAVAILABLE, "%s",
                                  cost_bucket
                                      ? "Shopify kept throttling the query (THROTTLED): its cost "
                                        "budget is spent; try again later"
                                      : "Shopify throttled the Storefront query (THROTTLED); try "
                                        "again later");
            else if (code && !strcmp(code, "ACCESS_DENIED"))
                st = rg_saas_fail(err, RG_ERR_CONFIG,
                                  "Shopify denied access to products (ACCESS_DENIED): %s",
                                  c->api->scope_hint);
            else
                st = rg_saas_fail(err, RG_ERR_UPSTREAM,
                                  "Shopify refused the query (GraphQL error %s)",
                                  code ? code : "without a code");
            rg_http_resp_free(&r);
            goto out;
        }
        json_t *nodes = json_object_get(products, "nodes");
        json_t *info = json_object_get(products, "pageInfo");
        if (!json_is_array(nodes) || !json_is_object(info)) {
            rg_http_resp_free(&r);
            st = rg_saas_fail(err, RG_ERR_UPSTREAM, "Shopify answered without products");
            goto out;
        }
        st = read_nodes(plan, &mp, &sel, nodes, &rows, err);
        json_t *next = json_object_get(info, "endCursor");
        int more = json_is_true(json_object_get(info, "hasNextPage")) && json_is_string(next);
        if (st == RG_OK && more &&
            json_object_set_new(vars, "after", json_string(json_string_value(next))) != 0)
            st = rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
        rg_http_resp_free(&r);
        if (st != RG_OK)
            goto out;
        retries = 0;
        if (!more || (early && rg_mf_count_selected(&mp, &rows) >= plan->limit))
            break;
        if (rows.nrows >= MAX_PRODUCTS) {
            st = rg_saas_fail(err, RG_ERR_UPSTREAM,
                              "more than %d Shopify products match the query and it must be "
                              "sorted in memory; narrow it",
                              MAX_PRODUCTS);
            goto out;
        }
    }
    st = rg_mf_emit(&mp, &rows, sink, err);
out:
    curl_url_cleanup(url);
    json_decref(body);
    json_decref(vars);
    rg_sbuf_free(&doc);
    rg_sbuf_free(&search);
    selection_free(&sel);
    rg_mf_rows_free(&rows);
    rg_mf_plan_free(&mp);
    if (st != RG_OK && st != RG_ERR_ABORTED)
        logf_(RG_LOG_DEBUG, "query on '%s' failed: %s", plan->collection->name, err->message);
    return st;
}

static const rg_adapter shopify_adapter = {
    .struct_size = sizeof(rg_adapter),
    .abi_major = RG_ADAPTER_ABI_MAJOR,
    .abi_minor = RG_ADAPTER_ABI_MINOR,
    .name = ADAPTER_NAME,
    .version = "1.0.0",
    .check_options = check_options,
    .connect = connect_,
    .query = query_,
    .ping = ping_,
    .disconnect = disconnect_,
};

__attribute__((visibility("default"))) const rg_adapter *rg_adapter_entry(const rg_host_api *h)
{
    host = h;
    return &shopify_adapter;
}
