#include "refresh/source_oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oauth/oauth_refresh.h"
#include "oauth/oauth_registry.h"
#include "oauth/oauth_request.h"
#include "state/state_store.h"
#include "util/log.h"

/* An access token this close to expiry is refreshed before connecting
   rather than handed to an adapter that would be refused with it. */
#define RG_OAUTH_CONNECT_MARGIN_S 30

struct rg_source_oauth {
    char *state_url;      /* where the tokens are */
    rg_oauth_conn *conn;  /* state and credential generation, shared with the refresher */
    const rg_site *site;
    const rg_source *src;
    const rg_keyring *kr;
};

rg_source_oauth *rg_source_oauth_new(const char *state_url, const rg_site *site,
                                     const rg_source *src, const rg_keyring *kr)
{
    rg_source_oauth *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->state_url = strdup(state_url);
    o->conn = rg_oauth_conn_get(site->site_id, src->name);
    if (!o->state_url || !o->conn) {
        rg_source_oauth_free(o);
        return NULL;
    }
    o->site = site;
    o->src = src;
    o->kr = kr;
    return o;
}

void rg_source_oauth_free(rg_source_oauth *o)
{
    if (!o)
        return;
    free(o->state_url);
    free(o);
}

static rg_status fail(rg_error *err, rg_status st, const char *why)
{
    err->status = st;
    snprintf(err->message, sizeof err->message, "%.250s", why);
    return st;
}

static rg_status reauth_error(const rg_source_oauth *o, rg_error *err)
{
    err->status = RG_ERR_REAUTH;
    snprintf(err->message, sizeof err->message,
             "the OAuth connection needs re-authorisation: run readgate oauth import --site "
             "%.40s --source %.64s",
             o->site->site_id, o->src->name);
    return RG_ERR_REAUTH;
}

/* Map a refresh outcome for a query: RG_OK when a current token is stored. */
static rg_status refresh_status(const rg_source_oauth *o, rg_refresh_result r, const char *msg,
                                rg_error *err)
{
    switch (r) {
    case RG_REFRESH_DONE:
    case RG_REFRESH_CURRENT:
        return RG_OK;
    case RG_REFRESH_REAUTH:
    case RG_REFRESH_MISSING:
        return reauth_error(o, err);
    default:
        err->status = RG_ERR_UNAVAILABLE;
        snprintf(err->message, sizeof err->message, "could not refresh the OAuth token: %.180s",
                 msg);
        return RG_ERR_UNAVAILABLE;
    }
}

static rg_status open_store(const rg_source_oauth *o, rg_oauth_worker *w, rg_error *err)
{
    char why[300];
    if (!w->st && !(w->st = rg_state_open(o->state_url, why, sizeof why)))
        return fail(err, RG_ERR_UNAVAILABLE, why);
    return RG_OK;
}

/* The generation is read before the store, so a refresh committed
   meanwhile is never missed. */
rg_status rg_source_oauth_token(rg_source_oauth *o, rg_oauth_worker *w, char **token,
                                rg_error *err)
{
    char why[300];
    rg_status st = open_store(o, w, err);
    if (st != RG_OK)
        return st;
    unsigned gen = rg_oauth_conn_generation(o->conn);
    rg_token_row row = {0};
    int found = rg_state_get(w->st, o->site->site_id, o->src->name, &row, why, sizeof why);
    if (found < 0)
        return fail(err, RG_ERR_UNAVAILABLE, why);
    const rg_oauth_config *cfg = o->src->oauth;
    if (found || !cfg->service_account)
        rg_oauth_conn_observe(o->conn, found ? &row : NULL);
    if (!found && !cfg->service_account)
        return reauth_error(o, err);
    int64_t now = (int64_t)time(NULL);
    bool reauth = found && strcmp(row.state, RG_TOKEN_STATE_NEEDS_REAUTH) == 0;
    if (reauth && !cfg->service_account) {
        rg_token_row_clear(&row);
        return reauth_error(o, err);
    }
    /* Never more than half the background margin, so a worker connecting
       doesn't refresh a token the background just made. */
    int64_t margin = RG_OAUTH_CONNECT_MARGIN_S;
    if (margin > (int64_t)cfg->refresh_margin_s / 2)
        margin = (int64_t)cfg->refresh_margin_s / 2;
    if (!found || reauth || !row.access_token_enc ||
        (row.expires_at != 0 && row.expires_at - margin <= now)) {
        rg_oauth_target t = {.site_id = o->site->site_id, .src = o->src, .kr = o->kr};
        rg_token_row after;
        rg_refresh_result r = rg_oauth_refresh(&t, w->st, &rg_http_blocking, RG_REFRESH_IF_DUE,
                                               row.version, margin, &after, why, sizeof why);
        rg_token_row_clear(&row);
        if (after.site_id)
            rg_oauth_conn_observe(o->conn, &after);
        st = refresh_status(o, r, why, err);
        if (st != RG_OK) {
            rg_token_row_clear(&after);
            return st;
        }
        row = after;
    }
    char path[256];
    rg_oauth_token_path(path, sizeof path, o->src->name, "access_token");
    int rc = rg_oauth_open(o->kr, o->site->site_id, path, row.access_token_enc, token, why,
                           sizeof why);
    w->conn_version = row.version;
    w->conn_gen = gen;
    rg_token_row_clear(&row);
    if (rc != 0)
        return fail(err, RG_ERR_CONFIG, why);
    return RG_OK;
}

bool rg_source_oauth_stale(const rg_source_oauth *o, const rg_oauth_worker *w)
{
    rg_oauth_state s = rg_oauth_conn_state(o->conn, NULL, 0);
    return rg_oauth_conn_generation(o->conn) != w->conn_gen || s == RG_OAUTH_STATE_NEEDS_REAUTH ||
           s == RG_OAUTH_STATE_MISSING;
}

rg_status rg_source_oauth_after_reject(rg_source_oauth *o, rg_oauth_worker *w, const char *name,
                                       rg_error *err)
{
    char why[300];
    rg_status st = open_store(o, w, err);
    if (st != RG_OK)
        return st;
    rg_oauth_target t = {.site_id = o->site->site_id, .src = o->src, .kr = o->kr};
    rg_token_row after;
    rg_refresh_result r = rg_oauth_refresh(&t, w->st, &rg_http_blocking, RG_REFRESH_AFTER_REJECT,
                                           w->conn_version, 0, &after, why, sizeof why);
    if (after.site_id)
        rg_oauth_conn_observe(o->conn, &after);
    rg_token_row_clear(&after);
    if (r == RG_REFRESH_DONE)
        rg_info("source %s: the provider refused the access token; refreshed it", name);
    return refresh_status(o, r, why, err);
}

void rg_oauth_worker_close(rg_oauth_worker *w)
{
    rg_state_close(w->st);
    w->st = NULL;
}
