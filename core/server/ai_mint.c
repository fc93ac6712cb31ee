#include "server/ai_mint.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crypto/audit.h"
#include "crypto/keyring.h"
#include "http/http_reply.h"
#include "oauth/oauth_http.h"
#include "oauth/oauth_multi.h"
#include "plugin/provider_url.h"
#include "workers/plugin_registry.h"
#include "query/describe.h"
#include "server/server.h"
#include "server/upstream_error.h"
#include "util/log.h"

#define MAX_HEADERS 16
#define RG_AI_MAX_ANSWER (1024 * 1024)

/* ---- per configuration ---------------------------------------------------- */

void rg_site_ai_free(rg_site_ai *ai)
{
    if (!ai)
        return;
    free(ai->tools_json);
    rg_provider_config_clear(&ai->pcfg);
    free(ai);
}

rg_site_ai *rg_site_ai_new(const rg_config *cfg, const rg_site *site)
{
    rg_site_ai *ai = calloc(1, sizeof *ai);
    if (!ai)
        return NULL;
    const rg_token_provider *p =
        rg_provider_load(cfg->adapters_dir, site->ai->provider, ai->why, sizeof ai->why);
    if (!p)
        return ai; /* logged by the registry */
    int line = 0;
    char why[400];
    if (rg_provider_check_site(p, site, cfg->public_url, &ai->tools, &line, why, sizeof why) !=
        0) {
        snprintf(ai->why, sizeof ai->why, "%s", why);
        rg_error_log("%s:%d: site %s: %s; its /token answers 503 until the configuration is "
                     "fixed and reloaded",
                     site->file, line, site->site_id, why);
        return ai;
    }
    if (rg_provider_config_make(site, ai->tools, &ai->pcfg) != 0 ||
        (ai->tools == RG_AI_TOOLS_FUNCTIONS &&
         !(ai->tools_json = rg_describe_tools(site, &cfg->limits)))) {
        rg_site_ai_free(ai);
        return NULL;
    }
    ai->provider = p;
    return ai;
}

/* ---- one mint --------------------------------------------------------------- */

typedef struct mint {
    rg_loop *loop;
    rg_runtime *rt; /* held: a reload must not free the site under us */
    const rg_site_rt *srt;
    const rg_site_ai *ai;
    struct evhttp_request *req; /* NULL once the client went away */
    char *cors_origin;
    json_t *doc;
    void *state; /* the plugin's */
    bool has_state;
    char *key; /* the decrypted api key, wiped at the end */
    size_t key_len;
    rg_http_req hreq;
    rg_http_resp hresp;
    struct timespec t0;
} mint;

static const char *pname(const mint *m) { return m->ai->provider->name; }

static long elapsed_ms(const mint *m)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - m->t0.tv_sec) * 1000 + (t1.tv_nsec - m->t0.tv_nsec) / 1000000;
}

static void mint_free(mint *m)
{
    if (m->has_state)
        m->ai->provider->end(m->state);
    if (m->key) {
        rg_secure_zero(m->key, m->key_len);
        free(m->key);
    }
    rg_http_req_clear(&m->hreq);
    rg_http_resp_clear(&m->hresp);
    if (m->doc) {
        /* The session's signing secret is in it. */
        json_t *sec = json_object_get(m->doc, "signing_secret");
        if (json_is_string(sec))
            rg_secure_zero((char *)json_string_value(sec), json_string_length(sec));
        json_decref(m->doc);
    }
    free(m->cors_origin);
    atomic_fetch_sub(&m->loop->inflight, 1);
    rg_runtime_release(m->rt, 1);
    free(m);
}

static void count(mint *m, int status)
{
    rg_metrics_count(&m->loop->srv->metrics, RG_ROUTE_TOKEN, status);
    rg_metrics_ai_mint(&m->loop->srv->metrics, status);
}

/* Answer with an error and end the mint. */
static void fail(mint *m, const rg_api_error *e, long retry_after_s)
{
    if (m->req) {
        rg_conn_unwatch(m->loop, m->req);
        if (retry_after_s > 0) {
            char ra[24];
            snprintf(ra, sizeof ra, "%ld", retry_after_s);
            evhttp_add_header(evhttp_request_get_output_headers(m->req), "Retry-After", ra);
        }
        rg_reply_cors(m->req, m->cors_origin);
        rg_reply_error(m->req, e);
        count(m, e->http_status);
    }
    mint_free(m);
}

static void fail_internal(mint *m)
{
    rg_api_error e;
    rg_api_err_default(&e, RG_E_INTERNAL);
    fail(m, &e, 0);
}

/* What the plugin's answer becomes for the browser (server/upstream_error.h). */
static void fail_upstream(mint *m, rg_status st, const rg_error *perr)
{
    rg_upstream provider = {.kind = RG_UPSTREAM_AI_PROVIDER, .name = pname(m),
                            .http_status = m->hresp.status};
    rg_api_error e;
    rg_api_error_from_status(&e, st, &provider);
    const char *detail = perr && perr->message[0] ? perr->message : "no detail";
    if (e.id == RG_E_INTERNAL) {
        /* The plugin's own failure: nothing the provider did. */
        rg_error_log("site %s: provider %s failed its finish: %s", m->srt->site->site_id, pname(m),
                     detail);
        fail(m, &e, 0);
        return;
    }
    rg_warn("site %s: ai mint with %s failed: HTTP %ld, %s after %ld ms", m->srt->site->site_id,
            pname(m), m->hresp.status, detail, elapsed_ms(m));
    /* A provider that is only busy may have said when to come back. */
    fail(m, &e, st == RG_ERR_UNAVAILABLE ? m->hresp.retry_after_s : 0);
}

static void finish(mint *m)
{
    const rg_token_provider *p = m->ai->provider;
    rg_provider_response resp = {.struct_size = sizeof resp,
                                 .status = m->hresp.status,
                                 .body = m->hresp.body ? m->hresp.body : "",
                                 .body_len = m->hresp.body ? m->hresp.len : 0};
    rg_mint_result out = {.struct_size = sizeof out};
    rg_error perr = {.struct_size = sizeof(rg_error)};
    rg_status st = p->finish(m->state, &resp, &out, &perr);
    perr.message[sizeof perr.message - 1] = '\0';
    if (st != RG_OK) {
        fail_upstream(m, st, &perr);
        return;
    }
    json_error_t jerr;
    json_t *ai = out.json ? json_loadb(out.json, out.json_len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    /* Defence in depth: whatever a plugin does, the key never goes out. */
    bool leaks = out.json && m->key_len >= 8 && memmem(out.json, out.json_len, m->key, m->key_len);
    if (!json_is_object(ai) || leaks ||
        json_object_set_new(ai, "provider", json_string(p->name)) != 0 ||
        json_object_set_new(m->doc, "ai", ai) != 0) {
        if (!json_is_object(ai))
            json_decref(ai);
        rg_error_log("site %s: provider %s gave %s", m->srt->site->site_id, p->name,
                     leaks ? "a result that contains the api key: refused"
                           : "no JSON object as its result");
        fail_internal(m);
        return;
    }
    if (!m->req) {
        mint_free(m);
        return;
    }
    char *text = json_dumps(m->doc, JSON_COMPACT);
    if (!text) {
        fail_internal(m);
        return;
    }
    rg_conn_unwatch(m->loop, m->req);
    rg_reply_cors(m->req, m->cors_origin);
    rg_reply_json(m->req, 200, text, strlen(text));
    count(m, 200);
    rg_info("site %s: ai credential minted with %s in %ld ms", m->srt->site->site_id, p->name,
            elapsed_ms(m));
    rg_secure_zero(text, strlen(text));
    free(text);
    mint_free(m);
}

static void on_answer(void *arg)
{
    mint *m = arg;
    if (!m->req) { /* nobody to answer */
        mint_free(m);
        return;
    }
    if (m->hresp.status == 0) {
        /* No HTTP answer: the provider is down, unreachable or too slow. */
        rg_error perr = {.struct_size = sizeof(rg_error)};
        snprintf(perr.message, sizeof perr.message, "%s", m->hresp.error);
        fail_upstream(m, m->hresp.timed_out ? RG_ERR_TIMEOUT : RG_ERR_UNAVAILABLE, &perr);
        return;
    }
    finish(m);
}

static void on_client_gone(void *arg)
{
    mint *m = arg;
    m->req = NULL; /* libevent frees it with its connection */
}

static int header_ok(const char *s, bool name)
{
    if (!s || (name && !*s))
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\r' || *p == '\n' || *p == 0x7f || (*p < 0x20 && *p != '\t'))
            return 0;
        if (name && (*p == ':' || *p == ' ' || *p == '\t'))
            return 0;
    }
    return 1;
}

/* The plugin's request as libcurl's; 0 or -1 with why. */
static int build_request(mint *m, const rg_provider_request *r, char *why, size_t whylen)
{
    if (!r->method || (strcmp(r->method, "GET") != 0 && strcmp(r->method, "POST") != 0)) {
        snprintf(why, whylen, "the plugin's request method must be GET or POST");
        return -1;
    }
    if (rg_provider_url_ok(r->url, why, whylen) != 0)
        return -1;
    if (r->nheaders > MAX_HEADERS || (r->nheaders && !r->headers)) {
        snprintf(why, whylen, "the plugin's request has more than %d headers", MAX_HEADERS);
        return -1;
    }
    /* Headers are stepped through by their own struct_size (a later minor's
       are bigger); one below the 2.0 layout is a plugin built wrongly, and
       reading it would run past its fields. */
    uint32_t hsize = r->nheaders ? r->headers->struct_size : 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        uint32_t sz = rg_header_at(r->headers, i)->struct_size;
        if (sz < RG_PROVIDER_HEADER_SIZE_2_0 || sz != hsize) {
            snprintf(why, whylen,
                     "the plugin's request header %zu has struct_size %u; every header needs "
                     "the same struct_size, at least %zu (the 2.0 rg_provider_header)",
                     i, (unsigned)sz, (size_t)RG_PROVIDER_HEADER_SIZE_2_0);
            return -1;
        }
    }
    rg_http_req *h = &m->hreq;
    h->method = r->method;
    h->timeout_ms = (long)m->srt->site->ai->timeout_ms;
    /* OpenAI echoes the whole session (instructions, every tool's schema). */
    h->max_body = RG_AI_MAX_ANSWER;
    h->connect_timeout_ms = (long)m->srt->site->ai->connect_timeout_ms;
    if (!(h->url = strdup(r->url)))
        goto oom;
    h->headers = calloc(r->nheaders ? r->nheaders : 1, sizeof *h->headers);
    if (!h->headers)
        goto oom;
    for (size_t i = 0; i < r->nheaders; i++) {
        const rg_provider_header *ph = rg_header_at(r->headers, i);
        if (!header_ok(ph->name, true) || !header_ok(ph->value, false)) {
            snprintf(why, whylen, "the plugin's request header %zu is malformed", i);
            return -1;
        }
        if (strcasecmp(ph->name, "Content-Type") == 0) {
            h->content_type = ph->value; /* lives in the plugin's state */
            continue;
        }
        size_t n = strlen(ph->name) + strlen(ph->value) + 3;
        if (!(h->headers[h->nheaders] = malloc(n)))
            goto oom;
        snprintf(h->headers[h->nheaders], n, "%s: %s", ph->name, ph->value);
        h->nheaders++;
    }
    if (strcmp(r->method, "POST") == 0 && r->body) {
        if (!(h->body = malloc(r->body_len + 1)))
            goto oom;
        memcpy(h->body, r->body, r->body_len);
        h->body[r->body_len] = '\0';
        if (strlen(h->body) != r->body_len) {
            snprintf(why, whylen, "the plugin's request body contains a NUL byte");
            return -1;
        }
        if (!h->content_type)
            h->content_type = "application/json";
    }
    return 0;
oom:
    snprintf(why, whylen, "out of memory");
    return -1;
}

int rg_ai_mint(rg_loop *loop, rg_runtime *rt, const rg_site_rt *srt, struct evhttp_request *req,
               const char *cors_origin, const char *page_origin, const char *mcp_token,
               json_t *doc)
{
    const rg_site *site = srt->site;
    const rg_site_ai *ai = srt->ai;
    if (!ai->provider) {
        json_decref(doc);
        rg_api_error e;
        rg_api_err(&e, RG_E_PROVIDER_UNAVAILABLE, NULL,
                   "this site's AI provider (%s) is not available; the gateway's log says why",
                   site->ai->provider ? site->ai->provider : "?");
        rg_reply_cors(req, cors_origin);
        return rg_reply_error(req, &e);
    }
    mint *m = calloc(1, sizeof *m);
    if (!m) {
        json_decref(doc);
        return rg_reply_error_default(req, RG_E_INTERNAL);
    }
    clock_gettime(CLOCK_MONOTONIC, &m->t0);
    m->loop = loop;
    m->rt = rt;
    rg_runtime_retain(rt);
    atomic_fetch_add(&loop->inflight, 1);
    m->srt = srt;
    m->ai = ai;
    m->req = req;
    m->doc = doc;
    if (cors_origin && !(m->cors_origin = strdup(cors_origin))) {
        fail_internal(m);
        return 0;
    }
    /* Opened only now: the request passed its origin or key check and its
       rate limits. Audited, like every decrypt. */
    char why[256];
    if (rg_secret_decrypt_audited(rt->kr, site->site_id, "ai.api_key", site->ai->api_key, "mint",
                                  &m->key, &m->key_len, why, sizeof why) != 0) {
        rg_error_log("site %s: ai.api_key: cannot decrypt: %s", site->site_id, why);
        fail_internal(m);
        return 0;
    }
    char mcp_url[700] = "";
    if (ai->tools == RG_AI_TOOLS_MCP)
        snprintf(mcp_url, sizeof mcp_url, "%s/v1/%s/mcp",
                 rt->cfg->public_url ? rt->cfg->public_url : "", site->site_id);
    rg_mint_input in = {.struct_size = sizeof in,
                        .config = &ai->pcfg.cfg,
                        .api_key = m->key,
                        .api_key_len = m->key_len,
                        .now = (int64_t)time(NULL),
                        .origin = page_origin,
                        .tools_json = ai->tools == RG_AI_TOOLS_FUNCTIONS ? ai->tools_json : NULL,
                        .mcp_url = ai->tools == RG_AI_TOOLS_MCP ? mcp_url : NULL,
                        .mcp_token = ai->tools == RG_AI_TOOLS_MCP ? mcp_token : NULL};
    rg_provider_request r = {.struct_size = sizeof r};
    rg_error perr = {.struct_size = sizeof(rg_error)};
    rg_status st = ai->provider->begin(&in, &m->state, &r, &perr);
    m->has_state = m->state != NULL;
    perr.message[sizeof perr.message - 1] = '\0';
    if (st != RG_OK) {
        rg_error_log("site %s: provider %s could not start a mint: %s", site->site_id,
                     ai->provider->name, perr.message);
        fail_internal(m);
        return 0;
    }
    if (!r.url) {
        /* Made locally (a signed token): straight to finish. */
        finish(m);
        return 0;
    }
    if (build_request(m, &r, why, sizeof why) != 0) {
        rg_error_log("site %s: provider %s: %s", site->site_id, ai->provider->name, why);
        fail_internal(m);
        return 0;
    }
    if (!loop->curl && !(loop->curl = rg_curl_loop_new(loop->base))) {
        fail_internal(m);
        return 0;
    }
    if (rg_conn_watch(loop, req, on_client_gone, m) != 0 ||
        rg_curl_loop_start(loop->curl, &m->hreq, &m->hresp, on_answer, m) != 0) {
        rg_conn_unwatch(loop, req);
        fail_internal(m);
        return 0;
    }
    return 0;
}
