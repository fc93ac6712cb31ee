/*
 * The origin allowlist (core/config/origin.c). Input: one flag byte (bit 0:
 * allow_localhost), a pattern as written in allowed_origins, a newline, and an
 * Origin header value. Beyond memory safety, the matcher is compared with a
 * second, independently written reading of docs/http-api.md (below), so a
 * pattern that admits what it should not (or refuses what it should admit)
 * stops the run.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/origin.h"
#include "fuzz_common.h"

static char lc(char ch) { return ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch; }

static bool ieq(const char *a, size_t alen, const char *b)
{
    if (strlen(b) != alen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (lc(a[i]) != b[i])
            return false;
    return true;
}

/* Dot-separated labels of 1..63 of [A-Za-z0-9_-], no '-' at either end,
   253 characters at most. */
static bool ref_host_ok(const char *h, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && h[i] != '.') {
            char ch = h[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
                return false;
            continue;
        }
        size_t l = i - start;
        if (l == 0 || l > 63 || h[start] == '-' || h[i - 1] == '-')
            return false;
        start = i + 1;
    }
    return true;
}

static int ref_port(const char *s, size_t n)
{
    if (n == 0 || n > 5 || s[0] == '0')
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= 65535 ? (int)v : -1;
}

/* docs/configuration.md: "example.com" admits https://example.com only; "*.example.com" any
   subdomain over https, not the bare domain; "host:port" that exact port
   over either scheme; no path, user info or "null"; host names fold case. */
static bool ref_allowed(const rg_origin_pattern *p, bool allow_localhost, const char *o)
{
    bool https;
    if (strncasecmp(o, "https://", 8) == 0) {
        https = true;
        o += 8;
    } else if (strncasecmp(o, "http://", 7) == 0) {
        https = false;
        o += 7;
    } else {
        return false;
    }
    const char *colon = strchr(o, ':');
    size_t hlen = colon ? (size_t)(colon - o) : strlen(o);
    if (!ref_host_ok(o, hlen))
        return false;
    int port = https ? 443 : 80;
    if (colon) {
        port = ref_port(colon + 1, strlen(colon + 1));
        if (port < 0)
            return false;
    }
    if (allow_localhost && (ieq(o, hlen, "localhost") || ieq(o, hlen, "127.0.0.1")))
        return true;
    if (!p)
        return false;
    if (p->port ? port != p->port : !(https && port == 443))
        return false;
    if (!p->wildcard)
        return ieq(o, hlen, p->host);
    size_t sl = strlen(p->host);
    return hlen >= sl + 2 && o[hlen - sl - 1] == '.' && ieq(o + hlen - sl, sl, p->host);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool allow_localhost = data[0] & 1;
    char *text = rg_fuzz_cstr(data + 1, size - 1);
    char *nl = strchr(text, '\n');
    const char *origin = "";
    if (nl) {
        *nl = '\0';
        origin = nl + 1;
    }
    rg_origin_pattern pat;
    char err[300];
    err[0] = '\0';
    bool parsed = rg_origin_pattern_parse(text, &pat, err, sizeof err) == 0;
    if (parsed) {
        RG_FUZZ_CHECK(pat.host && *pat.host && !strchr(pat.host, '*'));
        for (const char *p = pat.host; *p; p++)
            RG_FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z'));
        RG_FUZZ_CHECK(pat.port >= 0 && pat.port <= 65535);
        /* a wildcard never stands for a bare top-level domain */
        RG_FUZZ_CHECK(!pat.wildcard || strchr(pat.host, '.'));
    } else {
        RG_FUZZ_CHECK(err[0] != '\0');
    }
    bool got = rg_origin_allowed(parsed ? &pat : NULL, parsed ? 1 : 0, allow_localhost, origin);
    bool want = ref_allowed(parsed ? &pat : NULL, allow_localhost, origin);
    if (got != want)
        fprintf(stderr, "pattern '%s' origin '%s' localhost %d: matcher %d, spec %d\n", text,
                origin, allow_localhost, got, want);
    RG_FUZZ_CHECK(got == want);
    RG_FUZZ_CHECK(!got || strcmp(origin, "null") != 0);
    if (parsed)
        rg_origin_pattern_clear(&pat);
    free(text);
    return 0;
}
