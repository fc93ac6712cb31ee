#include "ratelimit/ratelimit_policy.h"

#include <string.h>

void rg_rl_add_request_windows(rg_rl_check *c, rg_rl_route route, const rg_config *cfg,
                               const rg_site *site, const rg_rl_identity *who)
{
    const rg_route_limits *l = site ? &site->rate_limits.route[route] : &cfg->rate_limits.route[route];
    rg_rl_add_window(c, route, RG_RL_DIM_IP, l->per_ip_per_min, who->ip_key, sizeof who->ip_key);
    if (site && who->site_id) {
        size_t idlen = strlen(who->site_id);
        rg_rl_add_window(c, route, RG_RL_DIM_SITE, l->per_site_per_min, who->site_id, idlen);
        rg_rl_add_window(c, route, RG_RL_DIM_BURST, l->burst_per_s, who->site_id, idlen);
    }
    if (who->session_nonce)
        rg_rl_add_window(c, route, RG_RL_DIM_SESSION, l->per_session_per_min, who->session_nonce,
                         who->session_nonce_len);
}
