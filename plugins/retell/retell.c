/*
 * readgate-provider-retell: a Retell web call for the browser, which joins it
 * with Retell's web client using the call's access token.
 *
 *   POST {base_url}/v2/create-web-call
 *   Authorization: Bearer <api_key>
 *   {"agent_id":...,"agent_version":N,"metadata":{"site_id":<site>}}
 *   -> 201 {"call_type":"web_call","access_token":...,"call_id":...,
 *           "agent_id":...,"call_status":"registered",...}
 *
 * The browser gets {"access_token":...,"call_id":...,"expires_at":now+30}:
 * Retell drops a web call that is not started within 30 seconds of its
 * creation, so that is the token's useful life whatever ai.expires_after_s
 * says (Retell takes no lifetime; expires_after_s is not used).
 *
 * metadata.site_id is always sent: Retell stores metadata with the call and
 * returns it in its call objects and webhooks, so a customer with several
 * sites on one Retell agent can tell them apart. It carries nothing from the
 * request (no origin, no user data).
 *
 * Tools: none from readgate (flags 0). A Retell agent's tools are set up on
 * the Retell side; readgate refuses ai.tools other than none for this
 * provider from the flags, so check() does not look at it.
 *
 * Options (ai.options):
 *   agent_id       required
 *   agent_version  optional, an integer: pin the call to that agent version
 *   base_url       default https://api.retellai.com
 */
#include <jansson.h>

#include "provider_util.h"

#define PROVIDER "retell"
#define DEFAULT_BASE_URL "https://api.retellai.com"
#define START_WINDOW_S 30
#define MAX_AGENT_VERSION 2147483647u

static const rg_host_api *rg_host; /* set by RG_DEFINE_PROVIDER at the bottom */

static const char *const known_options[] = {"agent_id", "agent_version", "base_url", NULL};

typedef struct retell_mint {
    rg_pv_mint base; /* first: rg_pv_mint_free frees the whole state */
    int64_t now;
} retell_mint;

static rg_status rt_check(const rg_provider_config *cfg, rg_error *err)
{
    rg_status st = rg_pv_check_known(cfg, known_options, PROVIDER, err);
    if (st != RG_OK)
        return st;
    const char *agent = rg_pv_opt(cfg, "agent_id");
    if (!agent)
        return rg_pv_fail(err, RG_ERR_CONFIG, "agent_id: required for provider " PROVIDER);
    /* Retell agent ids are opaque alphanumerics: anything else is a typo. */
    st = rg_pv_check_id("agent_id", agent, 128, err);
    const char *v;
    if (st == RG_OK && (v = rg_pv_opt(cfg, "agent_version")))
        st = rg_pv_check_uint("agent_version", v, MAX_AGENT_VERSION, NULL, err);
    if (st == RG_OK && (v = rg_pv_opt(cfg, "base_url")))
        st = rg_pv_check_base_url("base_url", v, err);
    return st;
}

static rg_status build_body(const rg_provider_config *cfg, json_t **out, rg_error *err)
{
    json_t *body = json_pack("{s:s}", "agent_id", rg_pv_opt(cfg, "agent_id"));
    rg_status st = body ? RG_OK : rg_pv_fail(err, RG_ERR_INTERNAL, PROVIDER ": out of memory");
    const char *version = rg_pv_opt(cfg, "agent_version");
    uint64_t v = 0;
    if (st == RG_OK && version) {
        st = rg_pv_check_uint("agent_version", version, MAX_AGENT_VERSION, &v, err);
        if (st == RG_OK && json_object_set_new(body, "agent_version", json_integer((json_int_t)v)))
            st = rg_pv_fail(err, RG_ERR_INTERNAL, PROVIDER ": out of memory");
    }
    if (st == RG_OK && cfg->site_id &&
        json_object_set_new(body, "metadata", json_pack("{s:s}", "site_id", cfg->site_id)))
        st = rg_pv_fail(err, RG_ERR_INTERNAL, PROVIDER ": could not build the metadata");
    if (st != RG_OK) {
        json_decref(body);
        return st;
    }
    *out = body;
    return RG_OK;
}

static rg_status rt_begin(const rg_mint_input *in, void **state, rg_provider_request *req,
                          rg_error *err)
{
    rg_status st = rt_check(in->config, err);
    if (st != RG_OK)
        return st;
    retell_mint *r = rg_pv_mint_new(rg_host, sizeof *r);
    if (!r)
        return rg_pv_fail(err, RG_ERR_INTERNAL, PROVIDER ": out of memory");
    *state = r;
    r->now = in->now;
    rg_pv_mint *m = &r->base;
    const char *base = rg_pv_opt(in->config, "base_url");
    m->method = "POST";
    st = rg_pv_set_url(m, base ? base : DEFAULT_BASE_URL, "/v2/create-web-call", NULL, NULL,
                       err);
    if (st == RG_OK)
        st = rg_pv_add_key_header(m, "Authorization", "Bearer ", in->api_key, in->api_key_len,
                                  err);
    json_t *body = NULL;
    if (st == RG_OK)
        st = build_body(in->config, &body, err);
    if (st == RG_OK)
        st = rg_pv_set_json_body(m, body, err);
    json_decref(body);
    if (st == RG_OK)
        rg_pv_fill_request(m, req);
    return st;
}

static rg_status rt_finish(void *state, const rg_provider_response *resp, rg_mint_result *out,
                           rg_error *err)
{
    retell_mint *r = state;
    /* Retell documents 201; a 200 from a proxy or a later API is as good. */
    rg_status st = rg_pv_answer_status(PROVIDER, resp->status, 201, 200, err);
    if (st != RG_OK)
        return st;
    json_t *answer = rg_pv_answer_object(resp);
    const char *token = rg_pv_json_token(answer, "access_token");
    const char *call = rg_pv_json_token(answer, "call_id");
    if (!token)
        st = rg_pv_malformed(err, PROVIDER, resp->status, "no \"access_token\"");
    else if (!call)
        st = rg_pv_malformed(err, PROVIDER, resp->status, "no \"call_id\"");
    json_t *result = st == RG_OK ? json_pack("{s:s, s:s, s:I}", "access_token", token, "call_id", call,
                                                     "expires_at", (json_int_t)(r->now + START_WINDOW_S)) : NULL;
    return rg_pv_finish_with(&r->base, st, result, answer, PROVIDER, out, err);
}

RG_PROVIDER(PROVIDER, READGATE_VERSION, 0, rt_check, rt_begin, rt_finish,
            rg_pv_mint_free)
