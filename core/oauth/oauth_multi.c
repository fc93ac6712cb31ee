#include "oauth_multi.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct call {
    struct call *next;
    const rg_http_req *req;
    rg_http_resp *resp;
    rg_http_call http;
    bool started;
    bool done;
    /* Started on the loop itself (rg_curl_loop_start): heap-allocated, and
       done(arg) runs on the loop when the answer is in. */
    void (*on_done)(void *arg);
    void *arg;
} call;

struct rg_curl_loop {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    struct event *wake;     /* other threads -> loop: new requests queued */
    pthread_mutex_t lock;   /* queue, done flags, stopping */
    pthread_cond_t cond;
    call *queue;            /* waiting to be added */
    call *running;          /* added to the multi handle (loop thread only) */
    bool stopping;
};

/* One watched socket. */
typedef struct sock {
    struct event *ev;
    rg_curl_loop *m;
} sock;

static void finish(rg_curl_loop *m, call *c, CURLcode rc)
{
    /* Unlink from running (loop thread only). */
    for (call **pp = &m->running; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    curl_multi_remove_handle(m->multi, c->http.easy);
    rg_http_call_finish(&c->http, rc);
    if (c->on_done) {
        void (*cb)(void *) = c->on_done;
        void *arg = c->arg;
        free(c);
        cb(arg);
        return;
    }
    pthread_mutex_lock(&m->lock);
    c->done = true;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
}

static void check_done(rg_curl_loop *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        call *c = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        CURLcode rc = msg->data.result;
        if (c)
            finish(m, c, rc);
    }
}

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
    rg_curl_loop *m = arg;
    int flags = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(m->multi, fd, flags, &running);
    check_done(m);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rg_curl_loop *m = arg;
    int running;
    curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(m);
}

/* CURLMOPT_SOCKETFUNCTION: watch what libcurl wants on this socket. */
static int socket_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    rg_curl_loop *m = userp;
    sock *sk = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sk) {
            event_free(sk->ev);
            free(sk);
            curl_multi_assign(m->multi, s, NULL);
        }
        return 0;
    }
    short ev = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
               (what & CURL_POLL_OUT ? EV_WRITE : 0);
    if (!sk) {
        sk = calloc(1, sizeof *sk);
        if (!sk)
            return -1;
        sk->m = m;
        curl_multi_assign(m->multi, s, sk);
    } else {
        event_free(sk->ev);
    }
    sk->ev = event_new(m->base, s, ev, on_socket_event, m);
    if (!sk->ev || event_add(sk->ev, NULL) != 0)
        return -1;
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: one timer, re-armed as libcurl asks. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    rg_curl_loop *m = userp;
    if (timeout_ms < 0) {
        evtimer_del(m->timer);
        return 0;
    }
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    return evtimer_add(m->timer, &tv) == 0 ? 0 : -1;
}

/* Loop thread: start what other threads queued. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rg_curl_loop *m = arg;
    pthread_mutex_lock(&m->lock);
    call *q = m->queue;
    m->queue = NULL;
    pthread_mutex_unlock(&m->lock);
    while (q) {
        call *c = q;
        q = q->next;
        c->next = NULL;
        if (rg_http_call_init(&c->http, c->req, c->resp) != 0 ||
            curl_easy_setopt(c->http.easy, CURLOPT_PRIVATE, c) != CURLE_OK ||
            curl_multi_add_handle(m->multi, c->http.easy) != CURLM_OK) {
            if (c->http.easy)
                rg_http_call_finish(&c->http, CURLE_FAILED_INIT);
            pthread_mutex_lock(&m->lock);
            c->done = true;
            pthread_cond_broadcast(&m->cond);
            pthread_mutex_unlock(&m->lock);
            continue;
        }
        c->started = true;
        c->next = m->running;
        m->running = c;
    }
}

rg_curl_loop *rg_curl_loop_new(struct event_base *base)
{
    rg_curl_loop *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->base = base;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->cond, NULL);
    m->multi = curl_multi_init();
    m->timer = evtimer_new(base, on_timer, m);
    m->wake = event_new(base, -1, 0, on_wake, m);
    if (!m->multi || !m->timer || !m->wake ||
        curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, socket_cb) != CURLM_OK ||
        curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m) != CURLM_OK ||
        curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK ||
        curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m) != CURLM_OK) {
        rg_curl_loop_free(m);
        return NULL;
    }
    return m;
}

int rg_curl_loop_start(rg_curl_loop *m, const rg_http_req *req, rg_http_resp *resp,
                       void (*done)(void *arg), void *arg)
{
    if (m->stopping) {
        snprintf(resp->error, sizeof resp->error, "shutting down");
        return -1;
    }
    call *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(resp->error, sizeof resp->error, "out of memory");
        return -1;
    }
    c->req = req;
    c->resp = resp;
    c->on_done = done;
    c->arg = arg;
    if (rg_http_call_init(&c->http, req, resp) != 0) {
        free(c);
        return -1;
    }
    if (curl_easy_setopt(c->http.easy, CURLOPT_PRIVATE, c) != CURLE_OK ||
        curl_multi_add_handle(m->multi, c->http.easy) != CURLM_OK) {
        rg_http_call_finish(&c->http, CURLE_FAILED_INIT);
        free(c);
        return -1;
    }
    c->started = true;
    c->next = m->running;
    m->running = c;
    return 0;
}

int rg_curl_loop_perform(void *ctx, const rg_http_req *req, rg_http_resp *resp)
{
    rg_curl_loop *m = ctx;
    call c = {.req = req, .resp = resp};
    pthread_mutex_lock(&m->lock);
    if (m->stopping) {
        pthread_mutex_unlock(&m->lock);
        snprintf(resp->error, sizeof resp->error, "shutting down");
        return -1;
    }
    c.next = m->queue;
    m->queue = &c;
    /* Thread-safe with evthread_use_pthreads(): the loop picks it up. */
    event_active(m->wake, 0, 0);
    while (!c.done)
        pthread_cond_wait(&m->cond, &m->lock);
    pthread_mutex_unlock(&m->lock);
    return resp->status && resp->body ? 0 : -1;
}

void rg_curl_loop_stop(rg_curl_loop *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->stopping = true;
    call *q = m->queue;
    m->queue = NULL;
    for (call *c = q; c; c = c->next) {
        snprintf(c->resp->error, sizeof c->resp->error, "shutting down");
        c->done = true;
    }
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
    /* Calls started on the loop (AI credential mints) are abandoned: their
       clients are being disconnected anyway. */
    for (call *c = m->running, *next; c; c = next) {
        next = c->next;
        if (c->on_done)
            finish(m, c, CURLE_ABORTED_BY_CALLBACK);
    }
    /* Requests already sent are seen through (each has its own timeout):
       aborting a refresh the provider may have answered would lose a rotated
       refresh token. The loop no longer runs, so drive them here. */
    while (m->running) {
        int n = 0;
        if (curl_multi_perform(m->multi, &n) != CURLM_OK)
            break;
        check_done(m);
        if (m->running && curl_multi_poll(m->multi, NULL, 0, 200, NULL) != CURLM_OK)
            break;
    }
    while (m->running)
        finish(m, m->running, CURLE_ABORTED_BY_CALLBACK);
}

void rg_curl_loop_free(rg_curl_loop *m)
{
    if (!m)
        return;
    rg_curl_loop_stop(m);
    if (m->multi)
        curl_multi_cleanup(m->multi);
    if (m->timer)
        event_free(m->timer);
    if (m->wake)
        event_free(m->wake);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->cond);
    free(m);
}
