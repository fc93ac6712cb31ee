/*
 * libcurl's multi interface driven by a libevent loop: sockets and the
 * timeout libcurl asks for become events of that loop
 * (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION + curl_multi_socket_action),
 * so token requests run concurrently on the loop without ever blocking it.
 *
 * rg_curl_loop_perform is the rg_http_transport for other threads: it hands a
 * request to the loop and waits (that thread, not the loop) for the answer.
 */
#ifndef RG_OAUTH_MULTI_H
#define RG_OAUTH_MULTI_H

#include <event2/event.h>

#include "oauth_http.h"

typedef struct rg_curl_loop rg_curl_loop;

/* On the loop's thread (before or while it runs). NULL on error. */
rg_curl_loop *rg_curl_loop_new(struct event_base *base);
/* rg_http_transport.perform with ctx = the rg_curl_loop; any thread but the loop's. */
int rg_curl_loop_perform(void *ctx, const rg_http_req *req, rg_http_resp *resp);
/*
 * On the loop's thread: start req now, without waiting. done(arg) runs on the
 * loop's thread once resp is filled (an answer, a failure or a timeout) —
 * never from inside this call. req and resp must live until then. 0, or -1
 * with resp->error set (done is not called).
 */
int rg_curl_loop_start(rg_curl_loop *m, const rg_http_req *req, rg_http_resp *resp,
                       void (*done)(void *arg), void *arg);
/* On the loop's thread, once the loop has stopped: fail requests not yet
   sent, finish those in flight (blocking, bounded by their timeouts), refuse
   new ones. Then, once no thread can call perform any more, free it. */
void rg_curl_loop_stop(rg_curl_loop *m);
void rg_curl_loop_free(rg_curl_loop *m);

#endif
