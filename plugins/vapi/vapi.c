/*
 * readgate-provider-vapi: a short-lived public JWT for Vapi's web client,
 * made locally (no HTTP call): HS256-signed with the org's private key
 * (ai.api_key), per Vapi's JWT authentication.
 *
 *   header  {"alg":"HS256","typ":"JWT"}
 *   payload {"orgId":<org_id>,
 *            "token":{"tag":"public",
 *                     "restrictions":{"enabled":true,
 *                                     "allowedOrigins":[<page origin>],
 *                                     "allowedAssistantIds":[<assistant_id>],
 *                                     "allowTransientAssistant":false}},
 *            "iat":now,"exp":now+expires_after_s}
 *
 * A "public" token can only create web calls (Vapi's public scope); the
 * restrictions narrow it further:
 *   - allowedOrigins: the page's vetted Origin when readgate has one, so a
 *     token copied off the page is useless from another site;
 *   - allowedAssistantIds: the configured assistant, when there is one;
 *   - allowTransientAssistant false, always: a transient assistant is a
 *     whole assistant configuration sent by the browser, which would let any
 *     visitor run an assistant of their own design on the customer's bill.
 *
 * The browser gets {"token":"<jwt>","expires_at":N} (+ "assistant_id" when
 * configured, the id the web client starts).
 *
 * The key is only readable in begin, so the token is signed there; finish
 * hands it out (readgate calls it with status 0: no request was made).
 *
 * Options (ai.options): org_id (required, a UUID), assistant_id (optional, a
 * UUID). ai.expires_after_s: 10 to 7200 (Vapi documents no bound; these are
 * openai-realtime's, so a site switching providers keeps its setting valid).
 * Tools: none from readgate (flags 0); Vapi assistants get theirs on Vapi.
 */
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "provider_util.h"

#define PROVIDER "vapi"
#define MIN_EXPIRES 10
#define MAX_EXPIRES 7200

static const rg_host_api *rg_host; /* set by RG_DEFINE_PROVIDER at the bottom */

static const char *const known_options[] = {"org_id", "assistant_id", NULL};

static rg_status vp_check(const rg_provider_config *cfg, rg_error *err)
{
    rg_status st = rg_pv_check_known(cfg, known_options, PROVIDER, err);
    if (st == RG_OK)
        st = rg_pv_check_expiry(cfg, MIN_EXPIRES, MAX_EXPIRES, PROVIDER, err);
    if (st != RG_OK)
        return st;
    const char *org = rg_pv_opt(cfg, "org_id");
    if (!org)
        return rg_pv_fail(err, RG_ERR_CONFIG, "org_id: required for provider " PROVIDER);
    st = rg_pv_check_uuid("org_id", org, err);
    const char *assistant = rg_pv_opt(cfg, "assistant_id");
    if (st == RG_OK && assistant)
        st = rg_pv_check_uuid("assistant_id", assistant, err);
    return st;
}

static json_t *build_payload(const rg_mint_input *in, int64_t exp)
{
    const char *assistant = rg_pv_opt(in->config, "assistant_id");
    json_t *restrictions = json_pack("{s:b}", "enabled", 1);
    if (!restrictions)
        return NULL;
    int bad = 0;
    if (in->origin)
        bad |= json_object_set_new(restrictions, "allowedOrigins",
                                   json_pack("[s]", in->origin));
    if (assistant)
        bad |= json_object_set_new(restrictions, "allowedAssistantIds",
                                   json_pack("[s]", assistant));
    bad |= json_object_set_new(restrictions, "allowTransientAssistant", json_false());
    if (bad) {
        json_decref(restrictions);
        return NULL;
    }
    return json_pack("{s:s, s:{s:s, s:o}, s:I, s:I}", "orgId", rg_pv_opt(in->config, "org_id"),
                     "token", "tag", "public", "restrictions", restrictions, "iat",
                     (json_int_t)in->now, "exp", (json_int_t)exp);
}

/* header.payload.signature, each part base64url (RFC 7519), into a mint
   buffer. */
static char *sign_jwt(rg_pv_mint *m, const json_t *payload, const char *key, size_t key_len)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    size_t plen = 0;
    const char *p = rg_pv_dump(m, payload, &plen);
    if (!p)
        return NULL;
    size_t hmax = 4 * ((sizeof header - 1 + 2) / 3) + 1;
    size_t pmax = 4 * ((plen + 2) / 3) + 1;
    size_t smax = 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1;
    char *jwt = rg_pv_alloc(m, hmax + 1 + pmax + 1 + smax);
    if (!jwt)
        return NULL;
    size_t n = rg_pv_base64url((const unsigned char *)header, sizeof header - 1, jwt);
    jwt[n++] = '.';
    n += rg_pv_base64url((const unsigned char *)p, plen, jwt + n);

    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)jwt, n, mac, &maclen))
        return NULL;
    jwt[n++] = '.';
    rg_pv_base64url(mac, maclen, jwt + n);
    OPENSSL_cleanse(mac, sizeof mac);
    return jwt;
}

static rg_status vp_begin(const rg_mint_input *in, void **state, rg_provider_request *req,
                          rg_error *err)
{
    rg_status st = vp_check(in->config, err);
    if (st != RG_OK)
        return st;
    st = rg_pv_check_key(in->api_key, in->api_key_len, err);
    if (st != RG_OK)
        return st;
    rg_pv_mint *m = rg_pv_mint_new(rg_host, sizeof *m);
    if (!m)
        return rg_pv_fail(err, RG_ERR_INTERNAL, PROVIDER ": out of memory");
    *state = m;
    int64_t exp = in->now + (int64_t)in->config->expires_after_s;
    json_t *payload = build_payload(in, exp);
    const char *jwt = payload ? sign_jwt(m, payload, in->api_key, in->api_key_len) : NULL;
    json_decref(payload);
    if (!jwt)
        return rg_pv_fail(err, RG_ERR_INTERNAL, PROVIDER ": could not sign the token");
    const char *assistant = rg_pv_opt(in->config, "assistant_id");
    json_t *result = json_pack("{s:s, s:I, s:s*}", "token", jwt, "expires_at", (json_int_t)exp,
                               "assistant_id", assistant);
    st = result ? rg_pv_set_result(m, result, err)
                : rg_pv_fail(err, RG_ERR_INTERNAL, PROVIDER ": out of memory");
    json_decref(result);
    if (st == RG_OK)
        rg_pv_fill_request(m, req); /* url NULL: nothing to send */
    return st;
}

static rg_status vp_finish(void *state, const rg_provider_response *resp, rg_mint_result *out,
                           rg_error *err)
{
    rg_pv_mint *m = state;
    if (resp->status != 0)
        return rg_pv_fail(err, RG_ERR_INTERNAL,
                          PROVIDER ": HTTP %ld, but this provider sends no request",
                          resp->status);
    rg_pv_fill_result(m, out);
    return RG_OK;
}

RG_PROVIDER(PROVIDER, READGATE_VERSION, 0, vp_check, vp_begin, vp_finish,
            rg_pv_mint_free)
