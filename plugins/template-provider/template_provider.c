/*
 * readgate-provider-template: a complete token provider to copy.
 *
 * A token provider mints an AI provider's short-lived credential for the
 * browser widget, so that the customer's provider key never reaches the
 * browser (readgate/token_provider.h, docs/writing-a-provider.md). It does
 * no I/O: readgate makes the one HTTP call itself, so a mint is
 *
 *     begin(input)    build the request (method, URL, headers, body)
 *     ...readgate sends it and reads the answer...
 *     finish(answer)  turn the answer into the JSON object the browser gets
 *     end()           wipe and free everything of this mint
 *
 * This one talks to a made-up but typical token endpoint:
 *
 *   POST {base_url}/v1/tokens
 *   Authorization: Bearer <api_key>
 *   Content-Type: application/json
 *   {"site_id":"<site>","expires_in":<ai.expires_after_s>[,"agent_id":"..."]}
 *   -> 200 or 201 {"token":"<credential>","expires_in":<seconds>}
 *
 * and gives the browser {"token":"<credential>","expires_at":<unix s>}
 * (readgate adds "provider").
 *
 * Options (ai.options in the site file):
 *   base_url  required: https://..., or http:// to a loopback address for a
 *             local test server
 *   agent_id  optional: passed on in the body
 * ai.expires_after_s: 10 to 3600 here; use your provider's documented bounds.
 *
 * To make it yours: copy this directory, set PROVIDER_NAME in CMakeLists.txt
 * (the file becomes readgate-provider-<name>.so, and sites say
 * `provider: <name>`), and change build_request and read_answer for your
 * provider's API. The rest (state, wiping, status mapping) can stay.
 *
 * Rules every provider keeps (the reasons are in the header):
 *   - never log the api key, never put it in the result or a message;
 *   - never put the provider's answer body in an error message: messages go
 *     to logs, and a provider's error text may echo the key or user data;
 *   - the key is readable in begin only: copy what you need into your state
 *     and wipe it in end;
 *   - keep everything of a mint in its state: callbacks run on any thread,
 *     several mints at once;
 *   - build JSON with a library (here jansson), never by hand.
 */
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <readgate/token_provider.h>

#ifndef PROVIDER_NAME
#define PROVIDER_NAME "template" /* must equal <name> in readgate-provider-<name>.so */
#endif
#ifndef PROVIDER_VERSION
#define PROVIDER_VERSION "1.0.0"
#endif

#define MIN_EXPIRES 10
#define MAX_EXPIRES 3600

/*
 * Host services: RG_DEFINE_PROVIDER (at the bottom, where the descriptor is
 * known) defines rg_provider_entry and this static, which it sets before any
 * callback runs. Declared here too so the callbacks can use the host's
 * allocator. It is the only global, and read-only after the entry call.
 */
static const rg_host_api *rg_host;

/* ---- small helpers ------------------------------------------------------------- */

/* Fill err and return st. The message is for logs: names, never values. */
static rg_status fail(rg_error *err, rg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static rg_status fail(rg_error *err, rg_status st, const char *fmt, ...)
{
    if (!err)
        return st;
    err->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return st;
}

static const char *opt(const rg_provider_config *cfg, const char *key)
{
    /* ai.options steps by the elements' own struct_size (readgate/plugin.h). */
    for (size_t i = 0; cfg->options && i < cfg->noptions; i++) {
        const rg_option *o = rg_option_at(cfg->options, i);
        if (o->key && strcmp(o->key, key) == 0)
            return o->value;
    }
    return NULL;
}

/* The host's allocator when it has one; a mint frees with the same pair. */
static void *mem_alloc(size_t n)
{
    void *p = rg_host && rg_host->malloc ? rg_host->malloc(n) : malloc(n);
    if (p)
        memset(p, 0, n);
    return p;
}

static void mem_free(void *p)
{
    if (rg_host && rg_host->free)
        rg_host->free(p);
    else
        free(p);
}

/* Wipe then free a NUL-terminated buffer (NULL is fine). */
static void wipe_free(char *p)
{
    if (!p)
        return;
    OPENSSL_cleanse(p, strlen(p));
    mem_free(p);
}

/* ---- the mint's state ---------------------------------------------------------- */

/*
 * Everything of one mint. Every pointer handed to readgate (the request and
 * the result) points in here and stays valid until end.
 */
typedef struct tpl_mint {
    int64_t now;
    char *url;
    char *auth; /* "Bearer <api_key>": the only copy of the key */
    char *body;
    char *result;
    rg_provider_header headers[2];
} tpl_mint;

/* ---- check: options, without I/O ------------------------------------------------ */

/* A base URL readgate may call: https, or plain http to loopback (readgate
   refuses other plain http at call time; say so at `readgate check`). */
static int base_url_ok(const char *u)
{
    if (strncmp(u, "https://", 8) == 0) {
        u += 8;
        if (!*u || *u == '/' || *u == ':')
            return 0; /* no host */
    } else if (strncmp(u, "http://127.0.0.1", 16) == 0 ||
               strncmp(u, "http://localhost", 16) == 0) {
        u += 16;
        if (*u && *u != ':' && *u != '/')
            return 0; /* http://localhost.example.com is not loopback */
    } else {
        return 0;
    }
    /* No spaces or control characters, no credentials, query or fragment. */
    for (; *u; u++)
        if ((unsigned char)*u <= 0x20 || (unsigned char)*u >= 0x7f || *u == '@' || *u == '?' ||
            *u == '#')
            return 0;
    return 1;
}

/*
 * `readgate check`, start and reload: refuse what a mint could not use.
 * Every message starts with the option's name.
 */
static rg_status tpl_check(const rg_provider_config *cfg, rg_error *err)
{
    for (size_t i = 0; i < cfg->noptions; i++) {
        const char *k = rg_option_at(cfg->options, i)->key;
        if (!k || (strcmp(k, "base_url") != 0 && strcmp(k, "agent_id") != 0))
            return fail(err, RG_ERR_CONFIG, "%.64s: unknown option for provider " PROVIDER_NAME,
                        k ? k : "(unnamed)");
    }
    const char *base = opt(cfg, "base_url");
    if (!base)
        return fail(err, RG_ERR_CONFIG, "base_url: required");
    if (!base_url_ok(base))
        return fail(err, RG_ERR_CONFIG,
                    "base_url: must be an https URL (or http to 127.0.0.1/localhost) "
                    "without credentials, query or fragment");
    const char *agent = opt(cfg, "agent_id");
    if (agent && (!*agent || strlen(agent) > 128))
        return fail(err, RG_ERR_CONFIG, "agent_id: must be 1 to 128 characters");
    if (cfg->expires_after_s < MIN_EXPIRES || cfg->expires_after_s > MAX_EXPIRES)
        return fail(err, RG_ERR_CONFIG, "expires_after_s: must be %d to %d for " PROVIDER_NAME,
                    MIN_EXPIRES, MAX_EXPIRES);
    return RG_OK;
}

/* ---- begin: build the request -------------------------------------------------- */

/* base_url without its trailing slashes, then path. */
static char *join_url(const char *base, const char *path)
{
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    size_t len = n + strlen(path) + 1;
    char *u = mem_alloc(len);
    if (u)
        snprintf(u, len, "%.*s%s", (int)n, base, path);
    return u;
}

/* The body, with jansson: it escapes the site id and the agent id for us. */
static char *build_body(const rg_mint_input *in)
{
    const rg_provider_config *cfg = in->config;
    json_t *body = json_pack("{s:s, s:I, s:s*}", "site_id", cfg->site_id ? cfg->site_id : "",
                             "expires_in", (json_int_t)cfg->expires_after_s, "agent_id",
                             opt(cfg, "agent_id"));
    if (!body)
        return NULL;
    /* Size first, then into our own buffer: what json_dumps returns comes
       from jansson's allocator, not the host's. */
    size_t n = json_dumpb(body, NULL, 0, JSON_COMPACT);
    char *text = n ? mem_alloc(n + 1) : NULL;
    if (text)
        json_dumpb(body, text, n, JSON_COMPACT);
    json_decref(body);
    return text;
}

static rg_status tpl_begin(const rg_mint_input *in, void **state, rg_provider_request *req,
                           rg_error *err)
{
    rg_status st = tpl_check(in->config, err);
    if (st != RG_OK)
        return st;
    /* The key goes into a header: a CR or LF in it would split the header. */
    if (in->api_key_len == 0 || in->api_key_len > 1024)
        return fail(err, RG_ERR_CONFIG, "api_key: must be 1 to 1024 characters");
    for (size_t i = 0; i < in->api_key_len; i++)
        if ((unsigned char)in->api_key[i] <= 0x20 || (unsigned char)in->api_key[i] >= 0x7f)
            return fail(err, RG_ERR_CONFIG, "api_key: only visible ASCII characters are allowed");

    tpl_mint *m = mem_alloc(sizeof *m);
    if (!m)
        return fail(err, RG_ERR_INTERNAL, PROVIDER_NAME ": out of memory");
    *state = m; /* from here on readgate calls end, whatever we return */
    m->now = in->now;

    m->url = join_url(opt(in->config, "base_url"), "/v1/tokens");
    /* Copy the key now: readgate wipes its own copy right after begin. */
    static const char bearer[] = "Bearer ";
    size_t alen = sizeof bearer - 1 + in->api_key_len + 1;
    m->auth = mem_alloc(alen);
    if (m->auth) {
        memcpy(m->auth, bearer, sizeof bearer - 1);
        memcpy(m->auth + sizeof bearer - 1, in->api_key, in->api_key_len);
    }
    m->body = build_body(in);
    if (!m->url || !m->auth || !m->body)
        return fail(err, RG_ERR_INTERNAL, PROVIDER_NAME ": out of memory");

    /* Every header carries its struct_size: readgate steps through them by it. */
    m->headers[0] = (rg_provider_header){
        .struct_size = sizeof(rg_provider_header), .name = "Authorization", .value = m->auth};
    m->headers[1] = (rg_provider_header){.struct_size = sizeof(rg_provider_header),
                                         .name = "Content-Type",
                                         .value = "application/json"};
    req->method = "POST";
    req->url = m->url;
    req->headers = m->headers;
    req->nheaders = 2;
    req->body = m->body;
    req->body_len = strlen(m->body);
    return RG_OK;
}

/* ---- finish: read the answer ---------------------------------------------------- */

/*
 * Map the HTTP status as readgate expects; the message names the provider
 * and the status, and never quotes the body.
 */
static rg_status map_status(long status, rg_error *err)
{
    if (status == 200 || status == 201)
        return RG_OK;
    if (status == 401 || status == 403)
        return fail(err, RG_ERR_AUTH, PROVIDER_NAME ": HTTP %ld: the provider refused the api key",
                    status);
    if (status == 429 || (status >= 500 && status <= 599))
        return fail(err, RG_ERR_UNAVAILABLE,
                    PROVIDER_NAME ": HTTP %ld: the provider is busy or down", status);
    return fail(err, RG_ERR_UPSTREAM, PROVIDER_NAME ": HTTP %ld: the provider refused the request",
                status);
}

static rg_status tpl_finish(void *state, const rg_provider_response *resp, rg_mint_result *out,
                            rg_error *err)
{
    tpl_mint *m = state;
    rg_status st = map_status(resp->status, err);
    if (st != RG_OK)
        return st;

    json_t *answer = resp->body ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    json_t *token = json_object_get(answer, "token");
    json_t *expires_in = json_object_get(answer, "expires_in");
    if (!json_is_string(token) || json_string_length(token) == 0 ||
        !json_is_integer(expires_in) || json_integer_value(expires_in) <= 0 ||
        json_integer_value(expires_in) > 86400) {
        json_decref(answer);
        /* Say what was missing, not what came. */
        return fail(err, RG_ERR_UPSTREAM,
                    PROVIDER_NAME ": HTTP %ld: malformed answer (no \"token\" and \"expires_in\")",
                    resp->status);
    }

    /* Exactly what the browser needs: the credential and when it expires. */
    json_t *result = json_pack("{s:O, s:I}", "token", token, "expires_at",
                               (json_int_t)(m->now + json_integer_value(expires_in)));
    json_decref(answer);
    size_t n = result ? json_dumpb(result, NULL, 0, JSON_COMPACT) : 0;
    m->result = n ? mem_alloc(n + 1) : NULL;
    if (m->result)
        json_dumpb(result, m->result, n, JSON_COMPACT);
    json_decref(result);
    if (!m->result)
        return fail(err, RG_ERR_INTERNAL, PROVIDER_NAME ": out of memory");
    out->json = m->result;
    out->json_len = n;
    return RG_OK;
}

/* ---- end: wipe and free ----------------------------------------------------------- */

static void tpl_end(void *state)
{
    tpl_mint *m = state;
    if (!m)
        return;
    wipe_free(m->auth); /* the api key */
    wipe_free(m->result); /* the credential */
    wipe_free(m->body);
    wipe_free(m->url);
    mem_free(m);
}

/* ---- the descriptor and the entry point ----------------------------------------- */

/* The descriptor (static and immutable: readgate may read it from any thread)
   and rg_provider_entry, the one visible symbol (CMake builds the rest
   hidden). The third argument says which ai.tools modes your provider can
   hand to its model: 0, or RG_PROVIDER_TOOLS_FUNCTIONS / _MCP. */
RG_PROVIDER(PROVIDER_NAME, PROVIDER_VERSION, 0, tpl_check, tpl_begin, tpl_finish, tpl_end)
