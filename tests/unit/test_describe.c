/* The /collections document and its tool schemas. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "query/describe.h"
#include "query_fixture.h"

static json_t *describe(const rg_site *site)
{
    char *doc = rg_describe_site(site, &fx_limits);
    assert_non_null(doc);
    json_error_t je;
    json_t *j = json_loads(doc, JSON_REJECT_DUPLICATES, &je);
    free(doc);
    assert_non_null(j);
    return j;
}

static json_t *collection(json_t *doc, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "collections"), i, c) {
        if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
            return c;
    }
    fail_msg("collection %s not described", name);
    return NULL;
}

static json_t *field(json_t *coll, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(coll, "fields"), i, f) {
        if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0)
            return f;
    }
    return NULL;
}

/* ["a","b"] equals the NULL-terminated list. */
static void assert_strings(json_t *arr, const char *const *want)
{
    assert_true(json_is_array(arr));
    size_t n = 0;
    while (want[n])
        n++;
    assert_int_equal(json_array_size(arr), n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(json_string_value(json_array_get(arr, i)), want[i]);
}

static json_t *path(json_t *j, const char *p)
{
    char buf[256];
    strncpy(buf, p, sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
        j = json_object_get(j, k);
    assert_non_null(j);
    return j;
}

static void test_collections(void **state)
{
    (void)state;
    json_t *doc = describe(&fx_site);
    assert_int_equal(json_array_size(json_object_get(doc, "collections")), 2);
    json_t *c = collection(doc, "products");
    assert_string_equal(json_string_value(json_object_get(c, "key")), "id");
    assert_int_equal(json_integer_value(path(c, "limit.default")), 20);
    assert_int_equal(json_integer_value(path(c, "limit.max")), 100);

    /* Only fields with a role, in config order; the backend column never shows. */
    const char *const names[] = {"id",  "name",     "price",   "category", "in_stock",
                                 "qty", "released", "updated", "notes",    NULL};
    json_t *fields = json_object_get(c, "fields");
    assert_int_equal(json_array_size(fields), 9);
    for (size_t i = 0; names[i]; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(fields, i), "name")),
                            names[i]);
    assert_null(field(c, "secret"));
    char *text = json_dumps(doc, 0);
    assert_non_null(text);
    assert_null(strstr(text, "secret"));
    assert_null(strstr(text, "Product Name"));
    free(text);

    json_t *price = field(c, "price");
    assert_string_equal(json_string_value(json_object_get(price, "type")), "number");
    assert_true(json_is_true(json_object_get(price, "display")));
    assert_true(json_is_false(json_object_get(price, "searchable")));
    assert_true(json_is_true(json_object_get(price, "sortable")));
    const char *const price_ops[] = {"eq", "lt", "lte", "gt", "gte", "between", NULL};
    assert_strings(json_object_get(price, "filterable"), price_ops);
    assert_null(json_object_get(price, "values"));

    json_t *cat = field(c, "category");
    assert_string_equal(json_string_value(json_object_get(cat, "type")), "enum");
    const char *const cats[] = {"boots", "shoes", "sneakers", NULL};
    assert_strings(json_object_get(cat, "values"), cats);

    json_t *stock = field(c, "in_stock");
    assert_true(json_is_false(json_object_get(stock, "display")));
    const char *const eq[] = {"eq", NULL};
    assert_strings(json_object_get(stock, "filterable"), eq);

    json_t *notes = field(c, "notes");
    const char *const none[] = {NULL};
    assert_strings(json_object_get(notes, "filterable"), none);
    assert_true(json_is_true(json_object_get(field(c, "name"), "searchable")));
    assert_string_equal(json_string_value(json_object_get(field(c, "updated"), "type")),
                        "datetime");
    json_decref(doc);
}

/* The branch of filters.items.oneOf for `name` whose op enum contains `op`. */
static json_t *branch(json_t *params, const char *name, const char *op)
{
    size_t i, k;
    json_t *b, *o;
    json_array_foreach(path(params, "properties.filters.items.oneOf"), i, b) {
        if (strcmp(json_string_value(path(b, "properties.field.const")), name) != 0)
            continue;
        json_array_foreach(path(b, "properties.op.enum"), k, o) {
            if (strcmp(json_string_value(o), op) == 0)
                return b;
        }
    }
    return NULL;
}

static void test_tool_schema(void **state)
{
    (void)state;
    json_t *doc = describe(&fx_site);
    json_t *tool = json_object_get(collection(doc, "products"), "tool");
    assert_string_equal(json_string_value(json_object_get(tool, "type")), "function");
    assert_string_equal(json_string_value(path(tool, "function.name")), "query_products");
    const char *desc = json_string_value(path(tool, "function.description"));
    assert_non_null(strstr(desc, "'products'"));
    assert_non_null(strstr(desc, "next_cursor"));

    json_t *p = path(tool, "function.parameters");
    assert_string_equal(json_string_value(json_object_get(p, "type")), "object");
    assert_true(json_is_false(json_object_get(p, "additionalProperties")));
    const char *const req[] = {"collection", NULL};
    assert_strings(json_object_get(p, "required"), req);
    assert_string_equal(json_string_value(path(p, "properties.collection.const")), "products");

    /* Filters: one branch per field and value shape, each closed. */
    assert_int_equal(json_integer_value(path(p, "properties.filters.maxItems")), 20);
    assert_int_equal(json_array_size(path(p, "properties.filters.items.oneOf")), 17);
    json_t *b = branch(p, "price", "lte");
    assert_non_null(b);
    const char *const scalar_ops[] = {"eq", "lt", "lte", "gt", "gte", NULL};
    assert_strings(path(b, "properties.op.enum"), scalar_ops);
    assert_string_equal(json_string_value(path(b, "properties.value.type")), "number");
    const char *const frv[] = {"field", "op", "value", NULL};
    assert_strings(json_object_get(b, "required"), frv);
    assert_true(json_is_false(json_object_get(b, "additionalProperties")));

    b = branch(p, "price", "between");
    assert_non_null(b);
    assert_string_equal(json_string_value(path(b, "properties.value.type")), "array");
    assert_int_equal(json_integer_value(path(b, "properties.value.minItems")), 2);
    assert_int_equal(json_integer_value(path(b, "properties.value.maxItems")), 2);
    assert_string_equal(json_string_value(path(b, "properties.value.items.type")), "number");

    b = branch(p, "category", "in");
    assert_non_null(b);
    assert_int_equal(json_integer_value(path(b, "properties.value.minItems")), 1);
    assert_int_equal(json_integer_value(path(b, "properties.value.maxItems")), 50);
    const char *const cats[] = {"boots", "shoes", "sneakers", NULL};
    assert_strings(path(b, "properties.value.items.enum"), cats);

    b = branch(p, "name", "contains");
    assert_non_null(b);
    const char *const text_ops[] = {"prefix", "contains", NULL};
    assert_strings(path(b, "properties.op.enum"), text_ops);
    assert_int_equal(json_integer_value(path(b, "properties.value.minLength")), 1);
    assert_int_equal(json_integer_value(path(b, "properties.value.maxLength")), 256);
    b = branch(p, "name", "eq");
    assert_null(json_object_get(path(b, "properties.value"), "minLength"));

    assert_string_equal(json_string_value(path(branch(p, "qty", "eq"), "properties.value.type")),
                        "integer");
    assert_string_equal(
        json_string_value(path(branch(p, "in_stock", "eq"), "properties.value.type")), "boolean");
    assert_string_equal(
        json_string_value(path(branch(p, "released", "lt"), "properties.value.format")), "date");
    assert_string_equal(
        json_string_value(path(branch(p, "updated", "gt"), "properties.value.format")),
        "date-time");
    assert_null(branch(p, "notes", "eq"));
    assert_null(branch(p, "secret", "eq"));
    assert_null(branch(p, "price", "in"));

    /* search, sort, fields, limit, cursor. */
    assert_int_equal(json_integer_value(path(p, "properties.search.maxLength")), 200);
    assert_non_null(strstr(json_string_value(path(p, "properties.search.description")), "name"));
    const char *const sortable[] = {"id", "name", "price", "released", "updated", NULL};
    assert_strings(path(p, "properties.sort.items.properties.field.enum"), sortable);
    const char *const dirs[] = {"asc", "desc", NULL};
    assert_strings(path(p, "properties.sort.items.properties.dir.enum"), dirs);
    assert_int_equal(json_integer_value(path(p, "properties.sort.maxItems")), 3);
    const char *const display[] = {"id",       "name",    "price", "category", "qty",
                                   "released", "updated", "notes", NULL};
    assert_strings(path(p, "properties.fields.items.enum"), display);
    assert_true(json_is_true(path(p, "properties.fields.uniqueItems")));
    assert_int_equal(json_integer_value(path(p, "properties.limit.minimum")), 1);
    assert_int_equal(json_integer_value(path(p, "properties.limit.maximum")), 100);
    assert_int_equal(json_integer_value(path(p, "properties.limit.default")), 20);
    const char *const ctype[] = {"string", "null", NULL};
    assert_strings(path(p, "properties.cursor.type"), ctype);

    /* A collection without searchable fields offers no search. */
    json_t *plain = path(collection(doc, "plain"), "tool.function.parameters");
    assert_null(json_object_get(json_object_get(plain, "properties"), "search"));
    assert_int_equal(json_integer_value(path(plain, "properties.limit.maximum")), 10);
    json_decref(doc);
}

/* Structural sanity of every schema node: known type names, required
   properties that exist, arrays with items. */
static void check_schema(json_t *s)
{
    static const char *const types[] = {"object", "array",   "string", "integer",
                                        "number", "boolean", "null"};
    json_t *t = json_object_get(s, "type");
    if (t) {
        json_t *one;
        size_t i;
        json_t *list = json_is_array(t) ? t : NULL;
        for (i = 0; i < (list ? json_array_size(list) : 1); i++) {
            one = list ? json_array_get(list, i) : t;
            int ok = 0;
            for (size_t k = 0; k < 7; k++)
                ok |= strcmp(json_string_value(one), types[k]) == 0;
            assert_true(ok);
        }
        if (json_is_string(t) && strcmp(json_string_value(t), "array") == 0)
            assert_non_null(json_object_get(s, "items"));
    }
    json_t *props = json_object_get(s, "properties");
    json_t *req = json_object_get(s, "required");
    size_t i;
    json_t *v;
    json_array_foreach(req, i, v) {
        assert_non_null(json_object_get(props, json_string_value(v)));
    }
    const char *k;
    json_object_foreach(props, k, v) {
        check_schema(v);
    }
    if (json_object_get(s, "items"))
        check_schema(json_object_get(s, "items"));
    json_array_foreach(json_object_get(s, "oneOf"), i, v) {
        check_schema(v);
    }
}

static void test_schemas_well_formed(void **state)
{
    (void)state;
    json_t *doc = describe(&fx_site);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "collections"), i, c) {
        check_schema(path(c, "tool.function.parameters"));
    }
    json_decref(doc);
}

static void test_tool_name_sanitised(void **state)
{
    (void)state;
    rg_collection odd = fx_collections[0];
    odd.name = "shop items.v2";
    rg_site site = fx_site;
    site.collections = &odd;
    site.ncollections = 1;
    json_t *doc = describe(&site);
    json_t *c = collection(doc, "shop items.v2");
    assert_string_equal(json_string_value(path(c, "tool.function.name")), "query_shop_items_v2");
    assert_string_equal(
        json_string_value(path(c, "tool.function.parameters.properties.collection.const")),
        "shop items.v2");
    json_decref(doc);

    site.ncollections = 0;
    doc = describe(&site);
    assert_int_equal(json_array_size(json_object_get(doc, "collections")), 0);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collections),
        cmocka_unit_test(test_tool_schema),
        cmocka_unit_test(test_schemas_well_formed),
        cmocka_unit_test(test_tool_name_sanitised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
