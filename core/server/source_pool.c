#include "source_pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter_check.h"
#include "plugin_registry.h"
#include "crypto/audit.h"
#include "crypto/secret.h"
#include "oauth/oauth_refresh.h"
#include "oauth/oauth_registry.h"
#include "oauth/oauth_request.h"
#include "state/state_store.h"
#include "util/log.h"

/* Jobs waiting beyond this are refused at once: better a quick 503 than a
   queue that only ever times out. */
#define RG_POOL_MAX_QUEUE 4096
/* An access token this close to expiry is refreshed before connecting
   rather than handed to an adapter that would be refused with it. */
#define RG_OAUTH_CONNECT_MARGIN_S 30

struct rg_source_pool {
    char name[160]; /* "site/source" for logs */
    const rg_adapter *adapter;
    char load_error[512];
    const rg_keyring *kr;
    const rg_site *site;
    const rg_source *src;
    char *base_dir;
    char *state_url;    /* OAuth sources: where their tokens are */
    rg_oauth_conn *oauth; /* OAuth sources: state and credential generation */

    pthread_mutex_t lock;
    pthread_cond_t cond;
    rg_job *head, *tail;
    size_t queued;
    int stopping;

    pthread_t *threads;
    size_t nthreads;
};

/* One worker thread's connection and what it was opened with. */
typedef struct worker {
    void *conn;
    rg_state_store *st;    /* OAuth sources: opened on first use */
    unsigned conn_gen;     /* credential generation the connection was opened under */
    int64_t conn_version;  /* store version of its access token */
} worker;

static void wipe_free(char *s, size_t len)
{
    if (s) {
        rg_secure_zero(s, len);
        free(s);
    }
}

static rg_status fail(rg_error *err, rg_status st, const char *fmt, const char *a, const char *b)
{
    err->status = st;
    snprintf(err->message, sizeof err->message, fmt, a, b);
    return st;
}

static rg_status reauth_error(rg_source_pool *p, rg_error *err)
{
    err->status = RG_ERR_REAUTH;
    snprintf(err->message, sizeof err->message,
             "the OAuth connection needs re-authorisation: run readgate oauth import --site "
             "%.40s --source %.64s",
             p->site->site_id, p->src->name);
    return RG_ERR_REAUTH;
}

/* Map a refresh outcome for a query: 0 when a current token is stored. */
static rg_status refresh_status(rg_source_pool *p, rg_refresh_result r, const char *msg,
                                rg_error *err)
{
    switch (r) {
    case RG_REFRESH_DONE:
    case RG_REFRESH_CURRENT:
        return RG_OK;
    case RG_REFRESH_REAUTH:
    case RG_REFRESH_MISSING:
        return reauth_error(p, err);
    default:
        return fail(err, RG_ERR_UNAVAILABLE, "could not refresh the OAuth token: %.180s%s", msg,
                    "");
    }
}

/*
 * The current access token of an OAuth source, decrypted into *token:
 * read from the store (the generation is read first, so a refresh committed
 * meanwhile is never missed), refreshed here first if it is about to expire.
 */
static rg_status oauth_token(rg_source_pool *p, worker *w, char **token, rg_error *err)
{
    char why[300];
    if (!w->st && !(w->st = rg_state_open(p->state_url, why, sizeof why)))
        return fail(err, RG_ERR_UNAVAILABLE, "%.250s%s", why, "");
    unsigned gen = rg_oauth_conn_generation(p->oauth);
    rg_token_row row = {0};
    int found = rg_state_get(w->st, p->site->site_id, p->src->name, &row, why, sizeof why);
    if (found < 0)
        return fail(err, RG_ERR_UNAVAILABLE, "%.250s%s", why, "");
    const rg_oauth_config *o = p->src->oauth;
    if (found || !o->service_account)
        rg_oauth_conn_observe(p->oauth, found ? &row : NULL);
    if (!found && !o->service_account)
        return reauth_error(p, err);
    int64_t now = (int64_t)time(NULL);
    bool reauth = found && strcmp(row.state, RG_TOKEN_STATE_NEEDS_REAUTH) == 0;
    if (reauth && !o->service_account) {
        rg_token_row_clear(&row);
        return reauth_error(p, err);
    }
    /* Never more than half the background margin, so a worker connecting
       doesn't refresh a token the background just made. */
    int64_t margin = RG_OAUTH_CONNECT_MARGIN_S;
    if (margin > (int64_t)o->refresh_margin_s / 2)
        margin = (int64_t)o->refresh_margin_s / 2;
    if (!found || reauth || !row.access_token_enc ||
        (row.expires_at != 0 && row.expires_at - margin <= now)) {
        rg_oauth_target t = {.site_id = p->site->site_id, .src = p->src, .kr = p->kr};
        rg_token_row after;
        rg_refresh_result r = rg_oauth_refresh(&t, w->st, &rg_http_blocking, RG_REFRESH_IF_DUE,
                                               row.version, margin, &after, why, sizeof why);
        rg_token_row_clear(&row);
        if (after.site_id)
            rg_oauth_conn_observe(p->oauth, &after);
        rg_status st = refresh_status(p, r, why, err);
        if (st != RG_OK) {
            rg_token_row_clear(&after);
            return st;
        }
        row = after;
    }
    char path[256];
    rg_oauth_token_path(path, sizeof path, p->src->name, "access_token");
    int rc = rg_oauth_open(p->kr, p->site->site_id, path, row.access_token_enc, token, why,
                           sizeof why);
    w->conn_version = row.version;
    w->conn_gen = gen;
    rg_token_row_clear(&row);
    if (rc != 0)
        return fail(err, RG_ERR_CONFIG, "%.250s%s", why, "");
    return RG_OK;
}

/* Decrypt the options and connect. The plaintext lives only for this call. */
static rg_status pool_connect(rg_source_pool *p, worker *w, void **conn, rg_error *err)
{
    const rg_source *src = p->src;
    size_t nopt = src->noptions + (src->oauth ? 1 : 0);
    rg_option *opts = calloc(nopt ? nopt : 1, sizeof *opts);
    char **plain = calloc(src->noptions ? src->noptions : 1, sizeof *plain);
    size_t *plain_len = calloc(src->noptions ? src->noptions : 1, sizeof *plain_len);
    char *token = NULL;
    rg_status st = RG_OK;
    if (!opts || !plain || !plain_len) {
        err->status = RG_ERR_INTERNAL;
        snprintf(err->message, sizeof err->message, "out of memory");
        st = RG_ERR_INTERNAL;
        goto out;
    }
    for (size_t i = 0; i < src->noptions; i++) {
        opts[i].struct_size = sizeof opts[i];
        opts[i].key = src->options[i].key;
        opts[i].value = src->options[i].value;
        if (!rg_secret_is_encrypted(src->options[i].value))
            continue;
        char path[256], why[256];
        snprintf(path, sizeof path, "sources.%s.options.%s", src->name, src->options[i].key);
        if (rg_secret_decrypt_audited(p->kr, p->site->site_id, path, src->options[i].value,
                                      "connect", &plain[i], &plain_len[i], why, sizeof why) != 0) {
            /* Configuration problem, not an outage; the message names the field only. */
            snprintf(err->message, sizeof err->message, "cannot decrypt %.120s: %.110s", path, why);
            err->status = RG_ERR_CONFIG;
            st = RG_ERR_CONFIG;
            goto out;
        }
        opts[i].value = plain[i];
    }
    if (src->oauth) {
        st = oauth_token(p, w, &token, err);
        if (st != RG_OK)
            goto out;
        opts[src->noptions].struct_size = sizeof opts[src->noptions];
        opts[src->noptions].key = "access_token";
        opts[src->noptions].value = token;
    }
    rg_source_info info = {
        .struct_size = sizeof info,
        .site_id = p->site->site_id,
        .source_name = src->name,
        .options = opts,
        .noptions = nopt,
        .connect_timeout_ms = src->connect_timeout_ms,
        .base_dir = p->base_dir,
    };
    err->status = RG_OK;
    err->message[0] = '\0';
    st = p->adapter->connect(&info, conn, err);
    if (st != RG_OK)
        *conn = NULL;
out:
    if (plain)
        for (size_t i = 0; i < src->noptions; i++)
            wipe_free(plain[i], plain_len[i]);
    free(plain);
    free(plain_len);
    free(opts);
    if (token)
        wipe_free(token, strlen(token));
    return st;
}

/*
 * Is the open connection of an OAuth source still good to use? Not once a
 * newer token was committed (the generation moved on) or the connection
 * needs re-authorisation.
 */
static bool oauth_stale(rg_source_pool *p, const worker *w)
{
    if (!p->oauth)
        return false;
    rg_oauth_state s = rg_oauth_conn_state(p->oauth, NULL, 0);
    return rg_oauth_conn_generation(p->oauth) != w->conn_gen ||
           s == RG_OAUTH_STATE_NEEDS_REAUTH || s == RG_OAUTH_STATE_MISSING;
}

static void drop(rg_source_pool *p, worker *w)
{
    if (w->conn)
        p->adapter->disconnect(w->conn);
    w->conn = NULL;
}

/* After RG_ERR_AUTH on an OAuth source: one refresh (unless another thread
   or process already stored a newer token), then reconnect. */
static rg_status reauthorise(rg_source_pool *p, worker *w, rg_error *err)
{
    char why[300];
    drop(p, w);
    if (!w->st && !(w->st = rg_state_open(p->state_url, why, sizeof why)))
        return fail(err, RG_ERR_UNAVAILABLE, "%.250s%s", why, "");
    rg_oauth_target t = {.site_id = p->site->site_id, .src = p->src, .kr = p->kr};
    rg_token_row after;
    rg_refresh_result r = rg_oauth_refresh(&t, w->st, &rg_http_blocking, RG_REFRESH_AFTER_REJECT,
                                           w->conn_version, 0, &after, why, sizeof why);
    if (after.site_id)
        rg_oauth_conn_observe(p->oauth, &after);
    rg_token_row_clear(&after);
    if (r == RG_REFRESH_DONE)
        rg_info("source %s: the provider refused the access token; refreshed it", p->name);
    rg_status st = refresh_status(p, r, why, err);
    if (st != RG_OK)
        return st;
    return pool_connect(p, w, &w->conn, err);
}

static void *worker_main(void *arg)
{
    rg_source_pool *p = arg;
    worker w = {0};
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        if (p->stopping) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        rg_job *job = p->head;
        p->head = job->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->lock);
        job->next = NULL;

        rg_error err = {.struct_size = sizeof(rg_error)};
        rg_status st = RG_OK;
        if (w.conn && oauth_stale(p, &w))
            drop(p, &w); /* reconnect with the current token */
        bool reused = w.conn != NULL;
        if (!w.conn) {
            st = pool_connect(p, &w, &w.conn, &err);
            if (st != RG_OK && st != RG_ERR_REAUTH)
                rg_warn("source %s: connect failed: %s", p->name, err.message);
        }
        if (st == RG_OK) {
            st = job->run(job, p->adapter, w.conn, &err);
            if (st == RG_ERR_UNAVAILABLE && reused) {
                /* A connection that sat idle may have died with its server
                   (a restart, a failover, an idle timeout) without anyone
                   noticing. Jobs only read and start from scratch, so one
                   fresh connection gets one more try before the caller
                   sees a 503; a backend that is really down refuses the
                   connect at once. */
                rg_warn("source %s: %s; retrying once on a new connection", p->name,
                        err.message);
                drop(p, &w);
                err = (rg_error){.struct_size = sizeof(rg_error)};
                st = pool_connect(p, &w, &w.conn, &err);
                if (st == RG_OK)
                    st = job->run(job, p->adapter, w.conn, &err);
            }
            if (st == RG_ERR_AUTH && p->oauth) {
                /* The provider refused the token (expired early, revoked
                   and re-granted...): one refresh, one retry. */
                rg_error aerr = {.struct_size = sizeof(rg_error)};
                st = reauthorise(p, &w, &aerr);
                if (st == RG_OK) {
                    err = (rg_error){.struct_size = sizeof(rg_error)};
                    st = job->run(job, p->adapter, w.conn, &err);
                } else {
                    err = aerr;
                }
            }
            if (st == RG_ERR_UNAVAILABLE || st == RG_ERR_AUTH) {
                /* The connection is suspect: drop it, the next job reconnects. */
                rg_warn("source %s: %s; reconnecting on next use", p->name, err.message);
                drop(p, &w);
            }
        }
        err.status = st;
        job->complete(job, st, &err);
    }
    drop(p, &w);
    rg_state_close(w.st);
    return NULL;
}

rg_source_pool *rg_source_pool_new(const rg_config *cfg, const rg_site *site, const rg_source *src,
                                   const rg_keyring *kr)
{
    rg_source_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->name, sizeof p->name, "%s/%s", site->site_id, src->name);
    p->kr = kr;
    p->site = site;
    p->src = src;
    /* Relative paths in options are relative to the site file. */
    const char *slash = strrchr(site->file, '/');
    p->base_dir = slash ? strndup(site->file, (size_t)(slash - site->file)) : strdup(".");
    if (!p->base_dir) {
        free(p);
        return NULL;
    }
    if (src->oauth) {
        p->state_url = strdup(cfg->state_store);
        p->oauth = rg_oauth_conn_get(site->site_id, src->name);
        if (!p->state_url || !p->oauth) {
            free(p->state_url);
            free(p->base_dir);
            free(p);
            return NULL;
        }
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);

    p->adapter = rg_adapter_load(cfg->adapters_dir, src->adapter, p->load_error,
                                 sizeof p->load_error);
    if (!p->adapter)
        return p; /* stays unavailable; the reason was logged by the loader */
    /* Options the adapter refuses would fail every connect: refuse them
       now, once, with the adapter's reason, as `readgate check` does. */
    char why[400];
    if (rg_adapter_check_source(p->adapter, site, src, why, sizeof why) != 0) {
        snprintf(p->load_error, sizeof p->load_error, "adapter %s refuses the options: %s",
                 src->adapter, why);
        rg_error_log("site %s source %s: %s; its collections answer 503 until the "
                     "configuration is fixed and reloaded",
                     site->site_id, src->name, p->load_error);
        p->adapter = NULL;
        return p;
    }

    size_t n = src->workers ? src->workers : 1;
    p->threads = calloc(n, sizeof *p->threads);
    if (!p->threads) {
        snprintf(p->load_error, sizeof p->load_error, "out of memory");
        p->adapter = NULL;
        return p;
    }
    /* Workers never take signals: the main thread handles them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (size_t i = 0; i < n; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
            rg_error_log("source %s: could not start worker %zu of %zu", p->name, i + 1, n);
            break;
        }
        p->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (p->nthreads == 0) {
        snprintf(p->load_error, sizeof p->load_error, "no worker thread could be started");
        p->adapter = NULL;
    }
    return p;
}

rg_status rg_source_pool_submit(rg_source_pool *p, rg_job *job, rg_error *err)
{
    if (!p->adapter) {
        err->status = RG_ERR_UNAVAILABLE;
        snprintf(err->message, sizeof err->message, "adapter not loaded: %.200s", p->load_error);
        return RG_ERR_UNAVAILABLE;
    }
    pthread_mutex_lock(&p->lock);
    if (p->stopping || p->queued >= RG_POOL_MAX_QUEUE) {
        int stopping = p->stopping;
        pthread_mutex_unlock(&p->lock);
        err->status = RG_ERR_UNAVAILABLE;
        snprintf(err->message, sizeof err->message, "%s",
                 stopping ? "source is shutting down" : "source queue is full");
        return RG_ERR_UNAVAILABLE;
    }
    job->next = NULL;
    if (p->tail)
        p->tail->next = job;
    else
        p->head = job;
    p->tail = job;
    p->queued++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return RG_OK;
}

void rg_source_pool_free(rg_source_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    /* Anything still queued gets an answer so its owner can free it. */
    rg_job *j = p->head;
    while (j) {
        rg_job *next = j->next;
        rg_error err = {.struct_size = sizeof(rg_error),
                        .status = RG_ERR_UNAVAILABLE,
                        .message = "source is shutting down"};
        j->complete(j, RG_ERR_UNAVAILABLE, &err);
        j = next;
    }
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->threads);
    free(p->base_dir);
    free(p->state_url);
    free(p);
}

const char *rg_source_pool_name(const rg_source_pool *p) { return p->name; }
const char *rg_source_pool_load_error(const rg_source_pool *p)
{
    return p->adapter ? NULL : p->load_error;
}
