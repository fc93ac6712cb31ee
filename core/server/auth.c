#include "server/auth.h"

#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/origin.h"
#include "crypto/signature.h"
#include "server/ai_mint.h"
#include "server/session_memo.h"
#include "http/headers.h"
#include "http/http_reply.h"
#include "util/log.h"

const char *rg_auth_allowed_origin(const rg_site *site, struct evhttp_request *req)
{
    const char *origin = evhttp_find_header(evhttp_request_get_input_headers(req), "Origin");
    if (!origin || !site)
        return NULL;
    return rg_origin_allowed(site->origins, site->norigins, site->allow_localhost, origin) ? origin
                                                                                           : NULL;
}

/* Returns the status sent. */
static int widget_unavailable(struct evhttp_request *req)
{
    /* One fixed answer for every refusal, so a caller learns nothing about why. */
    return rg_reply_error_default(req, RG_E_WIDGET_UNAVAILABLE);
}

int rg_auth_api_key_ok(const rg_site *site, const char *key, uint8_t digest[32])
{
    size_t len = strlen(key);
    if (len < 8 || len > 256 || strncmp(key, "rgk_", 4) != 0)
        return 0;
    SHA256((const unsigned char *)key, len, digest);
    int found = 0;
    /* Compare against every configured key in constant time each. */
    for (size_t i = 0; i < site->napi_keys; i++)
        found |= CRYPTO_memcmp(digest, site->api_key_hashes[i], 32) == 0;
    return found;
}

static int api_key_matches(const rg_site *site, const char *authz)
{
    static const char prefix[] = "Bearer ";
    if (strncmp(authz, prefix, sizeof prefix - 1) != 0)
        return 0;
    uint8_t digest[32];
    return rg_auth_api_key_ok(site, authz + sizeof prefix - 1, digest);
}

int rg_auth_handle_token(rg_loop *loop, rg_runtime *rt, const rg_site_rt *srt,
                         struct evhttp_request *req, const char *origin)
{
    const rg_site *site = srt ? srt->site : NULL;
    if (!site)
        return widget_unavailable(req);
    const char *authz = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    /* A key, or else an allowed origin: nothing else opens a session. */
    if (authz ? !api_key_matches(site, authz) : !origin)
        return widget_unavailable(req);

    char token[RG_SESSION_TOKEN_MAX];
    rg_session s;
    uint64_t now = (uint64_t)time(NULL);
    if (rg_session_mint(rt->kr, site->site_id, now, site->session_ttl_s, token, &s) != 0)
        return rg_reply_error_default(req, RG_E_INTERNAL);
    json_t *doc = json_pack("{s:s, s:s, s:I, s:I}", "session_token", token, "signing_secret",
                            s.signing_secret, "expires_in", (json_int_t)site->session_ttl_s,
                            "expires_at", (json_int_t)s.expires_at);
    /* tools: mcp: the AI provider gets a bearer for /mcp bound to this session. */
    char mcp[RG_SESSION_TOKEN_MAX] = "";
    if (doc && srt->ai && srt->ai->tools == RG_AI_TOOLS_MCP &&
        rg_mcp_token_mint(rt->kr, &s, mcp) != 0) {
        json_decref(doc);
        doc = NULL;
    }
    rg_secure_zero(&s, sizeof s);
    if (doc && srt->ai) {
        int st = rg_ai_mint(loop, rt, srt, req, authz ? NULL : origin, origin, mcp[0] ? mcp : NULL,
                            doc);
        rg_secure_zero(mcp, sizeof mcp);
        return st;
    }
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return rg_reply_error_default(req, RG_E_INTERNAL);
    rg_reply_cors(req, authz ? NULL : origin);
    rg_reply_json(req, 200, text, strlen(text));
    rg_secure_zero(text, strlen(text));
    free(text);
    return 200;
}

int rg_auth_verify_signed(rg_server *srv, const rg_runtime *rt, const rg_site *site,
                          struct evhttp_request *req, const char *method, const char *path,
                          const void *body, size_t len, rg_session *out, rg_rl_check *chk,
                          rg_api_error *err)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    static const char *const names[] = {"X-Readgate-Session", "X-Readgate-Timestamp",
                                        "X-Readgate-Nonce", "X-Readgate-Signature"};
    const char *v[4];
    rg_find_headers(h, names, 4, v);
    for (int i = 0; i < 4; i++) {
        if (!v[i]) {
            rg_api_err(err, RG_E_MISSING_SIGNATURE, NULL,
                       "header %s is required on signed requests (X-Readgate-Session, "
                       "X-Readgate-Timestamp, X-Readgate-Nonce, X-Readgate-Signature)",
                       names[i]);
            return -1;
        }
    }
    int64_t ts;
    uint8_t mac[32];
    if (!rg_sig_parse_timestamp(v[1], &ts)) {
        rg_api_err(err, RG_E_INVALID_SIGNATURE_HEADER, NULL,
                   "X-Readgate-Timestamp must be unix seconds (digits only)");
        return -1;
    }
    if (!rg_sig_nonce_valid(v[2])) {
        rg_api_err(err, RG_E_INVALID_SIGNATURE_HEADER, NULL,
                   "X-Readgate-Nonce must be 16 to 64 characters of A-Z a-z 0-9 _ -");
        return -1;
    }
    if (!rg_sig_parse_header(v[3], mac)) {
        rg_api_err(err, RG_E_INVALID_SIGNATURE_HEADER, NULL,
                   "X-Readgate-Signature must be sha256=<64 hex digits>");
        return -1;
    }
    int64_t now = (int64_t)time(NULL);
    int window = rt->cfg->limits.timestamp_window_s;
    if (ts > now + window || ts < now - window) {
        rg_api_err(err, RG_E_TIMESTAMP_OUT_OF_WINDOW, NULL,
                   "X-Readgate-Timestamp is more than %d s away from the server's clock "
                   "(server time %lld)",
                   window, (long long)now);
        return -1;
    }
    switch (rg_session_verify_memo(rt, v[0], site->site_id, (uint64_t)now, out)) {
    case RG_SESSION_OK:
        break;
    case RG_SESSION_EXPIRED:
        rg_api_err(err, RG_E_SESSION_EXPIRED, NULL,
                   "the session has expired; open a new one with POST /v1/%s/token", site->site_id);
        return -1;
    case RG_SESSION_WRONG_SITE:
        rg_api_err_default(err, RG_E_SESSION_WRONG_SITE);
        return -1;
    default:
        rg_api_err_default(err, RG_E_INVALID_SESSION);
        return -1;
    }
    if (rg_nonce_cache_contains(srv->ended, out->nonce, sizeof out->nonce, (uint64_t)now)) {
        rg_api_err(err, RG_E_SESSION_ENDED, NULL,
                   "the session was ended; open a new one with POST /v1/%s/token", site->site_id);
        return -1;
    }
    if (!rg_sig_verify(out->signing_secret, v[1], v[2], method, path, body, len, mac)) {
        rg_api_err(err, RG_E_INVALID_SIGNATURE, NULL,
                   "signature does not match; sign \"v1\\n\" ts \"\\n\" nonce \"\\n\" METHOD "
                   "\"\\n\" path \"\\n\" hex(sha256(body)) with the session's signing_secret");
        return -1;
    }
    /* Remember (session, nonce) until the timestamp leaves the window. */
    size_t nlen = strlen(v[2]); /* 16..64, checked above */
    memcpy(chk->nonce, out->nonce, 16);
    memcpy(chk->nonce + 16, v[2], nlen);
    chk->nonce_len = 16 + nlen;
    chk->nonce_until = (uint64_t)(ts > now ? ts : now) + (uint64_t)window + 1;
    chk->has_nonce = true;
    return 0;
}
