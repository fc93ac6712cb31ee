/*
 * readgate-adapter-sheets: reads a Google Sheets range through the Sheets API
 * v4 (GET /v4/spreadsheets/{id}/values:batchGet).
 *
 * Options: spreadsheet_id (required), access_token (an OAuth access token,
 * injected by the core for sources with an oauth block), base_url (default
 * https://sheets.googleapis.com), cache_ttl_s (default 60). The collection's
 * target is an A1 range ("Products!A1:Z"); its first row is the header, and
 * each field's column is a header cell's text.
 *
 * Sheets has no query language, so everything (filters, search, order,
 * keyset paging, limit) is done in memory (memfilter.c) on a cached read of
 * the whole range: values are read UNFORMATTED (numbers as numbers, booleans
 * as booleans), dates and date-times as their formatted text.
 *
 * Cache. One copy per site, source, spreadsheet and range, shared by every
 * connection of the process; it is fresh for cache_ttl_s seconds. Only one
 * read of a range is in flight at a time: other connections wait for it
 * (within their deadline). A copy stays after it expires, as a fallback.
 * The cache is keyed by site and source so that one site's token never
 * serves another site's data.
 *
 * Quota. Google allows 60 read requests per minute per user. The adapter
 * keeps a budget of 60 reads in any 60.5 s per user (identified by a hash of
 * the access token) for the whole process. When the budget is spent, or
 * Google answers 429 RESOURCE_EXHAUSTED, the expired copy is served if there
 * is one; otherwise the query fails with RG_ERR_UNAVAILABLE at once. After a
 * 429 no read is sent for that user for 10 s.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <readgate/adapter.h>

#include "memfilter.h"
#include "adapter_err.h"
#include "saas_http.h"

#define ADAPTER_NAME "sheets"
#define DEFAULT_BASE_URL "https://sheets.googleapis.com"
#define DEFAULT_TTL_S 60
/* "Read requests per minute per user: 60"; a margin for clock skew. */
#define READS_PER_WINDOW 60
#define WINDOW_MS 60500
#define PENALTY_MS 10000

static const rg_host_api *host;

#define logf_(lvl, ...) rg_adapter_log(host, ADAPTER_NAME, lvl, __VA_ARGS__)

/* ---- options --------------------------------------------------------------------- */

typedef struct sh_options {
    const char *spreadsheet_id, *base_url, *access_token;
    unsigned long ttl_s;
} sh_options;

static int valid_id(const char *s)
{
    if (!s || !*s || strlen(s) > 200)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return 0;
    return 1;
}

static rg_status parse_options(const rg_source_info *src, sh_options *o, rg_error *err)
{
    memset(o, 0, sizeof *o);
    o->base_url = DEFAULT_BASE_URL;
    o->ttl_s = DEFAULT_TTL_S;
    for (size_t i = 0; i < src->noptions; i++) {
        const rg_option *opt = rg_option_at(src->options, i);
        const char *k = opt->key, *v = opt->value;
        if (!strcmp(k, "spreadsheet_id")) {
            o->spreadsheet_id = v;
        } else if (!strcmp(k, "base_url")) {
            if (rg_saas_opt_base_url(k, v, err) != 0)
                return RG_ERR_CONFIG;
            o->base_url = v;
        } else if (!strcmp(k, "access_token")) {
            o->access_token = v;
        } else if (!strcmp(k, "cache_ttl_s")) {
            if (rg_saas_opt_uint(k, v, 0, 86400, &o->ttl_s, err) != 0)
                return RG_ERR_CONFIG;
        } else {
            return rg_saas_fail(err, RG_ERR_CONFIG,
                                "unknown option '%s' for the sheets adapter; expected: "
                                "spreadsheet_id, access_token, base_url, cache_ttl_s",
                                k);
        }
    }
    if (!valid_id(o->spreadsheet_id))
        return rg_saas_fail(err, RG_ERR_CONFIG,
                            "option 'spreadsheet_id' is required: the id in the sheet's URL "
                            "(letters, digits, '-' and '_')");
    if (o->access_token && strncmp(o->access_token, "enc:", 4) &&
        rg_saas_opt_token("access_token", o->access_token, err) != 0)
        return RG_ERR_CONFIG;
    return RG_OK;
}

static rg_status check_options(const rg_source_info *src, rg_error *err)
{
    sh_options o;
    return parse_options(src, &o, err);
}

/* ---- the shared cache ------------------------------------------------------------------ */

/* One read of a range. Immutable once made; freed by whoever drops the last
   reference (the cache holds one while it is the entry's current copy). */
typedef struct snapshot {
    json_t *values; /* array of rows, each an array of cells */
    int64_t fetched_ms;
    int refs;
} snapshot;

typedef struct cache_entry {
    struct cache_entry *next;
    char *key;
    snapshot *cur; /* NULL until a first read succeeds */
    int loading;   /* a read is in flight */
} cache_entry;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cache_cond;
static pthread_once_t cond_once = PTHREAD_ONCE_INIT;
static int cond_ok;
static cache_entry *cache;

static void init_cond(void)
{
    /* Waits are bounded by monotonic deadlines. */
    pthread_condattr_t a;
    if (pthread_condattr_init(&a) != 0)
        return;
    cond_ok = pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 &&
              pthread_cond_init(&cache_cond, &a) == 0;
    pthread_condattr_destroy(&a);
}

/* Under cache_lock. */
static void snap_release_locked(snapshot *s)
{
    if (s && --s->refs == 0) {
        json_decref(s->values);
        free(s);
    }
}

static void snap_release(snapshot *s)
{
    pthread_mutex_lock(&cache_lock);
    snap_release_locked(s);
    pthread_mutex_unlock(&cache_lock);
}

/* Under cache_lock. */
static cache_entry *cache_find(const char *key)
{
    cache_entry *e = cache;
    while (e && strcmp(e->key, key))
        e = e->next;
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e || !(e->key = strdup(key))) {
            free(e);
            return NULL;
        }
        e->next = cache;
        cache = e;
    }
    return e;
}

__attribute__((destructor)) static void free_cache(void)
{
    pthread_mutex_lock(&cache_lock);
    for (cache_entry *e = cache, *next; e; e = next) {
        next = e->next;
        snap_release_locked(e->cur);
        free(e->key);
        free(e);
    }
    cache = NULL;
    pthread_mutex_unlock(&cache_lock);
}

/* ---- connections -------------------------------------------------------------------------- */

typedef struct sh_conn {
    rg_http http;
    char *spreadsheet_id, *base_url, *auth_header;
    char *cache_prefix; /* site \n source \n base_url \n spreadsheet \n */
    char *quota_key;    /* base_url \n token hash: the user's read budget */
    unsigned long ttl_s;
} sh_conn;

static void close_conn(sh_conn *c)
{
    rg_http_close(&c->http);
    free(c->spreadsheet_id);
    free(c->base_url);
    free(c->auth_header);
    free(c->cache_prefix);
    free(c->quota_key);
    free(c);
}

/* Join NULL-terminated parts, each followed by '\n'. */
static char *join(const char *const *parts)
{
    size_t n = 1;
    for (size_t i = 0; parts[i]; i++)
        n += strlen(parts[i]) + 1;
    char *s = malloc(n), *p = s;
    if (!s)
        return NULL;
    for (size_t i = 0; parts[i]; i++) {
        size_t l = strlen(parts[i]);
        memcpy(p, parts[i], l);
        p[l] = '\n';
        p += l + 1;
    }
    *p = '\0';
    return s;
}

static rg_status connect_(const rg_source_info *src, void **out, rg_error *err)
{
    *out = NULL;
    sh_options o;
    rg_status st = parse_options(src, &o, err);
    if (st != RG_OK)
        return st;
    st = rg_saas_check_access_token(o.access_token,
                            "no Google access token: give the source an oauth block (and run "
                            "readgate oauth import, or configure a service account)", err);
    if (st != RG_OK)
        return st;
    if (pthread_once(&cond_once, init_cond) != 0 || !cond_ok)
        return rg_saas_fail(err, RG_ERR_INTERNAL, "cannot set up the sheets cache");
    sh_conn *c = calloc(1, sizeof *c);
    if (!c)
        return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    c->ttl_s = o.ttl_s;
    c->spreadsheet_id = strdup(o.spreadsheet_id);
    c->base_url = strdup(o.base_url);
    c->auth_header = rg_saas_concat3("Authorization: Bearer ", o.access_token, "");
    char hash[17];
    rg_saas_hash_hex(o.access_token, hash, sizeof hash);
    const char *cp[] = {src->site_id ? src->site_id : "", src->source_name ? src->source_name : "",
                        o.base_url, o.spreadsheet_id, NULL};
    const char *qp[] = {o.base_url, hash, NULL};
    c->cache_prefix = join(cp);
    c->quota_key = join(qp);
    if (!c->spreadsheet_id || !c->base_url || !c->auth_header || !c->cache_prefix ||
        !c->quota_key) {
        close_conn(c);
        return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    }
    st = rg_http_open(&c->http, "Google Sheets", src->connect_timeout_ms, err);
    if (st != RG_OK) {
        close_conn(c);
        return st;
    }
    *out = c;
    return RG_OK;
}

static void disconnect_(void *conn)
{
    close_conn(conn);
}

static rg_status ping_(void *conn, rg_error *err)
{
    sh_conn *c = conn;
    /* A read would spend the user's quota: check the host only. */
    return rg_http_ping(&c->http, c->base_url, rg_saas_deadline(5000), err);
}

/* ---- reading ----------------------------------------------------------------------------- */

static rg_status answer_error(sh_conn *c, const rg_http_resp *r, const char *range, rg_error *err)
{
    json_t *e = json_object_get(r->json, "error");
    json_t *status = json_object_get(e, "status"), *msg = json_object_get(e, "message");
    const char *detail = json_is_string(status) ? json_string_value(status) : NULL;
    if (r->status == 400 && json_is_string(msg)) {
        /* A request holds only configuration (id, range), never query
           values, so Google's message is safe to repeat. */
        return rg_saas_fail(err, RG_ERR_CONFIG,
                            "Google Sheets refused range '%s' (HTTP 400 %s): %.120s; the "
                            "collection target must be an A1 range such as Products!A1:Z",
                            range, detail ? detail : "", json_string_value(msg));
    }
    if (r->status == 404)
        return rg_saas_fail(err, RG_ERR_CONFIG,
                            "Google Sheets has no spreadsheet %s (HTTP 404%s%s): check option "
                            "spreadsheet_id and that the token's user can open it",
                            c->spreadsheet_id, detail ? " " : "", detail ? detail : "");
    return rg_http_status_error(&c->http, r->status, detail, err);
}

/* Read the range from Google. On success *out is a new snapshot (refs 1). */
static rg_status fetch(sh_conn *c, const char *range, int64_t deadline, snapshot **out,
                       int *rate_limited, rg_error *err)
{
    *out = NULL;
    *rate_limited = 0;
    int64_t wait = 0;
    rg_quota_result q = rg_quota_take(c->quota_key, READS_PER_WINDOW, WINDOW_MS, deadline, 0, &wait);
    if (q == RG_QUOTA_NOMEM)
        return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    if (q != RG_QUOTA_OK) {
        *rate_limited = 1;
        return rg_saas_fail(err, RG_ERR_UNAVAILABLE,
                            "Google Sheets allows %d reads per minute per user and the budget is "
                            "spent (next read in %lld s); no cached copy of range '%s' exists",
                            READS_PER_WINDOW, (long long)((wait + 999) / 1000), range);
    }
    const char *segs[] = {"v4", "spreadsheets", c->spreadsheet_id, "values:batchGet"};
    rg_error uerr;
    CURLU *url = rg_http_url(c->base_url, segs, 4, 1u | 2u | 8u, &uerr);
    if (!url)
        return rg_saas_fail(err, uerr.status, "%s", uerr.message);
    if (rg_http_url_query(url, "ranges", range, err) != 0 ||
        rg_http_url_query(url, "valueRenderOption", "UNFORMATTED_VALUE", err) != 0 ||
        rg_http_url_query(url, "dateTimeRenderOption", "FORMATTED_STRING", err) != 0 ||
        rg_http_url_query(url, "majorDimension", "ROWS", err) != 0) {
        curl_url_cleanup(url);
        return err->status;
    }
    const char *headers[] = {c->auth_header};
    rg_http_resp r;
    rg_status st = rg_http_send(&c->http, "GET", url, headers, 1, NULL, deadline, &r, err);
    curl_url_cleanup(url);
    if (st == RG_OK && r.status == 429) {
        *rate_limited = 1;
        rg_quota_penalize(c->quota_key, PENALTY_MS);
        logf_(RG_LOG_WARN, "HTTP 429 RESOURCE_EXHAUSTED from Google Sheets: read quota spent");
        st = rg_saas_fail(err, RG_ERR_UNAVAILABLE,
                          "Google Sheets' read quota (60 per minute per user) is exhausted (HTTP "
                          "429 RESOURCE_EXHAUSTED) and no cached copy of range '%s' exists",
                          range);
    } else if (st == RG_OK && (r.status < 200 || r.status > 299)) {
        st = answer_error(c, &r, range, err);
    }
    json_t *values = NULL;
    if (st == RG_OK) {
        json_t *vr = json_array_get(json_object_get(r.json, "valueRanges"), 0);
        if (!json_is_object(vr)) {
            st = rg_saas_fail(err, RG_ERR_UPSTREAM, "Google Sheets answered without valueRanges");
        } else {
            values = json_object_get(vr, "values");
            /* A range with no values has no `values` key. */
            values = values ? json_incref(values) : json_array();
            if (!json_is_array(values))
                st = rg_saas_fail(err, RG_ERR_UPSTREAM, "Google Sheets answered malformed values");
        }
    }
    rg_http_resp_free(&r);
    if (st == RG_OK) {
        snapshot *s = calloc(1, sizeof *s);
        if (!s) {
            st = rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
        } else {
            s->values = values;
            values = NULL;
            s->fetched_ms = rg_saas_now_ms();
            s->refs = 1;
            *out = s;
        }
    }
    json_decref(values);
    return st;
}

/*
 * A snapshot of the range, fresh if possible: from the cache, or read once
 * for every connection waiting on it. Falls back to an expired copy when the
 * quota is spent. The caller releases it with snap_release.
 */
static rg_status get_snapshot(sh_conn *c, const char *range, int64_t deadline, snapshot **out,
                              rg_error *err)
{
    *out = NULL;
    char *key = malloc(strlen(c->cache_prefix) + strlen(range) + 1);
    if (!key)
        return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    strcpy(key, c->cache_prefix);
    strcat(key, range);
    rg_status st = RG_OK;
    pthread_mutex_lock(&cache_lock);
    cache_entry *e = cache_find(key);
    free(key);
    if (!e) {
        pthread_mutex_unlock(&cache_lock);
        return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    }
    for (;;) {
        int64_t now = rg_saas_now_ms();
        if (e->cur && now - e->cur->fetched_ms < (int64_t)c->ttl_s * 1000) {
            e->cur->refs++;
            *out = e->cur;
            pthread_mutex_unlock(&cache_lock);
            return RG_OK;
        }
        if (!e->loading)
            break;
        /* Another connection is reading this range: wait for its answer. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t left = deadline - now;
        if (left <= 0) {
            pthread_mutex_unlock(&cache_lock);
            return rg_saas_fail(err, RG_ERR_TIMEOUT,
                                "waited for another read of range '%s' beyond the query's time "
                                "budget",
                                range);
        }
        ts.tv_sec += (time_t)(left / 1000);
        ts.tv_nsec += (long)(left % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&cache_cond, &cache_lock, &ts);
        if (!e->loading && e->cur && c->ttl_s == 0) {
            /* With no TTL, the read that just ended is as fresh as it gets. */
            e->cur->refs++;
            *out = e->cur;
            pthread_mutex_unlock(&cache_lock);
            return RG_OK;
        }
    }
    e->loading = 1;
    pthread_mutex_unlock(&cache_lock);

    snapshot *fresh = NULL;
    int rate_limited = 0;
    st = fetch(c, range, deadline, &fresh, &rate_limited, err);

    pthread_mutex_lock(&cache_lock);
    e->loading = 0;
    if (st == RG_OK) {
        snap_release_locked(e->cur);
        e->cur = fresh; /* the cache's reference */
        fresh->refs++;  /* the caller's */
        *out = fresh;
    } else if (rate_limited && e->cur) {
        /* Over quota: an expired copy beats no answer. */
        e->cur->refs++;
        *out = e->cur;
        logf_(RG_LOG_INFO, "serving a cached copy of a range %lld s old: read quota spent",
              (long long)((rg_saas_now_ms() - e->cur->fetched_ms) / 1000));
        st = RG_OK;
    }
    pthread_cond_broadcast(&cache_cond);
    pthread_mutex_unlock(&cache_lock);
    return st;
}

/* A row with no non-empty cell is not a record. */
static int empty_row(const json_t *row)
{
    size_t i;
    json_t *cell;
    json_array_foreach(row, i, cell) {
        if (!(json_is_string(cell) && json_string_length(cell) == 0) && !json_is_null(cell))
            return 0;
    }
    return 1;
}

static rg_status build_rows(const rg_query_plan *plan, const rg_mf_plan *mp, const json_t *values,
                            const char *range, rg_mf_rows *rows, rg_error *err)
{
    const rg_collection_desc *coll = plan->collection;
    const json_t *header = json_array_get(values, 0);
    if (!json_is_array(header))
        return rg_saas_fail(err, RG_ERR_CONFIG,
                            "range '%s' is empty: its first row must be the header", range);
    size_t *col = calloc(coll->nfields ? coll->nfields : 1, sizeof *col);
    if (!col)
        return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    rg_status st = RG_OK;
    for (size_t f = 0; f < coll->nfields && st == RG_OK; f++) {
        if (!mp->needed[f])
            continue;
        const rg_field_desc *fd = rg_field_at(coll->fields, f);
        const char *name = fd->column ? fd->column : fd->name;
        size_t i;
        json_t *h;
        col[f] = SIZE_MAX;
        /* The first header cell with that exact text. */
        json_array_foreach(header, i, h) {
            if (json_is_string(h) && !strcmp(json_string_value(h), name)) {
                col[f] = i;
                break;
            }
        }
        if (col[f] == SIZE_MAX)
            st = rg_saas_fail(err, RG_ERR_CONFIG,
                              "the header row of range '%s' has no column '%s' (field '%s')",
                              range, name, rg_field_at(coll->fields, f)->name);
    }
    for (size_t r = 1; r < json_array_size(values) && st == RG_OK; r++) {
        const json_t *line = json_array_get(values, r);
        if (!json_is_array(line) || empty_row(line))
            continue;
        rg_mf_cell *row = rg_mf_rows_add(rows);
        if (!row) {
            st = rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
            break;
        }
        for (size_t f = 0; f < coll->nfields && st == RG_OK; f++) {
            if (!mp->needed[f])
                continue;
            const rg_field_desc *fd = rg_field_at(coll->fields, f);
            /* Trailing empty cells are left out of a row. */
            int rc = rg_mf_set_json(rows, &row[f], fd->type, json_array_get(line, col[f]),
                                    RG_MF_SHEET | RG_MF_DATE_FROM_DATETIME);
            if (rc == -2)
                st = rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
            else if (rc != 0)
                st = rg_saas_fail(err, RG_ERR_UPSTREAM,
                                  "row %zu of range '%s', column '%s': the cell is not a %s as "
                                  "configured for field '%s'",
                                  r + 1, range, fd->column ? fd->column : fd->name,
                                  rg_mf_type_name(fd->type), fd->name);
        }
    }
    free(col);
    return st;
}

static rg_status query_(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
                        rg_error *err)
{
    sh_conn *c = conn;
    int64_t deadline = rg_saas_deadline(plan->timeout_ms);
    const char *range = plan->collection->target;
    rg_mf_plan mp;
    rg_mf_rows rows;
    snapshot *snap = NULL;
    rg_mf_rows_init(&rows, plan->collection);
    rg_status st = rg_mf_plan_init(&mp, plan, err);
    if (st != RG_OK)
        goto out;
    if (!range || !*range) {
        st = rg_saas_fail(err, RG_ERR_CONFIG,
                          "collection '%s' needs a target: an A1 range such as Products!A1:Z",
                          plan->collection->name);
        goto out;
    }
    if ((st = get_snapshot(c, range, deadline, &snap, err)) != RG_OK)
        goto out;
    if ((st = build_rows(plan, &mp, snap->values, range, &rows, err)) != RG_OK)
        goto out;
    if (rg_saas_now_ms() > deadline) {
        st = rg_saas_fail(err, RG_ERR_TIMEOUT, "the query exceeded its time budget of %u ms",
                          plan->timeout_ms);
        goto out;
    }
    st = rg_mf_emit(&mp, &rows, sink, err);
out:
    if (snap)
        snap_release(snap);
    rg_mf_rows_free(&rows);
    rg_mf_plan_free(&mp);
    if (st != RG_OK && st != RG_ERR_ABORTED)
        logf_(RG_LOG_DEBUG, "query on '%s' failed: %s", plan->collection->name, err->message);
    return st;
}

static const rg_adapter sheets_adapter = {
    .struct_size = sizeof(rg_adapter),
    .abi_major = RG_ADAPTER_ABI_MAJOR,
    .abi_minor = RG_ADAPTER_ABI_MINOR,
    .name = ADAPTER_NAME,
    .version = "1.0.0",
    .check_options = check_options,
    .connect = connect_,
    .query = query_,
    .ping = ping_,
    .disconnect = disconnect_,
};

__attribute__((visibility("default"))) const rg_adapter *rg_adapter_entry(const rg_host_api *h)
{
    host = h;
    return &sheets_adapter;
}
