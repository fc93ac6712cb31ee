/*
 * readgate-conformance --provider: the checks every token provider passes
 * (docs/writing-a-provider.md). The provider is loaded through readgate's own
 * loader and driven the way the gateway drives it, with answers that a real
 * provider gives: a refusal of the key, throttling, an outage, garbage, and
 * (with --answer) the provider's documented success body.
 *
 *   readgate-conformance --provider PLUGIN.so [--option KEY=VALUE]...
 *                        [--expires-after-s N] [--tools MODE] [--answer FILE]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlfcn.h>
#include <jansson.h>
#include <readgate/token_provider.h>

#include "conformance.h"
#include "plugin/plugin_loader.h"
#include "plugin/provider_url.h"

/* In every answer body: an error message that repeats it leaks the provider's words. */
#define MARKER "RGCONF-PROVIDER-BODY-4f1c"
#define API_KEY "rgconf-api-key-7d2a91b0c3e4f5a6"
#define ORIGIN "https://conformance.example.com"

extern const rg_host_api rg_conf_provider_host;

typedef struct pctx {
    const rg_token_provider *p;
    rg_provider_config cfg;
    rg_conf_source opts;
    char *answer;
    size_t answer_len;
    size_t passed, failed, na;
} pctx;

static void verdict(pctx *c, const char *name, int ok, const char *msg)
{
    if (ok == 1) {
        c->passed++;
        printf("ok %s%s%s\n", name, msg[0] ? "  # " : "", msg);
    } else if (ok == 0) {
        c->failed++;
        printf("FAIL %s\n    %s\n", name, msg);
    } else {
        c->na++;
        printf("n/a %s (not applicable: %s)\n", name, msg);
    }
    fflush(stdout);
}

static const char *status_name(rg_status s)
{
    static const char *const names[] = {"RG_OK",          "RG_ERR_UNAVAILABLE", "RG_ERR_TIMEOUT",
                                        "RG_ERR_UPSTREAM", "RG_ERR_AUTH",        "RG_ERR_CONFIG",
                                        "RG_ERR_INTERNAL", "RG_ERR_ABORTED"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "(unknown status)";
}

/* readgate's own rule (plugin/provider_url.h), and the key not in the URL. */
static int url_ok(const char *url, char *msg, size_t msgsz)
{
    char why[200];
    if (rg_provider_url_ok(url, why, sizeof why) != 0) {
        snprintf(msg, msgsz, "request url '%.200s': %s", url, why);
        return 0;
    }
    if (strstr(url, API_KEY)) {
        snprintf(msg, msgsz, "the api key is in the request URL (it ends up in logs)");
        return 0;
    }
    return 1;
}

static int header_ok(const char *s)
{
    if (!s)
        return 0;
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return 0;
    return 1;
}

/* begin with the standard input; 1 with *req filled, 0 with msg. */
static int run_begin(pctx *c, void **state, rg_provider_request *req, char *msg, size_t msgsz)
{
    static const char tools[] =
        "[{\"name\":\"query_products\",\"description\":\"Read rows of products\","
        "\"parameters\":{\"type\":\"object\",\"properties\":{\"limit\":{\"type\":\"integer\"}}}}]";
    rg_mint_input in = {.struct_size = sizeof in,
                        .config = &c->cfg,
                        .api_key = API_KEY,
                        .api_key_len = strlen(API_KEY),
                        .now = 1800000000,
                        .origin = ORIGIN,
                        .tools_json = strcmp(c->cfg.tools, "functions") == 0 ? tools : NULL,
                        .mcp_url = strcmp(c->cfg.tools, "mcp") == 0
                                       ? "https://gateway.example.com/v1/site0001/mcp"
                                       : NULL,
                        .mcp_token = strcmp(c->cfg.tools, "mcp") == 0 ? "rgm_conformance" : NULL};
    memset(req, 0, sizeof *req);
    req->struct_size = sizeof *req;
    *state = NULL;
    rg_error err = {.struct_size = sizeof err};
    rg_status st = c->p->begin(&in, state, req, &err);
    if (st != RG_OK) {
        snprintf(msg, msgsz, "begin returned %s: %.200s", status_name(st), err.message);
        if (*state)
            c->p->end(*state);
        return 0;
    }
    return 1;
}

static int check_request(const rg_provider_request *r, char *msg, size_t msgsz)
{
    if (!r->url) {
        snprintf(msg, msgsz, "no HTTP call (made locally)");
        return 1;
    }
    if (!r->method || (strcmp(r->method, "GET") && strcmp(r->method, "POST"))) {
        snprintf(msg, msgsz, "method must be GET or POST, got '%s'", r->method ? r->method : "(null)");
        return 0;
    }
    if (!url_ok(r->url, msg, msgsz))
        return 0;
    if (r->nheaders > 16 || (r->nheaders && !r->headers)) {
        snprintf(msg, msgsz, "%zu headers; at most 16", r->nheaders);
        return 0;
    }
    /* Headers are read by their own struct_size, as readgate reads them. */
    uint32_t hsize = r->nheaders ? r->headers->struct_size : 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        const rg_provider_header *h = rg_header_at(r->headers, i);
        if (h->struct_size < RG_PROVIDER_HEADER_SIZE_2_0 || h->struct_size != hsize) {
            snprintf(msg, msgsz,
                     "header %zu has struct_size %u; every header needs the same struct_size, "
                     "at least %zu (set it to sizeof(rg_provider_header))",
                     i, (unsigned)h->struct_size, (size_t)RG_PROVIDER_HEADER_SIZE_2_0);
            return 0;
        }
        if (!h->name || !*h->name || !header_ok(h->name) || strchr(h->name, ':') ||
            !header_ok(h->value)) {
            snprintf(msg, msgsz, "header %zu is malformed (empty name, ':' or a line break)", i);
            return 0;
        }
    }
    if (!strcmp(r->method, "POST") && r->body && memchr(r->body, '\0', r->body_len)) {
        snprintf(msg, msgsz, "the body holds a NUL byte");
        return 0;
    }
    snprintf(msg, msgsz, "%s %.200s", r->method, r->url);
    return 1;
}

/* begin, then finish with (status, body); *st the outcome, out filled on RG_OK.
   The caller ends the state. */
static int mint_with(pctx *c, long status, const char *body, size_t len, void **state,
                     rg_mint_result *out, rg_error *err, rg_status *st, char *msg, size_t msgsz)
{
    rg_provider_request req;
    if (!run_begin(c, state, &req, msg, msgsz))
        return 0;
    rg_provider_response resp = {.struct_size = sizeof resp,
                                 .status = req.url ? status : 0,
                                 .body = req.url ? body : "",
                                 .body_len = req.url ? len : 0};
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    err->struct_size = sizeof *err;
    err->status = RG_OK;
    err->message[0] = '\0';
    *st = c->p->finish(*state, &resp, out, err);
    err->message[sizeof err->message - 1] = '\0';
    return 1;
}

static void refusal_case(pctx *c, const char *name, long status, const char *body, rg_status want,
                         int local)
{
    char msg[600];
    if (local) {
        verdict(c, name, -1, "the provider makes no HTTP call");
        return;
    }
    void *state;
    rg_mint_result out;
    rg_error err;
    rg_status st;
    if (!mint_with(c, status, body, strlen(body), &state, &out, &err, &st, msg, sizeof msg)) {
        verdict(c, name, 0, msg);
        return;
    }
    int ok = 0;
    if (st != want)
        snprintf(msg, sizeof msg, "HTTP %ld: finish returned %s, expected %s", status,
                 status_name(st), status_name(want));
    else if (strstr(err.message, MARKER))
        snprintf(msg, sizeof msg, "the error message repeats the provider's answer: %.200s",
                 err.message);
    else if (strstr(err.message, API_KEY))
        snprintf(msg, sizeof msg, "the error message holds the api key");
    else {
        ok = 1;
        snprintf(msg, sizeof msg, "%s", status_name(st));
    }
    if (state)
        c->p->end(state);
    verdict(c, name, ok, msg);
}

/* The success path: a flat JSON object of scalars with an integer expires_at,
   without the key; an echo of the session would be an object or array. */
static void success_case(pctx *c, int local)
{
    char msg[600];
    if (!local && !c->answer) {
        verdict(c, "provider/finish_ok", -1, "give the provider's documented answer with --answer");
        return;
    }
    void *state;
    rg_mint_result out;
    rg_error err;
    rg_status st;
    const char *body = c->answer ? c->answer : "";
    if (!mint_with(c, 200, body, c->answer ? c->answer_len : 0, &state, &out, &err, &st, msg,
                   sizeof msg)) {
        verdict(c, "provider/finish_ok", 0, msg);
        return;
    }
    int ok = 0;
    json_error_t jerr;
    json_t *j = st == RG_OK && out.json ? json_loadb(out.json, out.json_len, 0, &jerr) : NULL;
    if (st != RG_OK) {
        snprintf(msg, sizeof msg, "finish returned %s: %.200s", status_name(st), err.message);
    } else if (!json_is_object(j)) {
        snprintf(msg, sizeof msg, "the result is not a JSON object");
    } else if (!json_is_integer(json_object_get(j, "expires_at"))) {
        snprintf(msg, sizeof msg, "the result has no integer expires_at");
    } else if (memmem(out.json, out.json_len, API_KEY, strlen(API_KEY))) {
        snprintf(msg, sizeof msg, "the result holds the api key");
    } else {
        const char *k;
        json_t *v;
        ok = 1;
        snprintf(msg, sizeof msg, "%.*s", (int)(out.json_len > 300 ? 300 : out.json_len), out.json);
        json_object_foreach(j, k, v) {
            if (json_is_object(v) || json_is_array(v)) {
                ok = 0;
                snprintf(msg, sizeof msg,
                         "result member '%s' is an object or array: the browser gets only the "
                         "credential's scalars, never an echo of the session",
                         k);
                break;
            }
        }
    }
    json_decref(j);
    if (state)
        c->p->end(state);
    verdict(c, "provider/finish_ok", ok, msg);
}

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf)
        return -1;
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: readgate-conformance --provider PLUGIN.so [options]\n"
               "  --option KEY=VALUE     an ai.options entry (repeatable)\n"
               "  --expires-after-s N    ai.expires_after_s (default 600)\n"
               "  --tools MODE           functions, mcp or none (default: functions when the\n"
               "                         provider takes them, else none)\n"
               "  --answer FILE          the provider's documented success answer body\n");
}

int rg_conf_provider_main(int argc, char **argv)
{
    pctx c;
    memset(&c, 0, sizeof c);
    const char *path = NULL, *answer = NULL, *tools = NULL;
    unsigned long expires = 600;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--provider") && v) {
            path = v;
            i++;
        } else if (!strcmp(a, "--option") && v) {
            if (rg_conf_source_set_pair(&c.opts, v) != 0) {
                fprintf(stderr, "readgate-conformance: --option wants KEY=VALUE, got '%s'\n", v);
                rg_conf_source_free(&c.opts);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--expires-after-s") && v) {
            char *end;
            errno = 0;
            expires = strtoul(v, &end, 10);
            if (*end || errno || expires == 0 || expires > 86400) {
                fprintf(stderr, "readgate-conformance: --expires-after-s wants 1..86400\n");
                rg_conf_source_free(&c.opts);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--tools") && v) {
            tools = v;
            i++;
        } else if (!strcmp(a, "--answer") && v) {
            answer = v;
            i++;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            rg_conf_source_free(&c.opts);
            return 0;
        } else {
            usage(stderr);
            rg_conf_source_free(&c.opts);
            return 2;
        }
    }
    if (!path || (tools && strcmp(tools, "functions") && strcmp(tools, "mcp") &&
                  strcmp(tools, "none"))) {
        usage(stderr);
        rg_conf_source_free(&c.opts);
        return 2;
    }
    if (answer && read_file(answer, &c.answer, &c.answer_len) != 0) {
        fprintf(stderr, "readgate-conformance: cannot read %s: %s\n", answer, strerror(errno));
        rg_conf_source_free(&c.opts);
        return 2;
    }

    char msg[700];
    void *dl = NULL;
    c.p = rg_plugin_open(&rg_plugin_provider, path, NULL, &rg_conf_provider_host, &dl, msg,
                         sizeof msg);
    if (!c.p) {
        verdict(&c, "provider/load", 0, msg);
        goto done;
    }
    snprintf(msg, sizeof msg, "%s %s, ABI %u.%u", c.p->name, c.p->version ? c.p->version : "?",
             c.p->abi_major, c.p->abi_minor);
    verdict(&c, "provider/load", 1, msg);
    if (!tools)
        tools = c.p->tools & RG_PROVIDER_TOOLS_FUNCTIONS ? "functions" : "none";
    c.cfg = (rg_provider_config){.struct_size = sizeof c.cfg,
                                 .site_id = "conformance01",
                                 .options = c.opts.options,
                                 .noptions = c.opts.noptions,
                                 .expires_after_s = (uint32_t)expires,
                                 .tools = tools};

    rg_error err = {.struct_size = sizeof err};
    if (!c.p->check) {
        verdict(&c, "provider/check_accepts", -1, "the provider has no check");
        verdict(&c, "provider/check_unknown_option", -1, "the provider has no check");
    } else {
        rg_status st = c.p->check(&c.cfg, &err);
        snprintf(msg, sizeof msg, "check returned %s: %.200s", status_name(st), err.message);
        verdict(&c, "provider/check_accepts", st == RG_OK, st == RG_OK ? "" : msg);
        rg_conf_source more;
        memset(&more, 0, sizeof more);
        if (rg_conf_source_copy(&more, &c.opts) == 0 &&
            rg_conf_source_set(&more, "rgconf_unknown_option", "1") == 0) {
            rg_provider_config bad = c.cfg;
            bad.options = more.options;
            bad.noptions = more.noptions;
            err.message[0] = '\0';
            st = c.p->check(&bad, &err);
            int ok = st == RG_ERR_CONFIG && !strncmp(err.message, "rgconf_unknown_option", 21);
            snprintf(msg, sizeof msg,
                     ok ? "%s: %.200s"
                        : "an unknown option must be RG_ERR_CONFIG with a message that starts "
                          "with its name; got %s: %.200s",
                     status_name(st), err.message);
            verdict(&c, "provider/check_unknown_option", ok, msg);
        } else {
            verdict(&c, "provider/check_unknown_option", 0, "out of memory");
        }
        rg_conf_source_free(&more);
    }

    void *state = NULL;
    rg_provider_request req;
    int local = 0;
    if (!run_begin(&c, &state, &req, msg, sizeof msg)) {
        verdict(&c, "provider/begin", 0, msg);
        goto done;
    }
    local = req.url == NULL;
    verdict(&c, "provider/begin", check_request(&req, msg, sizeof msg), msg);
    c.p->end(state);

    refusal_case(&c, "provider/finish_auth_refused", 401,
                 "{\"error\":{\"message\":\"" MARKER " bad key\"}}", RG_ERR_AUTH, local);
    refusal_case(&c, "provider/finish_throttled", 429,
                 "{\"error\":{\"message\":\"" MARKER " slow down\"}}", RG_ERR_UNAVAILABLE, local);
    refusal_case(&c, "provider/finish_unavailable", 503, "<html>" MARKER "</html>",
                 RG_ERR_UNAVAILABLE, local);
    refusal_case(&c, "provider/finish_garbage", 200, "<html>" MARKER "</html>", RG_ERR_UPSTREAM,
                 local);
    success_case(&c, local);

done:
    if (c.na)
        printf("# %zu not applicable\n", c.na);
    printf("%zu passed, %zu failed\n", c.passed, c.failed);
    /* Kept loaded under AddressSanitizer so leak reports can name its frames. */
#if !defined(__SANITIZE_ADDRESS__)
    if (dl)
        dlclose(dl);
#endif
    rg_conf_source_free(&c.opts);
    free(c.answer);
    return c.failed ? 1 : 0;
}
