#include "query_route.h"

#include <event2/buffer.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_reply.h"
#include "query/plan.h"
#include "query/rowjson.h"
#include "util/log.h"

/*
 * One in-flight query. The loop thread owns it except between submit and
 * complete, when only the worker touches the worker-side fields. `done_ev`
 * brings it back to the loop; only the loop frees it, always in on_done, so
 * a timeout (504 sent early) or a vanished client never frees it under a
 * worker.
 */
typedef struct query_job {
    rg_job job;
    rg_loop *loop;
    rg_runtime *rt;
    struct evhttp_request *req; /* NULL once the client is gone */
    struct evhttp_connection *conn;
    struct event *done_ev;
    struct event *timer;
    bool replied;
    char *origin; /* vetted origin for CORS, or NULL */
    rg_request_plan plan;
    struct timespec started;

    /* Worker side. */
    struct evbuffer *out;
    size_t nrows;
    bool has_more;
    rg_value *last;    /* sort values of the last written row */
    char *last_buf;    /* their string payloads */
    size_t last_cap;
    rg_status status;
    rg_error err;
} query_job;

static uint64_t micros_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)(t.tv_sec - t0->tv_sec) * 1000000u +
           (uint64_t)((t.tv_nsec - t0->tv_nsec) / 1000);
}

static void job_free(query_job *j)
{
    if (j->conn && j->req)
        evhttp_connection_set_closecb(j->conn, NULL, NULL);
    if (j->timer)
        event_free(j->timer);
    if (j->done_ev)
        event_free(j->done_ev);
    if (j->out)
        evbuffer_free(j->out);
    rg_request_plan_free(&j->plan);
    free(j->last);
    free(j->last_buf);
    free(j->origin);
    atomic_fetch_sub(&j->loop->inflight, 1);
    rg_runtime_release(j->rt, 1);
    free(j);
}

/* Keep a copy of this row's sort values: the last one written becomes the cursor. */
static int remember_sort_values(query_job *j, const rg_value *row)
{
    const rg_query_plan *p = &j->plan.plan;
    size_t need = 0;
    for (size_t i = 0; i < p->ncolumns; i++)
        if (!row[i].is_null && (row[i].type == RG_TYPE_STRING || row[i].type == RG_TYPE_DATE ||
                                row[i].type == RG_TYPE_DATETIME || row[i].type == RG_TYPE_ENUM))
            need += row[i].u.str.len + 1;
    if (need > j->last_cap) {
        char *nb = realloc(j->last_buf, need);
        if (!nb)
            return -1;
        j->last_buf = nb;
        j->last_cap = need;
    }
    char *w = j->last_buf;
    for (size_t i = 0; i < p->ncolumns; i++) {
        j->last[i] = row[i];
        if (!row[i].is_null && (row[i].type == RG_TYPE_STRING || row[i].type == RG_TYPE_DATE ||
                                row[i].type == RG_TYPE_DATETIME || row[i].type == RG_TYPE_ENUM)) {
            memcpy(w, row[i].u.str.ptr, row[i].u.str.len);
            w[row[i].u.str.len] = '\0';
            j->last[i].u.str.ptr = w;
            w += row[i].u.str.len + 1;
        }
    }
    return 0;
}

/* The sink: rows go straight into the response buffer as JSON. Worker thread. */
static int on_row(void *ctx, const rg_value *values, size_t n)
{
    query_job *j = ctx;
    const rg_query_plan *p = &j->plan.plan;
    if (n != p->ncolumns)
        return 1;
    if (j->nrows == j->plan.client_limit) {
        j->has_more = true; /* the extra row only proves a next page exists */
        return 1;
    }
    struct evbuffer *o = j->out;
    int rc = evbuffer_add(o, j->nrows ? ",{" : "{", j->nrows ? 2 : 1);
    bool first = true;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!j->plan.column_visible[i])
            continue;
        const rg_field_desc *f = &p->collection->fields[p->columns[i]];
        if (!first)
            rc |= evbuffer_add(o, ",", 1);
        first = false;
        rc |= rg_json_append_string(o, f->name, strlen(f->name));
        rc |= evbuffer_add(o, ":", 1);
        /* A NULL keeps the field's type; only the payload is absent. */
        rc |= rg_json_append_value(o, &values[i]);
    }
    rc |= evbuffer_add(o, "}", 1);
    if (rc != 0 || remember_sort_values(j, values) != 0)
        return 1;
    j->nrows++;
    return 0;
}

static rg_status run_query(rg_job *job, const rg_adapter *adapter, void *conn, rg_error *err)
{
    query_job *j = (query_job *)job;
    rg_row_sink sink = {.row = on_row, .ctx = j};
    if (evbuffer_add(j->out, "{\"rows\":[", 9) != 0) {
        err->status = RG_ERR_INTERNAL;
        snprintf(err->message, sizeof err->message, "out of memory");
        return RG_ERR_INTERNAL;
    }
    rg_status st = adapter->query(conn, &j->plan.plan, &sink, err);
    if (st == RG_ERR_ABORTED && j->has_more)
        st = RG_OK;
    if (st != RG_OK)
        return st;
    char *cursor = NULL;
    if (j->has_more && j->nrows > 0) {
        if (rg_plan_next_cursor(&j->plan, j->rt->kr, j->last, &cursor) != 0) {
            err->status = RG_ERR_INTERNAL;
            snprintf(err->message, sizeof err->message, "could not encode the next cursor");
            return RG_ERR_INTERNAL;
        }
    }
    int rc = evbuffer_add(j->out, "],\"next_cursor\":", 16);
    if (cursor) {
        rc |= rg_json_append_string(j->out, cursor, strlen(cursor));
        free(cursor);
    } else {
        rc |= evbuffer_add(j->out, "null", 4);
    }
    rc |= evbuffer_add(j->out, "}", 1);
    if (rc != 0) {
        err->status = RG_ERR_INTERNAL;
        snprintf(err->message, sizeof err->message, "out of memory");
        return RG_ERR_INTERNAL;
    }
    return RG_OK;
}

static void complete_query(rg_job *job, rg_status st, const rg_error *err)
{
    query_job *j = (query_job *)job;
    j->status = st;
    j->err = *err;
    /* Thread-safe with evthread_use_pthreads(): wakes the owning loop. */
    event_active(j->done_ev, 0, 0);
}

static int failure_status(rg_status st)
{
    switch (st) {
    case RG_ERR_TIMEOUT: return 504;
    case RG_ERR_UPSTREAM: return 502;
    case RG_ERR_UNAVAILABLE:
    case RG_ERR_AUTH:
    case RG_ERR_CONFIG: return 503;
    default: return 500;
    }
}

static void reply_failure(query_job *j)
{
    const char *src = j->plan.collection->source_name;
    switch (j->status) {
    case RG_ERR_TIMEOUT:
        atomic_fetch_add(&j->loop->srv->metrics.upstream_timeouts, 1);
        rg_reply_error_simple(j->req, 504, "upstream_timeout",
                              "the data source did not answer in time");
        break;
    case RG_ERR_UPSTREAM:
        atomic_fetch_add(&j->loop->srv->metrics.upstream_errors, 1);
        rg_reply_error_simple(j->req, 502, "upstream_error", "the data source returned an error");
        break;
    case RG_ERR_UNAVAILABLE:
    case RG_ERR_AUTH:
    case RG_ERR_CONFIG: {
        atomic_fetch_add(&j->loop->srv->metrics.upstream_errors, 1);
        rg_api_error e;
        rg_api_error_set(&e, 503, "source_unavailable", NULL,
                         "data source '%s' is unavailable; try again later", src);
        rg_reply_error(j->req, &e);
        break;
    }
    default:
        rg_reply_error_simple(j->req, 500, "internal", "internal error");
        break;
    }
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    query_job *j = arg;
    uint64_t us = micros_since(&j->started);
    if (j->status != RG_OK)
        rg_warn("query %s/%s failed after %llu us: %s", j->plan.collection->source_name,
                j->plan.collection->name, (unsigned long long)us, j->err.message);
    if (!j->replied && j->req) {
        j->replied = true;
        /* Detach first: after the reply libevent may free the connection. */
        evhttp_connection_set_closecb(j->conn, NULL, NULL);
        rg_reply_cors(j->req, j->origin);
        if (j->status == RG_OK)
            rg_reply_buffer(j->req, 200, j->out);
        else
            reply_failure(j);
        rg_metrics_count(&j->loop->srv->metrics, RG_ROUTE_QUERY,
                         j->status == RG_OK ? 200 : failure_status(j->status));
        rg_metrics_query_time(&j->loop->srv->metrics, us);
        j->req = NULL;
    }
    job_free(j);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    query_job *j = arg;
    if (j->replied || !j->req)
        return;
    j->replied = true;
    /* The worker may still be busy; the job lives on until on_done. */
    evhttp_connection_set_closecb(j->conn, NULL, NULL);
    rg_reply_cors(j->req, j->origin);
    rg_reply_error_simple(j->req, 504, "upstream_timeout", "the data source did not answer in time");
    atomic_fetch_add(&j->loop->srv->metrics.upstream_timeouts, 1);
    rg_metrics_count(&j->loop->srv->metrics, RG_ROUTE_QUERY, 504);
    j->req = NULL;
}

static void on_client_gone(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    query_job *j = arg;
    /* libevent frees the request with the connection: never touch it again. */
    j->req = NULL;
    j->replied = true;
}

void rg_query_start(rg_loop *loop, struct evhttp_request *req, const rg_site_rt *srt,
                    const char *origin, const char *body, size_t len)
{
    rg_runtime *rt = loop->rt;
    query_job *j = calloc(1, sizeof *j);
    if (!j) {
        rg_reply_error_simple(req, 500, "internal", "internal error");
        return;
    }
    rg_api_error aerr;
    if (rg_plan_build(srt->site, &rt->cfg->limits, rt->kr, body, len, &j->plan, &aerr) != 0) {
        free(j);
        rg_reply_cors(req, origin);
        rg_reply_error(req, &aerr);
        rg_metrics_count(&loop->srv->metrics, RG_ROUTE_QUERY, aerr.http_status);
        return;
    }
    j->loop = loop;
    j->rt = rt;
    rg_runtime_retain(rt);
    atomic_fetch_add(&loop->inflight, 1);
    j->req = req;
    j->conn = evhttp_request_get_connection(req);
    j->job.run = run_query;
    j->job.complete = complete_query;
    clock_gettime(CLOCK_MONOTONIC, &j->started);
    j->origin = origin ? strdup(origin) : NULL;
    j->out = evbuffer_new();
    j->last = calloc(j->plan.plan.ncolumns ? j->plan.plan.ncolumns : 1, sizeof *j->last);
    j->done_ev = event_new(loop->base, -1, 0, on_done, j);
    j->timer = evtimer_new(loop->base, on_timeout, j);
    if ((origin && !j->origin) || !j->out || !j->last || !j->done_ev || !j->timer) {
        rg_reply_error_simple(req, 500, "internal", "internal error");
        j->req = NULL;
        job_free(j);
        return;
    }
    const rg_collection *c = j->plan.collection;
    rg_source_pool *pool = rg_runtime_pool(srt, c->source);
    rg_error err;
    if (rg_source_pool_submit(pool, &j->job, &err) != RG_OK) {
        rg_warn("query %s/%s refused: %s", srt->site->site_id, c->name, err.message);
        rg_api_error e;
        rg_api_error_set(&e, 503, "source_unavailable", NULL,
                         "data source '%s' is unavailable; try again later", c->source_name);
        rg_reply_cors(req, origin);
        rg_reply_error(req, &e);
        rg_metrics_count(&loop->srv->metrics, RG_ROUTE_QUERY, 503);
        j->req = NULL;
        job_free(j);
        return;
    }
    /* The adapter enforces timeout_ms itself; this timer also covers time
       spent waiting in the queue and a backend that ignores its deadline. */
    uint32_t ms = j->plan.plan.timeout_ms + 250;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(j->timer, &tv);
    evhttp_connection_set_closecb(j->conn, on_client_gone, j);
}
