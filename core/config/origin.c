/*
 * Origin patterns and matching. The Origin header is parsed strictly and
 * compared whole (anchored), because prefix or substring matching is the
 * classic way an allowlist admits evilexample.com or example.com.evil.com.
 */
#include "origin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HOST 253
#define MAX_LABEL 63

static int lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch;
}

static bool label_char(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_';
}

/* Host name of dot-separated labels; returns the number of labels, or -1. */
static int host_labels(const char *h, size_t len)
{
    if (len == 0 || len > MAX_HOST)
        return -1;
    int labels = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || h[i] == '.') {
            size_t l = i - start;
            if (l == 0 || l > MAX_LABEL || h[start] == '-' || h[i - 1] == '-')
                return -1;
            labels++;
            start = i + 1;
        } else if (!label_char((unsigned char)h[i])) {
            return -1;
        }
    }
    return labels;
}

/* Decimal port 1..65535, digits only, no sign and no leading zero. */
static int parse_port(const char *s, size_t len)
{
    if (len == 0 || len > 5 || s[0] == '0')
        return -1;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535 ? v : -1;
}

static char *lower_dup(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (!d)
        return NULL;
    for (size_t i = 0; i < len; i++)
        d[i] = (char)lower((unsigned char)s[i]);
    d[len] = '\0';
    return d;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        if (err && errlen)                                                                         \
            snprintf(err, errlen, __VA_ARGS__);                                                    \
        return -1;                                                                                 \
    } while (0)

int rg_origin_pattern_parse(const char *text, rg_origin_pattern *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text)
        FAIL("empty origin pattern; expected e.g. 'example.com', '*.example.com' or "
             "'localhost:5173'");
    for (const char *p = text; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= ' ' || ch == 0x7f)
            FAIL("origin pattern '%s' contains white space or control characters", text);
        if (ch >= 0x80)
            FAIL("origin pattern '%s' is not ASCII; write the host in its punycode (xn--) form",
                 text);
    }
    if (strstr(text, "://"))
        FAIL("origin pattern '%s' must not include a scheme; write 'example.com' for "
             "https://example.com or 'host:port' for one port over http or https",
             text);
    if (strchr(text, '@'))
        FAIL("origin pattern '%s' must not include user info ('@')", text);
    if (strpbrk(text, "/?#\\"))
        FAIL("origin pattern '%s' must not include a path, query or fragment", text);
    if (strpbrk(text, "[]"))
        FAIL("origin pattern '%s': IPv6 addresses are not supported", text);

    const char *host = text;
    size_t hlen = strlen(text);
    const char *colon = strchr(text, ':');
    if (colon) {
        if (strchr(colon + 1, ':'))
            FAIL("origin pattern '%s': IPv6 addresses are not supported", text);
        hlen = (size_t)(colon - text);
        int port = parse_port(colon + 1, strlen(colon + 1));
        if (port < 0)
            FAIL("origin pattern '%s': the port must be a number from 1 to 65535", text);
        out->port = port;
    }
    if (hlen == 1 && host[0] == '*')
        FAIL("origin pattern '%s' would admit every site; list host names or '*.domain'", text);
    if (hlen >= 2 && host[0] == '*' && host[1] == '.') {
        host += 2;
        hlen -= 2;
        out->wildcard = true;
    }
    if (memchr(host, '*', hlen))
        FAIL("origin pattern '%s': '*' is only allowed as the whole first label, as in "
             "'*.example.com'",
             text);
    int labels = host_labels(host, hlen);
    if (labels < 0)
        FAIL("origin pattern '%s': '%.*s' is not a valid host name", text, (int)hlen, host);
    if (out->wildcard && labels < 2)
        FAIL("origin pattern '%s' is too broad; a wildcard needs at least two labels after "
             "'*.', as in '*.example.com'",
             text);
    out->host = lower_dup(host, hlen);
    if (!out->host)
        FAIL("out of memory");
    return 0;
}

void rg_origin_pattern_clear(rg_origin_pattern *p)
{
    if (!p)
        return;
    free(p->host);
    p->host = NULL;
    p->wildcard = false;
    p->port = 0;
}

/* A parsed Origin header: scheme, host (not copied) and effective port. */
typedef struct origin {
    bool https;
    const char *host;
    size_t hlen;
    int port; /* effective: the default port of the scheme when absent */
} origin;

static bool prefix_ci(const char *s, const char *p)
{
    for (; *p; s++, p++)
        if (lower((unsigned char)*s) != *p)
            return false;
    return true;
}

static bool origin_parse(const char *v, origin *o)
{
    if (prefix_ci(v, "https://")) {
        o->https = true;
        v += 8;
    } else if (prefix_ci(v, "http://")) {
        o->https = false;
        v += 7;
    } else {
        return false; /* includes "null" and every other scheme */
    }
    /* host runs to ':' or the end; anything else (path, '@', '[') is refused */
    size_t hlen = 0;
    while (v[hlen] && v[hlen] != ':')
        hlen++;
    if (host_labels(v, hlen) < 0)
        return false;
    o->host = v;
    o->hlen = hlen;
    o->port = o->https ? 443 : 80;
    if (v[hlen] == ':') {
        int port = parse_port(v + hlen + 1, strlen(v + hlen + 1));
        if (port < 0)
            return false;
        o->port = port;
    }
    return true;
}

static bool host_eq(const char *a, size_t alen, const char *b)
{
    if (strlen(b) != alen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != b[i])
            return false;
    return true;
}

static bool pattern_match(const rg_origin_pattern *p, const origin *o)
{
    if (!p->host)
        return false;
    if (p->port) {
        if (o->port != p->port)
            return false;
    } else if (!o->https || o->port != 443) {
        return false;
    }
    if (!p->wildcard)
        return host_eq(o->host, o->hlen, p->host);
    /* at least one label, then ".suffix": suffix alone or "xsuffix" never match */
    size_t slen = strlen(p->host);
    if (o->hlen < slen + 2 || o->host[o->hlen - slen - 1] != '.')
        return false;
    return host_eq(o->host + (o->hlen - slen), slen, p->host);
}

bool rg_origin_allowed(const rg_origin_pattern *patterns, size_t n, bool allow_localhost,
                       const char *origin_value)
{
    if (!origin_value)
        return false;
    origin o;
    if (!origin_parse(origin_value, &o))
        return false;
    if (allow_localhost &&
        (host_eq(o.host, o.hlen, "localhost") || host_eq(o.host, o.hlen, "127.0.0.1")))
        return true;
    for (size_t i = 0; i < n; i++)
        if (pattern_match(&patterns[i], &o))
            return true;
    return false;
}
