/*
 * The SQL adapters end to end: loads readgate-adapter-sqlite.so (and, when
 * RG_TEST_PG_DSN is set, readgate-adapter-postgres.so), loads the same 30 rows
 * (NULLs, unicode, hostile strings) into each backend and runs every operator,
 * search, sorts with NULLs, and keyset paging with limit 3, asserting the
 * exact ids. Both backends must give identical answers.
 *
 * Usage: test_sql_adapters ADAPTERS_DIR   (or env RG_ADAPTERS_DIR)
 */
#include <dlfcn.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <readgate/adapter.h>

#include "test_host.h"

/* ---- fixture ------------------------------------------------------------ */

typedef struct fixture_row {
    int64_t id;
    const char *name;
    double price;
    int price_null;
    int64_t qty;
    int qty_null;
    int active; /* -1 = NULL */
    const char *released, *updated, *tag;
} fixture_row;

static const fixture_row fixture[] = {
    {1, "Red Sneaker", 49.99, 0, 5, 0, 1, "2024-01-10", "2024-01-10T08:00:00Z", "sale"},
    {2, "Blue Sneaker", 59.5, 0, 0, 0, 1, "2024-02-01", "2024-02-01T12:30:00Z", "new"},
    {3, "red boot", 120.0, 0, 2, 0, 0, "2023-11-20", "2023-11-20T00:00:00Z", "Winter"},
    {4, "Green Jacket", 0, 1, 0, 1, -1, NULL, NULL, NULL},
    {5, "\303\234n\303\257code Shoe", 30.0, 0, 1, 0, 1, "2024-03-03", "2024-03-03T23:59:59Z", "unicode"},
    {6, "\303\211mile's Bag", 75.0, 0, 3, 0, 0, "2022-06-15", "2022-06-15T06:00:00Z", NULL},
    {7, "' OR 1=1 --", 10.0, 0, 1, 0, 1, "2024-01-01", "2024-01-01T00:00:00Z", "x' OR 'a'='a"},
    {8, "100% Cotton Tee", 15.0, 0, 10, 0, 1, "2023-05-05", "2023-05-05T05:05:05Z", "cotton"},
    {9, "under_score hat", 20.0, 0, 4, 0, 0, "2023-07-07", NULL, "summer"},
    {10, "back\\slash belt", 25.0, 0, 2, 0, 1, "2023-08-08", "2023-08-08T08:08:08Z", "a\\b"},
    {11, "quote \"dbl\" scarf", 35.0, 0, 6, 0, 1, "2023-09-09", "2023-09-09T09:09:09Z", "winter"},
    {12, NULL, 40.0, 0, 7, 0, 0, "2023-10-10", "2023-10-10T10:10:10Z", "red"},
    {13, "REDWOOD Sandal", 45.0, 0, 8, 0, 1, "2024-04-04", "2024-04-04T04:04:04Z", "Summer"},
    {14, "zebra sock", 5.0, 0, 20, 0, 1, "2021-01-01", "2021-01-01T00:00:01Z", NULL},
    {15, "Apple", 0, 1, 1, 0, 1, "2024-05-05", "2024-05-05T05:05:05Z", "fruit"},
    {16, "apple", 12.5, 0, 1, 0, 0, "2024-05-05", "2024-05-05T05:05:05Z", "FRUIT"},
    {17, "Zed", 99.99, 0, 0, 0, 1, "2020-02-29", "2020-02-29T12:00:00Z", "last"},
    {18, "\346\227\245\346\234\254\350\252\236 \343\203\220\343\203\203\343\202\260", 88.0, 0, 2, 0, 1, "2024-06-01", "2024-06-01T00:00:00Z", "bag"},
    {19, "emoji \360\237\221\237 runner", 65.0, 0, 3, 0, 1, "2024-06-02", "2024-06-02T00:00:00Z", "sneaker"},
    {20, "Red Sneaker", 49.99, 0, 5, 0, 0, "2024-01-10", "2024-01-10T08:00:00Z", "SALE"},
    {21, "%", 1.0, 0, 1, 0, 1, "2024-07-01", "2024-07-01T00:00:00Z", "%"},
    {22, "_", 2.0, 0, 1, 0, 1, "2024-07-02", "2024-07-02T00:00:00Z", "_"},
    {23, "\\", 3.0, 0, 1, 0, 1, "2024-07-03", "2024-07-03T00:00:00Z", "\\"},
    {24, "a%b", 4.0, 0, 0, 1, 1, "2024-07-04", NULL, NULL},
    {25, "a_b", 0, 1, 0, 1, 0, "2024-07-05", NULL, NULL},
    {26, "A\\B", 6.0, 0, 1, 0, -1, "2024-07-06", NULL, NULL},
    {27, "", 7.0, 0, 1, 0, 1, "2024-07-07", "2024-07-07T07:07:07Z", ""},
    {28, "Sneaker Red", 49.99, 0, 2, 0, 1, "2024-01-11", "2024-01-11T00:00:00.5Z", "sale"},
    {29, "red sneakers XL", 55.0, 0, 1, 0, 1, "2024-01-12", "2024-01-12T00:00:00Z", NULL},
    {30, "null", 0, 1, 0, 1, -1, NULL, NULL, "NULL"},
};
#define NROWS (sizeof fixture / sizeof fixture[0])

enum { F_ID, F_NAME, F_PRICE, F_QTY, F_ACTIVE, F_RELEASED, F_UPDATED, F_TAG, NFIELDS };

/* The tag column's name is hostile on purpose: quoting must hold. */
static const rg_field_desc fields[NFIELDS] = {
    FIELD("id", "id", RG_TYPE_INTEGER),
    FIELD("name", "name", RG_TYPE_STRING),
    FIELD("price", "price", RG_TYPE_NUMBER),
    FIELD("qty", "qty", RG_TYPE_INTEGER),
    FIELD("active", "active", RG_TYPE_BOOLEAN),
    FIELD("released", "released", RG_TYPE_DATE),
    FIELD("updated", "updated", RG_TYPE_DATETIME),
    FIELD("tag", "tag \"x\"; --", RG_TYPE_STRING),
};
static const size_t all_columns[NFIELDS] = {0, 1, 2, 3, 4, 5, 6, 7};

/* ---- cases: expected ids computed independently from the fixture -------- */

#define S(x) {.struct_size = sizeof(rg_value), .type = RG_TYPE_STRING, .u.str = {x, sizeof(x) - 1}}
#define DT(t, x) {.struct_size = sizeof(rg_value), .type = t, .u.str = {x, sizeof(x) - 1}}
#define I(x) {.struct_size = sizeof(rg_value), .type = RG_TYPE_INTEGER, .u.i = (x)}
#define N(x) {.struct_size = sizeof(rg_value), .type = RG_TYPE_NUMBER, .u.n = (x)}
#define B(x) {.struct_size = sizeof(rg_value), .type = RG_TYPE_BOOLEAN, .u.b = (x)}
#define F1(f, op, v) {sizeof(rg_filter), f, op, (const rg_value[]){v}, 1}
#define FN(f, op, n, ...) {sizeof(rg_filter), f, op, (const rg_value[]){__VA_ARGS__}, n}

typedef struct tcase {
    const char *name;
    rg_filter filters[2];
    size_t nfilters;
    const char *search;
    rg_sort_key sort[2]; /* the key (id ascending) is appended */
    size_t nsort;
    size_t limit;        /* 0: all, and page through with limit 3 */
    const char *expect;
} tcase;

static const tcase cases[] = {
    {"all by id", .expect = "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30"},
    {"eq string", {F1(F_NAME, RG_OP_EQ, S("Red Sneaker"))}, 1, .expect = "1,20"},
    {"eq hostile string", {F1(F_NAME, RG_OP_EQ, S("' OR 1=1 --"))}, 1, .expect = "7"},
    {"eq empty string", {F1(F_NAME, RG_OP_EQ, S(""))}, 1, .expect = "27"},
    {"eq unicode", {F1(F_NAME, RG_OP_EQ, S("\303\234n\303\257code Shoe"))}, 1, .expect = "5"},
    {"ne integer", {F1(F_QTY, RG_OP_NE, I(1))}, 1, .expect = "1,2,3,6,8,9,10,11,12,13,14,17,18,19,20,28"},
    {"ne boolean", {F1(F_ACTIVE, RG_OP_NE, B(1))}, 1, .expect = "3,6,9,12,16,20,25"},
    {"eq boolean", {F1(F_ACTIVE, RG_OP_EQ, B(0))}, 1, .expect = "3,6,9,12,16,20,25"},
    {"lt number", {F1(F_PRICE, RG_OP_LT, N(10.0))}, 1, .expect = "14,21,22,23,24,26,27"},
    {"lte number", {F1(F_PRICE, RG_OP_LTE, N(10.0))}, 1, .expect = "7,14,21,22,23,24,26,27"},
    {"gt number", {F1(F_PRICE, RG_OP_GT, N(88.0))}, 1, .expect = "3,17"},
    {"gte number", {F1(F_PRICE, RG_OP_GTE, N(88.0))}, 1, .expect = "3,17,18"},
    {"eq number", {F1(F_PRICE, RG_OP_EQ, N(49.99))}, 1, .expect = "1,20,28"},
    {"lt string C order", {F1(F_NAME, RG_OP_LT, S("Zed"))}, 1, .expect = "1,2,4,7,8,13,15,20,21,26,27,28"},
    {"gte string C order", {F1(F_NAME, RG_OP_GTE, S("a"))}, 1, .expect = "3,5,6,9,10,11,14,16,18,19,24,25,29,30"},
    {"in integer", {FN(F_ID, RG_OP_IN, 4, I(3), I(7), I(99), I(23))}, 1, .expect = "3,7,23"},
    {"in string", {FN(F_TAG, RG_OP_IN, 4, S("sale"), S("%"), S("winter"), S("nope"))}, 1, .expect = "1,11,21,28"},
    {"between number", {FN(F_PRICE, RG_OP_BETWEEN, 2, N(10.0), N(20.0))}, 1, .expect = "7,8,9,16"},
    {"between date", {FN(F_RELEASED, RG_OP_BETWEEN, 2, DT(RG_TYPE_DATE, "2024-01-01"), DT(RG_TYPE_DATE, "2024-02-01"))}, 1, .expect = "1,2,7,20,28,29"},
    {"gt datetime", {F1(F_UPDATED, RG_OP_GT, DT(RG_TYPE_DATETIME, "2024-06-01T00:00:00Z"))}, 1, .expect = "19,21,22,23,27"},
    {"lt date", {F1(F_RELEASED, RG_OP_LT, DT(RG_TYPE_DATE, "2023-01-01"))}, 1, .expect = "6,14,17"},
    {"prefix ci", {F1(F_NAME, RG_OP_PREFIX, S("RED"))}, 1, .expect = "1,3,13,20,29"},
    {"prefix percent", {F1(F_NAME, RG_OP_PREFIX, S("a%"))}, 1, .expect = "24"},
    {"prefix underscore", {F1(F_NAME, RG_OP_PREFIX, S("a_"))}, 1, .expect = "25"},
    {"prefix backslash", {F1(F_NAME, RG_OP_PREFIX, S("A\\"))}, 1, .expect = "26"},
    {"contains percent", {F1(F_NAME, RG_OP_CONTAINS, S("%"))}, 1, .expect = "8,21,24"},
    {"contains underscore", {F1(F_NAME, RG_OP_CONTAINS, S("_"))}, 1, .expect = "9,22,25"},
    {"contains backslash", {F1(F_NAME, RG_OP_CONTAINS, S("\\"))}, 1, .expect = "10,23,26"},
    {"contains quote", {F1(F_NAME, RG_OP_CONTAINS, S("\"dbl\""))}, 1, .expect = "11"},
    {"contains injection", {F1(F_TAG, RG_OP_CONTAINS, S("' OR '"))}, 1, .expect = "7"},
    {"contains unicode", {F1(F_NAME, RG_OP_CONTAINS, S("\346\234\254\350\252\236"))}, 1, .expect = "18"},
    {"contains emoji", {F1(F_NAME, RG_OP_CONTAINS, S("\360\237\221\237"))}, 1, .expect = "19"},
    {"two filters", {F1(F_PRICE, RG_OP_LTE, N(50.0)), F1(F_ACTIVE, RG_OP_EQ, B(1))}, 2, .expect = "1,5,7,8,10,11,13,14,21,22,23,24,27,28"},
    {"search two words", .search = "red SNEAK", .expect = "1,20,28,29"},
    {"search field mix", .search = "sale red", .expect = "1,20,28"},
    {"search wildcard literal", .search = "% COTTON", .expect = "8"},
    {"search underscore", .search = "_", .expect = "9,22,25"},
    {"search quote", .search = "' or", .expect = "7"},
    {"search backslash", .search = "\\", .expect = "10,23,26"},
    {"search no match", .search = "nothing-here", .expect = ""},
    {"sort name asc", .sort = {SORT(F_NAME, 0)}, .nsort = 1, .expect = "27,21,7,8,26,15,2,4,13,1,20,28,17,23,22,24,25,16,10,19,30,11,3,29,9,14,6,5,18,12"},
    {"sort name desc", .sort = {SORT(F_NAME, 1)}, .nsort = 1, .expect = "12,18,5,6,14,9,29,3,11,30,19,10,16,25,24,22,23,17,28,1,20,13,4,2,15,26,8,7,21,27"},
    {"sort price asc", .sort = {SORT(F_PRICE, 0)}, .nsort = 1, .expect = "21,22,23,24,14,26,27,7,16,8,9,10,5,11,12,13,1,20,28,29,2,19,6,18,17,3,4,15,25,30"},
    {"sort price desc", .sort = {SORT(F_PRICE, 1)}, .nsort = 1, .expect = "4,15,25,30,3,17,18,6,19,2,29,1,20,28,13,12,11,5,10,9,8,16,7,27,26,14,24,23,22,21"},
    {"sort qty desc price asc", .sort = {SORT(F_QTY, 1), SORT(F_PRICE, 0)}, .nsort = 2, .expect = "24,4,25,30,14,8,13,12,11,1,20,9,19,6,10,28,18,3,21,22,23,26,27,7,16,5,29,15,2,17"},
    {"sort active updated desc", .sort = {SORT(F_ACTIVE, 0), SORT(F_UPDATED, 1)}, .nsort = 2, .expect = "9,25,16,20,3,12,6,24,27,23,22,21,19,18,15,13,5,2,29,28,1,7,11,10,8,14,17,4,26,30"},
    {"sort tag desc name asc filtered", {F1(F_ID, RG_OP_LTE, I(20))}, 1, .sort = {SORT(F_TAG, 1), SORT(F_NAME, 0)}, .nsort = 2, .expect = "4,14,6,7,11,5,9,19,1,12,2,17,15,8,18,10,3,13,20,16"},
    {"limit 4 by released", .sort = {SORT(F_RELEASED, 1)}, .nsort = 1, .limit = 4, .expect = "4,30,27,26"},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* ---- host and sink -------------------------------------------------------- */

#define MAX_ROWS 64

/* Deep copies of every row the adapter returned. */
typedef struct collected {
    rg_value rows[MAX_ROWS][NFIELDS];
    size_t nrows;
    int stop_after; /* ask the adapter to stop after this many rows (0: never) */
    int overflow;
} collected;

static int collect_row(void *ctx, const rg_value *row, size_t n)
{
    collected *c = ctx;
    rg_value v[NFIELDS];
    if (n != NFIELDS || c->nrows == MAX_ROWS || rg_test_row(row, n, v, NFIELDS) != 0) {
        c->overflow = 1;
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        rg_value *d = &c->rows[c->nrows][i];
        *d = v[i];
        if (!v[i].is_null && v[i].type != RG_TYPE_INTEGER && v[i].type != RG_TYPE_NUMBER &&
            v[i].type != RG_TYPE_BOOLEAN) {
            char *s = malloc(v[i].u.str.len + 1);
            assert_non_null(s);
            memcpy(s, v[i].u.str.ptr, v[i].u.str.len);
            s[v[i].u.str.len] = '\0';
            d->u.str.ptr = s;
        }
    }
    c->nrows++;
    return c->stop_after && (int)c->nrows >= c->stop_after;
}

static void collected_reset(collected *c)
{
    for (size_t r = 0; r < c->nrows; r++)
        for (size_t i = 0; i < NFIELDS; i++)
            if (!c->rows[r][i].is_null && c->rows[r][i].type != RG_TYPE_INTEGER &&
                c->rows[r][i].type != RG_TYPE_NUMBER && c->rows[r][i].type != RG_TYPE_BOOLEAN)
                free((char *)c->rows[r][i].u.str.ptr);
    memset(c, 0, sizeof *c);
}

/* ---- backends --------------------------------------------------------------- */

typedef struct backend {
    const char *label;
    void *dl;
    const rg_adapter *ad;
    void *conn;
    rg_collection_desc coll;
    const char *slow_target; /* a view that takes seconds to read */
    char dir[256];
} backend;

static const char *adapters_dir;

static const rg_adapter *load_adapter(backend *b, const char *name)
{
    return rg_test_load_adapter(adapters_dir, name, &b->dl);
}

static rg_status run(backend *b, const rg_collection_desc *coll, const rg_filter *filters,
                     size_t nfilters, const char *search, const rg_sort_key *sort, size_t nsort,
                     const rg_value *after, size_t limit, uint32_t timeout_ms, collected *out,
                     rg_error *err)
{
    static const size_t search_fields[] = {F_NAME, F_TAG};
    const char *words[8];
    char buf[256];
    size_t nwords = 0;
    if (search) {
        snprintf(buf, sizeof buf, "%s", search);
        for (char *save = NULL, *w = strtok_r(buf, " ", &save); w && nwords < 8;
             w = strtok_r(NULL, " ", &save))
            words[nwords++] = w;
    }
    rg_query_plan p = {
        .struct_size = sizeof p,
        .collection = coll,
        .filters = filters,
        .nfilters = nfilters,
        .search_words = words,
        .nsearch_words = nwords,
        .search_fields = search_fields,
        .nsearch_fields = 2,
        .sort = sort,
        .nsort = nsort,
        .after = after,
        .columns = all_columns,
        .ncolumns = coll->nfields < NFIELDS ? coll->nfields : NFIELDS,
        .limit = limit,
        .timeout_ms = timeout_ms,
    };
    rg_row_sink sink = {sizeof(rg_row_sink), collect_row, out};
    memset(err, 0, sizeof *err);
    err->struct_size = sizeof *err;
    return b->ad->query(b->conn, &p, &sink, err);
}

static void ids_of(const collected *c, char *out, size_t outsz, size_t *used)
{
    for (size_t r = 0; r < c->nrows; r++) {
        int n = snprintf(out + *used, outsz - *used, "%s%lld", *used ? "," : "",
                         (long long)c->rows[r][F_ID].u.i);
        assert_true(n > 0 && (size_t)n < outsz - *used);
        *used += (size_t)n;
    }
}

/* Every case: the whole answer, then the same answer page by page. */
static void test_cases(void **state)
{
    backend *b = *state;
    int failures = 0;
    for (size_t ci = 0; ci < NCASES; ci++) {
        const tcase *tc = &cases[ci];
        rg_sort_key sort[3];
        memcpy(sort, tc->sort, tc->nsort * sizeof *sort);
        sort[tc->nsort] = (rg_sort_key)SORT(F_ID, 0);
        size_t nsort = tc->nsort + 1;

        collected c = {0};
        rg_error err;
        rg_status st = run(b, &b->coll, tc->filters, tc->nfilters, tc->search, sort, nsort, NULL,
                           tc->limit ? tc->limit : 1000, 5000, &c, &err);
        char got[512] = "";
        size_t used = 0;
        ids_of(&c, got, sizeof got, &used);
        collected_reset(&c);
        if (st != RG_OK || strcmp(got, tc->expect) != 0) {
            print_message("%s: case '%s': status %d (%s)\n  got:    %s\n  expect: %s\n", b->label,
                          tc->name, st, err.message, got, tc->expect);
            failures++;
            continue;
        }
        if (tc->limit)
            continue;

        /* Keyset paging, 3 rows a page, from the previous page's last row. */
        char paged[512] = "";
        size_t pused = 0;
        rg_value after[3];
        collected page = {0}, last = {0};
        int have_after = 0;
        for (int guard = 0; guard < 20; guard++) {
            st = run(b, &b->coll, tc->filters, tc->nfilters, tc->search, sort, nsort,
                     have_after ? after : NULL, 3, 5000, &page, &err);
            if (st != RG_OK)
                break;
            ids_of(&page, paged, sizeof paged, &pused);
            size_t n = page.nrows;
            if (n) {
                collected_reset(&last);
                last = page; /* takes ownership of the copies */
                memset(&page, 0, sizeof page);
                for (size_t k = 0; k < nsort; k++)
                    after[k] = last.rows[last.nrows - 1][sort[k].field];
                have_after = 1;
            }
            collected_reset(&page);
            if (n < 3)
                break;
        }
        collected_reset(&last);
        if (st != RG_OK || strcmp(paged, tc->expect) != 0) {
            print_message("%s: case '%s' paged by 3: status %d (%s)\n  got:    %s\n  expect: %s\n",
                          b->label, tc->name, st, err.message, paged, tc->expect);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* Values come back typed, NULLs as NULLs, strings byte for byte. */
static void test_values(void **state)
{
    backend *b = *state;
    rg_filter f = FN(F_ID, RG_OP_IN, 4, I(28), I(4), I(5), I(1));
    rg_sort_key sort[] = {SORT(F_ID, 0)};
    collected c = {0};
    rg_error err;
    assert_int_equal(run(b, &b->coll, &f, 1, NULL, sort, 1, NULL, 10, 5000, &c, &err), RG_OK);
    assert_int_equal(c.nrows, 4);
    rg_value *r1 = c.rows[0], *r4 = c.rows[1], *r5 = c.rows[2], *r28 = c.rows[3];
    assert_string_equal(r1[F_NAME].u.str.ptr, "Red Sneaker");
    assert_int_equal(r1[F_NAME].u.str.len, 11);
    assert_int_equal(r1[F_PRICE].type, RG_TYPE_NUMBER);
    assert_true(r1[F_PRICE].u.n == 49.99);
    assert_int_equal(r1[F_QTY].u.i, 5);
    assert_int_equal(r1[F_ACTIVE].type, RG_TYPE_BOOLEAN);
    assert_int_equal(r1[F_ACTIVE].u.b, 1);
    assert_string_equal(r1[F_RELEASED].u.str.ptr, "2024-01-10");
    assert_string_equal(r1[F_UPDATED].u.str.ptr, "2024-01-10T08:00:00Z");
    assert_string_equal(r1[F_TAG].u.str.ptr, "sale");
    for (int i = F_PRICE; i < NFIELDS; i++) {
        assert_true(r4[i].is_null);
        assert_int_equal(r4[i].type, fields[i].type);
    }
    assert_false(r4[F_NAME].is_null);
    assert_string_equal(r5[F_NAME].u.str.ptr, "\303\234n\303\257code Shoe");
    assert_string_equal(r28[F_UPDATED].u.str.ptr, "2024-01-11T00:00:00.500000Z");
    collected_reset(&c);
}

/* A sink that says stop ends the query at once with RG_ERR_ABORTED. */
static void test_sink_abort(void **state)
{
    backend *b = *state;
    rg_sort_key sort[] = {SORT(F_ID, 0)};
    collected c = {.stop_after = 2};
    rg_error err;
    assert_int_equal(run(b, &b->coll, NULL, 0, NULL, sort, 1, NULL, 100, 5000, &c, &err),
                     RG_ERR_ABORTED);
    assert_int_equal(c.nrows, 2);
    collected_reset(&c);
    /* The connection is still good. */
    assert_int_equal(b->ad->ping(b->conn, &err), RG_OK);
    assert_int_equal(run(b, &b->coll, NULL, 0, NULL, sort, 1, NULL, 5, 5000, &c, &err), RG_OK);
    assert_int_equal(c.nrows, 5);
    collected_reset(&c);
}

/* A missing table is an upstream error; a slow read is a timeout; the
   connection survives both. */
static void test_errors_and_timeout(void **state)
{
    backend *b = *state;
    rg_sort_key sort[] = {SORT(F_ID, 0)};
    collected c = {0};
    rg_error err;
    rg_collection_desc missing = b->coll;
    missing.target = "no_such_table";
    assert_int_equal(run(b, &missing, NULL, 0, NULL, sort, 1, NULL, 5, 5000, &c, &err),
                     RG_ERR_UPSTREAM);
    assert_int_equal(err.status, RG_ERR_UPSTREAM);
    assert_non_null(strstr(err.message, "no_such_table"));

    rg_collection_desc slow = b->coll;
    slow.target = b->slow_target;
    slow.nfields = 1;
    rg_filter none = F1(F_ID, RG_OP_EQ, I(-1));
    assert_int_equal(run(b, &slow, &none, 1, NULL, sort, 1, NULL, 5, 200, &c, &err),
                     RG_ERR_TIMEOUT);
    assert_int_equal(err.status, RG_ERR_TIMEOUT);
    assert_int_equal(c.nrows, 0);

    assert_int_equal(b->ad->ping(b->conn, &err), RG_OK);
    assert_int_equal(run(b, &b->coll, NULL, 0, NULL, sort, 1, NULL, 2, 5000, &c, &err), RG_OK);
    assert_int_equal(c.nrows, 2);
    collected_reset(&c);
}

/* ---- sqlite ---------------------------------------------------------------- */

static void exec_sqlite(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("sqlite: %s: %s", sql, msg);
}

static int sqlite_setup(void **state)
{
    static backend b;
    memset(&b, 0, sizeof b);
    b.label = "sqlite";
    snprintf(b.dir, sizeof b.dir, "/tmp/rg-sqltest.XXXXXX");
    if (!mkdtemp(b.dir))
        return -1;
    char path[300];
    snprintf(path, sizeof path, "%s/items.db", b.dir);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return -1;
    exec_sqlite(db, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL, qty "
                    "INTEGER, active INTEGER, released TEXT, updated TEXT, \"tag \"\"x\"\"; --\" "
                    "TEXT)");
    exec_sqlite(db, "CREATE VIEW slow AS WITH RECURSIVE c(id) AS (SELECT 1 UNION ALL SELECT id "
                    "+ 1 FROM c LIMIT 2000000000) SELECT id FROM c");
    sqlite3_stmt *ins;
    if (sqlite3_prepare_v2(db, "INSERT INTO items VALUES (?,?,?,?,?,?,?,?)", -1, &ins, NULL))
        return -1;
    for (size_t i = 0; i < NROWS; i++) {
        const fixture_row *r = &fixture[i];
        sqlite3_bind_int64(ins, 1, r->id);
        r->name ? sqlite3_bind_text(ins, 2, r->name, -1, SQLITE_STATIC) : sqlite3_bind_null(ins, 2);
        r->price_null ? sqlite3_bind_null(ins, 3) : sqlite3_bind_double(ins, 3, r->price);
        r->qty_null ? sqlite3_bind_null(ins, 4) : sqlite3_bind_int64(ins, 4, r->qty);
        r->active < 0 ? sqlite3_bind_null(ins, 5) : sqlite3_bind_int(ins, 5, r->active);
        const char *t[] = {r->released, r->updated, r->tag};
        for (int k = 0; k < 3; k++)
            t[k] ? sqlite3_bind_text(ins, 6 + k, t[k], -1, SQLITE_STATIC) : sqlite3_bind_null(ins, 6 + k);
        if (sqlite3_step(ins) != SQLITE_DONE)
            return -1;
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    sqlite3_close(db);

    b.ad = load_adapter(&b, "sqlite");
    if (!b.ad)
        return -1;
    /* A relative path resolves against base_dir (the site file's directory). */
    rg_option opts[] = {OPT("path", "items.db")};
    rg_source_info src = {.struct_size = sizeof src, .site_id = "test0001", .source_name = "t",
                          .options = opts, .noptions = 1, .connect_timeout_ms = 1000,
                          .base_dir = b.dir};
    rg_error err = {.struct_size = sizeof(rg_error)};
    if (b.ad->connect(&src, &b.conn, &err) != RG_OK) {
        fprintf(stderr, "sqlite connect: %s\n", err.message);
        return -1;
    }
    b.coll = (rg_collection_desc){.struct_size = sizeof(rg_collection_desc), .name = "items",
                                  .target = "items", .fields = fields, .nfields = NFIELDS,
                                  .key_field = F_ID};
    b.slow_target = "slow";
    *state = &b;
    return 0;
}

static int sqlite_teardown(void **state)
{
    backend *b = *state;
    if (!b) /* the setup failed and said why */
        return 0;
    b->ad->disconnect(b->conn);
    char path[300];
    snprintf(path, sizeof path, "%s/items.db", b->dir);
    unlink(path);
    rmdir(b->dir);
    dlclose(b->dl);
    return 0;
}

/* Options and connection failures are reported, not crashed on. */
static void test_sqlite_options(void **state)
{
    backend *b = *state;
    rg_error err = {.struct_size = sizeof(rg_error)};
    rg_option bad[] = {OPT("path", "x.db"), OPT("dsn", "nope")};
    rg_source_info src = {.struct_size = sizeof src, .options = bad, .noptions = 2,
                          .base_dir = b->dir};
    assert_int_equal(b->ad->check_options(&src, &err), RG_ERR_CONFIG);
    assert_non_null(strstr(err.message, "'dsn'"));
    src.noptions = 0;
    assert_int_equal(b->ad->check_options(&src, &err), RG_ERR_CONFIG);
    assert_non_null(strstr(err.message, "path"));

    rg_option missing[] = {OPT("path", "does-not-exist.db")};
    src.options = missing;
    src.noptions = 1;
    void *conn = (void *)1;
    assert_int_equal(b->ad->connect(&src, &conn, &err), RG_ERR_UNAVAILABLE);
    assert_null(conn);
    assert_non_null(strstr(err.message, "does-not-exist.db"));
}

/* ---- postgres --------------------------------------------------------------- */

static void exec_pg(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("postgres: %s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
}

static int pg_setup(void **state)
{
    static backend b;
    memset(&b, 0, sizeof b);
    b.label = "postgres";
    const char *dsn = getenv("RG_TEST_PG_DSN");
    PGconn *pg = PQconnectdb(dsn);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "postgres: %s\n", PQerrorMessage(pg));
        PQfinish(pg);
        return -1;
    }
    exec_pg(pg, "SET client_min_messages = warning");
    exec_pg(pg, "DROP SCHEMA IF EXISTS rgtest CASCADE");
    exec_pg(pg, "CREATE SCHEMA rgtest");
    /* A linguistic collation on the name column, when the server has ICU,
       proves the adapter orders by byte order regardless. */
    PGresult *r = PQexec(pg, "SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'");
    int icu = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    char create[512];
    snprintf(create, sizeof create,
             "CREATE TABLE rgtest.items (id bigint PRIMARY KEY, name text%s, price double "
             "precision, qty integer, active boolean, released date, updated timestamptz, "
             "\"tag \"\"x\"\"; --\" text)",
             icu ? " COLLATE \"und-x-icu\"" : "");
    exec_pg(pg, create);
    /* PL/pgSQL is opaque to the planner, so a filter cannot skip the sleep. */
    exec_pg(pg, "CREATE FUNCTION rgtest.slow_rows() RETURNS SETOF bigint LANGUAGE plpgsql AS "
                "$$ BEGIN PERFORM pg_sleep(5); RETURN NEXT 1; END $$");
    exec_pg(pg, "CREATE VIEW rgtest.slow AS SELECT id FROM rgtest.slow_rows() AS id");
    /* A view whose rows come from a function that writes: the read-only
       transaction every query runs in must refuse it. */
    exec_pg(pg, "CREATE TABLE rgtest.written (id bigint)");
    exec_pg(pg, "CREATE FUNCTION rgtest.write_row(i bigint) RETURNS bigint LANGUAGE plpgsql "
                "VOLATILE AS $$ BEGIN INSERT INTO rgtest.written VALUES (i); RETURN i; END $$");
    exec_pg(pg, "CREATE VIEW rgtest.writing AS SELECT rgtest.write_row(g) AS id "
                "FROM generate_series(1, 3) AS g");
    /* The reading session's own view of its planning, in the columns of
       rgtest.items: id = how many of its prepared statements have run with
       a generic plan, name = its plan_cache_mode. */
    exec_pg(pg, "CREATE VIEW rgtest.session_plans AS SELECT (SELECT count(*) FROM "
                "pg_prepared_statements WHERE generic_plans > 0) AS id, "
                "current_setting('plan_cache_mode') AS name, price, qty, active, released, "
                "updated, \"tag \"\"x\"\"; --\" FROM rgtest.items WHERE id = 1");
    for (size_t i = 0; i < NROWS; i++) {
        const fixture_row *rw = &fixture[i];
        char id[32], price[64], qty[32];
        snprintf(id, sizeof id, "%lld", (long long)rw->id);
        snprintf(price, sizeof price, "%.17g", rw->price);
        snprintf(qty, sizeof qty, "%lld", (long long)rw->qty);
        const char *vals[8] = {id, rw->name, rw->price_null ? NULL : price,
                               rw->qty_null ? NULL : qty,
                               rw->active < 0 ? NULL : (rw->active ? "t" : "f"),
                               rw->released, rw->updated, rw->tag};
        r = PQexecParams(pg, "INSERT INTO rgtest.items VALUES ($1,$2,$3,$4,$5,$6,$7,$8)", 8,
                         NULL, vals, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "insert: %s\n", PQerrorMessage(pg));
            PQclear(r);
            PQfinish(pg);
            return -1;
        }
        PQclear(r);
    }
    PQfinish(pg);

    b.ad = load_adapter(&b, "postgres");
    if (!b.ad)
        return -1;
    rg_option opts[] = {OPT("dsn", dsn), OPT("application_name", "readgate-test")};
    rg_source_info src = {.struct_size = sizeof src, .site_id = "test0001", .source_name = "pg",
                          .options = opts, .noptions = 2, .connect_timeout_ms = 2000,
                          .base_dir = "."};
    rg_error err = {.struct_size = sizeof(rg_error)};
    if (b.ad->connect(&src, &b.conn, &err) != RG_OK) {
        fprintf(stderr, "postgres connect: %s\n", err.message);
        return -1;
    }
    b.coll = (rg_collection_desc){.struct_size = sizeof(rg_collection_desc), .name = "items",
                                  .target = "rgtest.items", .fields = fields,
                                  .nfields = NFIELDS, .key_field = F_ID};
    b.slow_target = "rgtest.slow";
    *state = &b;
    return 0;
}

static int pg_teardown(void **state)
{
    backend *b = *state;
    b->ad->disconnect(b->conn);
    dlclose(b->dl);
    return 0;
}

static void test_pg_options_and_outage(void **state)
{
    backend *b = *state;
    rg_error err = {.struct_size = sizeof(rg_error)};
    rg_option bad[] = {OPT("dsn", "host=x"), OPT("statement_timeout_ms", "-5")};
    rg_source_info src = {.struct_size = sizeof src, .options = bad, .noptions = 2,
                          .connect_timeout_ms = 1000};
    assert_int_equal(b->ad->check_options(&src, &err), RG_ERR_CONFIG);
    assert_non_null(strstr(err.message, "statement_timeout_ms"));
    rg_option unknown[] = {OPT("dsn", "host=x"), OPT("path", "a")};
    src.options = unknown;
    assert_int_equal(b->ad->check_options(&src, &err), RG_ERR_CONFIG);
    assert_non_null(strstr(err.message, "'path'"));

    /* Nothing listens on port 1: unavailable, quickly. */
    rg_option down[] = {OPT("dsn", "host=127.0.0.1 port=1 dbname=x user=x")};
    src.options = down;
    src.noptions = 1;
    void *conn = NULL;
    assert_int_equal(b->ad->connect(&src, &conn, &err), RG_ERR_UNAVAILABLE);
    assert_null(conn);

    /* statement_timeout_ms caps a larger per-query budget. */
    rg_option capped[] = {OPT("dsn", getenv("RG_TEST_PG_DSN")),
                          OPT("statement_timeout_ms", "150")};
    src.options = capped;
    src.noptions = 2;
    assert_int_equal(b->ad->connect(&src, &conn, &err), RG_OK);
    backend tmp = *b;
    tmp.conn = conn;
    rg_collection_desc slow = b->coll;
    slow.target = b->slow_target;
    slow.nfields = 1;
    rg_sort_key sort[] = {SORT(F_ID, 0)};
    collected c = {0};
    assert_int_equal(run(&tmp, &slow, NULL, 0, NULL, sort, 1, NULL, 5, 60000, &c, &err),
                     RG_ERR_TIMEOUT);
    b->ad->disconnect(conn);

    /* A server-side disconnect is reported as unavailable (the gateway then
       reconnects), and a new connection works. */
    rg_option killable[] = {OPT("dsn", getenv("RG_TEST_PG_DSN")),
                            OPT("application_name", "readgate-test-kill")};
    src.options = killable;
    assert_int_equal(b->ad->connect(&src, &conn, &err), RG_OK);
    tmp.conn = conn;
    assert_int_equal(b->ad->ping(conn, &err), RG_OK);
    PGconn *admin = PQconnectdb(getenv("RG_TEST_PG_DSN"));
    assert_int_equal(PQstatus(admin), CONNECTION_OK);
    PGresult *r = PQexec(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE application_name = 'readgate-test-kill'");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 1);
    PQclear(r);
    PQfinish(admin);
    assert_int_equal(run(&tmp, &b->coll, NULL, 0, NULL, sort, 1, NULL, 5, 5000, &c, &err),
                     RG_ERR_UNAVAILABLE);
    collected_reset(&c);
    b->ad->disconnect(conn);
    assert_int_equal(b->ad->connect(&src, &conn, &err), RG_OK);
    tmp.conn = conn;
    assert_int_equal(run(&tmp, &b->coll, NULL, 0, NULL, sort, 1, NULL, 5, 5000, &c, &err),
                     RG_OK);
    assert_int_equal(c.nrows, 5);
    collected_reset(&c);
    b->ad->disconnect(conn);
}

/* Nothing written, ever: a SELECT that would write is refused by the
   read-only transaction (SQLSTATE 25006), and the table stays empty. */
/* The view that writes never wrote: rgtest.written is still empty. */
static void assert_nothing_written(void)
{
    PGconn *pg = PQconnectdb(getenv("RG_TEST_PG_DSN"));
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    PGresult *r = PQexec(pg, "SELECT count(*) FROM rgtest.written");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
    PQfinish(pg);
}

static void test_pg_write_refused(void **state)
{
    backend *b = *state;
    rg_collection_desc writing = b->coll;
    writing.target = "rgtest.writing";
    writing.nfields = 1;
    rg_sort_key sort[] = {SORT(F_ID, 0)};
    collected c = {0};
    rg_error err;
    assert_int_equal(run(b, &writing, NULL, 0, NULL, sort, 1, NULL, 5, 5000, &c, &err),
                     RG_ERR_UPSTREAM);
    assert_non_null(strstr(err.message, "25006"));
    collected_reset(&c);
    assert_nothing_written();
    /* The connection goes on serving reads. */
    assert_int_equal(run(b, &b->coll, NULL, 0, NULL, sort, 1, NULL, 2, 5000, &c, &err), RG_OK);
    assert_int_equal(c.nrows, 2);
    collected_reset(&c);
}

/* The last statement a backend of this application ran (pg_stat_activity). */
static char *last_statement(const char *application_name)
{
    PGconn *pg = PQconnectdb(getenv("RG_TEST_PG_DSN"));
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    const char *p[1] = {application_name};
    PGresult *r = PQexecParams(pg, "SELECT query FROM pg_stat_activity WHERE application_name = $1",
                               1, NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 1);
    char *q = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(pg);
    return q;
}

/*
 * Both shapes a query takes are read-only and bounded: the session shape
 * (the server reports the session read-only: the EXECUTE alone, SET
 * statement_timeout when the budget changes) and the transaction shape
 * (transaction_pooling: true, BEGIN READ ONLY ... COMMIT). In each, a view
 * that writes is refused and writes nothing, a slow read is cut at its
 * budget, and a budget that changes after a failed query still applies.
 */
static void test_pg_read_only_shapes(void **state)
{
    backend *b = *state;
    const struct {
        const char *pooling, *app, *last_prefix;
    } shapes[] = {{"false", "readgate-session", "SELECT "}, {"true", "readgate-tx", "COMMIT"}};
    for (size_t k = 0; k < 2; k++) {
        rg_option opts[] = {OPT("dsn", getenv("RG_TEST_PG_DSN")),
                            OPT("application_name", shapes[k].app),
                            OPT("transaction_pooling", shapes[k].pooling)};
        rg_source_info src = {.struct_size = sizeof src, .options = opts, .noptions = 3,
                              .connect_timeout_ms = 2000};
        backend tmp = *b;
        rg_error err = {0};
        assert_int_equal(b->ad->connect(&src, &tmp.conn, &err), RG_OK);
        rg_sort_key sort[] = {SORT(F_ID, 0)};
        collected c = {0};

        assert_int_equal(run(&tmp, &b->coll, NULL, 0, NULL, sort, 1, NULL, 2, 5000, &c, &err),
                         RG_OK);
        assert_int_equal(c.nrows, 2);
        collected_reset(&c);
        char *last = last_statement(shapes[k].app);
        assert_true(strncmp(last, shapes[k].last_prefix, strlen(shapes[k].last_prefix)) == 0);
        free(last);

        rg_collection_desc writing = b->coll;
        writing.target = "rgtest.writing";
        writing.nfields = 1;
        assert_int_equal(run(&tmp, &writing, NULL, 0, NULL, sort, 1, NULL, 5, 5000, &c, &err),
                         RG_ERR_UPSTREAM);
        assert_non_null(strstr(err.message, "25006"));
        collected_reset(&c);

        rg_collection_desc slow = b->coll;
        slow.target = b->slow_target;
        slow.nfields = 1;
        rg_filter none = F1(F_ID, RG_OP_EQ, I(-1));
        assert_int_equal(run(&tmp, &slow, &none, 1, NULL, sort, 1, NULL, 5, 200, &c, &err),
                         RG_ERR_TIMEOUT);
        assert_int_equal(run(&tmp, &b->coll, NULL, 0, NULL, sort, 1, NULL, 2, 5000, &c, &err),
                         RG_OK);
        collected_reset(&c);
        /* The 5 s budget of the last query must not stay behind. */
        assert_int_equal(run(&tmp, &slow, &none, 1, NULL, sort, 1, NULL, 5, 300, &c, &err),
                         RG_ERR_TIMEOUT);
        assert_int_equal(run(&tmp, &b->coll, NULL, 0, NULL, sort, 1, NULL, 2, 5000, &c, &err),
                         RG_OK);
        collected_reset(&c);
        b->ad->disconnect(tmp.conn);
    }
    assert_nothing_written();
}

/* How many times the server ran a statement like `pattern` since the last
   reset (pg_stat_statements, which tests/pg.sh loads). */
static long statement_calls(PGconn *admin, const char *pattern)
{
    const char *p[1] = {pattern};
    PGresult *r = PQexecParams(admin, "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                                      "WHERE query LIKE $1", 1, NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/*
 * In the session shape the statement_timeout is set only when a query's
 * budget differs from the session's: not again for every query with the
 * same budget, including after queries whose rows the gateway cut short
 * (the sink stops at the limit), and again after a budget change.
 */
static void test_pg_timeout_set_once(void **state)
{
    backend *b = *state;
    PGconn *admin = PQconnectdb(getenv("RG_TEST_PG_DSN"));
    assert_int_equal(PQstatus(admin), CONNECTION_OK);
    PGresult *r = PQexec(admin, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    rg_option opts[] = {OPT("dsn", getenv("RG_TEST_PG_DSN")),
                        OPT("application_name", "readgate-set-once")};
    rg_source_info src = {.struct_size = sizeof src, .options = opts, .noptions = 2,
                          .connect_timeout_ms = 2000};
    backend tmp = *b;
    rg_error err = {0};
    assert_int_equal(b->ad->connect(&src, &tmp.conn, &err), RG_OK);
    r = PQexec(admin, "SELECT pg_stat_statements_reset()");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    rg_sort_key sort[] = {SORT(F_ID, 0)};
    collected c = {0};
    for (int i = 0; i < 5; i++) {
        c.stop_after = 2;
        assert_int_equal(run(&tmp, &b->coll, NULL, 0, NULL, sort, 1, NULL, 5, 4000, &c, &err),
                         RG_ERR_ABORTED);
        assert_int_equal(c.nrows, 2);
        collected_reset(&c);
    }
    assert_int_equal(statement_calls(admin, "SET statement_timeout%"), 1);
    assert_int_equal(run(&tmp, &b->coll, NULL, 0, NULL, sort, 1, NULL, 5, 3000, &c, &err), RG_OK);
    collected_reset(&c);
    assert_int_equal(statement_calls(admin, "SET statement_timeout%"), 2);
    b->ad->disconnect(tmp.conn);
    PQfinish(admin);
}

/*
 * plan_cache_mode: by default a statement runs with its generic plan from
 * its first execution (no planning per query); auto leaves the choice to
 * PostgreSQL, which plans the first five executions anew.
 */
static void test_pg_plan_cache_mode(void **state)
{
    backend *b = *state;
    const struct {
        const char *mode, *expect_setting;
        int64_t expect_generic;
    } modes[] = {{NULL, "force_generic_plan", 2}, {"auto", "auto", 0},
                 {"force_custom_plan", "force_custom_plan", 0}};
    for (size_t k = 0; k < 3; k++) {
        rg_option opts[] = {OPT("dsn", getenv("RG_TEST_PG_DSN")),
                            OPT("plan_cache_mode", modes[k].mode)};
        rg_source_info src = {.struct_size = sizeof src, .options = opts,
                              .noptions = modes[k].mode ? 2 : 1, .connect_timeout_ms = 2000};
        backend tmp = *b;
        rg_error err = {0};
        assert_int_equal(b->ad->connect(&src, &tmp.conn, &err), RG_OK);
        rg_sort_key sort[] = {SORT(F_ID, 0)};
        rg_filter f = F1(F_PRICE, RG_OP_GTE, N(0));
        collected c = {0};
        for (int i = 0; i < 3; i++) {
            assert_int_equal(run(&tmp, &b->coll, &f, 1, NULL, sort, 1, NULL, 3, 5000, &c, &err),
                             RG_OK);
            assert_int_equal(c.nrows, 3);
            collected_reset(&c);
        }
        rg_collection_desc plans = b->coll;
        plans.target = "rgtest.session_plans";
        assert_int_equal(run(&tmp, &plans, NULL, 0, NULL, sort, 1, NULL, 5, 5000, &c, &err),
                         RG_OK);
        assert_int_equal(c.nrows, 1);
        /* with generic plans: the three runs' statement and this one */
        assert_int_equal(c.rows[0][F_ID].u.i, modes[k].expect_generic);
        assert_int_equal(c.rows[0][F_NAME].u.str.len, strlen(modes[k].expect_setting));
        assert_memory_equal(c.rows[0][F_NAME].u.str.ptr, modes[k].expect_setting,
                            strlen(modes[k].expect_setting));
        collected_reset(&c);
        b->ad->disconnect(tmp.conn);
    }
    rg_option bad[] = {OPT("dsn", getenv("RG_TEST_PG_DSN")), OPT("plan_cache_mode", "generic")};
    rg_source_info src = {.struct_size = sizeof src, .options = bad, .noptions = 2,
                          .connect_timeout_ms = 2000};
    rg_error err = {0};
    void *conn = NULL;
    assert_int_equal(b->ad->check_options(&src, &err), RG_ERR_CONFIG);
    assert_non_null(strstr(err.message, "plan_cache_mode"));
    assert_int_equal(b->ad->connect(&src, &conn, &err), RG_ERR_CONFIG);
    assert_null(conn);
}

int main(int argc, char **argv)
{
    adapters_dir = argc > 1 ? argv[1] : getenv("RG_ADAPTERS_DIR");
    if (!adapters_dir) {
        fprintf(stderr, "usage: %s ADAPTERS_DIR (or set RG_ADAPTERS_DIR)\n", argv[0]);
        return 2;
    }
    const struct CMUnitTest sqlite_tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_sink_abort),
        cmocka_unit_test(test_errors_and_timeout),
        cmocka_unit_test(test_sqlite_options),
    };
    int failed = cmocka_run_group_tests_name("sqlite adapter", sqlite_tests, sqlite_setup,
                                             sqlite_teardown);
    const char *dsn = getenv("RG_TEST_PG_DSN");
    if (dsn && *dsn) {
        const struct CMUnitTest pg_tests[] = {
            cmocka_unit_test(test_cases),
            cmocka_unit_test(test_values),
            cmocka_unit_test(test_sink_abort),
            cmocka_unit_test(test_errors_and_timeout),
            cmocka_unit_test(test_pg_options_and_outage),
            cmocka_unit_test(test_pg_write_refused),
            cmocka_unit_test(test_pg_read_only_shapes),
            cmocka_unit_test(test_pg_plan_cache_mode),
            cmocka_unit_test(test_pg_timeout_set_once),
        };
        failed += cmocka_run_group_tests_name("postgres adapter", pg_tests, pg_setup, pg_teardown);
    } else {
        fprintf(stderr, "postgres adapter: skipped (RG_TEST_PG_DSN not set)\n");
    }
    return failed ? 1 : 0;
}
