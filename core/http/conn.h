/*
 * The public listener's connections: counted against limits.max_connections
 * (libevent 2.1's evhttp has no cap of its own), and a way for a request
 * that waits (rate-limit answer, query on a worker) to learn that its client
 * went away. evhttp allows one close callback per connection, so it is
 * always this module's, and waiting requests register a hook here instead.
 *
 * Loop thread only, except the global count.
 */
#ifndef RG_CONN_H
#define RG_CONN_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>

struct rg_loop;
struct rg_server;
typedef struct rg_conns rg_conns;

rg_conns *rg_conns_new(struct rg_loop *loop);
/* After evhttp_free (which closes every connection through us). */
void rg_conns_free(rg_conns *cs);

/* For evhttp_set_bevcb(http, rg_conn_bevcb, loop): sees every accepted
   connection. */
struct bufferevent *rg_conn_bevcb(struct event_base *base, void *loop);

/* Call gone(arg) if the client of `req` disconnects before unwatch. One
   watcher per connection (HTTP/1.1 has one request at a time). -1 (out of
   memory): nothing is watched, so the caller must not wait. */
int rg_conn_watch(struct rg_loop *loop, struct evhttp_request *req, void (*gone)(void *),
                   void *arg);
void rg_conn_unwatch(struct rg_loop *loop, struct evhttp_request *req);

/* evhttp has read the whole of `req`: its connection's header and body
   deadlines stop until the reply has been sent (then the next request's
   headers are due within limits.header_timeout_ms). Call first thing in
   the request callback. */
void rg_conn_request(struct rg_loop *loop, struct evhttp_request *req);

void rg_conns_render_metrics(struct rg_server *srv, struct evbuffer *out);

#endif
