/* One libcurl easy handle per token-lifecycle call; blocking runner. */
#include "oauth_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keyring.h"

void rg_http_req_clear(rg_http_req *req)
{
    free(req->url);
    rg_free_secret(req->body);
    rg_free_secret(req->basic_user);
    rg_free_secret(req->basic_pass);
    rg_free_secret(req->header);
    for (size_t i = 0; i < req->nheaders; i++)
        rg_free_secret(req->headers[i]);
    free(req->headers);
    memset(req, 0, sizeof *req);
}

void rg_http_resp_clear(rg_http_resp *resp)
{
    if (resp->body) {
        rg_secure_zero(resp->body, resp->len);
        free(resp->body);
    }
    memset(resp, 0, sizeof *resp);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    rg_http_resp *r = arg;
    size_t n = size * nmemb;
    if (r->len + n > (r->max_body ? r->max_body : RG_OAUTH_HTTP_MAX_BODY)) {
        r->truncated = 1;
        return 0; /* aborts the transfer: a token answer is never this large */
    }
    char *nb = malloc(r->len + n + 1);
    if (!nb)
        return 0;
    if (r->body) {
        memcpy(nb, r->body, r->len);
        rg_secure_zero(r->body, r->len);
        free(r->body);
    }
    memcpy(nb + r->len, ptr, n);
    r->len += n;
    nb[r->len] = '\0';
    r->body = nb;
    return n;
}

static void free_headers(struct curl_slist *h)
{
    for (struct curl_slist *p = h; p; p = p->next)
        if (p->data)
            rg_secure_zero(p->data, strlen(p->data));
    curl_slist_free_all(h);
}

int rg_http_call_init(rg_http_call *call, const rg_http_req *req, rg_http_resp *resp)
{
    memset(call, 0, sizeof *call);
    call->resp = resp;
    resp->max_body = req->max_body;
    call->easy = curl_easy_init();
    if (!call->easy) {
        snprintf(resp->error, sizeof resp->error, "out of memory");
        return -1;
    }
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    if (h && req->body) {
        char ct[160];
        snprintf(ct, sizeof ct, "Content-Type: %s",
                 req->content_type ? req->content_type : "application/x-www-form-urlencoded");
        struct curl_slist *n = curl_slist_append(h, ct);
        h = n ? n : (free_headers(h), NULL);
    }
    if (h && req->header) {
        struct curl_slist *n = curl_slist_append(h, req->header);
        h = n ? n : (free_headers(h), NULL);
    }
    for (size_t i = 0; h && i < req->nheaders; i++) {
        struct curl_slist *n = curl_slist_append(h, req->headers[i]);
        h = n ? n : (free_headers(h), NULL);
    }
    /* libcurl would send "Expect: 100-continue" on larger bodies and wait. */
    if (h) {
        struct curl_slist *n = curl_slist_append(h, "Expect:");
        h = n ? n : (free_headers(h), NULL);
    }
    if (!h) {
        curl_easy_cleanup(call->easy);
        call->easy = NULL;
        snprintf(resp->error, sizeof resp->error, "out of memory");
        return -1;
    }
    call->headers = h;
    CURL *e = call->easy;
    int bad = 0;
    bad |= curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK;
    /* Token endpoints are called directly: no redirects (a redirect would
       carry the secret elsewhere), http(s) only, no signals (threads). */
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                            req->timeout_ms > 0 ? req->timeout_ms : RG_OAUTH_HTTP_TIMEOUT_MS) !=
           CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                            req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 5000L) !=
           CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, h) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, resp) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "readgate/" READGATE_VERSION) != CURLE_OK;
    if (req->body) {
        bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body) != CURLE_OK;
        bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(req->body)) != CURLE_OK;
    }
    if (strcmp(req->method, "POST") == 0 && !req->body) {
        bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, "") != CURLE_OK;
    } else if (strcmp(req->method, "GET") == 0) {
        bad |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) != CURLE_OK;
    } else if (strcmp(req->method, "POST") != 0) {
        bad |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method) != CURLE_OK;
    }
    if (req->basic_user) {
        bad |= curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) != CURLE_OK;
        bad |= curl_easy_setopt(e, CURLOPT_USERNAME, req->basic_user) != CURLE_OK;
        bad |= curl_easy_setopt(e, CURLOPT_PASSWORD, req->basic_pass ? req->basic_pass : "") !=
               CURLE_OK;
    }
    if (bad) {
        snprintf(resp->error, sizeof resp->error, "could not set up the HTTP request");
        curl_easy_cleanup(e);
        free_headers(h);
        memset(call, 0, sizeof *call);
        return -1;
    }
    return 0;
}

void rg_http_call_finish(rg_http_call *call, CURLcode rc)
{
    rg_http_resp *r = call->resp;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &r->status);
        curl_off_t ra = 0;
        if (curl_easy_getinfo(call->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
            r->retry_after_s = ra > 86400 ? 86400 : (long)ra;
    } else {
        r->status = 0;
        r->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
        snprintf(r->error, sizeof r->error, "%s",
                 r->truncated ? "the answer was larger than allowed" : curl_easy_strerror(rc));
    }
    if (!r->body) {
        r->body = calloc(1, 1);
        r->len = 0;
    }
    curl_easy_cleanup(call->easy);
    free_headers(call->headers);
    call->easy = NULL;
    call->headers = NULL;
}

int rg_http_perform_blocking(void *ctx, const rg_http_req *req, rg_http_resp *resp)
{
    (void)ctx;
    rg_http_call call;
    if (rg_http_call_init(&call, req, resp) != 0)
        return -1;
    CURLcode rc = curl_easy_perform(call.easy);
    rg_http_call_finish(&call, rc);
    return resp->status && resp->body ? 0 : -1;
}

const rg_http_transport rg_http_blocking = {.perform = rg_http_perform_blocking, .ctx = NULL};
