/* Writing responses: JSON bodies, API errors, the security and CORS headers
   every response carries. */
#ifndef RG_HTTP_REPLY_H
#define RG_HTTP_REPLY_H

#include <event2/buffer.h>
#include <event2/http.h>
#include <stddef.h>

#include "query/errors.h"

/* Headers on every response: Content-Type JSON, nosniff, no-store. */
void rg_reply_common_headers(struct evhttp_request *req);
/* Echo an already-vetted origin for CORS (NULL = none). */
void rg_reply_cors(struct evhttp_request *req, const char *origin);
void rg_reply_json(struct evhttp_request *req, int status, const char *json, size_t len);
void rg_reply_buffer(struct evhttp_request *req, int status, struct evbuffer *body);
/* The error replies return the HTTP status they sent, for the metrics. */
int rg_reply_error(struct evhttp_request *req, const rg_api_error *e);
/* Shorthand for an error of `code` without a field, with its own message. */
int rg_reply_error_simple(struct evhttp_request *req, rg_err_code code, const char *message);
/* An error of `code` with the table's standard message (query/errors.h). */
int rg_reply_error_default(struct evhttp_request *req, rg_err_code code);
const char *rg_status_reason(int status);

#endif
