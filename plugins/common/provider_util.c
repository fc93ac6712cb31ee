#include "provider_util.h"

#include <ctype.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------------- */

rg_status rg_pv_fail(rg_error *err, rg_status st, const char *fmt, ...)
{
    if (!err)
        return st;
    err->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    /* The host logs the message on one line. */
    for (char *p = err->message; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    return st;
}

/* ---- options ------------------------------------------------------------------ */

const char *rg_pv_opt(const rg_provider_config *cfg, const char *key)
{
    if (!cfg || !cfg->options)
        return NULL;
    for (size_t i = 0; i < cfg->noptions; i++) {
        const rg_option *o = rg_option_at(cfg->options, i);
        if (o->key && strcmp(o->key, key) == 0)
            return o->value;
    }
    return NULL;
}

rg_status rg_pv_check_known(const rg_provider_config *cfg, const char *const *known,
                            const char *provider, rg_error *err)
{
    if (!cfg)
        return rg_pv_fail(err, RG_ERR_INTERNAL, "%s: no configuration", provider);
    if (cfg->noptions && !cfg->options)
        return rg_pv_fail(err, RG_ERR_INTERNAL, "%s: options missing", provider);
    for (size_t i = 0; i < cfg->noptions; i++) {
        const rg_option *o = rg_option_at(cfg->options, i);
        if (!o->key)
            return rg_pv_fail(err, RG_ERR_CONFIG, "options: an option has no name");
        size_t k = 0;
        while (known[k] && strcmp(known[k], o->key) != 0)
            k++;
        /* The key is echoed: it comes from the site file, not from a request,
           and names are no secret (values are never echoed). */
        if (!known[k]) {
            char list[128] = "";
            size_t used = 0;
            for (size_t j = 0; known[j] && used < sizeof list; j++)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", j ? ", " : "",
                                         known[j]);
            return rg_pv_fail(err, RG_ERR_CONFIG,
                              "%.64s: unknown option for provider %s (known: %s)", o->key,
                              provider, list);
        }
        if (!o->value)
            return rg_pv_fail(err, RG_ERR_CONFIG, "%s: needs a value", o->key);
        for (size_t j = 0; j < i; j++)
            if (strcmp(rg_option_at(cfg->options, j)->key, o->key) == 0)
                return rg_pv_fail(err, RG_ERR_CONFIG, "%s: given twice", o->key);
    }
    return RG_OK;
}

rg_status rg_pv_check_text(const char *key, const char *value, size_t maxlen, int multiline,
                           rg_error *err)
{
    size_t n = value ? strlen(value) : 0;
    if (n == 0)
        return rg_pv_fail(err, RG_ERR_CONFIG, "%s: must not be empty", key);
    if (n > maxlen)
        return rg_pv_fail(err, RG_ERR_CONFIG, "%s: longer than %zu bytes", key, maxlen);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && !(multiline && (c == '\n' || c == '\r' || c == '\t'))) || c == 0x7f)
            return rg_pv_fail(err, RG_ERR_CONFIG, "%s: has a control character", key);
    }
    /* jansson refuses invalid UTF-8: check now rather than at the first mint. */
    json_t *s = json_stringn(value, n);
    if (!s)
        return rg_pv_fail(err, RG_ERR_CONFIG, "%s: is not valid UTF-8", key);
    json_decref(s);
    return RG_OK;
}

rg_status rg_pv_check_id(const char *key, const char *value, size_t maxlen, rg_error *err)
{
    size_t n = value ? strlen(value) : 0;
    if (n == 0)
        return rg_pv_fail(err, RG_ERR_CONFIG, "%s: must not be empty", key);
    if (n > maxlen)
        return rg_pv_fail(err, RG_ERR_CONFIG, "%s: longer than %zu characters", key, maxlen);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)value[i];
        if (!(c < 0x80 && (isalnum(c) || c == '_' || c == '-')))
            return rg_pv_fail(err, RG_ERR_CONFIG,
                              "%s: only letters, digits, '_' and '-' are allowed", key);
    }
    return RG_OK;
}

rg_status rg_pv_check_uuid(const char *key, const char *value, rg_error *err)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    int ok = value && strlen(value) == sizeof shape - 1;
    for (size_t i = 0; ok && i < sizeof shape - 1; i++) {
        unsigned char c = (unsigned char)value[i];
        ok = shape[i] == '-' ? c == '-' : (c < 0x80 && isxdigit(c));
    }
    if (!ok)
        return rg_pv_fail(err, RG_ERR_CONFIG, "%s: must be a UUID (8-4-4-4-12 hex digits)", key);
    return RG_OK;
}

rg_status rg_pv_check_uint(const char *key, const char *value, uint64_t max, uint64_t *out,
                           rg_error *err)
{
    uint64_t v = 0;
    if (!value || !*value)
        return rg_pv_fail(err, RG_ERR_CONFIG, "%s: must be an integer", key);
    for (const char *p = value; *p; p++) {
        if (*p < '0' || *p > '9')
            return rg_pv_fail(err, RG_ERR_CONFIG, "%s: must be an integer from 0 to %llu", key,
                              (unsigned long long)max);
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10)
            return rg_pv_fail(err, RG_ERR_CONFIG, "%s: must be at most %llu", key,
                              (unsigned long long)max);
        v = v * 10 + d;
    }
    if (out)
        *out = v;
    return RG_OK;
}

static int is_loopback_host(const char *host)
{
    if (strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0)
        return 1;
    /* 127.0.0.0/8, dotted quad only (libcurl normalises other IPv4 forms). */
    unsigned a, b, c, d;
    char tail;
    return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 &&
           c < 256 && d < 256;
}

rg_status rg_pv_check_base_url(const char *key, const char *value, rg_error *err)
{
    rg_status st = rg_pv_check_text(key, value, 512, 0, err);
    if (st != RG_OK)
        return st;
    for (const char *p = value; *p; p++)
        if (*p == ' ' || (unsigned char)*p >= 0x80)
            return rg_pv_fail(err, RG_ERR_CONFIG, "%s: must be a plain ASCII URL", key);
    CURLU *u = curl_url();
    if (!u)
        return rg_pv_fail(err, RG_ERR_INTERNAL, "%s: out of memory", key);
    char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL, *query = NULL, *frag = NULL;
    st = RG_OK;
    if (curl_url_set(u, CURLUPART_URL, value, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0])
        st = rg_pv_fail(err, RG_ERR_CONFIG, "%s: not an absolute http(s) URL", key);
    else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
             curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK)
        st = rg_pv_fail(err, RG_ERR_CONFIG, "%s: must not carry credentials", key);
    else if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
             curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK)
        st = rg_pv_fail(err, RG_ERR_CONFIG, "%s: must not have a query or a fragment", key);
    else if (strcmp(scheme, "https") != 0 &&
             !(strcmp(scheme, "http") == 0 && is_loopback_host(host)))
        st = rg_pv_fail(err, RG_ERR_CONFIG,
                        "%s: must be https (plain http only to a loopback address)", key);
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(pass);
    curl_free(query);
    curl_free(frag);
    curl_url_cleanup(u);
    return st;
}

rg_status rg_pv_check_expiry(const rg_provider_config *cfg, uint32_t min, uint32_t max,
                             const char *provider, rg_error *err)
{
    if (cfg->expires_after_s < min || cfg->expires_after_s > max)
        return rg_pv_fail(err, RG_ERR_CONFIG, "expires_after_s: must be %u to %u for %s",
                          (unsigned)min, (unsigned)max, provider);
    return RG_OK;
}

/* ---- the mint's state ------------------------------------------------------------ */

void *rg_pv_mint_new(const rg_host_api *host, size_t size)
{
    void *(*alloc)(size_t) = malloc;
    void (*dealloc)(void *) = free;
    /* The host's pair when its table has one, else libc's: never mix them. */
    if (host && host->struct_size >= offsetof(rg_host_api, free) + sizeof host->free &&
        host->malloc && host->free) {
        alloc = host->malloc;
        dealloc = host->free;
    }
    if (size < sizeof(rg_pv_mint))
        return NULL;
    rg_pv_mint *m = alloc(size);
    if (!m)
        return NULL;
    memset(m, 0, size);
    m->alloc = alloc;
    m->dealloc = dealloc;
    return m;
}

void rg_pv_mint_free(void *state)
{
    rg_pv_mint *m = state;
    if (!m)
        return;
    void (*dealloc)(void *) = m->dealloc;
    for (size_t i = 0; i < m->nbuf; i++) {
        OPENSSL_cleanse(m->buf[i], m->buf_len[i]);
        dealloc(m->buf[i]);
    }
    /* The provider's own fields follow; their size is not known here, but
       they hold no secret by contract (secrets go in buffers). */
    OPENSSL_cleanse(m, sizeof *m);
    dealloc(m);
}

char *rg_pv_alloc(rg_pv_mint *m, size_t n)
{
    if (m->nbuf == RG_PV_MAX_BUFFERS || n == 0)
        return NULL;
    char *p = m->alloc(n);
    if (!p)
        return NULL;
    memset(p, 0, n);
    m->buf[m->nbuf] = p;
    m->buf_len[m->nbuf] = n;
    m->nbuf++;
    return p;
}

char *rg_pv_strndup(rg_pv_mint *m, const char *s, size_t n)
{
    char *p = rg_pv_alloc(m, n + 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

rg_status rg_pv_set_url(rg_pv_mint *m, const char *base_url, const char *path,
                        const char *qname, const char *qvalue, rg_error *err)
{
    CURLU *u = curl_url();
    char *old = NULL, *full = NULL;
    rg_status st = RG_OK;
    if (!u)
        return rg_pv_fail(err, RG_ERR_INTERNAL, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, base_url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &old, 0) != CURLUE_OK) {
        st = rg_pv_fail(err, RG_ERR_CONFIG, "base_url: not a valid URL");
        goto out;
    }
    size_t n = strlen(old);
    while (n && old[n - 1] == '/')
        n--;
    size_t plen = strlen(path);
    char *newpath = rg_pv_alloc(m, n + plen + 1);
    if (!newpath) {
        st = rg_pv_fail(err, RG_ERR_INTERNAL, "out of memory");
        goto out;
    }
    memcpy(newpath, old, n);
    memcpy(newpath + n, path, plen);
    if (curl_url_set(u, CURLUPART_PATH, newpath, 0) != CURLUE_OK) {
        st = rg_pv_fail(err, RG_ERR_INTERNAL, "could not build the request URL");
        goto out;
    }
    if (qname) {
        size_t qlen = strlen(qname) + 1 + strlen(qvalue) + 1;
        char *q = rg_pv_alloc(m, qlen);
        if (!q) {
            st = rg_pv_fail(err, RG_ERR_INTERNAL, "out of memory");
            goto out;
        }
        snprintf(q, qlen, "%s=%s", qname, qvalue);
        /* With APPENDQUERY, URLENCODE escapes what follows the first '='. */
        if (curl_url_set(u, CURLUPART_QUERY, q, CURLU_APPENDQUERY | CURLU_URLENCODE) !=
            CURLUE_OK) {
            st = rg_pv_fail(err, RG_ERR_INTERNAL, "could not build the request URL");
            goto out;
        }
    }
    if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
        st = rg_pv_fail(err, RG_ERR_INTERNAL, "could not build the request URL");
        goto out;
    }
    m->url = rg_pv_strndup(m, full, strlen(full));
    if (!m->url)
        st = rg_pv_fail(err, RG_ERR_INTERNAL, "out of memory");
out:
    curl_free(old);
    curl_free(full);
    curl_url_cleanup(u);
    return st;
}

rg_status rg_pv_add_header(rg_pv_mint *m, const char *name, const char *value, rg_error *err)
{
    if (m->nheaders == RG_PV_MAX_HEADERS)
        return rg_pv_fail(err, RG_ERR_INTERNAL, "too many headers");
    char *v = rg_pv_strndup(m, value, strlen(value));
    if (!v)
        return rg_pv_fail(err, RG_ERR_INTERNAL, "out of memory");
    m->headers[m->nheaders].struct_size = sizeof m->headers[m->nheaders];
    m->headers[m->nheaders].name = name;
    m->headers[m->nheaders].value = v;
    m->nheaders++;
    return RG_OK;
}

rg_status rg_pv_check_key(const char *key, size_t key_len, rg_error *err)
{
    if (!key || key_len == 0)
        return rg_pv_fail(err, RG_ERR_CONFIG, "api_key: empty");
    if (key_len > 1024)
        return rg_pv_fail(err, RG_ERR_CONFIG, "api_key: longer than 1024 characters");
    for (size_t i = 0; i < key_len; i++)
        if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e)
            return rg_pv_fail(err, RG_ERR_CONFIG,
                              "api_key: only visible ASCII characters are allowed");
    return RG_OK;
}

rg_status rg_pv_add_key_header(rg_pv_mint *m, const char *name, const char *prefix,
                               const char *key, size_t key_len, rg_error *err)
{
    rg_status st = rg_pv_check_key(key, key_len, err);
    if (st != RG_OK)
        return st;
    if (m->nheaders == RG_PV_MAX_HEADERS)
        return rg_pv_fail(err, RG_ERR_INTERNAL, "too many headers");
    size_t plen = strlen(prefix);
    char *v = rg_pv_alloc(m, plen + key_len + 1);
    if (!v)
        return rg_pv_fail(err, RG_ERR_INTERNAL, "out of memory");
    memcpy(v, prefix, plen);
    memcpy(v + plen, key, key_len);
    m->headers[m->nheaders].struct_size = sizeof m->headers[m->nheaders];
    m->headers[m->nheaders].name = name;
    m->headers[m->nheaders].value = v;
    m->nheaders++;
    return RG_OK;
}

/* jansson's own json_dumps would allocate with jansson's allocator, which
   the mint could neither track for wiping nor free with the host's pair. */
char *rg_pv_dump(rg_pv_mint *m, const json_t *json, size_t *len)
{
    const size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER;
    size_t n = json_dumpb(json, NULL, 0, flags);
    if (n == 0)
        return NULL;
    char *p = rg_pv_alloc(m, n + 1);
    if (!p || json_dumpb(json, p, n, flags) != n)
        return NULL;
    *len = n;
    return p;
}

rg_status rg_pv_set_json_body(rg_pv_mint *m, const json_t *json, rg_error *err)
{
    size_t n = 0;
    char *p = rg_pv_dump(m, json, &n);
    if (!p)
        return rg_pv_fail(err, RG_ERR_INTERNAL, "could not serialise the request body");
    m->body = p;
    m->body_len = n;
    return rg_pv_add_header(m, "Content-Type", "application/json", err);
}

rg_status rg_pv_set_result(rg_pv_mint *m, const json_t *json, rg_error *err)
{
    size_t n = 0;
    char *p = rg_pv_dump(m, json, &n);
    if (!p)
        return rg_pv_fail(err, RG_ERR_INTERNAL, "could not serialise the result");
    m->result = p;
    m->result_len = n;
    return RG_OK;
}

void rg_pv_fill_request(const rg_pv_mint *m, rg_provider_request *req)
{
    req->method = m->method;
    req->url = m->url;
    req->headers = m->nheaders ? m->headers : NULL;
    req->nheaders = m->nheaders;
    req->body = m->body;
    req->body_len = m->body_len;
}

rg_status rg_pv_finish_with(rg_pv_mint *m, rg_status st, json_t *result, json_t *answer,
                            const char *provider, rg_mint_result *out, rg_error *err)
{
    if (st == RG_OK)
        st = result ? rg_pv_set_result(m, result, err)
                    : rg_pv_fail(err, RG_ERR_INTERNAL, "%s: out of memory", provider);
    json_decref(result);
    json_decref(answer);
    if (st == RG_OK)
        rg_pv_fill_result(m, out);
    return st;
}

void rg_pv_fill_result(const rg_pv_mint *m, rg_mint_result *out)
{
    out->json = m->result;
    out->json_len = m->result_len;
}

/* ---- the answer -------------------------------------------------------------------- */

rg_status rg_pv_answer_status(const char *provider, long status, long ok_a, long ok_b,
                              rg_error *err)
{
    if (status == ok_a || status == ok_b)
        return RG_OK;
    if (status == 401 || status == 403)
        return rg_pv_fail(err, RG_ERR_AUTH, "%s: HTTP %ld: the provider refused the api key",
                          provider, status);
    if (status == 429)
        return rg_pv_fail(err, RG_ERR_UNAVAILABLE, "%s: HTTP 429: rate limited by the provider",
                          provider);
    if (status >= 500 && status <= 599)
        return rg_pv_fail(err, RG_ERR_UNAVAILABLE, "%s: HTTP %ld: the provider is unavailable",
                          provider, status);
    return rg_pv_fail(err, RG_ERR_UPSTREAM, "%s: HTTP %ld: the provider refused the request",
                      provider, status);
}

json_t *rg_pv_answer_object(const rg_provider_response *resp)
{
    if (!resp || !resp->body || resp->body_len == 0)
        return NULL;
    json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

const char *rg_pv_json_token(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return NULL;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || n > 8192 || strlen(s) != n)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return NULL;
    return s;
}

rg_status rg_pv_malformed(rg_error *err, const char *provider, long status, const char *what)
{
    return rg_pv_fail(err, RG_ERR_UPSTREAM, "%s: HTTP %ld: malformed answer (%s)", provider,
                      status, what);
}

/* ---- encoding ------------------------------------------------------------------------ */

size_t rg_pv_base64url(const unsigned char *in, size_t n, char *out)
{
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    size_t k = len > 0 ? (size_t)len : 0;
    while (k && out[k - 1] == '=')
        k--;
    out[k] = '\0';
    for (size_t i = 0; i < k; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    return k;
}
