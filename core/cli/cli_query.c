/*
 * `readgate query`: a signing client for people. It opens a session (browser
 * mode with --origin, backend mode with an API key), signs every request as
 * docs/http-api.md says, and prints the gateway's JSON answer. Bodies are built
 * with jansson, never by formatting strings, so a value never becomes syntax.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_common.h"
#include "cli_query.h"
#include "config/config.h"

#define DEFAULT_URL "http://127.0.0.1:8080"
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

/* 0 ok, 2 usage error (printed). Arrays in *o point into argv. */
static int parse_args(int argc, char **argv, rg_qc_opts *o)
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
        if (rg_cli_opt_value(argc, argv, &i, "--url", &o->url) ||
            rg_cli_opt_value(argc, argv, &i, "--site", &o->site) ||
            rg_cli_opt_value(argc, argv, &i, "--origin", &o->origin) ||
            rg_cli_opt_value(argc, argv, &i, "--api-key", &o->api_key) ||
            rg_cli_opt_value(argc, argv, &i, "--collection", &o->collection) ||
            rg_cli_opt_value(argc, argv, &i, "--search", &o->search) ||
            rg_cli_opt_value(argc, argv, &i, "--fields", &o->fields) ||
            rg_cli_opt_value(argc, argv, &i, "--limit", &o->limit) ||
            rg_cli_opt_value(argc, argv, &i, "--cursor", &o->cursor) ||
            rg_cli_opt_value(argc, argv, &i, "--timeout", &timeout))
            continue;
        if (rg_cli_opt_value(argc, argv, &i, "--filter", &v))
            o->filters[o->nfilters++] = v;
        else if (rg_cli_opt_value(argc, argv, &i, "--sort", &v))
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
    if (timeout && (!rg_qc_parse_int(timeout, &t) || t < 1 || t > 3600)) {
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
static int run_query(rg_qc_client *c, json_t *body)
{
    const rg_qc_opts *o = c->o;
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
        int sent = rg_qc_signed_send(c, "POST", "query", text, &status, &doc);
        free(text);
        if (sent != 0)
            break;
        if (status != 200) {
            rc = rg_qc_http_failed(status, doc);
            json_decref(doc);
            break;
        }
        if (!o->all) {
            rc = rg_qc_print_doc(doc) == 0 ? 0 : 1;
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
            rc = out && rg_qc_print_doc(out) == 0 ? 0 : 1;
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

static int run(rg_qc_client *c)
{
    const rg_qc_opts *o = c->o;
    int s = rg_qc_open_session(c);
    if (s != 0)
        return 1;
    /* The collections document: the answer itself, or the field types that
       filter values are converted to. */
    json_t *colls = NULL;
    if (o->list_collections || o->nfilters) {
        long status = 0;
        if (rg_qc_signed_send(c, "GET", "collections", NULL, &status, &colls) != 0)
            return 1;
        if (status != 200) {
            int rc = rg_qc_http_failed(status, colls);
            json_decref(colls);
            return rc;
        }
        if (o->list_collections) {
            int rc = rg_qc_print_doc(colls) == 0 ? 0 : 1;
            json_decref(colls);
            return rc;
        }
    }
    char err[512] = "";
    json_t *body = rg_qc_build_body(o, colls, err, sizeof err);
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
    rg_qc_opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc != 0) {
        fprintf(stderr, "(readgate query --help shows the options)\n");
        free(o.filters);
        free(o.sorts);
        return rc;
    }
    rg_qc_client c = {.o = &o};
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
