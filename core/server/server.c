/*
 * Process shape: N event-loop threads, each with its own event_base and
 * evhttp (no lock sits on the request path), taking turns to accept on one
 * listening socket so that each gets its share of connections; the
 * main thread runs the admin listener and handles signals. SIGHUP builds a
 * new runtime and hands it to each loop; a bad new config keeps the old one.
 */
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/thread.h>
#include <malloc.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "oauth/oauth_multi.h"
#include "cache/body_memo.h"
#include "query/json_scratch.h"
#include "server/events.h"
#include "workers/plugin_registry.h"
#include "oauth/oauth_registry.h"
#include "refresh/oauth_refresher.h"
#include "util/log.h"

#define RG_NONCE_CACHE_MAX (1u << 20)
#define RG_ENDED_CACHE_MAX (1u << 18)
#define RG_SHUTDOWN_GRACE_S 10

static int open_listener(const char *host, int port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve listen address %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
            break;
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* Main thread -> loop: adopt the current runtime. */
static void on_swap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rg_loop *loop = arg;
    rg_server *srv = loop->srv;
    pthread_mutex_lock(&srv->rt_lock);
    rg_runtime *rt = srv->current;
    rg_runtime_retain(rt);
    pthread_mutex_unlock(&srv->rt_lock);
    rg_runtime *old = loop->rt;
    loop->rt = rt;
    rg_runtime_release(old, 1);
    /* A reload may point rate limits at another Redis, or at none. */
    rg_rl_redis_configure(loop->redis, rt->cfg->redis_host, rt->cfg->redis_port,
                          rt->cfg->limits.ratelimit_timeout_ms);
}

static void *loop_main(void *arg)
{
    rg_loop *loop = arg;
    /* A loop whose listener waits for its turn may have no event at all. */
    event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static int setup_loop(rg_server *srv, rg_loop *loop, int index, const rg_config *cfg)
{
    loop->srv = srv;
    atomic_init(&loop->inflight, 0);
    /* epoll's changelist: a request that turns reading off and writing on
       and back costs one epoll_ctl per loop turn instead of one per change. */
    struct event_config *ec = event_config_new();
    if (!ec)
        return -1;
    event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    loop->base = event_base_new_with_config(ec);
    event_config_free(ec);
    if (!loop->base)
        return -1;
    loop->http = evhttp_new(loop->base);
    loop->swap_ev = event_new(loop->base, -1, 0, on_swap, loop);
    if (!loop->http || !loop->swap_ev)
        return -1;
    loop->conns = rg_conns_new(loop);
    loop->memo = rg_body_memo_new(); /* without it, every body is planned */
    loop->redis = rg_rl_redis_new(loop->base, index, &srv->rl_stats);
    if (!loop->conns || !loop->redis)
        return -1;
    /* Sees every accepted connection: the limits.max_connections count. */
    evhttp_set_bevcb(loop->http, rg_conn_bevcb, loop);
    /* libevent's own cap protects memory; our JSON 413 applies below it. */
    size_t cap = cfg->limits.max_body_bytes * 4 + 4096;
    evhttp_set_max_body_size(loop->http, (ev_ssize_t)cap);
    evhttp_set_max_headers_size(loop->http, 16384);
    evhttp_set_timeout(loop->http, 30);
    evhttp_set_allowed_methods(loop->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
                                               EVHTTP_REQ_OPTIONS | EVHTTP_REQ_HEAD |
                                               EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH);
    evhttp_set_default_content_type(loop->http, "application/json; charset=utf-8");
    evhttp_set_gencb(loop->http, rg_routes_handle, loop);
    /* Every loop's evhttp listens on the same socket; with several loops
       only one listener is enabled at a time (http/accept_balance.c). The
       fd is closed once, by the server. */
    loop->listener = evconnlistener_new(loop->base, NULL, NULL,
                                        LEV_OPT_REUSEABLE | LEV_OPT_THREADSAFE, -1,
                                        srv->listen_fd);
    if (!loop->listener)
        return -1;
    if (!evhttp_bind_listener(loop->http, loop->listener)) {
        evconnlistener_free(loop->listener);
        loop->listener = NULL;
        return -1;
    }
    if (rg_balance_init(loop) != 0)
        return -1;
    pthread_mutex_lock(&srv->rt_lock);
    loop->rt = srv->current;
    rg_runtime_retain(loop->rt);
    pthread_mutex_unlock(&srv->rt_lock);
    /* The loop thread isn't running yet, so this thread may start it. */
    rg_rl_redis_configure(loop->redis, cfg->redis_host, cfg->redis_port,
                          cfg->limits.ratelimit_timeout_ms);
    return 0;
}

static void reload(rg_server *srv)
{
    rg_diags d = {0};
    rg_info("SIGHUP: reloading %s", srv->config_path);
    rg_runtime *rt = rg_runtime_new(srv->config_path, &d, srv->generation + 1);
    if (!rt) {
        for (size_t i = 0; i < d.count; i++)
            rg_error_log("%s", d.lines[i]);
        rg_error_log("reload failed; keeping the running configuration");
        rg_diags_free(&d);
        return;
    }
    rg_diags_free(&d);
    srv->generation++;
    pthread_mutex_lock(&srv->rt_lock);
    rg_runtime *old = srv->current;
    srv->current = rt;
    pthread_mutex_unlock(&srv->rt_lock);
    for (int i = 0; i < srv->nloops; i++)
        event_active(srv->loops[i].swap_ev, 0, 0);
    rg_runtime_release(old, 1);
    rg_info("configuration reloaded (generation %u, %zu sites)", srv->generation,
            rt->cfg->nsites);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    rg_server *srv = arg;
    if (sig == SIGHUP) {
        reload(srv);
        return;
    }
    rg_info("signal %d: shutting down", (int)sig);
    atomic_store(&srv->stopping, 1);
    event_base_loopbreak(srv->main_base);
}

static int total_inflight(rg_server *srv)
{
    int n = 0;
    for (int i = 0; i < srv->nloops; i++)
        n += atomic_load(&srv->loops[i].inflight);
    return n;
}

int rg_server_run(const char *config_path)
{
    if (evthread_use_pthreads() != 0) {
        rg_error_log("libevent threading support is unavailable");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Before any thread parses a request body. */
    rg_json_scratch_install();
    rg_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return 1;
    srv->config_path = config_path;
    srv->listen_fd = -1;
    pthread_mutex_init(&srv->rt_lock, NULL);
    int status = 1;
    struct event *sigs[3] = {NULL, NULL, NULL};

    rg_diags d = {0};
    srv->current = rg_runtime_new(config_path, &d, 0);
    for (size_t i = 0; i < d.count; i++)
        rg_error_log("%s", d.lines[i]);
    rg_diags_free(&d);
    if (!srv->current) {
        rg_error_log("not starting: the configuration has errors (see above)");
        goto out;
    }
    const rg_config *cfg = srv->current->cfg;
    if (cfg->log_level) {
        static const char *const lv[] = {"debug", "info", "warn", "error"};
        for (int i = 0; i < 4; i++)
            if (strcmp(cfg->log_level, lv[i]) == 0)
                rg_log_set_level((rg_log_level)i);
    }
    srv->nonces = rg_nonce_cache_new(RG_NONCE_CACHE_MAX);
    srv->ended = rg_nonce_cache_new(RG_ENDED_CACHE_MAX);
    /* Sized once: limits.ratelimit_entries takes effect at start-up. */
    srv->rl_mem = rg_rl_memory_new(cfg->limits.ratelimit_entries);
    srv->main_base = event_base_new();
    if (!srv->nonces || !srv->ended || !srv->rl_mem || !srv->main_base)
        goto out;

    char err[256];
    srv->listen_fd = open_listener(cfg->listen_host, cfg->listen_port, err, sizeof err);
    if (srv->listen_fd < 0) {
        rg_error_log("%s", err);
        goto out;
    }
    if (cfg->admin_port) {
        srv->admin = evhttp_new(srv->main_base);
        if (!srv->admin ||
            !evhttp_bind_socket_with_handle(srv->admin, cfg->admin_host, (ev_uint16_t)cfg->admin_port)) {
            rg_error_log("cannot listen on admin address %s:%d", cfg->admin_host, cfg->admin_port);
            goto out;
        }
        evhttp_set_gencb(srv->admin, rg_admin_handle, srv);
    }

    /* Before any loop runs: they count widget events into it. Written to
       the state store every second by a thread of its own. */
    srv->events = rg_events_new(cfg->state_store, 1000);
    if (!srv->events) {
        rg_error_log("cannot start the widget events writer");
        goto out;
    }
    srv->nloops = cfg->loop_threads > 0 ? cfg->loop_threads : 1;
    /* By default every thread that allocates gets a malloc arena of its own
       (up to eight per core), and an arena keeps what was freed in it: with
       the loops, the source workers and the service threads, resident memory
       grew to several times what was in use. The loops do nearly all the
       allocating: an arena each, and one for every other thread. */
    /* (Ignored by allocators that replace glibc's, the sanitizers' included.) */
    (void)mallopt(M_ARENA_MAX, srv->nloops + 1);
    srv->loops = calloc((size_t)srv->nloops, sizeof *srv->loops);
    if (!srv->loops)
        goto out;
    for (int i = 0; i < srv->nloops; i++)
        if (setup_loop(srv, &srv->loops[i], i, cfg) != 0) {
            rg_error_log("cannot set up event loop %d", i);
            goto out;
        }

    const int signums[3] = {SIGTERM, SIGINT, SIGHUP};
    /* Loop threads must not take these: block them before spawning. */
    sigset_t block, old;
    sigemptyset(&block);
    for (int i = 0; i < 3; i++)
        sigaddset(&block, signums[i]);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (int i = 0; i < srv->nloops; i++) {
        if (pthread_create(&srv->loops[i].thread, NULL, loop_main, &srv->loops[i]) != 0) {
            rg_error_log("cannot start event loop thread %d", i);
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            goto stop_loops;
        }
        srv->loops[i].started = 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    for (int i = 0; i < 3; i++) {
        sigs[i] = evsignal_new(srv->main_base, signums[i], on_signal, srv);
        if (!sigs[i] || evsignal_add(sigs[i], NULL) != 0) {
            rg_error_log("cannot install signal handlers");
            goto stop_loops;
        }
    }
    srv->oauth = rg_oauth_refresher_start(srv);
    if (!srv->oauth) {
        rg_error_log("cannot start the OAuth token refresher");
        goto stop_loops;
    }
    rg_info("readgate listening on %s:%d (%d loops, admin %s:%d, %zu sites)", cfg->listen_host,
            cfg->listen_port, srv->nloops, cfg->admin_port ? cfg->admin_host : "-",
            cfg->admin_port, cfg->nsites);
    if (cfg->redis_host)
        rg_info("rate limits and replay protection shared through Redis at %s:%d "
                "(this process's counters if it is unavailable)",
                cfg->redis_host, cfg->redis_port);
    else
        rg_info("rate limits and replay protection in memory (%zu windows at most)",
                cfg->limits.ratelimit_entries);

    event_base_dispatch(srv->main_base);
    status = 0;

stop_loops:
    /* Refreshes already sent are finished and committed (or rolled back)
       before anything else goes away. */
    rg_oauth_refresher_stop(srv->oauth);
    srv->oauth = NULL;
    /* Stop accepting, let in-flight queries finish (bounded), then stop. */
    for (int i = 0; i < srv->nloops; i++)
        if (srv->loops[i].listener)
            evconnlistener_disable(srv->loops[i].listener);
    for (int t = 0; t < RG_SHUTDOWN_GRACE_S * 20 && total_inflight(srv) > 0; t++)
        usleep(50000);
    for (int i = 0; i < srv->nloops; i++) {
        if (srv->loops[i].started) {
            event_base_loopbreak(srv->loops[i].base);
            pthread_join(srv->loops[i].thread, NULL);
        }
    }
    for (int i = 0; i < 3; i++)
        if (sigs[i])
            event_free(sigs[i]);
out:
    if (srv->loops) {
        for (int i = 0; i < srv->nloops; i++) {
            rg_loop *l = &srv->loops[i];
            /* Before evhttp_free: a mint that ends now still finds its request. */
            rg_curl_loop_free(l->curl);
            if (l->http)
                evhttp_free(l->http); /* frees the bound listener too */
            else if (l->listener)
                evconnlistener_free(l->listener);
            rg_balance_free(l);
            /* After evhttp_free: closing connections withdrew their waiting checks. */
            rg_rl_redis_free(l->redis);
            rg_conns_free(l->conns);
            rg_body_memo_free(l->memo);
            if (l->swap_ev)
                event_free(l->swap_ev);
            rg_runtime_release(l->rt, 0);
            if (l->base)
                event_base_free(l->base);
        }
        free(srv->loops);
    }
    if (srv->admin)
        evhttp_free(srv->admin);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    rg_runtime_release(srv->current, 0);
    if (srv->main_base)
        event_base_free(srv->main_base);
    /* Every loop is gone: nothing counts any more; the last counts are written. */
    rg_events_free(srv->events);
    rg_nonce_cache_free(srv->nonces);
    rg_nonce_cache_free(srv->ended);
    rg_rl_memory_free(srv->rl_mem);
    pthread_mutex_destroy(&srv->rt_lock);
    free(srv);
    rg_plugin_unload_all();
    rg_oauth_registry_free(); /* every pool is joined: nobody uses the entries */
    libevent_global_shutdown();
    if (status == 0)
        rg_info("stopped");
    return status;
}
