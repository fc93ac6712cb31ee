#include "oauth_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/audit.h"

int rg_oauth_open(const rg_keyring *kr, const char *site_id, const char *path, const char *enc,
                  char **plain, char *err, size_t errlen)
{
    size_t len = 0;
    char why[200];
    if (rg_secret_decrypt_audited(kr, site_id, path, enc, "oauth", plain, &len, why, sizeof why) !=
        0) {
        snprintf(err, errlen, "cannot decrypt %s: %s", path, why);
        return -1;
    }
    return 0;
}

static int fail(rg_http_req *out, char *err, size_t errlen)
{
    rg_http_req_clear(out);
    snprintf(err, errlen, "out of memory");
    return -1;
}

static int set_basic(rg_http_req *out, const char *user, const char *pass)
{
    out->basic_user = strdup(user);
    out->basic_pass = strdup(pass);
    return out->basic_user && out->basic_pass ? 0 : -1;
}

/* Airtable: a confidential client authenticates with HTTP Basic, a public
   one (no secret) names itself in the form. */
static int airtable_client_auth(const rg_oauth_config *o, const char *client_secret, rg_form *f,
                                rg_http_req *out)
{
    if (client_secret)
        return set_basic(out, o->client_id, client_secret);
    rg_form_add(f, "client_id", o->client_id);
    return 0;
}

int rg_oauth_refresh_request(const rg_oauth_config *o, const char *client_secret,
                             const char *refresh_token, rg_http_req *out, char *err,
                             size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->method = "POST";
    if (!(out->url = strdup(o->token_url)))
        return fail(out, err, errlen);
    rg_form f = {0};
    rg_form_add(&f, "grant_type", "refresh_token");
    rg_form_add(&f, "refresh_token", refresh_token);
    if (o->provider == RG_OAUTH_AIRTABLE) {
        if (airtable_client_auth(o, client_secret, &f, out) != 0) {
            rg_form_clear(&f);
            return fail(out, err, errlen);
        }
    } else {
        rg_form_add(&f, "client_id", o->client_id);
        rg_form_add(&f, "client_secret", client_secret ? client_secret : "");
    }
    if (!(out->body = rg_form_take(&f)))
        return fail(out, err, errlen);
    return 0;
}

int rg_oauth_jwt_request(const rg_oauth_config *o, const char *assertion, rg_http_req *out,
                         char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->method = "POST";
    if (!(out->url = strdup(o->token_url)))
        return fail(out, err, errlen);
    rg_form f = {0};
    rg_form_add(&f, "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer");
    rg_form_add(&f, "assertion", assertion);
    if (!(out->body = rg_form_take(&f)))
        return fail(out, err, errlen);
    return 0;
}

int rg_oauth_revoke_request(const rg_oauth_config *o, const char *client_secret,
                            const char *access_token, const char *refresh_token,
                            rg_http_req *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!(out->url = strdup(o->revoke_url)))
        return fail(out, err, errlen);
    if (o->provider == RG_OAUTH_SHOPIFY) {
        out->method = "DELETE";
        if (!access_token) {
            rg_http_req_clear(out);
            snprintf(err, errlen, "no access token to revoke the installation with");
            return -1;
        }
        if (asprintf(&out->header, "X-Shopify-Access-Token: %s", access_token) < 0) {
            out->header = NULL;
            return fail(out, err, errlen);
        }
        return 0;
    }
    out->method = "POST";
    const char *token = refresh_token ? refresh_token : access_token;
    if (!token) {
        rg_http_req_clear(out);
        snprintf(err, errlen, "no token to revoke");
        return -1;
    }
    rg_form f = {0};
    rg_form_add(&f, "token", token);
    if (o->provider == RG_OAUTH_AIRTABLE && airtable_client_auth(o, client_secret, &f, out) != 0) {
        rg_form_clear(&f);
        return fail(out, err, errlen);
    }
    if (!(out->body = rg_form_take(&f)))
        return fail(out, err, errlen);
    return 0;
}
