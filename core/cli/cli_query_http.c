/*
 * `readgate query`'s HTTP side: one libcurl handle for every request, the
 * session opened with POST /v1/{site}/token, and requests signed as
 * docs/http-api.md says.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_query.h"
#include "crypto/signature.h"

#define MAX_RESPONSE_BYTES (64u * 1024 * 1024)

typedef struct buf {
    char *data;
    size_t len;
    bool too_large;
} buf;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    buf *b = userdata;
    size_t n = size * nmemb;
    if (n > MAX_RESPONSE_BYTES - b->len) {
        b->too_large = true;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    char *p = realloc(b->data, b->len + n + 1);
    if (!p)
        return 0;
    memcpy(p + b->len, ptr, n);
    b->len += n;
    p[b->len] = '\0';
    b->data = p;
    return n;
}

/* Append a header line; false (list freed) on failure. */
static bool add_header(struct curl_slist **list, const char *fmt, const char *value)
{
    char line[1024];
    int n = snprintf(line, sizeof line, fmt, value);
    if (n < 0 || (size_t)n >= sizeof line)
        return false;
    struct curl_slist *next = curl_slist_append(*list, line);
    OPENSSL_cleanse(line, sizeof line);
    if (!next)
        return false;
    *list = next;
    return true;
}

/*
 * Send one request; on success *status is the HTTP status and *doc the parsed
 * JSON answer (new reference). Returns -1 after printing why on stderr when
 * the gateway could not be reached or did not answer JSON.
 */
static int http_send(rg_qc_client *c, const char *method, const char *path, struct curl_slist *headers,
                     const char *body, size_t body_len, long *status, json_t **doc)
{
    char url[4096];
    int un = snprintf(url, sizeof url, "%s%s", c->base, path);
    if (un < 0 || (size_t)un >= sizeof url) {
        fprintf(stderr, "readgate query: URL too long\n");
        return -1;
    }
    if (c->o->verbose)
        fprintf(stderr, "> %s %s%s%.*s\n", method, path, body_len ? "  " : "", (int)body_len,
                body_len ? body : "");

    buf b = {0};
    CURL *h = c->curl;
    curl_easy_reset(h);
    CURLcode rc = CURLE_OK;
#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(h, opt, val);                                                    \
    } while (0)
    SETOPT(CURLOPT_URL, url);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_TIMEOUT, c->o->timeout_s);
    SETOPT(CURLOPT_CONNECTTIMEOUT, c->o->timeout_s);
    SETOPT(CURLOPT_HTTPHEADER, headers);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, &b);
    SETOPT(CURLOPT_USERAGENT, "readgate-query/" READGATE_VERSION);
    if (strcmp(method, "GET") == 0) {
        SETOPT(CURLOPT_HTTPGET, 1L);
    } else {
        /* POSTFIELDS with an explicit size sends exactly these bytes (maybe none). */
        SETOPT(CURLOPT_POSTFIELDSIZE, (long)body_len);
        SETOPT(CURLOPT_POSTFIELDS, body ? body : "");
        if (strcmp(method, "POST") != 0)
            SETOPT(CURLOPT_CUSTOMREQUEST, method);
    }
#undef SETOPT
    if (rc != CURLE_OK) {
        fprintf(stderr, "readgate query: cannot set up the request: %s\n",
                curl_easy_strerror(rc));
        free(b.data);
        return -1;
    }
    rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        if (b.too_large)
            fprintf(stderr, "readgate query: %s %s: answer larger than %u bytes\n", method, url,
                    MAX_RESPONSE_BYTES);
        else
            fprintf(stderr, "readgate query: %s %s: %s\n", method, url, curl_easy_strerror(rc));
        free(b.data);
        return -1;
    }
    if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status) != CURLE_OK) {
        fprintf(stderr, "readgate query: %s %s: no HTTP status\n", method, url);
        free(b.data);
        return -1;
    }
    json_error_t jerr;
    *doc = b.len ? json_loadb(b.data, b.len, 0, &jerr) : NULL;
    if (!*doc) {
        fprintf(stderr, "readgate query: %s %s: HTTP %ld with %s\n", method, url, *status,
                b.len ? "a body that is not JSON" : "an empty body");
        free(b.data);
        return -1;
    }
    free(b.data);
    return 0;
}

/* 32 characters of [A-Za-z0-9_-]: 64 symbols, so byte & 63 is unbiased. */
static int new_nonce(char out[33])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char r[32];
    if (RAND_bytes(r, sizeof r) != 1)
        return -1;
    for (size_t i = 0; i < sizeof r; i++)
        out[i] = alphabet[r[i] & 63];
    out[32] = '\0';
    return 0;
}

/* A signed request to /v1/{site}/{route}; body may be NULL (signed as empty). */
int rg_qc_signed_send(rg_qc_client *c, const char *method, const char *route, const char *body,
                      long *status, json_t **doc)
{
    char path[128];
    int pn = snprintf(path, sizeof path, "/v1/%s/%s", c->o->site, route);
    if (pn < 0 || (size_t)pn >= sizeof path)
        return -1;
    size_t body_len = body ? strlen(body) : 0;
    char ts[24], nonce[33], sig[72 + 1];
    uint8_t mac[32];
    if (snprintf(ts, sizeof ts, "%lld", (long long)time(NULL)) <= 0 || new_nonce(nonce) != 0) {
        fprintf(stderr, "readgate query: cannot make a nonce\n");
        return -1;
    }
    rg_sig_compute(c->secret, ts, nonce, method, path, body, body_len, mac);
    rg_sig_format(mac, sig);
    sig[71] = '\0';
    OPENSSL_cleanse(mac, sizeof mac);

    struct curl_slist *h = NULL;
    bool ok = add_header(&h, "X-Readgate-Session: %s", c->token) &&
              add_header(&h, "X-Readgate-Timestamp: %s", ts) &&
              add_header(&h, "X-Readgate-Nonce: %s", nonce) &&
              add_header(&h, "X-Readgate-Signature: %s", sig) && add_header(&h, "Expect:%s", "") &&
              (!body || add_header(&h, "Content-Type: %s", "application/json"));
    if (c->o->origin)
        ok = ok && add_header(&h, "Origin: %s", c->o->origin);
    int rc = -1;
    if (!ok)
        fprintf(stderr, "readgate query: cannot build the request headers\n");
    else
        rc = http_send(c, method, path, h, body, body_len, status, doc);
    curl_slist_free_all(h);
    return rc;
}

static char *take_string(json_t *doc, const char *key)
{
    const char *s = json_string_value(json_object_get(doc, key));
    return s && *s ? strdup(s) : NULL;
}

/* Print a JSON document indented on stdout. This output is for people:
 * jansson's default of 17 significant digits turns a price of 29.99 into
 * 29.989999999999998, while 15 digits reproduce every decimal of up to 15
 * digits exactly. Programs should read the gateway's own response bytes. */
int rg_qc_print_doc(const json_t *doc)
{
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    if (!text) {
        fprintf(stderr, "readgate query: out of memory\n");
        return -1;
    }
    int rc = printf("%s\n", text) < 0 || fflush(stdout) != 0 ? -1 : 0;
    free(text);
    return rc;
}

/* An error answer: print it and fail. */
int rg_qc_http_failed(long status, json_t *doc)
{
    fprintf(stderr, "readgate query: HTTP %ld\n", status);
    rg_qc_print_doc(doc);
    return 1;
}

/* POST /v1/{site}/token. 0 ok, 1 refused (printed), -1 transport failure. */
int rg_qc_open_session(rg_qc_client *c)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/%s/token", c->o->site);
    struct curl_slist *h = NULL;
    bool ok = add_header(&h, "Expect:%s", "");
    if (c->o->origin)
        ok = ok && add_header(&h, "Origin: %s", c->o->origin);
    if (c->o->api_key)
        ok = ok && add_header(&h, "Authorization: Bearer %s", c->o->api_key);
    if (!ok) {
        curl_slist_free_all(h);
        fprintf(stderr, "readgate query: origin or API key too long\n");
        return -1;
    }
    long status = 0;
    json_t *doc = NULL;
    int rc = http_send(c, "POST", path, h, NULL, 0, &status, &doc);
    curl_slist_free_all(h);
    if (rc != 0)
        return -1;
    if (status != 200) {
        rc = rg_qc_http_failed(status, doc);
        json_decref(doc);
        return rc;
    }
    c->token = take_string(doc, "session_token");
    c->secret = take_string(doc, "signing_secret");
    json_decref(doc);
    if (!c->token || !c->secret) {
        fprintf(stderr, "readgate query: the token answer has no session_token/signing_secret\n");
        return -1;
    }
    return 0;
}
