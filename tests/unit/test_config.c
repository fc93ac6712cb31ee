/*
 * Config loader: a complete good configuration resolved into structs, and a
 * table of broken ones, each a directory under tests/config/bad/ whose
 * `expected` file lists the exact diagnostics (paths relative to it).
 */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/node.h"

#define M(op) RG_OP_MASK(RG_OP_##op)

/* tests/ of the source tree: from the build definition, else from this file's path. */
static const char *tests_dir(void)
{
    static char dir[1024];
    if (dir[0])
        return dir;
#ifdef RG_SOURCE_DIR
    snprintf(dir, sizeof dir, "%s/tests", RG_SOURCE_DIR);
#else
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0'; /* tests/unit */
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0'; /* tests */
    else
        snprintf(dir, sizeof dir, "..");
#endif
    return dir;
}

static char *fixture(const char *rel)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/config/%s", tests_dir(), rel);
    char *real = realpath(path, NULL);
    if (!real)
        fail_msg("fixture %s not found", path);
    return real;
}

static void dump(const rg_diags *d)
{
    for (size_t i = 0; i < d->count; i++)
        print_message("  %s\n", d->lines[i]);
}

/* ---- the good configuration ------------------------------------------- */

static rg_config *good_cfg;
static char *good_dir;

static int good_setup(void **state)
{
    (void)state;
    good_dir = fixture("good");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/readgate.yaml", good_dir);
    rg_diags d = {0};
    good_cfg = rg_config_load(path, &d);
    dump(&d);
    size_t n = d.count;
    rg_diags_free(&d);
    return good_cfg && n == 0 ? 0 : -1;
}

static int good_teardown(void **state)
{
    (void)state;
    rg_config_free(good_cfg);
    free(good_dir);
    return 0;
}

static char *joined(const char *a, const char *b)
{
    char *s = NULL;
    assert_true(asprintf(&s, "%s%s", a, b) > 0);
    return s;
}

static void test_server_settings(void **state)
{
    (void)state;
    const rg_config *c = good_cfg;
    assert_string_equal(c->listen_host, "0.0.0.0");
    assert_int_equal(c->listen_port, 9090);
    assert_null(c->admin_host);
    assert_int_equal(c->admin_port, 0);
    assert_int_equal(c->loop_threads, 3);
    assert_int_equal(c->workers, 5);

    char *s = joined(good_dir, "/sites");
    assert_string_equal(c->sites_dir, s);
    free(s);
    s = joined(good_dir, "/../adapters");
    assert_string_equal(c->adapters_dir, s);
    free(s);
    s = joined(good_dir, "/keys/master");
    assert_string_equal(c->keys_file, s);
    free(s);
    s = joined("sqlite:", good_dir);
    char *t = joined(s, "/data/state.db");
    assert_string_equal(c->state_store, t);
    free(s);
    free(t);

    assert_string_equal(c->keys_env, "MY_KEYS");
    assert_string_equal(c->rate_limit, "redis://127.0.0.1:6379");
    assert_string_equal(c->log_level, "debug");
    assert_int_equal(c->ntrusted_proxies, 3);
    assert_string_equal(c->trusted_proxies[0], "10.0.0.0/8");
    assert_string_equal(c->trusted_proxies[1], "::1");
    assert_string_equal(c->trusted_proxies[2], "192.168.1.7");

    assert_int_equal(c->limits.max_body_bytes, 32768);
    assert_int_equal(c->limits.max_json_depth, 10);
    assert_int_equal(c->limits.max_filters, 12);
    assert_int_equal(c->limits.max_string_bytes, 300);
    assert_int_equal(c->limits.max_search_bytes, 150);
    assert_int_equal(c->limits.max_in_values, 40);
    assert_int_equal(c->limits.max_sort, 2);
    assert_int_equal(c->limits.request_timeout_ms, 7000);
    assert_int_equal(c->limits.timestamp_window_s, 120);
    assert_int_equal(c->limits.max_connections, 500);

    /* rate_limit: redis://host:port, and rate_limits over the defaults */
    assert_string_equal(c->redis_host, "127.0.0.1");
    assert_int_equal(c->redis_port, 6379);
    assert_int_equal(c->limits.max_inflight_per_site, 16);
    assert_int_equal(c->limits.ratelimit_timeout_ms, 80);
    const rg_route_limits *tk = &c->rate_limits.route[RG_RL_TOKEN];
    assert_int_equal(tk->per_ip_per_min, 30);
    assert_int_equal(tk->per_site_per_min, 200);
    assert_int_equal(tk->per_session_per_min, 0);
    assert_int_equal(tk->burst_per_s, 5);
    const rg_route_limits *q = &c->rate_limits.route[RG_RL_QUERY];
    assert_int_equal(q->per_ip_per_min, 0);
    assert_int_equal(q->per_site_per_min, 300);
    assert_int_equal(q->per_session_per_min, 90);
    assert_int_equal(q->burst_per_s, 30);
    /* a site file overrides key by key and inherits the rest */
    const rg_site *shop = rg_config_find_site(c, "shop0001");
    assert_non_null(shop);
    const rg_route_limits *sq = &shop->rate_limits.route[RG_RL_QUERY];
    assert_int_equal(sq->per_site_per_min, 1000);
    assert_int_equal(sq->burst_per_s, 0);
    assert_int_equal(sq->per_session_per_min, 90);
    assert_int_equal(shop->rate_limits.route[RG_RL_TOKEN].per_ip_per_min, 30);
    const rg_site *zeta = rg_config_find_site(c, "zeta0003");
    assert_non_null(zeta);
    assert_memory_equal(&zeta->rate_limits, &c->rate_limits, sizeof c->rate_limits);
}

static void test_sites_sorted_and_found(void **state)
{
    (void)state;
    const rg_config *c = good_cfg;
    assert_int_equal(c->nsites, 3); /* README.txt in sites/ is not a site file */
    assert_string_equal(c->sites[0].site_id, "abc00002");
    assert_string_equal(c->sites[1].site_id, "shop0001");
    assert_string_equal(c->sites[2].site_id, "zeta0003");
    for (size_t i = 0; i < c->nsites; i++)
        assert_ptr_equal(rg_config_find_site(c, c->sites[i].site_id), &c->sites[i]);
    assert_null(rg_config_find_site(c, "aaaaaaaa"));
    assert_null(rg_config_find_site(c, "shop0002"));
    assert_null(rg_config_find_site(c, "zzzzzzzz"));
    assert_null(rg_config_find_site(c, ""));
    assert_null(rg_config_find_site(c, NULL));

    char *s = joined(good_dir, "/sites/shop0001.yaml");
    assert_string_equal(c->sites[1].file, s);
    free(s);
}

static void test_site_identity(void **state)
{
    (void)state;
    const rg_site *s = rg_config_find_site(good_cfg, "shop0001");
    assert_non_null(s);
    assert_false(s->allow_localhost);
    assert_int_equal(s->session_ttl_s, 900);
    assert_int_equal(s->norigins, 3);
    assert_string_equal(s->origins[0].host, "shop.example.com"); /* lower-cased */
    assert_false(s->origins[0].wildcard);
    assert_int_equal(s->origins[0].port, 0);
    assert_string_equal(s->origins[1].host, "example.com");
    assert_true(s->origins[1].wildcard);
    assert_string_equal(s->origins[2].host, "localhost");
    assert_int_equal(s->origins[2].port, 5173);
    assert_int_equal(s->napi_keys, 1);
    static const uint8_t want[32] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                     0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
                                     0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                     0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    assert_memory_equal(s->api_key_hashes[0], want, 32);

    const rg_site *z = rg_config_find_site(good_cfg, "zeta0003");
    assert_non_null(z);
    assert_true(z->allow_localhost);
    assert_int_equal(z->session_ttl_s, 600);
    assert_int_equal(z->norigins, 0);
    assert_int_equal(z->napi_keys, 0);
    assert_int_equal(z->nsources, 0);
    assert_int_equal(z->ncollections, 0);
}

static void test_sources(void **state)
{
    (void)state;
    const rg_site *s = rg_config_find_site(good_cfg, "shop0001");
    assert_int_equal(s->nsources, 2);
    const rg_source *cat = &s->sources[0];
    assert_string_equal(cat->name, "catalog");
    assert_string_equal(cat->adapter, "postgres");
    assert_int_equal(cat->timeout_ms, 3000);
    assert_int_equal(cat->connect_timeout_ms, 1500);
    assert_int_equal(cat->workers, 4);
    assert_int_equal(cat->noptions, 4);
    const char *keys[] = {"dsn", "statement_timeout_ms", "read_only", "ratio"};
    const char *vals[] = {"enc:v1:k1:aaaa:bbbb:cccc", "2000", "true", "1.5"};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(cat->options[i].key, keys[i]);
        assert_string_equal(cat->options[i].value, vals[i]);
    }
    const rg_source *sheet = &s->sources[1];
    assert_string_equal(sheet->name, "sheet");
    assert_int_equal(sheet->timeout_ms, 7000);       /* limits.request_timeout_ms */
    assert_int_equal(sheet->connect_timeout_ms, 2000);
    assert_int_equal(sheet->workers, 5);             /* the server's workers */
    assert_int_equal(sheet->noptions, 0);
    assert_null(sheet->runtime);
}

static void test_collections(void **state)
{
    (void)state;
    const rg_site *s = rg_config_find_site(good_cfg, "shop0001");
    assert_int_equal(s->ncollections, 2);
    /* sorted by name, not file order */
    assert_string_equal(s->collections[0].name, "articles");
    assert_string_equal(s->collections[1].name, "products");
    assert_ptr_equal(rg_site_find_collection(s, "articles"), &s->collections[0]);
    assert_ptr_equal(rg_site_find_collection(s, "products"), &s->collections[1]);
    assert_null(rg_site_find_collection(s, "product"));
    assert_null(rg_site_find_collection(s, "zzz"));
    assert_null(rg_site_find_collection(s, NULL));

    const rg_collection *a = &s->collections[0];
    assert_ptr_equal(a->source, &s->sources[1]);
    assert_string_equal(a->source_name, "sheet");
    assert_string_equal(a->target, "Sheet1!A1:D");
    assert_int_equal(a->limit_default, 20);
    assert_int_equal(a->limit_max, 100);
    assert_int_equal(a->cache_ttl_s, 0);
    assert_int_equal(a->nfields, 1);

    const rg_collection *p = &s->collections[1];
    assert_ptr_equal(p->source, &s->sources[0]);
    assert_string_equal(p->target, "public.products");
    assert_int_equal(p->limit_default, 10);
    assert_int_equal(p->limit_max, 50);
    assert_int_equal(p->cache_ttl_s, 30);
    assert_int_equal(p->key_index, 0);
    assert_int_equal(p->nfields, 9);
}

static void test_fields(void **state)
{
    (void)state;
    const rg_collection *p = rg_site_find_collection(rg_config_find_site(good_cfg, "shop0001"),
                                                     "products");
    static const struct {
        const char *name, *column;
        rg_type type;
        bool display, searchable, sortable;
        uint32_t ops;
    } want[] = {
        {"id", "id", RG_TYPE_INTEGER, true, false, true, 0},
        {"name", "name", RG_TYPE_STRING, true, true, true, M(EQ) | M(PREFIX) | M(CONTAINS)},
        {"price", "price", RG_TYPE_NUMBER, true, false, true,
         M(EQ) | M(LT) | M(LTE) | M(GT) | M(GTE) | M(BETWEEN)},
        {"category", "category", RG_TYPE_ENUM, true, false, false, M(EQ) | M(IN)},
        {"in_stock", "in_stock", RG_TYPE_BOOLEAN, false, false, false, M(EQ) | M(NE)},
        {"released", "released", RG_TYPE_DATE, false, false, false, M(BETWEEN)},
        {"updated", "updated", RG_TYPE_DATETIME, false, false, true, 0},
        {"title", "Product Name", RG_TYPE_STRING, true, false, false, 0},
        {"internal", "internal", RG_TYPE_STRING, false, false, false, 0}, /* no role */
    };
    assert_int_equal(p->nfields, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < p->nfields; i++) {
        const rg_field *f = &p->fields[i];
        assert_string_equal(f->name, want[i].name);
        assert_string_equal(f->column, want[i].column);
        assert_int_equal(f->type, want[i].type);
        assert_int_equal(f->display, want[i].display);
        assert_int_equal(f->searchable, want[i].searchable);
        assert_int_equal(f->sortable, want[i].sortable);
        assert_int_equal(f->ops, want[i].ops);
        assert_int_equal(rg_collection_find_field(p, want[i].name), (int)i);
        assert_true(f->line > 0);
    }
    assert_int_equal(p->fields[3].nenum, 2);
    assert_string_equal(p->fields[3].enum_values[0], "boots");
    assert_string_equal(p->fields[3].enum_values[1], "shoes");
    assert_int_equal(p->fields[0].nenum, 0);
    assert_int_equal(rg_collection_find_field(p, "Name"), -1);
    assert_int_equal(rg_collection_find_field(p, "Product Name"), -1);
}

static void test_desc_view(void **state)
{
    (void)state;
    const rg_site *s = rg_config_find_site(good_cfg, "shop0001");
    for (size_t c = 0; c < s->ncollections; c++) {
        const rg_collection *col = &s->collections[c];
        const rg_collection_desc *d = &col->desc;
        assert_int_equal(d->struct_size, sizeof(rg_collection_desc));
        assert_ptr_equal(d->name, col->name);
        assert_ptr_equal(d->target, col->target);
        assert_ptr_equal(d->fields, col->desc_fields);
        assert_int_equal(d->nfields, col->nfields);
        assert_int_equal(d->key_field, col->key_index);
        for (size_t i = 0; i < col->nfields; i++) {
            assert_ptr_equal(d->fields[i].name, col->fields[i].name);
            assert_ptr_equal(d->fields[i].column, col->fields[i].column);
            assert_int_equal(d->fields[i].type, col->fields[i].type);
        }
    }
    const rg_collection *p = rg_site_find_collection(s, "products");
    assert_string_equal(p->desc.fields[7].column, "Product Name");
}

static void test_json_site(void **state)
{
    (void)state;
    const rg_site *s = rg_config_find_site(good_cfg, "abc00002");
    assert_non_null(s);
    assert_true(s->allow_localhost);
    assert_int_equal(s->norigins, 1);
    assert_string_equal(s->origins[0].host, "abc.example.org");
    assert_int_equal(s->nsources, 1);
    assert_string_equal(s->sources[0].adapter, "sqlite");
    assert_int_equal(s->sources[0].noptions, 3);
    assert_string_equal(s->sources[0].options[0].key, "path");
    assert_string_equal(s->sources[0].options[0].value, "catalog.db");
    assert_string_equal(s->sources[0].options[1].key, "cache_size");
    assert_string_equal(s->sources[0].options[1].value, "64");
    assert_string_equal(s->sources[0].options[2].value, "0.1"); /* as written */
    const rg_collection *c = rg_site_find_collection(s, "items");
    assert_non_null(c);
    assert_int_equal(c->nfields, 2);
    assert_string_equal(c->fields[0].name, "sku");
    assert_string_equal(c->fields[1].name, "count");
    assert_int_equal(c->key_index, 0);
    assert_int_equal(c->fields[0].ops, M(EQ) | M(IN));
    assert_int_equal(c->fields[1].ops, M(GTE));
    assert_int_equal(c->fields[1].type, RG_TYPE_INTEGER);
}

/* ---- defaults and formats, written to a temporary directory ------------ */

static char tmpdir[64];

static void write_file(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static int tmp_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rg-test-config-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    char sites[128];
    snprintf(sites, sizeof sites, "%s/sites", tmpdir);
    return mkdir(sites, 0700);
}

static int tmp_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static rg_config *load_tmp(const char *rel, rg_diags *d)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    return rg_config_load(path, d);
}

static void test_defaults(void **state)
{
    (void)state;
    write_file("empty.yaml", "# nothing set\n");
    rg_diags d = {0};
    rg_config *c = load_tmp("empty.yaml", &d);
    dump(&d);
    assert_non_null(c);
    assert_int_equal(d.count, 0);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    assert_string_equal(c->listen_host, "127.0.0.1");
    assert_int_equal(c->listen_port, 8080);
    assert_string_equal(c->admin_host, "127.0.0.1");
    assert_int_equal(c->admin_port, 8081);
    assert_int_equal(c->loop_threads, cores);
    assert_int_equal(c->workers, 2 * cores);
    assert_string_equal(c->adapters_dir, RG_DEFAULT_ADAPTERS_DIR);
    assert_string_equal(c->keys_env, "READGATE_KEYS");
    assert_null(c->keys_file);
    assert_string_equal(c->rate_limit, "memory");
    assert_string_equal(c->log_level, "info");
    assert_int_equal(c->ntrusted_proxies, 0);
    assert_int_equal(c->nsites, 0);
    assert_int_equal(c->limits.max_body_bytes, 16384);
    assert_int_equal(c->limits.max_json_depth, 8);
    assert_int_equal(c->limits.max_filters, 20);
    assert_int_equal(c->limits.max_string_bytes, 256);
    assert_int_equal(c->limits.max_search_bytes, 200);
    assert_int_equal(c->limits.max_in_values, 50);
    assert_int_equal(c->limits.max_sort, 3);
    assert_int_equal(c->limits.request_timeout_ms, 5000);
    assert_int_equal(c->limits.timestamp_window_s, 300);
    assert_int_equal(c->limits.max_connections, 10000);
    assert_int_equal(c->limits.max_inflight_per_site, 64);
    assert_int_equal(c->limits.ratelimit_entries, 100000);
    assert_int_equal(c->limits.ratelimit_timeout_ms, 50);
    assert_null(c->redis_host);
    /* docs/configuration.md and SECURITY.md */
    const rg_route_limits *tok = &c->rate_limits.route[RG_RL_TOKEN];
    assert_int_equal(tok->per_ip_per_min, 60);
    assert_int_equal(tok->per_site_per_min, 200);
    assert_int_equal(tok->per_session_per_min, 0);
    assert_int_equal(tok->burst_per_s, 20);
    for (int r = RG_RL_QUERY; r <= RG_RL_SESSION; r++) {
        assert_int_equal(c->rate_limits.route[r].per_ip_per_min, 0);
        assert_int_equal(c->rate_limits.route[r].per_site_per_min, 300);
        assert_int_equal(c->rate_limits.route[r].per_session_per_min, 0);
        assert_int_equal(c->rate_limits.route[r].burst_per_s, 30);
    }
    char *real = realpath(tmpdir, NULL);
    assert_non_null(real);
    char *want = joined(real, "/sites");
    assert_string_equal(c->sites_dir, want);
    free(want);
    char *st = joined("sqlite:", real);
    want = joined(st, "/state.db");
    assert_string_equal(c->state_store, want);
    free(want);
    free(st);
    free(real);
    rg_config_free(c);
    rg_diags_free(&d);
}

static void test_example_file_loads(void **state)
{
    (void)state;
    /* the shipped example states the defaults; with a sites dir beside it, it loads */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/../config/readgate.example.yaml", tests_dir());
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, in);
    fclose(in);
    buf[n] = '\0';
    write_file("example.yaml", buf);
    rg_diags d = {0};
    rg_config *c = load_tmp("example.yaml", &d);
    dump(&d);
    assert_non_null(c);
    assert_int_equal(c->listen_port, 8080);
    assert_int_equal(c->admin_port, 8081);
    assert_null(c->keys_file); /* file: "" means none */
    rg_config_free(c);
    rg_diags_free(&d);
}

static void test_json_server_file(void **state)
{
    (void)state;
    write_file("rg.json", "{\n  \"listen\": \"[::1]:8443\",\n  \"admin_listen\": \"localhost:9000\",\n"
                          "  \"trusted_proxies\": [\"fd00::/8\"]\n}\n");
    rg_diags d = {0};
    rg_config *c = load_tmp("rg.json", &d);
    dump(&d);
    assert_non_null(c);
    assert_string_equal(c->listen_host, "::1");
    assert_int_equal(c->listen_port, 8443);
    assert_string_equal(c->admin_host, "localhost");
    assert_int_equal(c->admin_port, 9000);
    assert_int_equal(c->ntrusted_proxies, 1);
    rg_config_free(c);
    rg_diags_free(&d);

    write_file("bad.json", "{\n  \"listen\": \"127.0.0.1:8080\",\n  \"workers\": \"x\"\n}\n");
    c = load_tmp("bad.json", &d);
    assert_null(c);
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.lines[0], "bad.json:3: workers: expected an integer, got a string"));
    rg_diags_free(&d);
}

static void test_missing_file(void **state)
{
    (void)state;
    rg_diags d = {0};
    assert_null(rg_config_load("/nonexistent/readgate.yaml", &d));
    assert_int_equal(d.count, 1);
    assert_string_equal(d.lines[0],
                        "/nonexistent/readgate.yaml: cannot open: No such file or directory");
    rg_diags_free(&d);
    assert_null(rg_config_load(NULL, &d));
    assert_int_equal(d.count, 1);
    rg_diags_free(&d);
}

/* Whatever the bytes, the parser reports and returns; nothing crashes. */
static void test_hostile_documents(void **state)
{
    (void)state;
    static const struct {
        const char *name, *text, *want;
    } cases[] = {
        {"a.yaml", "a: &x 1\nb: *x\n", "a.yaml:2: YAML aliases"},
        {"b.yaml", "a: 1\n---\nb: 2\n", "b.yaml:2: only one YAML document"},
        {"c.yaml", "key: [\n", "c.yaml:2: invalid YAML"},
        {"d.yaml", "\t- x\n", "d.yaml:1: invalid YAML"},
        {"e.json", "[1, 2", "e.json:1: invalid JSON"},
        {"f.json", "{\"a\": 1, \"a\": 2}", "invalid JSON: duplicate object key"},
        {"g.yaml", "? [a, b]\n: 1\n", "g.yaml:1: mapping keys must be plain names"},
        {"h.yaml", "\xff\xfe junk", "invalid YAML"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rg_diags d = {0};
        int errors = 0;
        rg_node *n = rg_node_parse_text(cases[i].name, cases[i].text, strlen(cases[i].text), &d,
                                        &errors);
        assert_true(d.count >= 1);
        if (!strstr(d.lines[0], cases[i].want))
            fail_msg("%s: got '%s', want '%s'", cases[i].name, d.lines[0], cases[i].want);
        rg_node_free(n);
        rg_diags_free(&d);
    }

    /* deep nesting is refused instead of recursing without bound */
    char deep[2100];
    memset(deep, '[', 1000);
    memset(deep + 1000, ']', 1000);
    deep[2000] = '\0';
    for (int json = 0; json < 2; json++) {
        rg_diags d = {0};
        int errors = 0;
        rg_node *n = rg_node_parse_text(json ? "x.json" : "x.yaml", deep, strlen(deep), &d, &errors);
        assert_null(n);
        assert_int_equal(d.count, 1);
        assert_non_null(strstr(d.lines[0], "nesting is too deep"));
        rg_diags_free(&d);
    }
}

static void test_scalar_resolution(void **state)
{
    (void)state;
    const char *text = "a: 12\nb: \"12\"\nc: 1.5\nd: true\ne: ~\nf: yes\ng: -3\n"
                       "h: 99999999999999999999\ni: 'true'\nj: 1e3\nk:\n";
    static const rg_node_kind want[] = {RG_NODE_INT,   RG_NODE_STRING, RG_NODE_FLOAT,
                                        RG_NODE_BOOL,  RG_NODE_NULL,   RG_NODE_STRING,
                                        RG_NODE_INT,   RG_NODE_FLOAT,  RG_NODE_STRING,
                                        RG_NODE_FLOAT, RG_NODE_NULL};
    rg_diags d = {0};
    int errors = 0;
    rg_node *n = rg_node_parse_text("s.yaml", text, strlen(text), &d, &errors);
    assert_non_null(n);
    assert_int_equal(n->kind, RG_NODE_MAP);
    assert_int_equal(n->n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < n->n; i++) {
        assert_int_equal(n->pairs[i].value->kind, want[i]);
        assert_int_equal(n->pairs[i].line, (int)i + 1);
    }
    assert_int_equal(n->pairs[0].value->ival, 12);
    assert_int_equal(n->pairs[6].value->ival, -3);
    assert_string_equal(n->pairs[2].value->text, "1.5");
    rg_node_free(n);
    rg_diags_free(&d);
}

/* ---- names --------------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    const char *types[] = {NULL,   "string",   "integer", "number",
                           "boolean", "date", "datetime", "enum"};
    for (int t = RG_TYPE_STRING; t <= RG_TYPE_ENUM; t++) {
        assert_string_equal(rg_type_name((rg_type)t), types[t]);
        assert_int_equal(rg_type_from_name(types[t]), t);
    }
    assert_int_equal(rg_type_from_name("text"), 0);
    assert_int_equal(rg_type_from_name("String"), 0);
    assert_int_equal(rg_type_from_name(NULL), 0);
    assert_null(rg_type_name((rg_type)0));
    assert_null(rg_type_name((rg_type)99));

    const char *ops[] = {NULL, "eq", "ne", "lt",      "lte",    "gt",
                         "gte", "in", "between", "prefix", "contains"};
    for (int op = RG_OP_EQ; op <= RG_OP_CONTAINS; op++) {
        assert_string_equal(rg_op_name((rg_op)op), ops[op]);
        assert_int_equal(rg_op_from_name(ops[op]), op);
    }
    assert_int_equal(rg_op_from_name("like"), 0);
    assert_int_equal(rg_op_from_name("EQ"), 0);
    assert_int_equal(rg_op_from_name(""), 0);
    assert_null(rg_op_name((rg_op)0));
    assert_null(rg_op_name((rg_op)11));

    uint32_t ordered = M(LT) | M(LTE) | M(GT) | M(GTE) | M(BETWEEN);
    uint32_t base = M(EQ) | M(NE) | M(IN);
    assert_int_equal(rg_ops_valid_for_type(RG_TYPE_STRING),
                     base | ordered | M(PREFIX) | M(CONTAINS));
    assert_int_equal(rg_ops_valid_for_type(RG_TYPE_INTEGER), base | ordered);
    assert_int_equal(rg_ops_valid_for_type(RG_TYPE_NUMBER), base | ordered);
    assert_int_equal(rg_ops_valid_for_type(RG_TYPE_DATE), base | ordered);
    assert_int_equal(rg_ops_valid_for_type(RG_TYPE_DATETIME), base | ordered);
    assert_int_equal(rg_ops_valid_for_type(RG_TYPE_BOOLEAN), M(EQ) | M(NE));
    assert_int_equal(rg_ops_valid_for_type(RG_TYPE_ENUM), base);
    assert_int_equal(rg_ops_valid_for_type((rg_type)0), 0);
}

static void test_site_id_rule(void **state)
{
    (void)state;
    assert_true(rg_site_id_valid("demo0001"));
    assert_true(rg_site_id_valid("abcdefgh"));
    assert_true(rg_site_id_valid("01234567890123456789012345678901")); /* 32 */
    assert_false(rg_site_id_valid("012345678901234567890123456789012")); /* 33 */
    assert_false(rg_site_id_valid("demo001"));                         /* 7 */
    assert_false(rg_site_id_valid("Demo0001"));
    assert_false(rg_site_id_valid("demo-001"));
    assert_false(rg_site_id_valid("demo_001"));
    assert_false(rg_site_id_valid("demo0001 "));
    assert_false(rg_site_id_valid("demo/../x"));
    assert_false(rg_site_id_valid(""));
    assert_false(rg_site_id_valid(NULL));
}

/* ---- bad configurations ---------------------------------------------------- */

static const char *const bad_cases[] = {
    "bad_key",       "bad_names",      "bad_operator",      "bad_origin",
    "bad_site_id",   "duplicate_keys", "duplicate_site",    "enum_values",
    "json_site",     "json_syntax",    "limits_options",    "missing_required",
    "searchable",    "server_values",  "sites_dir_missing", "unknown_key",
    "unknown_source", "wrong_type",    "yaml_syntax",       "source_setting_in_options",
    "rate_limits",   "cache_options",  "oauth_block",       "ai_block",
};
#define NBAD (sizeof bad_cases / sizeof bad_cases[0])

/* Replace every "<dir>/" in line by nothing, so paths read as in `expected`. */
static char *relative(const char *line, const char *dir)
{
    size_t dl = strlen(dir);
    char *out = malloc(strlen(line) + 1);
    assert_non_null(out);
    char *o = out;
    while (*line) {
        if (strncmp(line, dir, dl) == 0 && line[dl] == '/') {
            line += dl + 1;
            continue;
        }
        *o++ = *line++;
    }
    *o = '\0';
    return out;
}

static void check_bad_case(const char *name)
{
    char rel[128], path[PATH_MAX];
    snprintf(rel, sizeof rel, "bad/%s", name);
    char *dir = fixture(rel);

    snprintf(path, sizeof path, "%s/expected", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("%s: no expected file", name);
    char *want[64];
    size_t nwant = 0;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        assert_true(nwant < 64);
        want[nwant] = strdup(line);
        assert_non_null(want[nwant]);
        nwant++;
    }
    fclose(f);
    assert_true(nwant > 0); /* every bad case must produce at least one message */

    snprintf(path, sizeof path, "%s/readgate.yaml", dir);
    rg_diags d = {0};
    rg_config *c = rg_config_load(path, &d);
    int ok = c == NULL && d.count == nwant;
    for (size_t i = 0; ok && i < nwant; i++) {
        char *got = relative(d.lines[i], dir);
        ok = strcmp(got, want[i]) == 0;
        free(got);
    }
    if (!ok) {
        print_message("case %s: config %s; got:\n", name, c ? "loaded" : "refused");
        for (size_t i = 0; i < d.count; i++) {
            char *got = relative(d.lines[i], dir);
            print_message("  %s\n", got);
            free(got);
        }
        print_message("expected:\n");
        for (size_t i = 0; i < nwant; i++)
            print_message("  %s\n", want[i]);
    }
    for (size_t i = 0; i < nwant; i++)
        free(want[i]);
    rg_config_free(c);
    rg_diags_free(&d);
    free(dir);
    if (!ok)
        fail_msg("case %s: diagnostics differ", name);
}

static void test_bad_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < NBAD; i++)
        check_bad_case(bad_cases[i]);
}

/* A fixture directory nobody runs is a test that can't fail. */
static void test_every_bad_fixture_listed(void **state)
{
    (void)state;
    char *dir = fixture("bad");
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    struct dirent *e;
    size_t seen = 0;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.')
            continue;
        size_t i = 0;
        while (i < NBAD && strcmp(bad_cases[i], e->d_name) != 0)
            i++;
        if (i == NBAD)
            fail_msg("tests/config/bad/%s is not in bad_cases", e->d_name);
        seen++;
    }
    closedir(dp);
    free(dir);
    assert_int_equal(seen, NBAD);
}

int main(void)
{
    const struct CMUnitTest good[] = {
        cmocka_unit_test(test_server_settings), cmocka_unit_test(test_sites_sorted_and_found),
        cmocka_unit_test(test_site_identity),   cmocka_unit_test(test_sources),
        cmocka_unit_test(test_collections),     cmocka_unit_test(test_fields),
        cmocka_unit_test(test_desc_view),       cmocka_unit_test(test_json_site),
    };
    const struct CMUnitTest tmp[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_example_file_loads),
        cmocka_unit_test(test_json_server_file),
    };
    const struct CMUnitTest other[] = {
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_hostile_documents), cmocka_unit_test(test_scalar_resolution),
        cmocka_unit_test(test_names),             cmocka_unit_test(test_site_id_rule),
        cmocka_unit_test(test_bad_cases),         cmocka_unit_test(test_every_bad_fixture_listed),
    };
    int failed = cmocka_run_group_tests_name("config: good", good, good_setup, good_teardown);
    failed += cmocka_run_group_tests_name("config: defaults", tmp, tmp_setup, tmp_teardown);
    failed += cmocka_run_group_tests_name("config: errors", other, NULL, NULL);
    return failed ? 1 : 0;
}
