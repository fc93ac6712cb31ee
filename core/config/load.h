/*
 * Private to core/config: the loaders of readgate.yaml, of a site file and
 * of the blocks inside it, each filling its part of the loaded configuration
 * (config.h) from a document tree (node.h) with checked reads (check.h).
 */
#ifndef RG_CONFIG_LOAD_H
#define RG_CONFIG_LOAD_H

#include <stddef.h>

#include "check.h"
#include "config.h"

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

/* The `oauth` key of the source read as `m` (whose options are already
   loaded: a Shopify source's default endpoints come from options.shop). */
void rg_oauth_config_load(rg_cfgctx *c, const rg_cfgmap *m, rg_source *src);

/* ---- the ai block (ai_config.c) ---------------------------------------- */

/* The `ai` key of the site file read as `m` into site->ai. */
void rg_ai_config_load(rg_cfgctx *c, const rg_cfgmap *m, rg_site *site);

/* Scalar options of a map (`sources.S.options`, `ai.options`): names
   [A-Za-z_][A-Za-z0-9_]{0,63}, values strings, numbers or booleans kept as
   written. Fills *out (calloc'd) and *nout; problems reported. */
void rg_cfg_scalar_options(rg_cfgctx *c, const rg_node *m, const char *where,
                           rg_source_option **out, size_t *nout);

/* ---- collections (collection.c) ---------------------------------------- */

/* The `collections` key of the site file read as `m`, whose sources are
   already loaded: fills site->collections sorted by name, with sources
   resolved and desc views. */
void rg_collections_load(rg_cfgctx *c, const rg_cfgmap *m, rg_site *site);
void rg_collection_clear(rg_collection *col);

#endif
