/*
 * What the first-party token providers share (readgate/token_provider.h):
 * option checks, the per-mint state with its wiping, the request and result
 * builders, and the mapping of a provider's HTTP status to an rg_status.
 *
 * Linked statically and hidden into each provider, so a provider still
 * exports rg_provider_entry and nothing else. Pure: no I/O, no globals, no
 * logging; every call may run on any thread.
 *
 * Secrets. A mint's buffers are allocated here and wiped (OPENSSL_cleanse)
 * when the mint is freed, whatever they held: the api key (in its header),
 * the MCP bearer (in a body), the minted credential (in the result). Error
 * messages built here name the provider, the option or the HTTP status,
 * never a value, a key or a body.
 */
#ifndef RG_PROVIDER_UTIL_H
#define RG_PROVIDER_UTIL_H

#include <jansson.h>
#include <readgate/token_provider.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- errors ----------------------------------------------------------------- */

/* Sets err (when non-NULL) and returns st, so callers can `return` it. */
rg_status rg_pv_fail(rg_error *err, rg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- options (check) ----------------------------------------------------------- */

/* The value of ai.options[key], or NULL when it is not set. */
const char *rg_pv_opt(const rg_provider_config *cfg, const char *key);

/*
 * Every key of cfg->options is in `known` (NULL-terminated), none is given
 * twice and every one has a value. The message starts with the offending key.
 */
rg_status rg_pv_check_known(const rg_provider_config *cfg, const char *const *known,
                            const char *provider, rg_error *err);

/* UTF-8 text of 1..maxlen bytes, without control characters (except \n, \r
   and \t when `multiline`): it goes into a JSON body or a log line. */
rg_status rg_pv_check_text(const char *key, const char *value, size_t maxlen, int multiline,
                           rg_error *err);

/* An identifier of 1..maxlen bytes of [A-Za-z0-9_-]: safe in a URL query. */
rg_status rg_pv_check_id(const char *key, const char *value, size_t maxlen, rg_error *err);

/* A UUID, 8-4-4-4-12 hex digits. */
rg_status rg_pv_check_uuid(const char *key, const char *value, rg_error *err);

/* A decimal integer in [0, max], digits only (no sign, no spaces). */
rg_status rg_pv_check_uint(const char *key, const char *value, uint64_t max, uint64_t *out,
                           rg_error *err);

/*
 * A base URL readgate may call: https to any host, or plain http to loopback
 * only (readgate refuses anything else at call time anyway; this says so at
 * `readgate check`). No credentials, query or fragment; a path prefix is
 * kept (a customer's egress proxy).
 */
rg_status rg_pv_check_base_url(const char *key, const char *value, rg_error *err);

/* cfg->expires_after_s in [min, max]; the message starts with
   "expires_after_s". */
rg_status rg_pv_check_expiry(const rg_provider_config *cfg, uint32_t min, uint32_t max,
                             const char *provider, rg_error *err);

/* ---- the mint's state ----------------------------------------------------------- */

#define RG_PV_MAX_HEADERS 4
#define RG_PV_MAX_BUFFERS 16

/*
 * The first member of every provider's state. Every buffer a mint hands to
 * readgate (url, headers, body, result) is one of `buf`, so that freeing the
 * mint wipes all of them.
 */
typedef struct rg_pv_mint {
    void *(*alloc)(size_t);  /* the host's allocator (libc's without one) ... */
    void (*dealloc)(void *); /* ... and its matching free */
    void *buf[RG_PV_MAX_BUFFERS];
    size_t buf_len[RG_PV_MAX_BUFFERS];
    size_t nbuf;
    const char *method;
    const char *url; /* NULL: no HTTP call */
    rg_provider_header headers[RG_PV_MAX_HEADERS];
    size_t nheaders;
    const char *body;
    size_t body_len;
    const char *result;
    size_t result_len;
} rg_pv_mint;

/*
 * A zeroed state of `size` bytes (at least sizeof(rg_pv_mint)), whose first
 * member is the rg_pv_mint, allocated with the host's allocator. NULL when
 * out of memory.
 */
void *rg_pv_mint_new(const rg_host_api *host, size_t size);

/* Wipe every buffer of the mint and the state itself, then free them. */
void rg_pv_mint_free(void *state);

/* n zeroed bytes owned (and wiped at the end) by the mint; NULL when out of
   memory or out of slots. */
char *rg_pv_alloc(rg_pv_mint *m, size_t n);
char *rg_pv_strndup(rg_pv_mint *m, const char *s, size_t n);

/*
 * The request URL: base_url's path (trailing slashes dropped) + `path`, and
 * when qname is set, the query qname=<qvalue URL-encoded by libcurl>.
 */
rg_status rg_pv_set_url(rg_pv_mint *m, const char *base_url, const char *path,
                        const char *qname, const char *qvalue, rg_error *err);

/* A header whose value has no secret (name: a string literal). */
rg_status rg_pv_add_header(rg_pv_mint *m, const char *name, const char *value, rg_error *err);

/*
 * The api key is 1..1024 visible ASCII characters: anything else could split
 * a header, and no provider issues such keys. The message never shows it.
 */
rg_status rg_pv_check_key(const char *key, size_t key_len, rg_error *err);

/* The header that carries the api key (checked as above):
   `name: <prefix><key>`. */
rg_status rg_pv_add_key_header(rg_pv_mint *m, const char *name, const char *prefix,
                               const char *key, size_t key_len, rg_error *err);

/* `json` compact (key order kept) into a mint buffer; NULL when out of
   memory. *len gets its length. */
char *rg_pv_dump(rg_pv_mint *m, const json_t *json, size_t *len);

/* The body: `json` compact, with Content-Type: application/json. */
rg_status rg_pv_set_json_body(rg_pv_mint *m, const json_t *json, rg_error *err);

/* The browser's object: `json` compact. */
rg_status rg_pv_set_result(rg_pv_mint *m, const json_t *json, rg_error *err);

/* Copy the mint's request / result into what readgate reads (struct_size
   untouched: readgate sets it). */
void rg_pv_fill_request(const rg_pv_mint *m, rg_provider_request *req);
void rg_pv_fill_result(const rg_pv_mint *m, rg_mint_result *out);
/*
 * The end of every finish: with st RG_OK, keep `result` (NULL: out of
 * memory) as the browser's JSON and fill *out. Takes result and answer (both
 * may be NULL). Returns the final status.
 */
rg_status rg_pv_finish_with(rg_pv_mint *m, rg_status st, json_t *result, json_t *answer,
                            const char *provider, rg_mint_result *out, rg_error *err);

/* ---- the answer (finish) --------------------------------------------------------- */

/*
 * RG_OK when status is ok_a or ok_b (pass the same twice for one). Otherwise
 * the documented mapping: 401/403 RG_ERR_AUTH; 429 and 5xx
 * RG_ERR_UNAVAILABLE; anything else RG_ERR_UPSTREAM. The message names the
 * provider and the status, never the body.
 */
rg_status rg_pv_answer_status(const char *provider, long status, long ok_a, long ok_b,
                              rg_error *err);

/* The answer's body as a JSON object, or NULL (not JSON, not an object). */
json_t *rg_pv_answer_object(const rg_provider_response *resp);

/*
 * obj[key] when it is a string of 1..8192 visible ASCII characters (a
 * token, an id or a URL: nothing else belongs in those fields), else NULL.
 */
const char *rg_pv_json_token(const json_t *obj, const char *key);

/* RG_ERR_UPSTREAM for a success status whose body lacks `what`. */
rg_status rg_pv_malformed(rg_error *err, const char *provider, long status, const char *what);

/* ---- encoding ------------------------------------------------------------------------ */

/*
 * Base64url without padding (RFC 7515) of n bytes into out, which must hold
 * 4 * ((n + 2) / 3) + 1 bytes; returns the length written (NUL-terminated).
 * Uses OpenSSL's EVP_EncodeBlock and translates its alphabet.
 */
size_t rg_pv_base64url(const unsigned char *in, size_t n, char *out);

#endif
