/* POST /v1/{site}/query: validated plan -> source worker -> rows streamed
   into the response buffer -> reply on the loop that took the request. The
   MCP endpoint runs its tools/call through the same path with answers of its
   own shape (rg_query_answer). */
#ifndef RG_QUERY_ROUTE_H
#define RG_QUERY_ROUTE_H

#include <event2/http.h>

#include "server/metrics.h"
#include "query/errors.h"
#include "server/runtime.h"
#include "server/server.h"

/*
 * How a query's outcome is written to its request. Both run on the loop,
 * once, with the client still there (CORS already added); they send the
 * reply. `rows` gets the answer document {"rows":[...],"next_cursor":...}
 * (drain it or leave it: it is not reused), `error` a refusal or failure
 * with the Retry-After to send, if any. free_arg, if set, runs when the
 * query is over, answered or not.
 */
typedef struct rg_query_answer {
    void (*rows)(void *arg, struct evhttp_request *req, struct evbuffer *doc);
    void (*error)(void *arg, struct evhttp_request *req, const rg_api_error *e,
                  const char *retry_after);
    void (*free_arg)(void *arg);
    void *arg;
    rg_route route; /* counted in the metrics under it */
} rg_query_answer;

/* The request is authenticated and the body read; site_rt is the caller's site. */
void rg_query_start(rg_loop *loop, rg_runtime *rt, struct evhttp_request *req,
                    const rg_site_rt *srt, const char *origin, const char *body, size_t len);

/* The same with answers written by `answer` (copied; its arg is taken). */
void rg_query_start_with(rg_loop *loop, rg_runtime *rt, struct evhttp_request *req,
                         const rg_site_rt *srt, const char *origin, const char *body, size_t len,
                         const rg_query_answer *answer);

#endif
