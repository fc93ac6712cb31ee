#include "server/query_route.h"

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/body_memo.h"
#include "http/http_reply.h"
#include "query/plan.h"
#include "query/rowjson.h"
#include "server/upstream_error.h"
#include "util/log.h"

/*
 * A query is two things. A `query_exec` is one backend call: the plan, the
 * rows written by the worker, the outcome. A `query_caller` is one HTTP
 * request waiting for an exec's outcome on the loop that took it. Usually
 * one caller has one exec; for a collection with cache_ttl_s > 0, identical
 * queries in flight at once share one exec (coalesce.h) and each caller
 * gets the same answer or the same error.
 *
 * Lifetimes. The exec holds one reference for the side that runs it; when
 * it finishes (the worker, or the loop when it never reached one) it turns
 * that into one reference per caller and wakes them through their
 * `done_ev`. Each caller is freed by its own loop in on_done and drops its
 * reference there, so a timeout (504 sent early) or a vanished client never
 * frees anything under a worker, and a leader whose client went away still
 * finishes the work for everyone else.
 */
typedef enum refusal { NOT_REFUSED, REFUSED_OVERLOADED, REFUSED_BY_POOL } refusal;

typedef struct query_exec {
    rg_job job;
    atomic_int refs;
    rg_runtime *rt;
    size_t site_index; /* into rt->sites and rt->site_inflight */
    bool counted;      /* holds a site_inflight slot */
    refusal refused;   /* never reached a worker, and why */
    rg_request_plan plan;
    struct timespec started;

    /* Coalescing; flight is NULL when the query is not shared. */
    rg_flight *flight;
    rg_flight_waiter *solo; /* the one caller of an unshared exec */
    unsigned char *key;
    size_t key_len;
    uint64_t hash;
    uint32_t ttl_s;

    /* Worker side, read by callers only after they are woken. */
    struct evbuffer *out;
    size_t nrows;
    bool has_more;
    rg_value *last; /* sort values of the last written row */
    uint32_t bad_value_size; /* a row's values had this malformed struct_size */
    bool bad_row;
    char *last_buf; /* their string payloads */
    size_t last_cap;
    rg_status status;
    rg_error err;
    rg_cache_body *body; /* a shared exec's answer, built once for every caller */
} query_exec;

typedef struct query_caller {
    rg_flight_waiter link;
    rg_loop *loop;
    rg_runtime *rt;
    query_exec *exec;
    struct evhttp_request *req; /* NULL once the client is gone */
    struct event *done_ev;
    struct event *timer;
    bool replied;
    bool leader; /* opened the exec: logs its failure once */
    char *origin; /* vetted origin for CORS, or NULL */
    struct timespec started;
    rg_query_answer answer;
} query_caller;

static query_caller *caller_of(rg_flight_waiter *w)
{
    return (query_caller *)(void *)((char *)w - offsetof(query_caller, link));
}

static uint64_t micros_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)(t.tv_sec - t0->tv_sec) * 1000000u +
           (uint64_t)((t.tv_nsec - t0->tv_nsec) / 1000);
}

/* ---- exec ------------------------------------------------------------------------ */

static void exec_free(query_exec *x)
{
    if (x->out)
        evbuffer_free(x->out);
    rg_request_plan_free(&x->plan);
    free(x->last);
    free(x->last_buf);
    free(x->key);
    rg_cache_body_release(x->body);
    if (x->counted)
        atomic_fetch_sub(&x->rt->site_inflight[x->site_index], 1);
    /* Always on a loop: an old runtime is retired on a thread of its own. */
    rg_runtime_release(x->rt, 1);
    free(x);
}

static void exec_release(query_exec *x)
{
    if (atomic_fetch_sub(&x->refs, 1) == 1)
        exec_free(x);
}

/* Takes the plan (and key, when given). NULL when out of memory (the plan
   and key are freed). */
static query_exec *exec_new(rg_runtime *rt, size_t site_index, rg_request_plan *plan,
                            unsigned char *key, size_t key_len, uint64_t hash)
{
    query_exec *x = calloc(1, sizeof *x);
    if (!x) {
        rg_request_plan_free(plan);
        free(key);
        return NULL;
    }
    atomic_init(&x->refs, 1);
    x->rt = rt;
    rg_runtime_retain(rt);
    x->site_index = site_index;
    x->plan = *plan;
    x->key = key;
    x->key_len = key_len;
    x->hash = hash;
    x->ttl_s = plan->collection->cache_ttl_s;
    clock_gettime(CLOCK_MONOTONIC, &x->started);
    return x;
}

/*
 * The outcome is in (x->status set): publish it and wake every caller. Runs
 * on the worker thread, or on the loop when the exec never reached one. A
 * shared answer goes into the cache before the flight closes, so a query
 * arriving between the two finds one or the other (coalesce.h).
 */
static void exec_finish(query_exec *x)
{
    rg_flight_waiter *waiters = x->solo;
    if (x->flight) {
        if (x->status == RG_OK) {
            x->body = rg_cache_body_from_evbuffer(x->out);
            if (!x->body) {
                x->status = RG_ERR_INTERNAL;
                snprintf(x->err.message, sizeof x->err.message, "out of memory");
            }
        }
        /* Errors are never cached: the next query asks the backend again. */
        if (x->status == RG_OK && x->rt->cache)
            rg_result_cache_put(x->rt->cache, x->key, x->key_len, x->hash, x->body,
                                (uint64_t)x->ttl_s * 1000u, rg_result_cache_now_ms());
        waiters = rg_flights_close(x->rt->flights, x->flight);
        x->flight = NULL;
    }
    int n = 0;
    for (rg_flight_waiter *w = waiters; w; w = w->next)
        n++;
    if (n == 0) { /* can't happen: the caller that opened it always waits */
        exec_release(x);
        return;
    }
    /* Our reference goes to the first caller, so the exec (and perhaps the
       last reference to its runtime) is always freed on a loop, never on a
       worker that retiring the runtime would have to join. */
    atomic_fetch_add(&x->refs, n - 1);
    for (rg_flight_waiter *w = waiters, *next; w; w = next) {
        next = w->next; /* the caller may be freed as soon as it is woken */
        /* Thread-safe with evthread_use_pthreads(): wakes the caller's loop. */
        event_active(caller_of(w)->done_ev, 0, 0);
    }
}

static bool is_text(const rg_value *v)
{
    return !v->is_null && (v->type == RG_TYPE_STRING || v->type == RG_TYPE_DATE ||
                           v->type == RG_TYPE_DATETIME || v->type == RG_TYPE_ENUM);
}

/* Keep a copy of this row's sort values: the last one written becomes the cursor. */
static int remember_sort_values(query_exec *x, const rg_value *row)
{
    const rg_query_plan *p = &x->plan.plan;
    size_t need = 0;
    for (size_t i = 0; i < p->ncolumns; i++)
        if (is_text(rg_value_at(row, i)))
            need += rg_value_at(row, i)->u.str.len + 1;
    if (need > x->last_cap) {
        char *nb = realloc(x->last_buf, need);
        if (!nb)
            return -1;
        x->last_buf = nb;
        x->last_cap = need;
    }
    char *w = x->last_buf;
    for (size_t i = 0; i < p->ncolumns; i++) {
        /* The 2.0 fields only: the adapter's value may be a bigger one. */
        const rg_value *v = rg_value_at(row, i);
        x->last[i] = (rg_value){
            .struct_size = sizeof(rg_value), .type = v->type, .is_null = v->is_null, .u = v->u};
        if (is_text(v)) {
            memcpy(w, v->u.str.ptr, v->u.str.len);
            w[v->u.str.len] = '\0';
            x->last[i].u.str.ptr = w;
            w += v->u.str.len + 1;
        }
    }
    return 0;
}

/*
 * The adapter's values are read by their own struct_size (readgate/adapter.h):
 * all the same, and at least the 2.0 rg_value. Anything else is an adapter
 * built wrongly; reading on would run past its values, so the query fails.
 */
static bool row_layout_ok(query_exec *x, const rg_value *values, size_t n)
{
    uint32_t size = values ? values->struct_size : 0;
    for (size_t i = 0; i < n; i++) {
        /* Element 0 is checked before the first step by its size. */
        uint32_t s = values ? rg_value_at(values, i)->struct_size : 0;
        if (s < RG_VALUE_SIZE_2_0 || s != size) {
            x->bad_row = true;
            x->bad_value_size = s;
            return false;
        }
    }
    return true;
}

/* The sink: rows go straight into the response buffer as JSON. Worker thread. */
static int on_row(void *ctx, const rg_value *values, size_t n)
{
    query_exec *x = ctx;
    const rg_query_plan *p = &x->plan.plan;
    if (n != p->ncolumns || !row_layout_ok(x, values, n))
        return 1;
    if (x->nrows == x->plan.client_limit) {
        x->has_more = true; /* the extra row only proves a next page exists */
        return 1;
    }
    int rc = rg_rows_append(x->out, x->nrows == 0, p, x->plan.column_visible, values);
    if (rc != 0 || remember_sort_values(x, values) != 0)
        return 1;
    x->nrows++;
    return 0;
}

/* (Re)start: an empty answer with the envelope opened; rows come through on_row.
   On a worker thread, or on the loop for a source run on the event loops. */
static const rg_query_plan *begin_query(rg_job *job, rg_row_sink *sink, rg_error *err)
{
    query_exec *x = (query_exec *)job;
    rg_row_sink row_sink = {.struct_size = sizeof row_sink, .row = on_row, .ctx = x};
    /* A second run (OAuth retry after a refresh) starts from scratch. */
    evbuffer_drain(x->out, evbuffer_get_length(x->out));
    x->nrows = 0;
    x->has_more = false;
    x->bad_row = false;
    if (rg_rows_begin(x->out) != 0) {
        err->status = RG_ERR_INTERNAL;
        snprintf(err->message, sizeof err->message, "out of memory");
        return NULL;
    }
    *sink = row_sink;
    return &x->plan.plan;
}

/* The adapter is done: the cursor of the next page, and the envelope closed. */
static rg_status end_query(rg_job *job, rg_status st, rg_error *err)
{
    query_exec *x = (query_exec *)job;
    if (x->bad_row) {
        err->status = RG_ERR_INTERNAL;
        snprintf(err->message, sizeof err->message,
                 "adapter %s sent a row whose values have struct_size %u; readgate needs the "
                 "same struct_size on every value, at least %zu (the 2.0 rg_value)",
                 rg_source_pool_adapter_name(
                     rg_runtime_pool(&x->rt->sites[x->site_index], x->plan.collection->source)),
                 (unsigned)x->bad_value_size, (size_t)RG_VALUE_SIZE_2_0);
        return RG_ERR_INTERNAL;
    }
    if (st == RG_ERR_ABORTED && x->has_more)
        st = RG_OK;
    if (st != RG_OK)
        return st;
    char *cursor = NULL;
    if (x->has_more && x->nrows > 0) {
        /* The cursor depends on the query, the row and the keys only (no
           session, no time), so a body shared by callers of the same site
           and query carries a cursor valid for each of them. */
        if (rg_plan_next_cursor(&x->plan, x->rt->kr, x->last, &cursor) != 0) {
            err->status = RG_ERR_INTERNAL;
            snprintf(err->message, sizeof err->message, "could not encode the next cursor");
            return RG_ERR_INTERNAL;
        }
    }
    int rc = rg_rows_end(x->out, cursor);
    free(cursor);
    if (rc != 0) {
        err->status = RG_ERR_INTERNAL;
        snprintf(err->message, sizeof err->message, "out of memory");
        return RG_ERR_INTERNAL;
    }
    return RG_OK;
}

static void complete_query(rg_job *job, rg_status st, const rg_error *err)
{
    query_exec *x = (query_exec *)job;
    x->status = st;
    x->err = *err;
    exec_finish(x);
}

/* ---- callers ---------------------------------------------------------------------- */

/* ---- answers ------------------------------------------------------------------------ */

/* Returns the HTTP status of the error, for the metrics. */
static int send_error(query_caller *c, const rg_api_error *e, const char *retry_after)
{
    c->answer.error(c->answer.arg, c->req, e, retry_after);
    return e->http_status;
}

static int send_error_default(query_caller *c, rg_err_code code)
{
    rg_api_error e;
    rg_api_err_default(&e, code);
    return send_error(c, &e, NULL);
}

/* /query's own answers: the document as the body, errors as the API's. */
static void http_rows(void *arg, struct evhttp_request *req, struct evbuffer *doc)
{
    (void)arg;
    rg_reply_buffer(req, 200, doc);
}

static void http_error(void *arg, struct evhttp_request *req, const rg_api_error *e,
                       const char *retry_after)
{
    (void)arg;
    if (retry_after)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", retry_after);
    rg_reply_error(req, e);
}

static const rg_query_answer http_answer = {.rows = http_rows, .error = http_error,
                                            .route = RG_ROUTE_QUERY};

/* The data source an exec reads, as the status mapping names it. */
static rg_upstream source_of(const query_exec *x)
{
    return (rg_upstream){.kind = RG_UPSTREAM_SOURCE,
                         .name = x->plan.collection->source_name,
                         .site_id = x->rt->cfg->sites[x->site_index].site_id};
}

/*
 * An exec's outcome as the API's error: the site's overload refusal, else
 * the backend's status (a pool's refusal carries RG_ERR_UNAVAILABLE).
 * *retry_after is set when the client may simply try again shortly.
 */
static void failure_error(const query_exec *x, rg_api_error *e, const char **retry_after)
{
    *retry_after = NULL;
    if (x->refused == REFUSED_OVERLOADED) {
        rg_api_err(e, RG_E_OVERLOADED, NULL,
                   "site '%s' already has %u queries in progress; try again shortly",
                   x->rt->cfg->sites[x->site_index].site_id,
                   x->rt->cfg->limits.max_inflight_per_site);
        *retry_after = "1";
        return;
    }
    rg_upstream src = source_of(x);
    rg_api_error_from_status(e, x->status, &src);
}

/* Answer a failed exec; returns the status sent. */
static int reply_failure(query_caller *c)
{
    const query_exec *x = c->exec;
    rg_metrics *m = &c->loop->srv->metrics;
    rg_api_error e;
    const char *retry_after;
    failure_error(x, &e, &retry_after);
    /* Refusals before a worker are not the backend's doing. */
    if (!x->refused && x->status == RG_ERR_TIMEOUT)
        atomic_fetch_add(&m->upstream_timeouts, 1);
    else if (!x->refused && e.http_status >= 502 && e.http_status <= 503)
        atomic_fetch_add(&m->upstream_errors, 1);
    send_error(c, &e, retry_after);
    return e.http_status;
}

/* A 200 with a shared body; 0, or -1 when out of memory (nothing sent). */
static int reply_body(query_caller *c, rg_cache_body *body)
{
    struct evbuffer *b = evbuffer_new();
    if (!b || rg_cache_body_add_to(body, b) != 0) {
        if (b)
            evbuffer_free(b);
        return -1;
    }
    c->answer.rows(c->answer.arg, c->req, b);
    evbuffer_free(b);
    return 0;
}

static void on_done(evutil_socket_t fd, short what, void *arg);
static void on_timeout(evutil_socket_t fd, short what, void *arg);

static query_caller *caller_new(rg_loop *loop, rg_runtime *rt, struct evhttp_request *req,
                                const char *origin, const rg_query_answer *answer)
{
    query_caller *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->answer = *answer;
    c->loop = loop;
    c->rt = rt;
    c->req = req;
    clock_gettime(CLOCK_MONOTONIC, &c->started);
    c->origin = origin ? strdup(origin) : NULL;
    c->done_ev = event_new(loop->base, -1, 0, on_done, c);
    c->timer = evtimer_new(loop->base, on_timeout, c);
    if ((origin && !c->origin) || !c->done_ev || !c->timer) {
        if (c->timer)
            event_free(c->timer);
        if (c->done_ev)
            event_free(c->done_ev);
        free(c->origin);
        free(c);
        return NULL;
    }
    rg_runtime_retain(rt);
    atomic_fetch_add(&loop->inflight, 1);
    return c;
}

static void caller_free(query_caller *c)
{
    if (c->req)
        rg_conn_unwatch(c->loop, c->req);
    event_free(c->timer);
    event_free(c->done_ev);
    free(c->origin);
    if (c->exec)
        exec_release(c->exec);
    if (c->answer.free_arg)
        c->answer.free_arg(c->answer.arg);
    atomic_fetch_sub(&c->loop->inflight, 1);
    rg_runtime_release(c->rt, 1);
    free(c);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    query_caller *c = arg;
    query_exec *x = c->exec;
    uint64_t us = micros_since(&c->started);
    /* Logged once per backend call; an overload refusal is counted, not logged. */
    if (x->status != RG_OK && c->leader && x->refused != REFUSED_OVERLOADED)
        rg_warn("query %s/%s %s after %llu us: %s", x->plan.collection->source_name,
                x->plan.collection->name, x->refused ? "refused" : "failed",
                (unsigned long long)micros_since(&x->started), x->err.message);
    if (!c->replied && c->req) {
        c->replied = true;
        /* Detach first: after the reply libevent may free the connection. */
        rg_conn_unwatch(c->loop, c->req);
        rg_reply_cors(c->req, c->origin);
        int status = 200;
        if (x->status == RG_OK && x->body) {
            if (reply_body(c, x->body) != 0)
                status = send_error_default(c, RG_E_INTERNAL);
        } else if (x->status == RG_OK) {
            c->answer.rows(c->answer.arg, c->req, x->out); /* an unshared exec: its only caller */
        } else {
            status = reply_failure(c);
        }
        rg_metrics_count(&c->loop->srv->metrics, c->answer.route, status);
        if (!x->refused)
            rg_metrics_query_time(&c->loop->srv->metrics, us);
        c->req = NULL;
    }
    caller_free(c);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    query_caller *c = arg;
    if (c->replied || !c->req)
        return;
    c->replied = true;
    /* The worker may still be busy; the caller lives on until on_done. */
    rg_conn_unwatch(c->loop, c->req);
    rg_reply_cors(c->req, c->origin);
    /* Answered as the backend's own timeout would be. */
    rg_api_error e;
    rg_upstream src = source_of(c->exec);
    rg_api_error_from_status(&e, RG_ERR_TIMEOUT, &src);
    int status = send_error(c, &e, NULL);
    atomic_fetch_add(&c->loop->srv->metrics.upstream_timeouts, 1);
    rg_metrics_count(&c->loop->srv->metrics, c->answer.route, status);
    c->req = NULL;
}

static void on_client_gone(void *arg)
{
    query_caller *c = arg;
    /* libevent frees the request with the connection: never touch it again. */
    c->req = NULL;
    c->replied = true;
}

/* ---- start -------------------------------------------------------------------------- */

/* Send x to its source's workers; on refusal, finish it at once (its
   callers are woken and answer 503). */
static void exec_submit(query_exec *x, rg_loop *loop, const rg_site_rt *srt)
{
    /* One site's queries can't take every worker: past its cap it waits
       its turn, and the other sites go on. */
    uint32_t cap = x->rt->cfg->limits.max_inflight_per_site;
    unsigned before = atomic_fetch_add(&x->rt->site_inflight[x->site_index], 1);
    x->counted = true;
    if (cap && before >= cap) {
        x->refused = REFUSED_OVERLOADED;
        x->status = RG_ERR_UNAVAILABLE;
        snprintf(x->err.message, sizeof x->err.message, "%u queries of this site in progress",
                 cap);
        exec_finish(x);
        return;
    }
    x->out = evbuffer_new();
    x->last = calloc(x->plan.plan.ncolumns ? x->plan.plan.ncolumns : 1, sizeof *x->last);
    x->job.run = rg_job_run_query;
    x->job.begin = begin_query;
    x->job.end = end_query;
    x->job.complete = complete_query;
    if (!x->out || !x->last) {
        x->status = RG_ERR_INTERNAL;
        snprintf(x->err.message, sizeof x->err.message, "out of memory");
        exec_finish(x);
        return;
    }
    rg_source_pool *pool = rg_runtime_pool(srt, x->plan.collection->source);
    rg_server *srv = loop->srv;
    if (rg_source_pool_submit_on(pool, loop->base, (int)(loop - srv->loops), srv->nloops, &x->job,
                                 &x->err) != RG_OK) {
        x->refused = REFUSED_BY_POOL;
        x->status = RG_ERR_UNAVAILABLE;
        exec_finish(x);
    }
}

/* Under the flight lock (coalesce.h): a last look in the cache. */
typedef struct cache_look {
    rg_result_cache *cache;
    const unsigned char *key;
    size_t key_len;
    uint64_t hash;
    rg_cache_body *found;
} cache_look;

static int look_in_cache(void *arg)
{
    cache_look *l = arg;
    l->found = rg_result_cache_get(l->cache, l->key, l->key_len, l->hash, rg_result_cache_now_ms());
    return l->found != NULL;
}

/* Answer a caller that never got an exec, and free it. */
static void caller_refuse(query_caller *c, const rg_api_error *e)
{
    rg_reply_cors(c->req, c->origin);
    int status = send_error(c, e, NULL);
    rg_metrics_count(&c->loop->srv->metrics, c->answer.route, status);
    c->req = NULL;
    caller_free(c);
}

/* Refused before a caller exists: answer through `answer` and free its arg. */
static void refuse_now(rg_loop *loop, struct evhttp_request *req, const char *origin,
                       const rg_query_answer *answer, const rg_api_error *e)
{
    rg_reply_cors(req, origin);
    answer->error(answer->arg, req, e, NULL);
    rg_metrics_count(&loop->srv->metrics, answer->route, e->http_status);
    if (answer->free_arg)
        answer->free_arg(answer->arg);
}

/* An answer taken from the cache (NULL: 500), sent at once with no caller
   (nothing waits, nothing can time out); `t0` is when the query started.
   Frees the answer's arg. */
static void answer_cached(rg_loop *loop, struct evhttp_request *req, const char *origin,
                          const rg_query_answer *answer, rg_cache_body *found,
                          const struct timespec *t0)
{
    int status = 200;
    rg_reply_cors(req, origin);
    struct evbuffer *b = found ? evbuffer_new() : NULL;
    if (b && rg_cache_body_add_to(found, b) == 0) {
        answer->rows(answer->arg, req, b);
    } else {
        rg_api_error internal;
        rg_api_err_default(&internal, RG_E_INTERNAL);
        answer->error(answer->arg, req, &internal, NULL);
        status = internal.http_status;
    }
    if (b)
        evbuffer_free(b);
    rg_cache_body_release(found);
    rg_metrics_count(&loop->srv->metrics, answer->route, status);
    rg_metrics_query_time(&loop->srv->metrics, micros_since(t0));
    if (answer->free_arg)
        answer->free_arg(answer->arg);
}

void rg_query_start(rg_loop *loop, rg_runtime *rt, struct evhttp_request *req,
                    const rg_site_rt *srt, const char *origin, const char *body, size_t len)
{
    rg_query_start_with(loop, rt, req, srt, origin, body, len, &http_answer);
}

void rg_query_start_with(rg_loop *loop, rg_runtime *rt, struct evhttp_request *req,
                         const rg_site_rt *srt, const char *origin, const char *body, size_t len,
                         const rg_query_answer *answer)
{
    size_t si = (size_t)(srt - rt->sites);
    /* A body this loop has planned before: its cached answer without
       parsing it again; otherwise (or when the answer has expired) the
       whole way below, which finds the same key. */
    uint64_t body_hash = 0;
    if (rt->cache && body && len) {
        body_hash = rg_flights_hash(rt->flights, body, len);
        size_t klen = 0;
        uint64_t khash = 0;
        const unsigned char *k = rg_body_memo_find(loop->memo, rt->generation, si, body, len,
                                                   body_hash, &klen, &khash);
        rg_cache_body *found =
            k ? rg_result_cache_peek(rt->cache, k, klen, khash, rg_result_cache_now_ms()) : NULL;
        if (found) {
            struct timespec t0;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            answer_cached(loop, req, origin, answer, found, &t0);
            return;
        }
    }
    rg_request_plan plan;
    rg_api_error aerr;
    if (rg_plan_build(srt->site, &rt->cfg->limits, rt->kr, body, len, &plan, &aerr) != 0) {
        refuse_now(loop, req, origin, answer, &aerr);
        return;
    }
    rg_api_error internal;
    rg_api_err_default(&internal, RG_E_INTERNAL);
    const rg_collection *coll = plan.collection;
    uint32_t timeout_ms = plan.plan.timeout_ms;
    query_caller *c = caller_new(loop, rt, req, origin, answer);
    /* Only a collection that allows answers to be shared (cache_ttl_s > 0)
       is cached or coalesced: with 0 every request sees its own read. */
    unsigned char *key = NULL;
    size_t key_len = 0;
    if (!c || (coll->cache_ttl_s && rg_plan_canonical(&plan, srt->site->site_id, &key,
                                                      &key_len) != 0)) {
        rg_request_plan_free(&plan);
        if (c) {
            caller_refuse(c, &internal); /* the caller owns the answer's arg now */
        } else {
            refuse_now(loop, req, origin, answer, &internal);
        }
        return;
    }
    uint64_t hash = key ? rg_flights_hash(rt->flights, key, key_len) : 0;
    /* Remembered only when the plan is the body's alone: a cursor decrypts
       with the keys and expires. */
    if (key && rt->cache && body_hash && !plan.plan.after)
        rg_body_memo_put(loop->memo, rt->generation, si, body, len, body_hash, key, key_len, hash);
    cache_look look = {rt->cache, key, key_len, hash, NULL};
    query_exec *x = exec_new(rt, si, &plan, key, key_len, hash);
    if (!x) {
        caller_refuse(c, &internal);
        return;
    }
    if (!key) {
        x->solo = &c->link;
        c->exec = x;
        c->leader = true;
        exec_submit(x, loop, srt);
    } else {
        void *joined = NULL;
        rg_flight *flight = NULL;
        rg_flight_role role =
            rg_flights_join(rt->flights, key, key_len, hash, x, &c->link,
                            rt->cache ? look_in_cache : NULL, &look, &joined, &flight);
        switch (role) {
        case RG_FLIGHT_LEAD:
            x->flight = flight;
            c->exec = x;
            c->leader = true;
            exec_submit(x, loop, srt);
            break;
        case RG_FLIGHT_FOLLOW:
            /* Woken by the leader's exec, which gives us a reference first. */
            exec_release(x);
            c->exec = joined;
            atomic_fetch_add_explicit(&rg_cache_stats_shared()->coalesced, 1,
                                      memory_order_relaxed);
            break;
        case RG_FLIGHT_FOUND:
        case RG_FLIGHT_ERROR: {
            exec_release(x);
            /* Answered here, not through the caller: it only goes. */
            struct timespec t0 = c->started;
            c->answer.free_arg = NULL;
            c->req = NULL;
            caller_free(c);
            answer_cached(loop, req, origin, answer, look.found, &t0);
            return;
        }
        }
    }
    /* The adapter enforces timeout_ms itself; this timer also covers time
       spent waiting in the queue (or for an identical query) and a backend
       that ignores its deadline. Each caller has its own. */
    uint32_t ms = timeout_ms + 250;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
    if (rg_conn_watch(loop, req, on_client_gone, c) != 0)
        rg_warn("query %s/%s: out of memory; a vanished client would not be noticed",
                srt->site->site_id, coll->name);
}
