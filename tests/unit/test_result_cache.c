/* The result cache (LRU, byte budget, TTL, counters), the in-flight table
   of request coalescing, the canonical plan key and the cache settings. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "crypto/keyring.h"
#include "query/plan.h"
#include "query_fixture.h"
#include "cache/coalesce.h"
#include "cache/result_cache.h"

static rg_master_key test_key = {.kid = "k1"};
static rg_keyring test_kr = {.keys = &test_key, .nkeys = 1};

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 32; i++)
        test_key.cursor_key[i] = (uint8_t)(i * 5 + 1);
    return 0;
}

static rg_cache_body *body_of(const char *s)
{
    struct evbuffer *b = evbuffer_new();
    assert_non_null(b);
    assert_int_equal(evbuffer_add(b, s, strlen(s)), 0);
    rg_cache_body *body = rg_cache_body_from_evbuffer(b);
    assert_non_null(body);
    assert_int_equal(evbuffer_get_length(b), strlen(s)); /* the source is left as it was */
    evbuffer_free(b);
    return body;
}

/* Store key -> text for ttl_ms at now. */
static int put(rg_result_cache *c, const char *key, const char *text, uint64_t ttl_ms,
               uint64_t now)
{
    rg_cache_body *b = body_of(text);
    int stored = rg_result_cache_put(c, key, strlen(key), rg_result_cache_hash(c, key, strlen(key)),
                                     b, ttl_ms, now);
    rg_cache_body_release(b);
    return stored;
}

/* The text stored for key at now, or NULL (caller frees). */
static char *get(rg_result_cache *c, const char *key, uint64_t now)
{
    rg_cache_body *b =
        rg_result_cache_get(c, key, strlen(key), rg_result_cache_hash(c, key, strlen(key)), now);
    if (!b)
        return NULL;
    /* The body is bytes, not a C string: copy exactly len of them (strndup
     * may look past the end for a NUL). */
    char *s = malloc(b->len + 1);
    assert_non_null(s);
    memcpy(s, b->data, b->len);
    s[b->len] = '\0';
    rg_cache_body_release(b);
    return s;
}

static void expect(rg_result_cache *c, const char *key, uint64_t now, const char *want)
{
    char *got = get(c, key, now);
    if (!want) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_disabled(void **state)
{
    (void)state;
    int failed = 1;
    assert_null(rg_result_cache_new(0, NULL, &failed));
    assert_int_equal(failed, 0);
    rg_result_cache_free(NULL);
}

static void test_hit_miss_and_counters(void **state)
{
    (void)state;
    rg_cache_stats st;
    memset(&st, 0, sizeof st);
    int failed;
    rg_result_cache *c = rg_result_cache_new(100000, &st, &failed);
    assert_non_null(c);
    expect(c, "a", 1000, NULL);
    assert_int_equal(put(c, "a", "{\"rows\":[1]}", 5000, 1000), 1);
    expect(c, "a", 1001, "{\"rows\":[1]}");
    expect(c, "b", 1001, NULL);
    /* Keys are compared in full: a prefix is another key. */
    expect(c, "", 1001, NULL);
    assert_int_equal(atomic_load(&st.hits), 1);
    assert_int_equal(atomic_load(&st.misses), 3);
    assert_int_equal(atomic_load(&st.entries), 1);
    assert_int_equal((size_t)atomic_load(&st.bytes), rg_result_cache_charge(1, 12));
    assert_int_equal(rg_result_cache_bytes(c), rg_result_cache_charge(1, 12));
    /* Replacing an entry charges it once. */
    assert_int_equal(put(c, "a", "{\"rows\":[2]}", 5000, 1002), 1);
    expect(c, "a", 1003, "{\"rows\":[2]}");
    assert_int_equal(rg_result_cache_entries(c), 1);
    assert_int_equal((size_t)atomic_load(&st.bytes), rg_result_cache_charge(1, 12));
    rg_result_cache_free(c);
    /* Freeing a cache takes its bytes out of the shared gauge. */
    assert_int_equal(atomic_load(&st.bytes), 0);
    assert_int_equal(atomic_load(&st.entries), 0);
    assert_int_equal(atomic_load(&st.evictions), 0);
}

static void test_ttl(void **state)
{
    (void)state;
    rg_cache_stats st;
    memset(&st, 0, sizeof st);
    int failed;
    rg_result_cache *c = rg_result_cache_new(100000, &st, &failed);
    assert_non_null(c);
    assert_int_equal(put(c, "k", "x", 30000, 10000), 1);
    expect(c, "k", 39999, "x");
    expect(c, "k", 40000, NULL); /* expired at now + ttl exactly */
    /* An expired entry is removed (and is not an eviction). */
    assert_int_equal(rg_result_cache_entries(c), 0);
    assert_int_equal(atomic_load(&st.evictions), 0);
    /* A ttl of 0 stores nothing. */
    assert_int_equal(put(c, "z", "x", 0, 10000), 0);
    expect(c, "z", 10000, NULL);
    rg_result_cache_free(c);
}

static void test_lru_and_budget(void **state)
{
    (void)state;
    rg_cache_stats st;
    memset(&st, 0, sizeof st);
    int failed;
    const char *body = "0123456789";
    size_t one = rg_result_cache_charge(2, strlen(body));
    /* Room for exactly three entries (a small cache is one shard). */
    rg_result_cache *c = rg_result_cache_new(3 * one + one / 2, &st, &failed);
    assert_non_null(c);
    assert_int_equal(put(c, "k1", body, 60000, 0), 1);
    assert_int_equal(put(c, "k2", body, 60000, 1), 1);
    assert_int_equal(put(c, "k3", body, 60000, 2), 1);
    expect(c, "k1", 3, body); /* k1 is now the most recently used; k2 the least */
    assert_int_equal(put(c, "k4", body, 60000, 4), 1);
    expect(c, "k2", 5, NULL);
    expect(c, "k1", 5, body);
    expect(c, "k3", 5, body);
    expect(c, "k4", 5, body);
    assert_int_equal(atomic_load(&st.evictions), 1);
    assert_true(rg_result_cache_bytes(c) <= 3 * one + one / 2);
    assert_int_equal(rg_result_cache_entries(c), 3);

    /* A body larger than the whole budget is never stored and evicts nothing. */
    char *big = malloc(4 * one);
    assert_non_null(big);
    memset(big, 'x', 4 * one - 1);
    big[4 * one - 1] = '\0';
    assert_int_equal(put(c, "k5", big, 60000, 6), 0);
    free(big);
    expect(c, "k5", 7, NULL);
    assert_int_equal(rg_result_cache_entries(c), 3);
    assert_int_equal(atomic_load(&st.evictions), 1);

    /* One entry as large as two makes room by evicting the two oldest. */
    char *two = malloc(one + 1);
    assert_non_null(two);
    memset(two, 'y', one);
    two[one] = '\0';
    assert_int_equal(put(c, "k6", two, 60000, 8), 1);
    free(two);
    assert_int_equal(atomic_load(&st.evictions), 3);
    assert_int_equal(rg_result_cache_entries(c), 2);
    assert_true(rg_result_cache_bytes(c) <= 3 * one + one / 2);
    rg_result_cache_free(c);
}

/* A body being sent outlives its eviction. */
static void test_body_outlives_entry(void **state)
{
    (void)state;
    int failed;
    rg_result_cache *c = rg_result_cache_new(100000, NULL, &failed);
    assert_non_null(c);
    assert_int_equal(put(c, "k", "payload", 60000, 0), 1);
    rg_cache_body *b = rg_result_cache_get(c, "k", 1, rg_result_cache_hash(c, "k", 1), 1);
    assert_non_null(b);
    struct evbuffer *out = evbuffer_new();
    assert_non_null(out);
    assert_int_equal(rg_cache_body_add_to(b, out), 0);
    rg_cache_body_release(b);
    rg_result_cache_free(c); /* drops the cache's reference */
    char buf[16] = {0};
    assert_int_equal(evbuffer_remove(out, buf, sizeof buf - 1), 7);
    assert_string_equal(buf, "payload");
    evbuffer_free(out); /* drops the last one (LSan checks) */
}

/* Many keys: the buckets grow and every key stays reachable. */
static void test_many_keys(void **state)
{
    (void)state;
    int failed;
    rg_result_cache *c = rg_result_cache_new(64u << 20, NULL, &failed);
    assert_non_null(c);
    char key[32], val[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        snprintf(val, sizeof val, "val-%d", i);
        assert_int_equal(put(c, key, val, 60000, 0), 1);
    }
    assert_int_equal(rg_result_cache_entries(c), 5000);
    for (int i = 0; i < 5000; i += 7) {
        snprintf(key, sizeof key, "key-%d", i);
        snprintf(val, sizeof val, "val-%d", i);
        expect(c, key, 1, val);
    }
    rg_result_cache_free(c);
}

/* ---- coalescing table ---------------------------------------------------------------- */

static int found_calls;
static int say_found(void *arg)
{
    found_calls++;
    return *(int *)arg;
}

static void test_flights(void **state)
{
    (void)state;
    rg_flights *t = rg_flights_new();
    assert_non_null(t);
    const char *k = "query-key";
    uint64_t h = rg_flights_hash(t, k, strlen(k));
    int leader_value = 7, not_found = 0, found = 1;
    rg_flight_waiter w1, w2, w3, w4;
    void *joined;
    rg_flight *f = NULL, *f2 = NULL;
    found_calls = 0;
    assert_int_equal(rg_flights_join(t, k, strlen(k), h, &leader_value, &w1, say_found,
                                     &not_found, &joined, &f),
                     RG_FLIGHT_LEAD);
    assert_non_null(f);
    assert_int_equal(found_calls, 1);
    /* While it is open, the same key joins it (and looks nowhere else). */
    assert_int_equal(rg_flights_join(t, k, strlen(k), h, NULL, &w2, say_found, &found, &joined,
                                     &f2),
                     RG_FLIGHT_FOLLOW);
    assert_ptr_equal(joined, &leader_value);
    assert_null(f2);
    assert_int_equal(found_calls, 1);
    /* Another key is another flight. */
    const char *k2 = "query-key2";
    uint64_t h2 = rg_flights_hash(t, k2, strlen(k2));
    assert_int_equal(rg_flights_join(t, k2, strlen(k2), h2, NULL, &w3, NULL, NULL, &joined, &f2),
                     RG_FLIGHT_LEAD);
    assert_int_equal(rg_flights_open(t), 2);
    /* Closing hands back every waiter, in arrival order. */
    rg_flight_waiter *ws = rg_flights_close(t, f);
    assert_ptr_equal(ws, &w1);
    assert_ptr_equal(ws->next, &w2);
    assert_null(w2.next);
    assert_int_equal(rg_flights_open(t), 1);
    /* Closed: the key is looked up elsewhere (the cache) first. */
    assert_int_equal(rg_flights_join(t, k, strlen(k), h, NULL, &w4, say_found, &found, &joined,
                                     &f),
                     RG_FLIGHT_FOUND);
    assert_int_equal(found_calls, 2);
    ws = rg_flights_close(t, f2);
    assert_ptr_equal(ws, &w3);
    assert_int_equal(rg_flights_open(t), 0);
    rg_flights_free(t);
}

/* ---- canonical key ------------------------------------------------------------------- */

static void key_of(const rg_site *site, const char *body, unsigned char **key, size_t *len,
                   uint8_t digest[16])
{
    rg_request_plan p;
    rg_api_error e;
    memset(&e, 0, sizeof e);
    int rc = rg_plan_build(site, &fx_limits, &test_kr, body, strlen(body), &p, &e);
    if (rc != 0)
        print_error("body %s -> %s: %s\n", body, e.code, e.message);
    assert_int_equal(rc, 0);
    assert_int_equal(rg_plan_canonical(&p, site->site_id, key, len), 0);
    if (digest)
        memcpy(digest, p.query_digest, 16);
    rg_request_plan_free(&p);
}

static int same_key(const rg_site *s1, const char *b1, const rg_site *s2, const char *b2)
{
    unsigned char *k1, *k2;
    size_t l1, l2;
    uint8_t d1[16], d2[16];
    key_of(s1, b1, &k1, &l1, d1);
    key_of(s2, b2, &k2, &l2, d2);
    int same = l1 == l2 && memcmp(k1, k2, l1) == 0;
    /* The cursor in a shared body must be valid for both: whenever keys
       are equal, so are the query digests. */
    if (same)
        assert_memory_equal(d1, d2, 16);
    free(k1);
    free(k2);
    return same;
}

#define SAME(a, b) assert_true(same_key(&fx_site, a, &fx_site, b))
#define DIFFERENT(a, b) assert_false(same_key(&fx_site, a, &fx_site, b))

static void test_canonical_same(void **state)
{
    (void)state;
    /* Layout, key order, defaults, explicit nulls. */
    SAME("{\"collection\":\"products\"}",
         "{ \"limit\" : 20, \"cursor\": null, \"search\": null, \"collection\": \"products\" }");
    SAME("{\"collection\":\"products\",\"fields\":[\"id\",\"name\",\"price\",\"category\",\"qty\","
         "\"released\",\"updated\",\"notes\"]}",
         "{\"collection\":\"products\"}");
    SAME("{\"collection\":\"products\",\"sort\":[{\"field\":\"id\"}]}",
         "{\"collection\":\"products\"}");
    /* 50 and 50.0 are one number; a datetime is one instant whatever its zone. */
    SAME("{\"collection\":\"products\",\"filters\":[{\"field\":\"price\",\"op\":\"lt\",\"value\":50}]}",
         "{\"collection\":\"products\",\"filters\":[{\"field\":\"price\",\"op\":\"lt\","
         "\"value\":50.0}]}");
    SAME("{\"collection\":\"products\",\"filters\":[{\"field\":\"updated\",\"op\":\"gt\","
         "\"value\":\"2024-01-01T10:00:00+02:00\"}]}",
         "{\"collection\":\"products\",\"filters\":[{\"field\":\"updated\",\"op\":\"gt\","
         "\"value\":\"2024-01-01T08:00:00Z\"}]}");
    /* Filters are AND-ed: order and repeats don't matter. */
    SAME("{\"collection\":\"products\",\"filters\":[{\"field\":\"price\",\"op\":\"lt\",\"value\":50},"
         "{\"field\":\"category\",\"op\":\"eq\",\"value\":\"shoes\"}]}",
         "{\"collection\":\"products\",\"filters\":[{\"field\":\"category\",\"op\":\"eq\","
         "\"value\":\"shoes\"},{\"field\":\"price\",\"op\":\"lt\",\"value\":50},"
         "{\"field\":\"price\",\"op\":\"lt\",\"value\":50}]}");
    /* An in list is a set. */
    SAME("{\"collection\":\"products\",\"filters\":[{\"field\":\"id\",\"op\":\"in\","
         "\"value\":[3,1,2,1]}]}",
         "{\"collection\":\"products\",\"filters\":[{\"field\":\"id\",\"op\":\"in\","
         "\"value\":[1,2,3]}]}");
    /* Every search word must occur: order, repeats and spacing don't matter. */
    SAME("{\"collection\":\"products\",\"search\":\"red  sneakers red\"}",
         "{\"collection\":\"products\",\"search\":\"sneakers red\"}");
}

static void test_canonical_different(void **state)
{
    (void)state;
    const char *base = "{\"collection\":\"products\",\"filters\":[{\"field\":\"price\","
                       "\"op\":\"lt\",\"value\":50}]}";
    DIFFERENT(base, "{\"collection\":\"products\",\"filters\":[{\"field\":\"price\","
                    "\"op\":\"lte\",\"value\":50}]}");
    DIFFERENT(base, "{\"collection\":\"products\",\"filters\":[{\"field\":\"price\","
                    "\"op\":\"lt\",\"value\":51}]}");
    DIFFERENT(base, "{\"collection\":\"products\"}");
    DIFFERENT(base, "{\"collection\":\"plain\"}");
    /* between is [lo, hi], not a set. */
    SAME("{\"collection\":\"products\",\"filters\":[{\"field\":\"qty\",\"op\":\"between\","
         "\"value\":[1,5]}]}",
         "{\"collection\":\"products\",\"filters\":[{\"field\":\"qty\",\"op\":\"between\","
         "\"value\":[1,5]}]}");
    DIFFERENT("{\"collection\":\"products\",\"filters\":[{\"field\":\"qty\",\"op\":\"between\","
              "\"value\":[1,5]}]}",
              "{\"collection\":\"products\",\"filters\":[{\"field\":\"qty\",\"op\":\"between\","
              "\"value\":[1,1]},{\"field\":\"qty\",\"op\":\"between\",\"value\":[5,5]}]}");
    /* Same value in another field, or under another type. */
    DIFFERENT("{\"collection\":\"products\",\"filters\":[{\"field\":\"id\",\"op\":\"eq\","
              "\"value\":3}]}",
              "{\"collection\":\"products\",\"filters\":[{\"field\":\"qty\",\"op\":\"eq\","
              "\"value\":3}]}");
    DIFFERENT("{\"collection\":\"products\",\"filters\":[{\"field\":\"id\",\"op\":\"in\","
              "\"value\":[1,2]}]}",
              "{\"collection\":\"products\",\"filters\":[{\"field\":\"id\",\"op\":\"in\","
              "\"value\":[12]}]}");
    /* Word boundaries count; case is kept (only ASCII folds everywhere). */
    DIFFERENT("{\"collection\":\"products\",\"search\":\"ab c\"}",
              "{\"collection\":\"products\",\"search\":\"a bc\"}");
    DIFFERENT("{\"collection\":\"products\",\"search\":\"Red\"}",
              "{\"collection\":\"products\",\"search\":\"red\"}");
    /* Sort order, direction, fields and their order, limit. */
    DIFFERENT("{\"collection\":\"products\",\"sort\":[{\"field\":\"price\"},{\"field\":\"name\"}]}",
              "{\"collection\":\"products\",\"sort\":[{\"field\":\"name\"},{\"field\":\"price\"}]}");
    DIFFERENT("{\"collection\":\"products\",\"sort\":[{\"field\":\"price\"}]}",
              "{\"collection\":\"products\",\"sort\":[{\"field\":\"price\",\"dir\":\"desc\"}]}");
    DIFFERENT("{\"collection\":\"products\",\"fields\":[\"id\",\"name\"]}",
              "{\"collection\":\"products\",\"fields\":[\"name\",\"id\"]}");
    DIFFERENT("{\"collection\":\"products\",\"fields\":[\"id\"]}",
              "{\"collection\":\"products\",\"fields\":[\"id\",\"name\"]}");
    DIFFERENT("{\"collection\":\"products\",\"limit\":5}",
              "{\"collection\":\"products\",\"limit\":6}");
}

static char *next_cursor_for(const char *body, const rg_value *last)
{
    rg_request_plan p;
    rg_api_error e;
    assert_int_equal(rg_plan_build(&fx_site, &fx_limits, &test_kr, body, strlen(body), &p, &e), 0);
    char *cur = NULL;
    assert_int_equal(rg_plan_next_cursor(&p, &test_kr, last, &cur), 0);
    rg_request_plan_free(&p);
    return cur;
}

static void test_canonical_cursor_and_site(void **state)
{
    (void)state;
    const char *q = "{\"collection\":\"products\",\"fields\":[\"id\"],\"limit\":2";
    char b1[512], b2[512], b3[512], b4[512];
    rg_value v3 = {.struct_size = sizeof(rg_value), .type = RG_TYPE_INTEGER, .u.i = 3};
    rg_value v5 = {.struct_size = sizeof(rg_value), .type = RG_TYPE_INTEGER, .u.i = 5};
    char *c3 = next_cursor_for("{\"collection\":\"products\",\"fields\":[\"id\"],\"limit\":2}", &v3);
    char *c5 = next_cursor_for("{\"collection\":\"products\",\"fields\":[\"id\"],\"limit\":2}", &v5);
    /* The same position from another query's reordered twin is the same page. */
    char *c3b = next_cursor_for("{\"fields\":[\"id\"],\"collection\":\"products\",\"limit\":9}", &v3);
    snprintf(b1, sizeof b1, "%s,\"cursor\":\"%s\"}", q, c3);
    snprintf(b2, sizeof b2, "%s,\"cursor\":\"%s\"}", q, c5);
    snprintf(b3, sizeof b3, "%s,\"cursor\":\"%s\"}", q, c3b);
    snprintf(b4, sizeof b4, "%s}", q);
    SAME(b1, b3);
    DIFFERENT(b1, b2);
    DIFFERENT(b1, b4);
    free(c3);
    free(c5);
    free(c3b);

    /* Another site with the same collection and query never shares. */
    rg_site other = fx_site;
    other.site_id = "other0001";
    assert_false(same_key(&fx_site, b4, &other, b4));
}

/* The digest of reordered filters is one digest: a cursor of one works for the other. */
static void test_digest_filter_order(void **state)
{
    (void)state;
    uint8_t d1[16], d2[16];
    unsigned char *k;
    size_t l;
    key_of(&fx_site,
           "{\"collection\":\"products\",\"filters\":[{\"field\":\"price\",\"op\":\"lt\","
           "\"value\":50},{\"field\":\"id\",\"op\":\"in\",\"value\":[1,2]}]}",
           &k, &l, d1);
    free(k);
    key_of(&fx_site,
           "{\"collection\":\"products\",\"filters\":[{\"field\":\"id\",\"op\":\"in\","
           "\"value\":[2,1]},{\"field\":\"price\",\"op\":\"lt\",\"value\":50}]}",
           &k, &l, d2);
    free(k);
    assert_memory_equal(d1, d2, 16);
}

/* ---- cache settings ------------------------------------------------------------------ */

static rg_config *load_with(const char *yaml, rg_diags *d)
{
    char dir[] = "/tmp/rg-cache-cfg.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], sites[128];
    snprintf(path, sizeof path, "%s/readgate.yaml", dir);
    snprintf(sites, sizeof sites, "%s/sites", dir);
    assert_int_equal(mkdir(sites, 0700), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(yaml, f);
    assert_int_equal(fclose(f), 0);
    rg_config *c = rg_config_load(path, d);
    unlink(path);
    rmdir(sites);
    rmdir(dir);
    return c;
}

static void test_settings(void **state)
{
    (void)state;
    rg_diags d = {0};
    rg_config *c = load_with("log_level: info\n", &d);
    assert_non_null(c);
    assert_int_equal(c->cache_max_bytes, (size_t)64 << 20);
    rg_config_free(c);
    c = load_with("cache:\n  max_bytes: 0\n", &d);
    assert_non_null(c);
    assert_int_equal(c->cache_max_bytes, 0);
    rg_config_free(c);
    c = load_with("cache: {max_bytes: 1048576}\n", &d);
    assert_non_null(c);
    assert_int_equal(c->cache_max_bytes, 1048576);
    rg_config_free(c);
    assert_int_equal(d.count, 0);
    c = load_with("cache:\n  max_bytes: -1\n", &d);
    assert_null(c);
    assert_true(d.count >= 1);
    assert_non_null(strstr(d.lines[0], "readgate.yaml:2: cache.max_bytes: must be between 0 and"));
    rg_diags_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disabled),
        cmocka_unit_test(test_hit_miss_and_counters),
        cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_lru_and_budget),
        cmocka_unit_test(test_body_outlives_entry),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_flights),
        cmocka_unit_test(test_canonical_same),
        cmocka_unit_test(test_canonical_different),
        cmocka_unit_test(test_canonical_cursor_and_site),
        cmocka_unit_test(test_digest_filter_order),
        cmocka_unit_test(test_settings),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
