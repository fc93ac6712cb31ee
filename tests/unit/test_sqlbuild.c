/* The SQL adapters' statement builder: exact SQL text and bound values for
   each plan shape, LIKE escaping, and datetime normalisation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sqlbuild.h"

enum { F_ID, F_NAME, F_PRICE, F_STOCK, F_COLOR, F_RELEASED, F_WEIRD, NFIELDS };

static const rg_field_desc fields[NFIELDS] = {
    [F_ID] = {sizeof(rg_field_desc), "id", "id", RG_TYPE_INTEGER},
    [F_NAME] = {sizeof(rg_field_desc), "name", "name", RG_TYPE_STRING},
    [F_PRICE] = {sizeof(rg_field_desc), "price", "price", RG_TYPE_NUMBER},
    [F_STOCK] = {sizeof(rg_field_desc), "in_stock", "in_stock", RG_TYPE_BOOLEAN},
    [F_COLOR] = {sizeof(rg_field_desc), "color", "color", RG_TYPE_ENUM},
    [F_RELEASED] = {sizeof(rg_field_desc), "released", "released", RG_TYPE_DATE},
    [F_WEIRD] = {sizeof(rg_field_desc), "weird", "x\" OR 1=1 --", RG_TYPE_STRING},
};

static rg_collection_desc coll(const char *target)
{
    rg_collection_desc c = {
        .struct_size = sizeof c,
        .name = "products",
        .target = target,
        .fields = fields,
        .nfields = NFIELDS,
        .key_field = F_ID,
    };
    return c;
}

static const rg_sort_key by_id[] = {{sizeof(rg_sort_key), F_ID, 0}};
static const size_t cols_id_name[] = {F_ID, F_NAME};

static rg_query_plan base_plan(const rg_collection_desc *c)
{
    rg_query_plan p = {
        .struct_size = sizeof p,
        .collection = c,
        .sort = by_id,
        .nsort = 1,
        .columns = cols_id_name,
        .ncolumns = 2,
        .limit = 20,
        .timeout_ms = 1000,
    };
    return p;
}

static rg_value vint(int64_t i)
{
    rg_value v = {.struct_size = sizeof(rg_value), .type = RG_TYPE_INTEGER};
    v.u.i = i;
    return v;
}

static rg_value vnum(double n)
{
    rg_value v = {.struct_size = sizeof(rg_value), .type = RG_TYPE_NUMBER};
    v.u.n = n;
    return v;
}

static rg_value vstr(const char *s)
{
    rg_value v = {.struct_size = sizeof(rg_value), .type = RG_TYPE_STRING};
    v.u.str.ptr = s;
    v.u.str.len = strlen(s);
    return v;
}

static rg_value vnull(rg_type t)
{
    rg_value v = {.struct_size = sizeof(rg_value), .type = t, .is_null = 1};
    return v;
}

/* Build with the sqlite or postgres dialect (postgres with standard quoting,
   which is what PQescapeIdentifier produces for these names). */
static rg_status build(int pg, const rg_query_plan *p, rg_sql_query *q, rg_error *err)
{
    rg_sql_dialect d;
    if (pg)
        rg_sql_dialect_postgres(&d, rg_sql_quote_ansi, NULL);
    else
        rg_sql_dialect_sqlite(&d);
    memset(q, 0, sizeof *q);
    memset(err, 0, sizeof *err);
    return rg_sql_build_select(&d, p, q, err);
}

static void assert_str_param(const rg_sql_query *q, size_t i, const char *want)
{
    assert_true(i < q->nparams);
    assert_int_equal(q->params[i].type, RG_TYPE_STRING);
    assert_int_equal(q->params[i].u.str.len, strlen(want));
    assert_memory_equal(q->params[i].u.str.ptr, want, strlen(want));
}

static void assert_int_param(const rg_sql_query *q, size_t i, int64_t want)
{
    assert_true(i < q->nparams);
    assert_int_equal(q->params[i].type, RG_TYPE_INTEGER);
    assert_int_equal(q->params[i].u.i, want);
}

static void test_simple_select_sqlite(void **state)
{
    (void)state;
    rg_collection_desc c = coll("products");
    rg_query_plan p = base_plan(&c);
    rg_sql_query q;
    rg_error err;
    assert_int_equal(build(0, &p, &q, &err), RG_OK);
    assert_string_equal(q.sql.data,
                        "SELECT \"id\", \"name\" FROM \"products\" ORDER BY \"id\" ASC NULLS LAST "
                        "LIMIT ?");
    assert_int_equal(q.nparams, 1);
    assert_int_param(&q, 0, 20);
    rg_sql_query_free(&q);
}

static void test_comparison_operators_postgres(void **state)
{
    (void)state;
    rg_collection_desc c = coll("products");
    rg_value price = vnum(49.5), id = vint(7), name = vstr("Zed");
    rg_value stock = {.struct_size = sizeof(rg_value), .type = RG_TYPE_BOOLEAN};
    stock.u.b = 1;
    rg_value day = {.struct_size = sizeof(rg_value), .type = RG_TYPE_DATE};
    day.u.str.ptr = "2024-05-01";
    day.u.str.len = 10;
    rg_filter f[] = {
        {sizeof(rg_filter), F_PRICE, RG_OP_LTE, &price, 1},
        {sizeof(rg_filter), F_ID, RG_OP_NE, &id, 1},
        {sizeof(rg_filter), F_NAME, RG_OP_LT, &name, 1},
        {sizeof(rg_filter), F_STOCK, RG_OP_EQ, &stock, 1},
        {sizeof(rg_filter), F_RELEASED, RG_OP_GTE, &day, 1},
        {sizeof(rg_filter), F_ID, RG_OP_GT, &id, 1},
        {sizeof(rg_filter), F_NAME, RG_OP_EQ, &name, 1},
    };
    rg_query_plan p = base_plan(&c);
    p.filters = f;
    p.nfilters = 7;
    rg_sql_query q;
    rg_error err;
    assert_int_equal(build(1, &p, &q, &err), RG_OK);
    assert_string_equal(
        q.sql.data,
        "SELECT \"id\", \"name\" FROM \"products\" WHERE \"price\" <= $1::float8 AND \"id\" <> "
        "$2::bigint AND \"name\" COLLATE \"C\" < $3 AND \"in_stock\" = $4::boolean AND "
        "\"released\" >= $5 AND \"id\" > $6::bigint AND \"name\" = $7 ORDER BY \"id\" ASC NULLS "
        "LAST LIMIT $8::bigint");
    assert_int_equal(q.nparams, 8);
    assert_int_equal(q.params[0].type, RG_TYPE_NUMBER);
    assert_true(q.params[0].u.n == 49.5);
    assert_int_param(&q, 1, 7);
    assert_str_param(&q, 2, "Zed");
    assert_int_equal(q.params[3].type, RG_TYPE_BOOLEAN);
    assert_int_equal(q.params[3].u.b, 1);
    assert_int_equal(q.params[4].type, RG_TYPE_DATE);
    assert_int_param(&q, 5, 7);
    assert_str_param(&q, 6, "Zed");
    assert_int_param(&q, 7, 20);
    rg_sql_query_free(&q);

    /* The same plan for SQLite: "?" placeholders, BINARY collation. */
    assert_int_equal(build(0, &p, &q, &err), RG_OK);
    assert_string_equal(q.sql.data,
                        "SELECT \"id\", \"name\" FROM \"products\" WHERE \"price\" <= ? AND \"id\" "
                        "<> ? AND \"name\" COLLATE BINARY < ? AND \"in_stock\" = ? AND "
                        "\"released\" >= ? AND \"id\" > ? AND \"name\" = ? ORDER BY \"id\" ASC "
                        "NULLS LAST LIMIT ?");
    assert_int_equal(q.nparams, 8);
    rg_sql_query_free(&q);
}

static void test_in_between_prefix_contains(void **state)
{
    (void)state;
    rg_collection_desc c = coll("products");
    rg_value ids[] = {vint(1), vint(2), vint(3)};
    rg_value range[] = {vstr("a"), vstr("m")};
    rg_value pre = vstr("Red_1%"), sub = vstr("O'Neil\\x");
    rg_filter f[] = {
        {sizeof(rg_filter), F_ID, RG_OP_IN, ids, 3},
        {sizeof(rg_filter), F_NAME, RG_OP_BETWEEN, range, 2},
        {sizeof(rg_filter), F_NAME, RG_OP_PREFIX, &pre, 1},
        {sizeof(rg_filter), F_COLOR, RG_OP_CONTAINS, &sub, 1},
    };
    rg_query_plan p = base_plan(&c);
    p.filters = f;
    p.nfilters = 4;
    rg_sql_query q;
    rg_error err;
    assert_int_equal(build(1, &p, &q, &err), RG_OK);
    assert_string_equal(
        q.sql.data,
        "SELECT \"id\", \"name\" FROM \"products\" WHERE \"id\" IN ($1::bigint, $2::bigint, "
        "$3::bigint) AND (\"name\" COLLATE \"C\" >= $4 AND \"name\" COLLATE \"C\" <= $5) AND "
        "translate((\"name\")::text, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') "
        "LIKE $6 ESCAPE '\\' AND translate((\"color\")::text, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', "
        "'abcdefghijklmnopqrstuvwxyz') LIKE $7 ESCAPE '\\' ORDER BY \"id\" ASC NULLS LAST LIMIT "
        "$8::bigint");
    assert_int_equal(q.nparams, 8);
    assert_int_param(&q, 0, 1);
    assert_int_param(&q, 2, 3);
    assert_str_param(&q, 3, "a");
    assert_str_param(&q, 4, "m");
    /* The pattern is built in the value: lower-cased, wildcards escaped. */
    assert_str_param(&q, 5, "red\\_1\\%%");
    assert_str_param(&q, 6, "%o'neil\\\\x%");
    rg_sql_query_free(&q);

    assert_int_equal(build(0, &p, &q, &err), RG_OK);
    assert_string_equal(q.sql.data,
                        "SELECT \"id\", \"name\" FROM \"products\" WHERE \"id\" IN (?, ?, ?) AND "
                        "(\"name\" COLLATE BINARY >= ? AND \"name\" COLLATE BINARY <= ?) AND "
                        "lower(\"name\") LIKE ? ESCAPE '\\' AND lower(\"color\") LIKE ? ESCAPE "
                        "'\\' ORDER BY \"id\" ASC NULLS LAST LIMIT ?");
    rg_sql_query_free(&q);
}

static void test_search_two_words_two_fields(void **state)
{
    (void)state;
    rg_collection_desc c = coll("products");
    const char *words[] = {"Red", "sneak_"};
    const size_t sf[] = {F_NAME, F_COLOR};
    rg_query_plan p = base_plan(&c);
    p.search_words = words;
    p.nsearch_words = 2;
    p.search_fields = sf;
    p.nsearch_fields = 2;
    rg_sql_query q;
    rg_error err;
    assert_int_equal(build(0, &p, &q, &err), RG_OK);
    assert_string_equal(q.sql.data,
                        "SELECT \"id\", \"name\" FROM \"products\" WHERE (lower(\"name\") LIKE ? "
                        "ESCAPE '\\' OR lower(\"color\") LIKE ? ESCAPE '\\') AND (lower(\"name\") "
                        "LIKE ? ESCAPE '\\' OR lower(\"color\") LIKE ? ESCAPE '\\') ORDER BY \"id\" "
                        "ASC NULLS LAST LIMIT ?");
    assert_int_equal(q.nparams, 5);
    assert_str_param(&q, 0, "%red%");
    assert_str_param(&q, 1, "%red%");
    assert_str_param(&q, 2, "%sneak\\_%");
    assert_str_param(&q, 3, "%sneak\\_%");
    assert_int_param(&q, 4, 20);
    rg_sql_query_free(&q);
}

static void test_keyset_after_nulls(void **state)
{
    (void)state;
    rg_collection_desc c = coll("products");
    /* price asc (NULLs last), name desc (NULLs first), id asc. */
    const rg_sort_key sort[] = {{sizeof(rg_sort_key), F_PRICE, 0},
                                {sizeof(rg_sort_key), F_NAME, 1},
                                {sizeof(rg_sort_key), F_ID, 0}};
    const size_t cols[] = {F_ID, F_NAME, F_PRICE};
    rg_query_plan p = base_plan(&c);
    p.sort = sort;
    p.nsort = 3;
    p.columns = cols;
    p.ncolumns = 3;

    /* Non-null position. */
    rg_value after[] = {vnum(10), vstr("Boot"), vint(4)};
    p.after = after;
    rg_sql_query q;
    rg_error err;
    assert_int_equal(build(1, &p, &q, &err), RG_OK);
    assert_string_equal(
        q.sql.data,
        "SELECT \"id\", \"name\", \"price\" FROM \"products\" WHERE (((\"price\" > $1::float8 OR "
        "\"price\" IS NULL)) OR (\"price\" = $2::float8 AND \"name\" COLLATE \"C\" < $3) OR "
        "(\"price\" = $4::float8 AND \"name\" = $5 AND (\"id\" > $6::bigint OR \"id\" IS NULL))) "
        "ORDER BY \"price\" ASC NULLS LAST, \"name\" COLLATE \"C\" DESC NULLS FIRST, \"id\" ASC "
        "NULLS LAST LIMIT $7::bigint");
    assert_int_equal(q.nparams, 7);
    assert_str_param(&q, 2, "Boot");
    assert_int_param(&q, 5, 4);
    rg_sql_query_free(&q);

    /* NULL price (ascending: nothing after it at that level) and NULL name
       (descending: every non-NULL name comes after it). */
    rg_value after_nulls[] = {vnull(RG_TYPE_NUMBER), vnull(RG_TYPE_STRING), vint(9)};
    p.after = after_nulls;
    assert_int_equal(build(0, &p, &q, &err), RG_OK);
    assert_string_equal(q.sql.data,
                        "SELECT \"id\", \"name\", \"price\" FROM \"products\" WHERE ((\"price\" IS "
                        "NULL AND \"name\" IS NOT NULL) OR (\"price\" IS NULL AND \"name\" IS NULL "
                        "AND (\"id\" > ? OR \"id\" IS NULL))) ORDER BY \"price\" ASC NULLS LAST, "
                        "\"name\" COLLATE BINARY DESC NULLS FIRST, \"id\" ASC NULLS LAST LIMIT ?");
    assert_int_equal(q.nparams, 2);
    assert_int_param(&q, 0, 9);
    assert_int_param(&q, 1, 20);
    rg_sql_query_free(&q);

    /* A single ascending key at NULL: no row can follow. */
    const rg_sort_key one[] = {{sizeof(rg_sort_key), F_PRICE, 0}};
    rg_value after_one[] = {vnull(RG_TYPE_NUMBER)};
    p.sort = one;
    p.nsort = 1;
    p.after = after_one;
    assert_int_equal(build(0, &p, &q, &err), RG_OK);
    assert_string_equal(q.sql.data, "SELECT \"id\", \"name\", \"price\" FROM \"products\" WHERE "
                                    "(1 = 0) ORDER BY \"price\" ASC NULLS LAST LIMIT ?");
    rg_sql_query_free(&q);
}

static void test_schema_target_and_hostile_identifiers(void **state)
{
    (void)state;
    rg_collection_desc c = coll("shop.my \"products\"");
    const size_t cols[] = {F_ID, F_WEIRD};
    const rg_sort_key sort[] = {{sizeof(rg_sort_key), F_WEIRD, 1}, {sizeof(rg_sort_key), F_ID, 0}};
    rg_query_plan p = base_plan(&c);
    p.columns = cols;
    p.sort = sort;
    p.nsort = 2;
    rg_sql_query q;
    rg_error err;
    assert_int_equal(build(1, &p, &q, &err), RG_OK);
    assert_string_equal(q.sql.data,
                        "SELECT \"id\", \"x\"\" OR 1=1 --\" FROM \"shop\".\"my \"\"products\"\"\" "
                        "ORDER BY \"x\"\" OR 1=1 --\" COLLATE \"C\" DESC NULLS FIRST, \"id\" ASC "
                        "NULLS LAST LIMIT $1::bigint");
    rg_sql_query_free(&q);

    /* Only the first dot splits: the rest belongs to the table name. */
    c = coll("a.b.c");
    p = base_plan(&c);
    assert_int_equal(build(0, &p, &q, &err), RG_OK);
    assert_string_equal(q.sql.data, "SELECT \"id\", \"name\" FROM \"a\".\"b.c\" ORDER BY \"id\" "
                                    "ASC NULLS LAST LIMIT ?");
    rg_sql_query_free(&q);

    /* An empty schema part cannot be quoted. */
    c = coll(".products");
    p = base_plan(&c);
    assert_int_equal(build(0, &p, &q, &err), RG_ERR_CONFIG);
    assert_int_equal(err.status, RG_ERR_CONFIG);
    rg_sql_query_free(&q);
}

static void test_malformed_plans(void **state)
{
    (void)state;
    rg_collection_desc c = coll("products");
    rg_value one = vint(1);
    rg_filter bad_between = {sizeof(rg_filter), F_ID, RG_OP_BETWEEN, &one, 1};
    rg_query_plan p = base_plan(&c);
    p.filters = &bad_between;
    p.nfilters = 1;
    rg_sql_query q;
    rg_error err;
    assert_int_equal(build(0, &p, &q, &err), RG_ERR_CONFIG);
    rg_sql_query_free(&q);

    rg_filter bad_field = {sizeof(rg_filter), NFIELDS, RG_OP_EQ, &one, 1};
    p.filters = &bad_field;
    assert_int_equal(build(0, &p, &q, &err), RG_ERR_CONFIG);
    assert_non_null(strstr(err.message, "out of range"));
    rg_sql_query_free(&q);

    rg_filter prefix_int = {sizeof(rg_filter), F_ID, RG_OP_PREFIX, &one, 1};
    p.filters = &prefix_int;
    assert_int_equal(build(0, &p, &q, &err), RG_ERR_CONFIG);
    rg_sql_query_free(&q);

    p = base_plan(&c);
    p.struct_size = 8;
    assert_int_equal(build(0, &p, &q, &err), RG_ERR_CONFIG);
    rg_sql_query_free(&q);
}

static void test_like_pattern_escaping(void **state)
{
    (void)state;
    char *s = rg_sql_like_pattern("50%_OFF\\now", 11, 1);
    assert_string_equal(s, "%50\\%\\_off\\\\now%");
    free(s);
    s = rg_sql_like_pattern("AbC", 3, 0);
    assert_string_equal(s, "abc%");
    free(s);
    /* Non-ASCII bytes pass through unchanged (no locale folding). */
    s = rg_sql_like_pattern("\xc3\x89t\xc3\xa9", 5, 1);
    assert_string_equal(s, "%\xc3\x89t\xc3\xa9%");
    free(s);
    s = rg_sql_like_pattern("", 0, 1);
    assert_string_equal(s, "%%");
    free(s);
}

/* MySQL/MariaDB: backticks, NULL ordering spelt out, and every string
   comparison (equality and keyset positions included) in a binary NO PAD
   collation, because catalogs default to case-insensitive ones. */
/* A nullability oracle that knows one NOT NULL column, `id`. */
static int id_not_null(void *ctx, const rg_collection_desc *coll, size_t field)
{
    (void)ctx;
    return !strcmp(rg_field_at(coll->fields, field)->column, "id");
}

static void test_mysql_dialect(void **state)
{
    (void)state;
    rg_collection_desc c = coll("shop.products");
    const rg_sort_key sort[] = {{sizeof(rg_sort_key), F_NAME, 1}, {sizeof(rg_sort_key), F_ID, 0}};
    rg_value name = vstr("Red"), price = vnum(50), word = vstr("50%_off");
    rg_filter f[] = {{sizeof(rg_filter), F_NAME, RG_OP_EQ, &name, 1},
                     {sizeof(rg_filter), F_PRICE, RG_OP_LT, &price, 1},
                     {sizeof(rg_filter), F_NAME, RG_OP_CONTAINS, &word, 1}};
    rg_value after[] = {vstr("Boot"), vint(4)};
    rg_query_plan p = base_plan(&c);
    p.filters = f;
    p.nfilters = 3;
    p.sort = sort;
    p.nsort = 2;
    p.after = after;
    rg_sql_dialect d;
    rg_sql_dialect_mysql(&d, 1);
    rg_sql_query q;
    rg_error err;
    memset(&q, 0, sizeof q);
    assert_int_equal(rg_sql_build_select(&d, &p, &q, &err), RG_OK);
#define BIN(x) "CONVERT(" x " USING utf8mb4) COLLATE utf8mb4_nopad_bin"
    assert_string_equal(
        q.sql.data,
        "SELECT `id`, `name` FROM `shop`.`products` WHERE (`name` = ? AND " BIN("`name`")
        " = ?) AND `price` < ? "
        "AND LOWER(" BIN("`name`") ") LIKE LOWER(" BIN("?") ") ESCAPE '\\' AND ((" BIN("`name`")
        " < ?) OR (" BIN("`name`") " = ? AND (`id` > ? OR `id` IS NULL))) ORDER BY `name` IS "
        "NULL DESC, " BIN("`name`") " DESC, `id` IS NULL, `id` ASC LIMIT ?");
#undef BIN
    /* The equality is asked twice: in the column's own collation, which an
       index can answer, then byte for byte. */
    assert_int_equal(q.nparams, 8);
    assert_str_param(&q, 0, "Red");
    assert_str_param(&q, 1, "Red");
    assert_str_param(&q, 3, "%50\\%\\_off%");
    assert_str_param(&q, 4, "Boot");
    assert_int_param(&q, 6, 4);
    assert_int_param(&q, 7, 20);
    rg_sql_query_free(&q);

    /* MySQL 8 has its own NO PAD binary collation. */
    rg_sql_dialect_mysql(&d, 0);
    p.filters = NULL;
    p.nfilters = 0;
    p.after = NULL;
    memset(&q, 0, sizeof q);
    assert_int_equal(rg_sql_build_select(&d, &p, &q, &err), RG_OK);
    assert_string_equal(q.sql.data,
                        "SELECT `id`, `name` FROM `shop`.`products` ORDER BY `name` IS NULL DESC, "
                        "CONVERT(`name` USING utf8mb4) COLLATE utf8mb4_0900_bin DESC, `id` IS "
                        "NULL, `id` ASC LIMIT ?");
    rg_sql_query_free(&q);

    /* A column the adapter knows to be NOT NULL (here `id`) sorts without
       the IS NULL term, so an index can give the order. */
    d.not_null = id_not_null;
    memset(&q, 0, sizeof q);
    assert_int_equal(rg_sql_build_select(&d, &p, &q, &err), RG_OK);
    assert_string_equal(q.sql.data,
                        "SELECT `id`, `name` FROM `shop`.`products` ORDER BY `name` IS NULL DESC, "
                        "CONVERT(`name` USING utf8mb4) COLLATE utf8mb4_0900_bin DESC, `id` ASC "
                        "LIMIT ?");
    rg_sql_query_free(&q);
    d.not_null = NULL;

    /* A backtick or NUL in a name is refused, not escaped. */
    rg_field_desc odd[] = {{sizeof(rg_field_desc), "id", "id", RG_TYPE_INTEGER},
                           {sizeof(rg_field_desc), "name", "na`me", RG_TYPE_STRING}};
    rg_collection_desc oc = coll("products");
    oc.fields = odd;
    oc.nfields = 2;
    p.collection = &oc;
    p.sort = by_id;
    p.nsort = 1;
    memset(&q, 0, sizeof q);
    memset(&err, 0, sizeof err);
    assert_int_equal(rg_sql_build_select(&d, &p, &q, &err), RG_ERR_CONFIG);
    assert_non_null(strstr(err.message, "na`me"));
    rg_sql_query_free(&q);
    rg_sql_buf out = {0};
    assert_int_equal(rg_sql_quote_backtick(NULL, &out, "a\0b", 3), -1);
    assert_int_equal(rg_sql_quote_backtick(NULL, &out, "", 0), -1);
    assert_int_equal(rg_sql_quote_backtick(NULL, &out, "Brand Name", 10), 0);
    assert_string_equal(out.data, "`Brand Name`");
    rg_sql_buf_free(&out);
}

static void test_datetime_canon(void **state)
{
    (void)state;
    char out[40];
    assert_int_equal(rg_sql_datetime_canon("2024-03-05 10:11:12+00", 22, out, sizeof out), 20);
    assert_string_equal(out, "2024-03-05T10:11:12Z");
    assert_true(rg_sql_datetime_canon("2024-03-05 10:11:12.5+00", 24, out, sizeof out) > 0);
    assert_string_equal(out, "2024-03-05T10:11:12.500000Z");
    assert_true(rg_sql_datetime_canon("2024-03-05T10:11:12.000000Z", 27, out, sizeof out) > 0);
    assert_string_equal(out, "2024-03-05T10:11:12Z");
    assert_true(rg_sql_datetime_canon("2024-03-05T01:30:00+02:00", 25, out, sizeof out) > 0);
    assert_string_equal(out, "2024-03-04T23:30:00Z");
    assert_true(rg_sql_datetime_canon("2024-03-05 10:11:12", 19, out, sizeof out) > 0);
    assert_string_equal(out, "2024-03-05T10:11:12Z");
    assert_int_equal(rg_sql_datetime_canon("yesterday", 9, out, sizeof out), 0);
    assert_int_equal(rg_sql_datetime_canon("2024-03-05T10:11:12+0x", 22, out, sizeof out), 0);
    assert_int_equal(rg_sql_datetime_from_unix(86400, out, sizeof out), 20);
    assert_string_equal(out, "1970-01-02T00:00:00Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_select_sqlite),
        cmocka_unit_test(test_comparison_operators_postgres),
        cmocka_unit_test(test_in_between_prefix_contains),
        cmocka_unit_test(test_search_two_words_two_fields),
        cmocka_unit_test(test_keyset_after_nulls),
        cmocka_unit_test(test_schema_target_and_hostile_identifiers),
        cmocka_unit_test(test_malformed_plans),
        cmocka_unit_test(test_like_pattern_escaping),
        cmocka_unit_test(test_mysql_dialect),
        cmocka_unit_test(test_datetime_canon),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
