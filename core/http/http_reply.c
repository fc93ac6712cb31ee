#include "http/http_reply.h"

#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

const char *rg_status_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error";
    }
}

void rg_reply_common_headers(struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_remove_header(h, "Content-Type");
    evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    /* Answers carry catalog rows or session secrets: never cache them. */
    evhttp_add_header(h, "Cache-Control", "no-store");
}

void rg_reply_cors(struct evhttp_request *req, const char *origin)
{
    if (!origin)
        return;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Access-Control-Allow-Origin", origin);
    evhttp_add_header(h, "Vary", "Origin");
    /* A widget backs off by these, so its script must be able to read them. */
    evhttp_add_header(h, "Access-Control-Expose-Headers",
                      "Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset");
}

void rg_reply_buffer(struct evhttp_request *req, int status, struct evbuffer *body)
{
    rg_reply_common_headers(req);
    evhttp_send_reply(req, status, rg_status_reason(status), body);
}

void rg_reply_json(struct evhttp_request *req, int status, const char *json, size_t len)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    if (len)
        evbuffer_add(b, json, len);
    rg_reply_buffer(req, status, b);
    evbuffer_free(b);
}

int rg_reply_error_default(struct evhttp_request *req, rg_err_code code)
{
    /* Written from the table without allocating: the identical 404 of
       widget_unavailable and the 500 of an exhausted heap among them. */
    char doc[RG_API_ERROR_DEFAULT_MAX];
    int n = rg_api_error_json_default(code, doc, sizeof doc);
    int status = rg_err_info_of(code)->http_status;
    rg_reply_json(req, status, doc, n < 0 ? 0 : (size_t)n);
    return status;
}

int rg_reply_error(struct evhttp_request *req, const rg_api_error *e)
{
    char *doc = rg_api_error_json(e);
    if (!doc)
        return rg_reply_error_default(req, RG_E_INTERNAL);
    rg_reply_json(req, e->http_status, doc, strlen(doc));
    free(doc);
    return e->http_status;
}

int rg_reply_error_simple(struct evhttp_request *req, rg_err_code code, const char *message)
{
    rg_api_error e;
    rg_api_err(&e, code, NULL, "%s", message);
    return rg_reply_error(req, &e);
}
