/*
 * Private to core/workers: the pool's insides, shared by the worker threads
 * (source_pool.c) and the event-loop lanes (source_lane.c).
 */
#ifndef RG_SOURCE_POOL_INTERNAL_H
#define RG_SOURCE_POOL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "workers/source_pool.h"

/* Jobs waiting beyond this are refused at once: better a quick 503 than a
   queue that only ever times out. */
#define RG_POOL_MAX_QUEUE 4096

struct rg_source_pool {
    char name[160]; /* "site/source" for logs */
    const rg_adapter *adapter;
    char load_error[512];
    const rg_keyring *kr;
    const rg_site *site;
    const rg_source *src;
    char *base_dir;
    rg_source_oauth *oauth; /* OAuth sources: their access token (refresh/source_oauth.h) */

    pthread_mutex_t lock;
    pthread_cond_t cond;
    rg_job *head, *tail;
    size_t queued;
    int stopping;

    pthread_t *threads;
    size_t nthreads;

    /* Event-loop lanes (source_lane.c): one per loop, made at first use. */
    bool async;                    /* the adapter has non-blocking queries */
    _Atomic(struct rg_lane **) lanes;
    int nlanes;
};


/* source_lane.c */
rg_status rg_lane_submit(rg_source_pool *p, struct event_base *base, int loop_index, int nloops,
                         rg_job *job, rg_error *err);
/* After the workers are joined and their queue drained. */
void rg_lanes_free(rg_source_pool *p);

#endif
