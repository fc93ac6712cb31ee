/*
 * Origin allowlist: pattern parsing and anchored matching (docs/http-api.md).
 * Each row: a set of patterns (space separated), allow_localhost, the Origin
 * header value, and whether it must be admitted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/origin.h"

static const struct {
    const char *patterns;
    bool localhost;
    const char *origin;
    bool allowed;
} rows[] = {
    /* bare host: https only, default port */
    {"example.com", false, "https://example.com", true},
    {"example.com", false, "https://example.com:443", true},
    {"example.com", false, "http://example.com", false},
    {"example.com", false, "http://example.com:443", false},
    {"example.com", false, "https://example.com:8443", false},
    {"example.com", false, "https://www.example.com", false},
    {"example.com", false, "https://evilexample.com", false},
    {"example.com", false, "https://example.com.evil.com", false},
    {"example.com", false, "https://example.co", false},
    {"example.com", false, "https://example.comm", false},
    /* case: host and scheme fold, nothing else changes */
    {"example.com", false, "https://EXAMPLE.com", true},
    {"Example.COM", false, "https://example.com", true},
    {"example.com", false, "HTTPS://Example.Com", true},
    {"example.com", false, "HtTpS://example.com", true},
    /* malformed or dangerous origin values */
    {"example.com", false, "null", false},
    {"example.com", false, "", false},
    {"example.com", false, NULL, false},
    {"example.com", false, "example.com", false},
    {"example.com", false, "https://example.com/", false},
    {"example.com", false, "https://example.com/path", false},
    {"example.com", false, "https://example.com?x=1", false},
    {"example.com", false, "https://example.com#frag", false},
    {"example.com", false, "https://user@example.com", false},
    {"example.com", false, "https://user:pw@example.com", false},
    {"example.com", false, "https://evil.com@example.com", false},
    {"example.com", false, "https://example.com.", false},
    {"example.com", false, "https://example.com:", false},
    {"example.com", false, "https://example.com:+443", false},
    {"example.com", false, "https://example.com:0443", false},
    {"example.com", false, "https://example.com:443x", false},
    {"example.com", false, "https://example.com:443:443", false},
    {"example.com", false, "https://example.com:99999", false},
    {"example.com", false, " https://example.com", false},
    {"example.com", false, "https://example.com ", false},
    {"example.com", false, "https://exa mple.com", false},
    {"example.com", false, "ftp://example.com", false},
    {"example.com", false, "https:/example.com", false},
    {"example.com", false, "https://", false},
    {"example.com", false, "https://.example.com", false},
    {"example.com", false, "https://example..com", false},
    {"example.com", false, "wss://example.com", false},
    /* wildcard: any depth of subdomain over https, never the apex */
    {"*.example.com", false, "https://shop.example.com", true},
    {"*.example.com", false, "https://a.b.example.com", true},
    {"*.example.com", false, "https://SHOP.Example.com:443", true},
    {"*.example.com", false, "https://example.com", false},
    {"*.example.com", false, "https://evilexample.com", false},
    {"*.example.com", false, "https://shop.evilexample.com", false},
    {"*.example.com", false, "https://shop.example.com.evil.com", false},
    {"*.example.com", false, "http://shop.example.com", false},
    {"*.example.com", false, "https://shop.example.com:8443", false},
    {"*.example.com", false, "https://.example.com", false},
    /* host:port: that port exactly, http or https */
    {"localhost:5173", false, "http://localhost:5173", true},
    {"localhost:5173", false, "https://localhost:5173", true},
    {"localhost:5173", false, "http://localhost:5174", false},
    {"localhost:5173", false, "http://localhost", false},
    {"shop.example.com:8443", false, "https://shop.example.com:8443", true},
    {"shop.example.com:8443", false, "https://shop.example.com", false},
    {"example.com:443", false, "https://example.com", true},
    {"example.com:80", false, "http://example.com", true},
    {"example.com:80", false, "https://example.com:80", true},
    {"*.example.com:8443", false, "http://a.example.com:8443", true},
    {"*.example.com:8443", false, "http://example.com:8443", false},
    {"192.168.1.10:8080", false, "http://192.168.1.10:8080", true},
    {"192.168.1.10:8080", false, "http://192.168.1.100:8080", false},
    /* allow_localhost */
    {"", true, "http://localhost:3000", true},
    {"", true, "https://localhost", true},
    {"", true, "http://LOCALHOST:8080", true},
    {"", true, "http://127.0.0.1:5500", true},
    {"", true, "http://127.0.0.1", true},
    {"", false, "http://localhost:3000", false},
    {"", false, "http://127.0.0.1:5500", false},
    {"", true, "http://localhost.evil.com", false},
    {"", true, "http://evil-localhost", false},
    {"", true, "http://127.0.0.2", false},
    {"", true, "http://[::1]:3000", false}, /* IPv6 literals are not admitted */
    {"", true, "http://localhost:3000/x", false},
    {"", true, "http://user@localhost:3000", false},
    {"", true, "file://localhost", false},
    {"", true, "null", false},
    /* several patterns: any one suffices; none leaks into another */
    {"a.example.com b.example.org:8080", false, "https://a.example.com", true},
    {"a.example.com b.example.org:8080", false, "http://b.example.org:8080", true},
    {"a.example.com b.example.org:8080", false, "https://b.example.org", false},
    {"a.example.com b.example.org:8080", false, "https://a.example.com:8080", false},
    {"", false, "https://example.com", false},
};

#define MAXPAT 8

static size_t parse_set(const char *text, rg_origin_pattern *out)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        char err[256];
        assert_true(n < MAXPAT);
        if (rg_origin_pattern_parse(tok, &out[n], err, sizeof err) != 0)
            fail_msg("pattern '%s' refused: %s", tok, err);
        n++;
    }
    return n;
}

static void test_matching_table(void **state)
{
    (void)state;
    assert_true(sizeof rows / sizeof rows[0] >= 40);
    int bad = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        rg_origin_pattern p[MAXPAT];
        size_t n = parse_set(rows[i].patterns, p);
        bool got = rg_origin_allowed(p, n, rows[i].localhost, rows[i].origin);
        if (got != rows[i].allowed) {
            print_message("row %zu: patterns '%s' localhost=%d origin '%s': got %d, want %d\n", i,
                          rows[i].patterns, rows[i].localhost,
                          rows[i].origin ? rows[i].origin : "(null)", got, rows[i].allowed);
            bad++;
        }
        for (size_t j = 0; j < n; j++)
            rg_origin_pattern_clear(&p[j]);
    }
    assert_int_equal(bad, 0);
}

static void test_pattern_parsed(void **state)
{
    (void)state;
    static const struct {
        const char *text, *host;
        bool wildcard;
        int port;
    } ok[] = {
        {"example.com", "example.com", false, 0},
        {"Shop.Example.COM", "shop.example.com", false, 0},
        {"*.example.com", "example.com", true, 0},
        {"*.shop.example.co.uk", "shop.example.co.uk", true, 0},
        {"localhost:5173", "localhost", false, 5173},
        {"*.example.com:8443", "example.com", true, 8443},
        {"intranet", "intranet", false, 0},
        {"xn--bcher-kva.example", "xn--bcher-kva.example", false, 0},
        {"a.example.com:65535", "a.example.com", false, 65535},
        {"a.example.com:1", "a.example.com", false, 1},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        rg_origin_pattern p;
        char err[256] = "";
        if (rg_origin_pattern_parse(ok[i].text, &p, err, sizeof err) != 0)
            fail_msg("'%s' refused: %s", ok[i].text, err);
        assert_string_equal(p.host, ok[i].host);
        assert_int_equal(p.wildcard, ok[i].wildcard);
        assert_int_equal(p.port, ok[i].port);
        rg_origin_pattern_clear(&p);
        assert_null(p.host);
    }
}

static void test_pattern_refused(void **state)
{
    (void)state;
    static const struct {
        const char *text, *why; /* `why` must appear in the message */
    } bad[] = {
        {"", "empty origin pattern"},
        {NULL, "empty origin pattern"},
        {"https://example.com", "must not include a scheme"},
        {"http://localhost:5173", "must not include a scheme"},
        {"*", "would admit every site"},
        {"*:8080", "would admit every site"},
        {"*.com", "too broad"},
        {"*.localhost", "too broad"},
        {"*.", "not a valid host name"},
        {"**.example.com", "'*' is only allowed"},
        {"shop.*.example.com", "'*' is only allowed"},
        {"*shop.example.com", "'*' is only allowed"},
        {"example.*", "'*' is only allowed"},
        {"example.com/", "must not include a path"},
        {"example.com/shop", "must not include a path"},
        {"example.com?x", "must not include a path"},
        {"example.com#x", "must not include a path"},
        {"user@example.com", "user info"},
        {" example.com", "white space"},
        {"example.com ", "white space"},
        {"exa mple.com", "white space"},
        {"example.com\t", "white space"},
        {"example.com:0", "port must be a number from 1 to 65535"},
        {"example.com:65536", "port must be a number from 1 to 65535"},
        {"example.com:", "port must be a number from 1 to 65535"},
        {"example.com:+80", "port must be a number from 1 to 65535"},
        {"example.com:080", "port must be a number from 1 to 65535"},
        {"example.com:http", "port must be a number from 1 to 65535"},
        {"example.com.", "not a valid host name"},
        {".example.com", "not a valid host name"},
        {"example..com", "not a valid host name"},
        {"-example.com", "not a valid host name"},
        {"ex!ample.com", "not a valid host name"},
        {":8080", "not a valid host name"},
        {"[::1]:8080", "IPv6"},
        {"::1", "IPv6"},
        {"bücher.example", "punycode"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rg_origin_pattern p;
        char err[256] = "";
        int rc = rg_origin_pattern_parse(bad[i].text, &p, err, sizeof err);
        if (rc == 0) {
            rg_origin_pattern_clear(&p);
            fail_msg("'%s' accepted", bad[i].text ? bad[i].text : "(null)");
        }
        assert_null(p.host);
        if (!strstr(err, bad[i].why))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].text ? bad[i].text : "(null)", err,
                     bad[i].why);
    }
}

/* A pattern with no host (never parsed) never matches anything. */
static void test_empty_pattern_matches_nothing(void **state)
{
    (void)state;
    rg_origin_pattern p = {0};
    assert_false(rg_origin_allowed(&p, 1, false, "https://example.com"));
    assert_false(rg_origin_allowed(NULL, 0, false, "https://example.com"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matching_table),
        cmocka_unit_test(test_pattern_parsed),
        cmocka_unit_test(test_pattern_refused),
        cmocka_unit_test(test_empty_pattern_matches_nothing),
    };
    return cmocka_run_group_tests_name("origin", tests, NULL, NULL);
}
