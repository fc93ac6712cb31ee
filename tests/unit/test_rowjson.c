/* Rows as JSON: string escaping, UTF-8 repair and every value type. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/rowjson.h"

/* Contents of b as a NUL-terminated malloc'd string; drains b. */
static char *take(struct evbuffer *b)
{
    size_t n = evbuffer_get_length(b);
    char *s = malloc(n + 1);
    assert_non_null(s);
    assert_int_equal(evbuffer_remove(b, s, n), (int)n);
    s[n] = '\0';
    return s;
}

static void check_string(const char *in, size_t len, const char *want)
{
    struct evbuffer *b = evbuffer_new();
    assert_non_null(b);
    assert_int_equal(rg_json_append_string(b, in, len), 0);
    char *got = take(b);
    assert_string_equal(got, want);
    /* Always a valid JSON document. */
    json_error_t je;
    json_t *j = json_loads(got, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    assert_non_null(j);
    assert_true(json_is_string(j));
    json_decref(j);
    free(got);
    evbuffer_free(b);
}

static void test_escaping_table(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {"", 0, "\"\""},
        {"plain text", 10, "\"plain text\""},
        {"a\"b", 3, "\"a\\\"b\""},
        {"back\\slash", 10, "\"back\\\\slash\""},
        {"\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\""},
        {"\x01\x1f", 2, "\"\\u0001\\u001f\""},
        {"nul\0byte", 8, "\"nul\\u0000byte\""},
        {"del\x7f", 4, "\"del\\u007f\""},
        {"</script>", 9, "\"</script>\""},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
         "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
        {"%_*'", 4, "\"%_*'\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_string(cases[i].in, cases[i].len, cases[i].out);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    check_string("\xff", 1, "\"\\ufffd\"");
    check_string("a\xc3", 2, "\"a\\ufffd\"");                                /* truncated */
    check_string("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");                       /* overlong '/' */
    check_string("\xe0\x80\xaf", 3, "\"\\ufffd\\ufffd\\ufffd\"");            /* overlong */
    check_string("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");            /* surrogate */
    check_string("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
    check_string("\x80x\xc3\xa9", 4, "\"\\ufffdx\xc3\xa9\""); /* stray continuation */
    check_string("\xe2\x82", 2, "\"\\ufffd\\ufffd\"");

    assert_true(rg_utf8_valid("caf\xc3\xa9", 5));
    assert_false(rg_utf8_valid("caf\xc3", 4));
    assert_false(rg_utf8_valid("\xed\xbf\xbf", 3));
    assert_true(rg_utf8_valid("\xf4\x8f\xbf\xbf", 4));
    assert_int_equal(rg_utf8_seq_len((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
    assert_int_equal(rg_utf8_seq_len((const unsigned char *)"\xf0\x9f\x98", 3), 0);
}

/* Strings longer than one escape block, with escapes and multi-byte characters
   straddling the block boundaries, survive a round trip through jansson. */
static void test_long_strings(void **state)
{
    (void)state;
    size_t n = 20000;
    char *s = malloc(n);
    assert_non_null(s);
    const char pattern[] = "ab\"\\\n\x01\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 ";
    size_t plen = sizeof pattern - 1;
    for (size_t i = 0; i + plen <= n; i += plen)
        memcpy(s + i, pattern, plen);
    size_t len = (n / plen) * plen;
    struct evbuffer *b = evbuffer_new();
    assert_non_null(b);
    assert_int_equal(rg_json_append_string(b, s, len), 0);
    char *out = take(b);
    json_error_t je;
    json_t *j = json_loads(out, JSON_DECODE_ANY, &je);
    assert_non_null(j);
    assert_int_equal(json_string_length(j), len);
    assert_memory_equal(json_string_value(j), s, len);
    json_decref(j);
    free(out);

    /* A long run of bytes that all need escaping. */
    memset(s, '\x02', n);
    assert_int_equal(rg_json_append_string(b, s, n), 0);
    assert_int_equal(evbuffer_get_length(b), n * 6 + 2);
    out = take(b);
    assert_memory_equal(out, "\"\\u0002\\u0002", 13);
    free(out);
    evbuffer_free(b);
    free(s);
}

static char *value_json(const rg_value *v)
{
    struct evbuffer *b = evbuffer_new();
    assert_non_null(b);
    assert_int_equal(rg_json_append_value(b, v), 0);
    char *s = take(b);
    evbuffer_free(b);
    return s;
}

static void check_value(rg_value v, const char *want)
{
    char *got = value_json(&v);
    assert_string_equal(got, want);
    free(got);
}

static void test_values(void **state)
{
    (void)state;
    check_value((rg_value){.type = RG_TYPE_INTEGER, .is_null = 1}, "null");
    check_value((rg_value){.type = RG_TYPE_STRING, .is_null = 1}, "null");
    check_value((rg_value){.type = RG_TYPE_INTEGER, .u.i = 0}, "0");
    check_value((rg_value){.type = RG_TYPE_INTEGER, .u.i = -42}, "-42");
    check_value((rg_value){.type = RG_TYPE_INTEGER, .u.i = INT64_MAX}, "9223372036854775807");
    check_value((rg_value){.type = RG_TYPE_INTEGER, .u.i = INT64_MIN}, "-9223372036854775808");
    check_value((rg_value){.type = RG_TYPE_NUMBER, .u.n = 0.1}, "0.1");
    check_value((rg_value){.type = RG_TYPE_NUMBER, .u.n = 49.99}, "49.99");
    check_value((rg_value){.type = RG_TYPE_NUMBER, .u.n = 5.0}, "5");
    check_value((rg_value){.type = RG_TYPE_NUMBER, .u.n = 1e300}, "1e+300");
    check_value((rg_value){.type = RG_TYPE_NUMBER, .u.n = NAN}, "null");
    check_value((rg_value){.type = RG_TYPE_NUMBER, .u.n = INFINITY}, "null");
    check_value((rg_value){.type = RG_TYPE_NUMBER, .u.n = -INFINITY}, "null");
    check_value((rg_value){.type = RG_TYPE_BOOLEAN, .u.b = 1}, "true");
    check_value((rg_value){.type = RG_TYPE_BOOLEAN, .u.b = 0}, "false");
    check_value((rg_value){.type = RG_TYPE_STRING, .u.str = {"x\"y", 3}}, "\"x\\\"y\"");
    /* len is what counts, not a NUL terminator. */
    check_value((rg_value){.type = RG_TYPE_STRING, .u.str = {"abcdef", 3}}, "\"abc\"");
    check_value((rg_value){.type = RG_TYPE_ENUM, .u.str = {"boots", 5}}, "\"boots\"");
    check_value((rg_value){.type = RG_TYPE_DATE, .u.str = {"2024-02-29", 10}}, "\"2024-02-29\"");
    check_value((rg_value){.type = RG_TYPE_DATETIME, .u.str = {"2024-05-01T12:00:00Z", 20}},
                "\"2024-05-01T12:00:00Z\"");
    check_value((rg_value){.type = RG_TYPE_STRING, .u.str = {NULL, 0}}, "\"\"");

    /* An unknown type is an error, not garbage output. */
    struct evbuffer *b = evbuffer_new();
    assert_non_null(b);
    rg_value bad = {.type = (rg_type)99};
    assert_int_equal(rg_json_append_value(b, &bad), -1);
    evbuffer_free(b);
}

/* Doubles written with the shortest text that reads back as the same value. */
static void test_number_round_trip(void **state)
{
    (void)state;
    const double ds[] = {0.1,
                         1.0 / 3.0,
                         2.0 / 3.0,
                         123456.789,
                         1e-300,
                         5e-324,
                         1.7976931348623157e308,
                         -0.0,
                         9007199254740993.0,
                         0.30000000000000004};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        rg_value v = {.type = RG_TYPE_NUMBER, .u.n = ds[i]};
        char *s = value_json(&v);
        json_error_t je;
        json_t *j = json_loads(s, JSON_DECODE_ANY, &je);
        assert_non_null(j);
        assert_true(json_number_value(j) == ds[i]);
        json_decref(j);
        free(s);
    }
}

/* The reference: the shortest of %.15g..%.17g that reads back. */
static void printf_shortest(double d, char *buf, size_t size)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

/* Numbers are written without printf where they can be: the text must be
   the very text printf's shortest form gives, for prices, for decimals of
   every length and for arbitrary bit patterns of every magnitude. */
static void test_number_text_equals_printf(void **state)
{
    (void)state;
    unsigned long long x = 88172645463325252ULL; /* xorshift64 */
    char want[64];
    for (int i = 0; i < 300000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        switch (i % 4) {
        case 0: /* a price: cents */
            d = (double)(x % 10000000) / 100.0;
            break;
        case 1: { /* a decimal of 0..9 places, either sign */
            static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
            d = (double)(long long)(x % 2000000000000ULL) / p10[(x >> 50) % 10];
            if (x >> 63)
                d = -d;
            break;
        }
        case 2: /* any finite double */
            memcpy(&d, &x, sizeof d);
            if (!isfinite(d))
                continue;
            break;
        default: /* around the fast path's bounds */
            d = ldexp((double)(x % 1000003) / 1000003.0 + 0.5, (int)((x >> 40) % 80) - 30);
            break;
        }
        printf_shortest(d, want, sizeof want);
        rg_value v = {.type = RG_TYPE_NUMBER, .u.n = d};
        char *got = value_json(&v);
        if (strcmp(got, want) != 0)
            fail_msg("%.17g: wrote %s, printf's shortest is %s", d, got, want);
        free(got);
    }
    check_value((rg_value){.type = RG_TYPE_NUMBER, .u.n = 0.0001}, "0.0001");
    check_value((rg_value){.type = RG_TYPE_NUMBER, .u.n = 0.00001}, "1e-05");
    check_value((rg_value){.type = RG_TYPE_NUMBER, .u.n = -0.05}, "-0.05");
    check_value((rg_value){.type = RG_TYPE_NUMBER, .u.n = 999999999999999.0}, "999999999999999");
    check_value((rg_value){.type = RG_TYPE_NUMBER, .u.n = 1e15}, "1e+15");
    check_value((rg_value){.type = RG_TYPE_NUMBER, .u.n = 1234.5678}, "1234.5678");
}

/* rg_rows_append: the visible columns, in order, every type, strings longer
   than its row buffer, and many rows in one document. */
static void test_rows_append(void **state)
{
    (void)state;
    rg_field_desc fields[4] = {
        {.struct_size = sizeof(rg_field_desc), .name = "id", .type = RG_TYPE_INTEGER},
        {.struct_size = sizeof(rg_field_desc), .name = "na\"me", .type = RG_TYPE_STRING},
        {.struct_size = sizeof(rg_field_desc), .name = "price", .type = RG_TYPE_NUMBER},
        {.struct_size = sizeof(rg_field_desc), .name = "secret", .type = RG_TYPE_STRING},
    };
    rg_collection_desc coll = {.struct_size = sizeof coll, .name = "c", .fields = fields,
                               .nfields = 4};
    size_t columns[4] = {0, 1, 2, 3};
    rg_query_plan plan = {.struct_size = sizeof plan, .collection = &coll, .columns = columns,
                          .ncolumns = 4};
    const unsigned char visible[4] = {1, 1, 1, 0};
    size_t big = 100000;
    char *longs = malloc(big);
    assert_non_null(longs);
    for (size_t i = 0; i < big; i++)
        longs[i] = i % 97 == 0 ? '"' : (char)('a' + i % 26);
    struct evbuffer *b = evbuffer_new();
    assert_non_null(b);
    assert_int_equal(rg_rows_begin(b), 0);
    const size_t nrows = 300;
    for (size_t r = 0; r < nrows; r++) {
        rg_value vals[4] = {
            {.struct_size = sizeof(rg_value), .type = RG_TYPE_INTEGER, .u.i = (int64_t)r},
            {.struct_size = sizeof(rg_value), .type = RG_TYPE_STRING,
             .u.str = {longs, r % 3 == 0 ? big : r % 3 == 1 ? 5 : 0}},
            {.struct_size = sizeof(rg_value), .type = RG_TYPE_NUMBER, .u.n = (double)r / 4.0,
             .is_null = r % 5 == 0},
            {.struct_size = sizeof(rg_value), .type = RG_TYPE_STRING, .u.str = {"hidden", 6}},
        };
        assert_int_equal(rg_rows_append(b, r == 0, &plan, visible, vals), 0);
    }
    assert_int_equal(rg_rows_end(b, "cur\"sor"), 0);
    char *doc = take(b);
    assert_null(strstr(doc, "hidden"));
    assert_null(strstr(doc, "secret"));
    json_error_t je;
    json_t *j = json_loads(doc, 0, &je);
    if (!j)
        fail_msg("not JSON: %s", je.text);
    json_t *rows = json_object_get(j, "rows");
    assert_int_equal(json_array_size(rows), nrows);
    for (size_t r = 0; r < nrows; r++) {
        json_t *row = json_array_get(rows, r);
        assert_int_equal(json_object_size(row), 3);
        assert_int_equal(json_integer_value(json_object_get(row, "id")), (json_int_t)r);
        json_t *name = json_object_get(row, "na\"me");
        size_t want = r % 3 == 0 ? big : r % 3 == 1 ? 5 : 0;
        assert_int_equal(json_string_length(name), want);
        assert_memory_equal(json_string_value(name), longs, want);
        json_t *price = json_object_get(row, "price");
        if (r % 5 == 0)
            assert_true(json_is_null(price));
        else
            assert_true(json_number_value(price) == (double)r / 4.0);
    }
    assert_string_equal(json_string_value(json_object_get(j, "next_cursor")), "cur\"sor");
    json_decref(j);
    free(doc);
    evbuffer_free(b);
    free(longs);
}

/* A whole row as the query route writes it parses back with jansson. */
static void test_row_document(void **state)
{
    (void)state;
    struct evbuffer *b = evbuffer_new();
    assert_non_null(b);
    const rg_value vals[] = {
        {.type = RG_TYPE_INTEGER, .u.i = 7},
        {.type = RG_TYPE_STRING, .u.str = {"Red \"Runner\"\n\xff", 14}},
        {.type = RG_TYPE_NUMBER, .u.n = 49.5},
        {.type = RG_TYPE_BOOLEAN, .is_null = 1},
    };
    const char *names[] = {"id", "name", "price", "in_stock"};
    int rc = evbuffer_add(b, "{\"rows\":[{", 10);
    for (size_t i = 0; i < 4; i++) {
        if (i)
            rc |= evbuffer_add(b, ",", 1);
        rc |= rg_json_append_string(b, names[i], strlen(names[i]));
        rc |= evbuffer_add(b, ":", 1);
        rc |= rg_json_append_value(b, &vals[i]);
    }
    rc |= evbuffer_add(b, "}],\"next_cursor\":null}", 22);
    assert_int_equal(rc, 0);
    char *doc = take(b);
    json_error_t je;
    json_t *j = json_loads(doc, 0, &je);
    assert_non_null(j);
    json_t *row = json_array_get(json_object_get(j, "rows"), 0);
    assert_int_equal(json_integer_value(json_object_get(row, "id")), 7);
    assert_string_equal(json_string_value(json_object_get(row, "name")),
                        "Red \"Runner\"\n\xef\xbf\xbd");
    assert_true(json_real_value(json_object_get(row, "price")) == 49.5);
    assert_true(json_is_null(json_object_get(row, "in_stock")));
    assert_true(json_is_null(json_object_get(j, "next_cursor")));
    json_decref(j);
    free(doc);
    evbuffer_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping_table),    cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_long_strings),      cmocka_unit_test(test_values),
        cmocka_unit_test(test_number_round_trip), cmocka_unit_test(test_row_document),
        cmocka_unit_test(test_number_text_equals_printf), cmocka_unit_test(test_rows_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
