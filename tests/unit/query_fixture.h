/*
 * A site written out by hand for the query tests, independent of the config
 * loader: "products" exercises every type, role and operator; "plain" has no
 * searchable field. Collections are sorted by name, as the loader keeps them.
 */
#ifndef RG_TEST_QUERY_FIXTURE_H
#define RG_TEST_QUERY_FIXTURE_H

#include "config/config.h"

#define M(op) RG_OP_MASK(RG_OP_##op)

enum {
    F_ID,
    F_NAME,
    F_PRICE,
    F_CATEGORY,
    F_IN_STOCK,
    F_QTY,
    F_RELEASED,
    F_UPDATED,
    F_SECRET,
    F_NOTES
};

static char *fx_categories[] = {"boots", "shoes", "sneakers"};

static rg_field fx_product_fields[] = {
    [F_ID] = {.name = "id",
              .column = "id",
              .type = RG_TYPE_INTEGER,
              .display = true,
              .sortable = true,
              .ops = M(EQ) | M(IN)},
    [F_NAME] = {.name = "name",
                .column = "Product Name",
                .type = RG_TYPE_STRING,
                .display = true,
                .searchable = true,
                .sortable = true,
                .ops = M(EQ) | M(PREFIX) | M(CONTAINS)},
    [F_PRICE] = {.name = "price",
                 .column = "price",
                 .type = RG_TYPE_NUMBER,
                 .display = true,
                 .sortable = true,
                 .ops = M(EQ) | M(LT) | M(LTE) | M(GT) | M(GTE) | M(BETWEEN)},
    [F_CATEGORY] = {.name = "category",
                    .column = "category",
                    .type = RG_TYPE_ENUM,
                    .enum_values = fx_categories,
                    .nenum = 3,
                    .display = true,
                    .ops = M(EQ) | M(IN)},
    [F_IN_STOCK] = {.name = "in_stock",
                    .column = "in_stock",
                    .type = RG_TYPE_BOOLEAN,
                    .ops = M(EQ)},
    [F_QTY] = {.name = "qty",
               .column = "qty",
               .type = RG_TYPE_INTEGER,
               .display = true,
               .ops = M(EQ) | M(LT) | M(IN) | M(BETWEEN)},
    [F_RELEASED] = {.name = "released",
                    .column = "released",
                    .type = RG_TYPE_DATE,
                    .display = true,
                    .sortable = true,
                    .ops = M(LT) | M(GTE) | M(BETWEEN)},
    [F_UPDATED] = {.name = "updated",
                   .column = "updated",
                   .type = RG_TYPE_DATETIME,
                   .display = true,
                   .sortable = true,
                   .ops = M(GT) | M(IN) | M(BETWEEN)},
    [F_SECRET] = {.name = "secret", .column = "secret", .type = RG_TYPE_STRING},
    [F_NOTES] = {.name = "notes", .column = "notes", .type = RG_TYPE_STRING, .display = true},
};

static rg_field_desc fx_product_desc[] = {
    {sizeof(rg_field_desc), "id", "id", RG_TYPE_INTEGER},
    {sizeof(rg_field_desc), "name", "Product Name", RG_TYPE_STRING},
    {sizeof(rg_field_desc), "price", "price", RG_TYPE_NUMBER},
    {sizeof(rg_field_desc), "category", "category", RG_TYPE_ENUM},
    {sizeof(rg_field_desc), "in_stock", "in_stock", RG_TYPE_BOOLEAN},
    {sizeof(rg_field_desc), "qty", "qty", RG_TYPE_INTEGER},
    {sizeof(rg_field_desc), "released", "released", RG_TYPE_DATE},
    {sizeof(rg_field_desc), "updated", "updated", RG_TYPE_DATETIME},
    {sizeof(rg_field_desc), "secret", "secret", RG_TYPE_STRING},
    {sizeof(rg_field_desc), "notes", "notes", RG_TYPE_STRING},
};

static rg_field fx_plain_fields[] = {
    {.name = "code",
     .column = "code",
     .type = RG_TYPE_STRING,
     .display = true,
     .sortable = true,
     .ops = M(EQ)},
    {.name = "label", .column = "label", .type = RG_TYPE_STRING, .display = true},
};

static rg_field_desc fx_plain_desc[] = {
    {sizeof(rg_field_desc), "code", "code", RG_TYPE_STRING},
    {sizeof(rg_field_desc), "label", "label", RG_TYPE_STRING},
};

static rg_source fx_sources[] = {
    {.name = "catalog", .adapter = "sqlite", .timeout_ms = 1234},
};

static rg_collection fx_collections[] = {
    {.name = "plain",
     .source_name = "catalog",
     .source = NULL,
     .target = "plain",
     .fields = fx_plain_fields,
     .nfields = 2,
     .key_index = 0,
     .limit_default = 5,
     .limit_max = 10,
     .desc = {.struct_size = sizeof(rg_collection_desc),
              .name = "plain",
              .target = "plain",
              .fields = fx_plain_desc,
              .nfields = 2,
              .key_field = 0},
     .desc_fields = fx_plain_desc},
    {.name = "products",
     .source_name = "catalog",
     .source = &fx_sources[0],
     .target = "products",
     .fields = fx_product_fields,
     .nfields = 10,
     .key_index = F_ID,
     .limit_default = 20,
     .limit_max = 100,
     .desc = {.struct_size = sizeof(rg_collection_desc),
              .name = "products",
              .target = "products",
              .fields = fx_product_desc,
              .nfields = 10,
              .key_field = F_ID},
     .desc_fields = fx_product_desc},
};

#define FX_PLAIN (&fx_collections[0])
#define FX_PRODUCTS (&fx_collections[1])

static rg_site fx_site = {
    .site_id = "demo0001",
    .sources = fx_sources,
    .nsources = 1,
    .collections = fx_collections,
    .ncollections = 2,
};

static rg_limits fx_limits = {
    .max_body_bytes = 16384,
    .max_json_depth = 8,
    .max_filters = 20,
    .max_string_bytes = 256,
    .max_search_bytes = 200,
    .max_in_values = 50,
    .max_sort = 3,
    .request_timeout_ms = 5000,
    .timestamp_window_s = 300,
    .max_connections = 10000,
};

#endif
