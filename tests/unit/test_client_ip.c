/* Client addresses: CIDR parsing and matching, X-Forwarded-For elements, and
   the right-most untrusted hop behind trusted proxies. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/client_ip.h"

static rg_ip ip(const char *s)
{
    rg_ip out;
    assert_int_equal(rg_ip_parse(s, strlen(s), &out), 0);
    return out;
}

static char *fmt(const rg_ip *a)
{
    static char buf[64];
    rg_ip_format(a, buf, sizeof buf);
    return buf;
}

static void test_parse_elements(void **state)
{
    (void)state;
    rg_ip a;
    static const char *const good[][2] = {
        {"1.2.3.4", "1.2.3.4"},         {" 1.2.3.4 ", "1.2.3.4"},
        {"1.2.3.4:8080", "1.2.3.4"},    {"2001:db8::1", "2001:db8::1"},
        {"[2001:db8::1]", "2001:db8::1"}, {"[2001:db8::1]:443", "2001:db8::1"},
        {"::ffff:10.0.0.1", "10.0.0.1"}, {"\t::1", "::1"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        a = ip(good[i][0]);
        assert_string_equal(fmt(&a), good[i][1]);
    }
    static const char *const bad[] = {"", " ", "unknown", "1.2.3", "1.2.3.4.5", "1.2.3.4:",
                                      "1.2.3.4:x", "[1.2.3.4]", "[::1", "::1]:80", "[::1]x",
                                      "256.1.1.1", "1.2.3.4:123456", "_hidden", "1.2.3.4 5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(rg_ip_parse(bad[i], strlen(bad[i]), &a), -1);
}

static void test_cidr(void **state)
{
    (void)state;
    rg_cidr c;
    assert_int_equal(rg_cidr_parse("10.0.0.0/8", &c), 0);
    rg_ip a = ip("10.255.1.2"), b = ip("11.0.0.1");
    assert_true(rg_cidr_contains(&c, &a));
    assert_false(rg_cidr_contains(&c, &b));
    assert_int_equal(rg_cidr_parse("192.168.1.7", &c), 0);
    a = ip("192.168.1.7");
    b = ip("192.168.1.8");
    assert_true(rg_cidr_contains(&c, &a));
    assert_false(rg_cidr_contains(&c, &b));
    assert_int_equal(rg_cidr_parse("fd00::/8", &c), 0);
    a = ip("fdab::1");
    b = ip("fe80::1");
    assert_true(rg_cidr_contains(&c, &a));
    assert_false(rg_cidr_contains(&c, &b));
    /* an IPv4 range never matches an IPv6 address outside ::ffff:0:0/96 */
    assert_int_equal(rg_cidr_parse("0.0.0.0/0", &c), 0);
    a = ip("2001:db8::1");
    b = ip("8.8.8.8");
    assert_false(rg_cidr_contains(&c, &a));
    assert_true(rg_cidr_contains(&c, &b));
    /* host bits are masked off */
    assert_int_equal(rg_cidr_parse("10.1.2.3/16", &c), 0);
    a = ip("10.1.200.1");
    assert_true(rg_cidr_contains(&c, &a));
    assert_int_equal(rg_cidr_parse("10.0.0.0/33", &c), -1);
    assert_int_equal(rg_cidr_parse("::/129", &c), -1);
    assert_int_equal(rg_cidr_parse("10.0.0.0/", &c), -1);
    assert_int_equal(rg_cidr_parse("nope", &c), -1);
    assert_int_equal(rg_cidr_parse("/8", &c), -1);
}

static rg_cidr proxies[2];

static int setup(void **state)
{
    (void)state;
    return rg_cidr_parse("127.0.0.1", &proxies[0]) || rg_cidr_parse("10.0.0.0/8", &proxies[1]);
}

static const char *client(const char *peer, const char *const *xff, size_t n)
{
    rg_ip p = ip(peer);
    rg_ip c = rg_client_ip(&p, xff, n, proxies, 2);
    return fmt(&c);
}

static void test_untrusted_peer(void **state)
{
    (void)state;
    const char *x[] = {"1.1.1.1"};
    assert_string_equal(client("8.8.8.8", x, 1), "8.8.8.8");
    assert_string_equal(client("127.0.0.2", x, 1), "127.0.0.2");
}

static void test_trusted_peer(void **state)
{
    (void)state;
    const char *one[] = {"203.0.113.9"};
    assert_string_equal(client("127.0.0.1", one, 1), "203.0.113.9");
    /* the forged left part is ignored */
    const char *forged[] = {"6.6.6.6, 203.0.113.9"};
    assert_string_equal(client("127.0.0.1", forged, 1), "203.0.113.9");
    /* inner trusted proxies are skipped */
    const char *chain[] = {"6.6.6.6, 203.0.113.9, 10.0.0.7, 10.9.9.9"};
    assert_string_equal(client("127.0.0.1", chain, 1), "203.0.113.9");
    /* several headers are one list, in order */
    const char *split[] = {"6.6.6.6", "203.0.113.9, 10.0.0.7"};
    assert_string_equal(client("127.0.0.1", split, 2), "203.0.113.9");
    /* no header: the proxy itself */
    assert_string_equal(client("127.0.0.1", NULL, 0), "127.0.0.1");
    /* only trusted hops: the left-most of them */
    const char *inner[] = {"10.1.1.1, 10.2.2.2"};
    assert_string_equal(client("127.0.0.1", inner, 1), "10.1.1.1");
    /* empty elements are skipped; ports and brackets are understood */
    const char *messy[] = {"6.6.6.6,, [2001:db8::5]:443 ,"};
    assert_string_equal(client("127.0.0.1", messy, 1), "2001:db8::5");
    const char *port[] = {"198.51.100.1:5555"};
    assert_string_equal(client("127.0.0.1", port, 1), "198.51.100.1");
}

static void test_garbage_stops_the_walk(void **state)
{
    (void)state;
    const char *g[] = {"203.0.113.9, unknown"};
    assert_string_equal(client("127.0.0.1", g, 1), "127.0.0.1");
    const char *g2[] = {"203.0.113.9, garbage, 10.0.0.7"};
    assert_string_equal(client("127.0.0.1", g2, 1), "10.0.0.7");
    const char *g3[] = {"", " , "};
    assert_string_equal(client("127.0.0.1", g3, 2), "127.0.0.1");
}

static void test_limit_key(void **state)
{
    (void)state;
    uint8_t k1[16], k2[16];
    rg_ip a = ip("2001:db8:1:2:aaaa::1"), b = ip("2001:db8:1:2:bbbb::2"), c = ip("2001:db8:1:3::1");
    rg_ip_limit_key(&a, k1);
    rg_ip_limit_key(&b, k2);
    assert_memory_equal(k1, k2, 16); /* one /64, one window */
    rg_ip_limit_key(&c, k2);
    assert_memory_not_equal(k1, k2, 16);
    rg_ip d = ip("1.2.3.4"), e = ip("1.2.3.5");
    rg_ip_limit_key(&d, k1);
    rg_ip_limit_key(&e, k2);
    assert_memory_not_equal(k1, k2, 16);
}

static void test_sockaddr(void **state)
{
    (void)state;
    struct sockaddr_in in = {.sin_family = AF_INET};
    inet_pton(AF_INET, "192.0.2.33", &in.sin_addr);
    rg_ip a;
    assert_int_equal(rg_ip_from_sockaddr((struct sockaddr *)&in, &a), 0);
    assert_string_equal(fmt(&a), "192.0.2.33");
    assert_true(rg_ip_is_v4(&a));
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "2001:db8::9", &in6.sin6_addr);
    assert_int_equal(rg_ip_from_sockaddr((struct sockaddr *)&in6, &a), 0);
    assert_string_equal(fmt(&a), "2001:db8::9");
    struct sockaddr other = {.sa_family = AF_UNIX};
    assert_int_equal(rg_ip_from_sockaddr(&other, &a), -1);
    assert_int_equal(rg_ip_from_sockaddr(NULL, &a), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_elements),   cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_untrusted_peer),   cmocka_unit_test(test_trusted_peer),
        cmocka_unit_test(test_garbage_stops_the_walk), cmocka_unit_test(test_limit_key),
        cmocka_unit_test(test_sockaddr),
    };
    return cmocka_run_group_tests_name("client address", tests, setup, NULL);
}
