/* Request body -> typed query plan: every validation error and the plan itself. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keyring.h"
#include "query/plan.h"
#include "query_fixture.h"

static rg_master_key test_key = {.kid = "k1"};
static rg_keyring test_kr = {.keys = &test_key, .nkeys = 1};

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 32; i++) {
        test_key.key[i] = (uint8_t)i;
        test_key.session_key[i] = (uint8_t)(i + 1);
        test_key.signing_key[i] = (uint8_t)(i + 2);
        test_key.cursor_key[i] = (uint8_t)(i * 7 + 3);
    }
    return 0;
}

static int build_n(const char *body, size_t len, rg_request_plan *p, rg_api_error *e)
{
    memset(e, 0, sizeof *e);
    return rg_plan_build(&fx_site, &fx_limits, &test_kr, body, len, p, e);
}

static int build(const char *body, rg_request_plan *p, rg_api_error *e)
{
    return build_n(body, strlen(body), p, e);
}

/* Build must fail with `code` (HTTP 400) at `field`, with `msg` in the message. */
static void expect_err_n(const char *body, size_t len, const char *code, const char *field,
                         const char *msg)
{
    rg_request_plan p;
    rg_api_error e;
    int rc = build_n(body, len, &p, &e);
    if (rc != -1 || !e.code || strcmp(e.code, code) != 0 || strcmp(e.field, field) != 0 ||
        (msg && !strstr(e.message, msg)))
        print_error("body %.200s\n -> rc %d code %s field '%s' message '%s'\n", body, rc,
                    e.code ? e.code : "(none)", e.field, e.message);
    assert_int_equal(rc, -1);
    assert_int_equal(e.http_status, 400);
    assert_string_equal(e.code, code);
    assert_string_equal(e.field, field);
    if (msg)
        assert_non_null(strstr(e.message, msg));
    assert_null(p.arena);
    assert_int_equal(p.plan.ncolumns, 0);
}

static void expect_err(const char *body, const char *code, const char *field, const char *msg)
{
    expect_err_n(body, strlen(body), code, field, msg);
}

/* The plan of a body that must be valid. */
static void must_build(const char *body, rg_request_plan *p)
{
    rg_api_error e;
    int rc = build(body, p, &e);
    if (rc != 0)
        print_error("body %.200s\n -> %s at '%s': %s\n", body, e.code, e.field, e.message);
    assert_int_equal(rc, 0);
    assert_non_null(p->arena);
}

static char *filter_body(const char *filter)
{
    char *b = NULL;
    assert_true(asprintf(&b, "{\"collection\":\"products\",\"filters\":[%s]}", filter) > 0);
    return b;
}

static void expect_filter_err(const char *filter, const char *code, const char *field,
                              const char *msg)
{
    char *b = filter_body(filter);
    expect_err(b, code, field, msg);
    free(b);
}

static const rg_value *one_filter_value(const char *filter, rg_request_plan *p)
{
    char *b = filter_body(filter);
    must_build(b, p);
    free(b);
    assert_int_equal(p->plan.nfilters, 1);
    return p->plan.filters[0].values;
}

/* ---- invalid_json -------------------------------------------------------------- */

static void test_invalid_json(void **state)
{
    (void)state;
    expect_err("{", "invalid_json", "", "not a valid JSON object");
    expect_err("", "invalid_json", "", NULL);
    expect_err("[]", "invalid_json", "", NULL);
    expect_err("\"products\"", "invalid_json", "", NULL);
    expect_err("{\"collection\":\"products\"} x", "invalid_json", "", NULL);
    expect_err("{\"collection\":\"products\",\"collection\":\"plain\"}", "invalid_json", "",
               "duplicate");
    expect_err("{\"collection\":\"products\",\"filters\":[{\"field\":\"qty\",\"field\":\"id\","
               "\"op\":\"eq\",\"value\":1}]}",
               "invalid_json", "", "duplicate");
    /* Raw NUL, escaped NUL, invalid UTF-8 (lone continuation, overlong, surrogate). */
    expect_err_n("{\"collection\":\"pro\0ducts\"}", 25, "invalid_json", "", "NUL");
    expect_err("{\"collection\":\"pro\\u0000ducts\"}", "invalid_json", "", NULL);
    expect_err("{\"collection\":\"\x80products\"}", "invalid_json", "", NULL);
    expect_err("{\"collection\":\"\xc0\xafproducts\"}", "invalid_json", "", NULL);
    expect_err("{\"collection\":\"\xed\xa0\x80\"}", "invalid_json", "", NULL);
    expect_err("{\"collection\":\"products\",\"filters\":[{\"field\":\"name\",\"op\":\"eq\","
               "\"value\":\"\\ud800\"}]}",
               "invalid_json", "", NULL);
    /* Numbers jansson can't represent are refused, never wrapped or rounded to inf. */
    expect_filter_err("{\"field\":\"price\",\"op\":\"eq\",\"value\":1e400}", "invalid_json", "",
                      NULL);
    expect_filter_err("{\"field\":\"qty\",\"op\":\"eq\",\"value\":99999999999999999999999}",
                      "invalid_json", "", NULL);
}

static void test_depth(void **state)
{
    (void)state;
    /* Depth 8 (object, filters array, filter object, in array ... ) is allowed; 9 is not. */
    expect_err("{\"collection\":\"products\",\"x\":[[[[[[[1]]]]]]]}", "unknown_property", "x",
               NULL);
    expect_err("{\"collection\":\"products\",\"x\":[[[[[[[[1]]]]]]]]}", "invalid_json", "",
               "deeper than 8");
    /* Far past the limit: refused by the parser itself without exhausting the stack. */
    size_t n = 100000;
    char *b = malloc(2 * n + 8);
    assert_non_null(b);
    b[0] = '{';
    memcpy(b + 1, "\"a\":", 4);
    size_t w = 5;
    for (size_t i = 0; i < n; i++)
        b[w++] = '[';
    for (size_t i = 0; i < n; i++)
        b[w++] = ']';
    b[w++] = '}';
    b[w] = '\0';
    expect_err_n(b, w, "invalid_json", "", NULL);
    free(b);
}

/* ---- top level ------------------------------------------------------------------- */

static void test_unknown_property(void **state)
{
    (void)state;
    expect_err("{\"collection\":\"products\",\"colour\":\"red\"}", "unknown_property", "colour",
               "unknown property 'colour'; allowed: collection, filters, search, sort, fields, "
               "limit, cursor");
    expect_err("{\"Collection\":\"products\"}", "unknown_property", "Collection", NULL);
}

static void test_unknown_collection(void **state)
{
    (void)state;
    expect_err("{}", "unknown_collection", "collection",
               "collection is required; available: plain, products");
    expect_err("{\"collection\":7}", "unknown_collection", "collection", "available: plain");
    expect_err("{\"collection\":null}", "unknown_collection", "collection", NULL);
    expect_err("{\"collection\":\"orders\"}", "unknown_collection", "collection",
               "collection 'orders' does not exist; available: plain, products");
    expect_err("{\"collection\":\"Products\"}", "unknown_collection", "collection", NULL);
}

/* ---- filters --------------------------------------------------------------------- */

static void test_invalid_filter_shape(void **state)
{
    (void)state;
    expect_err("{\"collection\":\"products\",\"filters\":{}}", "invalid_filter", "filters",
               "filters must be an array");
    expect_err("{\"collection\":\"products\",\"filters\":\"price<5\"}", "invalid_filter", "filters",
               NULL);
    expect_filter_err("{\"field\":\"id\",\"op\":\"eq\",\"value\":1},7", "invalid_filter",
                      "filters[1]", "filters[1] must be an object");
    expect_filter_err("{\"field\":\"id\",\"op\":\"eq\"}", "invalid_filter", "filters[0]",
                      "filters[0] is missing 'value'");
    expect_filter_err("{\"op\":\"eq\",\"value\":1}", "invalid_filter", "filters[0]",
                      "is missing 'field'");
    expect_filter_err("{\"field\":\"id\",\"op\":\"eq\",\"value\":1,\"or\":true}", "invalid_filter",
                      "filters[0]", "unknown key 'or'");
    expect_filter_err("{\"field\":3,\"op\":\"eq\",\"value\":1}", "invalid_filter",
                      "filters[0].field", "filterable: id, name, price");
    expect_filter_err("{\"field\":\"id\",\"op\":[\"eq\"],\"value\":1}", "invalid_filter",
                      "filters[0].op", "operators allowed for field 'id': eq, in");
}

static void test_too_many_filters(void **state)
{
    (void)state;
    /* 21 is one too many; 10000 is refused before any is examined. */
    size_t counts[] = {21, 10000};
    for (size_t c = 0; c < 2; c++) {
        const char *one = "{\"field\":\"id\",\"op\":\"eq\",\"value\":1},";
        size_t len = strlen(one) * counts[c] + 64;
        char *b = malloc(len);
        assert_non_null(b);
        size_t w = (size_t)sprintf(b, "{\"collection\":\"products\",\"filters\":[");
        for (size_t i = 0; i < counts[c]; i++)
            w += (size_t)sprintf(b + w, "%s", one);
        b[w - 1] = ']';
        b[w++] = '}';
        b[w] = '\0';
        expect_err(b, "invalid_filter", "filters", "at most 20 filters are allowed");
        free(b);
    }
    /* Exactly 20 is fine. */
    char *b = malloc(2048);
    assert_non_null(b);
    size_t w = (size_t)sprintf(b, "{\"collection\":\"products\",\"filters\":[");
    for (int i = 0; i < 20; i++)
        w += (size_t)sprintf(b + w, "%s{\"field\":\"qty\",\"op\":\"lt\",\"value\":%d}",
                             i ? "," : "", i);
    sprintf(b + w, "]}");
    rg_request_plan p;
    must_build(b, &p);
    assert_int_equal(p.plan.nfilters, 20);
    assert_int_equal(p.plan.filters[19].values[0].u.i, 19);
    rg_request_plan_free(&p);
    free(b);
}

static void test_unknown_field(void **state)
{
    (void)state;
    expect_filter_err("{\"field\":\"color\",\"op\":\"eq\",\"value\":\"red\"}", "unknown_field",
                      "filters[0].field", "field 'color' does not exist in collection 'products'");
    /* A configured field with no role is unknown to the outside world. */
    expect_filter_err("{\"field\":\"secret\",\"op\":\"eq\",\"value\":\"x\"}", "unknown_field",
                      "filters[0].field", "field 'secret' does not exist in collection 'products'");
    /* Names are matched exactly. */
    expect_filter_err("{\"field\":\"Price\",\"op\":\"eq\",\"value\":1}", "unknown_field",
                      "filters[0].field", NULL);
}

static void test_field_not_filterable(void **state)
{
    (void)state;
    expect_filter_err("{\"field\":\"notes\",\"op\":\"eq\",\"value\":\"x\"}", "field_not_filterable",
                      "filters[0].field",
                      "field 'notes' is not filterable in collection 'products'; filterable: id, "
                      "name, price, category, in_stock, qty, released, updated");
}

static void test_operator_not_allowed(void **state)
{
    (void)state;
    expect_filter_err("{\"field\":\"price\",\"op\":\"in\",\"value\":[1]}", "operator_not_allowed",
                      "filters[0].op",
                      "operator 'in' is not allowed for field 'price'; allowed: eq, lt, lte, gt, "
                      "gte, between");
    expect_filter_err("{\"field\":\"name\",\"op\":\"like\",\"value\":\"%a%\"}",
                      "operator_not_allowed", "filters[0].op",
                      "operator 'like' is not allowed for field 'name'; allowed: eq, prefix, "
                      "contains");
    expect_filter_err("{\"field\":\"id\",\"op\":\"EQ\",\"value\":1}", "operator_not_allowed",
                      "filters[0].op", NULL);
}

static void test_invalid_value_types(void **state)
{
    (void)state;
    /* integer: JSON integers only. */
    expect_filter_err("{\"field\":\"qty\",\"op\":\"eq\",\"value\":1.5}", "invalid_value",
                      "filters[0].value", "must be a JSON integer");
    expect_filter_err("{\"field\":\"qty\",\"op\":\"eq\",\"value\":5.0}", "invalid_value",
                      "filters[0].value", "not a number with a fraction or exponent");
    expect_filter_err("{\"field\":\"qty\",\"op\":\"eq\",\"value\":1e2}", "invalid_value",
                      "filters[0].value", NULL);
    expect_filter_err("{\"field\":\"qty\",\"op\":\"eq\",\"value\":\"5\"}", "invalid_value",
                      "filters[0].value", "not a string");
    /* number */
    expect_filter_err("{\"field\":\"price\",\"op\":\"lt\",\"value\":\"50\"}", "invalid_value",
                      "filters[0].value", "must be a finite JSON number");
    expect_filter_err("{\"field\":\"price\",\"op\":\"lt\",\"value\":true}", "invalid_value",
                      "filters[0].value", NULL);
    /* boolean */
    expect_filter_err("{\"field\":\"in_stock\",\"op\":\"eq\",\"value\":1}", "invalid_value",
                      "filters[0].value", "must be true or false");
    expect_filter_err("{\"field\":\"in_stock\",\"op\":\"eq\",\"value\":\"true\"}", "invalid_value",
                      "filters[0].value", NULL);
    /* strings */
    expect_filter_err("{\"field\":\"name\",\"op\":\"eq\",\"value\":5}", "invalid_value",
                      "filters[0].value", "must be a JSON string");
    expect_filter_err("{\"field\":\"name\",\"op\":\"eq\",\"value\":null}", "invalid_value",
                      "filters[0].value", "not null");
    expect_filter_err("{\"field\":\"name\",\"op\":\"eq\",\"value\":{\"$ne\":1}}", "invalid_value",
                      "filters[0].value", "not an object");
    /* A later filter's path says which one. */
    expect_filter_err("{\"field\":\"id\",\"op\":\"eq\",\"value\":1},"
                      "{\"field\":\"qty\",\"op\":\"eq\",\"value\":0.5}",
                      "invalid_value", "filters[1].value", NULL);
}

static void test_invalid_value_strings(void **state)
{
    (void)state;
    char v[300];
    memset(v, 'a', 257);
    v[257] = '\0';
    char f[700];
    snprintf(f, sizeof f, "{\"field\":\"name\",\"op\":\"eq\",\"value\":\"%s\"}", v);
    expect_filter_err(f, "invalid_value", "filters[0].value",
                      "is 257 bytes long; at most 256 bytes are allowed");
    v[256] = '\0'; /* exactly 256 is accepted */
    snprintf(f, sizeof f, "{\"field\":\"name\",\"op\":\"eq\",\"value\":\"%s\"}", v);
    rg_request_plan p;
    assert_int_equal(one_filter_value(f, &p)->u.str.len, 256);
    rg_request_plan_free(&p);
    /* 128 two-byte characters = 256 bytes fine; one more is over the byte limit. */
    char u[600] = "";
    for (int i = 0; i < 129; i++)
        strcat(u, "\xc3\xa9");
    snprintf(f, sizeof f, "{\"field\":\"name\",\"op\":\"eq\",\"value\":\"%s\"}", u);
    expect_filter_err(f, "invalid_value", "filters[0].value", "258 bytes");

    expect_filter_err("{\"field\":\"name\",\"op\":\"eq\",\"value\":\"a\\u0001b\"}", "invalid_value",
                      "filters[0].value", "control character");
    expect_filter_err("{\"field\":\"name\",\"op\":\"eq\",\"value\":\"a\\nb\"}", "invalid_value",
                      "filters[0].value", "control character");
    expect_filter_err("{\"field\":\"name\",\"op\":\"eq\",\"value\":\"a\\u007fb\"}", "invalid_value",
                      "filters[0].value", "control character");
    /* C1 controls (U+0080..U+009F), escaped and raw. */
    expect_filter_err("{\"field\":\"name\",\"op\":\"eq\",\"value\":\"a\\u0085b\"}", "invalid_value",
                      "filters[0].value", "control character (U+0085");
    expect_filter_err("{\"field\":\"name\",\"op\":\"eq\",\"value\":\"a\xc2\x9f" "b\"}", "invalid_value",
                      "filters[0].value", "control character (U+009F");
    expect_filter_err("{\"field\":\"name\",\"op\":\"prefix\",\"value\":\"\"}", "invalid_value",
                      "filters[0].value", "operator 'prefix' takes a non-empty string");
    expect_filter_err("{\"field\":\"name\",\"op\":\"contains\",\"value\":\"\"}", "invalid_value",
                      "filters[0].value", "operator 'contains' takes a non-empty string");
    /* enum */
    expect_filter_err("{\"field\":\"category\",\"op\":\"eq\",\"value\":\"hats\"}", "invalid_value",
                      "filters[0].value", "allowed: boots, shoes, sneakers");
    expect_filter_err("{\"field\":\"category\",\"op\":\"eq\",\"value\":\"Boots\"}", "invalid_value",
                      "filters[0].value", NULL);
}

static void test_invalid_value_dates(void **state)
{
    (void)state;
    const char *bad_dates[] = {
        "2023-02-29", "2024-13-01",           "2024-04-31", "2024-00-10", "2024-1-10",
        "20240110",   "2024-01-10T00:00:00Z", "0000-01-01", "2024-01-1x", ""};
    for (size_t i = 0; i < sizeof bad_dates / sizeof bad_dates[0]; i++) {
        char f[200];
        snprintf(f, sizeof f, "{\"field\":\"released\",\"op\":\"lt\",\"value\":\"%s\"}",
                 bad_dates[i]);
        expect_filter_err(f, "invalid_value", "filters[0].value", "calendar date YYYY-MM-DD");
    }
    const char *bad_times[] = {"2024-05-01",
                               "2024-05-01T12:00:00",
                               "2024-05-01 12:00:00Z",
                               "2024-05-01T24:00:00Z",
                               "2024-05-01T12:60:00Z",
                               "2024-05-01T12:00:60Z",
                               "2024-02-30T12:00:00Z",
                               "2024-05-01T12:00:00.Z",
                               "2024-05-01T12:00:00+0200",
                               "2024-05-01T12:00:00+24:00",
                               "2024-05-01T12:00:00ZZ",
                               "0001-01-01T00:30:00+01:00"};
    for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++) {
        char f[200];
        snprintf(f, sizeof f, "{\"field\":\"updated\",\"op\":\"gt\",\"value\":\"%s\"}",
                 bad_times[i]);
        expect_filter_err(f, "invalid_value", "filters[0].value", "RFC 3339");
    }
}

static void test_invalid_value_in_between(void **state)
{
    (void)state;
    expect_filter_err("{\"field\":\"id\",\"op\":\"in\",\"value\":[]}", "invalid_value",
                      "filters[0].value", "array of 1 to 50 values");
    expect_filter_err("{\"field\":\"id\",\"op\":\"in\",\"value\":5}", "invalid_value",
                      "filters[0].value", "array of 1 to 50 values");
    expect_filter_err("{\"field\":\"id\",\"op\":\"in\",\"value\":[1,\"2\"]}", "invalid_value",
                      "filters[0].value[1]", NULL);
    char f[400];
    size_t w = (size_t)sprintf(f, "{\"field\":\"id\",\"op\":\"in\",\"value\":[");
    for (int i = 0; i < 51; i++)
        w += (size_t)sprintf(f + w, "%s%d", i ? "," : "", i);
    sprintf(f + w, "]}");
    expect_filter_err(f, "invalid_value", "filters[0].value", "got 51 values");

    expect_filter_err("{\"field\":\"price\",\"op\":\"between\",\"value\":[1]}", "invalid_value",
                      "filters[0].value", "exactly 2 values");
    expect_filter_err("{\"field\":\"price\",\"op\":\"between\",\"value\":[1,2,3]}", "invalid_value",
                      "filters[0].value", "exactly 2 values");
    expect_filter_err("{\"field\":\"price\",\"op\":\"between\",\"value\":10}", "invalid_value",
                      "filters[0].value", "exactly 2 values");
    expect_filter_err("{\"field\":\"price\",\"op\":\"between\",\"value\":[10,2.5]}",
                      "invalid_value", "filters[0].value", "low <= high");
    expect_filter_err("{\"field\":\"qty\",\"op\":\"between\",\"value\":[1,1.5]}", "invalid_value",
                      "filters[0].value[1]", NULL);
    expect_filter_err("{\"field\":\"released\",\"op\":\"between\",\"value\":[\"2024-02-01\","
                      "\"2024-01-31\"]}",
                      "invalid_value", "filters[0].value", "low <= high");
    /* 12:00:00.5Z is after 12:00:00Z even though '.' sorts before 'Z'. */
    expect_filter_err("{\"field\":\"updated\",\"op\":\"between\",\"value\":"
                      "[\"2024-05-01T12:00:00.5Z\",\"2024-05-01T12:00:00Z\"]}",
                      "invalid_value", "filters[0].value", "low <= high");
    /* Compared as instants after normalisation: 13:00+02:00 is before 12:00Z. */
    rg_request_plan p;
    const rg_value *v =
        one_filter_value("{\"field\":\"updated\",\"op\":\"between\",\"value\":"
                         "[\"2024-05-01T13:00:00+02:00\",\"2024-05-01T12:00:00Z\"]}",
                         &p);
    assert_string_equal(v[0].u.str.ptr, "2024-05-01T11:00:00Z");
    rg_request_plan_free(&p);
}

/* ---- search, sort, fields, limit ------------------------------------------------------------ */

static void test_invalid_search(void **state)
{
    (void)state;
    expect_err("{\"collection\":\"products\",\"search\":5}", "invalid_search", "search",
               "search must be a string");
    expect_err("{\"collection\":\"products\",\"search\":[\"red\"]}", "invalid_search", "search",
               NULL);
    char b[400], s[220];
    memset(s, 'x', 201);
    s[201] = '\0';
    snprintf(b, sizeof b, "{\"collection\":\"products\",\"search\":\"%s\"}", s);
    expect_err(b, "invalid_search", "search", "is 201 bytes long; at most 200 bytes");
    expect_err("{\"collection\":\"products\",\"search\":\"a b c d e f g h i j k l m n o p q\"}",
               "invalid_search", "search", "search has 17 words; at most 16");
    expect_err("{\"collection\":\"products\",\"search\":\"red\\u0000\"}", "invalid_json", "", NULL);
    expect_err("{\"collection\":\"products\",\"search\":\"red\\u001bshoes\"}", "invalid_search",
               "search", "control character");
    expect_err("{\"collection\":\"plain\",\"search\":\"red\"}", "invalid_search", "search",
               "collection 'plain' has no searchable fields");
}

static void test_invalid_sort(void **state)
{
    (void)state;
    expect_err("{\"collection\":\"products\",\"sort\":\"price\"}", "invalid_sort", "sort",
               "sortable: id, name, price, released, updated");
    expect_err("{\"collection\":\"products\",\"sort\":[{\"field\":\"price\"},{\"field\":\"name\"},"
               "{\"field\":\"released\"},{\"field\":\"updated\"}]}",
               "invalid_sort", "sort", "at most 3 sort keys are allowed; got 4");
    expect_err("{\"collection\":\"products\",\"sort\":[{\"field\":\"category\"}]}", "invalid_sort",
               "sort[0].field",
               "field 'category' is not sortable in collection 'products'; sortable: id, name, "
               "price, released, updated");
    expect_err("{\"collection\":\"products\",\"sort\":[{\"field\":\"price\"},{\"field\":\"price\","
               "\"dir\":\"desc\"}]}",
               "invalid_sort", "sort[1].field", "appears more than once");
    expect_err("{\"collection\":\"products\",\"sort\":[{\"field\":\"price\",\"dir\":\"up\"}]}",
               "invalid_sort", "sort[0].dir", "must be \"asc\" or \"desc\"");
    expect_err("{\"collection\":\"products\",\"sort\":[{\"field\":\"price\",\"dir\":1}]}",
               "invalid_sort", "sort[0].dir", NULL);
    expect_err("{\"collection\":\"products\",\"sort\":[\"price\"]}", "invalid_sort", "sort[0]",
               NULL);
    expect_err("{\"collection\":\"products\",\"sort\":[{\"field\":\"price\",\"nulls\":\"first\"}]}",
               "invalid_sort", "sort[0]", "unknown key 'nulls'");
    expect_err("{\"collection\":\"products\",\"sort\":[{\"dir\":\"asc\"}]}", "invalid_sort",
               "sort[0].field", NULL);
    expect_err("{\"collection\":\"products\",\"sort\":[{\"field\":\"colour\"}]}", "unknown_field",
               "sort[0].field",
               "field 'colour' does not exist in collection 'products'; sortable: id");
    expect_err("{\"collection\":\"products\",\"sort\":[{\"field\":\"secret\"}]}", "unknown_field",
               "sort[0].field", NULL);
}

static void test_invalid_fields(void **state)
{
    (void)state;
    expect_err("{\"collection\":\"products\",\"fields\":[\"name\",\"in_stock\"]}", "invalid_fields",
               "fields[1]",
               "field 'in_stock' is not a display field of collection 'products'; display fields: "
               "id, name, price, category, qty, released, updated, notes");
    expect_err("{\"collection\":\"products\",\"fields\":[\"name\",\"name\"]}", "invalid_fields",
               "fields[1]", "appears more than once");
    expect_err("{\"collection\":\"products\",\"fields\":\"name\"}", "invalid_fields", "fields",
               NULL);
    expect_err("{\"collection\":\"products\",\"fields\":[]}", "invalid_fields", "fields", NULL);
    expect_err("{\"collection\":\"products\",\"fields\":[1]}", "invalid_fields", "fields[0]", NULL);
    expect_err("{\"collection\":\"products\",\"fields\":[\"secret\"]}", "unknown_field",
               "fields[0]", "field 'secret' does not exist in collection 'products'");
    expect_err("{\"collection\":\"plain\",\"fields\":[\"code\",\"label\",\"code\"]}",
               "invalid_fields", "fields", "1 to 2 distinct");
}

static void test_invalid_limit(void **state)
{
    (void)state;
    const char *bad[] = {"0", "101", "-1", "\"5\"", "2.0", "true", "[5]", "9223372036854775807"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char b[200];
        snprintf(b, sizeof b, "{\"collection\":\"products\",\"limit\":%s}", bad[i]);
        expect_err(b, "invalid_limit", "limit", "limit must be an integer from 1 to 100");
    }
}

/* ---- happy paths
 * ---------------------------------------------------------------------------------- */

static void test_full_plan(void **state)
{
    (void)state;
    rg_request_plan p;
    must_build("{\"collection\":\"products\","
               "\"filters\":[{\"field\":\"price\",\"op\":\"lte\",\"value\":50},"
               "{\"field\":\"category\",\"op\":\"in\",\"value\":[\"boots\",\"shoes\"]},"
               "{\"field\":\"in_stock\",\"op\":\"eq\",\"value\":true},"
               "{\"field\":\"name\",\"op\":\"contains\",\"value\":\"50% \\\"off\\\"\"}],"
               "\"search\":\"  red\\tsneakers \",\"sort\":[{\"field\":\"price\",\"dir\":\"desc\"}],"
               "\"fields\":[\"name\",\"price\"],\"limit\":10,\"cursor\":null}",
               &p);
    const rg_query_plan *q = &p.plan;
    assert_ptr_equal(p.collection, FX_PRODUCTS);
    assert_ptr_equal(q->collection, &FX_PRODUCTS->desc);
    assert_int_equal(q->struct_size, sizeof(rg_query_plan));

    assert_int_equal(q->nfilters, 4);
    assert_int_equal(q->filters[0].field, F_PRICE);
    assert_int_equal(q->filters[0].op, RG_OP_LTE);
    assert_int_equal(q->filters[0].nvalues, 1);
    assert_int_equal(q->filters[0].values[0].type, RG_TYPE_NUMBER);
    assert_false(q->filters[0].values[0].is_null);
    assert_true(q->filters[0].values[0].u.n == 50.0);
    assert_int_equal(q->filters[1].field, F_CATEGORY);
    assert_int_equal(q->filters[1].op, RG_OP_IN);
    assert_int_equal(q->filters[1].nvalues, 2);
    assert_int_equal(q->filters[1].values[0].type, RG_TYPE_ENUM);
    assert_string_equal(q->filters[1].values[0].u.str.ptr, "boots");
    assert_int_equal(q->filters[1].values[1].u.str.len, 5);
    assert_string_equal(q->filters[1].values[1].u.str.ptr, "shoes");
    assert_int_equal(q->filters[2].field, F_IN_STOCK);
    assert_int_equal(q->filters[2].values[0].type, RG_TYPE_BOOLEAN);
    assert_int_equal(q->filters[2].values[0].u.b, 1);
    assert_int_equal(q->filters[3].op, RG_OP_CONTAINS);
    assert_int_equal(q->filters[3].values[0].type, RG_TYPE_STRING);
    assert_string_equal(q->filters[3].values[0].u.str.ptr, "50% \"off\"");
    assert_int_equal(q->filters[3].values[0].u.str.len, 9);

    assert_int_equal(q->nsearch_words, 2);
    assert_string_equal(q->search_words[0], "red");
    assert_string_equal(q->search_words[1], "sneakers");
    assert_int_equal(q->nsearch_fields, 1);
    assert_int_equal(q->search_fields[0], F_NAME);

    assert_int_equal(q->nsort, 2);
    assert_int_equal(q->sort[0].field, F_PRICE);
    assert_int_equal(q->sort[0].desc, 1);
    assert_int_equal(q->sort[1].field, F_ID);
    assert_int_equal(q->sort[1].desc, 0);

    /* Requested fields first, then the key only for the cursor. */
    assert_int_equal(q->ncolumns, 3);
    assert_int_equal(q->columns[0], F_NAME);
    assert_int_equal(q->columns[1], F_PRICE);
    assert_int_equal(q->columns[2], F_ID);
    assert_int_equal(p.column_visible[0], 1);
    assert_int_equal(p.column_visible[1], 1);
    assert_int_equal(p.column_visible[2], 0);
    assert_int_equal(p.sort_column[0], 1);
    assert_int_equal(p.sort_column[1], 2);

    assert_int_equal(p.client_limit, 10);
    assert_int_equal(q->limit, 11);
    assert_null(q->after);
    assert_int_equal(q->timeout_ms, 1234);
    rg_request_plan_free(&p);
    assert_null(p.arena);
    rg_request_plan_free(&p); /* twice is harmless */
}

static void test_defaults(void **state)
{
    (void)state;
    rg_request_plan p;
    must_build("{\"collection\":\"products\",\"filters\":null,\"search\":null,\"sort\":null,"
               "\"fields\":null,\"limit\":null}",
               &p);
    const rg_query_plan *q = &p.plan;
    assert_int_equal(q->nfilters, 0);
    assert_int_equal(q->nsearch_words, 0);
    assert_int_equal(q->nsort, 1);
    assert_int_equal(q->sort[0].field, F_ID);
    assert_int_equal(q->sort[0].desc, 0);
    /* Every display field in config order; the key is among them. */
    const size_t want[] = {F_ID,  F_NAME,     F_PRICE,   F_CATEGORY,
                           F_QTY, F_RELEASED, F_UPDATED, F_NOTES};
    assert_int_equal(q->ncolumns, 8);
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(q->columns[i], want[i]);
        assert_int_equal(p.column_visible[i], 1);
    }
    assert_int_equal(p.sort_column[0], 0);
    assert_int_equal(p.client_limit, 20);
    assert_int_equal(q->limit, 21);
    rg_request_plan_free(&p);

    /* Empty filter and sort arrays, white-space-only search. */
    must_build("{\"collection\":\"products\",\"filters\":[],\"sort\":[],\"search\":\"   \"}", &p);
    assert_int_equal(p.plan.nfilters, 0);
    assert_int_equal(p.plan.nsort, 1);
    assert_int_equal(p.plan.nsearch_words, 0);
    rg_request_plan_free(&p);

    /* White space only is no search, so a collection without searchable fields accepts it;
       a source-less collection gets the default budget. */
    must_build("{\"collection\":\"plain\",\"search\":\" \",\"limit\":10}", &p);
    assert_int_equal(p.plan.nsearch_words, 0);
    assert_int_equal(p.plan.timeout_ms, 5000);
    assert_int_equal(p.plan.limit, 11);
    rg_request_plan_free(&p);
}

static void test_sort_key_handling(void **state)
{
    (void)state;
    rg_request_plan p;
    /* The key already present is not appended again, wherever it is. */
    must_build("{\"collection\":\"products\",\"sort\":[{\"field\":\"id\",\"dir\":\"desc\"},"
               "{\"field\":\"price\"}],\"fields\":[\"notes\"]}",
               &p);
    assert_int_equal(p.plan.nsort, 2);
    assert_int_equal(p.plan.sort[0].field, F_ID);
    assert_int_equal(p.plan.sort[0].desc, 1);
    assert_int_equal(p.plan.sort[1].field, F_PRICE);
    assert_int_equal(p.plan.sort[1].desc, 0);
    assert_int_equal(p.plan.ncolumns, 3);
    assert_int_equal(p.plan.columns[0], F_NOTES);
    assert_int_equal(p.plan.columns[1], F_ID);
    assert_int_equal(p.plan.columns[2], F_PRICE);
    assert_int_equal(p.column_visible[1], 0);
    assert_int_equal(p.sort_column[0], 1);
    assert_int_equal(p.sort_column[1], 2);
    rg_request_plan_free(&p);

    /* Three sort keys plus the key: four cursor values. */
    must_build("{\"collection\":\"products\",\"sort\":[{\"field\":\"released\",\"dir\":null},"
               "{\"field\":\"name\",\"dir\":\"asc\"},{\"field\":\"updated\",\"dir\":\"desc\"}]}",
               &p);
    assert_int_equal(p.plan.nsort, 4);
    assert_int_equal(p.plan.sort[3].field, F_ID);
    assert_int_equal(p.plan.sort[2].desc, 1);
    rg_request_plan_free(&p);
}

static void test_typed_values(void **state)
{
    (void)state;
    rg_request_plan p;
    const rg_value *v;

    v = one_filter_value(
        "{\"field\":\"updated\",\"op\":\"gt\",\"value\":\"2024-05-01T14:30:00+02:00\"}", &p);
    assert_int_equal(v->type, RG_TYPE_DATETIME);
    assert_string_equal(v->u.str.ptr, "2024-05-01T12:30:00Z");
    assert_int_equal(v->u.str.len, 20);
    rg_request_plan_free(&p);

    v = one_filter_value(
        "{\"field\":\"updated\",\"op\":\"gt\",\"value\":\"2024-01-01T01:00:00.5+02:00\"}", &p);
    assert_string_equal(v->u.str.ptr, "2023-12-31T23:00:00.500000Z");
    rg_request_plan_free(&p);

    v = one_filter_value(
        "{\"field\":\"updated\",\"op\":\"gt\",\"value\":\"2024-02-28t23:30:00.1234567-01:00\"}",
        &p);
    assert_string_equal(v->u.str.ptr, "2024-02-29T00:30:00.123456Z");
    rg_request_plan_free(&p);

    v = one_filter_value(
        "{\"field\":\"updated\",\"op\":\"gt\",\"value\":\"2024-05-01T12:00:00.000z\"}", &p);
    assert_string_equal(v->u.str.ptr, "2024-05-01T12:00:00Z");
    rg_request_plan_free(&p);

    v = one_filter_value("{\"field\":\"updated\",\"op\":\"in\",\"value\":[\"2024-05-01T12:00:00Z\","
                         "\"2024-05-01T12:00:00-00:30\"]}",
                         &p);
    assert_int_equal(p.plan.filters[0].nvalues, 2);
    assert_string_equal(v[1].u.str.ptr, "2024-05-01T12:30:00Z");
    rg_request_plan_free(&p);

    v = one_filter_value("{\"field\":\"released\",\"op\":\"gte\",\"value\":\"2024-02-29\"}", &p);
    assert_int_equal(v->type, RG_TYPE_DATE);
    assert_string_equal(v->u.str.ptr, "2024-02-29");
    rg_request_plan_free(&p);

    v = one_filter_value(
        "{\"field\":\"released\",\"op\":\"between\",\"value\":[\"2024-01-01\",\"2024-01-01\"]}",
        &p);
    assert_int_equal(p.plan.filters[0].op, RG_OP_BETWEEN);
    assert_int_equal(p.plan.filters[0].nvalues, 2);
    rg_request_plan_free(&p);

    v = one_filter_value("{\"field\":\"qty\",\"op\":\"eq\",\"value\":-9223372036854775807}", &p);
    assert_int_equal(v->type, RG_TYPE_INTEGER);
    assert_true(v->u.i == -9223372036854775807LL);
    rg_request_plan_free(&p);

    v = one_filter_value("{\"field\":\"price\",\"op\":\"between\",\"value\":[0.5,1e3]}", &p);
    assert_true(v[0].u.n == 0.5);
    assert_true(v[1].u.n == 1000.0);
    rg_request_plan_free(&p);

    v = one_filter_value("{\"field\":\"in_stock\",\"op\":\"eq\",\"value\":false}", &p);
    assert_int_equal(v->u.b, 0);
    rg_request_plan_free(&p);

    /* Wildcards and quotes are ordinary characters; non-ASCII passes through. */
    v = one_filter_value(
        "{\"field\":\"name\",\"op\":\"prefix\",\"value\":\"%_\\\\*' caf\xc3\xa9\"}", &p);
    assert_int_equal(p.plan.filters[0].op, RG_OP_PREFIX);
    assert_string_equal(v->u.str.ptr, "%_\\*' caf\xc3\xa9");
    rg_request_plan_free(&p);
}

/* ---- digest and cursor
 * ----------------------------------------------------------------------------- */

static void digest_of(const char *body, uint8_t out[16])
{
    rg_request_plan p;
    must_build(body, &p);
    memcpy(out, p.query_digest, 16);
    rg_request_plan_free(&p);
}

static void test_digest(void **state)
{
    (void)state;
    uint8_t a[16], b[16], c[16], d[16], e[16], f[16], g[16];
    const char *q1 = "{\"collection\":\"products\",\"filters\":[{\"field\":\"price\",\"op\":\"lt\","
                     "\"value\":50}],\"search\":\"red\"}";
    digest_of(q1, a);
    digest_of(q1, b);
    assert_memory_equal(a, b, 16);
    /* limit, fields and cursor are not part of the query's identity; 50 and 50.0 are equal. */
    digest_of("{\"limit\":3,\"fields\":[\"id\"],\"collection\":\"products\",\"search\":\" red \","
              "\"filters\":[{\"value\":50.0,\"op\":\"lt\",\"field\":\"price\"}]}",
              c);
    assert_memory_equal(a, c, 16);
    digest_of("{\"collection\":\"products\",\"filters\":[{\"field\":\"price\",\"op\":\"lt\","
              "\"value\":51}],\"search\":\"red\"}",
              d);
    assert_memory_not_equal(a, d, 16);
    digest_of("{\"collection\":\"products\",\"filters\":[{\"field\":\"price\",\"op\":\"lte\","
              "\"value\":50}],\"search\":\"red\"}",
              e);
    assert_memory_not_equal(a, e, 16);
    digest_of("{\"collection\":\"products\",\"filters\":[{\"field\":\"price\",\"op\":\"lt\","
              "\"value\":50}],\"search\":\"red\",\"sort\":[{\"field\":\"price\"}]}",
              f);
    assert_memory_not_equal(a, f, 16);
    /* Word boundaries count: "ab c" is not "a bc". */
    digest_of("{\"collection\":\"products\",\"search\":\"ab c\"}", f);
    digest_of("{\"collection\":\"products\",\"search\":\"a bc\"}", g);
    assert_memory_not_equal(f, g, 16);
}

static char *with_cursor(const char *prefix, const char *cursor)
{
    char *b = NULL;
    assert_true(asprintf(&b, "%s,\"cursor\":\"%s\"}", prefix, cursor) > 0);
    return b;
}

static void test_cursor_round_trip(void **state)
{
    (void)state;
    const char *q = "{\"collection\":\"products\",\"filters\":[{\"field\":\"price\",\"op\":\"lt\","
                    "\"value\":50}],\"sort\":[{\"field\":\"name\"},{\"field\":\"updated\","
                    "\"dir\":\"desc\"}]";
    char *body = NULL;
    assert_true(asprintf(&body, "%s,\"fields\":[\"price\",\"name\"]}", q) > 0);
    rg_request_plan p;
    must_build(body, &p);
    free(body);
    /* Columns: price, name, then hidden updated and id. */
    assert_int_equal(p.plan.ncolumns, 4);
    assert_int_equal(p.plan.columns[2], F_UPDATED);
    assert_int_equal(p.plan.columns[3], F_ID);
    rg_value row[4] = {
        {.struct_size = sizeof(rg_value), .type = RG_TYPE_NUMBER, .u.n = 9.5},
        {.struct_size = sizeof(rg_value),
         .type = RG_TYPE_STRING,
         .u.str = {"Boot \"X\" caf\xc3\xa9", 14}},
        {.struct_size = sizeof(rg_value), .type = RG_TYPE_DATETIME, .is_null = 1},
        {.struct_size = sizeof(rg_value), .type = RG_TYPE_INTEGER, .u.i = 42},
    };
    char *cursor = NULL;
    assert_int_equal(rg_plan_next_cursor(&p, &test_kr, row, &cursor), 0);
    assert_non_null(cursor);

    /* A value of the wrong type from an adapter makes no cursor. */
    rg_value bad[4];
    memcpy(bad, row, sizeof bad);
    bad[3].type = RG_TYPE_STRING;
    char *nope = NULL;
    assert_int_equal(rg_plan_next_cursor(&p, &test_kr, bad, &nope), -1);
    assert_null(nope);
    rg_request_plan_free(&p);

    assert_true(
        asprintf(&body, "%s,\"fields\":[\"price\",\"name\"],\"cursor\":\"%s\"}", q, cursor) > 0);
    must_build(body, &p);
    free(body);
    assert_non_null(p.plan.after);
    assert_int_equal(p.plan.nsort, 3);
    assert_int_equal(p.plan.after[0].type, RG_TYPE_STRING);
    assert_int_equal(p.plan.after[0].u.str.len, 14);
    assert_memory_equal(p.plan.after[0].u.str.ptr, "Boot \"X\" caf\xc3\xa9", 15); /* NUL too */
    assert_true(p.plan.after[1].is_null);
    assert_int_equal(p.plan.after[1].type, RG_TYPE_DATETIME);
    assert_int_equal(p.plan.after[2].type, RG_TYPE_INTEGER);
    assert_true(p.plan.after[2].u.i == 42);
    rg_request_plan_free(&p);

    /* Other fields or limit: still the same query. */
    assert_true(
        asprintf(&body, "%s,\"limit\":5,\"fields\":[\"id\"],\"cursor\":\"%s\"}", q, cursor) > 0);
    must_build(body, &p);
    free(body);
    assert_non_null(p.plan.after);
    rg_request_plan_free(&p);

    /* Tampered: each of a few positions flipped. */
    size_t n = strlen(cursor);
    for (size_t i = 0; i < n; i += n / 7 + 1) {
        char *t = strdup(cursor);
        assert_non_null(t);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        body = with_cursor(q, t);
        expect_err(body, "invalid_cursor", "cursor", "cursor is not valid for this query");
        free(body);
        free(t);
    }
    /* Truncated and garbage. */
    char *t = strndup(cursor, n - 2);
    body = with_cursor(q, t);
    expect_err(body, "invalid_cursor", "cursor", "cursor is not valid for this query");
    free(body);
    free(t);
    body = with_cursor(q, "");
    expect_err(body, "invalid_cursor", "cursor", NULL);
    free(body);
    body = with_cursor(q, "not a cursor at all!");
    expect_err(body, "invalid_cursor", "cursor", NULL);
    free(body);

    /* Moved to another query: different filter value, sort, collection-level search. */
    const char *others[] = {
        "{\"collection\":\"products\",\"filters\":[{\"field\":\"price\",\"op\":\"lt\","
        "\"value\":60}],\"sort\":[{\"field\":\"name\"},{\"field\":\"updated\",\"dir\":\"desc\"}]",
        "{\"collection\":\"products\",\"filters\":[{\"field\":\"price\",\"op\":\"lt\","
        "\"value\":50}],\"sort\":[{\"field\":\"name\"},{\"field\":\"updated\"}]",
        "{\"collection\":\"products\",\"filters\":[{\"field\":\"price\",\"op\":\"lt\","
        "\"value\":50}],\"sort\":[{\"field\":\"name\"},{\"field\":\"updated\",\"dir\":\"desc\"}],"
        "\"search\":\"boot\"",
    };
    for (size_t i = 0; i < 3; i++) {
        body = with_cursor(others[i], cursor);
        expect_err(body, "invalid_cursor", "cursor", "cursor is not valid for this query");
        free(body);
    }
    /* Not a string. */
    assert_true(asprintf(&body, "%s,\"cursor\":42}", q) > 0);
    expect_err(body, "invalid_cursor", "cursor", "next_cursor string");
    free(body);
    free(cursor);
}

static void test_cursor_needs_keys(void **state)
{
    (void)state;
    rg_request_plan p;
    rg_api_error e;
    must_build("{\"collection\":\"products\"}", &p);
    rg_value row[8];
    memset(row, 0, sizeof row);
    for (size_t i = 0; i < 8; i++)
        row[i].struct_size = sizeof row[i];
    row[0].type = RG_TYPE_INTEGER;
    char *c = NULL;
    assert_int_equal(rg_plan_next_cursor(&p, NULL, row, &c), -1);
    assert_int_equal(rg_plan_next_cursor(&p, &test_kr, row, &c), 0);
    rg_request_plan_free(&p);
    char *body = with_cursor("{\"collection\":\"products\"", c);
    assert_int_equal(rg_plan_build(&fx_site, &fx_limits, NULL, body, strlen(body), &p, &e), -1);
    assert_string_equal(e.code, "invalid_cursor");
    free(body);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_json),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_unknown_property),
        cmocka_unit_test(test_unknown_collection),
        cmocka_unit_test(test_invalid_filter_shape),
        cmocka_unit_test(test_too_many_filters),
        cmocka_unit_test(test_unknown_field),
        cmocka_unit_test(test_field_not_filterable),
        cmocka_unit_test(test_operator_not_allowed),
        cmocka_unit_test(test_invalid_value_types),
        cmocka_unit_test(test_invalid_value_strings),
        cmocka_unit_test(test_invalid_value_dates),
        cmocka_unit_test(test_invalid_value_in_between),
        cmocka_unit_test(test_invalid_search),
        cmocka_unit_test(test_invalid_sort),
        cmocka_unit_test(test_invalid_fields),
        cmocka_unit_test(test_invalid_limit),
        cmocka_unit_test(test_full_plan),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_sort_key_handling),
        cmocka_unit_test(test_typed_values),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_cursor_round_trip),
        cmocka_unit_test(test_cursor_needs_keys),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
