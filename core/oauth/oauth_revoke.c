#include "oauth_revoke.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oauth_request.h"

/* The stored tokens of the row, decrypted (each may come back NULL). */
static int open_tokens(const rg_oauth_target *t, const rg_token_row *row, char **access,
                       char **refresh, char *msg, size_t msglen)
{
    char path[256];
    *access = *refresh = NULL;
    if (row->access_token_enc) {
        rg_oauth_token_path(path, sizeof path, t->src->name, "access_token");
        if (rg_oauth_open(t->kr, t->site_id, path, row->access_token_enc, access, msg, msglen))
            return -1;
    }
    if (row->refresh_token_enc) {
        rg_oauth_token_path(path, sizeof path, t->src->name, "refresh_token");
        if (rg_oauth_open(t->kr, t->site_id, path, row->refresh_token_enc, refresh, msg,
                          msglen)) {
            rg_free_secret(*access);
            *access = NULL;
            return -1;
        }
    }
    return 0;
}

/* Google answers 400 invalid_token for a token it no longer knows: the
   grant is already gone, which is what revoking wants. */
static bool already_invalid(const rg_http_resp *r)
{
    if (r->status != 400 || !r->body)
        return false;
    json_t *doc = json_loadb(r->body, r->len, 0, NULL);
    const char *e = json_string_value(json_object_get(doc, "error"));
    bool yes = e && (strcmp(e, "invalid_token") == 0);
    json_decref(doc);
    return yes;
}

/* One revoke call with the row's current tokens: 0 ok, 1 the token was
   refused (401), -1 failed. */
static int revoke_once(const rg_oauth_target *t, const rg_token_row *row,
                       const rg_http_transport *tr, char *msg, size_t msglen)
{
    const rg_oauth_config *o = t->src->oauth;
    char *access = NULL, *refresh = NULL, *secret = NULL;
    char path[256];
    int rc = -1;
    if (open_tokens(t, row, &access, &refresh, msg, msglen) != 0)
        return -1;
    if (o->client_secret && o->provider == RG_OAUTH_AIRTABLE) {
        snprintf(path, sizeof path, "sources.%s.oauth.client_secret", t->src->name);
        if (rg_oauth_open(t->kr, t->site_id, path, o->client_secret, &secret, msg, msglen) != 0)
            goto out;
    }
    rg_http_req req;
    if (rg_oauth_revoke_request(o, secret, access, refresh, &req, msg, msglen) != 0)
        goto out;
    rg_http_resp resp = {0};
    int sent = tr->perform(tr->ctx, &req, &resp);
    rg_http_req_clear(&req);
    if (sent != 0 && resp.status == 0) {
        snprintf(msg, msglen, "revoke endpoint unreachable: %.200s", resp.error);
    } else if (resp.status >= 200 && resp.status < 300) {
        rc = 0;
    } else if (already_invalid(&resp)) {
        rc = 0;
    } else if (resp.status == 401 && o->provider == RG_OAUTH_SHOPIFY) {
        rc = 1;
    } else {
        snprintf(msg, msglen, "revoke endpoint answered HTTP %ld", resp.status);
    }
    rg_http_resp_clear(&resp);
out:
    rg_free_secret(access);
    rg_free_secret(refresh);
    rg_free_secret(secret);
    return rc;
}

int rg_oauth_revoke(const rg_oauth_target *t, rg_state_store *st, const rg_http_transport *tr,
                    char *msg, size_t msglen)
{
    char err[256];
    rg_token_row row = {0};
    int found = rg_state_get(st, t->site_id, t->src->name, &row, err, sizeof err);
    if (found <= 0) {
        snprintf(msg, msglen, "%s", found < 0 ? err : "no token stored");
        return found < 0 ? -1 : 0;
    }
    int rc = revoke_once(t, &row, tr, msg, msglen);
    if (rc == 1) {
        /* Shopify refuses an expired access token: refresh, then uninstall
           with the new one. A grant that can't be refreshed any more is
           already dead at the provider. */
        rg_token_row after;
        rg_refresh_result r = rg_oauth_refresh(t, st, tr, RG_REFRESH_AFTER_REJECT, row.version, 0,
                                               &after, msg, msglen);
        if (r == RG_REFRESH_DONE || r == RG_REFRESH_CURRENT)
            rc = revoke_once(t, &after, tr, msg, msglen);
        else if (r == RG_REFRESH_REAUTH || r == RG_REFRESH_MISSING)
            rc = 0;
        else
            rc = -1;
        if (rc == 1) {
            snprintf(msg, msglen, "the shop refused a freshly refreshed access token");
            rc = -1;
        }
        rg_token_row_clear(&after);
    }
    rg_token_row_clear(&row);
    return rc;
}
