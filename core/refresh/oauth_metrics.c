#include "refresh/oauth_metrics.h"

#include "oauth/oauth_registry.h"
#include "server/server.h"

void rg_oauth_render_metrics(rg_server *srv, struct evbuffer *out)
{
    pthread_mutex_lock(&srv->rt_lock);
    rg_runtime *rt = srv->current;
    rg_runtime_retain(rt);
    pthread_mutex_unlock(&srv->rt_lock);
    /* Connections of the current configuration only: a source removed by a
       reload no longer counts. */
    unsigned long count[RG_OAUTH_NSTATES] = {0};
    for (size_t i = 0; i < rt->cfg->nsites; i++) {
        const rg_site *site = &rt->cfg->sites[i];
        for (size_t j = 0; j < site->nsources; j++) {
            if (!site->sources[j].oauth)
                continue;
            rg_oauth_conn *c = rg_oauth_conn_get(site->site_id, site->sources[j].name);
            count[c ? rg_oauth_conn_state(c, NULL, 0) : RG_OAUTH_STATE_UNKNOWN]++;
        }
    }
    rg_runtime_release(rt, 1);
    evbuffer_add_printf(out, "# HELP readgate_oauth_connections OAuth connections by state.\n"
                             "# TYPE readgate_oauth_connections gauge\n");
    for (int s = 0; s < RG_OAUTH_NSTATES; s++)
        evbuffer_add_printf(out, "readgate_oauth_connections{state=\"%s\"} %lu\n",
                            rg_oauth_state_name((rg_oauth_state)s), count[s]);
    static const char *const outcome[RG_OAUTH_REFRESH_NOUTCOMES] = {"ok", "invalid_grant",
                                                                    "error"};
    evbuffer_add_printf(out, "# HELP readgate_oauth_refreshes_total Token refreshes by outcome.\n"
                             "# TYPE readgate_oauth_refreshes_total counter\n");
    for (int o = 0; o < RG_OAUTH_REFRESH_NOUTCOMES; o++)
        evbuffer_add_printf(out, "readgate_oauth_refreshes_total{outcome=\"%s\"} %lu\n",
                            outcome[o], rg_oauth_refresh_count((rg_oauth_refresh_outcome)o));
}
