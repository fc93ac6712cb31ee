/*
 * The shopify adapter's query: page through products with Relay cursors
 * within the cost budget, convert each node to typed cells, and answer the
 * plan exactly in memory (memfilter.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shopify_internal.h"

#define MAX_PAGE 250
#define MAX_THROTTLE_RETRIES 3
#define MAX_PRODUCTS 100000

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
            const rg_field_desc *fd = rg_field_at(coll->fields, f);
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

rg_status rg_sp_query(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
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
    if ((st = rg_sp_plan_selection(c->api, plan, &mp, &sel, err)) != RG_OK ||
        (st = rg_sp_build_document(plan, &sel, &doc, err)) != RG_OK ||
        (st = rg_sp_build_search(plan, &sel, &search, err)) != RG_OK)
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
    int early = rg_sp_key_order(plan, &sel);
    vars = json_object();
    body = json_object();
    int ok = vars && body && !json_object_set_new(body, "query", json_string(doc.data)) &&
             !json_object_set(body, "variables", vars) &&
             !json_object_set_new(vars, "sortKey", json_string("ID")) &&
             !json_object_set_new(vars, "reverse",
                                  json_boolean(early && rg_sort_key_at(plan->sort, 0)->desc));
    if (ok && search.len)
        ok = !json_object_set_new(vars, "query", json_string(search.data));
    for (size_t f = 0; ok && f < plan->collection->nfields; f++) {
        if (sel.mf[f] < 0)
            continue;
        const rg_field_desc *fd = rg_field_at(plan->collection->fields, f);
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
            double max = rg_sp_bucket_max(c->bucket_key);
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
        if (cost_bucket && (st = rg_sp_bucket_take(c->bucket_key, cost, deadline, err)) != RG_OK)
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
            rg_sp_bucket_update(c->bucket_key, json_object_get(r.json, "extensions"));
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
                    if (json_is_number(mc))
                        rg_sp_bucket_set_max(c->bucket_key, json_number_value(mc));
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
    rg_sp_selection_free(&sel);
    rg_mf_rows_free(&rows);
    rg_mf_plan_free(&mp);
    if (st != RG_OK && st != RG_ERR_ABORTED)
        logf_(RG_LOG_DEBUG, "query on '%s' failed: %s", plan->collection->name, err->message);
    return st;
}
