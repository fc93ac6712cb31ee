/*
 * The HTTP server: several event-loop threads sharing one listening socket,
 * an admin listener and signal handling on the main thread, and the shared
 * request-path state (replay cache, ended sessions, metrics).
 */
#ifndef RG_SERVER_H
#define RG_SERVER_H

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <pthread.h>
#include <stdatomic.h>

#include "http/accept_balance.h"
#include "http/conn.h"
#include "crypto/nonce_cache.h"
#include "server/metrics.h"
#include "ratelimit/ratelimit_memory.h"
#include "ratelimit/ratelimit_redis.h"
#include "server/runtime.h"

struct rg_server;
struct rg_oauth_refresher;

typedef struct rg_loop {
    struct rg_server *srv;
    struct event_base *base;
    struct evhttp *http;
    struct evconnlistener *listener;
    struct event *swap_ev; /* main thread activates it after a reload */
    pthread_t thread;
    int started;
    rg_runtime *rt; /* this loop's reference to the current runtime */
    atomic_int inflight;
    rg_conns *conns;    /* open connections of this loop's listener */
    struct rg_body_memo *memo; /* /query bodies already planned (cache/body_memo.h) */
    rg_rl_redis *redis; /* this loop's Redis connection (idle with rate_limit: memory) */
    struct rg_curl_loop *curl; /* AI provider calls on this loop (made at first use) */
    /* Connection balance across loops (http/accept_balance.c): */
    int accepting;            /* this loop's listener is enabled (loop thread only) */
    struct event *balance_ev; /* "look again whose turn it is" (NULL with one loop) */
    atomic_int open_conns;    /* open public connections of this loop */
} rg_loop;

typedef struct rg_server {
    const char *config_path;
    rg_loop *loops;
    int nloops;
    struct event_base *main_base;
    struct evhttp *admin;
    pthread_mutex_t rt_lock; /* guards `current`; taken only on reload and loop swap */
    rg_runtime *current;
    unsigned generation;
    rg_nonce_cache *nonces;   /* (session, request nonce) pairs seen in the window */
    rg_nonce_cache *ended;    /* sessions ended early via DELETE /session */
    rg_metrics metrics;
    rg_rl_memory *rl_mem;     /* rate-limit windows: the backend, or Redis's fallback */
    rg_rl_redis_stats rl_stats;
    atomic_ulong rl_fallbacks;
    atomic_int rl_evict_warned;
    atomic_int nconns;        /* open public connections, all loops */
    atomic_ulong conns_refused;
    atomic_int conns_full_warned;
    atomic_int stopping;
    atomic_int accepting;  /* index of the loop whose listener accepts */
    int listen_fd;
    struct rg_oauth_refresher *oauth; /* background token refresh (main loop + its thread) */
    struct rg_events *events;         /* widget analytics: counted here, written by its thread */
} rg_server;

/* Run until SIGTERM/SIGINT. Returns the process exit status. */
int rg_server_run(const char *config_path);

/* Request routing for the public listener (routes.c). */
void rg_routes_handle(struct evhttp_request *req, void *loop);
/* Admin listener (admin.c). */
void rg_admin_handle(struct evhttp_request *req, void *srv);

#endif
