#include "server/events.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state/state_store.h"
#include "util/log.h"

/* What a widget may report. A name not listed is refused. */
static const char *const event_names[] = {
    "widget_opened", "widget_closed", "session_started", "query_sent", "results_shown",
    "no_results",    "result_clicked", "voice_started",  "voice_ended", "tool_called",
    "error_shown",   NULL};

static const struct {
    int64_t below_ms;
    const char *name;
} buckets[] = {{100, "lt_100ms"},   {300, "lt_300ms"}, {1000, "lt_1s"},
               {3000, "lt_3s"},     {10000, "lt_10s"}, {INT64_MAX, "ge_10s"}};

#define MAX_COUNT 1000000
#define MAX_LATENCY_MS 3600000
/* Distinct rows kept between two writes; beyond, events are dropped (and
   counted) rather than memory growing without bound. */
#define MAX_PENDING 8192

static const char *const allowed_keys = "event, collection, fields, count, latency_ms";

static const char *known_event(const char *name)
{
    for (size_t i = 0; event_names[i]; i++)
        if (strcmp(name, event_names[i]) == 0)
            return event_names[i];
    return NULL;
}

static const rg_field *visible_field(const rg_collection *c, const char *name)
{
    int i = rg_collection_find_field(c, name);
    if (i < 0)
        return NULL;
    const rg_field *f = &c->fields[i];
    /* A field with no role is unknown to the outside world, here too. */
    return f->display || f->searchable || f->sortable || f->ops ? f : NULL;
}

/* doc's member `key`, when present and not null, into *v: an integer from 0
   to max. 0 (*v untouched when absent), or -1 with e set. */
static int optional_integer(json_t *doc, const char *key, int64_t max, int64_t *v, rg_api_error *e)
{
    json_t *j = json_object_get(doc, key);
    if (!j || json_is_null(j))
        return 0;
    if (!json_is_integer(j) || json_integer_value(j) < 0 || json_integer_value(j) > max) {
        rg_api_err(e, RG_E_INVALID_EVENT, key, "%s must be an integer from 0 to %lld", key,
                   (long long)max);
        return -1;
    }
    *v = json_integer_value(j);
    return 0;
}

int rg_event_parse(const rg_site *site, const char *body, size_t len, rg_event_in *out,
                   rg_api_error *e)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(doc)) {
        json_decref(doc);
        rg_api_err_default(e, RG_E_INVALID_JSON);
        return -1;
    }
    int rc = -1;
    const char *key;
    json_t *v;
    char msg[300];
    json_object_foreach(doc, key, v) {
        if (strcmp(key, "event") && strcmp(key, "collection") && strcmp(key, "fields") &&
            strcmp(key, "count") && strcmp(key, "latency_ms")) {
            snprintf(msg, sizeof msg,
                     "property '%.64s' is not allowed: events carry structure only (%s), never "
                     "values, query text or transcripts",
                     key, allowed_keys);
            rg_api_err(e, RG_E_INVALID_EVENT, key, "%s", msg);
            goto out;
        }
    }
    json_t *ev = json_object_get(doc, "event");
    if (!json_is_string(ev) || !(out->event = known_event(json_string_value(ev)))) {
        snprintf(msg, sizeof msg,
                 "event must be one of widget_opened, widget_closed, session_started, "
                 "query_sent, results_shown, no_results, result_clicked, voice_started, "
                 "voice_ended, tool_called, error_shown");
        rg_api_err(e, RG_E_INVALID_EVENT, "event", "%s", msg);
        goto out;
    }
    const rg_collection *coll = NULL;
    json_t *c = json_object_get(doc, "collection");
    if (c && !json_is_null(c)) {
        if (!json_is_string(c) || !(coll = rg_site_find_collection(site, json_string_value(c)))) {
            rg_api_err(e, RG_E_UNKNOWN_COLLECTION, "collection",
                       "collection must name one of this site's collections");
            goto out;
        }
        out->collection = coll->name;
    }
    json_t *fields = json_object_get(doc, "fields");
    if (fields && !json_is_null(fields)) {
        if (!coll) {
            rg_api_err(e, RG_E_INVALID_EVENT, "fields",
                       "fields need the collection they belong to");
            goto out;
        }
        if (!json_is_array(fields) || json_array_size(fields) > RG_EVENT_MAX_FIELDS) {
            rg_api_err(e, RG_E_INVALID_EVENT, "fields",
                       "fields must be an array of at most 32 field names");
            goto out;
        }
        size_t i;
        json_t *f;
        json_array_foreach(fields, i, f) {
            const rg_field *rf = json_is_string(f) ? visible_field(coll, json_string_value(f))
                                                   : NULL;
            char path[32];
            snprintf(path, sizeof path, "fields[%zu]", i);
            if (!rf) {
                snprintf(msg, sizeof msg, "%s must name a field of collection '%s'", path,
                         coll->name);
                rg_api_err(e, RG_E_UNKNOWN_FIELD, path, "%s", msg);
                goto out;
            }
            for (size_t k = 0; k < out->nfields; k++)
                if (out->fields[k] == rf->name) {
                    snprintf(msg, sizeof msg, "%s repeats field '%s'", path, rf->name);
                    rg_api_err(e, RG_E_INVALID_EVENT, path, "%s", msg);
                    goto out;
                }
            out->fields[out->nfields++] = rf->name;
        }
    }
    int64_t ms = -1; /* no latency reported */
    if (optional_integer(doc, "count", MAX_COUNT, &out->count, e) != 0 ||
        optional_integer(doc, "latency_ms", MAX_LATENCY_MS, &ms, e) != 0)
        goto out;
    /* Kept as a bucket only: exact timings could fingerprint a visitor. */
    for (size_t i = 0; ms >= 0 && i < sizeof buckets / sizeof buckets[0]; i++)
        if (ms < buckets[i].below_ms) {
            out->latency = buckets[i].name;
            break;
        }
    rc = 0;
out:
    json_decref(doc);
    return rc;
}

/* ---- counting and writing ------------------------------------------------------ */

struct rg_events {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool started, stopping;
    char *state_url;
    unsigned flush_ms;
    rg_event_count *pending; /* since the last write */
    size_t npending, cap;
    unsigned long dropped;
    rg_event_count *totals; /* read back after the last write */
    size_t ntotals;
};

static void add_row(rg_events *ev, const char *site, const char *day, const char *event,
                    const char *coll, const char *field, const char *latency, int64_t n,
                    int64_t items)
{
    for (size_t i = 0; i < ev->npending; i++) {
        rg_event_count *r = &ev->pending[i];
        if (!strcmp(r->site_id, site) && !strcmp(r->day, day) && !strcmp(r->event, event) &&
            !strcmp(r->collection, coll) && !strcmp(r->field, field) &&
            !strcmp(r->latency, latency)) {
            r->n += n;
            r->items += items;
            return;
        }
    }
    if (ev->npending == ev->cap) {
        size_t nc = ev->cap ? ev->cap * 2 : 64;
        rg_event_count *nr = nc <= MAX_PENDING ? realloc(ev->pending, nc * sizeof *nr) : NULL;
        if (!nr) {
            ev->dropped++;
            return;
        }
        ev->pending = nr;
        ev->cap = nc;
    }
    rg_event_count *r = &ev->pending[ev->npending++];
    memset(r, 0, sizeof *r);
    snprintf(r->site_id, sizeof r->site_id, "%s", site);
    snprintf(r->day, sizeof r->day, "%s", day);
    snprintf(r->event, sizeof r->event, "%s", event);
    snprintf(r->collection, sizeof r->collection, "%s", coll);
    snprintf(r->field, sizeof r->field, "%s", field);
    snprintf(r->latency, sizeof r->latency, "%s", latency);
    r->n = n;
    r->items = items;
}

void rg_events_record(rg_events *ev, const char *site_id, const rg_event_in *in)
{
    char day[11];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    const char *coll = in->collection ? in->collection : "";
    pthread_mutex_lock(&ev->lock);
    /* One row for the event itself, one per field it names. */
    add_row(ev, site_id, day, in->event, coll, "", in->latency ? in->latency : "", 1, in->count);
    for (size_t i = 0; i < in->nfields; i++)
        add_row(ev, site_id, day, in->event, coll, in->fields[i], "", 1, in->count);
    pthread_mutex_unlock(&ev->lock);
}

/* Write what is pending and read the totals back. Writer thread. */
static void flush(rg_events *ev, rg_state_store **st)
{
    pthread_mutex_lock(&ev->lock);
    rg_event_count *rows = ev->pending;
    size_t n = ev->npending;
    unsigned long dropped = ev->dropped;
    ev->pending = NULL;
    ev->npending = ev->cap = 0;
    ev->dropped = 0;
    pthread_mutex_unlock(&ev->lock);
    if (dropped)
        rg_warn("widget events: %lu events dropped (more than %d distinct counts between two "
                "writes)",
                dropped, MAX_PENDING);
    char err[300];
    if (!*st && !(*st = rg_state_open(ev->state_url, err, sizeof err))) {
        rg_warn("widget events: %s; %zu counts wait for the next write", err, n);
        goto keep;
    }
    if (rg_state_events_add(*st, rows, n, err, sizeof err) != 0) {
        rg_warn("widget events: %s; %zu counts wait for the next write", err, n);
        rg_state_close(*st); /* the connection may be what failed */
        *st = NULL;
        goto keep;
    }
    free(rows);
    rg_event_count *totals = NULL;
    size_t nt = 0;
    if (rg_state_events_list(*st, NULL, &totals, &nt, err, sizeof err) != 0) {
        rg_warn("widget events: reading totals: %s", err);
        return;
    }
    pthread_mutex_lock(&ev->lock);
    free(ev->totals);
    ev->totals = totals;
    ev->ntotals = nt;
    pthread_mutex_unlock(&ev->lock);
    return;
keep:
    /* Put the unwritten counts back in front of what came meanwhile. */
    pthread_mutex_lock(&ev->lock);
    rg_event_count *later = ev->pending;
    size_t nlater = ev->npending;
    ev->pending = rows;
    ev->npending = ev->cap = n;
    for (size_t i = 0; i < nlater; i++) {
        const rg_event_count *r = &later[i];
        add_row(ev, r->site_id, r->day, r->event, r->collection, r->field, r->latency, r->n,
                r->items);
    }
    free(later);
    pthread_mutex_unlock(&ev->lock);
}

static void *writer(void *arg)
{
    rg_events *ev = arg;
    rg_state_store *st = NULL;
    pthread_mutex_lock(&ev->lock);
    while (!ev->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += ev->flush_ms / 1000;
        until.tv_nsec += (long)(ev->flush_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&ev->wake, &ev->lock, &until);
        pthread_mutex_unlock(&ev->lock);
        flush(ev, &st);
        pthread_mutex_lock(&ev->lock);
    }
    pthread_mutex_unlock(&ev->lock);
    flush(ev, &st); /* the last counts before the process ends */
    if (st)
        rg_state_close(st);
    return NULL;
}

rg_events *rg_events_new(const char *state_url, unsigned flush_ms)
{
    rg_events *ev = calloc(1, sizeof *ev);
    if (!ev || !(ev->state_url = strdup(state_url))) {
        free(ev);
        return NULL;
    }
    ev->flush_ms = flush_ms ? flush_ms : 1000;
    pthread_mutex_init(&ev->lock, NULL);
    pthread_cond_init(&ev->wake, NULL);
    if (pthread_create(&ev->thread, NULL, writer, ev) != 0) {
        rg_events_free(ev);
        return NULL;
    }
    ev->started = true;
    return ev;
}

void rg_events_free(rg_events *ev)
{
    if (!ev)
        return;
    if (ev->started) {
        pthread_mutex_lock(&ev->lock);
        ev->stopping = true;
        pthread_cond_signal(&ev->wake);
        pthread_mutex_unlock(&ev->lock);
        pthread_join(ev->thread, NULL);
    }
    pthread_mutex_destroy(&ev->lock);
    pthread_cond_destroy(&ev->wake);
    free(ev->pending);
    free(ev->totals);
    free(ev->state_url);
    free(ev);
}

void rg_events_render_metrics(rg_events *ev, struct evbuffer *out)
{
    evbuffer_add_printf(out, "# HELP readgate_widget_events_total Widget events reported on "
                             "/events (every instance sharing the state store).\n"
                             "# TYPE readgate_widget_events_total counter\n");
    if (!ev)
        return;
    pthread_mutex_lock(&ev->lock);
    /* Rows are sorted by site and event; the field rows repeat an event. */
    for (size_t i = 0; i < ev->ntotals;) {
        const rg_event_count *r = &ev->totals[i];
        int64_t n = 0;
        size_t j = i;
        for (; j < ev->ntotals && !strcmp(ev->totals[j].site_id, r->site_id) &&
               !strcmp(ev->totals[j].event, r->event);
             j++)
            if (!ev->totals[j].field[0])
                n += ev->totals[j].n;
        evbuffer_add_printf(out, "readgate_widget_events_total{site=\"%s\",event=\"%s\"} %lld\n",
                            r->site_id, r->event, (long long)n);
        i = j;
    }
    pthread_mutex_unlock(&ev->lock);
}

char *rg_events_json(rg_events *ev, const char *site)
{
    json_t *root = json_object();
    json_t *arr = json_array();
    if (!root || !arr || json_object_set_new(root, "events", arr) != 0) {
        json_decref(root);
        return NULL;
    }
    int ok = 1;
    pthread_mutex_lock(&ev->lock);
    for (size_t i = 0; i < ev->ntotals && ok; i++) {
        const rg_event_count *r = &ev->totals[i];
        if (site && strcmp(site, r->site_id) != 0)
            continue;
        json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:I, s:I}", "site", r->site_id,
                              "event", r->event, "collection",
                              r->collection[0] ? r->collection : NULL, "field",
                              r->field[0] ? r->field : NULL, "latency",
                              r->latency[0] ? r->latency : NULL, "count", (json_int_t)r->n,
                              "items", (json_int_t)r->items);
        ok = o && json_array_append_new(arr, o) == 0;
    }
    pthread_mutex_unlock(&ev->lock);
    char *text = ok ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return text;
}
