/*
 * Admin listener (loopback by default): /healthz (the process answers),
 * /readyz (every source reachable: a ping through each source's own workers,
 * on a connection opened with the options and secrets queries use), /metrics (Prometheus), /events
 * (the widget analytics totals of every site, or ?site=ID).
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "server/events.h"
#include "http/http_reply.h"
#include "refresh/oauth_metrics.h"
#include "ratelimit/ratelimit.h"
#include "server/server.h"
#include "util/log.h"

#define READYZ_TIMEOUT_MS 3000

typedef struct readyz_req readyz_req;

typedef struct ping_job {
    rg_job job;
    readyz_req *owner;
    const char *site;
    const char *source;
    rg_status status;
    char message[256];
    bool submitted;
    atomic_int done; /* set by the worker after status/message */
} ping_job;

struct readyz_req {
    rg_server *srv;
    rg_runtime *rt;
    struct evhttp_request *req;
    struct evhttp_connection *conn;
    struct event *done_ev;
    struct event *timer;
    ping_job *jobs;
    size_t njobs;
    atomic_size_t pending;
    bool replied;
};

static rg_status run_ping(rg_job *job, const rg_adapter *adapter, void *conn, rg_error *err)
{
    (void)job;
    return adapter->ping(conn, err);
}

static void complete_ping(rg_job *job, rg_status st, const rg_error *err)
{
    ping_job *p = (ping_job *)job;
    p->status = st;
    snprintf(p->message, sizeof p->message, "%s", st == RG_OK ? "" : err->message);
    atomic_store(&p->done, 1);
    if (atomic_fetch_sub(&p->owner->pending, 1) == 1)
        event_active(p->owner->done_ev, 0, 0);
}

static void readyz_client_gone(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    readyz_req *r = arg;
    r->req = NULL; /* freed by libevent with its connection */
    r->replied = true;
}

static void readyz_reply(readyz_req *r)
{
    evhttp_connection_set_closecb(r->conn, NULL, NULL);
    json_t *sources = json_array();
    bool ready = true;
    for (size_t i = 0; i < r->njobs; i++) {
        ping_job *p = &r->jobs[i];
        bool answered = !p->submitted || atomic_load(&p->done);
        bool ok = answered && p->status == RG_OK;
        ready = ready && ok;
        json_t *o = json_pack("{s:s, s:s, s:s}", "site", p->site, "source", p->source, "status",
                              ok ? "ok" : "unavailable");
        if (o && !ok)
            json_object_set_new(o, "message",
                                json_string(answered ? p->message : "no answer in time"));
        json_array_append_new(sources, o);
    }
    json_t *doc = json_pack("{s:s, s:o}", "status", ready ? "ready" : "unavailable", "sources",
                            sources);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text) {
        rg_reply_json(r->req, ready ? 200 : 503, text, strlen(text));
        free(text);
    } else {
        rg_reply_error_default(r->req, RG_E_INTERNAL);
    }
    r->replied = true;
}

/* Also frees a request that was only partly made. */
static void readyz_free(readyz_req *r)
{
    if (r->done_ev)
        event_free(r->done_ev);
    if (r->timer)
        event_free(r->timer);
    free(r->jobs);
    rg_runtime_release(r->rt, 1);
    free(r);
}

/* Every ping is back (done_ev) or the time is up (timer, EV_TIMEOUT): answer
   once. Pings still out then count as unavailable, and the request is freed
   only when the last of them returns. */
static void readyz_event(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    readyz_req *r = arg;
    if (!r->replied)
        readyz_reply(r);
    if (!(what & EV_TIMEOUT))
        readyz_free(r);
}

static void readyz(rg_server *srv, struct evhttp_request *req)
{
    pthread_mutex_lock(&srv->rt_lock);
    rg_runtime *rt = srv->current;
    rg_runtime_retain(rt);
    pthread_mutex_unlock(&srv->rt_lock);

    readyz_req *r = calloc(1, sizeof *r);
    if (!r) {
        rg_runtime_release(rt, 1);
        rg_reply_error_default(req, RG_E_INTERNAL);
        return;
    }
    r->rt = rt;
    size_t n = 0;
    for (size_t i = 0; i < rt->cfg->nsites; i++)
        n += rt->cfg->sites[i].nsources;
    r->jobs = calloc(n ? n : 1, sizeof *r->jobs);
    r->done_ev = event_new(srv->main_base, -1, 0, readyz_event, r);
    r->timer = evtimer_new(srv->main_base, readyz_event, r);
    if (!r->jobs || !r->done_ev || !r->timer) {
        readyz_free(r);
        rg_reply_error_default(req, RG_E_INTERNAL);
        return;
    }
    r->srv = srv;
    r->req = req;
    r->conn = evhttp_request_get_connection(req);
    evhttp_connection_set_closecb(r->conn, readyz_client_gone, r);
    r->njobs = n;
    /* One extra count held while submitting, so completion can't race ahead. */
    atomic_init(&r->pending, 1);
    size_t k = 0;
    for (size_t i = 0; i < rt->cfg->nsites; i++) {
        const rg_site_rt *srt = &rt->sites[i];
        for (size_t j = 0; j < srt->site->nsources; j++, k++) {
            ping_job *p = &r->jobs[k];
            p->owner = r;
            p->site = srt->site->site_id;
            p->source = srt->site->sources[j].name;
            p->job.run = run_ping;
            p->job.complete = complete_ping;
            rg_error err = {.struct_size = sizeof(rg_error)};
            atomic_fetch_add(&r->pending, 1);
            if (rg_source_pool_submit(srt->pools[j], &p->job, &err) != RG_OK) {
                atomic_fetch_sub(&r->pending, 1);
                p->status = err.status ? err.status : RG_ERR_UNAVAILABLE;
                snprintf(p->message, sizeof p->message, "%s", err.message);
            } else {
                p->submitted = true;
            }
        }
    }
    struct timeval tv = {.tv_sec = READYZ_TIMEOUT_MS / 1000,
                         .tv_usec = (READYZ_TIMEOUT_MS % 1000) * 1000};
    evtimer_add(r->timer, &tv);
    if (atomic_fetch_sub(&r->pending, 1) == 1)
        event_active(r->done_ev, 0, 0);
}

void rg_admin_handle(struct evhttp_request *req, void *arg)
{
    rg_server *srv = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : "";
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        rg_reply_error_simple(req, RG_E_METHOD_NOT_ALLOWED, "only GET is allowed here");
        return;
    }
    if (strcmp(path, "/healthz") == 0) {
        static const char ok[] = "{\"status\":\"ok\"}";
        rg_reply_json(req, 200, ok, sizeof ok - 1);
    } else if (strcmp(path, "/readyz") == 0) {
        readyz(srv, req);
    } else if (strcmp(path, "/metrics") == 0) {
        struct evbuffer *b = evbuffer_new();
        if (!b) {
            rg_reply_error_default(req, RG_E_INTERNAL);
            return;
        }
        rg_metrics_render(&srv->metrics, b);
        rg_ratelimit_render_metrics(srv, b);
        rg_conns_render_metrics(srv, b);
        rg_cache_stats_render(rg_cache_stats_shared(), b);
        rg_oauth_render_metrics(srv, b);
        rg_events_render_metrics(srv->events, b);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "text/plain; version=0.0.4");
        evhttp_add_header(evhttp_request_get_output_headers(req), "X-Content-Type-Options",
                          "nosniff");
        evhttp_send_reply(req, 200, "OK", b);
        evbuffer_free(b);
    } else if (strcmp(path, "/events") == 0) {
        /* ?site=ID narrows the totals to one site. */
        const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
        struct evkeyvalq params;
        TAILQ_INIT(&params);
        const char *site = NULL;
        if (q && evhttp_parse_query_str(q, &params) == 0)
            site = evhttp_find_header(&params, "site");
        char *text = srv->events ? rg_events_json(srv->events, site) : NULL;
        if (text)
            rg_reply_json(req, 200, text, strlen(text));
        else
            rg_reply_error_default(req, RG_E_INTERNAL);
        free(text);
        evhttp_clear_headers(&params);
    } else {
        rg_reply_error_simple(req, RG_E_NOT_FOUND,
                              "admin endpoints: /healthz, /readyz, /metrics, /events");
    }
}
