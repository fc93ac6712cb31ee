#include "http/client_ip.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool rg_ip_is_v4(const rg_ip *ip)
{
    return memcmp(ip->b, v4_prefix, sizeof v4_prefix) == 0;
}

static void from_v4(const void *a4, rg_ip *out)
{
    memcpy(out->b, v4_prefix, sizeof v4_prefix);
    memcpy(out->b + 12, a4, 4);
}

/* A bare address, NUL-terminated. */
static int parse_bare(const char *s, rg_ip *out)
{
    uint8_t buf[16];
    if (inet_pton(AF_INET, s, buf) == 1) {
        from_v4(buf, out);
        return 0;
    }
    if (inet_pton(AF_INET6, s, buf) == 1) {
        memcpy(out->b, buf, 16);
        return 0;
    }
    return -1;
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

int rg_ip_parse(const char *s, size_t len, rg_ip *out)
{
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    char tmp[64];
    if (len == 0 || len >= sizeof tmp)
        return -1;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return -1;
        size_t alen = (size_t)(close - s - 1);
        size_t rest = len - (size_t)(close - s) - 1;
        if (rest && (close[1] != ':' || !all_digits(close + 2, rest - 1)))
            return -1;
        memcpy(tmp, s + 1, alen);
        tmp[alen] = '\0';
        /* Brackets are for IPv6 only. */
        uint8_t buf[16];
        if (inet_pton(AF_INET6, tmp, buf) != 1)
            return -1;
        memcpy(out->b, buf, 16);
        return 0;
    }
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (parse_bare(tmp, out) == 0)
        return 0;
    /* "a.b.c.d:port": exactly one colon, so it can't be IPv6. */
    char *colon = strchr(tmp, ':');
    if (colon && !strchr(colon + 1, ':') && all_digits(colon + 1, strlen(colon + 1))) {
        *colon = '\0';
        uint8_t buf[4];
        if (inet_pton(AF_INET, tmp, buf) == 1) {
            from_v4(buf, out);
            return 0;
        }
    }
    return -1;
}

int rg_ip_from_sockaddr(const struct sockaddr *sa, rg_ip *out)
{
    if (!sa)
        return -1;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        from_v4(&in->sin_addr, out);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(out->b, &in6->sin6_addr, 16);
        return 0;
    }
    return -1;
}

void rg_ip_format(const rg_ip *ip, char *buf, size_t len)
{
    const char *r = rg_ip_is_v4(ip) ? inet_ntop(AF_INET, ip->b + 12, buf, (socklen_t)len)
                                    : inet_ntop(AF_INET6, ip->b, buf, (socklen_t)len);
    if (!r && len)
        snprintf(buf, len, "?");
}

int rg_cidr_parse(const char *s, rg_cidr *out)
{
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    char addr[INET6_ADDRSTRLEN + 1];
    if (alen == 0 || alen >= sizeof addr)
        return -1;
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    rg_cidr c;
    if (parse_bare(addr, &c.net) != 0)
        return -1;
    bool v4 = strchr(addr, ':') == NULL;
    int maxbits = v4 ? 32 : 128;
    int bits = maxbits;
    if (slash) {
        const char *b = slash + 1;
        size_t blen = strlen(b);
        if (blen == 0 || blen > 3 || strspn(b, "0123456789") != blen)
            return -1;
        bits = atoi(b);
        if (bits > maxbits)
            return -1;
    }
    c.bits = v4 ? 96 + bits : bits;
    for (int i = 0; i < 16; i++) {
        int keep = c.bits - 8 * i;
        if (keep >= 8)
            continue;
        c.net.b[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
    }
    *out = c;
    return 0;
}

bool rg_cidr_contains(const rg_cidr *c, const rg_ip *ip)
{
    int full = c->bits / 8, rem = c->bits % 8;
    if (memcmp(c->net.b, ip->b, (size_t)full) != 0)
        return false;
    if (rem == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rem));
    return (ip->b[full] & mask) == c->net.b[full];
}

static bool trusted_ip(const rg_ip *ip, const rg_cidr *trusted, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rg_cidr_contains(&trusted[i], ip))
            return true;
    return false;
}

rg_ip rg_client_ip(const rg_ip *peer, const char *const *xff, size_t nxff,
                   const rg_cidr *trusted, size_t ntrusted)
{
    rg_ip client = *peer;
    if (!trusted_ip(peer, trusted, ntrusted))
        return client;
    /* Right to left across the headers, then across each comma list. */
    for (size_t h = nxff; h-- > 0;) {
        const char *v = xff[h];
        if (!v)
            continue;
        size_t end = strlen(v);
        for (;;) {
            size_t start = end;
            while (start > 0 && v[start - 1] != ',')
                start--;
            size_t len = end - start;
            const char *p = v + start;
            size_t blank = 0;
            while (blank < len && (p[blank] == ' ' || p[blank] == '\t'))
                blank++;
            if (blank < len) { /* empty elements ("a,,b") are skipped */
                rg_ip hop;
                if (rg_ip_parse(p, len, &hop) != 0)
                    return client; /* garbage: keep the last believed hop */
                client = hop;
                if (!trusted_ip(&hop, trusted, ntrusted))
                    return client;
            }
            if (start == 0)
                break;
            end = start - 1;
        }
    }
    return client; /* every hop was a trusted proxy: the left-most one */
}

void rg_ip_limit_key(const rg_ip *ip, uint8_t out[16])
{
    memcpy(out, ip->b, 16);
    if (!rg_ip_is_v4(ip))
        memset(out + 8, 0, 8);
}
