/*
 * One worker pool per source: `workers` threads, each with its own adapter
 * connection, taking jobs from the source's queue. Blocking client libraries
 * only ever run here, never on an event loop, and a slow or dead backend only
 * ties up its own source's workers, never another source's.
 *
 * Connections open lazily on the first job and are closed after a
 * connection-level failure; the next job reconnects, so a backend that comes
 * back is used again without restarting readgate. Encrypted options are
 * decrypted just before connect and wiped right after.
 *
 * A source with an `oauth` block gets its current access token from the state
 * store as the option access_token at connect (never a refresh token or
 * client secret). A worker reconnects when the connection's credential
 * generation moved on (a refresh anywhere committed a newer token), and after
 * RG_ERR_AUTH it refreshes once (core/oauth/oauth_refresh.h, on this thread,
 * under the store's row lock) and runs the job again once.
 */
#ifndef RG_SOURCE_POOL_H
#define RG_SOURCE_POOL_H

#include <readgate/adapter.h>

#include "config/config.h"
#include "crypto/keyring.h"
#include "refresh/source_oauth.h" /* RG_ERR_REAUTH */

struct event_base;


typedef struct rg_job rg_job;
struct rg_job {
    rg_job *next; /* queue link, pool-private */
    /* Runs on a worker thread with a connected adapter. It may run a second
       time: after RG_ERR_AUTH for a source with an `oauth` block (the token
       was refreshed and the adapter reconnected), and after
       RG_ERR_UNAVAILABLE on a connection that had been idle (it is retried
       once on a new one), so it must start from scratch each time. */
    rg_status (*run)(rg_job *job, const rg_adapter *adapter, void *conn, rg_error *err);
    /* Runs on the worker thread after run (or instead of it when the source
       can't connect or shuts down); must hand the job back to its owner and
       not touch pool state. */
    void (*complete)(rg_job *job, rg_status status, const rg_error *err);

    /* A query job sets these too: begin (re)starts it and says what to read
       and where the rows go, end finishes it after the adapter is done.
       With them, a source whose adapter has non-blocking queries runs the
       job on the submitting event loop (source_lane.c) instead of a worker;
       run is then rg_job_run_query. */
    const rg_query_plan *(*begin)(rg_job *job, rg_row_sink *sink, rg_error *err);
    rg_status (*end)(rg_job *job, rg_status status, rg_error *err);

    /* Internal (lanes): ask a worker for a new connection instead of a run. */
    void (*opened)(rg_job *job, rg_status status, void *conn, const rg_error *err);
    /* Internal (lanes): a query moved from a loop to the workers. */
    int moved;
};

/* run for a job with begin and end: begin, the adapter's query, end. */
rg_status rg_job_run_query(rg_job *job, const rg_adapter *adapter, void *conn, rg_error *err);

typedef struct rg_source_pool rg_source_pool;

/*
 * Start the pool. If the adapter can't be loaded the pool still exists (and
 * every submit fails with RG_ERR_UNAVAILABLE and the reason), so the rest of
 * the site and every other site keep working. NULL only on out of memory.
 */
rg_source_pool *rg_source_pool_new(const rg_config *cfg, const rg_site *site, const rg_source *src,
                                   const rg_keyring *kr);

/* Queue a job. RG_OK, or RG_ERR_UNAVAILABLE with a reason (adapter not
   loaded, queue full, shutting down); then complete() will not be called. */
rg_status rg_source_pool_submit(rg_source_pool *p, rg_job *job, rg_error *err);

/*
 * Like rg_source_pool_submit, from event loop `loop_index` of `nloops`
 * (base is its event_base): a query job on a source whose adapter has
 * non-blocking queries (and no OAuth connection) runs on that loop, on one of
 * the connections the loop keeps for the source (the source's `workers`
 * shared out among the loops); complete() is then called on the loop. Any
 * other job goes to the workers.
 */
rg_status rg_source_pool_submit_on(rg_source_pool *p, struct event_base *base, int loop_index,
                                   int nloops, rg_job *job, rg_error *err);

/* Stop the threads (after their current job), disconnect, free. Jobs still
   queued are completed with RG_ERR_UNAVAILABLE. */
void rg_source_pool_free(rg_source_pool *p);

const char *rg_source_pool_name(const rg_source_pool *p);
/* The adapter's name ("" when it did not load). */
const char *rg_source_pool_adapter_name(const rg_source_pool *p);
/* The adapter load error, or NULL. */
const char *rg_source_pool_load_error(const rg_source_pool *p);

#endif
