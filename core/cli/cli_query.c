/*
 * `readgate query`: a signing client for people. It opens a session (browser
 * mode with --origin, backend mode with an API key), signs every request as
 * docs/http-api.md says, and prints the gateway's JSON answer. Bodies are built
 * with jansson, never by formatting strings, so a value never becomes syntax.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "config/config.h"
#include "crypto/signature.h"

#define DEFAULT_URL "http://127.0.0.1:8080"
#define MAX_RESPONSE_BYTES (64u * 1024 * 1024)
#define MAX_PAGES 100000

static void query_usage(FILE *f)
{
    fprintf(
        f,
        "usage: readgate query --site SITE_ID (--origin ORIGIN | --api-key KEY) [options]\n"
        "\n"
        "Opens a session, signs the request and prints the gateway's JSON answer.\n"
        "\n"
        "  --url BASE            gateway address (default $READGATE_URL or " DEFAULT_URL ")\n"
        "  --site SITE_ID        the site (required)\n"
        "  --origin ORIGIN       open the session as a browser on ORIGIN, e.g. https://shop.example.com\n"
        "  --api-key KEY         open it in backend mode (default $READGATE_API_KEY; prefer the\n"
        "                        variable: command lines are visible to other users)\n"
        "  --collections         print the collections document instead of querying\n"
        "  --collection NAME     the collection to query\n"
        "  --filter EXPR         a condition, repeatable (all must hold):\n"
        "                          price<=50  price>=10  price<50  price>10\n"
        "                          color=red (or ==)  color!=red\n"
        "                          category in boots,shoes    price between 10,50\n"
        "                          name prefix Trail          name contains waterproof\n"
        "                          (API names work too: 'price lte 50'; '\\,' is a literal comma)\n"
        "  --search TEXT         words that must all occur in searchable fields\n"
        "  --sort FIELD          ascending; -FIELD or FIELD:desc descending; repeatable\n"
        "  --fields a,b,c        fields to return\n"
        "  --limit N             rows per page\n"
        "  --cursor CURSOR       next_cursor of a previous page\n"
        "  --all                 follow next_cursor and print every row in one document\n"
        "  --timeout SECONDS     per HTTP request (default 10)\n"
        "  -v, --verbose         show each request (method, path, body) on stderr\n"
        "\n"
        "Filter values take the field's type from the collections document: integer,\n"
        "number and boolean fields get JSON numbers and booleans, others strings.\n"
        "Exit status: 0 success, 1 the gateway answered an error or could not be\n"
        "reached (its error document is printed), 2 usage error.\n");
}

typedef struct qopts {
    const char *url;
    const char *site;
    const char *origin;
    const char *api_key;
    const char *collection;
    const char **filters;
    size_t nfilters;
    const char *search;
    const char **sorts;
    size_t nsorts;
    const char *fields;
    const char *limit;
    const char *cursor;
    bool list_collections;
    bool all;
    bool verbose;
    long timeout_s;
} qopts;

/* A live session and the HTTP handle every request reuses. */
typedef struct qclient {
    const qopts *o;
    CURL *curl;
    char base[2048];
    char *token;
    char *secret; /* wiped before free */
} qclient;

typedef struct buf {
    char *data;
    size_t len;
    bool too_large;
} buf;

/* ---- HTTP -------------------------------------------------------------- */

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
static int http_send(qclient *c, const char *method, const char *path, struct curl_slist *headers,
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
static int signed_send(qclient *c, const char *method, const char *route, const char *body,
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
static int print_doc(const json_t *doc)
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
static int http_failed(long status, json_t *doc)
{
    fprintf(stderr, "readgate query: HTTP %ld\n", status);
    print_doc(doc);
    return 1;
}

/* POST /v1/{site}/token. 0 ok, 1 refused (printed), -1 transport failure. */
static int open_session(qclient *c)
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
        rc = http_failed(status, doc);
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

/* ---- building the query body -------------------------------------------- */

/* Whole-string integer; false on anything else (spaces, overflow, fraction). */
static bool parse_int(const char *s, long long *out)
{
    if (!*s || *s == ' ' || *s == '+')
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_number(const char *s, double *out)
{
    if (!*s || *s == ' ' || *s == '+')
        return false;
    for (const char *p = s; *p; p++)
        if (!strchr("0123456789-.eE+", *p))
            return false; /* no "inf", "nan" or hex floats */
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* A value as the field's JSON type; when it does not fit, the text is sent as
   a string so the gateway answers with its own precise invalid_value. */
static json_t *typed_value(const char *type, const char *text)
{
    long long i;
    double d;
    if (type && strcmp(type, "integer") == 0 && parse_int(text, &i))
        return json_integer((json_int_t)i);
    if (type && strcmp(type, "number") == 0) {
        if (parse_int(text, &i))
            return json_integer((json_int_t)i);
        if (parse_number(text, &d))
            return json_real(d);
    }
    if (type && strcmp(type, "boolean") == 0) {
        if (strcmp(text, "true") == 0)
            return json_true();
        if (strcmp(text, "false") == 0)
            return json_false();
    }
    return json_string(text);
}

/* The type of `field` in collection `coll` of a /collections document, or NULL. */
static const char *field_type(const json_t *colls, const char *coll, const char *field)
{
    size_t i, j;
    json_t *c, *f;
    json_array_foreach(json_object_get(colls, "collections"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (!name || strcmp(name, coll) != 0)
            continue;
        json_array_foreach(json_object_get(c, "fields"), j, f)
        {
            const char *fname = json_string_value(json_object_get(f, "name"));
            if (fname && strcmp(fname, field) == 0)
                return json_string_value(json_object_get(f, "type"));
        }
    }
    return NULL;
}

/* Split "a,b\,c" into typed values; "\," is a comma and "\\" a backslash. */
static json_t *value_list(const char *type, const char *text)
{
    json_t *arr = json_array();
    size_t n = strlen(text);
    char *item = malloc(n + 1);
    if (!arr || !item) {
        json_decref(arr);
        free(item);
        return NULL;
    }
    size_t w = 0;
    for (size_t r = 0;; r++) {
        if (text[r] == '\\' && (text[r + 1] == ',' || text[r + 1] == '\\')) {
            item[w++] = text[++r];
            continue;
        }
        if (text[r] == ',' || text[r] == '\0') {
            item[w] = '\0';
            json_t *v = typed_value(type, item);
            if (!v || json_array_append_new(arr, v) != 0) {
                json_decref(arr);
                free(item);
                return NULL;
            }
            w = 0;
            if (text[r] == '\0')
                break;
            continue;
        }
        item[w++] = text[r];
    }
    free(item);
    return arr;
}

static const char *const word_ops[] = {"eq",     "ne",     "lt",       "lte", "gt",
                                       "gte",    "in",     "between",  "prefix",
                                       "contains", NULL};

static bool is_field_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-' || ch == '.';
}

/*
 * Parse one --filter EXPR into {"field","op","value"}. Returns NULL with a
 * message in err when EXPR does not follow the grammar in the usage text.
 */
static json_t *parse_filter(const char *expr, const json_t *colls, const char *coll, char *err,
                            size_t errlen)
{
    const char *p = expr;
    while (*p == ' ')
        p++;
    const char *fstart = p;
    while (is_field_char(*p))
        p++;
    size_t flen = (size_t)(p - fstart);
    bool spaced = *p == ' ';
    while (*p == ' ')
        p++;
    const char *op = NULL;
    static const struct {
        const char *sym, *op;
    } syms[] = {{"<=", "lte"}, {">=", "gte"}, {"!=", "ne"}, {"==", "eq"},
                {"<", "lt"},   {">", "gt"},   {"=", "eq"}};
    for (size_t i = 0; i < sizeof syms / sizeof syms[0] && !op; i++) {
        size_t n = strlen(syms[i].sym);
        if (strncmp(p, syms[i].sym, n) == 0) {
            op = syms[i].op;
            p += n;
        }
    }
    /* Word operators need a space on both sides so "name contains x" is not
       read as a field "namecontains". */
    for (size_t i = 0; word_ops[i] && !op && spaced; i++) {
        size_t n = strlen(word_ops[i]);
        if (strncmp(p, word_ops[i], n) == 0 && p[n] == ' ') {
            op = word_ops[i];
            p += n;
        }
    }
    if (flen == 0 || !op) {
        snprintf(err, errlen,
                 "filter '%.80s': expected FIELD OP VALUE with OP one of <= >= < > = == != "
                 "or, between spaces, in between prefix contains eq ne lt lte gt gte",
                 expr);
        return NULL;
    }
    while (*p == ' ')
        p++;
    char field[128];
    if (flen >= sizeof field) {
        snprintf(err, errlen, "filter '%.80s': field name too long", expr);
        return NULL;
    }
    memcpy(field, fstart, flen);
    field[flen] = '\0';
    const char *type = field_type(colls, coll, field);

    json_t *value;
    if (strcmp(op, "in") == 0 || strcmp(op, "between") == 0) {
        value = value_list(type, p);
        if (value && strcmp(op, "between") == 0 && json_array_size(value) != 2) {
            json_decref(value);
            snprintf(err, errlen, "filter '%.80s': between takes two values: LOW,HIGH", expr);
            return NULL;
        }
    } else if (strcmp(op, "prefix") == 0 || strcmp(op, "contains") == 0) {
        value = json_string(p); /* text operators: always a string */
    } else {
        value = typed_value(type, p);
    }
    json_t *f = value ? json_pack("{s:s, s:s, s:o}", "field", field, "op", op, "value", value)
                      : NULL;
    if (!f) {
        /* json_string refuses invalid UTF-8; everything else is memory. */
        snprintf(err, errlen, "filter '%.80s': the value is not valid UTF-8 (or out of memory)",
                 expr);
        return NULL;
    }
    return f;
}

/* "price", "-price", "price:desc", "price:asc" -> {"field","dir"}. */
static json_t *parse_sort(const char *s, char *err, size_t errlen)
{
    const char *dir = "asc";
    char field[128];
    const char *colon = strrchr(s, ':');
    size_t n;
    if (*s == '-') {
        dir = "desc";
        s++;
        n = strlen(s);
    } else if (colon && (strcmp(colon + 1, "desc") == 0 || strcmp(colon + 1, "asc") == 0)) {
        dir = colon + 1;
        n = (size_t)(colon - s);
    } else {
        n = strlen(s);
    }
    if (n == 0 || n >= sizeof field) {
        snprintf(err, errlen, "sort '%.80s': expected FIELD, -FIELD, FIELD:asc or FIELD:desc", s);
        return NULL;
    }
    memcpy(field, s, n);
    field[n] = '\0';
    json_t *o = json_pack("{s:s, s:s}", "field", field, "dir", dir);
    if (!o)
        snprintf(err, errlen, "sort '%.80s': not valid UTF-8", s);
    return o;
}

/* The /query body of the options (without cursor). NULL + err on a usage error. */
static json_t *build_body(const qopts *o, const json_t *colls, char *err, size_t errlen)
{
    json_t *body = json_pack("{s:s}", "collection", o->collection);
    if (!body) {
        snprintf(err, errlen, "collection name is not valid UTF-8");
        return NULL;
    }
    if (o->nfilters) {
        json_t *fs = json_array();
        if (json_object_set_new(body, "filters", fs) != 0)
            goto oom;
        for (size_t i = 0; i < o->nfilters; i++) {
            json_t *f = parse_filter(o->filters[i], colls, o->collection, err, errlen);
            if (!f || json_array_append_new(fs, f) != 0)
                goto fail;
        }
    }
    if (o->search) {
        json_t *s = json_string(o->search);
        if (!s) {
            snprintf(err, errlen, "search text is not valid UTF-8");
            goto fail;
        }
        if (json_object_set_new(body, "search", s) != 0)
            goto oom;
    }
    if (o->nsorts) {
        json_t *ss = json_array();
        if (json_object_set_new(body, "sort", ss) != 0)
            goto oom;
        for (size_t i = 0; i < o->nsorts; i++) {
            json_t *s = parse_sort(o->sorts[i], err, errlen);
            if (!s || json_array_append_new(ss, s) != 0)
                goto fail;
        }
    }
    if (o->fields) {
        json_t *fa = value_list(NULL, o->fields);
        if (!fa) {
            snprintf(err, errlen, "--fields: not valid UTF-8");
            goto fail;
        }
        if (json_object_set_new(body, "fields", fa) != 0)
            goto oom;
    }
    if (o->limit) {
        long long n;
        if (!parse_int(o->limit, &n)) {
            snprintf(err, errlen, "--limit '%.40s': expected a whole number", o->limit);
            goto fail;
        }
        if (json_object_set_new(body, "limit", json_integer((json_int_t)n)) != 0)
            goto oom;
    }
    return body;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    if (!err[0])
        snprintf(err, errlen, "out of memory");
    json_decref(body);
    return NULL;
}

/* ---- the command ------------------------------------------------------- */

static bool opt_value(int argc, char **argv, int *i, const char *name, const char **out)
{
    size_t n = strlen(name);
    if (strcmp(argv[*i], name) == 0) {
        if (*i + 1 >= argc)
            return false;
        *out = argv[++*i];
        return true;
    }
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=') {
        *out = argv[*i] + n + 1;
        return true;
    }
    return false;
}

/* 0 ok, 2 usage error (printed). Arrays in *o point into argv. */
static int parse_args(int argc, char **argv, qopts *o)
{
    o->filters = calloc((size_t)argc, sizeof *o->filters);
    o->sorts = calloc((size_t)argc, sizeof *o->sorts);
    if (!o->filters || !o->sorts) {
        fprintf(stderr, "readgate query: out of memory\n");
        return 2;
    }
    const char *timeout = NULL, *v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opt_value(argc, argv, &i, "--url", &o->url) ||
            opt_value(argc, argv, &i, "--site", &o->site) ||
            opt_value(argc, argv, &i, "--origin", &o->origin) ||
            opt_value(argc, argv, &i, "--api-key", &o->api_key) ||
            opt_value(argc, argv, &i, "--collection", &o->collection) ||
            opt_value(argc, argv, &i, "--search", &o->search) ||
            opt_value(argc, argv, &i, "--fields", &o->fields) ||
            opt_value(argc, argv, &i, "--limit", &o->limit) ||
            opt_value(argc, argv, &i, "--cursor", &o->cursor) ||
            opt_value(argc, argv, &i, "--timeout", &timeout))
            continue;
        if (opt_value(argc, argv, &i, "--filter", &v))
            o->filters[o->nfilters++] = v;
        else if (opt_value(argc, argv, &i, "--sort", &v))
            o->sorts[o->nsorts++] = v;
        else if (strcmp(a, "--collections") == 0)
            o->list_collections = true;
        else if (strcmp(a, "--all") == 0)
            o->all = true;
        else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0)
            o->verbose = true;
        else {
            fprintf(stderr, "readgate query: unexpected argument '%s'%s\n", a,
                    a[0] == '-' && i + 1 == argc ? " (missing its value?)" : "");
            return 2;
        }
    }
    if (!o->url)
        o->url = getenv("READGATE_URL");
    if (!o->url || !*o->url)
        o->url = DEFAULT_URL;
    if (!o->origin && !o->api_key) {
        o->api_key = getenv("READGATE_API_KEY");
        if (o->api_key && !*o->api_key)
            o->api_key = NULL;
    }
    o->timeout_s = 10;
    long long t;
    if (timeout && (!parse_int(timeout, &t) || t < 1 || t > 3600)) {
        fprintf(stderr, "readgate query: --timeout '%s': expected 1-3600 seconds\n", timeout);
        return 2;
    }
    if (timeout)
        o->timeout_s = (long)t;
    if (!o->site) {
        fprintf(stderr, "readgate query: --site is required\n");
        return 2;
    }
    if (!rg_site_id_valid(o->site)) {
        fprintf(stderr, "readgate query: site id '%.40s' is invalid; expected 8-32 of a-z 0-9\n",
                o->site);
        return 2;
    }
    if (!o->origin && !o->api_key) {
        fprintf(stderr, "readgate query: give --origin ORIGIN or --api-key KEY (or set "
                        "READGATE_API_KEY) to open a session\n");
        return 2;
    }
    if (o->origin && o->api_key) {
        fprintf(stderr, "readgate query: give either --origin or --api-key, not both\n");
        return 2;
    }
    if (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0) {
        fprintf(stderr, "readgate query: --url '%.80s': expected http://HOST[:PORT] or "
                        "https://...\n",
                o->url);
        return 2;
    }
    if (!o->list_collections && !o->collection) {
        fprintf(stderr, "readgate query: give --collection NAME (or --collections)\n");
        return 2;
    }
    if (o->list_collections && (o->collection || o->nfilters || o->search || o->nsorts ||
                                o->fields || o->limit || o->cursor || o->all)) {
        fprintf(stderr, "readgate query: --collections takes no query options\n");
        return 2;
    }
    if (o->all && o->cursor) {
        fprintf(stderr, "readgate query: --all starts at the first page; drop --cursor\n");
        return 2;
    }
    return 0;
}

/* Run the query (all pages with --all) and print the answer. Exit status. */
static int run_query(qclient *c, json_t *body)
{
    const qopts *o = c->o;
    json_t *all_rows = o->all ? json_array() : NULL;
    char *prev_cursor = NULL;
    int rc = 1;
    if (o->all && !all_rows)
        return 1;
    if (o->cursor && json_object_set_new(body, "cursor", json_string(o->cursor)) != 0) {
        fprintf(stderr, "readgate query: --cursor is not valid UTF-8\n");
        return 2;
    }
    for (int page = 0; page < MAX_PAGES; page++) {
        char *text = json_dumps(body, JSON_COMPACT);
        if (!text) {
            fprintf(stderr, "readgate query: out of memory\n");
            break;
        }
        long status = 0;
        json_t *doc = NULL;
        int sent = signed_send(c, "POST", "query", text, &status, &doc);
        free(text);
        if (sent != 0)
            break;
        if (status != 200) {
            rc = http_failed(status, doc);
            json_decref(doc);
            break;
        }
        if (!o->all) {
            rc = print_doc(doc) == 0 ? 0 : 1;
            json_decref(doc);
            break;
        }
        json_t *rows = json_object_get(doc, "rows");
        const char *next = json_string_value(json_object_get(doc, "next_cursor"));
        if (!json_is_array(rows) || json_array_extend(all_rows, rows) != 0) {
            fprintf(stderr, "readgate query: the answer has no rows array\n");
            json_decref(doc);
            break;
        }
        if (!next) {
            json_t *out = json_pack("{s:O, s:n}", "rows", all_rows, "next_cursor");
            rc = out && print_doc(out) == 0 ? 0 : 1;
            json_decref(out);
            json_decref(doc);
            break;
        }
        /* A cursor that does not move would loop forever. */
        if (prev_cursor && strcmp(prev_cursor, next) == 0) {
            fprintf(stderr, "readgate query: the gateway returned the same cursor twice\n");
            json_decref(doc);
            break;
        }
        free(prev_cursor);
        prev_cursor = strdup(next);
        int set = prev_cursor ? json_object_set_new(body, "cursor", json_string(next)) : -1;
        json_decref(doc);
        if (set != 0) {
            fprintf(stderr, "readgate query: out of memory\n");
            break;
        }
    }
    free(prev_cursor);
    json_decref(all_rows);
    return rc;
}

static int run(qclient *c)
{
    const qopts *o = c->o;
    int s = open_session(c);
    if (s != 0)
        return 1;
    /* The collections document: the answer itself, or the field types that
       filter values are converted to. */
    json_t *colls = NULL;
    if (o->list_collections || o->nfilters) {
        long status = 0;
        if (signed_send(c, "GET", "collections", NULL, &status, &colls) != 0)
            return 1;
        if (status != 200) {
            int rc = http_failed(status, colls);
            json_decref(colls);
            return rc;
        }
        if (o->list_collections) {
            int rc = print_doc(colls) == 0 ? 0 : 1;
            json_decref(colls);
            return rc;
        }
    }
    char err[512] = "";
    json_t *body = build_body(o, colls, err, sizeof err);
    json_decref(colls);
    if (!body) {
        fprintf(stderr, "readgate query: %s\n", err);
        return 2;
    }
    int rc = run_query(c, body);
    json_decref(body);
    return rc;
}

int rg_cli_query(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            query_usage(stdout);
            return 0;
        }
    qopts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc != 0) {
        fprintf(stderr, "(readgate query --help shows the options)\n");
        free(o.filters);
        free(o.sorts);
        return rc;
    }
    qclient c = {.o = &o};
    size_t n = strlen(o.url);
    while (n > 0 && o.url[n - 1] == '/')
        n--; /* "http://host/" + "/v1/..." would not match the signed path */
    if (n >= sizeof c.base) {
        fprintf(stderr, "readgate query: --url is too long\n");
        free(o.filters);
        free(o.sorts);
        return 2;
    }
    memcpy(c.base, o.url, n);
    c.base[n] = '\0';

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "readgate query: cannot initialise libcurl\n");
        free(o.filters);
        free(o.sorts);
        return 1;
    }
    c.curl = curl_easy_init();
    if (!c.curl) {
        fprintf(stderr, "readgate query: cannot initialise libcurl\n");
        rc = 1;
    } else {
        rc = run(&c);
        curl_easy_cleanup(c.curl);
    }
    curl_global_cleanup();
    if (c.secret) {
        OPENSSL_cleanse(c.secret, strlen(c.secret));
        free(c.secret);
    }
    free(c.token);
    free(o.filters);
    free(o.sorts);
    return rc;
}
