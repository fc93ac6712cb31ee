/*
 * The mysql adapter beyond the conformance suite: option checks (no server
 * needed), and against a MariaDB started by tests/mariadb.sh (RG_TEST_MYSQL_DIR
 * and RG_TEST_MYSQL_PORT set, as scripts/test.sh does): credentials, the
 * read-only session, byte-order comparison on latin1 and PAD SPACE columns,
 * column types the fixture lacks, a lost connection, the statement-timeout cap
 * and the bounded statement cache.
 *
 * Usage: test_mysql_adapter ADAPTERS_DIR   (or env RG_ADAPTERS_DIR)
 */
#include <dlfcn.h>
#include <mysql.h>
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
static void *dl;
static const rg_adapter *ad;
static char socket_path[512];
static char port[16];
static const char *reader_password;

static int load(void **state)
{
    (void)state;
    ad = rg_test_load_adapter(adapters_dir, "mysql", &dl);
    if (!ad || !ad->check_options)
        return -1;
    return 0;
}

static int unload(void **state)
{
    (void)state;
    if (dl)
        dlclose(dl);
    dl = NULL;
    return 0;
}

static rg_source_info source(const rg_option *opts, size_t n)
{
    rg_source_info s = {.struct_size = sizeof s, .site_id = "test0001", .source_name = "my",
                        .options = opts, .noptions = n, .connect_timeout_ms = 2000,
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
    rg_option good[] = {OPT("host", "db.example.com"), OPT("port", "3307"),
                        OPT("user", "reader"),         OPT("password", "pw"),
                        OPT("database", "shop"),       OPT("statement_timeout_ms", "1500")};
    rg_source_info s = source(good, 6);
    assert_int_equal(ad->check_options(&s, &err), RG_OK);
    rg_option sock[] = {OPT("unix_socket", "run/mysqld.sock"), OPT("user", "r"),
                        OPT("database", "d")};
    s = source(sock, 3);
    assert_int_equal(ad->check_options(&s, &err), RG_OK);

    refused((rg_option[]){OPT("dsn", "x"), OPT("user", "r"), OPT("database", "d")}, 3,
            "unknown option 'dsn'");
    refused((rg_option[]){OPT("host", "h"), OPT("unix_socket", "/s"), OPT("user", "r"),
                          OPT("database", "d")},
            4, "exclude each other");
    refused((rg_option[]){OPT("user", "r"), OPT("database", "d")}, 2, "'host'");
    refused((rg_option[]){OPT("unix_socket", "/s"), OPT("port", "3306"), OPT("user", "r"),
                          OPT("database", "d")},
            4, "'port' applies only with 'host'");
    refused(
        (rg_option[]){OPT("host", "h"), OPT("port", "0"), OPT("user", "r"), OPT("database", "d")},
        4, "'port'");
    refused((rg_option[]){OPT("host", "h"), OPT("port", "65536"), OPT("user", "r"),
                          OPT("database", "d")},
            4, "'port'");
    refused((rg_option[]){OPT("host", "h"), OPT("port", "33o6"), OPT("user", "r"),
                          OPT("database", "d")},
            4, "'port'");
    refused((rg_option[]){OPT("host", "h:3306/x"), OPT("user", "r"), OPT("database", "d")}, 3,
            "'host'");
    refused((rg_option[]){OPT("host", "h"), OPT("database", "d")}, 2, "'user'");
    refused((rg_option[]){OPT("host", "h"), OPT("user", "r")}, 2, "'database'");
    refused((rg_option[]){OPT("host", "h"), OPT("user", "r"), OPT("database", "d"),
                          OPT("statement_timeout_ms", "-5")},
            4, "'statement_timeout_ms'");

    /* A password that is still encrypted is a configuration error, not a
       failed login; nothing is sent anywhere. */
    rg_option enc[] = {OPT("host", "127.0.0.1"), OPT("port", "1"), OPT("user", "r"),
                       OPT("database", "d"), OPT("password", "enc:v1:k1:aaaa:bbbb:cccc")};
    s = source(enc, 5);
    void *conn = (void *)1;
    assert_int_equal(ad->connect(&s, &conn, &err), RG_ERR_CONFIG);
    assert_null(conn);
    assert_non_null(strstr(err.message, "encrypted"));

    /* Nothing listens on port 1: unavailable, at once. */
    s.noptions = 4;
    conn = (void *)1;
    assert_int_equal(ad->connect(&s, &conn, &err), RG_ERR_UNAVAILABLE);
    assert_null(conn);
}

/* ---- against MariaDB ------------------------------------------------------- */

static MYSQL *root;

static void root_sql(const char *sql)
{
    if (mysql_query(root, sql) != 0)
        fail_msg("mariadb: %s: %s", sql, mysql_error(root));
    MYSQL_RES *res = mysql_store_result(root);
    if (res)
        mysql_free_result(res);
}

static long long root_number(const char *sql)
{
    if (mysql_query(root, sql) != 0)
        fail_msg("mariadb: %s: %s", sql, mysql_error(root));
    MYSQL_RES *res = mysql_store_result(root);
    assert_non_null(res);
    MYSQL_ROW row = mysql_fetch_row(res);
    assert_non_null(row);
    long long n = row[0] ? strtoll(row[0], NULL, 10) : -1;
    mysql_free_result(res);
    return n;
}

enum { F_ID, F_NAME, F_TAG, F_OK, F_AMOUNT, F_RATIO, F_STAMP, F_NOTE, NFIELDS };

/* name is latin1 with a case-insensitive collation, tag utf8mb4 with a PAD
   SPACE one, ok is BIT(1), amount DECIMAL, ratio FLOAT, stamp TIMESTAMP(3);
   the tag column's name is hostile on purpose. */
static const rg_field_desc fields[NFIELDS] = {
    FIELD("id", "id", RG_TYPE_INTEGER),          FIELD("name", "name", RG_TYPE_STRING),
    FIELD("tag", "tag \"x\"; --", RG_TYPE_STRING), FIELD("ok", "ok", RG_TYPE_BOOLEAN),
    FIELD("amount", "amount", RG_TYPE_INTEGER),  FIELD("ratio", "ratio", RG_TYPE_NUMBER),
    FIELD("stamp", "stamp", RG_TYPE_DATETIME),   FIELD("note", "note", RG_TYPE_STRING),
};
static const size_t all_columns[NFIELDS] = {0, 1, 2, 3, 4, 5, 6, 7};
static const rg_collection_desc items = {.struct_size = sizeof(rg_collection_desc),
                                         .name = "items", .target = "rgtest_mysql.items",
                                         .fields = fields, .nfields = NFIELDS, .key_field = F_ID};

static int server_setup(void **state)
{
    if (load(state) != 0)
        return -1;
    root = mysql_init(NULL);
    if (!root || mysql_options(root, MYSQL_SET_CHARSET_NAME, "utf8mb4") != 0 ||
        !mysql_real_connect(root, "localhost", "root", "", NULL, 0, socket_path, 0)) {
        fprintf(stderr, "cannot connect as root through %s: %s\n", socket_path,
                root ? mysql_error(root) : "out of memory");
        return -1;
    }
    root_sql("SET time_zone = '+00:00'");
    root_sql("DROP DATABASE IF EXISTS rgtest_mysql");
    root_sql("CREATE DATABASE rgtest_mysql CHARACTER SET utf8mb4");
    root_sql("CREATE TABLE rgtest_mysql.items (id BIGINT PRIMARY KEY, "
             "name VARCHAR(20) CHARACTER SET latin1 COLLATE latin1_swedish_ci, "
             "`tag \"x\"; --` VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, "
             "ok BIT(1), amount DECIMAL(10,2), ratio FLOAT, stamp TIMESTAMP(3) NULL, note TEXT)");
    root_sql("INSERT INTO rgtest_mysql.items VALUES "
             "(1, 'B', 'x', b'1', 12.00, 0.5, '2024-01-02 03:04:05.678', REPEAT('n', 1000)), "
             "(2, 'a', 'x ', b'0', -3.00, 1.25, NULL, 'short'), "
             "(3, '\xc3\xa9', NULL, NULL, NULL, NULL, '1999-12-31 23:59:59', NULL), "
             "(4, 'A', 'X', b'1', 7.00, -2, '2030-06-01 00:00:00', '')");
    /* A view whose every row writes: only the read-only session stops it. */
    root_sql("CREATE TABLE rgtest_mysql.writes (n INT)");
    root_sql("CREATE FUNCTION rgtest_mysql.write_one() RETURNS INT MODIFIES SQL DATA "
             "BEGIN INSERT INTO rgtest_mysql.writes VALUES (1); RETURN 1; END");
    root_sql("CREATE VIEW rgtest_mysql.sneaky AS SELECT rgtest_mysql.write_one() AS id");
    root_sql("GRANT SELECT ON rgtest_mysql.* TO 'rg_reader'@'127.0.0.1'");
    return 0;
}

static int server_teardown(void **state)
{
    if (root) {
        if (mysql_query(root, "DROP DATABASE IF EXISTS rgtest_mysql") != 0)
            fprintf(stderr, "cleanup: %s\n", mysql_error(root));
        mysql_close(root);
        root = NULL;
    }
    unload(state);
    return 0;
}

static rg_status reader_connect(void **conn, const char *password, const char *cap,
                                rg_error *err)
{
    rg_option opts[] = {OPT("host", "127.0.0.1"),       OPT("port", port),
                        OPT("user", "rg_reader"),       OPT("password", password),
                        OPT("database", "rgtest_mysql"), OPT("statement_timeout_ms", cap)};
    rg_source_info s = source(opts, cap ? 6 : 5);
    *conn = NULL;
    return ad->connect(&s, conn, err);
}

#define MAX_ROWS 16

typedef struct collected {
    int64_t ids[MAX_ROWS];
    rg_value row[NFIELDS]; /* the last row; strings copied */
    char text[NFIELDS][1100];
    size_t nrows;
} collected;

static int collect(void *ctx, const rg_value *row, size_t n)
{
    collected *c = ctx;
    rg_value v[NFIELDS];
    if (c->nrows == MAX_ROWS || n == 0 || rg_test_row(row, n, v, NFIELDS) != 0)
        return 1;
    c->ids[c->nrows++] = v[0].u.i;
    for (size_t i = 0; i < n && i < NFIELDS; i++) {
        c->row[i] = v[i];
        if (!v[i].is_null && (v[i].type == RG_TYPE_STRING || v[i].type == RG_TYPE_DATETIME)) {
            size_t len = v[i].u.str.len < 1099 ? v[i].u.str.len : 1099;
            memcpy(c->text[i], v[i].u.str.ptr, len);
            c->text[i][len] = '\0';
            c->row[i].u.str.ptr = c->text[i];
        }
    }
    return 0;
}

static rg_status run(void *conn, const rg_collection_desc *coll, const rg_filter *f, size_t nf,
                     const rg_sort_key *sort, size_t nsort, uint32_t timeout_ms, collected *out,
                     rg_error *err)
{
    rg_query_plan p = {.struct_size = sizeof p, .collection = coll, .filters = f,
                       .nfilters = nf, .sort = sort, .nsort = nsort, .columns = all_columns,
                       .ncolumns = coll->nfields, .limit = 10, .timeout_ms = timeout_ms};
    rg_row_sink sink = {sizeof(rg_row_sink), collect, out};
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    err->struct_size = sizeof *err;
    return ad->query(conn, &p, &sink, err);
}

#define S(x) {.struct_size = sizeof(rg_value), .type = RG_TYPE_STRING, .u.str = {x, sizeof(x) - 1}}

static void test_credentials(void **state)
{
    (void)state;
    void *conn;
    rg_error err = {.struct_size = sizeof(rg_error)};
    assert_int_equal(reader_connect(&conn, "wrong-password", NULL, &err), RG_ERR_AUTH);
    assert_null(conn);
    assert_non_null(strstr(err.message, "1045"));
    assert_int_equal(reader_connect(&conn, reader_password, NULL, &err), RG_OK);
    assert_int_equal(ad->ping(conn, &err), RG_OK);
    ad->disconnect(conn);
}

/* The definer of the view may write; the session may not. */
static void test_read_only_session(void **state)
{
    (void)state;
    void *conn;
    rg_error err = {.struct_size = sizeof(rg_error)};
    assert_int_equal(reader_connect(&conn, reader_password, NULL, &err), RG_OK);
    rg_collection_desc sneaky = items;
    sneaky.target = "sneaky";
    sneaky.nfields = 1;
    rg_sort_key by_id[] = {SORT(F_ID, 0)};
    collected c;
    assert_int_equal(run(conn, &sneaky, NULL, 0, by_id, 1, 5000, &c, &err), RG_ERR_UPSTREAM);
    assert_non_null(strstr(err.message, "1792")); /* READ ONLY transaction */
    assert_int_equal(root_number("SELECT COUNT(*) FROM rgtest_mysql.writes"), 0);
    assert_int_equal(ad->ping(conn, &err), RG_OK);
    ad->disconnect(conn);
}

/* Byte order and exact equality whatever the column's charset and collation;
   types the conformance fixture does not have. */
static void test_collations_and_types(void **state)
{
    (void)state;
    void *conn;
    rg_error err = {.struct_size = sizeof(rg_error)};
    collected c;
    assert_int_equal(reader_connect(&conn, reader_password, NULL, &err), RG_OK);
    rg_sort_key by_name[] = {SORT(F_NAME, 0), SORT(F_ID, 0)};
    assert_int_equal(run(conn, &items, NULL, 0, by_name, 2, 5000, &c, &err), RG_OK);
    assert_int_equal(c.nrows, 4);
    /* A < B < a < é by code point; latin1_swedish_ci would say A = a. */
    assert_int_equal(c.ids[0], 4);
    assert_int_equal(c.ids[1], 1);
    assert_int_equal(c.ids[2], 2);
    assert_int_equal(c.ids[3], 3);
    assert_string_equal(c.row[F_NAME].u.str.ptr, "\xc3\xa9"); /* latin1 comes back as UTF-8 */

    /* PAD SPACE and case-insensitive in the catalog: 'x' = 'x ' = 'X' there. */
    rg_sort_key by_id[] = {SORT(F_ID, 0)};
    rg_filter eq = {sizeof(rg_filter), F_TAG, RG_OP_EQ, (const rg_value[]){S("x")}, 1};
    assert_int_equal(run(conn, &items, &eq, 1, by_id, 1, 5000, &c, &err), RG_OK);
    assert_int_equal(c.nrows, 1);
    assert_int_equal(c.ids[0], 1);
    rg_filter in = {sizeof(rg_filter), F_TAG, RG_OP_IN, (const rg_value[]){S("x "), S("nope")}, 2};
    assert_int_equal(run(conn, &items, &in, 1, by_id, 1, 5000, &c, &err), RG_OK);
    assert_int_equal(c.nrows, 1);
    assert_int_equal(c.ids[0], 2);

    /* Row 1: BIT(1), DECIMAL as integer, FLOAT, TIMESTAMP(3), a long TEXT. */
    rg_filter one = {
        sizeof(rg_filter), F_ID, RG_OP_EQ,
        (const rg_value[]){{.struct_size = sizeof(rg_value), .type = RG_TYPE_INTEGER, .u.i = 1}},
        1};
    assert_int_equal(run(conn, &items, &one, 1, by_id, 1, 5000, &c, &err), RG_OK);
    assert_int_equal(c.nrows, 1);
    assert_int_equal(c.row[F_OK].type, RG_TYPE_BOOLEAN);
    assert_int_equal(c.row[F_OK].u.b, 1);
    assert_int_equal(c.row[F_AMOUNT].u.i, 12);
    assert_true(c.row[F_RATIO].u.n == 0.5);
    assert_string_equal(c.row[F_STAMP].u.str.ptr, "2024-01-02T03:04:05.678000Z");
    assert_int_equal(c.row[F_NOTE].u.str.len, 1000);

    rg_filter neg = {
        sizeof(rg_filter), F_AMOUNT, RG_OP_LT,
        (const rg_value[]){{.struct_size = sizeof(rg_value), .type = RG_TYPE_INTEGER, .u.i = 0}},
        1};
    assert_int_equal(run(conn, &items, &neg, 1, by_id, 1, 5000, &c, &err), RG_OK);
    assert_int_equal(c.nrows, 1);
    assert_int_equal(c.row[F_OK].u.b, 0);
    assert_int_equal(c.row[F_AMOUNT].u.i, -3);
    assert_true(c.row[F_STAMP].is_null);

    /* A datetime value with an offset compares as the instant it names. */
    rg_filter after = {sizeof(rg_filter), F_STAMP, RG_OP_GT,
                       (const rg_value[]){{.struct_size = sizeof(rg_value),
                                           .type = RG_TYPE_DATETIME,
                                           .u.str = {"2000-01-01T01:00:00+01:00", 25}}},
                       1};
    assert_int_equal(run(conn, &items, &after, 1, by_id, 1, 5000, &c, &err), RG_OK);
    assert_int_equal(c.nrows, 2);
    assert_int_equal(c.ids[0], 1);
    assert_int_equal(c.ids[1], 4);
    ad->disconnect(conn);
}

/* A backtick in a configured column name is refused before anything is sent. */
static void test_unquotable_column(void **state)
{
    (void)state;
    void *conn;
    rg_error err = {.struct_size = sizeof(rg_error)};
    collected c;
    assert_int_equal(reader_connect(&conn, reader_password, NULL, &err), RG_OK);
    rg_field_desc odd[] = {FIELD("id", "id", RG_TYPE_INTEGER),
                           FIELD("x", "a` FROM mysql.user --", RG_TYPE_STRING)};
    rg_collection_desc coll = items;
    coll.fields = odd;
    coll.nfields = 2;
    rg_sort_key by_id[] = {SORT(F_ID, 0)};
    assert_int_equal(run(conn, &coll, NULL, 0, by_id, 1, 5000, &c, &err), RG_ERR_CONFIG);
    assert_int_equal(c.nrows, 0);
    assert_int_equal(ad->ping(conn, &err), RG_OK);
    ad->disconnect(conn);
}

/* A killed connection is unavailable (the gateway then reconnects), and a
   new connection works. */
static void test_lost_connection(void **state)
{
    (void)state;
    void *conn;
    rg_error err = {.struct_size = sizeof(rg_error)};
    collected c;
    rg_sort_key by_id[] = {SORT(F_ID, 0)};
    assert_int_equal(reader_connect(&conn, reader_password, NULL, &err), RG_OK);
    long long id = root_number("SELECT ID FROM information_schema.PROCESSLIST "
                               "WHERE USER = 'rg_reader' AND DB = 'rgtest_mysql'");
    assert_true(id > 0);
    char kill[64];
    snprintf(kill, sizeof kill, "KILL CONNECTION %lld", id);
    root_sql(kill);
    assert_int_equal(run(conn, &items, NULL, 0, by_id, 1, 5000, &c, &err), RG_ERR_UNAVAILABLE);
    assert_int_equal(ad->ping(conn, &err), RG_ERR_UNAVAILABLE);
    ad->disconnect(conn);
    assert_int_equal(reader_connect(&conn, reader_password, NULL, &err), RG_OK);
    assert_int_equal(run(conn, &items, NULL, 0, by_id, 1, 5000, &c, &err), RG_OK);
    assert_int_equal(c.nrows, 4);
    ad->disconnect(conn);
}

/* statement_timeout_ms caps a larger budget; the connection survives. */
static void test_timeout_cap(void **state)
{
    (void)state;
    void *conn;
    rg_error err = {.struct_size = sizeof(rg_error)};
    collected c;
    assert_int_equal(reader_connect(&conn, reader_password, "300", &err), RG_OK);
    rg_collection_desc slow = items;
    slow.target = "conformance.products_slow";
    slow.nfields = 1;
    rg_sort_key by_id[] = {SORT(F_ID, 0)};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(run(conn, &slow, NULL, 0, by_id, 1, 60000, &c, &err), RG_ERR_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(took < 2.0);
    assert_int_equal(run(conn, &items, NULL, 0, by_id, 1, 60000, &c, &err), RG_OK);
    assert_int_equal(c.nrows, 4);
    ad->disconnect(conn);
}

/* Many plan shapes: the per-connection cache stays bounded on the server. */
static void test_statement_cache_bound(void **state)
{
    (void)state;
    void *conn;
    rg_error err = {.struct_size = sizeof(rg_error)};
    collected c;
    assert_int_equal(reader_connect(&conn, reader_password, NULL, &err), RG_OK);
    long long before = root_number("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                                   "WHERE VARIABLE_NAME = 'PREPARED_STMT_COUNT'");
    rg_value vals[100];
    for (int i = 0; i < 100; i++)
        vals[i] =
            (rg_value){.struct_size = sizeof(rg_value), .type = RG_TYPE_INTEGER, .u.i = i + 1};
    rg_sort_key by_id[] = {SORT(F_ID, 0)};
    for (size_t n = 1; n <= 100; n++) {
        rg_filter in = {sizeof(rg_filter), F_ID, RG_OP_IN, vals, n};
        assert_int_equal(run(conn, &items, &in, 1, by_id, 1, 5000, &c, &err), RG_OK);
        assert_int_equal(c.nrows, n < 4 ? n : 4);
    }
    long long during = root_number("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                                   "WHERE VARIABLE_NAME = 'PREPARED_STMT_COUNT'");
    assert_true(during - before <= 64);
    assert_true(during - before >= 32);
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
    int failed = cmocka_run_group_tests_name("mysql adapter options", option_tests, load, unload);

    const char *dir = getenv("RG_TEST_MYSQL_DIR");
    const char *p = getenv("RG_TEST_MYSQL_PORT");
    reader_password = getenv("RG_TEST_MYSQL_READER_PASSWORD");
    if (!reader_password || !*reader_password)
        reader_password = "rg_reader_pw";
    if (dir && *dir && p && *p) {
        snprintf(socket_path, sizeof socket_path, "%s/mysqld.sock", dir);
        snprintf(port, sizeof port, "%s", p);
        const struct CMUnitTest server_tests[] = {
            cmocka_unit_test(test_credentials),
            cmocka_unit_test(test_read_only_session),
            cmocka_unit_test(test_collations_and_types),
            cmocka_unit_test(test_unquotable_column),
            cmocka_unit_test(test_lost_connection),
            cmocka_unit_test(test_timeout_cap),
            cmocka_unit_test(test_statement_cache_bound),
        };
        failed += cmocka_run_group_tests_name("mysql adapter against MariaDB", server_tests,
                                              server_setup, server_teardown);
    } else {
        fprintf(stderr, "mysql adapter against MariaDB: skipped (RG_TEST_MYSQL_DIR and "
                        "RG_TEST_MYSQL_PORT not set; tests/mariadb.sh starts a server)\n");
    }
    return failed ? 1 : 0;
}
