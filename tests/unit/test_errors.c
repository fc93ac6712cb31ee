/*
 * The table of API error codes (core/query/errors.c) against itself, the
 * documentation and the sources:
 * - every row has a code, an HTTP error status and a standard message that
 *   needs no JSON escaping, and no code appears twice;
 * - the error table of docs/http-api.md lists exactly the table's codes,
 *   each with the table's status, and schemas/openapi.json's enum of codes
 *   is the same set;
 * - nothing under core/ spells a code or its status by hand: no string
 *   literal equal to a code outside the table, no status literal followed
 *   by a code string, no JSON error body in a string literal;
 * - the failure of a data source or an AI provider maps to its error with
 *   the words clients see.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <jansson.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/errors.h"
#include "refresh/source_oauth.h"
#include "server/upstream_error.h"

/* ---- helpers ------------------------------------------------------------------ */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        print_error("cannot open %s\n", path);
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (!buf)
        buf = calloc(1, 1);
    else
        buf[len] = '\0';
    return buf;
}

/* The table's row for a code string, or -1. */
static int find_code(const char *code, size_t len)
{
    for (int i = 0; i < RG_E_COUNT; i++) {
        const char *c = rg_err_info_of((rg_err_code)i)->code;
        if (strlen(c) == len && memcmp(c, code, len) == 0)
            return i;
    }
    return -1;
}

/* ---- the table itself ------------------------------------------------------------ */

static void test_rows(void **state)
{
    (void)state;
    regex_t name;
    assert_int_equal(regcomp(&name, "^[a-z][a-z0-9_]*$", REG_EXTENDED | REG_NOSUB), 0);
    for (int i = 0; i < RG_E_COUNT; i++) {
        const rg_err_info *info = rg_err_info_of((rg_err_code)i);
        /* A row left out of the initialiser reads as the internal one. */
        if (i != RG_E_INTERNAL && info == rg_err_info_of(RG_E_INTERNAL))
            fail_msg("row %d of the table is missing", i);
        assert_non_null(info->code);
        assert_int_equal(regexec(&name, info->code, 0, NULL, 0), 0);
        assert_true(info->http_status >= 400 && info->http_status <= 599);
        assert_non_null(info->message);
        assert_true(info->message[0] != '\0');
        for (const unsigned char *p = (const unsigned char *)info->message; *p; p++)
            if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
                fail_msg("the standard message of %s needs JSON escaping", info->code);
        for (int j = 0; j < i; j++)
            if (strcmp(rg_err_info_of((rg_err_code)j)->code, info->code) == 0)
                fail_msg("code %s appears twice", info->code);
    }
    regfree(&name);
    /* Anything outside the enum answers as internal. */
    assert_string_equal(rg_err_info_of(RG_E_COUNT)->code, "internal");
    assert_string_equal(rg_err_info_of((rg_err_code)-1)->code, "internal");
    assert_int_equal(rg_err_info_of(RG_E_INTERNAL)->http_status, 500);
}

static void test_set(void **state)
{
    (void)state;
    rg_api_error e;
    rg_api_err(&e, RG_E_INVALID_LIMIT, "limit", "limit must be at most %d", 100);
    assert_int_equal(e.id, RG_E_INVALID_LIMIT);
    assert_int_equal(e.http_status, 400);
    assert_string_equal(e.code, "invalid_limit");
    assert_string_equal(e.field, "limit");
    assert_string_equal(e.message, "limit must be at most 100");
    assert_null(e.provider);
    char *doc = rg_api_error_json(&e);
    assert_non_null(doc);
    assert_string_equal(doc, "{\"error\":{\"code\":\"invalid_limit\",\"message\":\"limit must be "
                             "at most 100\",\"field\":\"limit\"}}");
    free(doc);

    /* A field longer than its buffer is cut, never left inside a UTF-8 character. */
    char longfield[300];
    memset(longfield, 'a', sizeof longfield);
    memcpy(longfield + 126, "\xc3\xa9", 2);
    longfield[sizeof longfield - 1] = '\0';
    rg_api_err(&e, RG_E_INVALID_VALUE, longfield, "x");
    assert_int_equal(strlen(e.field), 126);

    rg_api_err_default(&e, RG_E_WIDGET_UNAVAILABLE);
    assert_int_equal(e.http_status, 404);
    assert_string_equal(e.message, "widget unavailable");
    assert_string_equal(e.field, "");
}

/* The allocation-free writer gives the bytes the JSON writer gives. */
static void test_default_documents(void **state)
{
    (void)state;
    for (int i = 0; i < RG_E_COUNT; i++) {
        rg_api_error e;
        rg_api_err_default(&e, (rg_err_code)i);
        char *doc = rg_api_error_json(&e);
        assert_non_null(doc);
        char buf[RG_API_ERROR_DEFAULT_MAX];
        int n = rg_api_error_json_default((rg_err_code)i, buf, sizeof buf);
        assert_true(n > 0);
        assert_string_equal(buf, doc);
        assert_int_equal((size_t)n, strlen(doc));
        free(doc);
    }
    char small[16];
    assert_int_equal(rg_api_error_json_default(RG_E_INTERNAL, small, sizeof small), -1);
    char buf[RG_API_ERROR_DEFAULT_MAX];
    rg_api_error_json_default(RG_E_WIDGET_UNAVAILABLE, buf, sizeof buf);
    /* The identical 404 (docs/http-api.md), byte for byte. */
    assert_string_equal(
        buf, "{\"error\":{\"code\":\"widget_unavailable\",\"message\":\"widget unavailable\"}}");
}

/* ---- the documentation ------------------------------------------------------------ */

/*
 * The rows "| `code` | status | ..." of docs/http-api.md (its table of
 * every code, and the rate limits' row). Returns how many were read;
 * doc_status[i] is the documented status of table row i, or 0.
 */
static int doc_rows(const char *doc, int doc_status[RG_E_COUNT])
{
    regex_t row;
    assert_int_equal(regcomp(&row, "^\\| `([a-z][a-z0-9_]*)` \\| ([1-5][0-9][0-9]) \\|",
                             REG_EXTENDED | REG_NEWLINE),
                     0);
    memset(doc_status, 0, sizeof(int) * RG_E_COUNT);
    int rows = 0;
    const char *p = doc;
    regmatch_t m[3];
    while (regexec(&row, p, 3, m, p == doc ? 0 : REG_NOTBOL) == 0) {
        const char *code = p + m[1].rm_so;
        size_t len = (size_t)(m[1].rm_eo - m[1].rm_so);
        int status = atoi(p + m[2].rm_so);
        int i = find_code(code, len);
        if (i < 0)
            fail_msg("docs/http-api.md documents %.*s, which the table does not have", (int)len,
                     code);
        if (doc_status[i] && doc_status[i] != status)
            fail_msg("docs/http-api.md gives %.*s two statuses", (int)len, code);
        doc_status[i] = status;
        rows++;
        p += m[0].rm_eo;
    }
    regfree(&row);
    return rows;
}

static void test_docs_error_table(void **state)
{
    (void)state;
    char *doc = read_file(RG_SOURCE_DIR "/docs/http-api.md");
    assert_non_null(doc);
    int doc_status[RG_E_COUNT];
    int rows = doc_rows(doc, doc_status);
    /* The parse itself must work, or the checks below prove nothing. */
    assert_true(rows >= 30);
    for (int i = 0; i < RG_E_COUNT; i++) {
        const rg_err_info *info = rg_err_info_of((rg_err_code)i);
        if (doc_status[i] == 0)
            fail_msg("code %s is missing from the error table of docs/http-api.md", info->code);
        if (doc_status[i] != info->http_status)
            fail_msg("code %s: docs/http-api.md says %d, the table %d", info->code, doc_status[i],
                     info->http_status);
    }
    free(doc);
}

static void test_openapi_codes(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *api = json_load_file(RG_SOURCE_DIR "/schemas/openapi.json", 0, &jerr);
    assert_non_null(api);
    json_t *en = NULL;
    int rc = json_unpack(api, "{s:{s:{s:{s:{s:{s:{s:{s:o}}}}}}}}", "components", "schemas", "Error",
                         "properties", "error", "properties", "code", "enum", &en);
    assert_int_equal(rc, 0);
    assert_true(json_is_array(en));
    bool seen[RG_E_COUNT] = {false};
    size_t k;
    json_t *v;
    json_array_foreach(en, k, v) {
        const char *code = json_string_value(v);
        assert_non_null(code);
        int i = find_code(code, strlen(code));
        if (i < 0)
            fail_msg("schemas/openapi.json lists %s, which the table does not have", code);
        seen[i] = true;
    }
    for (int i = 0; i < RG_E_COUNT; i++)
        if (!seen[i])
            fail_msg("code %s is missing from schemas/openapi.json", rg_err_info_of(i)->code);
    json_decref(api);
}

/* ---- the sources ------------------------------------------------------------------ */

/* C source with comments blanked out; string and character literals kept. */
static void strip_comments(char *s)
{
    for (char *p = s; *p;) {
        if (*p == '"' || *p == '\'') {
            char q = *p++;
            while (*p && *p != q)
                p += p[0] == '\\' && p[1] ? 2 : 1;
            if (*p)
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            char *end = strstr(p + 2, "*/");
            end = end ? end + 2 : p + strlen(p);
            for (; p < end; p++)
                if (*p != '\n')
                    *p = ' ';
        } else if (p[0] == '/' && p[1] == '/') {
            for (; *p && *p != '\n'; p++)
                *p = ' ';
        } else {
            p++;
        }
    }
}

/* Files under core/ that may spell codes: the table, and the metrics, whose
   label values name the outcomes they count and stay as they are even
   should a code change. */
static bool exempt(const char *rel)
{
    return strcmp(rel, "core/query/errors.c") == 0 || strcmp(rel, "core/server/metrics.c") == 0;
}

static int problems;
static bool quiet; /* while the scan checks itself */
static regex_t status_then_code; /* 404, "not_found" */

static void line_of(const char *src, const char *at, const char *rel, const char *what)
{
    int line = 1;
    for (const char *p = src; p < at; p++)
        line += *p == '\n';
    if (!quiet)
        print_error("%s:%d: %s\n", rel, line, what);
    problems++;
}

static void scan_source(const char *rel, char *src)
{
    strip_comments(src);
    /* Every string literal that is exactly a code. */
    for (char *p = src; *p; p++) {
        if (*p == '\'') { /* a character literal: skip it whole */
            for (p++; *p && *p != '\''; p += p[0] == '\\' && p[1] ? 2 : 1)
                ;
            if (!*p)
                break;
            continue;
        }
        if (*p != '"')
            continue;
        char *start = ++p;
        while (*p && *p != '"')
            p += p[0] == '\\' && p[1] ? 2 : 1;
        if (find_code(start, (size_t)(p - start)) >= 0)
            line_of(src, start, rel, "a code spelled by hand; name it by its RG_E_ enum");
        if (!*p)
            break;
    }
    /* A JSON error body typed into a string. */
    for (const char *p = src; (p = strstr(p, "\\\"code\\\":")); p++)
        line_of(src, p, rel, "an error body typed by hand; use rg_reply_error_default");
    /* A status and a code string side by side, whatever the function. */
    regmatch_t m;
    for (const char *p = src; regexec(&status_then_code, p, 1, &m, 0) == 0; p += m.rm_eo)
        line_of(src, p + m.rm_so, rel, "a status and a code typed by hand");
}

static int visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    size_t n = strlen(path);
    if (type != FTW_F || n < 2 || path[n - 2] != '.' || (path[n - 1] != 'c' && path[n - 1] != 'h'))
        return 0;
    const char *rel = path + strlen(RG_SOURCE_DIR "/");
    if (exempt(rel))
        return 0;
    char *src = read_file(path);
    if (!src) {
        problems++;
        return 0;
    }
    scan_source(rel, src);
    free(src);
    return 0;
}

static void test_no_codes_by_hand(void **state)
{
    (void)state;
    assert_int_equal(regcomp(&status_then_code,
                             "(^|[^0-9A-Za-z_])[45][0-9][0-9][ \t\n]*,[ \t\n]*\"[a-z][a-z0-9_]*\"",
                             REG_EXTENDED),
                     0);
    /* The scan must find what it looks for, or a clean result means nothing. */
    char sample[] =
        "rg_api_error_set(e, 503, \"source_unavailable\", NULL, \"x\");\n"
        "static const char b[] = \"{\\\"code\\\":\\\"internal\\\"}\"; /* \"internal\" */";
    problems = 0;
    quiet = true;
    scan_source("sample.c", sample);
    quiet = false;
    assert_int_equal(problems, 3);

    problems = 0;
    assert_int_equal(nftw(RG_SOURCE_DIR "/core", visit, 16, FTW_PHYS), 0);
    regfree(&status_then_code);
    assert_int_equal(problems, 0);
}

/* ---- the status mapping ------------------------------------------------------------ */

static void expect(rg_status st, const rg_upstream *u, const char *code, int status,
                   const char *message)
{
    rg_api_error e;
    rg_api_error_from_status(&e, st, u);
    assert_string_equal(e.code, code);
    assert_int_equal(e.http_status, status);
    assert_string_equal(e.message, message);
    assert_string_equal(e.field, "");
}

static void test_source_status(void **state)
{
    (void)state;
    rg_upstream u = {.kind = RG_UPSTREAM_SOURCE, .name = "catalog", .site_id = "demo0001"};
    const char *down = "data source 'catalog' is unavailable; try again later";
    expect(RG_ERR_UNAVAILABLE, &u, "source_unavailable", 503, down);
    expect(RG_ERR_AUTH, &u, "source_unavailable", 503, down);
    expect(RG_ERR_CONFIG, &u, "source_unavailable", 503, down);
    expect(RG_ERR_TIMEOUT, &u, "upstream_timeout", 504, "the data source did not answer in time");
    expect(RG_ERR_UPSTREAM, &u, "upstream_error", 502, "the data source returned an error");
    expect(RG_ERR_INTERNAL, &u, "internal", 500, "internal error");
    expect(RG_ERR_ABORTED, &u, "internal", 500, "internal error");
    expect(RG_ERR_REAUTH, &u, "source_unavailable", 503,
           "data source 'catalog' needs re-authorisation: run readgate oauth import --site "
           "demo0001 --source catalog");
    rg_api_error e;
    rg_api_error_from_status(&e, RG_ERR_UPSTREAM, &u);
    assert_null(e.provider);
}

static void test_provider_status(void **state)
{
    (void)state;
    rg_upstream u = {.kind = RG_UPSTREAM_AI_PROVIDER, .name = "retell", .http_status = 401};
    expect(RG_ERR_AUTH, &u, "upstream_error", 502,
           "the AI provider retell refused this site's API key (HTTP 401); the site's ai.api_key "
           "must be replaced");
    u.http_status = 429;
    expect(RG_ERR_UNAVAILABLE, &u, "upstream_error", 502,
           "the AI provider retell is overloaded or unavailable (HTTP 429); try again later");
    u.http_status = 400;
    expect(RG_ERR_UPSTREAM, &u, "upstream_error", 502,
           "the AI provider retell refused the request (HTTP 400)");
    u.http_status = 0;
    expect(RG_ERR_TIMEOUT, &u, "upstream_timeout", 504,
           "the AI provider retell did not answer in time; try again");
    expect(RG_ERR_CONFIG, &u, "internal", 500, "internal error");
    expect(RG_ERR_INTERNAL, &u, "internal", 500, "internal error");

    /* The provider is named, except on the plugin's own failure. */
    rg_api_error e;
    rg_api_error_from_status(&e, RG_ERR_TIMEOUT, &u);
    assert_string_equal(e.provider, "retell");
    rg_api_error_from_status(&e, RG_ERR_INTERNAL, &u);
    assert_null(e.provider);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_default_documents),
        cmocka_unit_test(test_docs_error_table),
        cmocka_unit_test(test_openapi_codes),
        cmocka_unit_test(test_no_codes_by_hand),
        cmocka_unit_test(test_source_status),
        cmocka_unit_test(test_provider_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
