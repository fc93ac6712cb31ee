#include "refresh/oauth_refresher.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oauth/oauth_multi.h"
#include "oauth/oauth_refresh.h"
#include "oauth/oauth_registry.h"
#include "server/server.h"
#include "state/state_store.h"
#include "util/log.h"

/* How often the store is looked at: the longest a refresh by another
   process goes unnoticed, and the resolution of the refresh margin. */
#define TICK_S 2
/* After a failed refresh, wait this long (doubling, up to the cap). */
#define BACKOFF_MIN_S 5
#define BACKOFF_MAX_S 300

/* Per-connection retry schedule, owned by the refresher thread. */
typedef struct backoff {
    struct backoff *next;
    rg_oauth_conn *conn;
    int64_t retry_at;
    int64_t delay;
} backoff;

struct rg_oauth_refresher {
    rg_server *srv;
    rg_curl_loop *curl;
    struct event *tick;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool scan;
    bool stopping;
    /* Refresher thread only. */
    rg_state_store *st;
    char *st_url;
    backoff *backoffs;
    double jitter; /* 0..0.1 of the margin, fixed for this process */
};

static backoff *backoff_of(rg_oauth_refresher *r, rg_oauth_conn *c)
{
    for (backoff *b = r->backoffs; b; b = b->next)
        if (b->conn == c)
            return b;
    backoff *b = calloc(1, sizeof *b);
    if (b) {
        b->conn = c;
        b->next = r->backoffs;
        r->backoffs = b;
    }
    return b;
}

static rg_state_store *store_for(rg_oauth_refresher *r, const char *url)
{
    if (r->st && r->st_url && strcmp(r->st_url, url) == 0)
        return r->st;
    rg_state_close(r->st);
    free(r->st_url);
    r->st = NULL;
    r->st_url = NULL;
    char err[300];
    r->st = rg_state_open(url, err, sizeof err);
    if (!r->st) {
        rg_warn("oauth refresher: %s", err);
        return NULL;
    }
    if (!(r->st_url = strdup(url))) {
        rg_state_close(r->st);
        r->st = NULL;
    }
    return r->st;
}

static const rg_http_transport *transport(rg_oauth_refresher *r, rg_http_transport *tr)
{
    tr->perform = rg_curl_loop_perform;
    tr->ctx = r->curl;
    return tr;
}

static void check_one(rg_oauth_refresher *r, rg_state_store *st, const rg_keyring *kr,
                      const rg_site *site, const rg_source *src)
{
    const rg_oauth_config *o = src->oauth;
    rg_oauth_conn *conn = rg_oauth_conn_get(site->site_id, src->name);
    if (!conn)
        return;
    char err[300];
    rg_token_row row = {0};
    int found = rg_state_get(st, site->site_id, src->name, &row, err, sizeof err);
    if (found < 0) {
        rg_warn("oauth %s/%s: %s", site->site_id, src->name, err);
        return;
    }
    if (found || !o->service_account)
        rg_oauth_conn_observe(conn, found ? &row : NULL);
    int64_t now = (int64_t)time(NULL);
    int64_t margin = (int64_t)o->refresh_margin_s + (int64_t)(o->refresh_margin_s * r->jitter);
    bool due;
    if (!found)
        due = o->service_account; /* a service account mints its first token */
    else if (strcmp(row.state, RG_TOKEN_STATE_NEEDS_REAUTH) == 0)
        due = o->service_account && now - row.updated_at >= RG_OAUTH_SA_RETRY_S;
    else
        due = !row.access_token_enc || (row.expires_at != 0 && row.expires_at - margin <= now);
    int64_t version = row.version;
    rg_token_row_clear(&row);
    backoff *b = backoff_of(r, conn);
    if (!due || (b && b->retry_at > now))
        return;

    rg_oauth_target t = {.site_id = site->site_id, .src = src, .kr = kr};
    rg_http_transport tr;
    char msg[300];
    rg_token_row after;
    rg_refresh_result res = rg_oauth_refresh(&t, st, transport(r, &tr), RG_REFRESH_IF_DUE,
                                             version, margin, &after, msg, sizeof msg);
    if (after.site_id)
        rg_oauth_conn_observe(conn, &after);
    switch (res) {
    case RG_REFRESH_DONE:
        rg_info("oauth %s/%s: token refreshed in the background (valid for %lld s)",
                site->site_id, src->name, (long long)(after.expires_at - (int64_t)time(NULL)));
        if (b)
            b->delay = b->retry_at = 0;
        break;
    case RG_REFRESH_CURRENT:
    case RG_REFRESH_REAUTH: /* logged once by the registry */
        if (b)
            b->delay = b->retry_at = 0;
        break;
    case RG_REFRESH_MISSING:
        rg_oauth_conn_observe(conn, NULL);
        break;
    case RG_REFRESH_FAILED:
        rg_warn("oauth %s/%s: background refresh failed: %s", site->site_id, src->name, msg);
        rg_oauth_conn_note_error(conn, msg);
        if (b) {
            b->delay = b->delay ? b->delay * 2 : BACKOFF_MIN_S;
            if (b->delay > BACKOFF_MAX_S)
                b->delay = BACKOFF_MAX_S;
            b->retry_at = (int64_t)time(NULL) + b->delay;
        }
        break;
    }
    rg_token_row_clear(&after);
}

static void scan(rg_oauth_refresher *r)
{
    rg_server *srv = r->srv;
    pthread_mutex_lock(&srv->rt_lock);
    rg_runtime *rt = srv->current;
    rg_runtime_retain(rt);
    pthread_mutex_unlock(&srv->rt_lock);
    rg_state_store *st = NULL;
    for (size_t i = 0; i < rt->cfg->nsites; i++) {
        const rg_site *site = &rt->cfg->sites[i];
        for (size_t j = 0; j < site->nsources; j++) {
            if (!site->sources[j].oauth)
                continue;
            if (!st && !(st = store_for(r, rt->cfg->state_store)))
                goto out;
            pthread_mutex_lock(&r->lock);
            bool stop = r->stopping;
            pthread_mutex_unlock(&r->lock);
            if (stop)
                goto out;
            check_one(r, st, rt->kr, site, &site->sources[j]);
        }
    }
out:
    rg_runtime_release(rt, 1);
}

static void *refresher_main(void *arg)
{
    rg_oauth_refresher *r = arg;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (!r->scan && !r->stopping)
            pthread_cond_wait(&r->cond, &r->lock);
        if (r->stopping)
            break;
        r->scan = false;
        pthread_mutex_unlock(&r->lock);
        scan(r);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    rg_state_close(r->st);
    r->st = NULL;
    return NULL;
}

/* Main loop: wake the refresher thread; never waits for it. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rg_oauth_refresher *r = arg;
    pthread_mutex_lock(&r->lock);
    r->scan = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

rg_oauth_refresher *rg_oauth_refresher_start(rg_server *srv)
{
    rg_oauth_refresher *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->srv = srv;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    unsigned char rnd[2];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        rnd[0] = rnd[1] = 0;
    r->jitter = (double)((rnd[0] << 8) | rnd[1]) / 65535.0 * 0.1;
    r->curl = rg_curl_loop_new(srv->main_base);
    r->tick = event_new(srv->main_base, -1, EV_PERSIST, on_tick, r);
    struct timeval tv = {.tv_sec = TICK_S, .tv_usec = 0};
    if (!r->curl || !r->tick || event_add(r->tick, &tv) != 0) {
        rg_oauth_refresher_stop(r);
        return NULL;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&r->thread, NULL, refresher_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        rg_oauth_refresher_stop(r);
        return NULL;
    }
    r->started = true;
    /* The first look at once: states and due tokens are known from the start. */
    on_tick(-1, 0, r);
    return r;
}

void rg_oauth_refresher_stop(rg_oauth_refresher *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    /* A refresh waiting for its HTTP answer gets "shutting down" and rolls
       back: its transaction never commits half a refresh. */
    rg_curl_loop_stop(r->curl);
    if (r->started)
        pthread_join(r->thread, NULL);
    if (r->tick)
        event_free(r->tick);
    rg_curl_loop_free(r->curl);
    while (r->backoffs) {
        backoff *n = r->backoffs->next;
        free(r->backoffs);
        r->backoffs = n;
    }
    free(r->st_url);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
}
