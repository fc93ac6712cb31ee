/*
 * The loaded configuration: readgate.yaml plus every site file, validated and
 * resolved into immutable structs. Nothing on the request path parses config;
 * everything a request needs (field lookups, operator masks, precomputed
 * /collections documents) is prepared here at load time.
 *
 * A config is immutable after rg_config_load returns, so any number of threads
 * read it without locks. Reload builds a new one and swaps (server side).
 */
#ifndef RG_CONFIG_H
#define RG_CONFIG_H

#include <readgate/adapter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/diag.h"
#include "origin.h"

#define RG_OP_MASK(op) (1u << (op))

typedef struct rg_field {
    char *name;   /* public name */
    char *column; /* backend name (defaults to name) */
    rg_type type;
    char **enum_values; /* RG_TYPE_ENUM only */
    size_t nenum;
    bool display;
    bool searchable;
    bool sortable;
    uint32_t ops; /* RG_OP_MASK(op) for each allowed filter operator; 0 = not filterable */
    int line;     /* where it was defined, for messages */
} rg_field;

struct rg_source;

typedef struct rg_collection {
    char *name;
    char *source_name;
    struct rg_source *source; /* resolved; points into the site's sources */
    char *target;
    rg_field *fields;
    size_t nfields;
    size_t key_index;
    uint32_t limit_default;
    uint32_t limit_max;
    uint32_t cache_ttl_s;
    /* The ABI view of this collection handed to adapters (points into fields). */
    rg_collection_desc desc;
    rg_field_desc *desc_fields;
} rg_collection;

typedef struct rg_source_option {
    char *key;
    char *value; /* as written; may be "enc:v1:..." (decrypted only when opened) */
    int line;    /* line of the value in the site file, for diagnostics */
} rg_source_option;

/* Who issues a source's OAuth tokens (the `oauth` block, docs/configuration.md, "OAuth connections"). */
typedef enum rg_oauth_provider {
    RG_OAUTH_GOOGLE = 1,
    RG_OAUTH_AIRTABLE,
    RG_OAUTH_SHOPIFY
} rg_oauth_provider;

/*
 * A source's `oauth` block: read by readgate itself, never passed to the
 * adapter (which gets only the current access token, as option
 * access_token). Secrets stay encrypted here and are opened only for a
 * refresh or a revoke.
 */
typedef struct rg_oauth_config {
    rg_oauth_provider provider;
    char *client_id;      /* user OAuth; NULL for a service account */
    char *client_secret;  /* "enc:v1:..." or NULL (an Airtable public client) */
    int client_secret_line;
    char *token_url;      /* resolved: the provider's default unless set */
    char *revoke_url;     /* resolved likewise */
    uint32_t refresh_margin_s;
    bool service_account; /* Google JWT bearer grant instead of a refresh token */
    char *sa_client_email;
    char *sa_private_key; /* "enc:v1:..." of a PEM private key */
    int sa_private_key_line;
    char *sa_scopes;      /* space-separated, as the JWT `scope` claim wants */
    int line;             /* of the `oauth` key, for messages */
} rg_oauth_config;

typedef struct rg_source {
    char *name;
    char *adapter;  /* adapter name: loads readgate-adapter-<adapter>.so */
    rg_source_option *options;
    size_t noptions;
    uint32_t timeout_ms;         /* per-query budget; option "timeout_ms", default from limits */
    uint32_t connect_timeout_ms; /* option "connect_timeout_ms", default 2000 */
    uint32_t workers;            /* option "workers": worker threads (connections) for this source */
    rg_oauth_config *oauth;      /* the `oauth` block, or NULL */
    void *runtime;               /* owned by the server (worker pool, loaded adapter) */
} rg_source;

/*
 * Rate limits of one route (docs/configuration.md and SECURITY.md): sliding windows per client IP,
 * per site and per session, plus a one-second burst window per site. 0 turns
 * a window off. Site files override the server's values key by key.
 */
typedef enum rg_rl_route {
    RG_RL_TOKEN,
    RG_RL_QUERY,
    RG_RL_COLLECTIONS,
    RG_RL_SESSION,
    RG_RL_EVENTS,
    RG_RL_NROUTES
} rg_rl_route;

typedef struct rg_route_limits {
    uint32_t per_ip_per_min;
    uint32_t per_site_per_min;
    uint32_t per_session_per_min;
    uint32_t burst_per_s;
} rg_route_limits;

typedef struct rg_rate_limits {
    rg_route_limits route[RG_RL_NROUTES];
} rg_rate_limits;

/* How the AI provider's model gets the site's collections (`ai.tools`). */
typedef enum rg_ai_tools {
    RG_AI_TOOLS_NONE = 0,
    RG_AI_TOOLS_FUNCTIONS, /* one function tool per collection */
    RG_AI_TOOLS_MCP        /* one MCP tool: readgate's /v1/{site}/mcp */
} rg_ai_tools;

/*
 * A site's `ai` block (docs/configuration.md, "AI provider"): which
 * token-provider plugin mints the widget's AI credential and with what. The
 * key stays encrypted here and is opened only for a mint (and the load-time
 * check), audited each time.
 */
typedef struct rg_ai_config {
    char *provider;       /* loads readgate-provider-<provider>.so */
    int provider_line;
    char *api_key;        /* "enc:v1:...", AAD site_id/ai.api_key */
    int api_key_line;
    uint32_t expires_after_s;    /* lifetime asked of the provider (600) */
    int expires_after_line;
    rg_ai_tools tools;           /* default: functions when the provider takes them */
    bool tools_set;
    int tools_line;
    rg_source_option *options;   /* ai.options: scalars, passed to the plugin */
    size_t noptions;
    int options_line;
    uint32_t timeout_ms;         /* whole provider call (10000) */
    uint32_t connect_timeout_ms; /* connect to the provider (3000) */
    int line;                    /* of the `ai` key */
} rg_ai_config;

typedef struct rg_site {
    char *site_id;
    char *file; /* path of the site file, for messages */
    rg_origin_pattern *origins;
    size_t norigins;
    bool allow_localhost;
    uint8_t (*api_key_hashes)[32]; /* sha256 of the whole rgk_... key */
    size_t napi_keys;
    uint32_t session_ttl_s;
    rg_source *sources;
    size_t nsources;
    rg_collection *collections;
    size_t ncollections;
    rg_rate_limits rate_limits; /* the server's, with this file's rate_limits applied */
    rg_ai_config *ai;           /* the `ai` block, or NULL */
} rg_site;

typedef struct rg_limits {
    size_t max_body_bytes;      /* 16384 -> 413 */
    int max_json_depth;         /* 8 */
    size_t max_filters;         /* 20 */
    size_t max_string_bytes;    /* 256 */
    size_t max_search_bytes;    /* 200 */
    size_t max_in_values;       /* 50 */
    size_t max_sort;            /* 3 */
    uint32_t request_timeout_ms; /* default per-query budget: 5000 */
    int timestamp_window_s;     /* 300 */
    size_t max_connections;     /* 10000 */
    uint32_t max_inflight_per_site; /* 64 -> 503 overloaded */
    size_t ratelimit_entries;   /* 100000: in-memory rate-limit table (read at start) */
    uint32_t ratelimit_timeout_ms; /* 50: wait for Redis before deciding locally */
    uint32_t header_timeout_ms; /* 10000: request line and headers must arrive within it */
    uint32_t body_timeout_ms;   /* 10000: then the body within this */
} rg_limits;

typedef struct rg_config {
    char *file;   /* path of readgate.yaml */
    char *listen_host;
    int listen_port;
    char *admin_host;
    int admin_port;      /* 0 = no admin listener */
    int loop_threads;    /* event-loop threads (default: cores) */
    int workers;         /* default worker threads per source (default: cores * 2) */
    char *sites_dir;     /* absolute, resolved relative to the config file */
    char *adapters_dir;  /* absolute, resolved relative to the config file */
    char *keys_env;      /* name of the environment variable with master keys (default READGATE_KEYS) */
    char *keys_file;     /* absolute path of a 0600 key file, or NULL */
    char *state_store;   /* "sqlite:PATH" (default) or "postgres://..." */
    char *rate_limit;    /* "memory" or "redis://..." */
    char *redis_host;    /* from rate_limit "redis://host[:port]", else NULL */
    int redis_port;      /* 6379 unless given */
    rg_rate_limits rate_limits; /* per route; sites may override */
    char **trusted_proxies;
    size_t ntrusted_proxies;
    char *log_level;     /* debug|info|warn|error */
    char *audit_log;     /* "-" = stderr, else an absolute path (lines are appended) */
    char *public_url;    /* "https://gateway.example.com", no trailing '/', or NULL */
    rg_limits limits;
    size_t cache_max_bytes; /* cache.max_bytes: result cache budget, 0 = no cache (64 MiB) */
    rg_site *sites;      /* sorted by site_id */
    size_t nsites;
} rg_config;

/*
 * Load readgate.yaml (or .json) at `path` and every *.yaml / *.yml / *.json in
 * its sites_dir. Every problem is added to `d` as "file:line: message" and
 * loading continues to find the rest. Returns NULL if anything was wrong.
 */
rg_config *rg_config_load(const char *path, rg_diags *d);

/*
 * Decrypt (and wipe at once) every "enc:" option and every encrypted value of
 * an `oauth` block with the master keys, adding
 * "file:line: sources.S.options.K: cannot decrypt: why" for each that fails
 * (a service account's private key must also be a PEM RSA key).
 * Each attempt writes an audit line (purpose "verify"). Returns the number of
 * failures.
 */
struct rg_keyring;
size_t rg_config_verify_secrets(const rg_config *cfg, const struct rg_keyring *kr, rg_diags *d);
void rg_config_free(rg_config *cfg);

void rg_oauth_config_free(rg_oauth_config *o);
void rg_ai_config_free(rg_ai_config *ai);
/* "functions", "mcp", "none". */
const char *rg_ai_tools_name(rg_ai_tools t);
/* "google", "airtable", "shopify". */
const char *rg_oauth_provider_name(rg_oauth_provider p);
/* The values of `ai.tools` and of `oauth.provider` as written in site files,
   NULL-terminated; providers in the order of rg_oauth_provider from 1. */
extern const char *const rg_ai_tools_names[];
extern const char *const rg_oauth_provider_names[];

/* Binary search; NULL if unknown. Thread-safe (config is immutable). */
const rg_site *rg_config_find_site(const rg_config *cfg, const char *site_id);
const rg_collection *rg_site_find_collection(const rg_site *site, const char *name);
/* Index into c->fields, or -1. */
int rg_collection_find_field(const rg_collection *c, const char *name);

/* Names used in config and API, and back. NULL / 0 when unknown. */
/* Every type's and operator's name, indexed by rg_type and rg_op: [0] and
   the entry after the last are NULL, so &names[1] lists them all. */
extern const char *const rg_type_names[];
extern const char *const rg_op_names[];
const char *rg_type_name(rg_type t);
rg_type rg_type_from_name(const char *name);
const char *rg_op_name(rg_op op);
rg_op rg_op_from_name(const char *name);
/* The operators that make sense for a type (mask of RG_OP_MASK). */
uint32_t rg_ops_valid_for_type(rg_type t);

/* True if `id` is a valid site id: [a-z0-9]{8,32}. */
bool rg_site_id_valid(const char *id);

#endif
