/*
 * The configuration keys, one table per file: readgate.yaml (keys_server.c),
 * a site file (keys_site.c) and the `rate_limits` block both of them take
 * (keys_rate_limits.c). One row per key holds its path, type, bounds or
 * allowed values, default and the sentence that documents it.
 *
 * Everything else follows from these rows, so that nothing can drift: the
 * loaders refuse keys that have no row and check types, bounds and required
 * keys and take defaults from them (check.h), and `readgate config-schema`
 * and `readgate config-docs` print the JSON Schemas of schemas/ and the key
 * tables of docs/configuration.md from them (keygen.h).
 */
#ifndef RG_CONFIG_KEYS_H
#define RG_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum rg_key_type {
    RG_KEY_STRING,  /* a string */
    RG_KEY_INT,     /* an integer from min to max */
    RG_KEY_BOOL,    /* true or false */
    RG_KEY_ENUM,    /* a string, one of values */
    RG_KEY_LIST,    /* a list of strings (of values, when set) */
    RG_KEY_MAP,     /* a mapping of the keys whose paths continue this one */
    RG_KEY_NAMED,   /* a mapping of names, each to a mapping of the keys "path.*.key" */
    RG_KEY_OPTIONS, /* a mapping of names to strings, numbers or booleans (passed on) */
    RG_KEY_BLOCK    /* a mapping of the keys of another table (block) */
} rg_key_type;

enum rg_key_flag {
    RG_KEY_REQUIRED = 1u << 0,       /* the mapping must have it */
    RG_KEY_NONEMPTY = 1u << 1,       /* not "", or at least one element or name */
    RG_KEY_ITEMS_NONEMPTY = 1u << 2, /* lists: no element is "" */
    RG_KEY_UNIQUE = 1u << 3,         /* lists: no element twice */
    RG_KEY_NO_DEFAULT = 1u << 4,     /* no default value, or one computed at load (doc_default) */
    RG_KEY_SETTING = 1u << 5,        /* read by readgate next to an `options` mapping, which
                                        therefore refuses it as an option name */
    RG_KEY_INHERITED = 1u << 6,      /* BLOCK: the keys below default to readgate.yaml's values */
    RG_KEY_DOC_TABLE = 1u << 7       /* MAP, NAMED: documented in a table of its own (else its
                                        keys are rows of the parent's table, as "map.key") */
};

struct rg_key_table;

typedef struct rg_key {
    const char *path;          /* "limits.max_body_bytes"; "*" stands for a name, as in
                                  "sources.*.adapter" */
    rg_key_type type;
    unsigned flags;            /* enum rg_key_flag */
    long long min, max;        /* RG_KEY_INT */
    long long def;             /* RG_KEY_INT, RG_KEY_BOOL: the default (unless RG_KEY_NO_DEFAULT) */
    const char *sdef;          /* RG_KEY_STRING, RG_KEY_ENUM: the default; NULL: none */
    const char *const *values; /* RG_KEY_ENUM, RG_KEY_LIST: the allowed values, NULL-terminated */
    const char *pattern;       /* the schema's regular expression for a string, a list's
                                  elements or the names of a NAMED or OPTIONS mapping */
    const struct rg_key_table *block; /* RG_KEY_BLOCK */
    size_t offset, size;       /* size != 0: where rg_key_defaults and rg_cfg_key_values store
                                  the value (INT, BOOL) or find the struct of the keys below
                                  (MAP), relative to the struct of the enclosing mapping */
    const char *doc;           /* what it means: the docs' text (Markdown) and the schema's */
    const char *doc_type;      /* the docs' type column, when the type alone says too little */
    const char *doc_default;   /* the docs' default column, for a default computed at load */
} rg_key;

typedef struct rg_key_table {
    const char *name;   /* "server", "site", "rate_limits": ids in docs markers */
    const char *id;     /* the schema's $id */
    const char *title;  /* the schema's title */
    const char *doc;    /* the schema's description */
    const rg_key *keys;
    size_t n;
} rg_key_table;

/* Where storage goes in a row: the member's offset and size in its struct. */
#define RG_KEY_STORE(type, member)                                                                  \
    .offset = offsetof(type, member), .size = sizeof(((type *)0)->member)

/* ---- readgate.yaml ------------------------------------------------------ */

typedef enum rg_server_key {
    RG_SRVK_LISTEN,
    RG_SRVK_ADMIN_LISTEN,
    RG_SRVK_LOOP_THREADS,
    RG_SRVK_WORKERS,
    RG_SRVK_SITES_DIR,
    RG_SRVK_ADAPTERS_DIR,
    RG_SRVK_KEYS,
    RG_SRVK_KEYS_ENV,
    RG_SRVK_KEYS_FILE,
    RG_SRVK_STATE_STORE,
    RG_SRVK_RATE_LIMIT,
    RG_SRVK_TRUSTED_PROXIES,
    RG_SRVK_LOG_LEVEL,
    RG_SRVK_LIMITS,
    RG_SRVK_LIMITS_MAX_BODY_BYTES,
    RG_SRVK_LIMITS_MAX_JSON_DEPTH,
    RG_SRVK_LIMITS_MAX_FILTERS,
    RG_SRVK_LIMITS_MAX_STRING_BYTES,
    RG_SRVK_LIMITS_MAX_SEARCH_BYTES,
    RG_SRVK_LIMITS_MAX_IN_VALUES,
    RG_SRVK_LIMITS_MAX_SORT,
    RG_SRVK_LIMITS_REQUEST_TIMEOUT_MS,
    RG_SRVK_LIMITS_TIMESTAMP_WINDOW_S,
    RG_SRVK_LIMITS_MAX_CONNECTIONS,
    RG_SRVK_LIMITS_MAX_INFLIGHT_PER_SITE,
    RG_SRVK_LIMITS_RATELIMIT_ENTRIES,
    RG_SRVK_LIMITS_RATELIMIT_TIMEOUT_MS,
    RG_SRVK_LIMITS_HEADER_TIMEOUT_MS,
    RG_SRVK_LIMITS_BODY_TIMEOUT_MS,
    RG_SRVK_AUDIT_LOG,
    RG_SRVK_RATE_LIMITS,
    RG_SRVK_CACHE,
    RG_SRVK_CACHE_MAX_BYTES,
    RG_SRVK_PUBLIC_URL,
    RG_SRVK_COUNT
} rg_server_key;

extern const rg_key_table rg_server_keys;

/* ---- a site file ---------------------------------------------------------- */

typedef enum rg_site_key {
    RG_SITEK_SITE_ID,
    RG_SITEK_ALLOWED_ORIGINS,
    RG_SITEK_ALLOW_LOCALHOST,
    RG_SITEK_API_KEYS,
    RG_SITEK_SESSION_TTL_S,
    RG_SITEK_SOURCES,
    RG_SITEK_SOURCE_ADAPTER,
    RG_SITEK_SOURCE_OPTIONS,
    RG_SITEK_SOURCE_TIMEOUT_MS,
    RG_SITEK_SOURCE_CONNECT_TIMEOUT_MS,
    RG_SITEK_SOURCE_WORKERS,
    RG_SITEK_SOURCE_OAUTH,
    RG_SITEK_OAUTH_PROVIDER,
    RG_SITEK_OAUTH_CLIENT_ID,
    RG_SITEK_OAUTH_CLIENT_SECRET,
    RG_SITEK_OAUTH_TOKEN_URL,
    RG_SITEK_OAUTH_REVOKE_URL,
    RG_SITEK_OAUTH_REFRESH_MARGIN_S,
    RG_SITEK_OAUTH_SERVICE_ACCOUNT,
    RG_SITEK_SA_CLIENT_EMAIL,
    RG_SITEK_SA_PRIVATE_KEY,
    RG_SITEK_SA_TOKEN_URI,
    RG_SITEK_SA_SCOPES,
    RG_SITEK_COLLECTIONS,
    RG_SITEK_COLLECTION_SOURCE,
    RG_SITEK_COLLECTION_TARGET,
    RG_SITEK_COLLECTION_KEY,
    RG_SITEK_COLLECTION_LIMIT,
    RG_SITEK_LIMIT_DEFAULT,
    RG_SITEK_LIMIT_MAX,
    RG_SITEK_COLLECTION_CACHE_TTL_S,
    RG_SITEK_COLLECTION_FIELDS,
    RG_SITEK_FIELD_TYPE,
    RG_SITEK_FIELD_COLUMN,
    RG_SITEK_FIELD_DISPLAY,
    RG_SITEK_FIELD_FILTERABLE,
    RG_SITEK_FIELD_SEARCHABLE,
    RG_SITEK_FIELD_SORTABLE,
    RG_SITEK_FIELD_VALUES,
    RG_SITEK_RATE_LIMITS,
    RG_SITEK_AI,
    RG_SITEK_AI_PROVIDER,
    RG_SITEK_AI_API_KEY,
    RG_SITEK_AI_EXPIRES_AFTER_S,
    RG_SITEK_AI_TOOLS,
    RG_SITEK_AI_OPTIONS,
    RG_SITEK_AI_TIMEOUT_MS,
    RG_SITEK_AI_CONNECT_TIMEOUT_MS,
    RG_SITEK_COUNT
} rg_site_key;

extern const rg_key_table rg_site_keys;

/* ---- rate_limits (both files) ------------------------------------------------ */

typedef enum rg_rate_limit_key {
    RG_RLK_TOKEN,
    RG_RLK_TOKEN_PER_IP_PER_MIN,
    RG_RLK_TOKEN_PER_SITE_PER_MIN,
    RG_RLK_TOKEN_BURST_PER_S,
    RG_RLK_QUERY,
    RG_RLK_QUERY_PER_IP_PER_MIN,
    RG_RLK_QUERY_PER_SITE_PER_MIN,
    RG_RLK_QUERY_PER_SESSION_PER_MIN,
    RG_RLK_QUERY_BURST_PER_S,
    RG_RLK_COLLECTIONS,
    RG_RLK_COLLECTIONS_PER_IP_PER_MIN,
    RG_RLK_COLLECTIONS_PER_SITE_PER_MIN,
    RG_RLK_COLLECTIONS_PER_SESSION_PER_MIN,
    RG_RLK_COLLECTIONS_BURST_PER_S,
    RG_RLK_SESSION,
    RG_RLK_SESSION_PER_IP_PER_MIN,
    RG_RLK_SESSION_PER_SITE_PER_MIN,
    RG_RLK_SESSION_PER_SESSION_PER_MIN,
    RG_RLK_SESSION_BURST_PER_S,
    RG_RLK_EVENTS,
    RG_RLK_EVENTS_PER_IP_PER_MIN,
    RG_RLK_EVENTS_PER_SITE_PER_MIN,
    RG_RLK_EVENTS_PER_SESSION_PER_MIN,
    RG_RLK_EVENTS_BURST_PER_S,
    RG_RLK_COUNT
} rg_rate_limit_key;

extern const rg_key_table rg_rate_limit_keys;

/* ---- walking the tables ------------------------------------------------------ */

/* The last segment of the path: the key as written in the file. */
const char *rg_key_name(const rg_key *k);
/* The keys directly below `parent` (NULL: the top level), in table order:
   the first after `prev` (NULL: the first of all), or NULL after the last.
   Below a BLOCK nothing: its keys are the top level of k->block. */
const rg_key *rg_key_next_child(const rg_key_table *t, const rg_key *parent, const rg_key *prev);
/* The key `name` directly below `parent`, or NULL. */
const rg_key *rg_key_child(const rg_key_table *t, const rg_key *parent, const char *name);
/* The mapping `k` is directly below (NULL: the top level). */
const rg_key *rg_key_parent(const rg_key_table *t, const rg_key *k);
/* Index of `s` in k->values, or -1. */
int rg_key_value_index(const rg_key *k, const char *s);
/* k->values joined: "a, b, c" with sep ", " and last ", " (or "a, b or c"). */
void rg_key_values_text(const rg_key *k, const char *sep, const char *last, char *buf, size_t len);

/* Store the defaults of the INT and BOOL keys directly below `parent` that
   have a storage place into the struct at `base`, and of the keys below
   MAPs that have one (into their struct inside it). */
void rg_key_defaults(const rg_key_table *t, const rg_key *parent, void *base);
/* Store an INT or BOOL value at the key's place in `base`. */
void rg_key_store(const rg_key *k, void *base, long long v);

/* Is the table well formed: every row filled, parents before their keys,
   defaults within bounds, storage places of a known size? 0, or -1 with why. */
int rg_key_table_check(const rg_key_table *t, char *why, size_t whylen);

#endif
