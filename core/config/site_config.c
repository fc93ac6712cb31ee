/*
 * One site file (docs/configuration.md): identity, origins, API key hashes, session
 * lifetime and sources. Collections are in collection.c.
 */
#include "keys.h"
#include "load.h"
#include "origin.h"
#include "ratelimit_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K(id) (&rg_site_keys.keys[RG_SITEK_##id])

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* "sha256:" followed by 64 hex digits, into 32 bytes. */
static int parse_key_hash(const char *s, uint8_t out[32])
{
    if (strncmp(s, "sha256:", 7) != 0 || strlen(s + 7) != 64)
        return -1;
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval((unsigned char)s[7 + 2 * i]), lo = hexval((unsigned char)s[8 + 2 * i]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static bool adapter_char(int ch)
{
    return rg_cfg_is_lower_alnum_us(ch);
}

/* The file must be named after its site so an id always finds its file. */
static void check_file_name(rg_cfgctx *c, const char *path, const char *id, int line)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t stem = dot ? (size_t)(dot - base) : strlen(base);
    if (strlen(id) != stem || strncmp(base, id, stem) != 0)
        rg_cfg_error(c, line, "site file name '%s' does not match site_id '%s'; name it %s%s", base,
                     id, id, dot ? dot : ".yaml");
}

static void load_origins(rg_cfgctx *c, const rg_cfgmap *top, rg_site *site)
{
    const rg_node *l;
    if (rg_cfg_key_list(c, top, K(ALLOWED_ORIGINS), &l) != 0)
        return;
    site->origins = calloc(l->n ? l->n : 1, sizeof *site->origins);
    if (!site->origins) {
        rg_cfg_error(c, 0, "out of memory");
        return;
    }
    bool nonempty = K(ALLOWED_ORIGINS)->flags & RG_KEY_ITEMS_NONEMPTY;
    for (size_t i = 0; i < l->n; i++) {
        char path[64], err[300];
        const char *s;
        snprintf(path, sizeof path, "%s[%zu]", rg_key_name(K(ALLOWED_ORIGINS)), i);
        if (rg_cfg_string(c, l->items[i], path, nonempty, &s) != 0)
            continue;
        if (rg_origin_pattern_parse(s, &site->origins[site->norigins], err, sizeof err) != 0) {
            rg_cfg_error(c, l->items[i]->line, "%s: %s", path, err);
            continue;
        }
        site->norigins++;
    }
}

static void load_api_keys(rg_cfgctx *c, const rg_cfgmap *top, rg_site *site)
{
    const rg_node *l;
    if (rg_cfg_key_list(c, top, K(API_KEYS), &l) != 0)
        return;
    site->api_key_hashes = calloc(l->n ? l->n : 1, sizeof *site->api_key_hashes);
    if (!site->api_key_hashes) {
        rg_cfg_error(c, 0, "out of memory");
        return;
    }
    bool nonempty = K(API_KEYS)->flags & RG_KEY_ITEMS_NONEMPTY;
    for (size_t i = 0; i < l->n; i++) {
        char path[64];
        const char *s;
        snprintf(path, sizeof path, "%s[%zu]", rg_key_name(K(API_KEYS)), i);
        if (rg_cfg_string(c, l->items[i], path, nonempty, &s) != 0)
            continue;
        if (parse_key_hash(s, site->api_key_hashes[site->napi_keys]) != 0) {
            rg_cfg_error(c, l->items[i]->line,
                         "%s: expected \"sha256:\" and the 64 hex digits of the SHA-256 of the "
                         "whole rgk_ key, not the key itself",
                         path);
            continue;
        }
        site->napi_keys++;
    }
}

void rg_cfg_scalar_options(rg_cfgctx *c, const rg_node *m, const char *where,
                           rg_source_option **out, size_t *nout)
{
    *out = calloc(m->n ? m->n : 1, sizeof **out);
    *nout = 0;
    if (!*out) {
        rg_cfg_error(c, 0, "out of memory");
        return;
    }
    for (size_t i = 0; i < m->n; i++) {
        const rg_node_pair *o = &m->pairs[i];
        const rg_node *v = o->value;
        if (!rg_cfg_name_ok(o->key, rg_cfg_is_ident_first, rg_cfg_is_ident_rest, 64)) {
            rg_cfg_error(c, o->line,
                         "%s: '%s' is not a valid option name; expected [A-Za-z_][A-Za-z0-9_]{0,63}",
                         where, o->key);
            continue;
        }
        if (v->kind != RG_NODE_STRING && v->kind != RG_NODE_INT && v->kind != RG_NODE_FLOAT &&
            v->kind != RG_NODE_BOOL) {
            rg_cfg_error(c, v->line, "%s.%s: expected a string, number or boolean, got %s", where,
                         o->key, rg_node_kind_name(v->kind));
            continue;
        }
        rg_source_option *so = &(*out)[*nout];
        so->key = strdup(o->key);
        so->value = strdup(v->text);
        so->line = v->line;
        (*nout)++;
        if (!so->key || !so->value)
            rg_cfg_error(c, 0, "out of memory");
    }
}

/* Is `name` a key read by readgate next to `options` (a source setting)? */
static bool is_setting(const rg_key *options, const char *name)
{
    const rg_key *k = rg_key_child(&rg_site_keys, rg_key_parent(&rg_site_keys, options), name);
    return k && (k->flags & RG_KEY_SETTING);
}

static void load_options(rg_cfgctx *c, const rg_node *m, const char *where, rg_source *src)
{
    /* These are read by readgate itself one level up; an adapter never
     * sees them. Accepting them here would silently ignore a timeout the
     * customer believes is in force. */
    const rg_key *options = K(SOURCE_OPTIONS);
    for (size_t i = 0; i < m->n; i++)
        if (is_setting(options, m->pairs[i].key))
            rg_cfg_error(c, m->pairs[i].line,
                         "%s.%s: '%s' is a source setting, not an adapter option; move it up "
                         "one level, next to 'adapter'",
                         where, m->pairs[i].key, m->pairs[i].key);
    rg_cfg_scalar_options(c, m, where, &src->options, &src->noptions);
    /* Drop the misplaced settings reported above. */
    size_t n = 0;
    for (size_t i = 0; i < src->noptions; i++) {
        if (src->options[i].key && is_setting(options, src->options[i].key)) {
            free(src->options[i].key);
            free(src->options[i].value);
        } else {
            src->options[n++] = src->options[i];
        }
    }
    src->noptions = n;
}

static void load_source(rg_cfgctx *c, const rg_config *cfg, const rg_cfgmap *sources,
                        const rg_node_pair *p, rg_source *src)
{
    char where[128], path[192];
    src->timeout_ms = cfg->limits.request_timeout_ms;
    src->workers = cfg->workers > 0 ? (uint32_t)cfg->workers : 1;
    rg_key_defaults(&rg_site_keys, K(SOURCES), src);
    if (!(src->name = strdup(p->key)))
        rg_cfg_error(c, 0, "out of memory");
    if (!rg_cfg_name_ok(p->key, rg_cfg_is_lower_alpha, rg_cfg_is_lower_alnum_us, 64))
        rg_cfg_error(c, p->line,
                     "sources: '%s' is not a valid source name; expected [a-z][a-z0-9_]{0,63}",
                     p->key);
    rg_cfgmap m;
    if (rg_cfg_key_element(c, &rg_site_keys, K(SOURCES), sources->where, p, where, sizeof where,
                           &m) != 0)
        return;

    const char *s;
    if (rg_cfg_key_string(c, &m, K(SOURCE_ADAPTER), &s) == 0) {
        if (!rg_cfg_name_ok(s, adapter_char, adapter_char, 64))
            rg_cfg_error(c, rg_cfg_key_line(&m, K(SOURCE_ADAPTER)),
                         "%s.adapter: '%s' is not a valid adapter name; expected [a-z0-9_]+, "
                         "e.g. postgres",
                         where, s);
        else if (!(src->adapter = strdup(s)))
            rg_cfg_error(c, 0, "out of memory");
    }
    const rg_node_pair *o;
    snprintf(path, sizeof path, "%s.options", where);
    if (rg_cfg_key_names(c, &m, K(SOURCE_OPTIONS), &o) == 0)
        load_options(c, o->value, path, src);
    bool oauth = rg_cfg_key_find(c, &m, K(SOURCE_OAUTH)) != NULL;
    if (oauth)
        rg_oauth_config_load(c, &m, src);
    /* With an oauth block the core supplies access_token at connect; a
       configured one would be silently replaced. */
    for (size_t i = 0; oauth && i < src->noptions; i++)
        if (strcmp(src->options[i].key, "access_token") == 0)
            rg_cfg_error(c, src->options[i].line,
                         "%s.options.access_token: set by readgate from the oauth block (the "
                         "current token from the state store); remove it",
                         where);

    long long v;
    if (rg_cfg_key_int(c, &m, K(SOURCE_TIMEOUT_MS), &v) == 0)
        src->timeout_ms = (uint32_t)v;
    if (rg_cfg_key_int(c, &m, K(SOURCE_CONNECT_TIMEOUT_MS), &v) == 0)
        src->connect_timeout_ms = (uint32_t)v;
    if (rg_cfg_key_int(c, &m, K(SOURCE_WORKERS), &v) == 0)
        src->workers = (uint32_t)v;
}

static void load_sources(rg_cfgctx *c, const rg_config *cfg, const rg_cfgmap *top, rg_site *site)
{
    const rg_node_pair *p;
    if (rg_cfg_key_names(c, top, K(SOURCES), &p) != 0)
        return;
    site->sources = calloc(p->value->n ? p->value->n : 1, sizeof *site->sources);
    if (!site->sources) {
        rg_cfg_error(c, 0, "out of memory");
        return;
    }
    const rg_cfgmap sources = {.node = p->value, .where = rg_key_name(K(SOURCES)), .line = p->line,
                               .table = &rg_site_keys, .key = K(SOURCES)};
    for (size_t i = 0; i < p->value->n; i++)
        load_source(c, cfg, &sources, &p->value->pairs[i], &site->sources[site->nsources++]);
}

int rg_site_load(rg_cfgctx *c, const rg_config *cfg, const char *path, rg_site *site)
{
    rg_key_defaults(&rg_site_keys, NULL, site);
    if (!(site->file = strdup(path))) {
        rg_cfg_error(c, 0, "out of memory");
        return 0;
    }
    int parse_errors = 0;
    rg_node *root = rg_node_parse_file(path, c->d, &parse_errors);
    c->errors += parse_errors;
    if (!root) {
        c->errors++; /* already reported by the parser */
        return 0;
    }
    int idline = rg_site_load_node(c, cfg, path, root, site);
    rg_node_free(root);
    return idline;
}

int rg_site_load_node(rg_cfgctx *c, const rg_config *cfg, const char *path, const rg_node *root,
                      rg_site *site)
{
    rg_key_defaults(&rg_site_keys, NULL, site);
    if (!site->file && !(site->file = strdup(path))) {
        rg_cfg_error(c, 0, "out of memory");
        return 0;
    }
    int idline = 0;
    if (root->kind != RG_NODE_MAP) {
        rg_cfg_error(c, root->line, "expected a mapping with site_id, sources and collections, got %s",
                     rg_node_kind_name(root->kind));
        return 0;
    }
    const rg_cfgmap top = {.node = root, .where = "", .table = &rg_site_keys};
    rg_cfg_check_keys(c, &top);

    const char *s;
    if (rg_cfg_key_string(c, &top, K(SITE_ID), &s) == 0) {
        idline = rg_cfg_key_line(&top, K(SITE_ID));
        if (!rg_site_id_valid(s)) {
            rg_cfg_error(c, idline, "site_id: '%s' is not a valid site id; expected 8 to 32 of [a-z0-9]",
                         s);
        } else {
            check_file_name(c, path, s, idline);
            if (!(site->site_id = strdup(s)))
                rg_cfg_error(c, 0, "out of memory");
        }
    }
    load_origins(c, &top, site);
    (void)rg_cfg_key_bool(c, &top, K(ALLOW_LOCALHOST), &site->allow_localhost);
    load_api_keys(c, &top, site);
    long long v;
    (void)rg_cfg_key_int(c, &top, K(SESSION_TTL_S), &v);
    site->session_ttl_s = (uint32_t)v;
    load_sources(c, cfg, &top, site);
    /* The server's limits, with whatever this file sets on top. */
    site->rate_limits = cfg->rate_limits;
    rg_rate_limits_load(c, &top, K(RATE_LIMITS), &site->rate_limits);
    rg_collections_load(c, &top, site);
    rg_ai_config_load(c, &top, site);
    return idline;
}

void rg_site_clear(rg_site *site)
{
    if (!site)
        return;
    free(site->site_id);
    free(site->file);
    for (size_t i = 0; i < site->norigins; i++)
        rg_origin_pattern_clear(&site->origins[i]);
    free(site->origins);
    free(site->api_key_hashes);
    for (size_t i = 0; i < site->nsources; i++) {
        rg_source *src = &site->sources[i];
        free(src->name);
        free(src->adapter);
        for (size_t j = 0; j < src->noptions; j++) {
            free(src->options[j].key);
            free(src->options[j].value);
        }
        free(src->options);
        rg_oauth_config_free(src->oauth);
    }
    free(site->sources);
    for (size_t i = 0; i < site->ncollections; i++)
        rg_collection_clear(&site->collections[i]);
    free(site->collections);
    rg_ai_config_free(site->ai);
    memset(site, 0, sizeof *site);
}
