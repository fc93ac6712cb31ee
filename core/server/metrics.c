#include "server/metrics.h"

static const int statuses[RG_METRIC_STATUSES] = {200, 202, 204, 400, 401, 403, 404, 405, 406,
                                                 413, 415, 429, 500, 502, 503, 504, 0};
static const char *const route_names[RG_ROUTE_COUNT] = {
    "token", "query", "collections", "session", "mcp", "events", "preflight", "other"};

static int status_slot(int status)
{
    for (int i = 0; i < RG_METRIC_STATUSES - 1; i++)
        if (statuses[i] == status)
            return i;
    return RG_METRIC_STATUSES - 1; /* "other" */
}

void rg_metrics_count(rg_metrics *m, rg_route route, int status)
{
    atomic_fetch_add_explicit(&m->requests[route][status_slot(status)], 1, memory_order_relaxed);
}

void rg_metrics_ai_mint(rg_metrics *m, int status)
{
    int slot = status == 200 ? 0 : status == 502 ? 1 : status == 504 ? 2 : 3;
    atomic_fetch_add_explicit(&m->ai_mints[slot], 1, memory_order_relaxed);
}

void rg_metrics_query_time(rg_metrics *m, uint64_t micros)
{
    atomic_fetch_add_explicit(&m->query_us_sum, micros, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->query_count, 1, memory_order_relaxed);
}

void rg_metrics_render(const rg_metrics *m, struct evbuffer *out)
{
    evbuffer_add_printf(out, "# HELP readgate_requests_total HTTP requests by route and status.\n"
                             "# TYPE readgate_requests_total counter\n");
    for (int r = 0; r < RG_ROUTE_COUNT; r++)
        for (int s = 0; s < RG_METRIC_STATUSES; s++) {
            unsigned long v = atomic_load_explicit(&m->requests[r][s], memory_order_relaxed);
            if (!v)
                continue;
            if (statuses[s])
                evbuffer_add_printf(out, "readgate_requests_total{route=\"%s\",status=\"%d\"} %lu\n",
                                    route_names[r], statuses[s], v);
            else
                evbuffer_add_printf(out,
                                    "readgate_requests_total{route=\"%s\",status=\"other\"} %lu\n",
                                    route_names[r], v);
        }
    evbuffer_add_printf(
        out,
        "# HELP readgate_query_seconds Time from accepted query to response, summed.\n"
        "# TYPE readgate_query_seconds summary\n"
        "readgate_query_seconds_sum %.6f\nreadgate_query_seconds_count %lu\n"
        "# HELP readgate_upstream_errors_total Backend errors (unavailable or failed).\n"
        "# TYPE readgate_upstream_errors_total counter\nreadgate_upstream_errors_total %lu\n"
        "# HELP readgate_upstream_timeouts_total Queries that ran out of time.\n"
        "# TYPE readgate_upstream_timeouts_total counter\nreadgate_upstream_timeouts_total %lu\n",
        (double)atomic_load(&m->query_us_sum) / 1e6, (unsigned long)atomic_load(&m->query_count),
        (unsigned long)atomic_load(&m->upstream_errors),
        (unsigned long)atomic_load(&m->upstream_timeouts));
    static const char *const outcomes[4] = {"minted", "upstream_error", "upstream_timeout",
                                            "other"};
    evbuffer_add_printf(out, "# HELP readgate_ai_mints_total AI provider credentials minted on "
                             "/token, by outcome.\n# TYPE readgate_ai_mints_total counter\n");
    for (int i = 0; i < 4; i++)
        evbuffer_add_printf(out, "readgate_ai_mints_total{outcome=\"%s\"} %lu\n", outcomes[i],
                            (unsigned long)atomic_load(&m->ai_mints[i]));
}
