/*
 * POST /v1/{site}/events: the widget's structural analytics (docs/http-api.md,
 * "Events"). An event is a name from a fixed list, and optionally the
 * collection it concerns, field names of that collection, a count and a
 * latency; nothing else is accepted, so no value, query text or transcript
 * can be sent, stored or shown. Counts are added up in memory and written
 * every few seconds by a thread of their own to the state store, where every
 * instance sharing it adds to the same daily rows; the admin listener
 * (/events) and /metrics show the stored totals.
 */
#ifndef RG_EVENTS_H
#define RG_EVENTS_H

#include <event2/buffer.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "query/errors.h"

#define RG_EVENT_MAX_FIELDS 32

/* One validated event; names point into the site's configuration. */
typedef struct rg_event_in {
    const char *event;
    const char *collection; /* or NULL */
    const char *fields[RG_EVENT_MAX_FIELDS];
    size_t nfields;
    int64_t count;      /* 0 when absent */
    const char *latency; /* bucket name, or NULL */
} rg_event_in;

/* Validate a body against the site. 0, or -1 with a 400 in *e. */
int rg_event_parse(const rg_site *site, const char *body, size_t len, rg_event_in *out,
                   rg_api_error *e);

typedef struct rg_events rg_events;

/* Start the writer thread: counts go to `state_url` every flush_ms. NULL
   when out of memory or no thread could start. */
rg_events *rg_events_new(const char *state_url, unsigned flush_ms);
/* Count one event (any thread, never waits on I/O). */
void rg_events_record(rg_events *ev, const char *site_id, const rg_event_in *in);
/* Stop the thread after a last write. */
void rg_events_free(rg_events *ev);

/* From the last totals read back from the store. */
void rg_events_render_metrics(rg_events *ev, struct evbuffer *out);
/* {"events":[{site,event,collection,field,latency,count,items}...]} of one
   site (or all: NULL); malloc'd, NULL when out of memory. */
char *rg_events_json(rg_events *ev, const char *site);

#endif
