#include "workers/source_pool.h"
#include "workers/source_pool_internal.h"

#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workers/adapter_check.h"
#include "workers/plugin_registry.h"
#include "crypto/audit.h"
#include "crypto/secret.h"
#include "refresh/source_oauth.h"
#include "util/log.h"

/* One worker thread's connection and what it was opened with. */
typedef struct worker {
    void *conn;
    rg_oauth_worker oauth; /* OAuth sources: the token it was opened with */
} worker;

static void wipe_free(char *s, size_t len)
{
    if (s) {
        rg_secure_zero(s, len);
        free(s);
    }
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
        st = rg_source_oauth_token(p->oauth, &w->oauth, &token, err);
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
    drop(p, w);
    rg_status st = rg_source_oauth_after_reject(p->oauth, &w->oauth, p->name, err);
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
        if (job->opened) { /* a connection for an event loop's lane */
            void *conn = NULL;
            worker fresh = {0};
            st = pool_connect(p, &fresh, &conn, &err);
            if (st != RG_OK)
                rg_warn("source %s: connect failed: %s", p->name, err.message);
            job->opened(job, st, conn, &err);
            continue;
        }
        if (w.conn && p->oauth && rg_source_oauth_stale(p->oauth, &w.oauth))
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
    rg_oauth_worker_close(&w.oauth);
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
        p->oauth = rg_source_oauth_new(cfg->state_store, site, src, kr);
        if (!p->oauth) {
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

    /* Non-blocking queries on the event loops, when the adapter has them;
       OAuth sources keep to the workers, where a token can be refreshed. */
    p->async = !src->oauth && p->adapter->struct_size >= RG_ADAPTER_SIZE_2_1 &&
               p->adapter->query_start && p->adapter->query_resume && p->adapter->socket;

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

rg_status rg_job_run_query(rg_job *job, const rg_adapter *adapter, void *conn, rg_error *err)
{
    rg_row_sink sink;
    const rg_query_plan *plan = job->begin(job, &sink, err);
    if (!plan)
        return err->status;
    rg_status st = adapter->query(conn, plan, &sink, err);
    return job->end(job, st, err);
}

rg_status rg_source_pool_submit_on(rg_source_pool *p, struct event_base *base, int loop_index,
                                   int nloops, rg_job *job, rg_error *err)
{
    if (p->async && job->begin && job->end && !job->moved)
        return rg_lane_submit(p, base, loop_index, nloops, job, err);
    return rg_source_pool_submit(p, job, err);
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
        if (j->opened)
            j->opened(j, RG_ERR_UNAVAILABLE, NULL, &err);
        else
            j->complete(j, RG_ERR_UNAVAILABLE, &err);
        j = next;
    }
    rg_lanes_free(p);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->threads);
    free(p->base_dir);
    rg_source_oauth_free(p->oauth);
    free(p);
}

const char *rg_source_pool_name(const rg_source_pool *p) { return p->name; }
const char *rg_source_pool_adapter_name(const rg_source_pool *p)
{
    return p->adapter ? p->adapter->name : "";
}
const char *rg_source_pool_load_error(const rg_source_pool *p)
{
    return p->adapter ? NULL : p->load_error;
}
