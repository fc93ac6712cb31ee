/*
 * Event-loop lanes: queries of a source whose adapter has non-blocking
 * queries (readgate/adapter.h, query_start/query_resume/socket) run on the
 * event loop that took the request, on connections that loop keeps for the
 * source. A worker-thread hand-off costs two thread wake-ups per query,
 * which on a busy machine cost more than the query itself; here the loop
 * sends the query and goes on serving other requests until the backend's
 * socket is readable.
 *
 * One lane per (source, loop), touched only by its loop, except:
 *  - connections are still opened by the source's workers (connecting,
 *    decrypting the options and waiting for the backend block): a lane asks
 *    for one with an opener job, and the worker hands the connection back
 *    through the lane's inbox (under `lock`) and wakes the loop;
 *  - rg_lanes_free, on the thread that retires the runtime, when nothing is
 *    in flight any more (every query holds the runtime) and the workers are
 *    joined.
 * A lane holds at most ceil(workers / loops) connections. A query that
 * fails with RG_ERR_UNAVAILABLE (its connection may have died idle) is run
 * once more by the workers, which reconnect; a lane whose queue is full
 * refuses at once, as the workers' queue does.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "workers/source_pool_internal.h"

/* Past the query's own budget, how long a lane waits for an adapter that
   neither answers nor fails before it drops the connection. */
#define RG_LANE_GRACE_MS 2000

typedef struct rg_lane rg_lane;

/*
 * A connection's socket stays registered for reading from one query to the
 * next (adding and removing it for every query was two epoll_ctl calls a
 * query): `rev` is persistent, `wev` is added only when the adapter waits
 * to write, and `timer` bounds each wait. Readable while idle means the
 * server closed the connection (or sent what nobody asked for): it is
 * dropped.
 */
typedef struct slot {
    rg_lane *lane;
    void *conn;
    struct event *rev;   /* EV_READ | EV_PERSIST on fd */
    struct event *wev;   /* EV_WRITE, one-shot */
    struct event *timer; /* the current wait's bound */
    int fd;              /* what rev and wev watch, or -1 */
    int reading;         /* rev is added */
    rg_job *job; /* the query on it, or NULL when idle */
    rg_row_sink sink;
    uint32_t budget_ms; /* the query's: every wait for the socket may take it */
    struct slot *next; /* idle list */
} slot;

typedef struct opener {
    rg_job job;
    rg_lane *lane;
    void *conn;
    rg_status status;
    rg_error err;
    struct opener *next; /* inbox */
} opener;

struct rg_lane {
    rg_source_pool *pool;
    struct event_base *base;
    size_t max_conns;
    size_t nconns; /* open, or being opened */
    slot *idle;
    rg_job *wait_head, *wait_tail;
    size_t nwaiting;

    pthread_mutex_t lock; /* guards inbox */
    opener *inbox;
    struct event *inbox_ev;
};

static void start(rg_lane *l, slot *s, rg_job *job);

/* Every query waiting for a connection gets `st` and the reason. */
static void fail_waiting(rg_lane *l, rg_status st, const rg_error *why)
{
    while (l->wait_head) {
        rg_job *job = l->wait_head;
        l->wait_head = job->next;
        l->nwaiting--;
        job->next = NULL;
        rg_error e = *why;
        e.status = st;
        job->complete(job, st, &e);
    }
    l->wait_tail = NULL;
}

static void slot_free_events(slot *s)
{
    if (s->rev)
        event_free(s->rev);
    if (s->wev)
        event_free(s->wev);
    if (s->timer)
        event_free(s->timer);
    s->rev = s->wev = s->timer = NULL;
}

static void slot_drop(rg_lane *l, slot *s)
{
    /* Off epoll before the adapter closes the socket. */
    slot_free_events(s);
    if (s->conn)
        l->pool->adapter->disconnect(s->conn);
    free(s);
    l->nconns--;
}

static void ask_for_connection(rg_lane *l);

static void idle_unlink(rg_lane *l, slot *s)
{
    for (slot **pp = &l->idle; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            return;
        }
}

/* The next waiting query, if any, on an idle connection. */
static void next_job(rg_lane *l)
{
    while (l->wait_head && l->idle) {
        rg_job *job = l->wait_head;
        l->wait_head = job->next;
        if (!l->wait_head)
            l->wait_tail = NULL;
        l->nwaiting--;
        job->next = NULL;
        slot *s = l->idle;
        l->idle = s->next;
        start(l, s, job);
    }
}

/* Hand the query to the workers: they reconnect and retry as they do for
   their own connections. */
static void move_to_workers(rg_lane *l, rg_job *job)
{
    rg_error err = {.struct_size = sizeof(rg_error)};
    job->moved = 1;
    if (rg_source_pool_submit(l->pool, job, &err) != RG_OK)
        job->complete(job, err.status, &err);
}

static void finish(rg_lane *l, slot *s, rg_status st, rg_error *err)
{
    rg_job *job = s->job;
    s->job = NULL;
    event_del(s->timer);
    event_del(s->wev);
    if (st == RG_ERR_UNAVAILABLE || st == RG_ERR_AUTH || st == RG_ERR_INTERNAL) {
        /* The connection is suspect: drop it, open another when needed. */
        rg_warn("source %s: %s; reconnecting on next use", rg_source_pool_name(l->pool),
                err->message);
        slot_drop(l, s);
        if (st == RG_ERR_UNAVAILABLE) {
            /* It may have died idle (a lane's connections wait for work
               between bursts, served or not): once more, on a fresh
               connection; a backend that is really down refuses it at once. */
            move_to_workers(l, job);
            if (l->wait_head && l->nconns < l->max_conns)
                ask_for_connection(l);
            return;
        }
        if (l->wait_head && l->nconns < l->max_conns)
            ask_for_connection(l);
    } else {
        s->next = l->idle;
        l->idle = s;
    }
    st = job->end(job, st, err);
    err->status = st;
    job->complete(job, st, err);
    next_job(l);
}

static void on_ready(evutil_socket_t fd, short what, void *arg);
static void on_wait_over(evutil_socket_t fd, short what, void *arg);

/* Watch the adapter's socket as asked (a socket that changed is watched
   anew), bounded by the query's budget. */
static int wait_for(rg_lane *l, slot *s, int wait)
{
    int fd = l->pool->adapter->socket(s->conn);
    if (fd < 0)
        return -1;
    if (fd != s->fd) {
        event_del(s->rev);
        event_del(s->wev);
        s->reading = 0;
        if (event_assign(s->rev, l->base, fd, EV_READ | EV_PERSIST, on_ready, s) != 0 ||
            event_assign(s->wev, l->base, fd, EV_WRITE, on_ready, s) != 0)
            return -1;
        s->fd = fd;
    }
    int want_read = (wait & RG_WAIT_READ) != 0;
    if (want_read != s->reading) {
        /* Not watched for reading while the adapter waits to write only:
           level-triggered, it would fire again and again. */
        if ((want_read ? event_add(s->rev, NULL) : event_del(s->rev)) != 0)
            return -1;
        s->reading = want_read;
    }
    /* A write wait of before that did not fire is not this wait. */
    if ((wait & RG_WAIT_WRITE) ? event_add(s->wev, NULL) != 0 : event_del(s->wev) != 0)
        return -1;
    uint64_t ms = (uint64_t)s->budget_ms + RG_LANE_GRACE_MS;
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    return evtimer_add(s->timer, &tv);
}

/* Neither an answer nor the backend's own timeout: give up on the
   connection (closing it makes the backend cancel the query). */
static void on_wait_over(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    slot *s = arg;
    rg_lane *l = s->lane;
    rg_error err = {.struct_size = sizeof(rg_error)};
    snprintf(err.message, sizeof err.message, "no answer from the data source in time");
    rg_job *job = s->job;
    s->job = NULL;
    slot_drop(l, s);
    if (job) {
        rg_status st = job->end(job, RG_ERR_TIMEOUT, &err);
        err.status = st;
        job->complete(job, st, &err);
    }
    if (l->wait_head && l->nconns < l->max_conns)
        ask_for_connection(l);
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    slot *s = arg;
    rg_lane *l = s->lane;
    rg_error err = {.struct_size = sizeof(rg_error)};
    if (!s->job) {
        /* Idle and readable: the server closed it, or said something
           unasked. Either way it is not trusted with another query. */
        idle_unlink(l, s);
        slot_drop(l, s);
        return;
    }
    int wait = 0;
    rg_status st = l->pool->adapter->query_resume(s->conn, &wait, &err);
    if (st == RG_OK && wait) {
        if (wait_for(l, s, wait) != 0) {
            snprintf(err.message, sizeof err.message, "cannot wait for the data source");
            finish(l, s, RG_ERR_INTERNAL, &err);
        }
        return;
    }
    finish(l, s, st, &err);
}

static void start(rg_lane *l, slot *s, rg_job *job)
{
    rg_error err = {.struct_size = sizeof(rg_error)};
    s->job = job;
    const rg_query_plan *plan = job->begin(job, &s->sink, &err);
    if (!plan) {
        s->job = NULL;
        s->next = l->idle;
        l->idle = s;
        err.status = err.status ? err.status : RG_ERR_INTERNAL;
        job->complete(job, err.status, &err);
        return;
    }
    int wait = 0;
    rg_status st = l->pool->adapter->query_start(s->conn, plan, &s->sink, &wait, &err);
    if (st == RG_OK && wait) {
        s->budget_ms = plan->timeout_ms;
        if (wait_for(l, s, wait) == 0)
            return;
        snprintf(err.message, sizeof err.message, "cannot wait for the data source");
        st = RG_ERR_INTERNAL;
    }
    finish(l, s, st, &err);
}

/* ---- connections, opened by the workers ----------------------------------------- */

static void on_opened(rg_job *job, rg_status st, void *conn, const rg_error *err)
{
    opener *o = (opener *)job;
    rg_lane *l = o->lane;
    o->status = st;
    o->conn = conn;
    o->err = *err;
    pthread_mutex_lock(&l->lock);
    o->next = l->inbox;
    l->inbox = o;
    pthread_mutex_unlock(&l->lock);
    event_active(l->inbox_ev, EV_READ, 0); /* thread-safe: wakes the lane's loop */
}

static void ask_for_connection(rg_lane *l)
{
    opener *o = calloc(1, sizeof *o);
    rg_error err = {.struct_size = sizeof(rg_error)};
    if (o) {
        o->lane = l;
        o->job.opened = on_opened;
        l->nconns++;
        if (rg_source_pool_submit(l->pool, &o->job, &err) == RG_OK)
            return;
        l->nconns--;
        free(o);
    } else {
        snprintf(err.message, sizeof err.message, "out of memory");
    }
    /* No connection is coming: with none open, nobody will serve the queue. */
    if (l->nconns == 0) {
        if (!err.message[0])
            snprintf(err.message, sizeof err.message, "no connection");
        fail_waiting(l, RG_ERR_UNAVAILABLE, &err);
    }
}

static void on_inbox(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rg_lane *l = arg;
    pthread_mutex_lock(&l->lock);
    opener *list = l->inbox;
    l->inbox = NULL;
    pthread_mutex_unlock(&l->lock);
    while (list) {
        opener *o = list;
        list = o->next;
        slot *s = o->status == RG_OK ? calloc(1, sizeof *s) : NULL;
        if (s) {
            s->fd = -1;
            s->rev = event_new(l->base, -1, 0, on_ready, s);
            s->wev = event_new(l->base, -1, 0, on_ready, s);
            s->timer = evtimer_new(l->base, on_wait_over, s);
            if (!s->rev || !s->wev || !s->timer) {
                slot_free_events(s);
                free(s);
                s = NULL;
            }
        }
        if (s) {
            s->lane = l;
            s->conn = o->conn;
            s->next = l->idle;
            l->idle = s;
        } else {
            if (o->conn)
                l->pool->adapter->disconnect(o->conn);
            free(s);
            l->nconns--;
            if (o->status == RG_OK)
                snprintf(o->err.message, sizeof o->err.message, "out of memory");
            /* The workers could not connect: the queries waiting for this
               connection get the reason, as they would from a worker. */
            if (l->nconns == 0)
                fail_waiting(l, o->status == RG_OK ? RG_ERR_INTERNAL : o->status, &o->err);
        }
        free(o);
    }
    next_job(l);
}

/* ---- the pool's side ------------------------------------------------------------------ */

static rg_lane *lane_new(rg_source_pool *p, struct event_base *base, int nloops)
{
    rg_lane *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->pool = p;
    l->base = base;
    size_t workers = p->src->workers ? p->src->workers : 1;
    size_t loops = nloops > 0 ? (size_t)nloops : 1;
    l->max_conns = (workers + loops - 1) / loops;
    pthread_mutex_init(&l->lock, NULL);
    l->inbox_ev = event_new(base, -1, 0, on_inbox, l);
    if (!l->inbox_ev) {
        pthread_mutex_destroy(&l->lock);
        free(l);
        return NULL;
    }
    return l;
}

rg_status rg_lane_submit(rg_source_pool *p, struct event_base *base, int loop_index, int nloops,
                         rg_job *job, rg_error *err)
{
    rg_lane **lanes = atomic_load(&p->lanes);
    if (!lanes) {
        pthread_mutex_lock(&p->lock);
        lanes = atomic_load(&p->lanes);
        if (!lanes && nloops > 0 && (lanes = calloc((size_t)nloops, sizeof *lanes))) {
            p->nlanes = nloops;
            atomic_store(&p->lanes, lanes);
        }
        pthread_mutex_unlock(&p->lock);
    }
    if (!lanes || loop_index < 0 || loop_index >= p->nlanes)
        return rg_source_pool_submit(p, job, err);
    rg_lane *l = lanes[loop_index];
    if (!l && !(l = lanes[loop_index] = lane_new(p, base, nloops)))
        return rg_source_pool_submit(p, job, err);
    if (l->idle) {
        slot *s = l->idle;
        l->idle = s->next;
        start(l, s, job);
        return RG_OK;
    }
    if (l->nwaiting >= RG_POOL_MAX_QUEUE) {
        err->status = RG_ERR_UNAVAILABLE;
        snprintf(err->message, sizeof err->message, "source queue is full");
        return RG_ERR_UNAVAILABLE;
    }
    job->next = NULL;
    if (l->wait_tail)
        l->wait_tail->next = job;
    else
        l->wait_head = job;
    l->wait_tail = job;
    l->nwaiting++;
    if (l->nconns < l->max_conns)
        ask_for_connection(l);
    return RG_OK;
}

void rg_lanes_free(rg_source_pool *p)
{
    rg_lane **lanes = atomic_load(&p->lanes);
    if (!lanes)
        return;
    for (int i = 0; i < p->nlanes; i++) {
        rg_lane *l = lanes[i];
        if (!l)
            continue;
        /* Blocks while the loop runs its callback; none runs after. */
        event_free(l->inbox_ev);
        for (opener *o = l->inbox, *next; o; o = next) {
            next = o->next;
            if (o->conn)
                p->adapter->disconnect(o->conn);
            free(o);
        }
        for (slot *s = l->idle, *next; s; s = next) {
            next = s->next;
            slot_drop(l, s);
        }
        pthread_mutex_destroy(&l->lock);
        free(l);
    }
    free(lanes);
}
