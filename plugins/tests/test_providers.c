/*
 * The first-party token providers and the template provider, each loaded
 * from its .so with dlopen (argv[1]: the directory they are built into) and
 * driven like readgate drives them: check, then begin -> finish -> end, with
 * the documented requests and answers of each provider's API.
 *
 * The host table the providers get counts allocations and, at every free,
 * looks for the api key and the MCP bearer in the block: a provider that
 * leaks memory or frees a buffer holding a secret without wiping it fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <jansson.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <readgate/token_provider.h>

#include "plugin/plugin_loader.h"

#define API_KEY "sk-test-SECRETKEY-0123456789abcdef"
#define MCP_TOKEN "mcp-tok-SECRET-42"
#define NOW 1763800000
/* An ai.options element, struct_size set (readgate/plugin.h). */
#define OPT(key, value) {sizeof(rg_option), (key), (value)}
/* Put in every error body: it must never reach an error message. */
#define BODY_MARK "BODYTEXT"

static const char *g_dir;

/* ---- the host table ------------------------------------------------------------ */

static long g_live;      /* host allocations not freed yet */
static int g_secret_left; /* blocks freed while still holding a secret */

static void note_free(void *p)
{
    size_t n = malloc_usable_size(p);
    if (memmem(p, n, API_KEY, strlen(API_KEY)) || memmem(p, n, MCP_TOKEN, strlen(MCP_TOKEN)))
        g_secret_left++;
    g_live--;
}

static void *t_malloc(size_t n)
{
    void *p = malloc(n);
    if (p)
        g_live++;
    return p;
}

static void *t_calloc(size_t a, size_t b)
{
    void *p = calloc(a, b);
    if (p)
        g_live++;
    return p;
}

static void *t_realloc(void *p, size_t n)
{
    /* Providers have no use for it; count it right anyway. */
    if (!p)
        return t_malloc(n);
    return realloc(p, n);
}

static void t_free(void *p)
{
    if (!p)
        return;
    note_free(p);
    free(p);
}

static void t_log(rg_log_level level, const char *plugin, const char *fmt, va_list ap)
{
    (void)level;
    fprintf(stderr, "[%s] ", plugin);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static const rg_host_api g_host = {
    .struct_size = sizeof(rg_host_api),
    .abi_major = RG_PROVIDER_ABI_MAJOR,
    .abi_minor = RG_PROVIDER_ABI_MINOR,
    .log = t_log,
    .malloc = t_malloc,
    .calloc = t_calloc,
    .realloc = t_realloc,
    .free = t_free,
};

/* ---- loading ---------------------------------------------------------------------- */

typedef struct loaded {
    const char *name;
    void *dl;
    const rg_token_provider *p;
} loaded;

static loaded g_plugins[] = {
    {"openai-realtime", NULL, NULL}, {"retell", NULL, NULL},   {"vapi", NULL, NULL},
    {"elevenlabs", NULL, NULL},      {"template", NULL, NULL},
};
#define NPLUGINS (sizeof g_plugins / sizeof *g_plugins)

static int load_all(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < NPLUGINS; i++) {
        /* Through the gateway's own loader: the same ABI check readgate makes. */
        char err[600];
        g_plugins[i].p = rg_plugin_open_dir(&rg_plugin_provider, g_dir, g_plugins[i].name,
                                            &g_host, &g_plugins[i].dl, err, sizeof err);
        if (!g_plugins[i].p) {
            fprintf(stderr, "%s\n", err);
            return -1;
        }
    }
    return 0;
}

static int unload_all(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < NPLUGINS; i++)
        if (g_plugins[i].dl)
            dlclose(g_plugins[i].dl);
    return 0;
}

static const rg_token_provider *P(const char *name)
{
    for (size_t i = 0; i < NPLUGINS; i++)
        if (strcmp(g_plugins[i].name, name) == 0)
            return g_plugins[i].p;
    fail_msg("no provider %s", name);
    return NULL;
}

static int reset_counts(void **unused)
{
    (void)unused;
    g_live = 0;
    g_secret_left = 0;
    return 0;
}

/* Every test ends with all host memory freed, none holding a secret. */
static int check_counts(void **unused)
{
    (void)unused;
    assert_int_equal(g_live, 0);
    assert_int_equal(g_secret_left, 0);
    return 0;
}

/* ---- configurations and mints -------------------------------------------------- */

static rg_provider_config config(const rg_option *opts, size_t n, uint32_t expires)
{
    rg_provider_config c = {
        .struct_size = sizeof c,
        .site_id = "shop",
        .options = n ? opts : NULL,
        .noptions = n,
        .expires_after_s = expires,
        .tools = "none",
    };
    return c;
}
#define CONFIG(opts, expires) config((opts), sizeof(opts) / sizeof *(opts), (expires))

static void assert_check_ok(const rg_token_provider *p, const rg_provider_config *c)
{
    rg_error e = {.struct_size = sizeof(rg_error)};
    rg_status st = p->check(c, &e);
    if (st != RG_OK)
        fail_msg("%s: check refused: %s", p->name, e.message);
}

/* Refused with RG_ERR_CONFIG, and the message starts with "<what>:". */
static void assert_check_refuses(const rg_token_provider *p, const rg_provider_config *c,
                                 const char *what)
{
    rg_error e = {.struct_size = sizeof(rg_error)};
    assert_int_equal(p->check(c, &e), RG_ERR_CONFIG);
    size_t n = strlen(what);
    if (strncmp(e.message, what, n) != 0 || e.message[n] != ':')
        fail_msg("%s: expected a message starting with '%s:', got '%s'", p->name, what,
                 e.message);
}

typedef struct mint {
    const rg_token_provider *p;
    char key[128]; /* the key readgate passes, wiped after begin as readgate does */
    rg_mint_input in;
    void *state;
    rg_provider_request req;
    rg_mint_result res;
    rg_error err;
} mint;

static void mint_init(mint *m, const rg_token_provider *p, const rg_provider_config *c)
{
    memset(m, 0, sizeof *m);
    m->p = p;
    /* Not NUL-terminated where the key ends: the provider must use the
       length. */
    snprintf(m->key, sizeof m->key, "%sTRAILING", API_KEY);
    m->in.struct_size = sizeof m->in;
    m->in.config = c;
    m->in.api_key = m->key;
    m->in.api_key_len = strlen(API_KEY);
    m->in.now = NOW;
    m->req.struct_size = sizeof m->req;
    m->res.struct_size = sizeof m->res;
    m->err.struct_size = sizeof m->err;
}

static rg_status mint_begin(mint *m)
{
    rg_status st = m->p->begin(&m->in, &m->state, &m->req, &m->err);
    OPENSSL_cleanse(m->key, sizeof m->key); /* readgate wipes its copy after begin */
    return st;
}

static rg_status mint_finish(mint *m, long status, const char *body)
{
    rg_provider_response resp = {
        .struct_size = sizeof resp,
        .status = status,
        .body = body,
        .body_len = body ? strlen(body) : 0,
    };
    return m->p->finish(m->state, &resp, &m->res, &m->err);
}

static void mint_end(mint *m)
{
    if (m->state)
        m->p->end(m->state);
    m->state = NULL;
}

static void assert_begin_ok(mint *m)
{
    rg_status st = mint_begin(m);
    if (st != RG_OK)
        fail_msg("%s: begin failed: %s", m->p->name, m->err.message);
}

static const char *header(const rg_provider_request *req, const char *name)
{
    const char *found = NULL;
    for (size_t i = 0; i < req->nheaders; i++) {
        /* Read the way readgate reads them: by the headers' own struct_size. */
        const rg_provider_header *h = rg_header_at(req->headers, i);
        assert_true(h->struct_size >= RG_PROVIDER_HEADER_SIZE_2_0);
        assert_int_equal(h->struct_size, req->headers->struct_size);
        if (strcasecmp(h->name, name) == 0) {
            assert_null(found); /* at most once */
            found = h->value;
        }
    }
    return found;
}

static json_t *parse(const char *text, size_t len)
{
    assert_non_null(text);
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        fail_msg("not JSON (%s): %.*s", je.text, (int)len, text);
    return j;
}

static json_t *body_of(const mint *m)
{
    assert_int_equal(m->req.body_len, strlen(m->req.body));
    return parse(m->req.body, m->req.body_len);
}

/* The result is exactly `expected` (an object; stolen). */
static void assert_result(const mint *m, json_t *expected)
{
    assert_non_null(expected);
    assert_int_equal(m->res.json_len, strlen(m->res.json));
    json_t *got = parse(m->res.json, m->res.json_len);
    if (!json_equal(got, expected)) {
        char *want = json_dumps(expected, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("%s: result %s, expected %s", m->p->name, m->res.json, want);
    }
    assert_null(strstr(m->res.json, API_KEY));
    json_decref(got);
    json_decref(expected);
}

static const char *sget(const json_t *obj, const char *path)
{
    /* "a.b.c" */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *j = obj;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        j = json_object_get(j, k);
    if (!json_is_string(j))
        fail_msg("%s is not a string", path);
    return json_string_value(j);
}

/* One answer that must fail, and how. */
typedef struct err_case {
    long status;
    const char *body;
    rg_status want;
} err_case;

static void assert_errors(const rg_token_provider *p, const rg_provider_config *c,
                          const err_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mint m;
        mint_init(&m, p, c);
        assert_begin_ok(&m);
        rg_status st = mint_finish(&m, cases[i].status, cases[i].body);
        if (st != cases[i].want)
            fail_msg("%s: HTTP %ld %s: status %d, expected %d (%s)", p->name, cases[i].status,
                     cases[i].body, st, cases[i].want, m.err.message);
        assert_int_equal(m.err.status, cases[i].want);
        char code[32];
        snprintf(code, sizeof code, "%ld", cases[i].status);
        /* The message names the provider and the status ... */
        assert_non_null(strstr(m.err.message, p->name));
        assert_non_null(strstr(m.err.message, code));
        /* ... and never the body nor the key. */
        assert_null(strstr(m.err.message, BODY_MARK));
        assert_null(strstr(m.err.message, API_KEY));
        assert_null(strstr(m.err.message, "sk-"));
        mint_end(&m);
    }
}

/* The standard failure table: every provider maps statuses the same way. */
#define ERR_BODY                                                                          \
    "{\"error\":{\"message\":\"" BODY_MARK " Incorrect API key provided: " API_KEY "\"}}"
#define COMMON_ERRORS(ok)                                                                   \
    {401, ERR_BODY, RG_ERR_AUTH}, {403, ERR_BODY, RG_ERR_AUTH},                            \
        {429, ERR_BODY, RG_ERR_UNAVAILABLE}, {500, ERR_BODY, RG_ERR_UNAVAILABLE},          \
        {503, "<html>" BODY_MARK "</html>", RG_ERR_UNAVAILABLE},                          \
        {400, ERR_BODY, RG_ERR_UPSTREAM}, {404, ERR_BODY, RG_ERR_UPSTREAM},                \
        {422, ERR_BODY, RG_ERR_UPSTREAM}, {(ok), "<html>" BODY_MARK "</html>", RG_ERR_UPSTREAM}, \
        {(ok), "[\"" BODY_MARK "\"]", RG_ERR_UPSTREAM}, {(ok), "", RG_ERR_UPSTREAM},         \
        {(ok), "{\"" BODY_MARK "\":1}", RG_ERR_UPSTREAM}

/* ---- every provider ---------------------------------------------------------------- */

static void test_descriptors(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < NPLUGINS; i++) {
        const rg_token_provider *p = g_plugins[i].p;
        assert_string_equal(p->name, g_plugins[i].name);
        assert_int_equal(p->abi_major, RG_PROVIDER_ABI_MAJOR);
        assert_true(p->struct_size >= RG_PROVIDER_SIZE_2_0);
        assert_non_null(p->version);
        assert_non_null(p->check);
        assert_non_null(p->begin);
        assert_non_null(p->finish);
        assert_non_null(p->end);
        /* rg_provider_entry is the only export: the shared helpers are
           linked in hidden. */
        assert_null(dlsym(g_plugins[i].dl, "rg_pv_fail"));
        assert_null(dlsym(g_plugins[i].dl, "rg_pv_mint_new"));
        assert_null(dlsym(g_plugins[i].dl, "rg_pv_check_base_url"));
    }
    assert_int_equal(P("openai-realtime")->tools,
                     RG_PROVIDER_TOOLS_FUNCTIONS | RG_PROVIDER_TOOLS_MCP);
    assert_int_equal(P("retell")->tools, 0);
    assert_int_equal(P("vapi")->tools, 0);
    assert_int_equal(P("elevenlabs")->tools, 0);
    assert_int_equal(P("template")->tools, 0);
}

/* ---- openai-realtime ---------------------------------------------------------------- */

static const char tools_json[] =
    "[{\"name\":\"query_products\",\"description\":\"Query the products collection\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"limit\":{\"type\":\"integer\"}},"
    "\"required\":[]}},"
    "{\"name\":\"query_orders\",\"description\":\"Query the orders collection\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{}}}]";

/* The documented 200 answer (API reference, "Create client secret"), with a
   session echo that repeats the instructions, the tools and the MCP bearer. */
static const char openai_ok[] =
    "{\"value\":\"ek_68af296e8e408191a1120ab6383263c2\",\"expires_at\":1756310470,"
    "\"session\":{\"type\":\"realtime\",\"object\":\"realtime.session\","
    "\"id\":\"sess_C9CiUVUzUzYIssh3ELY1d\",\"model\":\"gpt-realtime\","
    "\"output_modalities\":[\"audio\"],\"instructions\":\"You are a friendly assistant.\","
    "\"tools\":[{\"type\":\"mcp\",\"server_label\":\"readgate\",\"headers\":"
    "{\"Authorization\":\"Bearer " MCP_TOKEN "\"}}],\"tool_choice\":\"auto\","
    "\"max_output_tokens\":\"inf\",\"tracing\":null,\"truncation\":\"auto\",\"prompt\":null,"
    "\"expires_at\":0,\"audio\":{\"input\":{\"format\":{\"type\":\"audio/pcm\",\"rate\":24000},"
    "\"transcription\":null,\"noise_reduction\":null,\"turn_detection\":{\"type\":"
    "\"server_vad\"}},\"output\":{\"format\":{\"type\":\"audio/pcm\",\"rate\":24000},"
    "\"voice\":\"alloy\",\"speed\":1.0}},\"include\":null}}";

static void test_openai_check(void **unused)
{
    (void)unused;
    const rg_token_provider *p = P("openai-realtime");
    rg_option full[] = {OPT("model", "gpt-realtime"),
                        OPT("voice", "marin"),
                        OPT("instructions", "Answer from the catalog.\nBe brief."),
                        OPT("base_url", "https://api.openai.com")};
    rg_provider_config c = CONFIG(full, 600);
    assert_check_ok(p, &c);
    rg_provider_config none = config(NULL, 0, 600);
    assert_check_ok(p, &none);
    none.expires_after_s = 10;
    assert_check_ok(p, &none);
    none.expires_after_s = 7200;
    assert_check_ok(p, &none);
    none.expires_after_s = 5;
    assert_check_refuses(p, &none, "expires_after_s");
    none.expires_after_s = 9000;
    assert_check_refuses(p, &none, "expires_after_s");

    rg_option unknown[] = {OPT("model", "gpt-realtime"), OPT("temperature", "0.7")};
    c = CONFIG(unknown, 600);
    assert_check_refuses(p, &c, "temperature");
    rg_option twice[] = {OPT("model", "a"), OPT("model", "b")};
    c = CONFIG(twice, 600);
    assert_check_refuses(p, &c, "model");
    rg_option empty_model[] = {OPT("model", "")};
    c = CONFIG(empty_model, 600);
    assert_check_refuses(p, &c, "model");
    rg_option ctl_voice[] = {OPT("voice", "ma\nrin")};
    c = CONFIG(ctl_voice, 600);
    assert_check_refuses(p, &c, "voice");
    char *big = malloc(20001);
    memset(big, 'a', 20000);
    big[20000] = '\0';
    rg_option long_instr[] = {OPT("instructions", big)};
    c = CONFIG(long_instr, 600);
    assert_check_refuses(p, &c, "instructions");
    free(big);
    rg_option bad_utf8[] = {OPT("instructions", "caf\xc3")};
    c = CONFIG(bad_utf8, 600);
    assert_check_refuses(p, &c, "instructions");

    static const char *bad_urls[] = {"ftp://api.example.com",
                                     "http://api.example.com",
                                     "http://localhost.example.com",
                                     "https://user:pw@api.example.com",
                                     "https://api.example.com/?x=1",
                                     "https://api.example.com/#top",
                                     "not a url",
                                     "api.openai.com",
                                     "https://",
                                     ""};
    for (size_t i = 0; i < sizeof bad_urls / sizeof *bad_urls; i++) {
        rg_option o[] = {OPT("base_url", bad_urls[i])};
        c = CONFIG(o, 600);
        assert_check_refuses(p, &c, "base_url");
    }
    static const char *good_urls[] = {"https://api.openai.com", "https://proxy.example.com/openai/",
                                      "http://127.0.0.1:8080", "http://localhost:9000/x",
                                      "http://[::1]:8080"};
    for (size_t i = 0; i < sizeof good_urls / sizeof *good_urls; i++) {
        rg_option o[] = {OPT("base_url", good_urls[i])};
        c = CONFIG(o, 600);
        assert_check_ok(p, &c);
    }
}

static void test_openai_begin_functions(void **unused)
{
    (void)unused;
    rg_option opts[] = {OPT("model", "gpt-realtime-2025-08-28"),
                        OPT("voice", "marin"),
                        OPT("instructions", "Answer from the catalog.\nBe \"brief\".")};
    rg_provider_config c = CONFIG(opts, 600);
    c.tools = "functions";
    mint m;
    mint_init(&m, P("openai-realtime"), &c);
    m.in.tools_json = tools_json;
    assert_begin_ok(&m);

    assert_string_equal(m.req.method, "POST");
    assert_string_equal(m.req.url, "https://api.openai.com/v1/realtime/client_secrets");
    assert_int_equal(m.req.nheaders, 2);
    assert_string_equal(header(&m.req, "Authorization"), "Bearer " API_KEY);
    assert_string_equal(header(&m.req, "Content-Type"), "application/json");

    json_t *body = body_of(&m);
    assert_int_equal(json_object_size(body), 2);
    assert_string_equal(sget(body, "expires_after.anchor"), "created_at");
    json_t *ea = json_object_get(body, "expires_after");
    assert_int_equal(json_integer_value(json_object_get(ea, "seconds")), 600);
    json_t *s = json_object_get(body, "session");
    assert_string_equal(sget(s, "type"), "realtime");
    assert_string_equal(sget(s, "model"), "gpt-realtime-2025-08-28");
    assert_string_equal(sget(s, "audio.output.voice"), "marin");
    assert_string_equal(sget(s, "instructions"), "Answer from the catalog.\nBe \"brief\".");

    json_t *want = json_loads(tools_json, 0, NULL);
    json_t *tools = json_object_get(s, "tools");
    assert_true(json_is_array(tools));
    assert_int_equal(json_array_size(tools), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *t = json_array_get(tools, i), *w = json_array_get(want, i);
        /* Flat: {"type","name","description","parameters"} and nothing else. */
        assert_int_equal(json_object_size(t), 4);
        assert_string_equal(sget(t, "type"), "function");
        assert_string_equal(sget(t, "name"), sget(w, "name"));
        assert_string_equal(sget(t, "description"), sget(w, "description"));
        assert_true(json_equal(json_object_get(t, "parameters"), json_object_get(w, "parameters")));
        assert_null(json_object_get(t, "function"));
    }
    json_decref(want);
    json_decref(body);
    mint_end(&m);
}

static void test_openai_begin_mcp(void **unused)
{
    (void)unused;
    rg_provider_config c = config(NULL, 0, 7200);
    c.tools = "mcp";
    mint m;
    mint_init(&m, P("openai-realtime"), &c);
    m.in.mcp_url = "https://gw.example.com/v1/shop/mcp";
    m.in.mcp_token = MCP_TOKEN;
    assert_begin_ok(&m);

    json_t *body = body_of(&m);
    json_t *ea = json_object_get(body, "expires_after");
    assert_int_equal(json_integer_value(json_object_get(ea, "seconds")), 7200);
    json_t *s = json_object_get(body, "session");
    assert_string_equal(sget(s, "model"), "gpt-realtime"); /* the default */
    assert_null(json_object_get(s, "audio"));
    assert_null(json_object_get(s, "instructions"));
    json_t *tools = json_object_get(s, "tools");
    assert_int_equal(json_array_size(tools), 1);
    json_t *t = json_array_get(tools, 0);
    assert_int_equal(json_object_size(t), 5);
    assert_string_equal(sget(t, "type"), "mcp");
    assert_string_equal(sget(t, "server_label"), "readgate");
    assert_string_equal(sget(t, "server_url"), "https://gw.example.com/v1/shop/mcp");
    assert_int_equal(json_object_size(json_object_get(t, "headers")), 1);
    assert_string_equal(sget(t, "headers.Authorization"), "Bearer " MCP_TOKEN);
    assert_string_equal(sget(t, "require_approval"), "never");
    /* The site's provider key goes in the header only, never in the body. */
    assert_null(strstr(m.req.body, API_KEY));
    json_decref(body);
    mint_end(&m);
}

static void test_openai_begin_base_url(void **unused)
{
    (void)unused;
    rg_option opts[] = {OPT("base_url", "http://127.0.0.1:9999/proxy/")};
    rg_provider_config c = CONFIG(opts, 60);
    mint m;
    mint_init(&m, P("openai-realtime"), &c);
    assert_begin_ok(&m);
    assert_string_equal(m.req.url, "http://127.0.0.1:9999/proxy/v1/realtime/client_secrets");
    json_t *body = body_of(&m);
    assert_null(json_object_get(json_object_get(body, "session"), "tools"));
    json_decref(body);
    mint_end(&m);
}

static void test_openai_bad_key(void **unused)
{
    (void)unused;
    rg_provider_config c = config(NULL, 0, 600);
    mint m;
    mint_init(&m, P("openai-realtime"), &c);
    snprintf(m.key, sizeof m.key, "%s\r\nX-Evil: 1", API_KEY);
    m.in.api_key_len = strlen(m.key);
    assert_int_equal(mint_begin(&m), RG_ERR_CONFIG);
    assert_true(strncmp(m.err.message, "api_key:", 8) == 0);
    assert_null(strstr(m.err.message, "sk-"));
    mint_end(&m);

    mint_init(&m, P("openai-realtime"), &c);
    m.in.api_key_len = 0;
    assert_int_equal(mint_begin(&m), RG_ERR_CONFIG);
    mint_end(&m);
}

static void test_openai_finish(void **unused)
{
    (void)unused;
    rg_option opts[] = {OPT("instructions", "You are a friendly assistant.")};
    rg_provider_config c = CONFIG(opts, 600);
    c.tools = "mcp";
    mint m;
    mint_init(&m, P("openai-realtime"), &c);
    m.in.mcp_url = "https://gw.example.com/v1/shop/mcp";
    m.in.mcp_token = MCP_TOKEN;
    assert_begin_ok(&m);
    assert_int_equal(mint_finish(&m, 200, openai_ok), RG_OK);
    assert_result(&m, json_pack("{s:s, s:I}", "value", "ek_68af296e8e408191a1120ab6383263c2",
                                "expires_at", (json_int_t)1756310470));
    assert_null(strstr(m.res.json, "session"));
    assert_null(strstr(m.res.json, "instructions"));
    assert_null(strstr(m.res.json, "friendly"));
    assert_null(strstr(m.res.json, MCP_TOKEN));
    mint_end(&m);
}

static void test_openai_errors(void **unused)
{
    (void)unused;
    rg_provider_config c = config(NULL, 0, 600);
    static const err_case cases[] = {
        COMMON_ERRORS(200),
        {200, "{\"value\":123,\"expires_at\":1756310470,\"x\":\"" BODY_MARK "\"}", RG_ERR_UPSTREAM},
        {200, "{\"value\":\"\",\"expires_at\":1756310470}", RG_ERR_UPSTREAM},
        {200, "{\"value\":\"ek_1\",\"x\":\"" BODY_MARK "\"}", RG_ERR_UPSTREAM},
        {200, "{\"value\":\"ek_1\",\"expires_at\":\"soon\"}", RG_ERR_UPSTREAM},
        {200, "{\"value\":\"ek 1\",\"expires_at\":1756310470}", RG_ERR_UPSTREAM},
        /* Documented: 200. Another 2xx is not the documented answer. */
        {201, openai_ok, RG_ERR_UPSTREAM},
    };
    assert_errors(P("openai-realtime"), &c, cases, sizeof cases / sizeof *cases);
}

/* ---- retell ----------------------------------------------------------------------------- */

#define RETELL_AGENT "oBeDLoLOeuAbiuaMFXRtDOLriTJ5tSxD"

/* The documented 201 answer (API reference, "Create Web Call"), shortened. */
static const char retell_ok[] =
    "{\"call_type\":\"web_call\","
    "\"access_token\":\"eyJhbGciOiJIUzI1NiJ9.eyJ2aWRlbyI6eyJyb29tSm9p\","
    "\"call_id\":\"Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6\",\"agent_id\":\"" RETELL_AGENT "\","
    "\"agent_name\":\"My Agent\",\"agent_version\":1,\"call_status\":\"registered\","
    "\"metadata\":{\"site_id\":\"shop\"},\"retell_llm_dynamic_variables\":{\"customer_name\":"
    "\"John Doe\"},\"data_storage_setting\":\"everything\",\"opt_in_signed_url\":true}";

static void test_retell_check(void **unused)
{
    (void)unused;
    const rg_token_provider *p = P("retell");
    rg_option good[] = {OPT("agent_id", RETELL_AGENT), OPT("agent_version", "3"),
                        OPT("base_url", "https://api.retellai.com")};
    rg_provider_config c = CONFIG(good, 600);
    assert_check_ok(p, &c);
    /* Tools and lifetimes are not its business (the host uses the flags). */
    c.tools = "functions";
    c.expires_after_s = 9000;
    assert_check_ok(p, &c);

    rg_provider_config none = config(NULL, 0, 600);
    assert_check_refuses(p, &none, "agent_id");
    rg_option no_agent[] = {OPT("agent_version", "3")};
    c = CONFIG(no_agent, 600);
    assert_check_refuses(p, &c, "agent_id");
    rg_option bad_agent[] = {OPT("agent_id", "agent/../x")};
    c = CONFIG(bad_agent, 600);
    assert_check_refuses(p, &c, "agent_id");
    static const char *bad_versions[] = {"x", "-1", "1.5", "", " 3", "99999999999"};
    for (size_t i = 0; i < sizeof bad_versions / sizeof *bad_versions; i++) {
        rg_option o[] = {OPT("agent_id", RETELL_AGENT), OPT("agent_version", bad_versions[i])};
        c = CONFIG(o, 600);
        assert_check_refuses(p, &c, "agent_version");
    }
    rg_option unknown[] = {OPT("agent_id", RETELL_AGENT), OPT("voice", "x")};
    c = CONFIG(unknown, 600);
    assert_check_refuses(p, &c, "voice");
    rg_option bad_url[] = {OPT("agent_id", RETELL_AGENT),
                           OPT("base_url", "http://api.retellai.com")};
    c = CONFIG(bad_url, 600);
    assert_check_refuses(p, &c, "base_url");
}

static void test_retell_begin(void **unused)
{
    (void)unused;
    rg_option opts[] = {OPT("agent_id", RETELL_AGENT), OPT("agent_version", "3")};
    rg_provider_config c = CONFIG(opts, 600);
    mint m;
    mint_init(&m, P("retell"), &c);
    assert_begin_ok(&m);
    assert_string_equal(m.req.method, "POST");
    assert_string_equal(m.req.url, "https://api.retellai.com/v2/create-web-call");
    assert_int_equal(m.req.nheaders, 2);
    assert_string_equal(header(&m.req, "Authorization"), "Bearer " API_KEY);
    assert_string_equal(header(&m.req, "Content-Type"), "application/json");
    json_t *body = body_of(&m);
    json_t *want = json_pack("{s:s, s:i, s:{s:s}}", "agent_id", RETELL_AGENT, "agent_version", 3,
                             "metadata", "site_id", "shop");
    assert_true(json_equal(body, want));
    json_decref(want);
    json_decref(body);
    mint_end(&m);

    rg_option plain[] = {OPT("agent_id", RETELL_AGENT), OPT("base_url", "http://127.0.0.1:8081")};
    c = CONFIG(plain, 600);
    mint_init(&m, P("retell"), &c);
    assert_begin_ok(&m);
    assert_string_equal(m.req.url, "http://127.0.0.1:8081/v2/create-web-call");
    body = body_of(&m);
    want = json_pack("{s:s, s:{s:s}}", "agent_id", RETELL_AGENT, "metadata", "site_id", "shop");
    assert_true(json_equal(body, want));
    json_decref(want);
    json_decref(body);
    mint_end(&m);
}

static void test_retell_finish(void **unused)
{
    (void)unused;
    rg_option opts[] = {OPT("agent_id", RETELL_AGENT)};
    rg_provider_config c = CONFIG(opts, 600);
    const long ok[] = {201, 200};
    for (size_t i = 0; i < 2; i++) {
        mint m;
        mint_init(&m, P("retell"), &c);
        assert_begin_ok(&m);
        assert_int_equal(mint_finish(&m, ok[i], retell_ok), RG_OK);
        assert_result(&m, json_pack("{s:s, s:s, s:I}", "access_token",
                                    "eyJhbGciOiJIUzI1NiJ9.eyJ2aWRlbyI6eyJyb29tSm9p", "call_id",
                                    "Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6", "expires_at",
                                    (json_int_t)NOW + 30));
        mint_end(&m);
    }
    static const err_case cases[] = {
        COMMON_ERRORS(201),
        {201, "{\"access_token\":\"tok\",\"x\":\"" BODY_MARK "\"}", RG_ERR_UPSTREAM},
        {201, "{\"call_id\":\"c1\",\"x\":\"" BODY_MARK "\"}", RG_ERR_UPSTREAM},
        {204, "", RG_ERR_UPSTREAM},
    };
    assert_errors(P("retell"), &c, cases, sizeof cases / sizeof *cases);
}

/* ---- vapi --------------------------------------------------------------------------------- */

#define VAPI_ORG "6f1f2c3d-4b5a-4c6d-8e7f-0123456789ab"
#define VAPI_ASSISTANT "1cbf8c70-5fd7-4f61-a220-376ab35be1b0"

static void test_vapi_check(void **unused)
{
    (void)unused;
    const rg_token_provider *p = P("vapi");
    rg_option good[] = {OPT("org_id", VAPI_ORG), OPT("assistant_id", VAPI_ASSISTANT)};
    rg_provider_config c = CONFIG(good, 600);
    assert_check_ok(p, &c);
    rg_option org_only[] = {OPT("org_id", VAPI_ORG)};
    c = CONFIG(org_only, 600);
    assert_check_ok(p, &c);
    c.expires_after_s = 5;
    assert_check_refuses(p, &c, "expires_after_s");

    rg_provider_config none = config(NULL, 0, 600);
    assert_check_refuses(p, &none, "org_id");
    rg_option bad_org[] = {OPT("org_id", "org-123")};
    c = CONFIG(bad_org, 600);
    assert_check_refuses(p, &c, "org_id");
    rg_option bad_assistant[] = {OPT("org_id", VAPI_ORG), OPT("assistant_id", "my assistant")};
    c = CONFIG(bad_assistant, 600);
    assert_check_refuses(p, &c, "assistant_id");
    rg_option unknown[] = {OPT("org_id", VAPI_ORG), OPT("base_url", "https://api.vapi.ai")};
    c = CONFIG(unknown, 600);
    assert_check_refuses(p, &c, "base_url");
}

static size_t b64url_decode(const char *in, size_t n, unsigned char *out)
{
    char buf[4096];
    assert_true(n + 3 < sizeof buf);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        /* the url alphabet, without padding */
        assert_true(in[i] != '+' && in[i] != '/' && in[i] != '=');
        buf[k++] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    }
    size_t pad = (4 - k % 4) % 4;
    assert_true(pad != 3);
    for (size_t i = 0; i < pad; i++)
        buf[k++] = '=';
    int len = EVP_DecodeBlock(out, (const unsigned char *)buf, (int)k);
    assert_true(len >= 0);
    return (size_t)len - pad;
}

static json_t *jwt_part(const char *part, size_t n)
{
    unsigned char raw[4096];
    size_t len = b64url_decode(part, n, raw);
    return parse((const char *)raw, len);
}

/* Check the HS256 signature of `jwt` with `key`; 1 when it verifies. */
static int jwt_verifies(const char *jwt, const char *key)
{
    const char *sig = strrchr(jwt, '.');
    assert_non_null(sig);
    unsigned char mac[EVP_MAX_MD_SIZE], got[128];
    unsigned int maclen = 0;
    assert_non_null(HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)jwt,
                         (size_t)(sig - jwt), mac, &maclen));
    size_t n = b64url_decode(sig + 1, strlen(sig + 1), got);
    return n == maclen && CRYPTO_memcmp(got, mac, maclen) == 0;
}

static void test_vapi_jwt(void **unused)
{
    (void)unused;
    rg_option opts[] = {OPT("org_id", VAPI_ORG), OPT("assistant_id", VAPI_ASSISTANT)};
    rg_provider_config c = CONFIG(opts, 900);
    mint m;
    mint_init(&m, P("vapi"), &c);
    m.in.origin = "https://shop.example.com";
    assert_begin_ok(&m);
    assert_null(m.req.url); /* no HTTP call */
    assert_int_equal(mint_finish(&m, 0, NULL), RG_OK);

    json_t *res = parse(m.res.json, m.res.json_len);
    assert_int_equal(json_object_size(res), 3);
    assert_int_equal(json_integer_value(json_object_get(res, "expires_at")), NOW + 900);
    assert_string_equal(sget(res, "assistant_id"), VAPI_ASSISTANT);
    const char *jwt = sget(res, "token");
    assert_null(strstr(m.res.json, API_KEY));

    const char *d1 = strchr(jwt, '.');
    assert_non_null(d1);
    const char *d2 = strchr(d1 + 1, '.');
    assert_non_null(d2);
    assert_null(strchr(d2 + 1, '.'));

    json_t *h = jwt_part(jwt, (size_t)(d1 - jwt));
    assert_string_equal(sget(h, "alg"), "HS256");
    assert_string_equal(sget(h, "typ"), "JWT");
    json_decref(h);

    json_t *pl = jwt_part(d1 + 1, (size_t)(d2 - d1 - 1));
    assert_string_equal(sget(pl, "orgId"), VAPI_ORG);
    assert_string_equal(sget(pl, "token.tag"), "public");
    json_t *r = json_object_get(json_object_get(pl, "token"), "restrictions");
    assert_true(json_is_true(json_object_get(r, "enabled")));
    json_t *want_origins = json_pack("[s]", "https://shop.example.com");
    assert_true(json_equal(json_object_get(r, "allowedOrigins"), want_origins));
    json_decref(want_origins);
    json_t *want_ids = json_pack("[s]", VAPI_ASSISTANT);
    assert_true(json_equal(json_object_get(r, "allowedAssistantIds"), want_ids));
    json_decref(want_ids);
    assert_true(json_is_false(json_object_get(r, "allowTransientAssistant")));
    json_int_t iat = json_integer_value(json_object_get(pl, "iat"));
    json_int_t exp = json_integer_value(json_object_get(pl, "exp"));
    assert_int_equal(iat, NOW);
    assert_int_equal(exp - iat, 900);
    assert_int_equal(exp, json_integer_value(json_object_get(res, "expires_at")));
    json_decref(pl);

    assert_true(jwt_verifies(jwt, API_KEY));
    assert_false(jwt_verifies(jwt, API_KEY "x"));
    json_decref(res);
    mint_end(&m);
}

static void test_vapi_jwt_minimal(void **unused)
{
    (void)unused;
    rg_option opts[] = {OPT("org_id", VAPI_ORG)};
    rg_provider_config c = CONFIG(opts, 60);
    mint m;
    mint_init(&m, P("vapi"), &c);
    assert_begin_ok(&m);
    assert_int_equal(mint_finish(&m, 0, NULL), RG_OK);
    json_t *res = parse(m.res.json, m.res.json_len);
    assert_int_equal(json_object_size(res), 2); /* no assistant_id */
    const char *jwt = sget(res, "token");
    const char *d1 = strchr(jwt, '.'), *d2 = strrchr(jwt, '.');
    json_t *pl = jwt_part(d1 + 1, (size_t)(d2 - d1 - 1));
    json_t *r = json_object_get(json_object_get(pl, "token"), "restrictions");
    assert_null(json_object_get(r, "allowedOrigins"));
    assert_null(json_object_get(r, "allowedAssistantIds"));
    assert_true(json_is_false(json_object_get(r, "allowTransientAssistant")));
    assert_int_equal(json_integer_value(json_object_get(pl, "exp")) -
                         json_integer_value(json_object_get(pl, "iat")),
                     60);
    assert_true(jwt_verifies(jwt, API_KEY));
    json_decref(pl);
    json_decref(res);
    mint_end(&m);

    /* finish with an HTTP status: readgate sent something it was not asked to. */
    mint_init(&m, P("vapi"), &c);
    assert_begin_ok(&m);
    assert_int_equal(mint_finish(&m, 200, "{}"), RG_ERR_INTERNAL);
    mint_end(&m);
}

/* ---- elevenlabs -------------------------------------------------------------------------- */

#define EL_AGENT "agent_7101k5zvyjhmfg983brhmhkd98n6"

static void test_elevenlabs_check(void **unused)
{
    (void)unused;
    const rg_token_provider *p = P("elevenlabs");
    rg_option good[] = {OPT("agent_id", EL_AGENT), OPT("mode", "signed_url"),
                        OPT("base_url", "https://api.elevenlabs.io")};
    rg_provider_config c = CONFIG(good, 600);
    assert_check_ok(p, &c);
    rg_option tok[] = {OPT("agent_id", EL_AGENT), OPT("mode", "token")};
    c = CONFIG(tok, 600);
    assert_check_ok(p, &c);

    rg_provider_config none = config(NULL, 0, 600);
    assert_check_refuses(p, &none, "agent_id");
    static const char *bad_agents[] = {"agent/../x", "agent x", "a&b=c", "agent%20"};
    for (size_t i = 0; i < sizeof bad_agents / sizeof *bad_agents; i++) {
        rg_option o[] = {OPT("agent_id", bad_agents[i])};
        c = CONFIG(o, 600);
        assert_check_refuses(p, &c, "agent_id");
    }
    rg_option bad_mode[] = {OPT("agent_id", EL_AGENT), OPT("mode", "websocket")};
    c = CONFIG(bad_mode, 600);
    assert_check_refuses(p, &c, "mode");
    rg_option unknown[] = {OPT("agent_id", EL_AGENT), OPT("voice", "x")};
    c = CONFIG(unknown, 600);
    assert_check_refuses(p, &c, "voice");
    rg_option bad_url[] = {OPT("agent_id", EL_AGENT), OPT("base_url", "https://x.example?y")};
    c = CONFIG(bad_url, 600);
    assert_check_refuses(p, &c, "base_url");
}

static void test_elevenlabs_begin(void **unused)
{
    (void)unused;
    rg_option tok[] = {OPT("agent_id", EL_AGENT)};
    rg_provider_config c = CONFIG(tok, 600);
    mint m;
    mint_init(&m, P("elevenlabs"), &c);
    assert_begin_ok(&m);
    assert_string_equal(m.req.method, "GET");
    assert_string_equal(m.req.url, "https://api.elevenlabs.io/v1/convai/conversation/token"
                                   "?agent_id=" EL_AGENT);
    assert_int_equal(m.req.nheaders, 1);
    assert_string_equal(header(&m.req, "xi-api-key"), API_KEY);
    assert_null(m.req.body);
    assert_int_equal(m.req.body_len, 0);
    mint_end(&m);

    rg_option su[] = {OPT("agent_id", EL_AGENT), OPT("mode", "signed_url"),
                      OPT("base_url", "http://localhost:8080/")};
    c = CONFIG(su, 600);
    mint_init(&m, P("elevenlabs"), &c);
    assert_begin_ok(&m);
    assert_string_equal(m.req.method, "GET");
    assert_string_equal(m.req.url, "http://localhost:8080/v1/convai/conversation/get-signed-url"
                                   "?agent_id=" EL_AGENT);
    mint_end(&m);
}

static void test_elevenlabs_finish(void **unused)
{
    (void)unused;
    rg_option tok[] = {OPT("agent_id", EL_AGENT)};
    rg_provider_config c = CONFIG(tok, 600);
    mint m;
    mint_init(&m, P("elevenlabs"), &c);
    assert_begin_ok(&m);
    assert_int_equal(
        mint_finish(&m, 200, "{\"token\":\"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln\"}"), RG_OK);
    assert_result(&m, json_pack("{s:s, s:I}", "token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
                                "expires_at", (json_int_t)NOW + 600));
    mint_end(&m);

    static const char url[] = "wss://api.elevenlabs.io/v1/convai/conversation?agent_id=" EL_AGENT
                              "&conversation_signature=cvtkn_abc";
    rg_option su[] = {OPT("agent_id", EL_AGENT), OPT("mode", "signed_url")};
    rg_provider_config cs = CONFIG(su, 600);
    mint_init(&m, P("elevenlabs"), &cs);
    assert_begin_ok(&m);
    assert_int_equal(mint_finish(&m, 200, "{\"signed_url\":\"wss://api.elevenlabs.io/v1/convai/"
                                          "conversation?agent_id=" EL_AGENT
                                          "&conversation_signature=cvtkn_abc\"}"),
                     RG_OK);
    assert_result(&m, json_pack("{s:s, s:I}", "signed_url", url, "expires_at",
                                (json_int_t)NOW + 900));
    mint_end(&m);

    static const err_case cases[] = {
        COMMON_ERRORS(200),
        /* token mode: a signed_url answer is not a token */
        {200, "{\"signed_url\":\"wss://x\",\"x\":\"" BODY_MARK "\"}", RG_ERR_UPSTREAM},
        {200, "{\"token\":null}", RG_ERR_UPSTREAM},
    };
    assert_errors(P("elevenlabs"), &c, cases, sizeof cases / sizeof *cases);
    static const err_case su_cases[] = {
        {200, "{\"token\":\"t\",\"x\":\"" BODY_MARK "\"}", RG_ERR_UPSTREAM},
        {401, ERR_BODY, RG_ERR_AUTH},
    };
    assert_errors(P("elevenlabs"), &cs, su_cases, sizeof su_cases / sizeof *su_cases);
}

/* ---- the template provider --------------------------------------------------------- */

static void test_template(void **unused)
{
    (void)unused;
    const rg_token_provider *p = P("template");
    rg_option good[] = {OPT("base_url", "https://tokens.example.com/"), OPT("agent_id", "a1")};
    rg_provider_config c = CONFIG(good, 600);
    assert_check_ok(p, &c);
    rg_provider_config none = config(NULL, 0, 600);
    assert_check_refuses(p, &none, "base_url");
    rg_option unknown[] = {OPT("base_url", "https://tokens.example.com"), OPT("model", "x")};
    rg_provider_config cu = CONFIG(unknown, 600);
    assert_check_refuses(p, &cu, "model");
    static const char *bad_urls[] = {"http://tokens.example.com", "https://",
                                     "http://localhost.example.com", "https://a@b",
                                     "https://x.example/?q"};
    for (size_t i = 0; i < sizeof bad_urls / sizeof *bad_urls; i++) {
        rg_option o[] = {OPT("base_url", bad_urls[i])};
        rg_provider_config cb = CONFIG(o, 600);
        assert_check_refuses(p, &cb, "base_url");
    }
    rg_provider_config ce = CONFIG(good, 5);
    assert_check_refuses(p, &ce, "expires_after_s");

    mint m;
    mint_init(&m, p, &c);
    assert_begin_ok(&m);
    assert_string_equal(m.req.method, "POST");
    assert_string_equal(m.req.url, "https://tokens.example.com/v1/tokens");
    assert_string_equal(header(&m.req, "Authorization"), "Bearer " API_KEY);
    assert_string_equal(header(&m.req, "Content-Type"), "application/json");
    json_t *body = body_of(&m);
    json_t *want = json_pack("{s:s, s:i, s:s}", "site_id", "shop", "expires_in", 600, "agent_id",
                             "a1");
    assert_true(json_equal(body, want));
    json_decref(want);
    json_decref(body);
    assert_int_equal(mint_finish(&m, 200, "{\"token\":\"tok-1\",\"expires_in\":300}"), RG_OK);
    assert_result(&m,
                  json_pack("{s:s, s:I}", "token", "tok-1", "expires_at", (json_int_t)NOW + 300));
    mint_end(&m);

    static const err_case cases[] = {
        COMMON_ERRORS(200),
        {200, "{\"token\":\"tok\",\"x\":\"" BODY_MARK "\"}", RG_ERR_UPSTREAM},
        {200, "{\"token\":\"tok\",\"expires_in\":-5}", RG_ERR_UPSTREAM},
    };
    assert_errors(p, &c, cases, sizeof cases / sizeof *cases);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <directory of readgate-provider-*.so>\n", argv[0]);
        return 2;
    }
    g_dir = argv[1];
#define T(f) cmocka_unit_test_setup_teardown(f, reset_counts, check_counts)
    const struct CMUnitTest tests[] = {
        T(test_descriptors),
        T(test_openai_check),
        T(test_openai_begin_functions),
        T(test_openai_begin_mcp),
        T(test_openai_begin_base_url),
        T(test_openai_bad_key),
        T(test_openai_finish),
        T(test_openai_errors),
        T(test_retell_check),
        T(test_retell_begin),
        T(test_retell_finish),
        T(test_vapi_check),
        T(test_vapi_jwt),
        T(test_vapi_jwt_minimal),
        T(test_elevenlabs_check),
        T(test_elevenlabs_begin),
        T(test_elevenlabs_finish),
        T(test_template),
    };
    return cmocka_run_group_tests(tests, load_all, unload_all);
}
