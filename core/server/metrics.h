/* Prometheus counters, lock-free (relaxed atomics) so the request path never waits. */
#ifndef RG_METRICS_H
#define RG_METRICS_H

#include <event2/buffer.h>
#include <stdatomic.h>
#include <stdint.h>

typedef enum rg_route {
    RG_ROUTE_TOKEN,
    RG_ROUTE_QUERY,
    RG_ROUTE_COLLECTIONS,
    RG_ROUTE_SESSION,
    RG_ROUTE_MCP,
    RG_ROUTE_EVENTS,
    RG_ROUTE_PREFLIGHT,
    RG_ROUTE_OTHER,
    RG_ROUTE_COUNT
} rg_route;

#define RG_METRIC_STATUSES 17

typedef struct rg_metrics {
    atomic_ulong requests[RG_ROUTE_COUNT][RG_METRIC_STATUSES];
    atomic_ulong query_us_sum;
    atomic_ulong query_count;
    atomic_ulong upstream_errors;
    atomic_ulong upstream_timeouts;
    /* AI credential mints on /token: minted, provider failed (502), provider
       too slow (504), anything else. */
    atomic_ulong ai_mints[4];
} rg_metrics;

void rg_metrics_count(rg_metrics *m, rg_route route, int status);
void rg_metrics_ai_mint(rg_metrics *m, int status);
void rg_metrics_query_time(rg_metrics *m, uint64_t micros);
/* Append the Prometheus text exposition. */
void rg_metrics_render(const rg_metrics *m, struct evbuffer *out);

#endif
