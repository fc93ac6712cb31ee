/*
 * Shared HTTP, error mapping, options and request budgets of the SaaS
 * adapters (see saas_http.h).
 */
#include "saas_http.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "adapter_err.h"
#include "memfilter.h"

/* Answers bigger than this are refused rather than buffered. */
#define MAX_BODY (64u * 1024 * 1024)
#define DEFAULT_BUDGET_MS 10000

rg_status rg_saas_fail(rg_error *err, rg_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rg_adapter_vfail(err, st, fmt, ap);
    va_end(ap);
    return st;
}

int64_t rg_saas_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rg_saas_deadline(uint32_t timeout_ms)
{
    return rg_saas_now_ms() + (timeout_ms ? timeout_ms : DEFAULT_BUDGET_MS);
}

void rg_saas_sleep_until(int64_t until_ms)
{
    int64_t left = until_ms - rg_saas_now_ms();
    if (left <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)(left / 1000), .tv_nsec = (long)(left % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}

/* ---- options ------------------------------------------------------------------ */

int rg_saas_opt_uint(const char *key, const char *value, unsigned long lo, unsigned long hi,
                     unsigned long *out, rg_error *err)
{
    const char *v = value ? value : "";
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (!*v || *v == '-' || *v == '+' || *v == ' ' || *end || errno || n < lo || n > hi) {
        rg_saas_fail(err, RG_ERR_CONFIG, "option '%s' must be an integer from %lu to %lu", key, lo,
                     hi);
        return -1;
    }
    *out = n;
    return 0;
}

int rg_saas_opt_bool(const char *key, const char *value, int *out, rg_error *err)
{
    static const char *yes[] = {"true", "yes", "1", "on"}, *no[] = {"false", "no", "0", "off"};
    for (size_t i = 0; value && i < 4; i++) {
        if (!strcasecmp(value, yes[i])) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(value, no[i])) {
            *out = 0;
            return 0;
        }
    }
    rg_saas_fail(err, RG_ERR_CONFIG, "option '%s' must be true or false", key);
    return -1;
}

int rg_saas_opt_base_url(const char *key, const char *value, rg_error *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *query = NULL, *fragment = NULL;
    int ok = u && value && curl_url_set(u, CURLUPART_URL, value, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
             (!strcmp(scheme, "http") || !strcmp(scheme, "https")) &&
             curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_NO_QUERY &&
             curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) == CURLUE_NO_FRAGMENT;
    curl_free(scheme);
    curl_free(query);
    curl_free(fragment);
    curl_url_cleanup(u);
    if (!ok) {
        rg_saas_fail(err, RG_ERR_CONFIG,
                     "option '%s' must be an http:// or https:// URL without a query or fragment",
                     key);
        return -1;
    }
    return 0;
}

int rg_saas_opt_token(const char *key, const char *value, rg_error *err)
{
    if (!value || !*value) {
        rg_saas_fail(err, RG_ERR_CONFIG, "option '%s' must not be empty", key);
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f) {
            /* It goes into a header line: no spaces, controls or non-ASCII. */
            rg_saas_fail(err, RG_ERR_CONFIG,
                         "option '%s' must be printable ASCII without spaces", key);
            return -1;
        }
    return 0;
}

rg_status rg_saas_check_access_token(const char *token, const char *missing, rg_error *err)
{
    if (!token || !*token)
        return rg_saas_fail(err, RG_ERR_AUTH, "%s", missing);
    if (!strncmp(token, "enc:", 4))
        return rg_saas_fail(err, RG_ERR_CONFIG, "option 'access_token' is still encrypted");
    if (rg_saas_opt_token("access_token", token, err) != 0)
        return RG_ERR_CONFIG;
    return RG_OK;
}

char *rg_saas_concat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb);
        memcpy(s + la + lb, c, lc + 1);
    }
    return s;
}

/* ---- HTTP ------------------------------------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void init_curl(void)
{
    /* Once per adapter; libcurl >= 7.84 makes this thread-safe as well, and
       the gateway may have done it already (it is reference counted). */
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

rg_status rg_http_open(rg_http *h, const char *provider, uint32_t connect_timeout_ms,
                       rg_error *err)
{
    memset(h, 0, sizeof *h);
    h->provider = provider;
    h->connect_timeout_ms = connect_timeout_ms ? (long)connect_timeout_ms : 5000;
    if (pthread_once(&curl_once, init_curl) != 0 || curl_init_result != CURLE_OK)
        return rg_saas_fail(err, RG_ERR_INTERNAL, "cannot initialise libcurl");
    h->curl = curl_easy_init();
    if (!h->curl)
        return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    return RG_OK;
}

void rg_http_close(rg_http *h)
{
    if (h->curl)
        curl_easy_cleanup(h->curl);
    h->curl = NULL;
}

void rg_http_resp_free(rg_http_resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
    r->retry_after_s = -1;
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    rg_http_resp *r = ctx;
    size_t len = size * n;
    if (len > MAX_BODY - r->len)
        return 0; /* too big: libcurl fails the transfer */
    if (r->len + len + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 16384;
        while (cap < r->len + len + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b)
            return 0;
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, len);
    r->len += len;
    r->body[r->len] = '\0';
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
    rg_http_resp *r = ctx;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name && !strncasecmp(data, name, sizeof name - 1)) {
        char buf[32];
        size_t vlen = len - (sizeof name - 1);
        if (vlen >= sizeof buf)
            vlen = sizeof buf - 1;
        memcpy(buf, data + sizeof name - 1, vlen);
        buf[vlen] = '\0';
        char *end;
        double s = strtod(buf, &end);
        if (end != buf && s >= 0 && s < 86400)
            r->retry_after_s = s;
    }
    return len;
}

CURLU *rg_http_url(const char *base_url, const char *const *segments, size_t nsegments,
                   unsigned raw_mask, rg_error *err)
{
    CURLU *u = curl_url();
    char *path = NULL, *built = NULL;
    if (!u) {
        rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    if (curl_url_set(u, CURLUPART_URL, base_url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        rg_saas_fail(err, RG_ERR_CONFIG, "option 'base_url' is not a valid URL");
        goto fail;
    }
    size_t cap = strlen(path) + 2;
    for (size_t i = 0; i < nsegments; i++)
        cap += 3 * strlen(segments[i]) + 1;
    built = malloc(cap);
    if (!built) {
        rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
        goto fail;
    }
    size_t len = strlen(path);
    memcpy(built, path, len);
    while (len && built[len - 1] == '/')
        len--;
    for (size_t i = 0; i < nsegments; i++) {
        char *seg = (raw_mask & (1u << i)) ? NULL : curl_easy_escape(NULL, segments[i], 0);
        const char *s = (raw_mask & (1u << i)) ? segments[i] : seg;
        if (!s) {
            rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
            goto fail;
        }
        built[len++] = '/';
        memcpy(built + len, s, strlen(s));
        len += strlen(s);
        curl_free(seg);
    }
    built[len] = '\0';
    if (curl_url_set(u, CURLUPART_PATH, built, 0) != CURLUE_OK) {
        rg_saas_fail(err, RG_ERR_CONFIG, "cannot build the request URL");
        goto fail;
    }
    curl_free(path);
    free(built);
    return u;
fail:
    curl_free(path);
    free(built);
    curl_url_cleanup(u);
    return NULL;
}

int rg_http_url_query(CURLU *u, const char *name, const char *value, rg_error *err)
{
    size_t nl = strlen(name), vl = strlen(value);
    char *pair = malloc(nl + vl + 2);
    if (!pair) {
        rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
        return -1;
    }
    memcpy(pair, name, nl);
    pair[nl] = '=';
    memcpy(pair + nl + 1, value, vl + 1);
    /* With APPENDQUERY, URLENCODE encodes what follows the first '='. */
    CURLUcode rc = curl_url_set(u, CURLUPART_QUERY, pair, CURLU_APPENDQUERY | CURLU_URLENCODE);
    free(pair);
    if (rc != CURLUE_OK) {
        rg_saas_fail(err, RG_ERR_INTERNAL, "cannot build the request URL");
        return -1;
    }
    return 0;
}

rg_status rg_http_send(rg_http *h, const char *method, CURLU *url, const char *const *headers,
                       size_t nheaders, const json_t *body, int64_t deadline_ms,
                       rg_http_resp *resp, rg_error *err)
{
    memset(resp, 0, sizeof *resp);
    resp->retry_after_s = -1;
    int64_t left = deadline_ms - rg_saas_now_ms();
    if (left <= 0)
        return rg_saas_fail(err, RG_ERR_TIMEOUT, "the query's time budget ran out before the %s "
                            "request", h->provider);
    CURL *c = h->curl;
    curl_easy_reset(c);
    struct curl_slist *hl = NULL, *tmp;
    char *payload = NULL;
    rg_status st = RG_OK;
    for (size_t i = 0; i < nheaders; i++) {
        if (!(tmp = curl_slist_append(hl, headers[i]))) {
            st = rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
            goto out;
        }
        hl = tmp;
    }
    if (body) {
        payload = json_dumps(body, JSON_COMPACT);
        if (!payload || !(tmp = curl_slist_append(hl, "Content-Type: application/json"))) {
            st = rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
            goto out;
        }
        hl = tmp;
    }
    if (!(tmp = curl_slist_append(hl, "Accept: application/json"))) {
        st = rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
        goto out;
    }
    hl = tmp;
    long connect_ms = h->connect_timeout_ms < left ? h->connect_timeout_ms : (long)left;
    h->errbuf[0] = '\0';
    int setup_ok =
        curl_easy_setopt(c, CURLOPT_CURLU, url) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) == CURLE_OK &&
        /* Tokens must never follow a redirect to another host. */
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_USERAGENT, "readgate/1") == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_WRITEDATA, resp) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_HEADERDATA, resp) == CURLE_OK &&
        (!payload || (curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload) == CURLE_OK &&
                      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(payload)) ==
                          CURLE_OK));
    if (!setup_ok) {
        st = rg_saas_fail(err, RG_ERR_INTERNAL, "cannot set up the %s request", h->provider);
        goto out;
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        long conn_ms = 0;
        double connect_time = 0;
        curl_easy_getinfo(c, CURLINFO_CONNECT_TIME, &connect_time);
        conn_ms = (long)(connect_time * 1000);
        switch (rc) {
        case CURLE_OPERATION_TIMEDOUT:
            if (conn_ms == 0 && connect_ms < left)
                st = rg_saas_fail(err, RG_ERR_UNAVAILABLE, "cannot connect to %s within %ld ms",
                                  h->provider, connect_ms);
            else
                st = rg_saas_fail(err, RG_ERR_TIMEOUT,
                                  "%s did not answer within the query's time budget (%lld ms)",
                                  h->provider, (long long)left);
            break;
        case CURLE_WRITE_ERROR:
            st = rg_saas_fail(err, RG_ERR_UPSTREAM, "the %s answer is too large or memory ran out",
                              h->provider);
            break;
        case CURLE_OUT_OF_MEMORY:
            st = rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
            break;
        default:
            st = rg_saas_fail(err, RG_ERR_UNAVAILABLE, "cannot reach %s: %s", h->provider,
                              h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
            break;
        }
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    if (resp->body && resp->len) {
        /* Not JSON (an HTML error page from a proxy) leaves json NULL. */
        resp->json = json_loadb(resp->body, resp->len, 0, NULL);
    }
out:
    /* The handle keeps pointers to the list and the URL: drop them now. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_CURLU, NULL);
    curl_slist_free_all(hl);
    free(payload);
    return st;
}

rg_status rg_http_status_error(const rg_http *h, long status, const char *detail,
                               rg_error *err)
{
    const char *sep = detail && *detail ? ": " : "";
    const char *d = detail ? detail : "";
    const char *p = h->provider;
    switch (status) {
    case 401:
        return rg_saas_fail(err, RG_ERR_AUTH,
                            "%s refused the access token (HTTP 401%s%s): it is missing, expired or "
                            "revoked",
                            p, sep, d);
    case 403:
        return rg_saas_fail(err, RG_ERR_CONFIG,
                            "%s denied access (HTTP 403%s%s): check that the token's grant covers "
                            "this resource and has read scope",
                            p, sep, d);
    case 404:
        return rg_saas_fail(err, RG_ERR_CONFIG,
                            "%s found nothing at the configured address (HTTP 404%s%s): check the "
                            "source options and the collection target",
                            p, sep, d);
    case 429:
        return rg_saas_fail(err, RG_ERR_UNAVAILABLE,
                            "%s's rate limit was reached (HTTP 429%s%s); try again later", p, sep, d);
    case 502:
    case 503:
    case 504:
        return rg_saas_fail(err, RG_ERR_UNAVAILABLE, "%s is unavailable (HTTP %ld%s%s)", p, status,
                            sep, d);
    default:
        if (status >= 500)
            return rg_saas_fail(err, RG_ERR_UPSTREAM, "%s failed (HTTP %ld%s%s)", p, status, sep,
                                d);
        return rg_saas_fail(err, RG_ERR_UPSTREAM, "%s rejected the request (HTTP %ld%s%s)", p,
                            status, sep, d);
    }
}

/* ---- request budgets ----------------------------------------------------------------- */

typedef struct quota_entry {
    struct quota_entry *next;
    char *key;
    int64_t *times; /* ring of the last `cap` slot times */
    unsigned cap, head, count;
    int64_t penalty_until;
} quota_entry;

/* Process-wide (per adapter .so): every connection of the adapter shares them. */
static pthread_mutex_t quota_lock = PTHREAD_MUTEX_INITIALIZER;
static quota_entry *quotas;

/* Under quota_lock. */
static quota_entry *quota_find(const char *key, unsigned limit)
{
    quota_entry *e = quotas;
    while (e && strcmp(e->key, key))
        e = e->next;
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e || !(e->key = strdup(key))) {
            free(e);
            return NULL;
        }
        e->next = quotas;
        quotas = e;
    }
    if (limit > e->cap) {
        /* Keep the slots in age order in the bigger ring. */
        int64_t *t = calloc(limit, sizeof *t);
        if (!t)
            return NULL;
        for (unsigned i = 0; i < e->count; i++)
            t[i] = e->times[(e->head + i) % e->cap];
        free(e->times);
        e->times = t;
        e->head = 0;
        e->cap = limit;
    }
    return e;
}

rg_quota_result rg_quota_take(const char *key, unsigned limit, unsigned window_ms,
                              int64_t deadline_ms, int may_wait, int64_t *wait_ms)
{
    if (limit == 0)
        limit = 1;
    for (;;) {
        int64_t now = rg_saas_now_ms(), wait = 0;
        rg_quota_result res = RG_QUOTA_OK;
        if (pthread_mutex_lock(&quota_lock) != 0)
            return RG_QUOTA_NOMEM;
        quota_entry *e = quota_find(key, limit);
        if (!e) {
            pthread_mutex_unlock(&quota_lock);
            return RG_QUOTA_NOMEM;
        }
        /* Forget slots older than the window. */
        while (e->count && e->times[e->head] <= now - (int64_t)window_ms) {
            e->head = (e->head + 1) % e->cap;
            e->count--;
        }
        if (e->penalty_until > now) {
            wait = e->penalty_until - now;
            res = RG_QUOTA_PENALTY;
        } else if (e->count >= limit) {
            /* The slot `limit` places back frees when it leaves the window. */
            int64_t oldest = e->times[(e->head + e->count - limit) % e->cap];
            wait = oldest + window_ms - now;
            if (wait <= 0)
                wait = 1;
            res = RG_QUOTA_BUSY;
        } else {
            e->times[(e->head + e->count) % e->cap] = now;
            e->count++;
        }
        pthread_mutex_unlock(&quota_lock);
        if (res == RG_QUOTA_OK)
            return res;
        if (wait_ms)
            *wait_ms = wait;
        if (res == RG_QUOTA_PENALTY || !may_wait || now + wait > deadline_ms)
            return res;
        rg_saas_sleep_until(now + wait);
    }
}

void rg_quota_penalize(const char *key, unsigned ms)
{
    if (pthread_mutex_lock(&quota_lock) != 0)
        return;
    quota_entry *e = quota_find(key, 1);
    if (e) {
        int64_t until = rg_saas_now_ms() + ms;
        if (until > e->penalty_until)
            e->penalty_until = until;
    }
    pthread_mutex_unlock(&quota_lock);
}

int64_t rg_quota_penalty_left(const char *key)
{
    int64_t left = 0;
    if (pthread_mutex_lock(&quota_lock) != 0)
        return 0;
    for (quota_entry *e = quotas; e; e = e->next)
        if (!strcmp(e->key, key)) {
            left = e->penalty_until - rg_saas_now_ms();
            break;
        }
    pthread_mutex_unlock(&quota_lock);
    return left > 0 ? left : 0;
}

void rg_saas_hash_hex(const char *s, char *out, size_t outsz)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    snprintf(out, outsz, "%016llx", (unsigned long long)h);
}

/* ---- text buffers ------------------------------------------------------------------ */

void rg_sbuf_append(rg_sbuf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->oom = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    if (len)
        memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void rg_sbuf_puts(rg_sbuf *b, const char *s)
{
    rg_sbuf_append(b, s, strlen(s));
}

void rg_sbuf_put_number(rg_sbuf *b, const rg_value *v)
{
    char num[40];
    rg_mf_format_number(v, num, sizeof num);
    rg_sbuf_puts(b, num);
}

void rg_sbuf_free(rg_sbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

rg_status rg_http_ping(rg_http *h, const char *base_url, int64_t deadline_ms, rg_error *err)
{
    int64_t left = deadline_ms - rg_saas_now_ms();
    if (left <= 0)
        left = 1;
    CURL *c = h->curl;
    curl_easy_reset(c);
    h->errbuf[0] = '\0';
    /* Connect (and shake hands for TLS) without sending a request: no
       provider budget is spent on a liveness check. */
    if (curl_easy_setopt(c, CURLOPT_URL, base_url) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                         h->connect_timeout_ms < left ? h->connect_timeout_ms : (long)left) !=
            CURLE_OK)
        return rg_saas_fail(err, RG_ERR_INTERNAL, "cannot set up the %s check", h->provider);
    CURLcode rc = curl_easy_perform(c);
    /* Leave the handle ready for ordinary requests (a new connection). */
    curl_easy_reset(c);
    if (rc == CURLE_OUT_OF_MEMORY)
        return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    if (rc != CURLE_OK)
        return rg_saas_fail(err, RG_ERR_UNAVAILABLE, "cannot reach %s: %s", h->provider,
                            h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
    return RG_OK;
}

/* The budgets are process-wide for as long as the adapter is loaded; an
   unloaded adapter (dlclose) gives their memory back. */
__attribute__((destructor)) static void free_quotas(void)
{
    pthread_mutex_lock(&quota_lock);
    for (quota_entry *e = quotas, *next; e; e = next) {
        next = e->next;
        free(e->times);
        free(e->key);
        free(e);
    }
    quotas = NULL;
    pthread_mutex_unlock(&quota_lock);
}
