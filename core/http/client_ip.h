/*
 * Who is asking: the socket peer, or, when the peer is one of the configured
 * trusted_proxies, the right-most address of X-Forwarded-For that is not
 * itself a trusted proxy. Addresses left of that one were written by the
 * client and are never believed.
 */
#ifndef RG_CLIENT_IP_H
#define RG_CLIENT_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An address in IPv6 form (IPv4 as ::ffff:a.b.c.d), so one compare fits both. */
typedef struct rg_ip {
    uint8_t b[16];
} rg_ip;

typedef struct rg_cidr {
    rg_ip net;  /* already masked */
    int bits;   /* 0..128, in the IPv6 form (IPv4 /n is 96 + n) */
} rg_cidr;

/* "10.0.0.0/8", "::1", "192.168.1.7", "fd00::/8". 0, or -1 if malformed. */
int rg_cidr_parse(const char *s, rg_cidr *out);
bool rg_cidr_contains(const rg_cidr *c, const rg_ip *ip);
bool rg_ip_is_v4(const rg_ip *ip);
/* A socket address (AF_INET or AF_INET6). -1 for other families. */
int rg_ip_from_sockaddr(const struct sockaddr *sa, rg_ip *out);
/* One X-Forwarded-For element: "1.2.3.4", "1.2.3.4:5678", "2001:db8::1",
   "[2001:db8::1]" or "[2001:db8::1]:443", surrounding white space allowed. */
int rg_ip_parse(const char *s, size_t len, rg_ip *out);
/* Text form, for logs and tests. */
void rg_ip_format(const rg_ip *ip, char *buf, size_t len);

/*
 * The client address of a request from `peer`. `xff` holds the values of
 * every X-Forwarded-For header in the order received (each may be a comma
 * list). An element that is not an address stops the walk: the client is
 * then the last hop that was believed, which is never more than the proxies
 * vouch for.
 */
rg_ip rg_client_ip(const rg_ip *peer, const char *const *xff, size_t nxff,
                   const rg_cidr *trusted, size_t ntrusted);

/* The identity rate limits count by: an IPv4 address, or the /64 of an
   IPv6 address (one host usually holds a whole /64). */
void rg_ip_limit_key(const rg_ip *ip, uint8_t out[16]);

#endif
