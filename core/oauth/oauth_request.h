/*
 * Each provider's documented token and revoke calls, as rg_http_req:
 *   google   refresh: POST token_url, client_id and client_secret in the body;
 *            JWT bearer grant for service accounts; revoke: POST revoke_url token=
 *   airtable refresh: POST token_url, HTTP Basic client_id:client_secret
 *            (client_id in the body for a public client); revoke: POST
 *            revoke_url token= with the same client authentication
 *   shopify  refresh: POST token_url, client_id and client_secret in the body;
 *            revoke: DELETE revoke_url (api_permissions/current.json) with
 *            X-Shopify-Access-Token
 * Plaintext arguments are copied into the request (wiped when it is cleared).
 */
#ifndef RG_OAUTH_REQUEST_H
#define RG_OAUTH_REQUEST_H

#include "config/config.h"
#include "crypto/keyring.h"
#include "oauth_http.h"

/* 0, or -1 with a message. client_secret may be NULL (public client). */
int rg_oauth_refresh_request(const rg_oauth_config *o, const char *client_secret,
                             const char *refresh_token, rg_http_req *out, char *err,
                             size_t errlen);
int rg_oauth_jwt_request(const rg_oauth_config *o, const char *assertion, rg_http_req *out,
                         char *err, size_t errlen);
/* The token to revoke: the refresh token when there is one (it ends the
   whole grant), else the access token; Shopify always uses the access token. */
int rg_oauth_revoke_request(const rg_oauth_config *o, const char *client_secret,
                            const char *access_token, const char *refresh_token,
                            rg_http_req *out, char *err, size_t errlen);

/* Open an encrypted value of the oauth block or the state store, with its
   audit line (purpose "oauth"). `path` is the field path after "<site>/". */
int rg_oauth_open(const rg_keyring *kr, const char *site_id, const char *path, const char *enc,
                  char **plain, char *err, size_t errlen);

#endif
