/*
 * Collections and their fields: the whitelist every query is validated
 * against. Operator masks, key index and the adapter-facing desc view are
 * computed here once, so the request path only looks things up.
 */
#include "keys.h"
#include "load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K(id) (&rg_site_keys.keys[RG_SITEK_##id])

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

static void load_filterable(rg_cfgctx *c, const rg_cfgmap *fm, rg_field *f, bool type_known)
{
    const rg_node *l;
    if (rg_cfg_key_list(c, fm, K(FIELD_FILTERABLE), &l) != 0)
        return;
    char path[360];
    rg_cfg_key_path(fm, K(FIELD_FILTERABLE), path, sizeof path);
    uint32_t valid = type_known ? rg_ops_valid_for_type(f->type) : ~0u;
    for (size_t i = 0; i < l->n; i++) {
        char ipath[400], list[120];
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

static void load_enum_values(rg_cfgctx *c, const rg_cfgmap *fm, rg_field *f)
{
    const rg_key *k = K(FIELD_VALUES);
    const rg_node *l;
    if (rg_cfg_key_list(c, fm, k, &l) != 0)
        return;
    char path[360];
    rg_cfg_key_path(fm, k, path, sizeof path);
    if (l->n == 0 && (k->flags & RG_KEY_NONEMPTY)) {
        rg_cfg_error(c, l->line, "%s: must list at least one value", path);
        return;
    }
    f->enum_values = calloc(l->n ? l->n : 1, sizeof *f->enum_values);
    if (!f->enum_values) {
        rg_cfg_error(c, 0, "out of memory");
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        char ipath[400];
        const char *s;
        snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
        if (rg_cfg_string(c, l->items[i], ipath, k->flags & RG_KEY_ITEMS_NONEMPTY, &s) != 0)
            continue;
        bool dup = false;
        for (size_t j = 0; j < f->nenum && !dup && (k->flags & RG_KEY_UNIQUE); j++)
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
    f->line = p->line;
    f->name = strdup(p->key);
    if (!f->name)
        rg_cfg_error(c, 0, "out of memory");
    rg_key_defaults(&rg_site_keys, K(COLLECTION_FIELDS), f);
    if (!rg_cfg_name_ok(p->key, rg_cfg_is_ident_first, rg_cfg_is_ident_rest, 64))
        rg_cfg_error(c, p->line,
                     "%s: '%s' is not a valid field name; expected [A-Za-z_][A-Za-z0-9_]{0,63}",
                     where, p->key);
    rg_cfgmap fm;
    if (rg_cfg_key_element(c, &rg_site_keys, K(COLLECTION_FIELDS), where, p, fpath, sizeof fpath,
                           &fm) != 0)
        return;

    bool type_known = false;
    const char *s;
    int t;
    if (rg_cfg_key_enum(c, &fm, K(FIELD_TYPE), &s, &t) == 0) {
        f->type = t >= 0 ? rg_type_from_name(s) : (rg_type)0;
        if (f->type) {
            type_known = true;
        } else {
            char list[120];
            rg_key_values_text(K(FIELD_TYPE), ", ", ", ", list, sizeof list);
            rg_cfg_key_path(&fm, K(FIELD_TYPE), path, sizeof path);
            rg_cfg_error(c, rg_cfg_key_line(&fm, K(FIELD_TYPE)),
                         "%s: unknown type '%s'; expected one of %s", path, s, list);
        }
    }
    const char *column = p->key;
    if (rg_cfg_key_string(c, &fm, K(FIELD_COLUMN), &s) == 0)
        column = s;
    if (!(f->column = strdup(column)))
        rg_cfg_error(c, 0, "out of memory");

    (void)rg_cfg_key_bool(c, &fm, K(FIELD_DISPLAY), &f->display);
    (void)rg_cfg_key_bool(c, &fm, K(FIELD_SORTABLE), &f->sortable);
    if (rg_cfg_key_bool(c, &fm, K(FIELD_SEARCHABLE), &f->searchable) == 0 && f->searchable &&
        type_known && f->type != RG_TYPE_STRING) {
        rg_cfg_key_path(&fm, K(FIELD_SEARCHABLE), path, sizeof path);
        rg_cfg_error(c, rg_cfg_key_line(&fm, K(FIELD_SEARCHABLE)),
                     "%s: only string fields can be searchable; '%s' is of type %s", path,
                     p->key, rg_type_name(f->type));
        f->searchable = false;
    }
    load_filterable(c, &fm, f, type_known);
    const rg_node_pair *vals = rg_cfg_key_find(c, &fm, K(FIELD_VALUES));
    rg_cfg_key_path(&fm, K(FIELD_VALUES), path, sizeof path);
    if (type_known && f->type == RG_TYPE_ENUM) {
        if (!vals)
            rg_cfg_error(c, p->line, "%s: missing required key 'values' (a field of type enum lists its values)",
                         fpath);
        else
            load_enum_values(c, &fm, f);
    } else if (vals && type_known) {
        rg_cfg_error(c, vals->line,
                     "%s: only fields of type enum have values; '%s' is of type %s",
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

static void load_key(rg_cfgctx *c, const rg_cfgmap *cm, rg_collection *col)
{
    char path[200], list[400];
    const char *s;
    /* Without fields there is nothing to look the key up in. */
    if (!rg_cfg_key_find(c, cm, K(COLLECTION_KEY)) || !col->nfields ||
        rg_cfg_key_string(c, cm, K(COLLECTION_KEY), &s) != 0)
        return;
    rg_cfg_key_path(cm, K(COLLECTION_KEY), path, sizeof path);
    int line = rg_cfg_key_line(cm, K(COLLECTION_KEY));
    int idx = rg_collection_find_field(col, s);
    if (idx < 0) {
        fields_list(col, list, sizeof list);
        rg_cfg_error(c, line, "%s: '%s' is not a field of collection '%s'; fields: %s",
                     path, s, col->name ? col->name : "?", list);
        return;
    }
    rg_type t = col->fields[idx].type;
    if (t && t != RG_TYPE_INTEGER && t != RG_TYPE_STRING) {
        rg_cfg_error(c, line,
                     "%s: field '%s' is of type %s; the key must be an integer or string field",
                     path, s, rg_type_name(t));
        return;
    }
    col->key_index = (size_t)idx;
}

static void load_limit(rg_cfgctx *c, const rg_cfgmap *cm, rg_collection *col)
{
    char where[200];
    rg_cfgmap lm;
    if (rg_cfg_key_map(c, cm, K(COLLECTION_LIMIT), where, sizeof where, &lm) != 0)
        return;
    rg_cfg_key_values(c, &lm, col);
    if (col->limit_default > col->limit_max) {
        int line = rg_cfg_key_line(&lm, K(LIMIT_DEFAULT));
        rg_cfg_error(c, line ? line : lm.line,
                     "%s: default (%u) must not be larger than max (%u)", where,
                     col->limit_default, col->limit_max);
    }
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

static void load_collection(rg_cfgctx *c, const char *named_where, const rg_node_pair *p,
                            rg_site *site, rg_collection *col)
{
    char where[128];
    rg_key_defaults(&rg_site_keys, K(COLLECTIONS), col);
    rg_key_defaults(&rg_site_keys, K(COLLECTION_LIMIT), col);
    if (!(col->name = strdup(p->key)))
        rg_cfg_error(c, 0, "out of memory");
    if (!rg_cfg_name_ok(p->key, rg_cfg_is_lower_alpha, rg_cfg_is_lower_alnum_us, 64))
        rg_cfg_error(c, p->line,
                     "collections: '%s' is not a valid collection name; expected [a-z][a-z0-9_]{0,63}",
                     p->key);
    rg_cfgmap cm;
    if (rg_cfg_key_element(c, &rg_site_keys, K(COLLECTIONS), named_where, p, where, sizeof where,
                           &cm) != 0)
        return;
    const char *s;

    if (rg_cfg_key_string(c, &cm, K(COLLECTION_SOURCE), &s) == 0) {
        if (!(col->source_name = strdup(s)))
            rg_cfg_error(c, 0, "out of memory");
        for (size_t i = 0; i < site->nsources && !col->source; i++)
            if (site->sources[i].name && strcmp(site->sources[i].name, s) == 0)
                col->source = &site->sources[i];
        if (!col->source) {
            char list[400];
            names_list(site, list, sizeof list);
            rg_cfg_error(c, rg_cfg_key_line(&cm, K(COLLECTION_SOURCE)),
                         "collection '%s' uses source '%s', which is not defined; sources: %s",
                         p->key, s, list);
        }
    }
    if (rg_cfg_key_string(c, &cm, K(COLLECTION_TARGET), &s) == 0 && !(col->target = strdup(s)))
        rg_cfg_error(c, 0, "out of memory");

    const rg_key *fk = K(COLLECTION_FIELDS);
    const rg_node_pair *fl;
    char path[200];
    rg_cfg_key_path(&cm, fk, path, sizeof path);
    if (rg_cfg_key_names(c, &cm, fk, &fl) == 0) {
        if (fl->value->n == 0 && (fk->flags & RG_KEY_NONEMPTY))
            rg_cfg_error(c, fl->line, "%s: must define at least one field", path);
        col->fields = calloc(fl->value->n ? fl->value->n : 1, sizeof *col->fields);
        if (!col->fields)
            rg_cfg_error(c, 0, "out of memory");
        for (size_t i = 0; col->fields && i < fl->value->n; i++)
            load_field(c, path, &fl->value->pairs[i], &col->fields[col->nfields++]);
    }
    load_key(c, &cm, col);
    load_limit(c, &cm, col);
    long long v;
    (void)rg_cfg_key_int(c, &cm, K(COLLECTION_CACHE_TTL_S), &v);
    col->cache_ttl_s = (uint32_t)v;
    build_desc(c, col);
}

static int cmp_collection(const void *a, const void *b)
{
    const rg_collection *x = a, *y = b;
    return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

void rg_collections_load(rg_cfgctx *c, const rg_cfgmap *m, rg_site *site)
{
    const rg_node_pair *p;
    if (rg_cfg_key_names(c, m, K(COLLECTIONS), &p) != 0)
        return;
    site->collections = calloc(p->value->n ? p->value->n : 1, sizeof *site->collections);
    if (!site->collections) {
        rg_cfg_error(c, 0, "out of memory");
        return;
    }
    for (size_t i = 0; i < p->value->n; i++)
        load_collection(c, rg_key_name(K(COLLECTIONS)), &p->value->pairs[i], site,
                        &site->collections[site->ncollections++]);
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
