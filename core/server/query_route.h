/* POST /v1/{site}/query: validated plan -> source worker -> rows streamed
   into the response buffer -> reply on the loop that took the request. */
#ifndef RG_QUERY_ROUTE_H
#define RG_QUERY_ROUTE_H

#include <event2/http.h>

#include "runtime.h"
#include "server.h"

/* The request is authenticated and the body read; site_rt is the caller's site. */
void rg_query_start(rg_loop *loop, rg_runtime *rt, struct evhttp_request *req,
                    const rg_site_rt *srt, const char *origin, const char *body, size_t len);

#endif
