/*
 * The configuration loader (core/config): YAML and JSON text -> node tree ->
 * the checks of readgate.yaml and of a site file, all in memory (no file is
 * read or written). The first input byte picks the format (odd: JSON), the
 * rest is the document. Each document is validated both as readgate.yaml and
 * as a site file, since one tree feeds both. A site that loads without errors
 * must be consistent and describable (the GET /collections document).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/load.h"
#include "fuzz_common.h"
#include "query/describe.h"

/* A settings tree with every default: what a site file is loaded against. */
static rg_config defaults;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    rg_diags d = {0};
    rg_cfgctx c = {.d = &d, .file = "readgate.yaml"};
    rg_node empty = {.kind = RG_NODE_NULL, .line = 1, .text = ""};
    rg_config_settings_load(&c, &empty, &defaults, "/nonexistent");
    RG_FUZZ_CHECK(c.errors == 0);
    rg_diags_free(&d);
    return 0;
}

static void check_site(const rg_site *s)
{
    RG_FUZZ_CHECK(s->site_id && rg_site_id_valid(s->site_id));
    RG_FUZZ_CHECK(s->session_ttl_s >= 60 && s->session_ttl_s <= 86400);
    for (size_t i = 0; i < s->norigins; i++) {
        const char *h = s->origins[i].host;
        RG_FUZZ_CHECK(h && *h);
        for (const char *p = h; *p; p++)
            RG_FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z'));
    }
    for (size_t i = 0; i < s->ncollections; i++) {
        const rg_collection *c = &s->collections[i];
        if (i)
            RG_FUZZ_CHECK(strcmp(s->collections[i - 1].name, c->name) < 0);
        RG_FUZZ_CHECK(c->source != NULL && c->nfields > 0 && c->key_index < c->nfields);
        RG_FUZZ_CHECK(c->limit_default >= 1 && c->limit_default <= c->limit_max);
        RG_FUZZ_CHECK(rg_site_find_collection(s, c->name) == c);
        RG_FUZZ_CHECK(c->desc.nfields == c->nfields && c->desc.key_field == c->key_index);
        for (size_t k = 0; k < c->nfields; k++) {
            const rg_field *f = &c->fields[k];
            RG_FUZZ_CHECK(f->name && f->column && rg_type_name(f->type));
            RG_FUZZ_CHECK((f->ops & ~rg_ops_valid_for_type(f->type)) == 0);
            RG_FUZZ_CHECK(f->type != RG_TYPE_ENUM || f->nenum > 0);
        }
    }
    rg_limits limits = defaults.limits;
    char *doc = rg_describe_site(s, &limits);
    RG_FUZZ_CHECK(doc != NULL);
    json_error_t je;
    json_t *j = json_loads(doc, 0, &je);
    RG_FUZZ_CHECK(j != NULL);
    json_decref(j);
    free(doc);
}

/* A site file is named after its site id; take the name from the document
   so that documents with a valid id get past that check. */
static void site_path(const rg_node *root, bool json, char *out, size_t len)
{
    const rg_node_pair *p = rg_node_find(root, "site_id");
    const char *id = p && p->value->kind == RG_NODE_STRING && strlen(p->value->text) <= 64 &&
                             !strchr(p->value->text, '/')
                         ? p->value->text
                         : "demo0001";
    snprintf(out, len, "sites/%s.%s", id, json ? "json" : "yaml");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool json = data[0] & 1;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    rg_diags d = {0};
    int errors = 0;
    rg_node *root = rg_node_parse_text(json ? "readgate.json" : "readgate.yaml", text, len, &d,
                                       &errors);
    if (!root) {
        RG_FUZZ_CHECK(d.count > 0); /* a refusal always says why */
        rg_diags_free(&d);
        return 0;
    }

    rg_config *cfg = calloc(1, sizeof *cfg);
    RG_FUZZ_CHECK(cfg != NULL);
    rg_cfgctx c = {.d = &d, .file = "readgate.yaml"};
    rg_config_settings_load(&c, root, cfg, "/nonexistent");
    RG_FUZZ_CHECK(c.errors == 0 || d.count > 0);
    if (c.errors == 0) {
        RG_FUZZ_CHECK(cfg->listen_host && cfg->listen_port >= 1 && cfg->listen_port <= 65535);
        RG_FUZZ_CHECK(cfg->sites_dir && cfg->sites_dir[0] == '/');
        RG_FUZZ_CHECK(cfg->limits.max_body_bytes >= 1024 && cfg->limits.max_json_depth >= 2);
    }
    rg_config_free(cfg);

    char path[96];
    site_path(root, json, path, sizeof path);
    rg_site site;
    memset(&site, 0, sizeof site);
    rg_cfgctx sc = {.d = &d, .file = path};
    (void)rg_site_load_node(&sc, &defaults, path, root, &site);
    RG_FUZZ_CHECK(sc.errors == 0 || d.count > 0);
    if (sc.errors == 0 && errors == 0)
        check_site(&site);
    rg_site_clear(&site);

    rg_node_free(root);
    rg_diags_free(&d);
    return 0;
}
