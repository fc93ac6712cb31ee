/*
 * Writes the seeds no text editor can make: real cursors and session tokens
 * under the fuzz targets' fixed keys, and query bodies carrying a cursor that
 * is valid for them, into tests/fuzz/corpus/{cursor,session,plan}/.
 *
 *     make_seeds CORPUS_DIR
 *
 * Run it again after a change to the cursor or token layout (run.sh does not:
 * the corpus is part of the source tree).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/b64.h"
#include "crypto/cursor.h"
#include "crypto/session.h"
#include "fuzz_common.h"
#include "query/plan.h"
#include "query_fixture.h"

static const char *corpus;
static int failures;

static void write_seed(const char *target, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", corpus, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "make_seeds: cannot write %s: %s\n", path, strerror(errno));
        failures++;
        if (f)
            fclose(f);
    }
}

/* mode byte + text */
static void write_text(const char *target, const char *name, unsigned char mode, const char *text)
{
    size_t n = strlen(text);
    unsigned char *buf = malloc(n + 1);
    if (!buf)
        abort();
    buf[0] = mode;
    memcpy(buf + 1, text, n);
    write_seed(target, name, buf, n + 1);
    free(buf);
}

/* mode byte + the raw bytes of `text` (base64url after `skip` characters)
   without the trailing MAC of `maclen` bytes: the targets' mode 1. */
static void write_raw(const char *target, const char *name, unsigned char mode, const char *text,
                      size_t skip, size_t maclen)
{
    uint8_t raw[4096];
    size_t n;
    if (rg_b64_decode(text + skip, strlen(text + skip), true, raw + 1, sizeof raw - 1, &n) != 0 ||
        n < maclen) {
        fprintf(stderr, "make_seeds: cannot decode %s\n", name);
        failures++;
        return;
    }
    raw[0] = mode;
    write_seed(target, name, raw, 1 + n - maclen);
}

/* A row's values carry their struct_size: readgate steps through a row by it. */
#define V(...) ((rg_value){.struct_size = sizeof(rg_value), __VA_ARGS__})
static rg_value vint(int64_t i) { return V(.type = RG_TYPE_INTEGER, .u.i = i); }
static rg_value vnum(double n) { return V(.type = RG_TYPE_NUMBER, .u.n = n); }
static rg_value vbool(int b) { return V(.type = RG_TYPE_BOOLEAN, .u.b = b); }
static rg_value vnull(void) { return V(.type = RG_TYPE_STRING, .is_null = 1); }
static rg_value vstr(rg_type t, const char *s)
{
    return V(.type = t, .u.str = {s, strlen(s)});
}

static void cursors(rg_keyring *kr, rg_keyring *kr2)
{
    const struct {
        const char *name;
        size_t n;
        rg_value v[RG_CURSOR_MAX_VALUES];
    } cases[] = {
        {"int", 1, {vint(42)}},
        {"int_min", 1, {vint(INT64_MIN)}},
        {"number_int", 2, {vnum(19.99), vint(7)}},
        {"string_int", 2, {vstr(RG_TYPE_STRING, "Gr\xc3\xbc\xc3\x9f" "e 'x' 100%"), vint(3)}},
        {"null_int", 2, {vnull(), vint(9)}},
        {"date_dt_bool_int",
         4,
         {vstr(RG_TYPE_DATE, "2024-02-29"), vstr(RG_TYPE_DATETIME, "2024-05-01T12:00:00.5Z"),
          vbool(1), vint(1)}},
        {"enum_empty_string", 2, {vstr(RG_TYPE_ENUM, "boots"), vstr(RG_TYPE_STRING, "")}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int k = 0; k < 2; k++) {
            char *c = NULL;
            if (rg_cursor_encode(k ? kr2 : kr, rg_fuzz_digest, cases[i].v, cases[i].n, &c) != 0) {
                fprintf(stderr, "make_seeds: cursor %s failed\n", cases[i].name);
                failures++;
                continue;
            }
            char name[128];
            unsigned char mode = (unsigned char)(cases[i].n << 1);
            snprintf(name, sizeof name, "real_%s_%s", cases[i].name, k ? "k2" : "k1");
            write_text("cursor", name, mode, c);
            snprintf(name, sizeof name, "raw_%s_%s", cases[i].name, k ? "k2" : "k1");
            write_raw("cursor", name, mode | 1, c, 0, 16);
            free(c);
        }
    }
}

static void sessions(rg_keyring *kr, rg_keyring *kr2)
{
    const struct {
        const char *name;
        rg_keyring *ring;
        const char *site;
        uint64_t minted;
        uint32_t ttl;
    } cases[] = {
        {"valid_k1", kr, "demo0001", RG_FUZZ_NOW - 10, 600},
        {"valid_k2", kr2, "demo0001", RG_FUZZ_NOW - 10, 86400},
        {"other_site", kr, "othersite01", RG_FUZZ_NOW, 600},
        {"expired", kr, "demo0001", RG_FUZZ_NOW - 1000, 600},
        {"long_site_id", kr, "abcdefghijklmnopqrstuvwxyz012345", RG_FUZZ_NOW, 600},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char token[RG_SESSION_TOKEN_MAX];
        rg_session s;
        if (rg_session_mint(cases[i].ring, cases[i].site, cases[i].minted, cases[i].ttl, token,
                            &s) != 0) {
            fprintf(stderr, "make_seeds: token %s failed\n", cases[i].name);
            failures++;
            continue;
        }
        char name[128];
        snprintf(name, sizeof name, "real_%s", cases[i].name);
        write_text("session", name, 0, token);
        snprintf(name, sizeof name, "raw_%s", cases[i].name);
        write_raw("session", name, 1, token, 4, 32);
    }
}

/* A body, and the same body with the cursor of a plausible last row. */
static void plan_with_cursor(rg_keyring *kr, const char *name, const char *body)
{
    rg_request_plan rp;
    rg_api_error err;
    if (rg_plan_build(&fx_site, &fx_limits, kr, body, strlen(body), &rp, &err) != 0) {
        fprintf(stderr, "make_seeds: body %s refused: %s\n", name, err.message);
        failures++;
        return;
    }
    rg_value row[32];
    for (size_t i = 0; i < rp.plan.ncolumns && i < 32; i++) {
        const rg_field *f = &rp.collection->fields[rp.plan.columns[i]];
        switch (f->type) {
        case RG_TYPE_INTEGER: row[i] = vint(17); break;
        case RG_TYPE_NUMBER: row[i] = vnum(49.5); break;
        case RG_TYPE_BOOLEAN: row[i] = vbool(0); break;
        case RG_TYPE_DATE: row[i] = vstr(f->type, "2023-12-31"); break;
        case RG_TYPE_DATETIME: row[i] = vstr(f->type, "2024-01-01T00:00:00Z"); break;
        case RG_TYPE_ENUM: row[i] = vstr(f->type, f->enum_values[0]); break;
        default: row[i] = vstr(f->type, "Red Runner"); break;
        }
    }
    char *cursor = NULL;
    if (rg_plan_next_cursor(&rp, kr, row, &cursor) != 0) {
        fprintf(stderr, "make_seeds: no cursor for %s\n", name);
        failures++;
        rg_request_plan_free(&rp);
        return;
    }
    rg_request_plan_free(&rp);
    size_t n = strlen(body) + strlen(cursor) + 32;
    char *with = malloc(n);
    if (!with)
        abort();
    /* body ends with '}': insert the cursor member before it */
    snprintf(with, n, "%.*s,\"cursor\":\"%s\"}", (int)(strlen(body) - 1), body, cursor);
    char fname[128];
    snprintf(fname, sizeof fname, "cursor_%s.json", name);
    write_seed("plan", fname, with, strlen(with));
    free(with);
    free(cursor);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
        return 2;
    }
    corpus = argv[1];
    char err[256];
    rg_keyring *kr = rg_fuzz_keyring();
    /* The same keys with k2 as the primary: cursors and tokens of an old key. */
    rg_keyring *kr2 = rg_keyring_parse("k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=,"
                                       "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                                       err, sizeof err);
    if (!kr2) {
        fprintf(stderr, "make_seeds: %s\n", err);
        return 1;
    }
    cursors(kr, kr2);
    sessions(kr, kr2);
    plan_with_cursor(kr, "default", "{\"collection\":\"products\",\"limit\":5}");
    plan_with_cursor(kr, "sorted",
                     "{\"collection\":\"products\",\"sort\":[{\"field\":\"price\",\"dir\":"
                     "\"desc\"},{\"field\":\"released\"},{\"field\":\"updated\"}],"
                     "\"fields\":[\"name\"],\"limit\":3}");
    plan_with_cursor(kr, "filtered",
                     "{\"collection\":\"products\",\"filters\":[{\"field\":\"price\",\"op\":"
                     "\"between\",\"value\":[10,50]},{\"field\":\"category\",\"op\":\"in\","
                     "\"value\":[\"boots\",\"shoes\"]}],\"search\":\"red runner\","
                     "\"sort\":[{\"field\":\"name\"}]}");
    plan_with_cursor(kr, "plain", "{\"collection\":\"plain\",\"limit\":1}");
    rg_keyring_free(kr);
    rg_keyring_free(kr2);
    return failures ? 1 : 0;
}
