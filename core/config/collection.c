/*
 * Collections and their fields: the whitelist every query is validated
 * against. Operator masks, key index and the adapter-facing desc view are
 * computed here once, so the request path only looks things up.
 */
#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const collection_keys[] = {"source", "target",      "key",   "limit",
                                              "cache_ttl_s", "fields", NULL};
static const char *const limit_keys[] = {"default", "max", NULL};
static const char *const field_keys[] = {"type",       "column",   "display", "filterable",
                                         "searchable", "sortable", "values",  NULL};

/* "a, b, c" of the operators in a mask. */
static void ops_list(uint32_t mask, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int op = RG_OP_EQ; op <= RG_OP_CONTAINS; op++) {
        if (!(mask & RG_OP_MASK(op)))
            continue;
        int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", rg_op_name((rg_op)op));
        if (w < 0 || (size_t)w >= len - used)
            return;
        used += (size_t)w;
    }
}

static void load_filterable(rg_cfgctx *c, const rg_node *l, const char *path, rg_field *f,
                            bool type_known)
{
    if (rg_cfg_kind(c, l, path, RG_NODE_LIST) != 0)
        return;
    uint32_t valid = type_known ? rg_ops_valid_for_type(f->type) : ~0u;
    for (size_t i = 0; i < l->n; i++) {
        char ipath[360], list[120];
        const char *s;
        snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
        if (rg_cfg_string(c, l->items[i], ipath, false, &s) != 0)
            continue;
        rg_op op = rg_op_from_name(s);
        if (!op) {
            ops_list(rg_ops_valid_for_type(RG_TYPE_STRING), list, sizeof list);
            rg_cfg_error(c, l->items[i]->line, "%s: unknown operator '%s'; operators: %s", path, s,
                         list);
            continue;
        }
        if (!(valid & RG_OP_MASK(op))) {
            ops_list(valid, list, sizeof list);
            rg_cfg_error(c, l->items[i]->line,
                         "%s: operator '%s' is not valid for type %s; valid: %s", path, s,
                         rg_type_name(f->type), list);
            continue;
        }
        f->ops |= RG_OP_MASK(op);
    }
}

static void load_enum_values(rg_cfgctx *c, const rg_node *l, const char *path, rg_field *f)
{
    if (rg_cfg_kind(c, l, path, RG_NODE_LIST) != 0)
        return;
    if (l->n == 0) {
        rg_cfg_error(c, l->line, "%s: must list at least one value", path);
        return;
    }
    f->enum_values = calloc(l->n, sizeof *f->enum_values);
    if (!f->enum_values) {
        rg_cfg_error(c, 0, "out of memory");
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        char ipath[360];
        const char *s;
        snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
        if (rg_cfg_string(c, l->items[i], ipath, true, &s) != 0)
            continue;
        bool dup = false;
        for (size_t j = 0; j < f->nenum && !dup; j++)
            dup = strcmp(f->enum_values[j], s) == 0;
        if (dup) {
            rg_cfg_error(c, l->items[i]->line, "%s: '%s' is listed twice", path, s);
            continue;
        }
        if (!(f->enum_values[f->nenum] = strdup(s))) {
            rg_cfg_error(c, 0, "out of memory");
            continue;
        }
        f->nenum++;
    }
}

static void load_field(rg_cfgctx *c, const char *where, const rg_node_pair *p, rg_field *f)
{
    char fpath[256], path[300];
    snprintf(fpath, sizeof fpath, "%s.%s", where, p->key);
    f->line = p->line;
    f->name = strdup(p->key);
    if (!f->name)
        rg_cfg_error(c, 0, "out of memory");
    if (!rg_cfg_name_ok(p->key, rg_cfg_is_ident_first, rg_cfg_is_ident_rest, 64))
        rg_cfg_error(c, p->line,
                     "%s: '%s' is not a valid field name; expected [A-Za-z_][A-Za-z0-9_]{0,63}",
                     where, p->key);
    if (rg_cfg_kind(c, p->value, fpath, RG_NODE_MAP) != 0)
        return;
    const rg_node *m = p->value;
    rg_cfg_check_keys(c, m, fpath, field_keys);

    bool type_known = false;
    const char *s;
    const rg_node_pair *t = rg_cfg_require(c, m, p->line, fpath, "type");
    snprintf(path, sizeof path, "%s.type", fpath);
    if (t && rg_cfg_string(c, t->value, path, false, &s) == 0) {
        f->type = rg_type_from_name(s);
        if (f->type)
            type_known = true;
        else
            rg_cfg_error(c, t->value->line,
                         "%s: unknown type '%s'; expected one of string, integer, number, "
                         "boolean, date, datetime, enum",
                         path, s);
    }
    const rg_node_pair *col = rg_node_find(m, "column");
    snprintf(path, sizeof path, "%s.column", fpath);
    const char *column = p->key;
    if (col && rg_cfg_string(c, col->value, path, true, &s) == 0)
        column = s;
    if (!(f->column = strdup(column)))
        rg_cfg_error(c, 0, "out of memory");

    const rg_node_pair *b;
    if ((b = rg_node_find(m, "display"))) {
        snprintf(path, sizeof path, "%s.display", fpath);
        (void)rg_cfg_bool(c, b->value, path, &f->display);
    }
    if ((b = rg_node_find(m, "sortable"))) {
        snprintf(path, sizeof path, "%s.sortable", fpath);
        (void)rg_cfg_bool(c, b->value, path, &f->sortable);
    }
    if ((b = rg_node_find(m, "searchable"))) {
        snprintf(path, sizeof path, "%s.searchable", fpath);
        if (rg_cfg_bool(c, b->value, path, &f->searchable) == 0 && f->searchable && type_known &&
            f->type != RG_TYPE_STRING) {
            rg_cfg_error(c, b->value->line,
                         "%s: only string fields can be searchable; '%s' is of type %s", path,
                         p->key, rg_type_name(f->type));
            f->searchable = false;
        }
    }
    if ((b = rg_node_find(m, "filterable"))) {
        snprintf(path, sizeof path, "%s.filterable", fpath);
        load_filterable(c, b->value, path, f, type_known);
    }
    const rg_node_pair *vals = rg_node_find(m, "values");
    snprintf(path, sizeof path, "%s.values", fpath);
    if (type_known && f->type == RG_TYPE_ENUM) {
        if (!vals)
            rg_cfg_error(c, p->line, "%s: missing required key 'values' (a field of type enum lists its values)",
                         fpath);
        else
            load_enum_values(c, vals->value, path, f);
    } else if (vals && type_known) {
        rg_cfg_error(c, vals->line, "%s: only fields of type enum have values; '%s' is of type %s",
                     path, p->key, rg_type_name(f->type));
    }
}

static void names_list(const rg_site *site, char *buf, size_t len)
{
    size_t used = 0;
    snprintf(buf, len, "(none)");
    for (size_t i = 0; i < site->nsources; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", site->sources[i].name);
        if (w < 0 || (size_t)w >= len - used)
            return;
        used += (size_t)w;
    }
}

static void fields_list(const rg_collection *col, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < col->nfields; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                         col->fields[i].name ? col->fields[i].name : "?");
        if (w < 0 || (size_t)w >= len - used)
            return;
        used += (size_t)w;
    }
}

static void load_key(rg_cfgctx *c, const char *where, const rg_node_pair *k, rg_collection *col)
{
    char path[200], list[400];
    const char *s;
    snprintf(path, sizeof path, "%s.key", where);
    if (rg_cfg_string(c, k->value, path, false, &s) != 0)
        return;
    int idx = rg_collection_find_field(col, s);
    if (idx < 0) {
        fields_list(col, list, sizeof list);
        rg_cfg_error(c, k->value->line, "%s: '%s' is not a field of collection '%s'; fields: %s",
                     path, s, col->name ? col->name : "?", list);
        return;
    }
    rg_type t = col->fields[idx].type;
    if (t && t != RG_TYPE_INTEGER && t != RG_TYPE_STRING) {
        rg_cfg_error(c, k->value->line,
                     "%s: field '%s' is of type %s; the key must be an integer or string field",
                     path, s, rg_type_name(t));
        return;
    }
    col->key_index = (size_t)idx;
}

static void load_limit(rg_cfgctx *c, const char *where, const rg_node_pair *l, rg_collection *col)
{
    char path[200];
    snprintf(path, sizeof path, "%s.limit", where);
    if (rg_cfg_kind(c, l->value, path, RG_NODE_MAP) != 0)
        return;
    rg_cfg_check_keys(c, l->value, path, limit_keys);
    long long v;
    const rg_node_pair *d = rg_node_find(l->value, "default");
    const rg_node_pair *m = rg_node_find(l->value, "max");
    snprintf(path, sizeof path, "%s.limit.default", where);
    if (d && rg_cfg_int(c, d->value, path, 1, 1000, &v) == 0)
        col->limit_default = (uint32_t)v;
    snprintf(path, sizeof path, "%s.limit.max", where);
    if (m && rg_cfg_int(c, m->value, path, 1, 1000, &v) == 0)
        col->limit_max = (uint32_t)v;
    if (col->limit_default > col->limit_max)
        rg_cfg_error(c, d ? d->value->line : l->line,
                     "%s.limit: default (%u) must not be larger than max (%u)", where,
                     col->limit_default, col->limit_max);
}

static void build_desc(rg_cfgctx *c, rg_collection *col)
{
    col->desc_fields = calloc(col->nfields ? col->nfields : 1, sizeof *col->desc_fields);
    if (!col->desc_fields) {
        rg_cfg_error(c, 0, "out of memory");
        return;
    }
    for (size_t i = 0; i < col->nfields; i++) {
        col->desc_fields[i].struct_size = sizeof col->desc_fields[i];
        col->desc_fields[i].name = col->fields[i].name;
        col->desc_fields[i].column = col->fields[i].column;
        col->desc_fields[i].type = col->fields[i].type;
    }
    col->desc.struct_size = sizeof col->desc;
    col->desc.name = col->name;
    col->desc.target = col->target;
    col->desc.fields = col->desc_fields;
    col->desc.nfields = col->nfields;
    col->desc.key_field = col->key_index;
}

static void load_collection(rg_cfgctx *c, const rg_node_pair *p, rg_site *site, rg_collection *col)
{
    char where[128], path[200];
    snprintf(where, sizeof where, "collections.%s", p->key);
    col->limit_default = 20;
    col->limit_max = 100;
    if (!(col->name = strdup(p->key)))
        rg_cfg_error(c, 0, "out of memory");
    if (!rg_cfg_name_ok(p->key, rg_cfg_is_lower_alpha, rg_cfg_is_lower_alnum_us, 64))
        rg_cfg_error(c, p->line,
                     "collections: '%s' is not a valid collection name; expected [a-z][a-z0-9_]{0,63}",
                     p->key);
    if (rg_cfg_kind(c, p->value, where, RG_NODE_MAP) != 0)
        return;
    const rg_node *m = p->value;
    rg_cfg_check_keys(c, m, where, collection_keys);
    const char *s;

    const rg_node_pair *src = rg_cfg_require(c, m, p->line, where, "source");
    snprintf(path, sizeof path, "%s.source", where);
    if (src && rg_cfg_string(c, src->value, path, false, &s) == 0) {
        if (!(col->source_name = strdup(s)))
            rg_cfg_error(c, 0, "out of memory");
        for (size_t i = 0; i < site->nsources && !col->source; i++)
            if (site->sources[i].name && strcmp(site->sources[i].name, s) == 0)
                col->source = &site->sources[i];
        if (!col->source) {
            char list[400];
            names_list(site, list, sizeof list);
            rg_cfg_error(c, src->value->line,
                         "collection '%s' uses source '%s', which is not defined; sources: %s",
                         p->key, s, list);
        }
    }
    const rg_node_pair *t = rg_cfg_require(c, m, p->line, where, "target");
    snprintf(path, sizeof path, "%s.target", where);
    if (t && rg_cfg_string(c, t->value, path, true, &s) == 0 && !(col->target = strdup(s)))
        rg_cfg_error(c, 0, "out of memory");

    const rg_node_pair *fl = rg_cfg_require(c, m, p->line, where, "fields");
    snprintf(path, sizeof path, "%s.fields", where);
    if (fl && rg_cfg_kind(c, fl->value, path, RG_NODE_MAP) == 0) {
        if (fl->value->n == 0)
            rg_cfg_error(c, fl->line, "%s: must define at least one field", path);
        col->fields = calloc(fl->value->n ? fl->value->n : 1, sizeof *col->fields);
        if (!col->fields)
            rg_cfg_error(c, 0, "out of memory");
        for (size_t i = 0; col->fields && i < fl->value->n; i++)
            load_field(c, path, &fl->value->pairs[i], &col->fields[col->nfields++]);
    }
    const rg_node_pair *k = rg_cfg_require(c, m, p->line, where, "key");
    if (k && col->nfields)
        load_key(c, where, k, col);
    const rg_node_pair *l = rg_node_find(m, "limit");
    if (l)
        load_limit(c, where, l, col);
    const rg_node_pair *ttl = rg_node_find(m, "cache_ttl_s");
    snprintf(path, sizeof path, "%s.cache_ttl_s", where);
    long long v;
    if (ttl && rg_cfg_int(c, ttl->value, path, 0, 86400, &v) == 0)
        col->cache_ttl_s = (uint32_t)v;
    build_desc(c, col);
}

static int cmp_collection(const void *a, const void *b)
{
    const rg_collection *x = a, *y = b;
    return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

void rg_collections_load(rg_cfgctx *c, const rg_node_pair *p, rg_site *site)
{
    if (rg_cfg_kind(c, p->value, "collections", RG_NODE_MAP) != 0)
        return;
    site->collections = calloc(p->value->n ? p->value->n : 1, sizeof *site->collections);
    if (!site->collections) {
        rg_cfg_error(c, 0, "out of memory");
        return;
    }
    for (size_t i = 0; i < p->value->n; i++)
        load_collection(c, &p->value->pairs[i], site, &site->collections[site->ncollections++]);
    /* sorted for rg_site_find_collection; desc points at heap memory, so moving is fine */
    qsort(site->collections, site->ncollections, sizeof *site->collections, cmp_collection);
}

void rg_collection_clear(rg_collection *col)
{
    free(col->name);
    free(col->source_name);
    free(col->target);
    for (size_t i = 0; i < col->nfields; i++) {
        rg_field *f = &col->fields[i];
        free(f->name);
        free(f->column);
        for (size_t j = 0; j < f->nenum; j++)
            free(f->enum_values[j]);
        free(f->enum_values);
    }
    free(col->fields);
    free(col->desc_fields);
    memset(col, 0, sizeof *col);
}
