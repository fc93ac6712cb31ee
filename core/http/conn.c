/*
 * evhttp hands a new connection's bufferevent to us (bevcb) before it builds
 * the connection around it; right after, from the loop, we find the
 * connection through the bufferevent's callback argument and install our
 * close callback. A connection beyond the cap gets a short 503 and is
 * closed at once.
 *
 * Slowloris: evhttp's own timeout only measures silence, so a client that
 * trickles a byte now and then would hold a connection forever. Each
 * connection therefore has deadlines: its request line and headers must be
 * complete within limits.header_timeout_ms (from accept, or from the end of
 * the previous reply), and its body within limits.body_timeout_ms after
 * that. The end of the headers is spotted by watching the bytes that arrive
 * (an empty line); once evhttp hands the request to us the clock stops, as
 * the time is then ours. A connection past its deadline is closed.
 */
#include "http/conn.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http/http_reply.h"
#include "server/server.h"
#include "util/log.h"

/* Where a connection is in its current request, for the deadlines. */
enum conn_phase {
    PHASE_HEADERS, /* waiting for the request line and headers */
    PHASE_BODY,    /* headers seen, waiting for the rest of the body */
    PHASE_SERVING  /* evhttp handed the request over: no deadline */
};

typedef struct conn {
    struct conn *next; /* hash chain */
    struct evhttp_connection *evcon;
    rg_conns *owner;
    void (*gone)(void *);
    void *gone_arg;
    bool counted; /* in srv->nconns */
    enum conn_phase phase;
    struct event *deadline;              /* closes the connection when it fires */
    struct evbuffer_cb_entry *watch;     /* on the input buffer: spots the header end */
    int scan;                            /* header-end scanner state, see scan_bytes */
} conn;

struct rg_conns {
    rg_loop *loop;
    conn **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    struct bufferevent **fresh; /* accepted, not yet adopted */
    size_t nfresh, capfresh;
    struct event *adopt_ev;
};

static size_t bucket_of(const rg_conns *cs, const void *p)
{
    uintptr_t v = (uintptr_t)p;
    v ^= v >> 17;
    v *= (uintptr_t)0x9e3779b97f4a7c15u;
    return (size_t)(v >> 7) & (cs->nbuckets - 1);
}

static void grow(rg_conns *cs)
{
    if (cs->count < cs->nbuckets * 2)
        return;
    size_t nb = cs->nbuckets * 2;
    conn **n = calloc(nb, sizeof *n);
    if (!n)
        return; /* longer chains, still correct */
    conn **old = cs->buckets;
    size_t oldn = cs->nbuckets;
    cs->buckets = n;
    cs->nbuckets = nb;
    for (size_t i = 0; i < oldn; i++) {
        conn *c = old[i];
        while (c) {
            conn *next = c->next;
            size_t b = bucket_of(cs, c->evcon);
            c->next = n[b];
            n[b] = c;
            c = next;
        }
    }
    free(old);
}

static conn *find(rg_conns *cs, const struct evhttp_connection *evcon)
{
    for (conn *c = cs->buckets[bucket_of(cs, evcon)]; c; c = c->next)
        if (c->evcon == evcon)
            return c;
    return NULL;
}

static void unlink_conn(rg_conns *cs, conn *c)
{
    conn **pp = &cs->buckets[bucket_of(cs, c->evcon)];
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = c->next;
        cs->count--;
        rg_balance_closed(cs->loop);
    }
}

static uint32_t limit_ms(rg_conns *cs, bool body)
{
    const rg_runtime *rt = cs->loop->rt;
    if (!rt)
        return 10000;
    return body ? rt->cfg->limits.body_timeout_ms : rt->cfg->limits.header_timeout_ms;
}

static void arm(conn *c, enum conn_phase phase)
{
    c->phase = phase;
    if (!c->deadline)
        return;
    if (phase == PHASE_SERVING) {
        event_del(c->deadline);
        return;
    }
    uint32_t ms = limit_ms(c->owner, phase == PHASE_BODY);
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    if (event_add(c->deadline, &tv) != 0)
        rg_warn("cannot arm a connection deadline");
}

/*
 * Feed bytes of the request being received through a small scanner that
 * spots the empty line ending the headers ("\n\n" or "\n\r\n", as evhttp
 * accepts both). State: 0 inside a line, 1 at the start of a line, 2 after
 * a CR at the start of a line. Returns true when the headers are complete.
 */
static bool scan_bytes(conn *c, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = p[i];
        if (ch == '\n') {
            if (c->scan != 0)
                return true;
            c->scan = 1;
        } else if (ch == '\r' && c->scan == 1) {
            c->scan = 2;
        } else {
            c->scan = 0;
        }
    }
    return false;
}

/* Scan `n` bytes of `buf` from `offset`; true when the headers are complete. */
static bool scan_buffer(conn *c, struct evbuffer *buf, size_t offset, size_t n)
{
    struct evbuffer_ptr pos;
    if (n == 0 || evbuffer_ptr_set(buf, &pos, offset, EVBUFFER_PTR_SET) != 0)
        return false;
    struct evbuffer_iovec v[8];
    while (n > 0) {
        int k = evbuffer_peek(buf, (ev_ssize_t)n, &pos, v, 8);
        if (k <= 0)
            return false;
        size_t done = 0;
        for (int i = 0; i < k && i < 8 && done < n; i++) {
            size_t len = v[i].iov_len < n - done ? v[i].iov_len : n - done;
            if (scan_bytes(c, v[i].iov_base, len))
                return true;
            done += len;
        }
        if (done == 0 || evbuffer_ptr_set(buf, &pos, done, EVBUFFER_PTR_ADD) != 0)
            return false;
        n -= done;
    }
    return false;
}

static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    conn *c = arg;
    if (c->phase != PHASE_HEADERS || info->n_added == 0)
        return;
    size_t len = evbuffer_get_length(buf);
    size_t from = len >= info->n_added ? len - info->n_added : 0;
    if (scan_buffer(c, buf, from, len - from))
        arm(c, PHASE_BODY);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn *c = arg;
    rg_debug("closing a connection that did not send its %s in time (limits.%s)",
             c->phase == PHASE_BODY ? "body" : "request headers",
             c->phase == PHASE_BODY ? "body_timeout_ms" : "header_timeout_ms");
    /* Frees c through on_close. */
    evhttp_connection_free(c->evcon);
}

static void release_deadline(conn *c)
{
    if (c->watch) {
        struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
        if (bev)
            evbuffer_remove_cb_entry(bufferevent_get_input(bev), c->watch);
        c->watch = NULL;
    }
    if (c->deadline) {
        event_free(c->deadline);
        c->deadline = NULL;
    }
}

/* Waiting for the next request on this connection: headers from now on. */
static void start_headers(conn *c)
{
    c->scan = 0;
    arm(c, PHASE_HEADERS);
    struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
    struct evbuffer *in = bev ? bufferevent_get_input(bev) : NULL;
    /* Bytes of a pipelined request may already be waiting. */
    if (in && scan_buffer(c, in, 0, evbuffer_get_length(in)))
        arm(c, PHASE_BODY);
}

static void on_close(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    conn *c = arg;
    rg_conns *cs = c->owner;
    if (c->gone) {
        void (*gone)(void *) = c->gone;
        c->gone = NULL;
        gone(c->gone_arg);
    }
    unlink_conn(cs, c);
    if (c->counted)
        atomic_fetch_sub(&cs->loop->srv->nconns, 1);
    release_deadline(c);
    free(c);
}

static void track(rg_conns *cs, conn *c, struct evhttp_connection *evcon)
{
    c->evcon = evcon;
    c->owner = cs;
    size_t b = bucket_of(cs, evcon);
    c->next = cs->buckets[b];
    cs->buckets[b] = c;
    cs->count++;
    rg_balance_opened(cs->loop);
    grow(cs);
    evhttp_connection_set_closecb(evcon, on_close, c);
    /* Without its deadline a connection still works; only slowloris
       protection is lost for it, so say so rather than refuse it. */
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    c->deadline = evtimer_new(cs->loop->base, on_deadline, c);
    c->watch = bev ? evbuffer_add_cb(bufferevent_get_input(bev), on_input, c) : NULL;
    if (!c->deadline || !c->watch) {
        rg_warn("out of memory: a connection runs without its header and body deadlines");
        release_deadline(c);
        return;
    }
    start_headers(c);
}

static void refuse(struct bufferevent *bev)
{
    rg_api_error e;
    rg_api_err(&e, RG_E_OVERLOADED, NULL, "too many connections; try again later");
    char *body = rg_api_error_json(&e);
    char resp[512];
    int n = body ? snprintf(resp, sizeof resp,
                            "HTTP/1.1 %d %s\r\nContent-Type: application/json; "
                            "charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nConnection: "
                            "close\r\nContent-Length: %zu\r\n\r\n%s",
                            e.http_status, rg_status_reason(e.http_status), strlen(body), body)
                 : -1;
    free(body);
    evutil_socket_t fd = bufferevent_getfd(bev);
    /* A fresh socket's send buffer takes this at once; if not, the close says enough. */
    if (fd >= 0 && n > 0 && (size_t)n < sizeof resp &&
        send(fd, resp, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        rg_debug("could not tell a refused connection why");
}

static size_t max_connections(rg_loop *loop)
{
    return loop->rt ? loop->rt->cfg->limits.max_connections : 10000;
}

static void adopt_one(rg_conns *cs, struct bufferevent *bev)
{
    rg_server *srv = cs->loop->srv;
    void *cbarg = NULL;
    bufferevent_getcb(bev, NULL, NULL, NULL, &cbarg);
    struct evhttp_connection *evcon = cbarg;
    /* Our reference kept bev alive; evhttp may already have dropped it. */
    if (!evcon)
        return;
    size_t n = (size_t)atomic_fetch_add(&srv->nconns, 1) + 1;
    if (n > max_connections(cs->loop)) {
        atomic_fetch_sub(&srv->nconns, 1);
        atomic_fetch_add(&srv->conns_refused, 1);
        if (!atomic_exchange(&srv->conns_full_warned, 1))
            rg_warn("limits.max_connections (%zu) reached: refusing new connections",
                    max_connections(cs->loop));
        refuse(bev);
        evhttp_connection_free(evcon);
        return;
    }
    atomic_store(&srv->conns_full_warned, 0);
    conn *c = find(cs, evcon);
    if (c) { /* already tracked by a watcher that came first */
        c->counted = true;
        return;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        atomic_fetch_sub(&srv->nconns, 1);
        evhttp_connection_free(evcon);
        return;
    }
    c->counted = true;
    track(cs, c, evcon);
}

static void on_adopt(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rg_conns *cs = arg;
    for (size_t i = 0; i < cs->nfresh; i++) {
        adopt_one(cs, cs->fresh[i]);
        bufferevent_decref(cs->fresh[i]);
    }
    cs->nfresh = 0;
}

struct bufferevent *rg_conn_bevcb(struct event_base *base, void *arg)
{
    rg_loop *loop = arg;
    rg_conns *cs = loop->conns;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev || !cs)
        return bev; /* NULL: evhttp makes its own, uncounted */
    if (cs->nfresh == cs->capfresh) {
        size_t nc = cs->capfresh ? cs->capfresh * 2 : 16;
        struct bufferevent **nf = realloc(cs->fresh, nc * sizeof *nf);
        if (!nf)
            return bev;
        cs->fresh = nf;
        cs->capfresh = nc;
    }
    /* Held until adoption, so a connection evhttp drops at once can't leave
       us a dangling pointer. */
    bufferevent_incref(bev);
    cs->fresh[cs->nfresh++] = bev;
    event_active(cs->adopt_ev, 0, 0);
    rg_balance_accepted(loop, cs->nfresh);
    return bev;
}

rg_conns *rg_conns_new(rg_loop *loop)
{
    rg_conns *cs = calloc(1, sizeof *cs);
    if (!cs)
        return NULL;
    cs->loop = loop;
    cs->nbuckets = 64;
    cs->buckets = calloc(cs->nbuckets, sizeof *cs->buckets);
    cs->adopt_ev = event_new(loop->base, -1, 0, on_adopt, cs);
    if (!cs->buckets || !cs->adopt_ev) {
        rg_conns_free(cs);
        return NULL;
    }
    return cs;
}

void rg_conns_free(rg_conns *cs)
{
    if (!cs)
        return;
    for (size_t i = 0; i < cs->nfresh; i++)
        bufferevent_decref(cs->fresh[i]);
    free(cs->fresh);
    /* Connections still listed were never closed through evhttp. */
    for (size_t i = 0; cs->buckets && i < cs->nbuckets; i++) {
        conn *c = cs->buckets[i];
        while (c) {
            conn *next = c->next;
            /* Its bufferevent may be gone; the timer belongs to the base. */
            if (c->deadline)
                event_free(c->deadline);
            free(c);
            c = next;
        }
    }
    free(cs->buckets);
    if (cs->adopt_ev)
        event_free(cs->adopt_ev);
    free(cs);
}

int rg_conn_watch(rg_loop *loop, struct evhttp_request *req, void (*gone)(void *), void *arg)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    rg_conns *cs = loop->conns;
    if (!evcon || !cs)
        return -1;
    conn *c = find(cs, evcon);
    if (!c) {
        /* Not seen at accept (bevcb ran out of memory): track it now,
           uncounted, so the hook still works. */
        c = calloc(1, sizeof *c);
        if (!c)
            return -1;
        track(cs, c, evcon);
        rg_conn_request(loop, req); /* it is being served: no deadline */
    }
    c->gone = gone;
    c->gone_arg = arg;
    return 0;
}

void rg_conn_unwatch(rg_loop *loop, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    conn *c = evcon && loop->conns ? find(loop->conns, evcon) : NULL;
    if (c) {
        c->gone = NULL;
        c->gone_arg = NULL;
    }
}

/* The reply went out and the connection stays open: the next request's
   headers are due. */
static void on_reply_done(struct evhttp_request *req, void *arg)
{
    rg_loop *loop = arg;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    conn *c = evcon && loop->conns ? find(loop->conns, evcon) : NULL;
    if (c && c->deadline)
        start_headers(c);
}

void rg_conn_request(rg_loop *loop, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    conn *c = evcon && loop->conns ? find(loop->conns, evcon) : NULL;
    if (!c || !c->deadline)
        return;
    arm(c, PHASE_SERVING);
    evhttp_request_set_on_complete_cb(req, on_reply_done, loop);
}

void rg_conns_render_metrics(rg_server *srv, struct evbuffer *out)
{
    evbuffer_add_printf(out,
                        "# HELP readgate_connections Open client connections.\n"
                        "# TYPE readgate_connections gauge\nreadgate_connections %d\n"
                        "# HELP readgate_connections_refused_total Connections closed at once "
                        "because limits.max_connections was reached.\n"
                        "# TYPE readgate_connections_refused_total counter\n"
                        "readgate_connections_refused_total %lu\n",
                        atomic_load(&srv->nconns),
                        (unsigned long)atomic_load(&srv->conns_refused));
    evbuffer_add_printf(out, "# HELP readgate_loop_connections Open client connections of each "
                             "event loop.\n# TYPE readgate_loop_connections gauge\n");
    for (int i = 0; i < srv->nloops; i++)
        evbuffer_add_printf(out, "readgate_loop_connections{loop=\"%d\"} %d\n", i,
                            atomic_load(&srv->loops[i].open_conns));
}
