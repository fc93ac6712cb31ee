/*
 * readgate token-provider ABI.
 *
 * A token provider is a shared object (readgate-provider-<name>.so) that
 * mints an AI provider's short-lived credential for the browser widget, so
 * the customer's provider key never reaches the browser: POST
 * /v1/{site}/token answers, besides the readgate session, an "ai" object
 * built by the provider plugin (docs/writing-a-provider.md).
 *
 * The plugin never does I/O. A mint is two pure steps around one HTTP call
 * that readgate makes itself (on its event loop, with its own connect and
 * total timeouts, no redirects, and plain http only to loopback):
 *
 *     begin(input)  -> the HTTP request to send (or none)
 *     readgate sends it and reads the answer
 *     finish(answer) -> the JSON object the browser gets, or an error
 *     end()          -> free and wipe everything of this mint
 *
 * A provider whose credential is made locally (a signed JWT) leaves the
 * request's url NULL in begin; readgate then calls finish with status 0.
 *
 * Versioning and loading as for every plugin kind (readgate/plugin.h): the
 * descriptor starts with rg_plugin_header, a different RG_PROVIDER_ABI_MAJOR
 * is refused, minor versions only append fields, and a 2.0 plugin keeps
 * loading under every 2.x gateway. (2.0 differs from 1.0 in one way:
 * rg_provider_header, rg_option and rg_error gained their leading
 * struct_size.) Arrays follow plugin.h's rule: the request's headers carry
 * struct_size = sizeof(rg_provider_header) each, ai.options are read with
 * rg_option_at, and readgate refuses a request whose headers' struct_size is
 * below RG_PROVIDER_HEADER_SIZE_2_0, or differs between headers, like any
 * malformed request: the mint fails and the log says why.
 *
 * Threads and memory. Every callback may run on any thread, several mints
 * at once: keep per-mint data in the state begin returns, never in globals.
 * Everything readgate passes in is valid for the duration of the call only
 * (the api key included: copy it into your request, and wipe your copy in
 * end). Everything the plugin hands back (request, result) points into its
 * state and must stay valid until end.
 *
 * Secrets. The decrypted api key is given to begin only. Never log it, never
 * put it in the result, never put a provider's answer body into an error
 * message: messages go to logs, and the browser only ever sees readgate's
 * own error text.
 */
#ifndef READGATE_TOKEN_PROVIDER_H
#define READGATE_TOKEN_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RG_PROVIDER_ABI_MAJOR 2
#define RG_PROVIDER_ABI_MINOR 0
#define RG_PROVIDER_ENTRY_SYMBOL "rg_provider_entry"

/* Which `ai.tools` modes a provider can hand to its model (flags). */
#define RG_PROVIDER_TOOLS_FUNCTIONS 0x1u /* function tools, one per collection */
#define RG_PROVIDER_TOOLS_MCP 0x2u       /* one MCP server tool (readgate's /mcp) */

/* The site's `ai:` block as the provider sees it. */
typedef struct rg_provider_config {
    uint32_t struct_size;
    const char *site_id;
    const rg_option *options; /* ai.options, scalars as text; never secrets; rg_option_at */
    size_t noptions;
    uint32_t expires_after_s; /* ai.expires_after_s (default 600) */
    const char *tools;        /* "functions", "mcp" or "none" */
} rg_provider_config;

/* One mint. */
typedef struct rg_mint_input {
    uint32_t struct_size;
    const rg_provider_config *config;
    const char *api_key; /* decrypted ai.api_key; valid during begin only */
    size_t api_key_len;
    int64_t now;         /* unix seconds */
    const char *origin;  /* the page's vetted Origin (browser mode), or NULL */
    /*
     * tools "functions": a JSON array of {"name","description","parameters"}
     * (parameters: the JSON Schema of a query on one collection), generated
     * from the same source as GET /collections. NULL otherwise.
     */
    const char *tools_json;
    /* tools "mcp": readgate's MCP endpoint and a short-lived bearer for it
       (scoped to this site, expiring with the session). NULL otherwise. */
    const char *mcp_url;
    const char *mcp_token;
} rg_mint_input;

/* One request header; the provider sets struct_size on each (plugin.h). */
typedef struct rg_provider_header {
    uint32_t struct_size;
    const char *name;
    const char *value;
} rg_provider_header;

#define RG_PROVIDER_HEADER_SIZE_2_0 (offsetof(rg_provider_header, value) + sizeof(const char *))

/* Element i of a header array: the elements lie base->struct_size bytes
   apart (the array rule in readgate/plugin.h). base must not be NULL. */
static inline const rg_provider_header *rg_header_at(const rg_provider_header *base, size_t i)
{
    const char *p = (const char *)base + i * base->struct_size;
    return (const rg_provider_header *)(const void *)p;
}

/* Filled by begin; every pointer points into the plugin's state. */
typedef struct rg_provider_request {
    uint32_t struct_size;                /* set by readgate */
    const char *method;                  /* "GET" or "POST" */
    const char *url;                     /* absolute; NULL: no call, go to finish */
    const rg_provider_header *headers;   /* at most 16; each with struct_size set */
    size_t nheaders;
    const char *body;                    /* POST: the body (Content-Type in headers) */
    size_t body_len;
} rg_provider_request;

/* The provider's answer, as readgate read it (any HTTP status). */
typedef struct rg_provider_response {
    uint32_t struct_size;
    long status;       /* HTTP status; 0 when begin made no request */
    const char *body;  /* NUL-terminated, at most 1 MiB */
    size_t body_len;
} rg_provider_response;

/* Filled by finish; `json` points into the plugin's state. */
typedef struct rg_mint_result {
    uint32_t struct_size; /* set by readgate */
    /*
     * A JSON object: exactly what the browser needs to start the provider's
     * session (e.g. {"value":"ek_...","expires_at":1763802000}). readgate
     * adds "provider". Never the api key, never the provider's echo of the
     * session, instructions or tools.
     */
    const char *json;
    size_t json_len;
} rg_mint_result;

typedef struct rg_token_provider {
    uint32_t struct_size; /* rg_plugin_header: struct_size, abi_major, abi_minor, name, version */
    uint16_t abi_major;   /* RG_PROVIDER_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor;
    const char *name;     /* "openai-realtime" */
    const char *version;
    uint32_t tools;       /* RG_PROVIDER_TOOLS_* the provider supports; 0: none */

    /*
     * Optional. `readgate check`, start and reload: reject unknown or
     * malformed ai.options (and an expires_after_s the provider can't honour)
     * without any I/O. Return RG_OK, or RG_ERR_CONFIG with a message that
     * starts with the option's name ("agent_id: required ...").
     */
    rg_status (*check)(const rg_provider_config *cfg, rg_error *err);

    /*
     * Start a mint: allocate *state, fill *req. Return RG_OK, or an error
     * (RG_ERR_CONFIG, RG_ERR_INTERNAL) after which readgate still calls end
     * if *state was set.
     */
    rg_status (*begin)(const rg_mint_input *in, void **state, rg_provider_request *req,
                       rg_error *err);

    /*
     * The answer is in. Fill *out and return RG_OK; or map the answer:
     * RG_ERR_AUTH (the provider refused the key), RG_ERR_UPSTREAM (any other
     * refusal or a malformed answer), RG_ERR_UNAVAILABLE (provider overloaded
     * or down: 429, 5xx). Connection failures and timeouts never reach here:
     * readgate maps them itself.
     */
    rg_status (*finish)(void *state, const rg_provider_response *resp, rg_mint_result *out,
                        rg_error *err);

    /* Free and wipe the state. Called once for every state begin set. */
    void (*end)(void *state);
} rg_token_provider;

typedef const rg_token_provider *(*rg_provider_entry_fn)(const rg_host_api *host);

/* The size of the 2.0 layout: the smallest struct_size a gateway accepts. */
#define RG_PROVIDER_SIZE_2_0 (offsetof(rg_token_provider, end) + sizeof(void (*)(void *)))

/* The entry point for a descriptor:
 *     RG_DEFINE_PROVIDER(my_provider_descriptor)
 * exports rg_provider_entry and keeps the host services in a static
 * `rg_host` when the table is one this file was compiled for (NULL
 * otherwise). Declare `static const rg_host_api *rg_host;` at the top of the
 * file to use it above the macro. */
#define RG_DEFINE_PROVIDER(descriptor)                                                     \
    static const rg_host_api *rg_host;                                                    \
    RG_PLUGIN_EXPORT const rg_token_provider *rg_provider_entry(const rg_host_api *h)     \
    {                                                                                     \
        if (h && h->abi_major == RG_PROVIDER_ABI_MAJOR && h->log &&                       \
            h->struct_size >= offsetof(rg_host_api, free) + sizeof h->free)               \
            rg_host = h;                                                                  \
        return &(descriptor);                                                             \
    }

/* The whole descriptor and entry point in one line:
 *     RG_PROVIDER("myvoice", "1.0.0", RG_PROVIDER_TOOLS_FUNCTIONS,
 *                 my_check, my_begin, my_finish, my_end)
 * (check may be NULL). */
#define RG_PROVIDER(name_, version_, tools_, check_, begin_, finish_, end_)                 \
    static const rg_token_provider rg_provider_descriptor_ = {                           \
        .struct_size = sizeof(rg_token_provider),                                         \
        .abi_major = RG_PROVIDER_ABI_MAJOR,                                               \
        .abi_minor = RG_PROVIDER_ABI_MINOR,                                               \
        .name = (name_),                                                                  \
        .version = (version_),                                                            \
        .tools = (tools_),                                                                \
        .check = (check_),                                                                \
        .begin = (begin_),                                                                \
        .finish = (finish_),                                                              \
        .end = (end_),                                                                    \
    };                                                                                    \
    RG_DEFINE_PROVIDER(rg_provider_descriptor_)

#ifdef __cplusplus
}
#endif

#endif /* READGATE_TOKEN_PROVIDER_H */
