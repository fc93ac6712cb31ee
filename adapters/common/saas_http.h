/*
 * What the SaaS adapters (airtable, sheets, shopify) share: one libcurl easy
 * handle per connection, requests bounded by the query's deadline, HTTP
 * statuses and transport failures mapped to rg_status with messages that say
 * what to check, option parsing, and process-wide request budgets per key
 * (a sliding window plus a penalty period) for providers that limit
 * requests per base or per user.
 *
 * Linked statically into each adapter (hidden symbols), so every adapter
 * .so has its own budgets, shared by all of its connections in the process.
 * Messages never contain values from a query, response bodies or tokens.
 */
#ifndef RG_SAAS_HTTP_H
#define RG_SAAS_HTTP_H

#include <curl/curl.h>
#include <jansson.h>
#include <readgate/adapter.h>
#include <stddef.h>
#include <stdint.h>

/* Fill err (one line) and return st. */
rg_status rg_saas_fail(rg_error *err, rg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Monotonic milliseconds. */
int64_t rg_saas_now_ms(void);
/* The end of a query's budget: now + timeout_ms (10 s when the plan gives 0). */
int64_t rg_saas_deadline(uint32_t timeout_ms);
/* Sleep until `until_ms` (monotonic). */
void rg_saas_sleep_until(int64_t until_ms);

/* ---- options ---------------------------------------------------------------- */

/* An unsigned decimal option in [lo, hi]; -1 with err set otherwise. */
int rg_saas_opt_uint(const char *key, const char *value, unsigned long lo, unsigned long hi,
                     unsigned long *out, rg_error *err);
/* A boolean option: true/false/yes/no/1/0/on/off. */
int rg_saas_opt_bool(const char *key, const char *value, int *out, rg_error *err);
/* An http:// or https:// URL without query or fragment, as libcurl parses it. */
int rg_saas_opt_base_url(const char *key, const char *value, rg_error *err);
/* A token: printable ASCII only (it goes into an HTTP header). */
int rg_saas_opt_token(const char *key, const char *value, rg_error *err);
/*
 * The `access_token` option every SaaS adapter connects with: RG_ERR_AUTH with
 * `missing` when there is none (no OAuth token imported yet), RG_ERR_CONFIG
 * when it is still encrypted or unfit for a header line, RG_OK otherwise.
 */
rg_status rg_saas_check_access_token(const char *token, const char *missing, rg_error *err);
/* a + b + c in a new string (malloc'd), or NULL when out of memory. */
char *rg_saas_concat3(const char *a, const char *b, const char *c);

/* ---- HTTP --------------------------------------------------------------------- */

typedef struct rg_http {
    CURL *curl;
    const char *provider; /* "Airtable": for messages */
    long connect_timeout_ms;
    char errbuf[CURL_ERROR_SIZE];
} rg_http;

typedef struct rg_http_resp {
    long status;
    char *body; /* NUL-terminated */
    size_t len, cap;
    json_t *json;        /* the body parsed, when it is JSON; else NULL */
    double retry_after_s; /* Retry-After in seconds, or -1 */
} rg_http_resp;

rg_status rg_http_open(rg_http *h, const char *provider, uint32_t connect_timeout_ms,
                       rg_error *err);
void rg_http_close(rg_http *h);
void rg_http_resp_free(rg_http_resp *r);

/*
 * A base URL plus path segments: the base's own path is kept, each segment is
 * percent-encoded as one path segment unless it is listed verbatim in
 * `raw_mask` (bit i: segment i is a fixed string of this code). Returns a new
 * CURLU (curl_url_cleanup) or NULL with err set.
 */
CURLU *rg_http_url(const char *base_url, const char *const *segments, size_t nsegments,
                   unsigned raw_mask, rg_error *err);
/* Append name=value to the URL's query, both percent-encoded by libcurl. */
int rg_http_url_query(CURLU *u, const char *name, const char *value, rg_error *err);

/*
 * Send one request and read the whole answer, within deadline_ms (monotonic).
 * `headers` are complete header lines. `body` (may be NULL) is sent as JSON.
 * RG_OK means an HTTP answer arrived, whatever its status (resp->status);
 * otherwise RG_ERR_TIMEOUT (deadline), RG_ERR_UNAVAILABLE (cannot connect,
 * connection lost) or RG_ERR_INTERNAL. resp must be released with
 * rg_http_resp_free either way.
 */
rg_status rg_http_send(rg_http *h, const char *method, CURLU *url, const char *const *headers,
                       size_t nheaders, const json_t *body, int64_t deadline_ms,
                       rg_http_resp *resp, rg_error *err);

/*
 * The rg_status for a non-2xx answer, with a message naming the provider,
 * the status and `detail` (a provider error code, may be NULL):
 * 401 -> RG_ERR_AUTH; 403, 404 -> RG_ERR_CONFIG; 429 -> RG_ERR_UNAVAILABLE
 * (rate limit); 408 and 5xx -> RG_ERR_UPSTREAM (502/503/504: UNAVAILABLE);
 * other statuses -> RG_ERR_UPSTREAM.
 */
rg_status rg_http_status_error(const rg_http *h, long status, const char *detail,
                               rg_error *err);

/* Connect to the base URL's host (TLS included) without sending a request. */
rg_status rg_http_ping(rg_http *h, const char *base_url, int64_t deadline_ms, rg_error *err);

/* ---- text buffers ---------------------------------------------------------------- */

/* A growable NUL-terminated buffer; after an allocation failure `oom` is set
   and appends do nothing, so callers check once at the end. */
typedef struct rg_sbuf {
    char *data;
    size_t len, cap;
    int oom;
} rg_sbuf;

void rg_sbuf_append(rg_sbuf *b, const char *s, size_t len);
void rg_sbuf_puts(rg_sbuf *b, const char *s);
/* An integer or number value as rg_mf_format_number writes it. */
void rg_sbuf_put_number(rg_sbuf *b, const rg_value *v);
void rg_sbuf_free(rg_sbuf *b);

/* ---- request budgets ------------------------------------------------------------- */

typedef enum rg_quota_result {
    RG_QUOTA_OK = 0,
    RG_QUOTA_PENALTY = 1, /* the key is in a penalty period */
    RG_QUOTA_BUSY = 2,    /* no slot before the deadline (or waiting not allowed) */
    RG_QUOTA_NOMEM = 3
} rg_quota_result;

/*
 * Take one slot of `limit` requests per `window_ms` for `key`, process-wide.
 * A slot is free when fewer than `limit` slots were taken in the last
 * window_ms. When none is free and may_wait, sleeps until one frees if that
 * happens before deadline_ms. *wait_ms (may be NULL) gets how long the caller
 * would have to wait (penalty or window) when the answer is not RG_QUOTA_OK.
 */
rg_quota_result rg_quota_take(const char *key, unsigned limit, unsigned window_ms,
                              int64_t deadline_ms, int may_wait, int64_t *wait_ms);
/* No slot for `key` until ms from now (a provider's penalty after a 429). */
void rg_quota_penalize(const char *key, unsigned ms);
/* Milliseconds of penalty left for `key` (0 when none). */
int64_t rg_quota_penalty_left(const char *key);

/* A 64-bit FNV-1a hash in hex (out >= 17): a key that names a secret
   without holding it. */
void rg_saas_hash_hex(const char *s, char *out, size_t outsz);

#endif
