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

#define RG_OP_MASK(op) (1u << (op))

/* One origin pattern from allowed_origins, parsed (see query/origin.h). */
typedef struct rg_origin_pattern {
    char *host;     /* lower case; for wildcards the suffix without "*." */
    bool wildcard;  /* "*.example.com" */
    int port;       /* 0 = no port given */
} rg_origin_pattern;

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

typedef struct rg_source {
    char *name;
    char *adapter;  /* adapter name: loads readgate-adapter-<adapter>.so */
    rg_source_option *options;
    size_t noptions;
    uint32_t timeout_ms;         /* per-query budget; option "timeout_ms", default from limits */
    uint32_t connect_timeout_ms; /* option "connect_timeout_ms", default 2000 */
    uint32_t workers;            /* option "workers": worker threads (connections) for this source */
    void *runtime;               /* owned by the server (worker pool, loaded adapter) */
} rg_source;

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
    char **trusted_proxies;
    size_t ntrusted_proxies;
    char *log_level;     /* debug|info|warn|error */
    char *audit_log;     /* "-" = stderr, else an absolute path (lines are appended) */
    rg_limits limits;
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
 * Decrypt (and wipe at once) every "enc:" option with the master keys, adding
 * "file:line: sources.S.options.K: cannot decrypt: why" for each that fails.
 * Each attempt writes an audit line (purpose "verify"). Returns the number of
 * failures.
 */
struct rg_keyring;
size_t rg_config_verify_secrets(const rg_config *cfg, const struct rg_keyring *kr, rg_diags *d);
void rg_config_free(rg_config *cfg);

/* Binary search; NULL if unknown. Thread-safe (config is immutable). */
const rg_site *rg_config_find_site(const rg_config *cfg, const char *site_id);
const rg_collection *rg_site_find_collection(const rg_site *site, const char *name);
/* Index into c->fields, or -1. */
int rg_collection_find_field(const rg_collection *c, const char *name);

/* Names used in config and API, and back. NULL / 0 when unknown. */
const char *rg_type_name(rg_type t);
rg_type rg_type_from_name(const char *name);
const char *rg_op_name(rg_op op);
rg_op rg_op_from_name(const char *name);
/* The operators that make sense for a type (mask of RG_OP_MASK). */
uint32_t rg_ops_valid_for_type(rg_type t);

/* True if `id` is a valid site id: [a-z0-9]{8,32}. */
bool rg_site_id_valid(const char *id);

#endif
