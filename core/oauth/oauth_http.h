/*
 * The HTTP calls of the token lifecycle (refresh, JWT grant, revoke): a
 * request built from pieces that are never formatted into a string by hand,
 * one libcurl easy handle per call, and two ways of running it: blocking (a
 * worker thread after a 401, the CLI) or on an event loop through
 * oauth_multi.h. Bodies, credentials and the answer hold secrets: everything
 * here is wiped when freed, and nothing of it is ever logged.
 */
#ifndef RG_OAUTH_HTTP_H
#define RG_OAUTH_HTTP_H

#include <curl/curl.h>
#include <stddef.h>

/* A token endpoint that hasn't answered in this long has failed. Shorter
   than the state store's lock waits, so a waiting refresh gets its turn. */
#define RG_OAUTH_HTTP_TIMEOUT_MS 20000L
#define RG_OAUTH_HTTP_MAX_BODY (64 * 1024)

typedef struct rg_http_req {
    const char *method; /* "GET", "POST" or "DELETE" */
    char *url;
    char *body;       /* application/x-www-form-urlencoded unless content_type says, or NULL */
    char *basic_user; /* HTTP Basic client authentication, or NULL */
    char *basic_pass;
    char *header;     /* one extra header line ("Name: value"), or NULL */
    /* Token-provider mints (server/ai_mint.c): more header lines, wiped
       when cleared, and their own time budget (0: the defaults). */
    char **headers;
    size_t nheaders;
    const char *content_type; /* of body; NULL: form-urlencoded */
    long timeout_ms;
    long connect_timeout_ms;
    size_t max_body; /* largest answer read; 0: RG_OAUTH_HTTP_MAX_BODY */
} rg_http_req;

typedef struct rg_http_resp {
    long status; /* 0: no HTTP answer (see error) */
    char *body;  /* NUL-terminated */
    size_t len;
    int truncated;
    size_t max_body; /* set from the request */
    int timed_out;      /* no answer within the time budget */
    long retry_after_s; /* Retry-After of the answer, in seconds; 0 if none */
    char error[256];
} rg_http_resp;

void rg_http_req_clear(rg_http_req *req);
void rg_http_resp_clear(rg_http_resp *resp);

/* One call in progress: the easy handle and what it points into. */
typedef struct rg_http_call {
    CURL *easy;
    struct curl_slist *headers;
    rg_http_resp *resp;
} rg_http_call;

/* Prepare an easy handle for req whose answer goes to resp. 0 or -1 (resp->error set).
   req must outlive the call. */
int rg_http_call_init(rg_http_call *call, const rg_http_req *req, rg_http_resp *resp);
/* Record the outcome of a finished transfer in resp and free the handle. */
void rg_http_call_finish(rg_http_call *call, CURLcode rc);

/* How a request is run: blocking here, or handed to an event loop. */
typedef struct rg_http_transport {
    /* 0 when an HTTP answer (any status) is in resp; -1 otherwise. */
    int (*perform)(void *ctx, const rg_http_req *req, rg_http_resp *resp);
    void *ctx;
} rg_http_transport;

/* Blocking, on the calling thread (never an event loop). */
int rg_http_perform_blocking(void *ctx, const rg_http_req *req, rg_http_resp *resp);
extern const rg_http_transport rg_http_blocking;

/* application/x-www-form-urlencoded, every key and value escaped by libcurl. */
typedef struct rg_form {
    char *buf;
    size_t len, cap;
    int failed;
} rg_form;
void rg_form_add(rg_form *f, const char *key, const char *value);
/* The body (caller frees with wiping), or NULL if anything failed. */
char *rg_form_take(rg_form *f);
void rg_form_clear(rg_form *f);

/* Free a string after overwriting it. */
void rg_free_secret(char *s);

#endif
