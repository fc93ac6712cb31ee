/*
 * The airtable, sheets and shopify adapters against the fake providers of
 * tests/fakes/, beyond what conformance/run_saas.py checks: the exact
 * formula or search string sent for hostile values (read back from the
 * fake's request log) and the literal match, provider errors and time-outs
 * mapped to the right status, Airtable's 5 requests/s budget and 30 s
 * penalty, Shopify's cost bucket, the shopify adapter's Storefront API mode
 * (its endpoint, token headers, columns and search fields), the Sheets
 * cache and read quota.
 *
 * Usage: test_saas_adapters ADAPTERS_DIR [airtable|sheets|shopify|shopify-storefront]...
 * Needs python3 (the fakes) and RG_SOURCE_DIR (compiled in).
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
#include <curl/curl.h>
#include <jansson.h>

#include <readgate/adapter.h>

#include "test_host.h"

#include "saas_fake.h"

static const char *adapters_dir;

static const rg_adapter *load(const char *name, void **dl)
{
    return rg_test_load_adapter(adapters_dir, name, dl);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the fixture's collection --------------------------------------------------- */

enum { F_ID, F_NAME, F_BRAND, F_DESC, F_CATEGORY, F_PRICE, F_STOCK, F_IN_STOCK, F_RELEASED,
       F_UPDATED, NF };

static rg_field_desc table_fields[NF] = {
    FIELD("id", "id", RG_TYPE_INTEGER),
    FIELD("name", "name", RG_TYPE_STRING),
    FIELD("brand", "Brand Name", RG_TYPE_STRING),
    FIELD("description", "description", RG_TYPE_STRING),
    FIELD("category", "category", RG_TYPE_ENUM),
    FIELD("price", "price", RG_TYPE_NUMBER),
    FIELD("stock", "stock", RG_TYPE_INTEGER),
    FIELD("in_stock", "in_stock", RG_TYPE_BOOLEAN),
    FIELD("released", "released", RG_TYPE_DATE),
    FIELD("updated_at", "updated_at", RG_TYPE_DATETIME),
};

static rg_field_desc shop_fields[NF] = {
    FIELD("id", "legacyResourceId", RG_TYPE_INTEGER),
    FIELD("name", "title", RG_TYPE_STRING),
    FIELD("brand", "vendor", RG_TYPE_STRING),
    FIELD("description", "description", RG_TYPE_STRING),
    FIELD("category", "productType", RG_TYPE_ENUM),
    FIELD("price", "priceRangeV2.minVariantPrice.amount", RG_TYPE_NUMBER),
    FIELD("stock", "totalInventory", RG_TYPE_INTEGER),
    FIELD("in_stock", "metafield:custom.in_stock", RG_TYPE_BOOLEAN),
    FIELD("released", "createdAt", RG_TYPE_DATE),
    FIELD("updated_at", "metafield:custom.updated_at", RG_TYPE_DATETIME),
};

static rg_collection_desc make_coll(rg_field_desc *fields, const char *target)
{
    rg_collection_desc c = {.struct_size = sizeof c, .name = "products", .target = target,
                            .fields = fields, .nfields = NF, .key_field = F_ID};
    return c;
}

/* A plan and the storage it points to. */
typedef struct tq {
    rg_query_plan plan;
    rg_filter filters[4];
    rg_value vals[8];
    size_t nvals;
    rg_sort_key sort[3];
    size_t columns[NF];
    const char *words[4];
    size_t sfields[4];
    rg_value after[3];
} tq;

static void tq_init(tq *q, const rg_collection_desc *coll, size_t limit)
{
    memset(q, 0, sizeof *q);
    q->plan.struct_size = sizeof q->plan;
    q->plan.collection = coll;
    q->plan.filters = q->filters;
    q->plan.sort = q->sort;
    q->sort[0] = (rg_sort_key)SORT(F_ID, 0);
    q->plan.nsort = 1;
    for (size_t i = 0; i < NF; i++)
        q->columns[i] = i;
    q->plan.columns = q->columns;
    q->plan.ncolumns = NF;
    q->plan.limit = limit;
    q->plan.timeout_ms = 10000;
    q->plan.search_words = q->words;
    q->plan.search_fields = q->sfields;
}

static rg_value str_value(rg_type t, const char *s)
{
    rg_value v = {.struct_size = sizeof(rg_value), .type = t};
    v.u.str.ptr = s;
    v.u.str.len = strlen(s);
    return v;
}

static void tq_filter(tq *q, size_t field, rg_op op, const rg_value *vals, size_t n)
{
    rg_filter *f = &q->filters[q->plan.nfilters++];
    f->struct_size = sizeof *f;
    f->field = field;
    f->op = op;
    f->values = &q->vals[q->nvals];
    f->nvalues = n;
    for (size_t i = 0; i < n; i++)
        q->vals[q->nvals++] = vals[i];
}

static void tq_str(tq *q, size_t field, rg_op op, const char *s)
{
    rg_value v = str_value(q->plan.collection->fields[field].type, s);
    tq_filter(q, field, op, &v, 1);
}

static void tq_sort_by(tq *q, size_t field, int desc)
{
    q->sort[0] = (rg_sort_key)SORT(field, desc);
    q->sort[1] = (rg_sort_key)SORT(F_ID, 0);
    q->plan.nsort = 2;
}

/* Rows as a JSON array of {field: value}. */
typedef struct collect {
    const rg_query_plan *plan;
    json_t *rows;
} collect;

static int on_row(void *ctx, const rg_value *row, size_t n)
{
    collect *c = ctx;
    rg_value v[NF];
    if (rg_test_row(row, n, v, NF) != 0)
        return 1;
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        const char *name = rg_field_at(c->plan->collection->fields, c->plan->columns[i])->name;
        json_t *j;
        if (v[i].is_null)
            j = json_null();
        else if (v[i].type == RG_TYPE_INTEGER)
            j = json_integer(v[i].u.i);
        else if (v[i].type == RG_TYPE_NUMBER)
            j = json_real(v[i].u.n);
        else if (v[i].type == RG_TYPE_BOOLEAN)
            j = json_boolean(v[i].u.b);
        else
            j = json_stringn(v[i].u.str.ptr, v[i].u.str.len);
        json_object_set_new(o, name, j);
    }
    json_array_append_new(c->rows, o);
    return 0;
}

static rg_status run(const rg_adapter *ad, void *conn, tq *q, json_t **rows, rg_error *err)
{
    collect c = {&q->plan, json_array()};
    rg_row_sink sink = {sizeof(rg_row_sink), on_row, &c};
    memset(err, 0, sizeof *err);
    err->struct_size = sizeof *err;
    rg_status st = ad->query(conn, &q->plan, &sink, err);
    if (rows)
        *rows = c.rows;
    else
        json_decref(c.rows);
    return st;
}

/* The ids of the rows, as "1,2,3". */
static void ids_of(const json_t *rows, char *out, size_t outsz)
{
    size_t i, len = 0;
    json_t *r;
    out[0] = '\0';
    json_array_foreach(rows, i, r) {
        len += (size_t)snprintf(out + len, outsz - len, "%s%lld", i ? "," : "",
                                (long long)json_integer_value(json_object_get(r, "id")));
        if (len >= outsz)
            break;
    }
}

static size_t nrequests(const saas_fake *f)
{
    json_t *r = saas_fake_requests(f);
    size_t n = json_array_size(r);
    json_decref(r);
    return n;
}

/* The last recorded request's body parsed as JSON (a new reference). */
static json_t *last_body(const saas_fake *f)
{
    json_t *r = saas_fake_requests(f);
    json_t *last = json_array_get(r, json_array_size(r) - 1);
    const char *text = json_string_value(json_object_get(last, "body"));
    json_t *body = json_loads(text ? text : "null", JSON_DECODE_ANY, NULL);
    json_decref(r);
    return body;
}

static void fault(const saas_fake *f, json_t *rule)
{
    json_t *ok = saas_fake_control(f, "config", json_pack("{s:[o]}", "faults", rule));
    assert_non_null(ok);
    json_decref(ok);
}

static void reset(const saas_fake *f)
{
    json_t *ok = saas_fake_control(f, "reset", json_pack("{s:b}", "keep_tokens", 1));
    assert_non_null(ok);
    json_decref(ok);
}

typedef struct world {
    void *dl;
    const rg_adapter *ad;
    saas_fake fake;
    rg_collection_desc coll;
    char *token;
    void *conn;
} world;

static void *connect_with(world *w, const rg_option *opts, size_t n, rg_status want)
{
    rg_source_info src = {.struct_size = sizeof src, .site_id = "test0001", .source_name = "s",
                          .options = opts, .noptions = n, .connect_timeout_ms = 3000,
                          .base_dir = "."};
    void *conn = NULL;
    rg_error err = {.struct_size = sizeof(rg_error)};
    rg_status st = w->ad->connect(&src, &conn, &err);
    if (st != want)
        fprintf(stderr, "connect: %d %s\n", st, err.message);
    assert_int_equal(st, want);
    return conn;
}

/* ================================================================== airtable */

static world at;
#define AT_BASE "appRGFakeBase0001"
#define AT_PAT "patRGtest"

static int at_setup(void **state)
{
    (void)state;
    at.ad = load("airtable", &at.dl);
    const char *extra[] = {"--pat", AT_PAT, NULL};
    if (!at.ad || saas_fake_start(&at.fake, RG_SOURCE_DIR, "airtable", extra) != 0)
        return -1;
    at.coll = make_coll(table_fields, "products");
    rg_option opts[] = {OPT("base_id", AT_BASE), OPT("base_url", at.fake.url),
                        OPT("access_token", AT_PAT),
                        OPT("checkbox_absent_is_false", "false")};
    at.conn = connect_with(&at, opts, 4, RG_OK);
    return 0;
}

static int at_teardown(void **state)
{
    (void)state;
    if (at.conn)
        at.ad->disconnect(at.conn);
    saas_fake_stop(&at.fake);
    dlclose(at.dl);
    return 0;
}

/* The formula of the last request. */
static void assert_formula(const char *want)
{
    json_t *b = last_body(&at.fake);
    const char *got = json_string_value(json_object_get(b, "filterByFormula"));
    if (!got || strcmp(got, want))
        fprintf(stderr, "formula: got [%s]\n   want [%s]\n", got ? got : "(none)", want);
    assert_non_null(got);
    assert_string_equal(got, want);
    json_decref(b);
}

static void at_expect(tq *q, const char *want_ids, const char *want_formula)
{
    json_t *rows;
    rg_error err;
    rg_status st = run(at.ad, at.conn, q, &rows, &err);
    if (st != RG_OK)
        fprintf(stderr, "query: %s\n", err.message);
    assert_int_equal(st, RG_OK);
    char ids[512];
    ids_of(rows, ids, sizeof ids);
    assert_string_equal(ids, want_ids);
    json_decref(rows);
    if (want_formula)
        assert_formula(want_formula);
}

static void at_hostile_values(void **state)
{
    (void)state;
    tq q;
    tq_init(&q, &at.coll, 50);
    tq_str(&q, F_NAME, RG_OP_EQ, "' OR 1=1 --");
    at_expect(&q, "9", "{name}='\\' OR 1=1 --'");

    tq_init(&q, &at.coll, 50);
    tq_str(&q, F_NAME, RG_OP_EQ, "back\\slash belt");
    at_expect(&q, "12", "{name}='back\\\\slash belt'");

    /* Every kind of syntax at once: braces, both quotes, a backslash before
       the closing quote, $gt, *, OR, unicode. */
    tq_init(&q, &at.coll, 50);
    tq_str(&q, F_NAME, RG_OP_EQ, "x'}{id}\" OR 1=1 $gt * \xc3\xbc\\");
    at_expect(&q, "", "{name}='x\\'}{id}\" OR 1=1 $gt * \xc3\xbc\\\\'");

    tq_init(&q, &at.coll, 50);
    tq_str(&q, F_BRAND, RG_OP_EQ, "x' OR 'a'='a");
    at_expect(&q, "9", "{Brand Name}='x\\' OR \\'a\\'=\\'a'");

    /* LOWER() folds É in Airtable: the fake answers rows 5 and 6, the
       adapter keeps only the ASCII-folded match. */
    tq_init(&q, &at.coll, 50);
    tq_str(&q, F_NAME, RG_OP_CONTAINS, "\xc3\xa9mile");
    at_expect(&q, "6", "FIND(LOWER('\xc3\xa9mile'),LOWER({name}))");

    tq_init(&q, &at.coll, 50);
    tq_str(&q, F_NAME, RG_OP_PREFIX, "100%");
    at_expect(&q, "10", "FIND(LOWER('100%'),LOWER({name}))=1");

    /* Search: every word in some search field; numbers and dates too. */
    tq_init(&q, &at.coll, 50);
    q.words[0] = "RED";
    q.words[1] = "canvas";
    q.plan.nsearch_words = 2;
    q.sfields[0] = F_NAME;
    q.sfields[1] = F_DESC;
    q.plan.nsearch_fields = 2;
    rg_value lo = {.struct_size = sizeof(rg_value), .type = RG_TYPE_NUMBER, .u.n = 49.99};
    rg_value hi = {.struct_size = sizeof(rg_value), .type = RG_TYPE_NUMBER, .u.n = 60};
    rg_value b2[] = {lo, hi};
    tq_filter(&q, F_PRICE, RG_OP_BETWEEN, b2, 2);
    at_expect(&q, "1",
              "AND(AND({price}>=49.99,{price}<=60),"
              "OR(FIND(LOWER('RED'),LOWER({name})),FIND(LOWER('RED'),LOWER({description}))),"
              "OR(FIND(LOWER('canvas'),LOWER({name})),FIND(LOWER('canvas'),LOWER({description}))))");

    tq_init(&q, &at.coll, 50);
    tq_str(&q, F_RELEASED, RG_OP_EQ, "2024-01-10");
    at_expect(&q, "1,2",
              "AND(IS_AFTER({released},'2024-01-09'),IS_BEFORE({released},'2024-01-11'))");
}

static void at_bad_column(void **state)
{
    (void)state;
    rg_field_desc fields[NF];
    memcpy(fields, table_fields, sizeof fields);
    fields[F_NAME].column = "na}me";
    rg_collection_desc coll = make_coll(fields, "products");
    tq q;
    tq_init(&q, &coll, 5);
    tq_str(&q, F_NAME, RG_OP_EQ, "x");
    size_t before = nrequests(&at.fake);
    rg_error err;
    assert_int_equal(run(at.ad, at.conn, &q, NULL, &err), RG_ERR_CONFIG);
    assert_non_null(strstr(err.message, "'}'"));
    assert_int_equal(nrequests(&at.fake), before);

    fields[F_NAME].column = "no such field";
    tq_init(&q, &coll, 5);
    assert_int_equal(run(at.ad, at.conn, &q, NULL, &err), RG_ERR_CONFIG);
    assert_non_null(strstr(err.message, "no field named"));
}

static void at_paging(void **state)
{
    (void)state;
    reset(&at.fake);
    tq q;
    /* Key order: Airtable sorts, one request, stop at the limit. */
    tq_init(&q, &at.coll, 5);
    at_expect(&q, "1,2,3,4,5", NULL);
    assert_int_equal(nrequests(&at.fake), 1);
    json_t *b = last_body(&at.fake);
    assert_int_equal(json_integer_value(json_object_get(b, "pageSize")), 100);
    assert_string_equal(json_string_value(json_object_get(json_array_get(
                            json_object_get(b, "sort"), 0), "field")),
                        "id");
    json_decref(b);
    rg_value after = {.struct_size = sizeof(rg_value), .type = RG_TYPE_INTEGER, .u.i = 5};
    q.after[0] = after;
    q.plan.after = q.after;
    at_expect(&q, "6,7,8,9,10", "{id}>5");

    /* Any other order: every record, three pages of 100 through `offset`. */
    reset(&at.fake);
    tq_init(&q, &at.coll, 3);
    tq_sort_by(&q, F_STOCK, 1); /* NULLs first descending */
    at_expect(&q, "21,22,26", NULL);
    json_t *reqs = saas_fake_requests(&at.fake);
    assert_int_equal(json_array_size(reqs), 3);
    json_t *third = json_loads(json_string_value(json_object_get(json_array_get(reqs, 2), "body")),
                               0, NULL);
    assert_true(json_is_string(json_object_get(third, "offset")));
    json_decref(third);
    json_decref(reqs);
}

static void at_errors(void **state)
{
    (void)state;
    static const struct {
        int status;
        rg_status want;
        const char *text;
    } cases[] = {
        {401, RG_ERR_AUTH, "401"},         {403, RG_ERR_CONFIG, "403"},
        {404, RG_ERR_CONFIG, "404"},       {422, RG_ERR_UPSTREAM, "422"},
        {500, RG_ERR_UPSTREAM, "500"},     {502, RG_ERR_UNAVAILABLE, "502"},
        {503, RG_ERR_UNAVAILABLE, "503"},
    };
    tq q;
    rg_error err;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fault(&at.fake, json_pack("{s:i}", "status", cases[i].status));
        tq_init(&q, &at.coll, 5);
        rg_status st = run(at.ad, at.conn, &q, NULL, &err);
        if (st != cases[i].want)
            fprintf(stderr, "HTTP %d: %d %s\n", cases[i].status, st, err.message);
        assert_int_equal(st, cases[i].want);
        assert_non_null(strstr(err.message, cases[i].text));
        assert_non_null(strstr(err.message, "Airtable"));
    }
    /* A time-out: the fake holds the answer longer than the budget. */
    fault(&at.fake, json_pack("{s:f}", "delay_s", 2.0));
    tq_init(&q, &at.coll, 5);
    q.plan.timeout_ms = 300;
    double t0 = now_s();
    assert_int_equal(run(at.ad, at.conn, &q, NULL, &err), RG_ERR_TIMEOUT);
    assert_true(now_s() - t0 < 1.5);
    /* The fake counts the held request against the base when it wakes:
       let it finish before the budget test counts requests. */
    struct timespec ts = {2, 0};
    nanosleep(&ts, NULL);

    /* A real 401 (unknown token) and a real 403 (unknown table). */
    rg_option bad[] = {OPT("base_id", AT_BASE), OPT("base_url", at.fake.url),
                       OPT("access_token", "nope")};
    void *c2 = connect_with(&at, bad, 3, RG_OK);
    tq_init(&q, &at.coll, 5);
    assert_int_equal(run(at.ad, c2, &q, NULL, &err), RG_ERR_AUTH);
    at.ad->disconnect(c2);
    rg_collection_desc other = make_coll(table_fields, "no_table");
    tq_init(&q, &other, 5);
    assert_int_equal(run(at.ad, at.conn, &q, NULL, &err), RG_ERR_CONFIG);
    assert_non_null(strstr(err.message, "no_table"));

    /* No token at all: the oauth connection has none yet. */
    rg_option none[] = {OPT("base_id", AT_BASE), OPT("base_url", at.fake.url)};
    connect_with(&at, none, 2, RG_ERR_AUTH);
}

/* At most 5 requests in any second per base, shared by connections. */
static void at_budget(void **state)
{
    (void)state;
    reset(&at.fake); /* the fake's own 5/s throttle is on */
    rg_option opts[] = {OPT("base_id", AT_BASE), OPT("base_url", at.fake.url),
                        OPT("access_token", AT_PAT)};
    void *c2 = connect_with(&at, opts, 3, RG_OK);
    tq q;
    rg_error err;
    for (int i = 0; i < 4; i++) {
        tq_init(&q, &at.coll, 5);
        tq_sort_by(&q, F_NAME, i % 2);
        rg_status st = run(at.ad, i % 2 ? c2 : at.conn, &q, NULL, &err);
        if (st != RG_OK)
            fprintf(stderr, "budget query %d: %s\n", i, err.message);
        assert_int_equal(st, RG_OK);
    }
    at.ad->disconnect(c2);
    json_t *reqs = saas_fake_requests(&at.fake);
    size_t n = json_array_size(reqs);
    assert_int_equal(n, 12);
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(reqs, i);
        assert_int_equal(json_integer_value(json_object_get(r, "status")), 200);
        if (i + 5 < n) {
            double t0 = json_number_value(json_object_get(r, "time"));
            double t5 = json_number_value(json_object_get(json_array_get(reqs, i + 5), "time"));
            assert_true(t5 - t0 >= 1.0);
        }
    }
    json_decref(reqs);
}

/* At most requests_per_second_per_token calls per token in any second, even
   when the base budget would allow more: two connections with one token
   share one budget. */
static void at_token_budget(void **state)
{
    (void)state;
    reset(&at.fake);
    rg_option opts[] = {OPT("base_id", AT_BASE),
                        OPT("base_url", at.fake.url),
                        OPT("access_token", AT_PAT),
                        OPT("requests_per_second", "1000"),
                        OPT("requests_per_second_per_token", "2")};
    void *c1 = connect_with(&at, opts, 5, RG_OK);
    void *c2 = connect_with(&at, opts, 5, RG_OK);
    tq q;
    rg_error err;
    double t0 = now_s();
    for (int i = 0; i < 6; i++) {
        tq_init(&q, &at.coll, 5);
        rg_status st = run(at.ad, i % 2 ? c2 : c1, &q, NULL, &err);
        if (st != RG_OK)
            fprintf(stderr, "token budget query %d: %s\n", i, err.message);
        assert_int_equal(st, RG_OK);
    }
    /* Six one-request queries at two per second: at least two full windows. */
    assert_true(now_s() - t0 >= 2.0);
    json_t *reqs = saas_fake_requests(&at.fake);
    size_t n = json_array_size(reqs);
    assert_int_equal(n, 6);
    for (size_t i = 0; i + 2 < n; i++) {
        double a0 = json_number_value(json_object_get(json_array_get(reqs, i), "time"));
        double a2 = json_number_value(json_object_get(json_array_get(reqs, i + 2), "time"));
        assert_true(a2 - a0 >= 1.0);
    }
    json_decref(reqs);

    /* A deadline shorter than the wait: unavailable at once, naming the budget. */
    tq_init(&q, &at.coll, 5);
    q.plan.timeout_ms = 50;
    rg_status st = RG_OK;
    for (int i = 0; i < 3 && st == RG_OK; i++)
        st = run(at.ad, c1, &q, NULL, &err);
    assert_int_equal(st, RG_ERR_UNAVAILABLE);
    assert_non_null(strstr(err.message, "per access token"));
    at.ad->disconnect(c1);
    at.ad->disconnect(c2);
}

/* After a 429, no call reaches the base for 30 s; answers come at once. */
static void at_penalty(void **state)
{
    (void)state;
    saas_fake other;
    const char *extra[] = {"--pat", AT_PAT, NULL};
    assert_int_equal(saas_fake_start(&other, RG_SOURCE_DIR, "airtable", extra), 0);
    rg_option opts[] = {OPT("base_id", AT_BASE), OPT("base_url", other.url),
                        OPT("access_token", AT_PAT)};
    void *c = connect_with(&at, opts, 3, RG_OK);
    fault(&other, json_pack("{s:i}", "status", 429));
    tq q;
    tq_init(&q, &at.coll, 5);
    rg_error err;
    assert_int_equal(run(at.ad, c, &q, NULL, &err), RG_ERR_UNAVAILABLE);
    assert_non_null(strstr(err.message, "429"));
    assert_non_null(strstr(err.message, "30 s"));
    assert_int_equal(nrequests(&other), 1);
    /* The fake would answer now; the adapter must not ask. */
    double t0 = now_s();
    for (int i = 0; i < 3; i++) {
        assert_int_equal(run(at.ad, c, &q, NULL, &err), RG_ERR_UNAVAILABLE);
        assert_non_null(strstr(err.message, "s left"));
    }
    assert_int_equal(at.ad->ping(c, &err), RG_ERR_UNAVAILABLE);
    assert_true(now_s() - t0 < 0.5);
    assert_int_equal(nrequests(&other), 1);
    /* Another connection to the same base shares the penalty. */
    void *c2 = connect_with(&at, opts, 3, RG_OK);
    assert_int_equal(run(at.ad, c2, &q, NULL, &err), RG_ERR_UNAVAILABLE);
    assert_int_equal(nrequests(&other), 1);
    at.ad->disconnect(c2);
    at.ad->disconnect(c);
    saas_fake_stop(&other);
}

static void at_options(void **state)
{
    (void)state;
    rg_option bad1[] = {OPT("base_url", "http://x")};
    rg_option bad2[] = {OPT("base_id", "app x")};
    rg_option bad3[] = {OPT("base_id", AT_BASE), OPT("base_url", "ftp://x")};
    rg_option bad4[] = {OPT("base_id", AT_BASE), OPT("color", "red")};
    rg_option good[] = {OPT("base_id", AT_BASE)};
    const rg_option *all[] = {bad1, bad2, bad3, bad4};
    size_t ns[] = {1, 1, 2, 2};
    rg_error err;
    for (size_t i = 0; i < 4; i++) {
        rg_source_info src = {.struct_size = sizeof src, .options = all[i], .noptions = ns[i]};
        assert_int_equal(at.ad->check_options(&src, &err), RG_ERR_CONFIG);
    }
    rg_source_info src = {.struct_size = sizeof src, .options = good, .noptions = 1};
    assert_int_equal(at.ad->check_options(&src, &err), RG_OK);
}

/* ================================================================== sheets */

static world sh;
#define SHEET_ID "1RGfakeSpreadsheet0000000000000000000000000"

static int sh_setup(void **state)
{
    (void)state;
    sh.ad = load("sheets", &sh.dl);
    if (!sh.ad || saas_fake_start(&sh.fake, RG_SOURCE_DIR, "google", NULL) != 0)
        return -1;
    sh.coll = make_coll(table_fields, "products!A1:Z");
    sh.token = saas_fake_mint(&sh.fake, "user-main");
    return sh.token ? 0 : -1;
}

static int sh_teardown(void **state)
{
    (void)state;
    saas_fake_stop(&sh.fake);
    free(sh.token);
    dlclose(sh.dl);
    return 0;
}

static void *sh_connect(const char *token, const char *ttl)
{
    rg_option opts[] = {OPT("spreadsheet_id", SHEET_ID), OPT("base_url", sh.fake.url),
                        OPT("access_token", token), OPT("cache_ttl_s", ttl)};
    return connect_with(&sh, opts, 4, RG_OK);
}

static void sh_request_and_cache(void **state)
{
    (void)state;
    reset(&sh.fake);
    void *c1 = sh_connect(sh.token, "1"), *c2 = sh_connect(sh.token, "1");
    tq q;
    tq_init(&q, &sh.coll, 3);
    tq_str(&q, F_NAME, RG_OP_CONTAINS, "\xc3\xa9mile");
    json_t *rows;
    rg_error err;
    assert_int_equal(run(sh.ad, c1, &q, &rows, &err), RG_OK);
    char ids[256];
    ids_of(rows, ids, sizeof ids);
    assert_string_equal(ids, "6");
    json_decref(rows);
    json_t *reqs = saas_fake_requests(&sh.fake);
    assert_int_equal(json_array_size(reqs), 1);
    json_t *r = json_array_get(reqs, 0);
    assert_string_equal(json_string_value(json_object_get(r, "path")),
                        "/v4/spreadsheets/" SHEET_ID "/values:batchGet");
    json_t *qs = json_object_get(r, "query");
    assert_string_equal(json_string_value(json_array_get(json_object_get(qs, "ranges"), 0)),
                        "products!A1:Z");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(qs, "valueRenderOption"), 0)),
        "UNFORMATTED_VALUE");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(qs, "dateTimeRenderOption"), 0)),
        "FORMATTED_STRING");
    assert_string_equal(json_string_value(json_array_get(json_object_get(qs, "majorDimension"), 0)),
                        "ROWS");
    json_decref(reqs);
    /* Another connection of the process: served from the cache. */
    tq_init(&q, &sh.coll, 2);
    tq_sort_by(&q, F_UPDATED, 1);
    assert_int_equal(run(sh.ad, c2, &q, &rows, &err), RG_OK);
    assert_int_equal(json_array_size(rows), 2);
    json_decref(rows);
    assert_int_equal(nrequests(&sh.fake), 1);
    /* After the TTL: read again. */
    struct timespec ts = {1, 100000000};
    nanosleep(&ts, NULL);
    assert_int_equal(run(sh.ad, c2, &q, NULL, &err), RG_OK);
    assert_int_equal(nrequests(&sh.fake), 2);
    sh.ad->disconnect(c1);
    sh.ad->disconnect(c2);
}

/* 60 reads per minute per user: the 61st is never sent. */
static void sh_quota(void **state)
{
    (void)state;
    reset(&sh.fake);
    char *tok = saas_fake_mint(&sh.fake, "user-quota");
    void *c = sh_connect(tok, "0");
    tq q;
    tq_init(&q, &sh.coll, 1);
    rg_error err;
    for (int i = 0; i < 60; i++)
        assert_int_equal(run(sh.ad, c, &q, NULL, &err), RG_OK);
    assert_int_equal(nrequests(&sh.fake), 60);
    /* Budget spent: the copy read last is served, nothing is sent. */
    json_t *rows;
    assert_int_equal(run(sh.ad, c, &q, &rows, &err), RG_OK);
    assert_int_equal(json_array_size(rows), 1);
    json_decref(rows);
    assert_int_equal(nrequests(&sh.fake), 60);
    /* Another range of the same user has no copy: unavailable, at once. */
    rg_collection_desc other = make_coll(table_fields, "products!A1:J");
    tq_init(&q, &other, 1);
    double t0 = now_s();
    assert_int_equal(run(sh.ad, c, &q, NULL, &err), RG_ERR_UNAVAILABLE);
    assert_true(now_s() - t0 < 0.5);
    assert_non_null(strstr(err.message, "60 reads per minute"));
    assert_int_equal(nrequests(&sh.fake), 60);
    json_t *reqs = saas_fake_requests(&sh.fake);
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r) assert_int_equal(
        json_integer_value(json_object_get(r, "status")), 200);
    json_decref(reqs);
    sh.ad->disconnect(c);
    free(tok);
}

/* 429 RESOURCE_EXHAUSTED: the stale copy if there is one, else unavailable. */
static void sh_resource_exhausted(void **state)
{
    (void)state;
    char *tok = saas_fake_mint(&sh.fake, "user-429");
    void *c = sh_connect(tok, "0");
    tq q;
    tq_init(&q, &sh.coll, 2);
    rg_error err;
    assert_int_equal(run(sh.ad, c, &q, NULL, &err), RG_OK);
    fault(&sh.fake, json_pack("{s:i}", "status", 429));
    json_t *rows;
    assert_int_equal(run(sh.ad, c, &q, &rows, &err), RG_OK);
    assert_int_equal(json_array_size(rows), 2);
    json_decref(rows);
    rg_collection_desc other = make_coll(table_fields, "products!A1:K");
    char *tok2 = saas_fake_mint(&sh.fake, "user-429b");
    void *c2 = sh_connect(tok2, "0");
    fault(&sh.fake, json_pack("{s:i}", "status", 429));
    tq_init(&q, &other, 2);
    assert_int_equal(run(sh.ad, c2, &q, NULL, &err), RG_ERR_UNAVAILABLE);
    assert_non_null(strstr(err.message, "RESOURCE_EXHAUSTED"));
    sh.ad->disconnect(c);
    sh.ad->disconnect(c2);
    free(tok);
    free(tok2);
}

static void sh_errors(void **state)
{
    (void)state;
    static const struct {
        int status;
        rg_status want;
    } cases[] = {{401, RG_ERR_AUTH},     {403, RG_ERR_CONFIG},       {404, RG_ERR_CONFIG},
                 {500, RG_ERR_UPSTREAM}, {503, RG_ERR_UNAVAILABLE}};
    char *tok = saas_fake_mint(&sh.fake, "user-errors");
    void *c = sh_connect(tok, "0");
    tq q;
    rg_error err;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fault(&sh.fake, json_pack("{s:i}", "status", cases[i].status));
        tq_init(&q, &sh.coll, 2);
        rg_status st = run(sh.ad, c, &q, NULL, &err);
        if (st != cases[i].want)
            fprintf(stderr, "HTTP %d: %d %s\n", cases[i].status, st, err.message);
        assert_int_equal(st, cases[i].want);
        assert_non_null(strstr(err.message, "Google Sheets"));
    }
    fault(&sh.fake, json_pack("{s:f}", "delay_s", 2.0));
    tq_init(&q, &sh.coll, 2);
    q.plan.timeout_ms = 300;
    assert_int_equal(run(sh.ad, c, &q, NULL, &err), RG_ERR_TIMEOUT);
    json_decref(saas_fake_control(&sh.fake, "config", json_pack("{s:b}", "clear_faults", 1)));
    /* A range Google cannot parse, a header without the column. */
    rg_collection_desc bad = make_coll(table_fields, "nosheet!A1:B");
    tq_init(&q, &bad, 2);
    assert_int_equal(run(sh.ad, c, &q, NULL, &err), RG_ERR_CONFIG);
    assert_non_null(strstr(err.message, "Unable to parse range"));
    rg_field_desc fields[NF];
    memcpy(fields, table_fields, sizeof fields);
    fields[F_NAME].column = "Title";
    rg_collection_desc nohead = make_coll(fields, "products!A1:Z");
    tq_init(&q, &nohead, 2);
    assert_int_equal(run(sh.ad, c, &q, NULL, &err), RG_ERR_CONFIG);
    assert_non_null(strstr(err.message, "no column 'Title'"));
    sh.ad->disconnect(c);
    /* A revoked or unknown token: 401 UNAUTHENTICATED. */
    c = sh_connect("ya29.unknown", "0");
    tq_init(&q, &sh.coll, 2);
    assert_int_equal(run(sh.ad, c, &q, NULL, &err), RG_ERR_AUTH);
    sh.ad->disconnect(c);
    free(tok);
}

/* ================================================================== shopify */

static world sp;

static int sp_setup(void **state)
{
    (void)state;
    sp.ad = load("shopify", &sp.dl);
    if (!sp.ad || saas_fake_start(&sp.fake, RG_SOURCE_DIR, "shopify", NULL) != 0)
        return -1;
    sp.coll = make_coll(shop_fields, "products");
    sp.token = saas_fake_mint(&sp.fake, "shop-main");
    if (!sp.token)
        return -1;
    rg_option opts[] = {OPT("shop", "demo-shop.myshopify.com"), OPT("base_url", sp.fake.url),
                        OPT("access_token", sp.token)};
    sp.conn = connect_with(&sp, opts, 3, RG_OK);
    return 0;
}

static int sp_teardown(void **state)
{
    (void)state;
    if (sp.conn)
        sp.ad->disconnect(sp.conn);
    saas_fake_stop(&sp.fake);
    free(sp.token);
    dlclose(sp.dl);
    return 0;
}

/* The search string of w's last request (NULL when none was sent). */
static char *last_search(const world *w, json_t **doc_out)
{
    json_t *b = last_body(&w->fake);
    const char *s = json_string_value(json_object_get(json_object_get(b, "variables"), "query"));
    char *out = s ? strdup(s) : NULL;
    if (doc_out)
        *doc_out = json_incref(json_object_get(b, "query"));
    json_decref(b);
    return out;
}

/* Runs q on w's connection: the ids and the exact search string sent. */
static void expect_in(const world *w, tq *q, const char *want_ids, const char *want_search)
{
    json_t *rows;
    rg_error err;
    rg_status st = run(w->ad, w->conn, q, &rows, &err);
    if (st != RG_OK)
        fprintf(stderr, "query: %s\n", err.message);
    assert_int_equal(st, RG_OK);
    char ids[512];
    ids_of(rows, ids, sizeof ids);
    assert_string_equal(ids, want_ids);
    json_decref(rows);
    json_t *doc = NULL;
    char *s = last_search(w, &doc);
    if (want_search) {
        if (!s || strcmp(s, want_search))
            fprintf(stderr, "search: got [%s]\n  want [%s]\n", s ? s : "(none)", want_search);
        assert_non_null(s);
        assert_string_equal(s, want_search);
    } else {
        assert_null(s);
    }
    /* The document never carries a value: it is the same fixed text. */
    assert_null(strstr(json_string_value(doc), "OR"));
    assert_null(strstr(json_string_value(doc), "\\"));
    json_decref(doc);
    free(s);
}

static void sp_expect(tq *q, const char *want_ids, const char *want_search)
{
    expect_in(&sp, q, want_ids, want_search);
}

/*
 * What both Shopify APIs search the same way: title and vendor values
 * quoted and escaped, punctuation-only values and `contains` left to memory,
 * date bounds one day wider, a control character refused before any
 * request. `in_numbers` is the search string for vendor in [Acme, acme],
 * stock between 3 and 5, price >= 49.99 and name contains SNEAK, whose
 * search fields differ by API.
 */
static void shopify_hostile_values(const world *w, const char *in_numbers)
{
    tq q;
    tq_init(&q, &w->coll, 50);
    tq_str(&q, F_NAME, RG_OP_EQ, "' OR 1=1 --");
    expect_in(w, &q, "9", "title:\"' OR 1=1 --\"");

    tq_init(&q, &w->coll, 50);
    tq_str(&q, F_BRAND, RG_OP_EQ, "Say \"hi\"");
    expect_in(w, &q, "13", "vendor:\"Say \\\"hi\\\"\"");

    tq_init(&q, &w->coll, 50);
    tq_str(&q, F_NAME, RG_OP_EQ, "back\\slash belt");
    expect_in(w, &q, "12", "title:\"back\\\\slash belt\"");

    tq_init(&q, &w->coll, 50);
    tq_str(&q, F_NAME, RG_OP_EQ, "a\\\" OR vendor:x) (title:* $gt {} '\xc3\xbc");
    expect_in(w, &q, "", "title:\"a\\\\\\\" OR vendor:x) (title:* $gt {} '\xc3\xbc\"");

    /* Punctuation only: Shopify's tokenizer could drop it, so it is not
       sent; the answer is still exact. */
    tq_init(&q, &w->coll, 50);
    tq_str(&q, F_BRAND, RG_OP_EQ, "%");
    expect_in(w, &q, "23", NULL);

    /* in, numbers, and operators left to memory (contains, ne). */
    tq_init(&q, &w->coll, 50);
    rg_value in[] = {str_value(RG_TYPE_STRING, "Acme"), str_value(RG_TYPE_STRING, "acme")};
    tq_filter(&q, F_BRAND, RG_OP_IN, in, 2);
    rg_value b[] = {{.struct_size = sizeof(rg_value), .type = RG_TYPE_INTEGER, .u.i = 3},
                    {.struct_size = sizeof(rg_value), .type = RG_TYPE_INTEGER, .u.i = 5}};
    tq_filter(&q, F_STOCK, RG_OP_BETWEEN, b, 2);
    rg_value p = {.struct_size = sizeof(rg_value), .type = RG_TYPE_NUMBER, .u.n = 49.99};
    tq_filter(&q, F_PRICE, RG_OP_GTE, &p, 1);
    tq_str(&q, F_NAME, RG_OP_CONTAINS, "SNEAK");
    expect_in(w, &q, "1,4", in_numbers);

    tq_init(&q, &w->coll, 50);
    tq_str(&q, F_RELEASED, RG_OP_EQ, "2024-01-10");
    expect_in(w, &q, "1,2", "created_at:>=2024-01-09 AND created_at:<=2024-01-11");

    /* A control character cannot be carried: refused before any request. */
    size_t before = nrequests(&w->fake);
    tq_init(&q, &w->coll, 50);
    tq_str(&q, F_NAME, RG_OP_EQ, "a\x01" "b");
    rg_error err;
    assert_int_equal(run(w->ad, w->conn, &q, NULL, &err), RG_ERR_CONFIG);
    assert_int_equal(nrequests(&w->fake), before);
}

static void sp_hostile_values(void **state)
{
    (void)state;
    shopify_hostile_values(&sp, "(vendor:\"Acme\" OR vendor:\"acme\") AND inventory_total:>=3 AND "
                                "inventory_total:<=5 AND price:>=49.99");
}

static void sp_paging(void **state)
{
    (void)state;
    /* The full reads above drained the bucket; a big one for this test (the
       adapter learns it from the first answer). */
    reset(&sp.fake);
    json_decref(saas_fake_control(&sp.fake, "config",
                                  json_pack("{s:{s:i,s:i}}", "throttle", "maximum_available",
                                            100000, "restore_rate", 100000)));
    tq q;
    tq_init(&q, &sp.coll, 1);
    sp_expect(&q, "1", NULL);
    reset(&sp.fake);
    json_decref(saas_fake_control(&sp.fake, "config",
                                  json_pack("{s:{s:i,s:i}}", "throttle", "maximum_available",
                                            100000, "restore_rate", 100000)));
    tq_init(&q, &sp.coll, 4);
    sp_expect(&q, "1,2,3,4", NULL);
    assert_int_equal(nrequests(&sp.fake), 1);
    json_t *b = last_body(&sp.fake);
    json_t *v = json_object_get(b, "variables");
    assert_int_equal(json_integer_value(json_object_get(v, "first")), 4);
    assert_string_equal(json_string_value(json_object_get(v, "sortKey")), "ID");
    json_decref(b);
    q.after[0] = (rg_value){.struct_size = sizeof(rg_value), .type = RG_TYPE_INTEGER, .u.i = 296};
    q.plan.after = q.after;
    q.sort[0].desc = 1;
    sp_expect(&q, "295,294,293,292", "id:<296");
    /* Another order: every product through Relay cursors. */
    size_t before = nrequests(&sp.fake);
    tq_init(&q, &sp.coll, 2);
    tq_sort_by(&q, F_UPDATED, 1);
    json_t *rows;
    rg_error err;
    rg_status st = run(sp.ad, sp.conn, &q, &rows, &err);
    if (st != RG_OK)
        fprintf(stderr, "query: %s\n", err.message);
    assert_int_equal(st, RG_OK);
    assert_int_equal(json_array_size(rows), 2);
    json_decref(rows);
    json_t *reqs = saas_fake_requests(&sp.fake);
    assert_true(json_array_size(reqs) >= before + 2);
    json_t *second = json_loads(
        json_string_value(json_object_get(json_array_get(reqs, before + 1), "body")), 0, NULL);
    assert_true(json_is_string(json_object_get(json_object_get(second, "variables"), "after")));
    json_decref(second);
    json_decref(reqs);
}

/* The cost bucket: waited for before sending, bounded by the deadline. */
static void sp_throttle(void **state)
{
    (void)state;
    reset(&sp.fake);
    json_decref(saas_fake_control(
        &sp.fake, "config",
        json_pack("{s:{s:i,s:i}}", "throttle", "maximum_available", 100, "restore_rate", 50)));
    json_decref(saas_fake_control(&sp.fake, "config", json_pack("{s:i}", "currently_available", 0)));
    tq q;
    tq_init(&q, &sp.coll, 3);
    q.columns[0] = F_ID;
    q.columns[1] = F_NAME;
    q.plan.ncolumns = 2;
    json_t *rows;
    rg_error err;
    /* The adapter does not know the bucket yet: THROTTLED, then it waits. */
    assert_int_equal(run(sp.ad, sp.conn, &q, &rows, &err), RG_OK);
    assert_int_equal(json_array_size(rows), 3);
    json_decref(rows);
    json_t *reqs = saas_fake_requests(&sp.fake);
    assert_int_equal(json_array_size(reqs), 2);
    double t0 = json_number_value(json_object_get(json_array_get(reqs, 0), "time"));
    double t1 = json_number_value(json_object_get(json_array_get(reqs, 1), "time"));
    assert_true(t1 - t0 >= 0.05); /* 5 points at 50/s: 0.1 s, less latency */
    json_decref(reqs);
    /* Now it knows: empty the bucket, the next query waits without being
       throttled (one request, sent after the refill). */
    reset(&sp.fake);
    json_decref(saas_fake_control(
        &sp.fake, "config",
        json_pack("{s:{s:i,s:i}}", "throttle", "maximum_available", 100, "restore_rate", 50)));
    json_decref(saas_fake_control(&sp.fake, "config", json_pack("{s:i}", "currently_available", 0)));
    q.plan.limit = 40; /* 2 + 40 points: 0.84 s of refill */
    assert_int_equal(run(sp.ad, sp.conn, &q, NULL, &err), RG_OK);
    /* First sight of the empty bucket costs one THROTTLED answer at most;
       it is then respected: a further query waits instead. */
    json_decref(saas_fake_control(&sp.fake, "config", json_pack("{s:i}", "currently_available", 0)));
    size_t before = nrequests(&sp.fake);
    double s0 = now_s();
    /* Beyond the deadline: unavailable at once, nothing sent. */
    q.plan.timeout_ms = 200;
    assert_int_equal(run(sp.ad, sp.conn, &q, NULL, &err), RG_ERR_UNAVAILABLE);
    assert_non_null(strstr(err.message, "cost budget"));
    assert_true(now_s() - s0 < 0.3);
    assert_int_equal(nrequests(&sp.fake), before);
    json_decref(saas_fake_control(&sp.fake, "config",
                                  json_pack("{s:{s:i,s:i}}", "throttle", "maximum_available",
                                            1000, "restore_rate", 1000)));
}

/* A provider answer with `status` maps to `want`, for both Shopify APIs. */
typedef struct status_case {
    int status;
    rg_status want;
} status_case;

static void expect_statuses(const world *w, const status_case *cases, size_t n)
{
    tq q;
    rg_error err;
    for (size_t i = 0; i < n; i++) {
        fault(&w->fake, json_pack("{s:i}", "status", cases[i].status));
        tq_init(&q, &w->coll, 2);
        rg_status st = run(w->ad, w->conn, &q, NULL, &err);
        if (st != cases[i].want)
            fprintf(stderr, "HTTP %d: %d %s\n", cases[i].status, st, err.message);
        assert_int_equal(st, cases[i].want);
        assert_non_null(strstr(err.message, "Shopify"));
    }
}

static void sp_errors(void **state)
{
    (void)state;
    reset(&sp.fake);
    static const status_case cases[] = {
        {401, RG_ERR_AUTH},        {403, RG_ERR_CONFIG},   {404, RG_ERR_CONFIG},
        {429, RG_ERR_UNAVAILABLE}, {500, RG_ERR_UPSTREAM}, {503, RG_ERR_UNAVAILABLE}};
    expect_statuses(&sp, cases, sizeof cases / sizeof cases[0]);
    tq q;
    rg_error err;
    /* THROTTLED again and again: given up, unavailable. */
    fault(&sp.fake, json_pack("{s:s,s:i}", "kind", "throttled", "count", 10));
    tq_init(&q, &sp.coll, 2);
    assert_int_equal(run(sp.ad, sp.conn, &q, NULL, &err), RG_ERR_UNAVAILABLE);
    json_decref(saas_fake_control(&sp.fake, "config", json_pack("{s:b}", "clear_faults", 1)));
    fault(&sp.fake, json_pack("{s:f}", "delay_s", 2.0));
    tq_init(&q, &sp.coll, 2);
    q.plan.timeout_ms = 300;
    assert_int_equal(run(sp.ad, sp.conn, &q, NULL, &err), RG_ERR_TIMEOUT);
    json_decref(saas_fake_control(&sp.fake, "config", json_pack("{s:b}", "clear_faults", 1)));
    /* The real 401: {"errors": "[API] Invalid API key ..."}. */
    rg_option bad[] = {OPT("shop", "demo-shop.myshopify.com"), OPT("base_url", sp.fake.url),
                       OPT("access_token", "shpat_unknown")};
    void *c = connect_with(&sp, bad, 3, RG_OK);
    tq_init(&q, &sp.coll, 2);
    assert_int_equal(run(sp.ad, c, &q, NULL, &err), RG_ERR_AUTH);
    assert_non_null(strstr(err.message, "invalid API key"));
    sp.ad->disconnect(c);
    /* A wrong API version: 404. An unknown column: refused. */
    rg_option v[] = {OPT("shop", "demo-shop.myshopify.com"), OPT("base_url", sp.fake.url),
                     OPT("access_token", sp.token), OPT("api_version", "2019-13")};
    connect_with(&sp, v, 4, RG_ERR_CONFIG);
    rg_field_desc fields[NF];
    memcpy(fields, shop_fields, sizeof fields);
    fields[F_NAME].column = "bodyHtml";
    rg_collection_desc coll = make_coll(fields, "products");
    tq_init(&q, &coll, 2);
    assert_int_equal(run(sp.ad, sp.conn, &q, NULL, &err), RG_ERR_CONFIG);
    assert_non_null(strstr(err.message, "bodyHtml"));
    /* token_type belongs to the Storefront API. */
    rg_option tt[] = {OPT("shop", "demo-shop.myshopify.com"), OPT("token_type", "private")};
    rg_source_info src = {.struct_size = sizeof src, .options = tt, .noptions = 2};
    assert_int_equal(sp.ad->check_options(&src, &err), RG_ERR_CONFIG);
    assert_non_null(strstr(err.message, "token_type"));
}

/* ======================================================= shopify storefront */

/* The same adapter with `api: storefront`: Storefront API columns, the
   fake's /api/{version}/graphql.json, a private (delegate) token. */
static rg_field_desc storefront_fields[NF] = {
    FIELD("id", "id", RG_TYPE_INTEGER),
    FIELD("name", "title", RG_TYPE_STRING),
    FIELD("brand", "vendor", RG_TYPE_STRING),
    FIELD("description", "description", RG_TYPE_STRING),
    FIELD("category", "productType", RG_TYPE_ENUM),
    FIELD("price", "priceRange.minVariantPrice.amount", RG_TYPE_NUMBER),
    FIELD("stock", "totalInventory", RG_TYPE_INTEGER),
    FIELD("in_stock", "availableForSale", RG_TYPE_BOOLEAN),
    FIELD("released", "createdAt", RG_TYPE_DATE),
    FIELD("updated_at", "metafield:custom.updated_at", RG_TYPE_DATETIME),
};

static world sf;

/* A Storefront token (malloc'd) of `kind` (private|public), with the fake's
   default Storefront scopes unless `scope` is given. */
static char *sf_mint(const char *kind, const char *scope)
{
    json_t *req = json_pack("{s:s,s:s}", "storefront", kind, "subject", "storefront");
    if (req && scope && json_object_set_new(req, "scope", json_string(scope)) != 0) {
        json_decref(req);
        return NULL;
    }
    json_t *t = saas_fake_control(&sf.fake, "tokens", req);
    const char *tok = json_string_value(json_object_get(t, "access_token"));
    char *out = tok ? strdup(tok) : NULL;
    json_decref(t);
    return out;
}

static int sf_setup(void **state)
{
    (void)state;
    sf.ad = load("shopify", &sf.dl);
    if (!sf.ad || saas_fake_start(&sf.fake, RG_SOURCE_DIR, "shopify", NULL) != 0)
        return -1;
    sf.coll = make_coll(storefront_fields, "products");
    sf.token = sf_mint("private", NULL);
    if (!sf.token)
        return -1;
    rg_option opts[] = {OPT("shop", "demo-shop.myshopify.com"), OPT("base_url", sf.fake.url),
                        OPT("api", "storefront"), OPT("access_token", sf.token)};
    sf.conn = connect_with(&sf, opts, 4, RG_OK);
    return 0;
}

static int sf_teardown(void **state)
{
    (void)state;
    if (sf.conn)
        sf.ad->disconnect(sf.conn);
    saas_fake_stop(&sf.fake);
    free(sf.token);
    dlclose(sf.dl);
    return 0;
}

static void sf_expect(tq *q, const char *want_ids, const char *want_search)
{
    expect_in(&sf, q, want_ids, want_search);
}

/* The endpoint, the token header and the Storefront document. */
static void sf_request_shape(void **state)
{
    (void)state;
    reset(&sf.fake);
    tq q;
    tq_init(&q, &sf.coll, 3);
    sf_expect(&q, "1,2,3", NULL);
    json_t *reqs = saas_fake_requests(&sf.fake);
    assert_int_equal(json_array_size(reqs), 1);
    json_t *r = json_array_get(reqs, 0);
    assert_string_equal(json_string_value(json_object_get(r, "path")), "/api/2025-01/graphql.json");
    assert_int_equal(json_integer_value(json_object_get(r, "status")), 200);
    json_t *h = json_object_get(r, "headers");
    /* Recorded hashed, never in clear. */
    const char *priv = json_string_value(json_object_get(h, "Shopify-Storefront-Private-Token"));
    assert_non_null(priv);
    assert_int_equal(strncmp(priv, "sha256:", 7), 0);
    assert_null(strstr(priv, sf.token));
    assert_null(json_object_get(h, "X-Shopify-Storefront-Access-Token"));
    assert_null(json_object_get(h, "X-Shopify-Access-Token"));
    json_decref(reqs);
    json_t *b = last_body(&sf.fake);
    const char *doc = json_string_value(json_object_get(b, "query"));
    assert_non_null(doc);
    assert_non_null(strstr(doc, " priceRange { minVariantPrice { amount } }"));
    assert_non_null(strstr(doc, " availableForSale"));
    assert_non_null(strstr(doc, " totalInventory"));
    assert_null(strstr(doc, "priceRangeV2"));
    assert_null(strstr(doc, "legacyResourceId"));
    json_t *v = json_object_get(b, "variables");
    assert_int_equal(json_integer_value(json_object_get(v, "first")), 3);
    assert_string_equal(json_string_value(json_object_get(v, "sortKey")), "ID");
    assert_string_equal(json_string_value(json_object_get(v, "mfns0")), "custom");
    assert_string_equal(json_string_value(json_object_get(v, "mfkey0")), "updated_at");
    json_decref(b);
}

static void sf_hostile_values(void **state)
{
    (void)state;
    /* No inventory search field: the stock range is evaluated in memory;
       prices go to Shopify as variants.price. */
    shopify_hostile_values(&sf, "(vendor:\"Acme\" OR vendor:\"acme\") AND variants.price:>=49.99");

    /* The boolean search field and the product type. */
    tq q;
    tq_init(&q, &sf.coll, 50);
    rg_value no = {.struct_size = sizeof(rg_value), .type = RG_TYPE_BOOLEAN, .u.b = 0};
    tq_filter(&q, F_IN_STOCK, RG_OP_EQ, &no, 1);
    tq_str(&q, F_CATEGORY, RG_OP_EQ, "boots");
    sf_expect(&q, "44,49,57,171,186,192,223,252,268",
              "available_for_sale:false AND product_type:\"boots\"");

    /* product_type reads a comma-separated list: a value with a comma would
       match its parts alone, so it stays in memory. */
    tq_init(&q, &sf.coll, 50);
    tq_filter(&q, F_IN_STOCK, RG_OP_EQ, &no, 1);
    tq_str(&q, F_CATEGORY, RG_OP_EQ, "boots,hats");
    sf_expect(&q, "", "available_for_sale:false");

    /* Hostile text in the list field: quoted and escaped like any value. */
    tq_init(&q, &sf.coll, 50);
    tq_str(&q, F_CATEGORY, RG_OP_EQ, "x\" OR title:*");
    sf_expect(&q, "", "product_type:\"x\\\" OR title:*\"");
}

static void sf_paging(void **state)
{
    (void)state;
    reset(&sf.fake);
    /* Ordered by id: sortKey ID, a page of the limit, one request. */
    tq q;
    tq_init(&q, &sf.coll, 4);
    sf_expect(&q, "1,2,3,4", NULL);
    assert_int_equal(nrequests(&sf.fake), 1);
    /* After a position: no id search field, so nothing is added to the
       search string; whole pages from the start (reverse), the rows before
       the position dropped in memory. */
    q.after[0] = (rg_value){.struct_size = sizeof(rg_value), .type = RG_TYPE_INTEGER, .u.i = 296};
    q.plan.after = q.after;
    q.sort[0].desc = 1;
    sf_expect(&q, "295,294,293,292", NULL);
    assert_int_equal(nrequests(&sf.fake), 2);
    json_t *b = last_body(&sf.fake);
    json_t *v = json_object_get(b, "variables");
    assert_int_equal(json_integer_value(json_object_get(v, "first")), 250);
    assert_true(json_is_true(json_object_get(v, "reverse")));
    json_decref(b);
    /* Another order: every product through Relay cursors (300 products,
       pages of 250). */
    reset(&sf.fake);
    tq_init(&q, &sf.coll, 2);
    tq_sort_by(&q, F_UPDATED, 1);
    json_t *rows;
    rg_error err;
    rg_status st = run(sf.ad, sf.conn, &q, &rows, &err);
    if (st != RG_OK)
        fprintf(stderr, "query: %s\n", err.message);
    assert_int_equal(st, RG_OK);
    assert_int_equal(json_array_size(rows), 2);
    json_decref(rows);
    json_t *reqs = saas_fake_requests(&sf.fake);
    assert_int_equal(json_array_size(reqs), 2);
    json_t *first = json_loads(
        json_string_value(json_object_get(json_array_get(reqs, 0), "body")), 0, NULL);
    json_t *second = json_loads(
        json_string_value(json_object_get(json_array_get(reqs, 1), "body")), 0, NULL);
    assert_null(json_object_get(json_object_get(first, "variables"), "after"));
    assert_true(json_is_string(json_object_get(json_object_get(second, "variables"), "after")));
    json_decref(first);
    json_decref(second);
    json_decref(reqs);
}

static void sf_errors(void **state)
{
    (void)state;
    reset(&sf.fake);
    tq q;
    rg_error err;
    /* Unknown token, and a token of the other kind than token_type says:
       the Storefront 401 ({"errors":[{..."UNAUTHORIZED"}]}). */
    char *pub = sf_mint("public", NULL);
    assert_non_null(pub);
    const char *wrong[] = {"shpat_unknown", pub};
    for (size_t i = 0; i < 2; i++) {
        rg_option o[] = {OPT("shop", "demo-shop.myshopify.com"), OPT("base_url", sf.fake.url),
                         OPT("api", "storefront"), OPT("access_token", wrong[i])};
        void *c = connect_with(&sf, o, 4, RG_OK);
        tq_init(&q, &sf.coll, 2);
        assert_int_equal(run(sf.ad, c, &q, NULL, &err), RG_ERR_AUTH);
        assert_non_null(strstr(err.message, "Storefront access token"));
        sf.ad->disconnect(c);
    }
    /* The public token with token_type: public goes in its own header. */
    rg_option po[] = {OPT("shop", "demo-shop.myshopify.com"), OPT("base_url", sf.fake.url),
                      OPT("api", "storefront"), OPT("access_token", pub),
                      OPT("token_type", "public")};
    void *c = connect_with(&sf, po, 5, RG_OK);
    tq_init(&q, &sf.coll, 2);
    assert_int_equal(run(sf.ad, c, &q, NULL, &err), RG_OK);
    json_t *reqs = saas_fake_requests(&sf.fake);
    json_t *h = json_object_get(json_array_get(reqs, json_array_size(reqs) - 1), "headers");
    assert_non_null(json_object_get(h, "X-Shopify-Storefront-Access-Token"));
    assert_null(json_object_get(h, "Shopify-Storefront-Private-Token"));
    json_decref(reqs);
    sf.ad->disconnect(c);
    free(pub);
    /* An Admin API token is no Storefront token. */
    char *admin = saas_fake_mint(&sf.fake, "admin");
    assert_non_null(admin);
    rg_option ao[] = {OPT("shop", "demo-shop.myshopify.com"), OPT("base_url", sf.fake.url),
                      OPT("api", "storefront"), OPT("access_token", admin)};
    c = connect_with(&sf, ao, 4, RG_OK);
    tq_init(&q, &sf.coll, 2);
    assert_int_equal(run(sf.ad, c, &q, NULL, &err), RG_ERR_AUTH);
    sf.ad->disconnect(c);
    free(admin);
    /* Without the inventory scope totalInventory comes back null beside an
       ACCESS_DENIED error: refused, not read as NULL. */
    char *listings = sf_mint("private", "unauthenticated_read_product_listings");
    assert_non_null(listings);
    rg_option lo[] = {OPT("shop", "demo-shop.myshopify.com"), OPT("base_url", sf.fake.url),
                      OPT("api", "storefront"), OPT("access_token", listings)};
    c = connect_with(&sf, lo, 4, RG_OK);
    tq_init(&q, &sf.coll, 2);
    assert_int_equal(run(sf.ad, c, &q, NULL, &err), RG_ERR_CONFIG);
    assert_non_null(strstr(err.message, "unauthenticated_read_product_inventory"));
    /* The same token reads the other columns. */
    q.columns[0] = F_ID;
    q.columns[1] = F_NAME;
    q.plan.ncolumns = 2;
    assert_int_equal(run(sf.ad, c, &q, NULL, &err), RG_OK);
    sf.ad->disconnect(c);
    free(listings);
    /* Provider statuses: the 430 security rejection, a THROTTLED answer
       (no cost bucket to wait for), and the common ones. */
    static const status_case cases[] = {
        {401, RG_ERR_AUTH},        {403, RG_ERR_CONFIG},      {404, RG_ERR_CONFIG},
        {429, RG_ERR_UNAVAILABLE}, {430, RG_ERR_UNAVAILABLE}, {500, RG_ERR_UPSTREAM},
        {503, RG_ERR_UNAVAILABLE}};
    expect_statuses(&sf, cases, sizeof cases / sizeof cases[0]);
    fault(&sf.fake, json_pack("{s:s}", "kind", "throttled"));
    size_t before = nrequests(&sf.fake);
    tq_init(&q, &sf.coll, 2);
    assert_int_equal(run(sf.ad, sf.conn, &q, NULL, &err), RG_ERR_UNAVAILABLE);
    assert_non_null(strstr(err.message, "THROTTLED"));
    assert_int_equal(nrequests(&sf.fake), before + 1);
    /* Columns of the Admin API only: refused, naming the column. */
    static const char *admin_only[] = {"legacyResourceId", "priceRangeV2.minVariantPrice.amount",
                                       "status", "tracksInventory"};
    for (size_t i = 0; i < sizeof admin_only / sizeof admin_only[0]; i++) {
        rg_field_desc fields[NF];
        memcpy(fields, storefront_fields, sizeof fields);
        fields[F_NAME].column = admin_only[i];
        rg_collection_desc coll = make_coll(fields, "products");
        tq_init(&q, &coll, 2);
        before = nrequests(&sf.fake);
        assert_int_equal(run(sf.ad, sf.conn, &q, NULL, &err), RG_ERR_CONFIG);
        assert_non_null(strstr(err.message, admin_only[i]));
        assert_non_null(strstr(err.message, "Storefront API"));
        assert_non_null(strstr(err.message, "Admin API column"));
        assert_int_equal(nrequests(&sf.fake), before);
    }
    /* And the other way round: the Admin API has no availableForSale. */
    rg_option adm[] = {OPT("shop", "demo-shop.myshopify.com"), OPT("base_url", sf.fake.url),
                       OPT("access_token", sf.token)};
    c = connect_with(&sf, adm, 3, RG_OK);
    rg_field_desc fields[NF];
    memcpy(fields, shop_fields, sizeof fields);
    fields[F_IN_STOCK].column = "availableForSale";
    rg_collection_desc coll = make_coll(fields, "products");
    tq_init(&q, &coll, 2);
    assert_int_equal(run(sf.ad, c, &q, NULL, &err), RG_ERR_CONFIG);
    assert_non_null(strstr(err.message, "availableForSale"));
    assert_non_null(strstr(err.message, "Storefront API column"));
    sf.ad->disconnect(c);
}

/* Options of the Storefront API. */
static void sf_options(void **state)
{
    (void)state;
    static const struct {
        rg_option opts[3];
        rg_status want;
        const char *says;
    } cases[] = {
        {{OPT("shop", "demo-shop.myshopify.com"), OPT("api", "storefront"),
          OPT("token_type", "public")},
         RG_OK,
         NULL},
        {{OPT("shop", "demo-shop.myshopify.com"), OPT("api", "storefront"),
          OPT("token_type", "delegate")},
         RG_ERR_CONFIG,
         "token_type"},
        {{OPT("shop", "demo-shop.myshopify.com"), OPT("api", "Storefront"),
          OPT("api_version", "2025-01")},
         RG_ERR_CONFIG,
         "'admin' or 'storefront'"},
        {{OPT("shop", "demo-shop.myshopify.com"), OPT("api", "admin"),
          OPT("token_type", "private")},
         RG_ERR_CONFIG,
         "token_type"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rg_source_info src = {.struct_size = sizeof src, .options = cases[i].opts, .noptions = 3};
        rg_error err = {.struct_size = sizeof(rg_error)};
        assert_int_equal(sf.ad->check_options(&src, &err), cases[i].want);
        if (cases[i].says)
            assert_non_null(strstr(err.message, cases[i].says));
    }
    /* No token: an auth error that says where a Storefront token comes from. */
    rg_option none[] = {OPT("shop", "demo-shop.myshopify.com"), OPT("api", "storefront")};
    rg_source_info src = {.struct_size = sizeof src, .options = none, .noptions = 2,
                          .connect_timeout_ms = 1000};
    void *c = NULL;
    rg_error err = {.struct_size = sizeof(rg_error)};
    assert_int_equal(sf.ad->connect(&src, &c, &err), RG_ERR_AUTH);
    assert_null(c);
    assert_non_null(strstr(err.message, "Storefront access token"));
}

/* ================================================================== main */

int main(int argc, char **argv)
{
    adapters_dir = argc > 1 ? argv[1] : getenv("RG_ADAPTERS_DIR");
    if (!adapters_dir) {
        fprintf(stderr, "usage: test_saas_adapters ADAPTERS_DIR "
                        "[airtable|sheets|shopify|shopify-storefront]...\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int all = argc <= 2, failed = 0;
    for (int i = 2; i < argc || all; i++) {
        const char *which = all ? NULL : argv[i];
        if (!which || !strcmp(which, "airtable")) {
            const struct CMUnitTest t[] = {
                cmocka_unit_test(at_options),      cmocka_unit_test(at_hostile_values),
                cmocka_unit_test(at_bad_column),   cmocka_unit_test(at_paging),
                cmocka_unit_test(at_errors),       cmocka_unit_test(at_budget),
                cmocka_unit_test(at_token_budget),
                cmocka_unit_test(at_penalty),
            };
            failed |= cmocka_run_group_tests_name("airtable", t, at_setup, at_teardown);
        }
        if (!which || !strcmp(which, "sheets")) {
            const struct CMUnitTest t[] = {
                cmocka_unit_test(sh_request_and_cache), cmocka_unit_test(sh_quota),
                cmocka_unit_test(sh_resource_exhausted), cmocka_unit_test(sh_errors),
            };
            failed |= cmocka_run_group_tests_name("sheets", t, sh_setup, sh_teardown);
        }
        if (!which || !strcmp(which, "shopify")) {
            const struct CMUnitTest t[] = {
                cmocka_unit_test(sp_hostile_values), cmocka_unit_test(sp_paging),
                cmocka_unit_test(sp_throttle),       cmocka_unit_test(sp_errors),
            };
            failed |= cmocka_run_group_tests_name("shopify", t, sp_setup, sp_teardown);
        }
        if (!which || !strcmp(which, "shopify-storefront")) {
            const struct CMUnitTest t[] = {
                cmocka_unit_test(sf_options),        cmocka_unit_test(sf_request_shape),
                cmocka_unit_test(sf_hostile_values), cmocka_unit_test(sf_paging),
                cmocka_unit_test(sf_errors),
            };
            failed |= cmocka_run_group_tests_name("shopify-storefront", t, sf_setup, sf_teardown);
        }
        if (all)
            break;
    }
    curl_global_cleanup();
    return failed ? 1 : 0;
}
