/* /metrics for OAuth connections: one gauge per state, refresh outcomes. */
#ifndef RG_OAUTH_METRICS_H
#define RG_OAUTH_METRICS_H

#include <event2/buffer.h>

struct rg_server;

void rg_oauth_render_metrics(struct rg_server *srv, struct evbuffer *out);

#endif
