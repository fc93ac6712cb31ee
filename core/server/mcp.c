#include "server/mcp.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <time.h>

#include "server/auth.h"
#include "http/http_reply.h"
#include "query/describe.h"
#include "query/rowjson.h"
#include "server/query_route.h"
#include "util/log.h"

const char *const rg_mcp_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", NULL};

/* JSON-RPC error codes (JSON-RPC 2.0 section 5.1). */
#define RPC_PARSE_ERROR (-32700)
#define RPC_INVALID_REQUEST (-32600)
#define RPC_METHOD_NOT_FOUND (-32601)
#define RPC_INVALID_PARAMS (-32602)

#define MAX_ID_BYTES 256

bool rg_mcp_version_ok(const char *v)
{
    if (!v)
        return true;
    for (size_t i = 0; rg_mcp_versions[i]; i++)
        if (strcmp(v, rg_mcp_versions[i]) == 0)
            return true;
    return false;
}

/* ---- who is calling ------------------------------------------------------------ */

int rg_mcp_authenticate(const rg_server *srv, const rg_runtime *rt, const rg_site *site,
                        struct evhttp_request *req, rg_mcp_caller *who, bool *invalid_token,
                        rg_api_error *e)
{
    static const char prefix[] = "Bearer ";
    const char *authz = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    memset(who, 0, sizeof *who);
    *invalid_token = false;
    if (!authz) {
        rg_api_err(e, RG_E_MCP_UNAUTHORIZED, NULL,
                   "send Authorization: Bearer with a site API key (rgk_...) or an MCP "
                   "token (rgm_...)");
        return -1;
    }
    *invalid_token = true;
    if (strncmp(authz, prefix, sizeof prefix - 1) != 0) {
        rg_api_err(e, RG_E_MCP_UNAUTHORIZED, NULL,
                   "the Authorization header must be Bearer and a token");
        return -1;
    }
    const char *tok = authz + sizeof prefix - 1;
    if (strncmp(tok, "rgm_", 4) == 0) {
        rg_session s;
        uint64_t now = (uint64_t)time(NULL);
        rg_session_status st = rg_mcp_token_verify(rt->kr, tok, site->site_id, now, &s);
        if (st == RG_SESSION_EXPIRED) {
            rg_api_err(e, RG_E_MCP_UNAUTHORIZED, NULL,
                       "the MCP token has expired; a new one comes with the next session");
            return -1;
        }
        if (st == RG_SESSION_WRONG_SITE) {
            rg_api_err(e, RG_E_MCP_UNAUTHORIZED, NULL, "the MCP token was issued for another site");
            return -1;
        }
        if (st != RG_SESSION_OK) {
            rg_api_err(e, RG_E_MCP_UNAUTHORIZED, NULL, "the MCP token is not valid");
            return -1;
        }
        /* Ended with its session (this instance; Redis tells the others). */
        if (rg_nonce_cache_contains(srv->ended, s.nonce, sizeof s.nonce, now)) {
            rg_api_err(e, RG_E_MCP_UNAUTHORIZED, NULL,
                       "the session this MCP token came with was ended");
            return -1;
        }
        who->token = true;
        memcpy(who->id, s.nonce, sizeof who->id);
        who->expires_at = s.expires_at;
        return 0;
    }
    uint8_t digest[32];
    if (!rg_auth_api_key_ok(site, tok, digest)) {
        rg_api_err_default(e, RG_E_MCP_UNAUTHORIZED);
        return -1;
    }
    memcpy(who->id, digest, sizeof who->id);
    return 0;
}

/* ---- addresses -------------------------------------------------------------------- */

static bool host_ok(const char *h)
{
    if (!h || !*h || strlen(h) > 255)
        return false;
    for (const char *p = h; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == ':' || *p == '[' || *p == ']'))
            return false;
    return true;
}

void rg_mcp_base_url(const rg_runtime *rt, struct evhttp_request *req, char *out, size_t outlen)
{
    if (rt->cfg->public_url) {
        snprintf(out, outlen, "%s", rt->cfg->public_url);
        return;
    }
    /* Without public_url: the host the client used; https unless it is this
       machine (a gateway reached from elsewhere sits behind TLS). */
    const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
    if (!host_ok(host))
        host = "127.0.0.1";
    bool local = strncmp(host, "127.0.0.1", 9) == 0 || strncmp(host, "localhost", 9) == 0 ||
                 strncmp(host, "[::1]", 5) == 0;
    snprintf(out, outlen, "%s://%s", local ? "http" : "https", host);
}

void rg_mcp_challenge(const rg_runtime *rt, struct evhttp_request *req, const char *site_id,
                      bool invalid_token)
{
    char base[512], value[1024];
    rg_mcp_base_url(rt, req, base, sizeof base);
    snprintf(value, sizeof value,
             "Bearer resource_metadata=\"%s/.well-known/oauth-protected-resource/v1/%s/mcp\"%s",
             base, site_id, invalid_token ? ", error=\"invalid_token\"" : "");
    evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", value);
}

int rg_mcp_metadata(const rg_runtime *rt, const rg_site_rt *srt, struct evhttp_request *req)
{
    char base[512], resource[640], name[128];
    rg_mcp_base_url(rt, req, base, sizeof base);
    snprintf(resource, sizeof resource, "%s/v1/%s/mcp", base, srt->site->site_id);
    snprintf(name, sizeof name, "readgate catalog %s", srt->site->site_id);
    /* No authorization server: bearers are the site's API keys, given out
       by its owner, and MCP tokens minted with sessions. */
    json_t *doc = json_pack("{s:s, s:[s], s:s}", "resource", resource,
                            "bearer_methods_supported", "header", "resource_name", name);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return rg_reply_error_default(req, RG_E_INTERNAL);
    /* Public metadata, meant for any client. */
    evhttp_add_header(evhttp_request_get_output_headers(req), "Access-Control-Allow-Origin", "*");
    rg_reply_json(req, 200, text, strlen(text));
    free(text);
    return 200;
}

/* ---- JSON-RPC answers --------------------------------------------------------------- */

static void reply_rpc_error(struct evhttp_request *req, int http, const char *id, int code,
                            const char *msg)
{
    json_t *doc = json_pack("{s:s, s:o, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
                            id ? json_loads(id, JSON_DECODE_ANY, NULL) : json_null(), "error",
                            "code", code, "message", msg);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) {
        rg_reply_error_default(req, RG_E_INTERNAL);
        return;
    }
    rg_reply_json(req, http, text, strlen(text));
    free(text);
}

/* {"jsonrpc":"2.0","id":ID,"result":RESULT} with RESULT given as JSON text
   in pieces (concatenated). */
static int reply_result_parts(struct evhttp_request *req, const char *id,
                              const struct iovec *parts, size_t nparts)
{
    struct evbuffer *b = evbuffer_new();
    int rc = !b;
    if (b) {
        rc |= evbuffer_add_printf(b, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":", id) < 0;
        for (size_t i = 0; i < nparts; i++)
            rc |= evbuffer_add(b, parts[i].iov_base, parts[i].iov_len);
        rc |= evbuffer_add(b, "}", 1);
    }
    if (rc) {
        if (b)
            evbuffer_free(b);
        return rg_reply_error_default(req, RG_E_INTERNAL);
    }
    rg_reply_buffer(req, 200, b);
    evbuffer_free(b);
    return 200;
}

static int reply_result(struct evhttp_request *req, const char *id, const char *result,
                        size_t len)
{
    struct iovec part = {(void *)result, len};
    return reply_result_parts(req, id, &part, 1);
}

/* The result as a JSON value, which this takes (NULL: out of memory). */
static int reply_result_json(struct evhttp_request *req, const char *id, json_t *result)
{
    char *text = result ? json_dumps(result, JSON_COMPACT) : NULL;
    json_decref(result);
    if (!text)
        return rg_reply_error_default(req, RG_E_INTERNAL);
    int st = reply_result(req, id, text, strlen(text));
    free(text);
    return st;
}

/* A tool's answer: the document as text and as structuredContent. */
static int reply_tool_json(struct evhttp_request *req, const char *id, const char *doc,
                           size_t len)
{
    struct evbuffer *text = evbuffer_new();
    if (!text || rg_json_append_string(text, doc, len) != 0) {
        if (text)
            evbuffer_free(text);
        return rg_reply_error_default(req, RG_E_INTERNAL);
    }
    static const char head[] = "{\"content\":[{\"type\":\"text\",\"text\":";
    static const char mid[] = "}],\"structuredContent\":";
    static const char tail[] = ",\"isError\":false}";
    /* The escaped copy is never empty (it has its quotes), so the pullup
       only fails when out of memory. */
    size_t tlen = evbuffer_get_length(text);
    void *escaped = evbuffer_pullup(text, (ev_ssize_t)tlen);
    struct iovec parts[] = {{(void *)head, sizeof head - 1}, {escaped, tlen},
                            {(void *)mid, sizeof mid - 1},   {(void *)doc, len},
                            {(void *)tail, sizeof tail - 1}};
    int st = 500;
    if (escaped)
        st = reply_result_parts(req, id, parts, 5);
    else
        rg_reply_error_default(req, RG_E_INTERNAL);
    evbuffer_free(text);
    return st;
}

/* A refused or failed tool call: isError, with the message /query gives. */
static int reply_tool_error(struct evhttp_request *req, const char *id, const rg_api_error *e)
{
    char text[800];
    if (e->field[0])
        snprintf(text, sizeof text, "%s: %s (at %s)", e->code, e->message, e->field);
    else
        snprintf(text, sizeof text, "%s: %s", e->code, e->message);
    json_t *res = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text,
                            "isError", 1);
    return reply_result_json(req, id, res);
}

/* ---- tools/call through the query path ------------------------------------------------ */

typedef struct call_ctx {
    char *id; /* the request's id as JSON text */
} call_ctx;

static void call_rows(void *arg, struct evhttp_request *req, struct evbuffer *doc)
{
    call_ctx *c = arg;
    size_t len = evbuffer_get_length(doc);
    const char *p = (const char *)evbuffer_pullup(doc, (ev_ssize_t)len);
    if (!p && len) {
        rg_reply_error_default(req, RG_E_INTERNAL);
        return;
    }
    reply_tool_json(req, c->id, p ? p : "", len);
}

static void call_error(void *arg, struct evhttp_request *req, const rg_api_error *e,
                       const char *retry_after)
{
    call_ctx *c = arg;
    (void)retry_after; /* the text says to retry; the HTTP answer itself succeeded */
    reply_tool_error(req, c->id, e);
}

static void call_free(void *arg)
{
    call_ctx *c = arg;
    free(c->id);
    free(c);
}

static int tools_call(rg_loop *loop, rg_runtime *rt, const rg_site_rt *srt,
                      struct evhttp_request *req, const char *id, json_t *params)
{
    json_t *name = json_object_get(params, "name");
    json_t *args = json_object_get(params, "arguments");
    if (!json_is_string(name)) {
        reply_rpc_error(req, 200, id, RPC_INVALID_PARAMS,
                        "tools/call needs params.name, the tool's name (see tools/list)");
        return 200;
    }
    if (args && !json_is_object(args) && !json_is_null(args)) {
        reply_rpc_error(req, 200, id, RPC_INVALID_PARAMS,
                        "params.arguments must be an object of the tool's input");
        return 200;
    }
    const char *tool = json_string_value(name);
    if (strcmp(tool, "describe_collections") == 0) {
        if (json_is_object(args) && json_object_size(args) > 0) {
            rg_api_error e;
            rg_api_err(&e, RG_E_UNKNOWN_PROPERTY, NULL, "describe_collections takes no arguments");
            return reply_tool_error(req, id, &e);
        }
        return reply_tool_json(req, id, srt->describe_json, srt->describe_len);
    }
    const rg_collection *coll = rg_describe_tool_collection(srt->site, tool);
    if (!coll) {
        char msg[200];
        snprintf(msg, sizeof msg, "unknown tool '%.64s'; see tools/list", tool);
        reply_rpc_error(req, 200, id, RPC_INVALID_PARAMS, msg);
        return 200;
    }
    if (json_object_get(args, "collection")) {
        rg_api_error e;
        rg_api_err(&e, RG_E_UNKNOWN_PROPERTY, "collection",
                   "the tool %s reads collection '%s': leave 'collection' out of its "
                   "arguments",
                   tool, coll->name);
        return reply_tool_error(req, id, &e);
    }
    /* The tool's arguments are the /query body without its collection. */
    json_t *body = json_is_object(args) ? json_deep_copy(args) : json_object();
    char *text = NULL;
    if (body && json_object_set_new(body, "collection", json_string(coll->name)) == 0)
        text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    call_ctx *c = calloc(1, sizeof *c);
    if (!text || !c || !(c->id = strdup(id))) {
        free(text);
        if (c)
            call_free(c);
        return rg_reply_error_default(req, RG_E_INTERNAL);
    }
    rg_query_answer answer = {.rows = call_rows, .error = call_error, .free_arg = call_free,
                              .arg = c, .route = RG_ROUTE_MCP};
    /* CORS headers are on the request already (rg_mcp_handle): no origin. */
    rg_query_start_with(loop, rt, req, srt, NULL, text, strlen(text), &answer);
    free(text);
    return 0;
}

/* ---- one message -------------------------------------------------------------------- */

static int initialize(struct evhttp_request *req, const rg_site *site, const char *id,
                      json_t *params)
{
    /* The client's version when this gateway speaks it, else the newest. */
    const char *want = json_string_value(json_object_get(params, "protocolVersion"));
    const char *version = rg_mcp_versions[0];
    for (size_t i = 0; want && rg_mcp_versions[i]; i++)
        if (strcmp(want, rg_mcp_versions[i]) == 0)
            version = rg_mcp_versions[i];
    char instructions[256];
    snprintf(instructions, sizeof instructions,
             "Read-only product catalog of site %s. Call describe_collections to learn the "
             "fields, then a query_ tool per collection; pass next_cursor back for more rows.",
             site->site_id);
    json_t *res = json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s, s:s}, s:s}", "protocolVersion",
                            version, "capabilities", "tools", "listChanged", 0, "serverInfo",
                            "name", "readgate", "title", "readgate", "version", READGATE_VERSION,
                            "instructions", instructions);
    return reply_result_json(req, id, res);
}

/* The id as JSON text: a string of at most MAX_ID_BYTES, or an integer. */
static char *id_text(json_t *id)
{
    if (json_is_string(id) && json_string_length(id) <= MAX_ID_BYTES)
        return json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
    if (json_is_integer(id))
        return json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
    return NULL;
}

int rg_mcp_handle(rg_loop *loop, rg_runtime *rt, const rg_site_rt *srt,
                  struct evhttp_request *req, const char *origin, const char *body, size_t len)
{
    rg_reply_cors(req, origin);
    json_error_t jerr;
    json_t *msg = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!msg) {
        char m[300];
        snprintf(m, sizeof m, "the body is not JSON: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        reply_rpc_error(req, 400, NULL, RPC_PARSE_ERROR, m);
        return 400;
    }
    int status;
    char *id = NULL;
    if (json_is_array(msg)) {
        reply_rpc_error(req, 400, NULL, RPC_INVALID_REQUEST,
                        "batches are not supported: send one JSON-RPC message per request");
        status = 400;
        goto out;
    }
    if (!json_is_object(msg) ||
        strcmp(json_string_value(json_object_get(msg, "jsonrpc")) ?: "", "2.0") != 0) {
        reply_rpc_error(req, 400, NULL, RPC_INVALID_REQUEST,
                        "expected a JSON-RPC 2.0 message: an object with \"jsonrpc\":\"2.0\"");
        status = 400;
        goto out;
    }
    json_t *jid = json_object_get(msg, "id");
    json_t *method = json_object_get(msg, "method");
    if (!jid) {
        /* A notification (or the client's answer to a request we never
           make): accepted, nothing to say. */
        if (!method && !json_object_get(msg, "result") && !json_object_get(msg, "error")) {
            reply_rpc_error(req, 400, NULL, RPC_INVALID_REQUEST,
                            "a message needs a method (request or notification) or a result");
            status = 400;
            goto out;
        }
        if (method && !json_is_string(method)) {
            reply_rpc_error(req, 400, NULL, RPC_INVALID_REQUEST, "method must be a string");
            status = 400;
            goto out;
        }
        rg_reply_common_headers(req);
        evhttp_send_reply(req, 202, "Accepted", NULL);
        status = 202;
        goto out;
    }
    if (!(id = id_text(jid))) {
        reply_rpc_error(req, 400, NULL, RPC_INVALID_REQUEST,
                        "id must be a string of at most 256 bytes or an integer (not null)");
        status = 400;
        goto out;
    }
    if (!method) {
        /* An answer to a request this server never sent. */
        rg_reply_common_headers(req);
        evhttp_send_reply(req, 202, "Accepted", NULL);
        status = 202;
        goto out;
    }
    if (!json_is_string(method)) {
        reply_rpc_error(req, 400, id, RPC_INVALID_REQUEST, "method must be a string");
        status = 400;
        goto out;
    }
    json_t *params = json_object_get(msg, "params");
    if (params && !json_is_object(params)) {
        reply_rpc_error(req, 200, id, RPC_INVALID_PARAMS, "params must be an object");
        status = 200;
        goto out;
    }
    const char *m = json_string_value(method);
    if (strcmp(m, "initialize") == 0) {
        status = initialize(req, srt->site, id, params);
    } else if (strcmp(m, "ping") == 0) {
        status = reply_result(req, id, "{}", 2);
    } else if (strcmp(m, "tools/list") == 0) {
        json_t *cursor = json_object_get(params, "cursor");
        if (cursor && !json_is_null(cursor)) {
            /* Every tool fits in one page: there is no cursor to continue. */
            reply_rpc_error(req, 200, id, RPC_INVALID_PARAMS,
                            "invalid cursor: tools/list has a single page");
            status = 200;
        } else {
            status = reply_result(req, id, srt->mcp_tools_json, strlen(srt->mcp_tools_json));
        }
    } else if (strcmp(m, "tools/call") == 0) {
        json_t *none = params ? NULL : json_object();
        status = tools_call(loop, rt, srt, req, id, params ? params : none);
        json_decref(none);
    } else {
        char text[200];
        snprintf(text, sizeof text,
                 "method '%.64s' not found; this server offers initialize, ping, tools/list "
                 "and tools/call",
                 m);
        reply_rpc_error(req, 200, id, RPC_METHOD_NOT_FOUND, text);
        status = 200;
    }
out:
    free(id);
    json_decref(msg);
    return status;
}
