/* What the files of `readgate query` share (rg_qc_: the query client):
   cli_query.c parses the command line and runs the query, cli_query_http.c
   opens the session and signs requests, cli_query_body.c builds the /query
   body. */
#ifndef RG_CLI_QUERY_H
#define RG_CLI_QUERY_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct rg_qc_opts {
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
} rg_qc_opts;

/* A live session and the HTTP handle every request reuses. */
typedef struct rg_qc_client {
    const rg_qc_opts *o;
    CURL *curl;
    char base[2048];
    char *token;
    char *secret; /* wiped before free */
} rg_qc_client;

/* ---- cli_query_http.c ----------------------------------------------------- */

/* POST /v1/{site}/token. 0 ok, 1 refused (printed), -1 transport failure. */
int rg_qc_open_session(rg_qc_client *c);
/* A signed request to /v1/{site}/{route}; body may be NULL (signed as empty).
   0 with *status and *doc (new reference), or -1 after printing why. */
int rg_qc_signed_send(rg_qc_client *c, const char *method, const char *route, const char *body,
                      long *status, json_t **doc);
/* Print a JSON document indented on stdout: 0, or -1. */
int rg_qc_print_doc(const json_t *doc);
/* An error answer: print it and return the exit status 1. */
int rg_qc_http_failed(long status, json_t *doc);

/* ---- cli_query_body.c ----------------------------------------------------- */

/* Whole-string integer; false on anything else (spaces, overflow, fraction). */
bool rg_qc_parse_int(const char *s, long long *out);
/* The /query body of the options (without cursor). NULL + err on a usage error. */
json_t *rg_qc_build_body(const rg_qc_opts *o, const json_t *colls, char *err, size_t errlen);

#endif
