#include "server/upstream_error.h"

#include "refresh/source_oauth.h" /* RG_ERR_REAUTH */

static void source_error(rg_api_error *e, rg_status st, const rg_upstream *u)
{
    switch ((int)st) {
    case RG_ERR_REAUTH:
        /* Not an outage that passes: say what the operator has to do. */
        rg_api_err(e, RG_E_SOURCE_UNAVAILABLE, NULL,
                   "data source '%s' needs re-authorisation: run readgate oauth import "
                   "--site %s --source %s",
                   u->name, u->site_id, u->name);
        return;
    case RG_ERR_TIMEOUT:
        rg_api_err_default(e, RG_E_UPSTREAM_TIMEOUT);
        return;
    case RG_ERR_UPSTREAM:
        rg_api_err_default(e, RG_E_UPSTREAM_ERROR);
        return;
    case RG_ERR_UNAVAILABLE:
    case RG_ERR_AUTH:
    case RG_ERR_CONFIG:
        /* Credentials and options are the operator's: to a client the
           source is simply unavailable. */
        rg_api_err(e, RG_E_SOURCE_UNAVAILABLE, NULL,
                   "data source '%s' is unavailable; try again later", u->name);
        return;
    default:
        rg_api_err_default(e, RG_E_INTERNAL);
        return;
    }
}

/* Never the provider's own words: they may carry anything. */
static void provider_error(rg_api_error *e, rg_status st, const rg_upstream *u)
{
    switch (st) {
    case RG_ERR_TIMEOUT:
        rg_api_err(e, RG_E_UPSTREAM_TIMEOUT, NULL,
                   "the AI provider %s did not answer in time; try again", u->name);
        break;
    case RG_ERR_AUTH:
        rg_api_err(e, RG_E_UPSTREAM_ERROR, NULL,
                   "the AI provider %s refused this site's API key (HTTP %ld); the site's "
                   "ai.api_key must be replaced",
                   u->name, u->http_status);
        break;
    case RG_ERR_UNAVAILABLE:
        rg_api_err(e, RG_E_UPSTREAM_ERROR, NULL,
                   "the AI provider %s is overloaded or unavailable (HTTP %ld); try again later",
                   u->name, u->http_status);
        break;
    case RG_ERR_UPSTREAM:
        rg_api_err(e, RG_E_UPSTREAM_ERROR, NULL,
                   "the AI provider %s refused the request (HTTP %ld)", u->name, u->http_status);
        break;
    default: /* the plugin's own failure: nothing the provider did */
        rg_api_err_default(e, RG_E_INTERNAL);
        return;
    }
    e->provider = u->name;
}

void rg_api_error_from_status(rg_api_error *e, rg_status st, const rg_upstream *u)
{
    if (u->kind == RG_UPSTREAM_AI_PROVIDER)
        provider_error(e, st, u);
    else
        source_error(e, st, u);
}
