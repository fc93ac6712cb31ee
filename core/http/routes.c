/*
 * Public API routing: /v1/{site}/{token|query|collections|session} plus CORS
 * preflight. Cheap checks first (path, site, method, size, content type),
 * then the signature, then rate limits and the replay check (which may wait
 * for Redis: the request then continues from its answer), then the handler.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include "server/auth.h"
#include "http/client_ip.h"
#include "http/http_reply.h"
#include "server/events.h"
#include "server/mcp.h"
#include "server/webhook.h"
#include "server/query_route.h"
#include "ratelimit/ratelimit.h"
#include "ratelimit/ratelimit_policy.h"
#include "server/server.h"
#include "util/log.h"

enum action {
    ACT_TOKEN,
    ACT_QUERY,
    ACT_COLLECTIONS,
    ACT_SESSION,
    ACT_MCP,
    ACT_EVENTS,
    ACT_WEBHOOK_SHOPIFY,
    ACT_UNKNOWN
};

/* "/v1/<site>/<action>" exactly; copies the site id out. */
static enum action parse_path(const char *path, char site[33])
{
    if (strncmp(path, "/v1/", 4) != 0)
        return ACT_UNKNOWN;
    const char *s = path + 4;
    const char *slash = strchr(s, '/');
    if (!slash || slash == s)
        return ACT_UNKNOWN;
    /* An over-long site id is still a widget endpoint: it must get the same
     * 404 widget_unavailable as any unknown site, so it is kept as "" (never
     * a valid id) rather than turned into a different error. */
    if ((size_t)(slash - s) > 32) {
        site[0] = '\0';
    } else {
        memcpy(site, s, (size_t)(slash - s));
        site[slash - s] = '\0';
    }
    const char *a = slash + 1;
    if (strcmp(a, "token") == 0)
        return ACT_TOKEN;
    if (strcmp(a, "query") == 0)
        return ACT_QUERY;
    if (strcmp(a, "collections") == 0)
        return ACT_COLLECTIONS;
    if (strcmp(a, "session") == 0)
        return ACT_SESSION;
    if (strcmp(a, "mcp") == 0)
        return ACT_MCP;
    if (strcmp(a, "events") == 0)
        return ACT_EVENTS;
    if (strcmp(a, "webhooks/shopify") == 0)
        return ACT_WEBHOOK_SHOPIFY;
    return ACT_UNKNOWN;
}

static rg_route route_of(enum action a)
{
    switch (a) {
    case ACT_TOKEN: return RG_ROUTE_TOKEN;
    case ACT_QUERY: return RG_ROUTE_QUERY;
    case ACT_COLLECTIONS: return RG_ROUTE_COLLECTIONS;
    case ACT_SESSION: return RG_ROUTE_SESSION;
    case ACT_MCP: return RG_ROUTE_MCP;
    case ACT_EVENTS: return RG_ROUTE_EVENTS;
    default: return RG_ROUTE_OTHER;
    }
}

static void preflight(struct evhttp_request *req, const rg_site *site)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    const char *origin = rg_auth_allowed_origin(site, req);
    if (origin) {
        evhttp_add_header(h, "Access-Control-Allow-Origin", origin);
        evhttp_add_header(h, "Vary", "Origin");
        evhttp_add_header(h, "Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
        evhttp_add_header(h, "Access-Control-Allow-Headers",
                          "Content-Type, Authorization, X-Readgate-Session, X-Readgate-Timestamp, "
                          "X-Readgate-Nonce, X-Readgate-Signature, Accept, MCP-Protocol-Version, "
                          "Mcp-Session-Id, Last-Event-ID");
        evhttp_add_header(h, "Access-Control-Expose-Headers",
                          "WWW-Authenticate, Retry-After, RateLimit-Limit, RateLimit-Remaining, "
                          "RateLimit-Reset");
        evhttp_add_header(h, "Access-Control-Max-Age", "600");
    }
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_send_reply(req, 204, "No Content", NULL);
}

static int is_json_content_type(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct || strncasecmp(ct, want, sizeof want - 1) != 0)
        return 0;
    char next = ct[sizeof want - 1];
    return next == '\0' || next == ';' || next == ' ';
}

static const char *method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "OTHER";
    }
}

/* A request between its checks and its handler; lives on the heap only
   because a Redis answer may come later. */
typedef struct pending_req {
    rg_loop *loop;
    rg_runtime *rt; /* held while waiting: a reload must not free srt */
    struct evhttp_request *req;
    enum action act;
    const rg_site_rt *srt; /* NULL: unknown site (token route only) */
    const char *origin;    /* vetted; points into the request's headers */
    const char *body;
    size_t len;
    rg_session session; /* signed routes */
    rg_rl_pending *pending;
    rg_route route;
} pending_req;

static pending_req *pending_new(rg_loop *loop, struct evhttp_request *req, enum action act,
                                const rg_site_rt *srt, const char *origin, rg_route route)
{
    pending_req *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->loop = loop;
    p->rt = loop->rt;
    rg_runtime_retain(p->rt);
    p->req = req;
    p->act = act;
    p->srt = srt;
    p->origin = origin;
    p->route = route;
    return p;
}

static void pending_free(pending_req *p)
{
    rg_secure_zero(&p->session, sizeof p->session);
    rg_runtime_release(p->rt, 1);
    free(p);
}

static rg_rl_route rl_route_of(enum action a)
{
    switch (a) {
    case ACT_TOKEN: return RG_RL_TOKEN;
    case ACT_QUERY: return RG_RL_QUERY;
    case ACT_COLLECTIONS: return RG_RL_COLLECTIONS;
    /* MCP tools/call reads what /query reads: the same limits. */
    case ACT_MCP: return RG_RL_QUERY;
    case ACT_EVENTS: return RG_RL_EVENTS;
    case ACT_WEBHOOK_SHOPIFY: return RG_RL_TOKEN;
    default: return RG_RL_SESSION;
    }
}

/* Every X-Forwarded-For header, in order, for the client address. */
static rg_ip client_ip(const rg_runtime *rt, struct evhttp_request *req)
{
    rg_ip peer;
    memset(&peer, 0, sizeof peer);
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    const struct sockaddr *sa = evcon ? evhttp_connection_get_addr(evcon) : NULL;
    if (rg_ip_from_sockaddr(sa, &peer) != 0)
        return peer; /* not IP (can't happen on a TCP listener): all such peers share one key */
    if (rt->nproxies == 0)
        return peer;
    const char *xff[16];
    size_t n = 0;
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next) {
        if (strcasecmp(kv->key, "X-Forwarded-For") != 0)
            continue;
        if (n == sizeof xff / sizeof xff[0]) {
            /* More headers than any proxy chain writes: keep the last ones. */
            memmove(xff, xff + 1, (n - 1) * sizeof xff[0]);
            n--;
        }
        xff[n++] = kv->value;
    }
    return rg_client_ip(&peer, xff, n, rt->proxies, rt->nproxies);
}

/* The windows of this request (ratelimit/ratelimit_policy.h): its route and
   who is asking. */
static void add_windows(rg_rl_check *chk, const rg_runtime *rt, const rg_site *site,
                        enum action act, struct evhttp_request *req, const rg_session *session)
{
    rg_ip ip = client_ip(rt, req);
    rg_rl_identity who = {.site_id = site ? site->site_id : NULL};
    rg_ip_limit_key(&ip, who.ip_key);
    if (session) {
        who.session_nonce = session->nonce;
        who.session_nonce_len = sizeof session->nonce;
    }
    rg_rl_add_request_windows(chk, rl_route_of(act), rt->cfg, site, &who);
}

/* The handler proper, once the request may go on. Returns the status it
   answered with, or 0 when the answer (and its count) comes later. */
static int dispatch(pending_req *p)
{
    rg_loop *loop = p->loop;
    struct evhttp_request *req = p->req;
    rg_api_error e;
    switch (p->act) {
    case ACT_TOKEN:
        return rg_auth_handle_token(loop, p->rt, p->srt, req, p->origin);
    case ACT_QUERY:
        rg_query_start(loop, p->rt, req, p->srt, p->origin, p->body, p->len);
        return 0;
    case ACT_COLLECTIONS:
        rg_reply_cors(req, p->origin);
        rg_reply_json(req, 200, p->srt->describe_json, p->srt->describe_len);
        return 200;
    case ACT_MCP:
        return rg_mcp_handle(loop, p->rt, p->srt, req, p->origin, p->body, p->len);
    case ACT_WEBHOOK_SHOPIFY:
        return rg_webhook_shopify(p->rt, p->srt, req, p->body, p->len);
    case ACT_EVENTS: {
        rg_event_in ev;
        rg_reply_cors(req, p->origin);
        if (rg_event_parse(p->srt->site, p->body, p->len, &ev, &e) != 0) {
            rg_reply_error(req, &e);
            return e.http_status;
        }
        if (loop->srv->events)
            rg_events_record(loop->srv->events, p->srt->site->site_id, &ev);
        static const char accepted[] = "{\"accepted\":true}";
        rg_reply_json(req, 202, accepted, sizeof accepted - 1);
        return 202;
    }
    case ACT_SESSION: {
        uint64_t now = (uint64_t)time(NULL);
        rg_nonce_cache *ended = loop->srv->ended;
        /* Remember the ended session until it would have expired anyway. */
        if (!rg_nonce_cache_insert(ended, p->session.nonce, sizeof p->session.nonce, now,
                                   p->session.expires_at + 1) &&
            !rg_nonce_cache_contains(ended, p->session.nonce, sizeof p->session.nonce, now)) {
            rg_api_err(&e, RG_E_OVERLOADED, NULL,
                       "too many ended sessions are being tracked; try again later");
            rg_reply_cors(req, p->origin);
            return rg_reply_error(req, &e);
        }
        static const char ended_body[] = "{\"ended\":true}";
        rg_reply_cors(req, p->origin);
        rg_reply_json(req, 200, ended_body, sizeof ended_body - 1);
        return 200;
    }
    default:
        return rg_reply_error_default(req, RG_E_INTERNAL);
    }
}

/* The rate-limit and replay answer is in: refuse, or go on. Frees p. */
static void proceed(pending_req *p, const rg_rl_result *res)
{
    struct evhttp_request *req = p->req;
    int status;
    rg_api_error e;
    if (res->outcome == RG_RL_REPLAY) {
        rg_api_err_default(&e, RG_E_REPLAYED_REQUEST);
        rg_reply_cors(req, p->origin);
        status = rg_reply_error(req, &e);
    } else if (res->outcome == RG_RL_ENDED && p->act == ACT_MCP) {
        rg_api_err(&e, RG_E_MCP_UNAUTHORIZED, NULL,
                   "the session this MCP token came with was ended");
        rg_mcp_challenge(p->rt, req, p->srt->site->site_id, true);
        rg_reply_cors(req, p->origin);
        status = rg_reply_error(req, &e);
    } else if (res->outcome == RG_RL_ENDED) {
        rg_api_err(&e, RG_E_SESSION_ENDED, NULL,
                   "the session was ended; open a new one with POST /v1/%s/token",
                   p->srt->site->site_id);
        rg_reply_cors(req, p->origin);
        status = rg_reply_error(req, &e);
    } else if (res->outcome == RG_RL_LIMITED) {
        rg_rl_add_headers(req, res);
        rg_api_err(&e, RG_E_RATE_LIMITED, NULL,
                   "too many requests to this endpoint; retry after %u s", res->retry_after_s);
        rg_reply_cors(req, p->origin);
        status = rg_reply_error(req, &e);
    } else {
        rg_rl_add_headers(req, res);
        status = dispatch(p);
    }
    if (status)
        rg_metrics_count(&p->loop->srv->metrics, p->route, status);
    pending_free(p);
}

static void on_decided(void *arg, const rg_rl_result *res)
{
    pending_req *p = arg;
    p->pending = NULL;
    rg_conn_unwatch(p->loop, p->req);
    proceed(p, res);
}

static void on_client_gone(void *arg)
{
    pending_req *p = arg;
    /* libevent frees the request with its connection: forget both. */
    rg_rl_cancel(p->pending);
    pending_free(p);
}

/* Ask for the limits; answers now or from on_decided. Takes p. */
static void check_limits(pending_req *p, const rg_rl_check *chk)
{
    rg_rl_result res;
    if (rg_ratelimit_check(p->loop, chk, on_decided, p, &p->pending, &res)) {
        proceed(p, &res);
        return;
    }
    if (rg_conn_watch(p->loop, p->req, on_client_gone, p) != 0) {
        /* Can't learn of a vanished client, so don't wait for one. */
        rg_rl_cancel(p->pending);
        p->pending = NULL;
        int status = rg_reply_error_default(p->req, RG_E_INTERNAL);
        rg_metrics_count(&p->loop->srv->metrics, p->route, status);
        pending_free(p);
    }
}

/* More than one Content-Length header. libevent frames the body by the
   first; a proxy in front may have used another, which is how request
   smuggling works, so such a request is refused (RFC 9112 section 6.3). */
static bool framing_ambiguous(struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    struct evkeyval *kv;
    int n = 0;
    TAILQ_FOREACH(kv, h, next)
        n += strcasecmp(kv->key, "Content-Length") == 0;
    return n > 1;
}

/* The request's body in one piece, after the size limit and, for a JSON
   endpoint, the Content-Type. 0, or -1 with the 413, 415 or 500 in *e. */
static int read_body(const rg_runtime *rt, struct evhttp_request *req, bool json,
                     const char **body, size_t *len, rg_api_error *e)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    *len = evbuffer_get_length(in);
    if (*len > rt->cfg->limits.max_body_bytes) {
        rg_api_err(e, RG_E_BODY_TOO_LARGE, NULL,
                   "request body is %zu bytes; at most %zu are allowed", *len,
                   rt->cfg->limits.max_body_bytes);
        return -1;
    }
    if (json && !is_json_content_type(
                    evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type"))) {
        rg_api_err_default(e, RG_E_UNSUPPORTED_MEDIA_TYPE);
        return -1;
    }
    *body = *len ? (const char *)evbuffer_pullup(in, (ev_ssize_t)*len) : "";
    if (!*body) {
        rg_api_err_default(e, RG_E_INTERNAL);
        return -1;
    }
    return 0;
}

/* GET /.well-known/oauth-protected-resource/v1/<site>/mcp (RFC 9728): the
   MCP endpoint's protected-resource metadata. True when the path is it. */
static bool well_known(rg_loop *loop, struct evhttp_request *req, const char *path,
                       rg_route *route, int *status)
{
    static const char prefix[] = "/.well-known/oauth-protected-resource/v1/";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0)
        return false;
    const char *s = path + sizeof prefix - 1;
    const char *slash = strchr(s, '/');
    if (!slash || strcmp(slash, "/mcp") != 0 || slash - s > 32)
        return false;
    char site_id[33];
    memcpy(site_id, s, (size_t)(slash - s));
    site_id[slash - s] = '\0';
    *route = RG_ROUTE_MCP;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        rg_api_error e;
        rg_api_err(&e, RG_E_METHOD_NOT_ALLOWED, NULL, "%s is not allowed here; use GET",
                   method_name(cmd));
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
        *status = rg_reply_error(req, &e);
        return true;
    }
    const rg_site_rt *srt = rg_site_id_valid(site_id) ? rg_runtime_site(loop->rt, site_id) : NULL;
    if (!srt) {
        *status = rg_reply_error_default(req, RG_E_WIDGET_UNAVAILABLE);
        return true;
    }
    *status = rg_mcp_metadata(loop->rt, srt, req);
    return true;
}

/* Does the Accept header allow a JSON answer? Absent: yes. */
static bool accepts_json(const char *accept)
{
    if (!accept)
        return true;
    return strcasestr(accept, "application/json") || strcasestr(accept, "application/*") ||
           strstr(accept, "*/*");
}

/* The MCP endpoint's checks before its limits (mcp.h). 0 when the request
   went on (or was answered here), -1 with *e to answer. */
static int mcp_admit(rg_loop *loop, struct evhttp_request *req, const rg_site_rt *srt,
                     const char *origin, rg_route route, rg_rl_check *chk, rg_api_error *e)
{
    rg_runtime *rt = loop->rt;
    const rg_site *site = srt->site;
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    /* A page of another origin must not drive an agent's tools (DNS
       rebinding, cross-site requests): refused before anything else. */
    if (evhttp_find_header(in, "Origin") && !origin) {
        rg_api_err_default(e, RG_E_ORIGIN_NOT_ALLOWED);
        return -1;
    }
    rg_mcp_caller who;
    bool invalid_token;
    if (rg_mcp_authenticate(loop->srv, rt, site, req, &who, &invalid_token, e) != 0) {
        rg_mcp_challenge(rt, req, site->site_id, invalid_token);
        return -1;
    }
    const char *version = evhttp_find_header(in, "MCP-Protocol-Version");
    if (!rg_mcp_version_ok(version)) {
        rg_api_err(e, RG_E_UNSUPPORTED_PROTOCOL_VERSION, NULL,
                   "MCP-Protocol-Version '%.40s' is not supported; supported: %s, %s, %s", version,
                   rg_mcp_versions[0], rg_mcp_versions[1], rg_mcp_versions[2]);
        return -1;
    }
    if (!accepts_json(evhttp_find_header(in, "Accept"))) {
        rg_api_err_default(e, RG_E_NOT_ACCEPTABLE);
        return -1;
    }
    const char *body;
    size_t len;
    if (read_body(rt, req, true, &body, &len, e) != 0)
        return -1;
    /* Counted per caller: the MCP token's session, or the API key. */
    rg_session as;
    memset(&as, 0, sizeof as);
    memcpy(as.nonce, who.id, sizeof as.nonce);
    add_windows(chk, rt, site, ACT_MCP, req, &as);
    if (who.token) {
        chk->has_session = true;
        memcpy(chk->session_id, who.id, sizeof chk->session_id);
        chk->session_until = who.expires_at + 1;
    }
    pending_req *p = pending_new(loop, req, ACT_MCP, srt, origin, route);
    if (!p) {
        rg_api_err_default(e, RG_E_INTERNAL);
        return -1;
    }
    p->body = body;
    p->len = len;
    check_limits(p, chk);
    return 0;
}

static void handle(rg_loop *loop, struct evhttp_request *req, rg_route *route, int *status)
{
    rg_server *srv = loop->srv;
    rg_runtime *rt = loop->rt;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    char site_id[33] = "";
    enum action act = path ? parse_path(path, site_id) : ACT_UNKNOWN;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    *route = route_of(act);
    if (framing_ambiguous(req)) {
        /* Whatever follows on this connection may be a smuggled request. */
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        *status =
            rg_reply_error_simple(req, RG_E_INVALID_REQUEST,
                                  "the request has more than one Content-Length header; send one");
        return;
    }
    if (act == ACT_UNKNOWN && path && well_known(loop, req, path, route, status))
        return;
    if (act == ACT_UNKNOWN) {
        *status =
            rg_reply_error_simple(req, RG_E_NOT_FOUND,
                                  "no such endpoint; see /v1/{site}/token, /v1/{site}/query, "
                                  "/v1/{site}/collections, /v1/{site}/session, /v1/{site}/mcp, "
                                  "/v1/{site}/events, /v1/{site}/webhooks/shopify");
        return;
    }
    const rg_site_rt *srt = rg_site_id_valid(site_id) ? rg_runtime_site(rt, site_id) : NULL;
    const rg_site *site = srt ? srt->site : NULL;

    if (cmd == EVHTTP_REQ_OPTIONS) {
        *route = RG_ROUTE_PREFLIGHT;
        *status = 204;
        preflight(req, site);
        return;
    }
    static const enum evhttp_cmd_type expected[] = {
        [ACT_TOKEN] = EVHTTP_REQ_POST, [ACT_QUERY] = EVHTTP_REQ_POST,
        [ACT_COLLECTIONS] = EVHTTP_REQ_GET, [ACT_SESSION] = EVHTTP_REQ_DELETE,
        [ACT_MCP] = EVHTTP_REQ_POST, [ACT_EVENTS] = EVHTTP_REQ_POST,
        [ACT_WEBHOOK_SHOPIFY] = EVHTTP_REQ_POST};
    if (cmd != expected[act]) {
        rg_api_error e;
        rg_api_err(&e, RG_E_METHOD_NOT_ALLOWED, NULL, "%s is not allowed here; use %s",
                   method_name(cmd), method_name(expected[act]));
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          method_name(expected[act]));
        *status = rg_reply_error(req, &e);
        return;
    }
    if (!site && act != ACT_TOKEN) {
        /* Same answer as every other refusal: a site id reveals nothing. */
        *status = rg_reply_error_default(req, RG_E_WIDGET_UNAVAILABLE);
        return;
    }
    const char *origin = rg_auth_allowed_origin(site, req);
    rg_rl_check chk;
    memset(&chk, 0, sizeof chk);
    rg_api_error e;
    if (act == ACT_TOKEN) {
        /* Limited before any credential is looked at, so guessing keys or
           minting sessions in bulk runs into the per-IP window; an unknown
           site is counted per IP like any other. */
        add_windows(&chk, rt, site, act, req, NULL);
    } else if (act == ACT_WEBHOOK_SHOPIFY) {
        /* Server to server, authenticated by Shopify's own signature of the
           raw body; counted per IP and per site like a token request. */
        const char *body;
        size_t len;
        if (read_body(rt, req, false, &body, &len, &e) != 0)
            goto fail;
        add_windows(&chk, rt, site, act, req, NULL);
        pending_req *p = pending_new(loop, req, act, srt, NULL, *route);
        if (!p) {
            rg_api_err_default(&e, RG_E_INTERNAL);
            goto fail;
        }
        p->body = body;
        p->len = len;
        *status = 0;
        check_limits(p, &chk);
        return;
    } else if (act == ACT_MCP) {
        if (mcp_admit(loop, req, srt, origin, *route, &chk, &e) != 0)
            goto fail;
        *status = 0; /* counted by proceed, or mcp_admit answered */
        return;
    } else {
        const char *body;
        size_t len;
        if (read_body(rt, req, act == ACT_QUERY || act == ACT_EVENTS, &body, &len, &e) != 0)
            goto fail;
        rg_session session;
        if (rg_auth_verify_signed(srv, rt, site, req, method_name(cmd), path, body, len, &session,
                                  &chk, &e) != 0)
            goto fail;
        /* Only a verified session is counted: nobody spends another's quota. */
        add_windows(&chk, rt, site, act, req, &session);
        chk.has_session = true;
        chk.end_session = act == ACT_SESSION;
        memcpy(chk.session_id, session.nonce, sizeof chk.session_id);
        chk.session_until = session.expires_at + 1;
        pending_req *p = pending_new(loop, req, act, srt, origin, *route);
        if (!p) {
            rg_secure_zero(&session, sizeof session);
            rg_api_err_default(&e, RG_E_INTERNAL);
            goto fail;
        }
        p->session = session;
        rg_secure_zero(&session, sizeof session);
        p->body = body;
        p->len = len;
        *status = 0; /* counted by proceed */
        check_limits(p, &chk);
        return;
    }
    pending_req *p = pending_new(loop, req, act, srt, origin, *route);
    if (!p) {
        rg_api_err_default(&e, RG_E_INTERNAL);
        goto fail;
    }
    *status = 0; /* counted by proceed */
    check_limits(p, &chk);
    return;
fail:
    rg_reply_cors(req, origin);
    rg_reply_error(req, &e);
    *status = e.http_status;
}

void rg_routes_handle(struct evhttp_request *req, void *arg)
{
    rg_loop *loop = arg;
    rg_route route = RG_ROUTE_OTHER;
    int status = 500;
    /* The whole request is in: its header and body deadlines stop here. */
    rg_conn_request(loop, req);
    handle(loop, req, &route, &status);
    if (status)
        rg_metrics_count(&loop->srv->metrics, route, status);
}
