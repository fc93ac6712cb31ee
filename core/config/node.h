/*
 * Private to core/config: a generic document tree that YAML and JSON files
 * both turn into (with the line of every node, for messages), the checked
 * accessors the loaders validate with, and the site loader.
 */
#ifndef RG_CONFIG_NODE_H
#define RG_CONFIG_NODE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

typedef enum rg_node_kind {
    RG_NODE_NULL,
    RG_NODE_STRING,
    RG_NODE_INT,
    RG_NODE_FLOAT,
    RG_NODE_BOOL,
    RG_NODE_MAP,
    RG_NODE_LIST
} rg_node_kind;

typedef struct rg_node rg_node;

typedef struct rg_node_pair {
    char *key;
    int line; /* line of the key */
    rg_node *value;
} rg_node_pair;

struct rg_node {
    rg_node_kind kind;
    int line;   /* 1-based; 0 when unknown */
    char *text; /* scalars: the value as written (never NULL for scalars) */
    long long ival;
    bool bval;
    rg_node_pair *pairs; /* RG_NODE_MAP */
    rg_node **items;     /* RG_NODE_LIST */
    size_t n;            /* number of pairs or items */
};

/*
 * Parse a whole file: JSON when the name ends in ".json", YAML otherwise.
 * Returns NULL (with a diagnostic) on I/O, syntax or memory errors. Problems
 * that don't stop parsing (duplicate keys, aliases) are reported and counted
 * in *errors, and the tree is still returned.
 */
rg_node *rg_node_parse_file(const char *path, rg_diags *d, int *errors);
/* Same, from memory; `name` is used in messages and to pick the format. */
rg_node *rg_node_parse_text(const char *name, const char *text, size_t len, rg_diags *d,
                            int *errors);
void rg_node_free(rg_node *n);

/* "a string", "an integer", ... as used in "expected X, got Y". */
const char *rg_node_kind_name(rg_node_kind k);
/* The value of `key` in a map node, or NULL. */
const rg_node_pair *rg_node_find(const rg_node *map, const char *key);

/* ---- validation helpers ------------------------------------------------ */

typedef struct rg_cfgctx {
    rg_diags *d;
    const char *file;
    int errors;
} rg_cfgctx;

void rg_cfg_error(rg_cfgctx *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Report every key of `map` not in `allowed` (NULL-terminated). `where` names
   the map in the message ("" for the top level). */
void rg_cfg_check_keys(rg_cfgctx *c, const rg_node *map, const char *where,
                       const char *const *allowed);
/* Report "missing required key" unless present; returns the pair or NULL. */
const rg_node_pair *rg_cfg_require(rg_cfgctx *c, const rg_node *map, int line, const char *where,
                                   const char *key);

/* Typed reads of one node. Each returns 0, or reports "<path>: expected ..."
   and returns -1 leaving *out alone. */
int rg_cfg_kind(rg_cfgctx *c, const rg_node *n, const char *path, rg_node_kind kind);
int rg_cfg_int(rg_cfgctx *c, const rg_node *n, const char *path, long long min, long long max,
               long long *out);
int rg_cfg_bool(rg_cfgctx *c, const rg_node *n, const char *path, bool *out);
int rg_cfg_string(rg_cfgctx *c, const rg_node *n, const char *path, bool nonempty,
                  const char **out);

/* Does `s` match [first][rest]{0,maxrest}? first/rest are character-class
   predicates used for names (fields, collections, sources, option keys). */
bool rg_cfg_name_ok(const char *s, bool (*first)(int), bool (*rest)(int), size_t maxlen);
bool rg_cfg_is_lower_alpha(int ch);
bool rg_cfg_is_lower_alnum_us(int ch);
bool rg_cfg_is_ident_first(int ch);
bool rg_cfg_is_ident_rest(int ch);

/* An http(s) URL a secret may be sent to: https, or http to 127.0.0.1,
   localhost or [::1] only; no user info, nothing a header could split on. */
bool rg_cfg_url_ok(const char *u);

/* ---- readgate.yaml (server_config.c) ------------------------------------ */

/* Every setting of a parsed readgate.yaml except the site files, into *cfg
   (zeroed by the caller, freed with rg_config_free); relative paths resolve
   against `dir`. Problems are reported and counted in c->errors. */
void rg_config_settings_load(rg_cfgctx *c, const rg_node *root, rg_config *cfg, const char *dir);

/* ---- site files (site_config.c) ---------------------------------------- */

/*
 * Load one site file into *site (zeroed by the caller). `cfg` supplies
 * defaults (workers, request timeout). Problems are reported and counted in
 * c->errors; *site is filled as far as possible and freed by rg_site_clear.
 * Returns the line of site_id (0 if absent), for duplicate-id messages.
 */
int rg_site_load(rg_cfgctx *c, const rg_config *cfg, const char *path, rg_site *site);
/* The same for a document already parsed (`path` names it in messages and
   must match its site_id); lets the loader be driven from memory. */
int rg_site_load_node(rg_cfgctx *c, const rg_config *cfg, const char *path, const rg_node *root,
                      rg_site *site);
void rg_site_clear(rg_site *site);

/* ---- oauth blocks (oauth_config.c) ------------------------------------- */

/* The `oauth` key of source `src` (whose options are already loaded: a
   Shopify source's default endpoints come from options.shop). */
void rg_oauth_config_load(rg_cfgctx *c, const rg_node_pair *p, const char *source_where,
                          rg_source *src);

/* ---- the ai block (ai_config.c) ---------------------------------------- */

/* The `ai` key of a site file into site->ai. */
void rg_ai_config_load(rg_cfgctx *c, const rg_node_pair *p, rg_site *site);

/* Scalar options of a map (`sources.S.options`, `ai.options`): names
   [A-Za-z_][A-Za-z0-9_]{0,63}, values strings, numbers or booleans kept as
   written. Fills *out (calloc'd) and *nout; problems reported. */
void rg_cfg_scalar_options(rg_cfgctx *c, const rg_node *m, const char *where,
                           rg_source_option **out, size_t *nout);

/* ---- collections (collection.c) ---------------------------------------- */

/* The `collections` key of a site whose sources are already loaded: fills
   site->collections sorted by name, with sources resolved and desc views. */
void rg_collections_load(rg_cfgctx *c, const rg_node_pair *p, rg_site *site);
void rg_collection_clear(rg_collection *col);

#endif
