/*
 * Public API routing: /v1/{site}/{token|query|collections|session} plus CORS
 * preflight. Cheap checks first (path, site, method, size, content type),
 * then the signature, then the handler.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "http_reply.h"
#include "query_route.h"
#include "server.h"
#include "util/log.h"

enum action { ACT_TOKEN, ACT_QUERY, ACT_COLLECTIONS, ACT_SESSION, ACT_UNKNOWN };

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
    return ACT_UNKNOWN;
}

static rg_route route_of(enum action a)
{
    switch (a) {
    case ACT_TOKEN: return RG_ROUTE_TOKEN;
    case ACT_QUERY: return RG_ROUTE_QUERY;
    case ACT_COLLECTIONS: return RG_ROUTE_COLLECTIONS;
    case ACT_SESSION: return RG_ROUTE_SESSION;
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
                          "X-Readgate-Nonce, X-Readgate-Signature");
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
    if (act == ACT_UNKNOWN) {
        rg_reply_error_simple(req, 404, "not_found",
                              "no such endpoint; see /v1/{site}/token, /v1/{site}/query, "
                              "/v1/{site}/collections, /v1/{site}/session");
        *status = 404;
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
        [ACT_COLLECTIONS] = EVHTTP_REQ_GET, [ACT_SESSION] = EVHTTP_REQ_DELETE};
    if (cmd != expected[act]) {
        rg_api_error e;
        rg_api_error_set(&e, 405, "method_not_allowed", NULL, "%s is not allowed here; use %s",
                         method_name(cmd), method_name(expected[act]));
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          method_name(expected[act]));
        rg_reply_error(req, &e);
        *status = 405;
        return;
    }
    if (!site) {
        /* Same answer as every other refusal: a site id reveals nothing. */
        static const char body[] =
            "{\"error\":{\"code\":\"widget_unavailable\",\"message\":\"widget unavailable\"}}";
        rg_reply_json(req, 404, body, sizeof body - 1);
        *status = 404;
        return;
    }
    const char *origin = rg_auth_allowed_origin(site, req);
    if (act == ACT_TOKEN) {
        *status = rg_auth_handle_token(srv, rt, site, req, origin);
        return;
    }

    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const rg_limits *lim = &rt->cfg->limits;
    rg_api_error e;
    if (len > lim->max_body_bytes) {
        rg_api_error_set(&e, 413, "body_too_large", NULL,
                         "request body is %zu bytes; at most %zu are allowed", len,
                         lim->max_body_bytes);
        goto fail;
    }
    if (act == ACT_QUERY &&
        !is_json_content_type(
            evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type"))) {
        rg_api_error_set(&e, 415, "unsupported_media_type", NULL,
                         "Content-Type must be application/json");
        goto fail;
    }
    const char *body = len ? (const char *)evbuffer_pullup(in, (ev_ssize_t)len) : "";
    if (!body) {
        rg_api_error_set(&e, 500, "internal", NULL, "internal error");
        goto fail;
    }
    rg_session session;
    if (rg_auth_verify_signed(srv, rt, site, req, method_name(cmd), path, body, len, &session,
                              &e) != 0)
        goto fail;

    switch (act) {
    case ACT_QUERY:
        rg_secure_zero(&session, sizeof session);
        /* Replies later, from the worker's completion; counted there. */
        *status = 0;
        rg_query_start(loop, req, srt, origin, body, len);
        return;
    case ACT_COLLECTIONS:
        rg_reply_cors(req, origin);
        rg_reply_json(req, 200, srt->describe_json, srt->describe_len);
        *status = 200;
        break;
    case ACT_SESSION: {
        uint64_t now = (uint64_t)time(NULL);
        /* Remember the ended session until it would have expired anyway. */
        if (!rg_nonce_cache_insert(srv->ended, session.nonce, sizeof session.nonce, now,
                                   session.expires_at + 1) &&
            !rg_nonce_cache_contains(srv->ended, session.nonce, sizeof session.nonce, now)) {
            rg_api_error_set(&e, 503, "overloaded", NULL,
                             "too many ended sessions are being tracked; try again later");
            rg_secure_zero(&session, sizeof session);
            goto fail;
        }
        static const char ended[] = "{\"ended\":true}";
        rg_reply_cors(req, origin);
        rg_reply_json(req, 200, ended, sizeof ended - 1);
        *status = 200;
        break;
    }
    default:
        break;
    }
    rg_secure_zero(&session, sizeof session);
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
    handle(loop, req, &route, &status);
    if (status)
        rg_metrics_count(&loop->srv->metrics, route, status);
}
