/*
 * readgate-provider-elevenlabs: a credential for an ElevenLabs agent that
 * requires authentication, for ElevenLabs' web client.
 *
 * mode token (default; WebRTC):
 *   GET {base_url}/v1/convai/conversation/token?agent_id=<agent_id>
 *   xi-api-key: <api_key>
 *   -> 200 {"token":"..."}
 *   browser: {"token":"...","expires_at":now+600}
 * mode signed_url (WebSocket):
 *   GET {base_url}/v1/convai/conversation/get-signed-url?agent_id=<agent_id>
 *   xi-api-key: <api_key>
 *   -> 200 {"signed_url":"wss://..."}
 *   browser: {"signed_url":"wss://...","expires_at":now+900}
 *
 * Lifetimes. ElevenLabs documents that a signed URL must be used within 15
 * minutes (900 s). It documents no lifetime for the conversation token, so
 * expires_at claims 10 minutes, less than the signed URL's: an early
 * expires_at only makes the widget mint again, a late one makes a start
 * fail. ElevenLabs takes no lifetime, so ai.expires_after_s is not used.
 *
 * Options (ai.options):
 *   agent_id  required; [A-Za-z0-9_-] (ElevenLabs ids are "agent_..."), and
 *             URL-encoded by libcurl all the same
 *   mode      token (default) or signed_url
 *   base_url  default https://api.elevenlabs.io
 * Tools: none from readgate (flags 0); an agent's tools live on ElevenLabs.
 */
#include <jansson.h>
#include <string.h>

#include "provider_util.h"

#define PROVIDER "elevenlabs"
#define DEFAULT_BASE_URL "https://api.elevenlabs.io"
#define TOKEN_LIFETIME_S 600      /* undocumented: see above */
#define SIGNED_URL_LIFETIME_S 900 /* documented: 15 minutes */

static const rg_host_api *rg_host; /* set by RG_DEFINE_PROVIDER at the bottom */

static const char *const known_options[] = {"agent_id", "mode", "base_url", NULL};

typedef struct el_mint {
    rg_pv_mint base; /* first: rg_pv_mint_free frees the whole state */
    int64_t now;
    int signed_url; /* mode signed_url, else token */
} el_mint;

static rg_status el_check(const rg_provider_config *cfg, rg_error *err)
{
    rg_status st = rg_pv_check_known(cfg, known_options, PROVIDER, err);
    if (st != RG_OK)
        return st;
    const char *agent = rg_pv_opt(cfg, "agent_id");
    if (!agent)
        return rg_pv_fail(err, RG_ERR_CONFIG, "agent_id: required for provider " PROVIDER);
    st = rg_pv_check_id("agent_id", agent, 128, err);
    const char *mode = rg_pv_opt(cfg, "mode");
    if (st == RG_OK && mode && strcmp(mode, "token") != 0 && strcmp(mode, "signed_url") != 0)
        st = rg_pv_fail(err, RG_ERR_CONFIG, "mode: must be token or signed_url");
    const char *base = rg_pv_opt(cfg, "base_url");
    if (st == RG_OK && base)
        st = rg_pv_check_base_url("base_url", base, err);
    return st;
}

static rg_status el_begin(const rg_mint_input *in, void **state, rg_provider_request *req,
                          rg_error *err)
{
    rg_status st = el_check(in->config, err);
    if (st != RG_OK)
        return st;
    el_mint *e = rg_pv_mint_new(rg_host, sizeof *e);
    if (!e)
        return rg_pv_fail(err, RG_ERR_INTERNAL, PROVIDER ": out of memory");
    *state = e;
    e->now = in->now;
    const char *mode = rg_pv_opt(in->config, "mode");
    e->signed_url = mode && strcmp(mode, "signed_url") == 0;
    rg_pv_mint *m = &e->base;
    const char *base = rg_pv_opt(in->config, "base_url");
    m->method = "GET";
    st = rg_pv_set_url(m, base ? base : DEFAULT_BASE_URL,
                       e->signed_url ? "/v1/convai/conversation/get-signed-url"
                                     : "/v1/convai/conversation/token",
                       "agent_id", rg_pv_opt(in->config, "agent_id"), err);
    if (st == RG_OK)
        st = rg_pv_add_key_header(m, "xi-api-key", "", in->api_key, in->api_key_len, err);
    if (st == RG_OK)
        rg_pv_fill_request(m, req);
    return st;
}

static rg_status el_finish(void *state, const rg_provider_response *resp, rg_mint_result *out,
                           rg_error *err)
{
    el_mint *e = state;
    rg_status st = rg_pv_answer_status(PROVIDER, resp->status, 200, 200, err);
    if (st != RG_OK)
        return st;
    const char *field = e->signed_url ? "signed_url" : "token";
    int64_t life = e->signed_url ? SIGNED_URL_LIFETIME_S : TOKEN_LIFETIME_S;
    json_t *answer = rg_pv_answer_object(resp);
    const char *value = rg_pv_json_token(answer, field);
    if (!value)
        st = rg_pv_malformed(err, PROVIDER, resp->status,
                             e->signed_url ? "no \"signed_url\"" : "no \"token\"");
    json_t *result = st == RG_OK ? json_pack("{s:s, s:I}", field, value, "expires_at",
                                             (json_int_t)(e->now + life))
                                 : NULL;
    return rg_pv_finish_with(&e->base, st, result, answer, PROVIDER, out, err);
}

RG_PROVIDER(PROVIDER, READGATE_VERSION, 0, el_check, el_begin, el_finish,
            rg_pv_mint_free)
