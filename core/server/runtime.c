#include "server/runtime.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server/ai_mint.h"
#include "crypto/audit.h"
#include "query/describe.h"
#include "util/log.h"
#include "util/thread.h"

static void runtime_free(rg_runtime *rt)
{
    if (!rt)
        return;
    if (rt->sites && rt->cfg) {
        for (size_t i = 0; i < rt->cfg->nsites; i++) {
            rg_site_rt *s = &rt->sites[i];
            if (s->pools)
                for (size_t j = 0; j < s->site->nsources; j++)
                    rg_source_pool_free(s->pools[j]);
            free(s->pools);
            free(s->describe_json);
            free(s->mcp_tools_json);
            rg_site_ai_free(s->ai);
        }
    }
    /* After the pools: nothing can finish a query any more. */
    rg_result_cache_free(rt->cache);
    rg_flights_free(rt->flights);
    free(rt->sites);
    free(rt->site_inflight);
    free(rt->proxies);
    rg_keyring_free(rt->kr);
    rg_config_free(rt->cfg);
    free(rt);
}

rg_runtime *rg_runtime_new(const char *config_path, rg_diags *d, unsigned generation)
{
    rg_runtime *rt = calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    atomic_init(&rt->refs, 1);
    rt->generation = generation;
    rt->cfg = rg_config_load(config_path, d);
    if (!rt->cfg) {
        runtime_free(rt);
        return NULL;
    }
    char why[512];
    rt->kr = rg_keyring_load(rt->cfg->keys_env, rt->cfg->keys_file, why, sizeof why);
    if (!rt->kr) {
        rg_diag_add(d, rt->cfg->file, 0, "master keys: %s", why);
        runtime_free(rt);
        return NULL;
    }
    /* Reopened on every (re)load, so the audit file can be rotated with SIGHUP. */
    if (rg_audit_open(rt->cfg->audit_log, why, sizeof why) != 0) {
        rg_diag_add(d, rt->cfg->file, 0, "audit_log: %s", why);
        runtime_free(rt);
        return NULL;
    }
    /* Refuse to run half-configured: every secret must open now. */
    if (rg_config_verify_secrets(rt->cfg, rt->kr, d) != 0) {
        runtime_free(rt);
        return NULL;
    }
    rt->sites = calloc(rt->cfg->nsites ? rt->cfg->nsites : 1, sizeof *rt->sites);
    rt->site_inflight = calloc(rt->cfg->nsites ? rt->cfg->nsites : 1, sizeof *rt->site_inflight);
    rt->proxies = calloc(rt->cfg->ntrusted_proxies ? rt->cfg->ntrusted_proxies : 1,
                         sizeof *rt->proxies);
    if (!rt->sites || !rt->site_inflight || !rt->proxies) {
        runtime_free(rt);
        return NULL;
    }
    for (size_t i = 0; i < rt->cfg->ntrusted_proxies; i++) {
        if (rg_cidr_parse(rt->cfg->trusted_proxies[i], &rt->proxies[rt->nproxies]) != 0) {
            rg_diag_add(d, rt->cfg->file, 0, "trusted_proxies: cannot use '%s'",
                        rt->cfg->trusted_proxies[i]);
            runtime_free(rt);
            return NULL;
        }
        rt->nproxies++;
    }
    for (size_t i = 0; i < rt->cfg->nsites; i++)
        atomic_init(&rt->site_inflight[i], 0);
    int cache_failed = 0;
    rt->cache = rg_result_cache_new(rt->cfg->cache_max_bytes, rg_cache_stats_shared(),
                                    &cache_failed);
    rt->flights = rg_flights_new();
    if (cache_failed || !rt->flights) {
        rg_diag_add(d, rt->cfg->file, 0, "out of memory for the result cache");
        runtime_free(rt);
        return NULL;
    }
    for (size_t i = 0; i < rt->cfg->nsites; i++) {
        rg_site_rt *s = &rt->sites[i];
        s->site = &rt->cfg->sites[i];
        s->describe_json = rg_describe_site(s->site, &rt->cfg->limits);
        s->mcp_tools_json = rg_describe_mcp_tools(s->site, &rt->cfg->limits);
        s->pools = calloc(s->site->nsources ? s->site->nsources : 1, sizeof *s->pools);
        if (!s->describe_json || !s->mcp_tools_json || !s->pools) {
            runtime_free(rt);
            return NULL;
        }
        s->describe_len = strlen(s->describe_json);
        if (s->site->ai && !(s->ai = rg_site_ai_new(rt->cfg, s->site))) {
            runtime_free(rt);
            return NULL;
        }
        for (size_t j = 0; j < s->site->nsources; j++) {
            s->pools[j] = rg_source_pool_new(rt->cfg, s->site, &s->site->sources[j], rt->kr);
            if (!s->pools[j]) {
                runtime_free(rt);
                return NULL;
            }
        }
    }
    return rt;
}

void rg_runtime_retain(rg_runtime *rt) { atomic_fetch_add(&rt->refs, 1); }

static void *free_thread(void *arg)
{
    runtime_free(arg);
    return NULL;
}

void rg_runtime_release(rg_runtime *rt, int background)
{
    if (!rt || atomic_fetch_sub(&rt->refs, 1) != 1)
        return;
    if (background) {
        if (rg_thread_detached(free_thread, rt) == 0)
            return;
        rg_warn("could not start a thread to retire the old configuration; retiring inline");
    }
    runtime_free(rt);
}

const rg_site_rt *rg_runtime_site(const rg_runtime *rt, const char *site_id)
{
    const rg_site *s = rg_config_find_site(rt->cfg, site_id);
    if (!s)
        return NULL;
    return &rt->sites[s - rt->cfg->sites];
}

rg_source_pool *rg_runtime_pool(const rg_site_rt *srt, const rg_source *src)
{
    return srt->pools[src - srt->site->sources];
}
