/*
 * Google service accounts: the JWT bearer grant (RFC 7523) as Google
 * documents it for server-to-server use. The assertion is
 * base64url(header) "." base64url(claims) "." base64url(RS256 signature),
 * signed with the account's PEM private key through OpenSSL's EVP_DigestSign.
 */
#ifndef RG_OAUTH_JWT_H
#define RG_OAUTH_JWT_H

#include <stddef.h>
#include <stdint.h>

/* Lifetime asked for: Google's maximum. */
#define RG_JWT_LIFETIME_S 3600

/* A signed assertion (malloc'd) for `email` asking for `scopes`
   (space-separated) at token endpoint `aud`, issued at `now`. NULL with a
   message (never key material) on error. */
char *rg_jwt_service_account(const char *pem, size_t pem_len, const char *email,
                             const char *scopes, const char *aud, int64_t now, char *err,
                             size_t errlen);

#endif
