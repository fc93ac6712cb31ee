/*
 * The mongo adapter beyond the conformance suite: option checks (no server
 * needed), and against the server tests/mongo.sh starts (RG_TEST_MONGO_URI
 * set, as scripts/test.sh does): names that could change a query's meaning,
 * dotted paths, the storage types it accepts and refuses, datetimes finer
 * than BSON's milliseconds, and the max_time_ms cap.
 *
 * Usage: test_mongo_adapter ADAPTERS_DIR   (or env RG_ADAPTERS_DIR)
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <readgate/adapter.h>

#include "test_host.h"

static const char *adapters_dir;
static const char *server_uri;
static void *dl;
static const rg_adapter *ad;

static int load(void **state)
{
    (void)state;
    ad = rg_test_load_adapter(adapters_dir, "mongo", &dl);
    if (!ad || !ad->check_options)
        return -1;
    return 0;
}

static int unload(void **state)
{
    (void)state;
    /* Not dlclose'd: the adapter never runs mongoc_cleanup, so libmongoc's
       global state must stay mapped until exit (as in the gateway). */
    dl = NULL;
    return 0;
}

static rg_source_info source(const rg_option *opts, size_t n)
{
    rg_source_info s = {.struct_size = sizeof s, .site_id = "test0001", .source_name = "mongo",
                        .options = opts, .noptions = n, .connect_timeout_ms = 3000,
                        .base_dir = "."};
    return s;
}

/* check_options refuses `opts` with a message that contains `want`. */
static void refused(const rg_option *opts, size_t n, const char *want)
{
    rg_source_info s = source(opts, n);
    rg_error err = {.struct_size = sizeof(rg_error)};
    assert_int_equal(ad->check_options(&s, &err), RG_ERR_CONFIG);
    assert_int_equal(err.status, RG_ERR_CONFIG);
    if (!strstr(err.message, want))
        fail_msg("message '%s' does not mention '%s'", err.message, want);
}

static void test_options(void **state)
{
    (void)state;
    rg_error err = {.struct_size = sizeof(rg_error)};
    rg_option good[] = {OPT("uri", "mongodb://reader:pw@db1:27017,db2/?replicaSet=rs0"),
                        OPT("database", "shop"),
                        OPT("read_preference", "secondaryPreferred"),
                        OPT("allow_dotted_fields", "true"),
                        OPT("max_time_ms", "1500"),
                        OPT("timeout_ms", "2000")};
    rg_source_info s = source(good, 6);
    assert_int_equal(ad->check_options(&s, &err), RG_OK);
    /* An encrypted URI is checked after decryption, at connect. */
    rg_option enc[] = {OPT("uri", "enc:v1:k1:aaaa:bbbb:cccc"), OPT("database", "shop")};
    s = source(enc, 2);
    assert_int_equal(ad->check_options(&s, &err), RG_OK);
    void *conn = (void *)1;
    assert_int_equal(ad->connect(&s, &conn, &err), RG_ERR_CONFIG);
    assert_null(conn);
    assert_non_null(strstr(err.message, "encrypted"));

    refused((rg_option[]){OPT("database", "shop")}, 1, "'uri' is required");
    refused((rg_option[]){OPT("uri", "mongodb://h")}, 1, "'database' is required");
    refused((rg_option[]){OPT("uri", "http://h"), OPT("database", "d")}, 2, "mongodb://");
    /* Not echoed: a URI may hold a password. */
    refused((rg_option[]){OPT("uri", "mongodb://u:secretpw@"), OPT("database", "d")}, 2,
            "not a valid MongoDB connection string");
    rg_option bad_uri[] = {OPT("uri", "mongodb://u:secretpw@"), OPT("database", "d")};
    s = source(bad_uri, 2);
    assert_int_equal(ad->check_options(&s, &err), RG_ERR_CONFIG);
    assert_null(strstr(err.message, "secretpw"));
    refused((rg_option[]){OPT("uri", "mongodb://h"), OPT("database", "a.b")}, 2, "'database'");
    refused((rg_option[]){OPT("uri", "mongodb://h"), OPT("database", "$x")}, 2, "'database'");
    refused((rg_option[]){OPT("uri", "mongodb://h"), OPT("database", "")}, 2, "'database'");
    refused((rg_option[]){OPT("uri", "mongodb://h"), OPT("database", "d"),
                          OPT("read_preference", "fast")},
            3, "'read_preference'");
    refused((rg_option[]){OPT("uri", "mongodb://h"), OPT("database", "d"),
                          OPT("allow_dotted_fields", "yes please")},
            3, "'allow_dotted_fields'");
    refused((rg_option[]){OPT("uri", "mongodb://h"), OPT("database", "d"), OPT("max_time_ms", "0")},
            3, "'max_time_ms'");
    refused(
        (rg_option[]){OPT("uri", "mongodb://h"), OPT("database", "d"), OPT("max_time_ms", "-1")}, 3,
        "'max_time_ms'");
    refused((rg_option[]){OPT("uri", "mongodb://h"), OPT("database", "d"), OPT("dsn", "x")}, 3,
            "unknown option 'dsn'");
}

/* ---- against a server --------------------------------------------------- */

typedef struct collected {
    char ids[512];
    size_t rows;
    rg_value first[4]; /* the first row, strings copied below */
    char strs[4][64];
} collected;

/* Records column 0 (an integer id) of each row, and the first row whole. */
static int collect(void *ctx, const rg_value *row, size_t n)
{
    collected *c = ctx;
    rg_value v[16];
    if (n == 0 || rg_test_row(row, n, v, 16) != 0)
        return 1;
    size_t len = strlen(c->ids);
    snprintf(c->ids + len, sizeof c->ids - len, "%s%lld", len ? "," : "",
             v[0].is_null ? -1LL : (long long)v[0].u.i);
    if (c->rows++ == 0) {
        for (size_t i = 0; i < n && i < 4; i++) {
            c->first[i] = v[i];
            if (!v[i].is_null && (v[i].type == RG_TYPE_STRING || v[i].type == RG_TYPE_DATE ||
                                  v[i].type == RG_TYPE_DATETIME || v[i].type == RG_TYPE_ENUM)) {
                snprintf(c->strs[i], sizeof c->strs[i], "%.*s", (int)v[i].u.str.len,
                         v[i].u.str.ptr);
                c->first[i].u.str.ptr = c->strs[i];
            }
        }
    }
    return 0;
}

static void *open_conn(const char *database, int dotted, const char *max_time_ms)
{
    rg_option opts[4] = {OPT("uri", server_uri), OPT("database", database)};
    size_t n = 2;
    if (dotted)
        opts[n++] = (rg_option)OPT("allow_dotted_fields", "true");
    if (max_time_ms)
        opts[n++] = (rg_option)OPT("max_time_ms", max_time_ms);
    rg_source_info s = source(opts, n);
    rg_error err = {.struct_size = sizeof(rg_error)};
    void *conn = NULL;
    rg_status st = ad->connect(&s, &conn, &err);
    if (st != RG_OK)
        fail_msg("connect: %d %s", st, err.message);
    return conn;
}

/* Runs a plan over `fields` sorted by `sort` (key: field 0) and returns the
   status; the rows land in *out. */
static rg_status run(void *conn, const char *target, const rg_field_desc *fields, size_t nfields,
                     const rg_filter *filters, size_t nfilters, const rg_sort_key *sort,
                     size_t nsort, const size_t *columns, size_t ncolumns, uint32_t timeout_ms,
                     collected *out, rg_error *err)
{
    rg_collection_desc coll = {.struct_size = sizeof coll, .name = "t", .target = target,
                               .fields = fields, .nfields = nfields, .key_field = 0};
    rg_query_plan p = {.struct_size = sizeof p, .collection = &coll, .filters = filters,
                       .nfilters = nfilters, .sort = sort, .nsort = nsort, .columns = columns,
                       .ncolumns = ncolumns, .limit = 100, .timeout_ms = timeout_ms};
    rg_row_sink sink = {sizeof(rg_row_sink), collect, out};
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    err->struct_size = sizeof *err;
    return ad->query(conn, &p, &sink, err);
}

static const rg_sort_key by_id[] = {SORT(0, 0)};

/* Names from the collection config that would change the query's meaning
   are refused before anything is sent. */
static void test_refused_names(void **state)
{
    (void)state;
    void *conn = open_conn("conformance", 0, NULL);
    void *dotted = open_conn("conformance", 1, NULL);
    static const char *const bad[] = {"$where", "__rg_null0", "a.b", "", NULL};
    collected out;
    rg_error err;
    for (size_t i = 0; bad[i]; i++) {
        rg_field_desc f[] = {FIELD("id", "id", RG_TYPE_INTEGER),
                             FIELD("x", bad[i], RG_TYPE_STRING)};
        const size_t cols[] = {0, 1};
        assert_int_equal(run(conn, "products", f, 2, NULL, 0, by_id, 1, cols, 2, 5000, &out,
                             &err),
                         RG_ERR_CONFIG);
        assert_int_equal(out.rows, 0);
    }
    static const char *const bad_dotted[] = {"a..b", "a.$b", ".a", "a.", "$a.b", NULL};
    for (size_t i = 0; bad_dotted[i]; i++) {
        rg_field_desc f[] = {FIELD("id", "id", RG_TYPE_INTEGER),
                             FIELD("x", bad_dotted[i], RG_TYPE_STRING)};
        const size_t cols[] = {0, 1};
        assert_int_equal(run(dotted, "products", f, 2, NULL, 0, by_id, 1, cols, 2, 5000, &out,
                             &err),
                         RG_ERR_CONFIG);
    }
    static const char *const bad_targets[] = {"system.users", "pro$ducts", "", NULL};
    for (size_t i = 0; bad_targets[i]; i++) {
        rg_field_desc f[] = {FIELD("id", "id", RG_TYPE_INTEGER)};
        const size_t cols[] = {0};
        assert_int_equal(run(conn, bad_targets[i], f, 1, NULL, 0, by_id, 1, cols, 1, 5000, &out,
                             &err),
                         RG_ERR_CONFIG);
    }
    ad->disconnect(conn);
    ad->disconnect(dotted);
}

#define S(x) {.struct_size = sizeof(rg_value), .type = RG_TYPE_STRING, .u.str = {x, sizeof(x) - 1}}
#define DTV(x)                                                                                     \
    {.struct_size = sizeof(rg_value), .type = RG_TYPE_DATETIME, .u.str = {x, sizeof(x) - 1}}
#define I(x) {.struct_size = sizeof(rg_value), .type = RG_TYPE_INTEGER, .u.i = (x)}

/* allow_dotted_fields: columns that are paths into embedded documents, in
   filters, sorting (NULL and missing last) and rows. */
static void test_dotted_paths(void **state)
{
    (void)state;
    void *conn = open_conn("readgate_test", 1, NULL);
    const rg_field_desc f[] = {FIELD("id", "id", RG_TYPE_INTEGER),
                               FIELD("color", "details.color", RG_TYPE_STRING),
                               FIELD("size", "details.size", RG_TYPE_INTEGER)};
    const size_t cols[] = {0, 1, 2};
    collected out;
    rg_error err;
    const rg_sort_key by_color[] = {SORT(1, 0), SORT(0, 0)};
    assert_int_equal(run(conn, "shapes", f, 3, NULL, 0, by_color, 2, cols, 3, 5000, &out, &err),
                     RG_OK);
    assert_string_equal(out.ids, "2,1,3,4");
    assert_int_equal(out.first[2].u.i, 7);
    const rg_filter red[] = {{sizeof(rg_filter), 1, RG_OP_EQ, (const rg_value[]){S("red")}, 1}};
    assert_int_equal(run(conn, "shapes", f, 3, red, 1, by_id, 1, cols, 3, 5000, &out, &err),
                     RG_OK);
    assert_string_equal(out.ids, "1");
    assert_string_equal(out.strs[1], "red");
    assert_int_equal(out.first[2].u.i, 42);
    /* Two public fields over one document field: projected once, read twice. */
    const rg_field_desc twice[] = {FIELD("id", "id", RG_TYPE_INTEGER),
                                   FIELD("color", "details.color", RG_TYPE_STRING),
                                   FIELD("colour", "details.color", RG_TYPE_STRING)};
    assert_int_equal(run(conn, "shapes", twice, 3, red, 1, by_id, 1, cols, 3, 5000, &out, &err),
                     RG_OK);
    assert_string_equal(out.strs[1], "red");
    assert_string_equal(out.strs[2], "red");
    ad->disconnect(conn);

    /* The same column without the option is refused. */
    conn = open_conn("readgate_test", 0, NULL);
    assert_int_equal(run(conn, "shapes", f, 3, NULL, 0, by_id, 1, cols, 3, 5000, &out, &err),
                     RG_ERR_CONFIG);
    assert_non_null(strstr(err.message, "allow_dotted_fields"));
    ad->disconnect(conn);
}

/* What each configured type accepts from the documents. */
static void test_storage_types(void **state)
{
    (void)state;
    void *conn = open_conn("readgate_test", 0, NULL);
    collected out;
    rg_error err;
    const size_t cols[] = {0, 1};
    /* An integral double is an integer (the mongo shell stores numbers so). */
    const rg_field_desc count[] = {FIELD("id", "id", RG_TYPE_INTEGER),
                                   FIELD("count", "count", RG_TYPE_INTEGER)};
    assert_int_equal(run(conn, "shapes", count, 2, NULL, 0, by_id, 1, cols, 2, 5000, &out, &err),
                     RG_OK);
    assert_string_equal(out.ids, "1,2,3,4");
    assert_int_equal(out.first[1].u.i, 5);
    /* ... but 5.5 is not. */
    const rg_field_desc frac[] = {FIELD("id", "id", RG_TYPE_INTEGER),
                                  FIELD("frac", "frac", RG_TYPE_INTEGER)};
    assert_int_equal(run(conn, "shapes", frac, 2, NULL, 0, by_id, 1, cols, 2, 5000, &out, &err),
                     RG_ERR_UPSTREAM);
    assert_non_null(strstr(err.message, "'frac'"));
    /* A BSON date is a datetime, not a date (dates are 'YYYY-MM-DD' strings). */
    const rg_field_desc as_date[] = {FIELD("id", "id", RG_TYPE_INTEGER),
                                     FIELD("released_at", "released_at", RG_TYPE_DATE)};
    assert_int_equal(run(conn, "shapes", as_date, 2, NULL, 0, by_id, 1, cols, 2, 5000, &out,
                         &err),
                     RG_ERR_UPSTREAM);
    const rg_field_desc as_dt[] = {FIELD("id", "id", RG_TYPE_INTEGER),
                                   FIELD("released_at", "released_at", RG_TYPE_DATETIME)};
    assert_int_equal(run(conn, "shapes", as_dt, 2, NULL, 0, by_id, 1, cols, 2, 5000, &out, &err),
                     RG_OK);
    assert_string_equal(out.strs[1], "2024-01-10T00:00:00Z");
    /* A string is not an integer. */
    const rg_field_desc label[] = {FIELD("id", "id", RG_TYPE_INTEGER),
                                   FIELD("label", "label", RG_TYPE_INTEGER)};
    assert_int_equal(run(conn, "shapes", label, 2, NULL, 0, by_id, 1, cols, 2, 5000, &out, &err),
                     RG_ERR_UPSTREAM);
    ad->disconnect(conn);
}

/* BSON dates hold milliseconds; a finer bound is compared exactly anyway. */
static void test_sub_millisecond_datetimes(void **state)
{
    (void)state;
    void *conn = open_conn("conformance", 0, NULL);
    const rg_field_desc f[] = {FIELD("id", "id", RG_TYPE_INTEGER),
                               FIELD("updated_at", "updated_at", RG_TYPE_DATETIME)};
    const size_t cols[] = {0, 1};
    static const struct {
        rg_op op;
        const char *expect;
    } cases[] = {
        /* rows 1 and 2: 08:00:00Z and 08:00:01Z; the bound is 500 us past 08:00:00 */
        {RG_OP_EQ, ""},      {RG_OP_NE, "1,2"}, {RG_OP_GT, "2"},
        {RG_OP_GTE, "2"},    {RG_OP_LT, "1"},   {RG_OP_LTE, "1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const rg_filter filters[] = {
            {sizeof(rg_filter), 0, RG_OP_IN, (const rg_value[]){I(1), I(2)}, 2},
            {sizeof(rg_filter), 1, cases[i].op,
             (const rg_value[]){DTV("2024-01-10T08:00:00.000500Z")}, 1},
        };
        collected out;
        rg_error err;
        assert_int_equal(run(conn, "products", f, 2, filters, 2, by_id, 1, cols, 2, 5000, &out,
                             &err),
                         RG_OK);
        if (strcmp(out.ids, cases[i].expect) != 0)
            fail_msg("op %d: got '%s', expected '%s'", (int)cases[i].op, out.ids,
                     cases[i].expect);
    }
    /* in: a value finer than a millisecond equals nothing; the others still match. */
    const rg_filter in[] = {{sizeof(rg_filter), 1, RG_OP_IN,
                             (const rg_value[]){DTV("2024-01-10T08:00:00.000500Z"),
                                                DTV("2024-01-10T08:00:01Z")},
                             2}};
    collected out;
    rg_error err;
    assert_int_equal(run(conn, "products", f, 2, in, 1, by_id, 1, cols, 2, 5000, &out, &err),
                     RG_OK);
    assert_string_equal(out.ids, "2");
    ad->disconnect(conn);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* max_time_ms caps a larger budget from the plan. */
static void test_max_time_cap(void **state)
{
    (void)state;
    void *conn = open_conn("conformance", 0, "300");
    const rg_field_desc f[] = {FIELD("id", "id", RG_TYPE_INTEGER)};
    const size_t cols[] = {0};
    collected out;
    rg_error err;
    long long t0 = now_ms();
    rg_status st = run(conn, "products_slow", f, 1, NULL, 0, by_id, 1, cols, 1, 60000, &out, &err);
    long long took = now_ms() - t0;
    if (st != RG_ERR_TIMEOUT)
        fail_msg("expected RG_ERR_TIMEOUT, got %d (%s) after %lld ms", st, err.message, took);
    /* the cap, the client's grace second, and room for a slow machine */
    assert_true(took < 300 + 1000 + 2000);
    /* The connection recovers: a later query is answered. (CongoDB runs one
       command at a time and finishes the abandoned read first, which may
       take longer than the capped budget on a slow machine.) */
    st = RG_ERR_TIMEOUT;
    for (int i = 0; i < 10 && st == RG_ERR_TIMEOUT; i++)
        st = run(conn, "products", f, 1, NULL, 0, by_id, 1, cols, 1, 60000, &out, &err);
    if (st != RG_OK)
        fail_msg("after the timeout: %d (%s)", st, err.message);
    assert_int_equal(out.rows, 100);
    rg_error perr = {.struct_size = sizeof(rg_error)};
    assert_int_equal(ad->ping(conn, &perr), RG_OK);
    ad->disconnect(conn);
}

int main(int argc, char **argv)
{
    adapters_dir = argc > 1 ? argv[1] : getenv("RG_ADAPTERS_DIR");
    if (!adapters_dir) {
        fprintf(stderr, "usage: %s ADAPTERS_DIR (or set RG_ADAPTERS_DIR)\n", argv[0]);
        return 2;
    }
    const struct CMUnitTest option_tests[] = {cmocka_unit_test(test_options)};
    int failed = cmocka_run_group_tests_name("mongo adapter options", option_tests, load, unload);

    server_uri = getenv("RG_TEST_MONGO_URI");
    if (server_uri && *server_uri) {
        const struct CMUnitTest server_tests[] = {
            cmocka_unit_test(test_refused_names),
            cmocka_unit_test(test_dotted_paths),
            cmocka_unit_test(test_storage_types),
            cmocka_unit_test(test_sub_millisecond_datetimes),
            cmocka_unit_test(test_max_time_cap),
        };
        failed += cmocka_run_group_tests_name("mongo adapter against a server", server_tests,
                                              load, unload);
    } else {
        fprintf(stderr, "mongo adapter against a server: skipped (RG_TEST_MONGO_URI not set; "
                        "tests/mongo.sh starts one)\n");
    }
    return failed ? 1 : 0;
}
