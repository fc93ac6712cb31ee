/*
 * Everything a running server derives from one configuration: the config
 * itself, the master keys, the precomputed /collections documents and one
 * worker pool per source. Immutable once built and reference-counted: each
 * event loop holds a reference to the current runtime and every in-flight job
 * holds one to the runtime it started under, so a reload (SIGHUP) swaps in a
 * new runtime without dropping a request.
 */
#ifndef RG_RUNTIME_H
#define RG_RUNTIME_H

#include <stdatomic.h>
#include <stddef.h>

#include "http/client_ip.h"
#include "cache/coalesce.h"
#include "config/config.h"
#include "crypto/keyring.h"
#include "cache/result_cache.h"
#include "workers/source_pool.h"

typedef struct rg_site_rt {
    const rg_site *site;
    char *describe_json; /* GET /collections body */
    char *mcp_tools_json; /* the MCP tools/list result */
    size_t describe_len;
    rg_source_pool **pools; /* parallel to site->sources */
    struct rg_site_ai *ai;  /* the `ai` block resolved (ai_mint.h), or NULL */
} rg_site_rt;

typedef struct rg_runtime {
    atomic_int refs;
    rg_config *cfg;
    rg_keyring *kr;
    rg_site_rt *sites; /* parallel to cfg->sites */
    /* Queries running or queued per site, parallel to sites: the
       limits.max_inflight_per_site cap (503 overloaded beyond it). */
    atomic_uint *site_inflight;
    rg_cidr *proxies; /* trusted_proxies, parsed */
    size_t nproxies;
    /* Answers of collections with cache_ttl_s > 0 (NULL: cache.max_bytes
       is 0), and identical queries in flight. Per runtime, so a reload
       never serves or joins anything computed under the old config. */
    rg_result_cache *cache;
    rg_flights *flights;
    unsigned generation;
} rg_runtime;

/* Load config + keys and start pools. NULL on any error (each logged/added to d). */
rg_runtime *rg_runtime_new(const char *config_path, rg_diags *d, unsigned generation);
void rg_runtime_retain(rg_runtime *rt);
/* Dropping the last reference frees it; pools are joined on a separate
   thread when `background` is set, so an event loop never waits on them. */
void rg_runtime_release(rg_runtime *rt, int background);

const rg_site_rt *rg_runtime_site(const rg_runtime *rt, const char *site_id);
rg_source_pool *rg_runtime_pool(const rg_site_rt *srt, const rg_source *src);

#endif
