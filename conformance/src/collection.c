/* The fixture's collection description, read from collection.json. */
#include <stdlib.h>
#include <string.h>

#include "conformance.h"

static const struct {
    const char *name;
    rg_type type;
} type_names[] = {
    {"string", RG_TYPE_STRING}, {"integer", RG_TYPE_INTEGER}, {"number", RG_TYPE_NUMBER},
    {"boolean", RG_TYPE_BOOLEAN}, {"date", RG_TYPE_DATE}, {"datetime", RG_TYPE_DATETIME},
    {"enum", RG_TYPE_ENUM},
};

const char *rg_conf_type_name(rg_type t)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (type_names[i].type == t)
            return type_names[i].name;
    return "unknown";
}

static int parse_type(const char *s, rg_type *out)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
        if (!strcmp(type_names[i].name, s)) {
            *out = type_names[i].type;
            return 0;
        }
    }
    return -1;
}

long rg_conf_field_index(const rg_conf_collection *c, const char *name)
{
    for (size_t i = 0; i < c->desc.nfields; i++)
        if (!strcmp(c->fields[i].name, name))
            return (long)i;
    return -1;
}

void rg_conf_collection_free(rg_conf_collection *c)
{
    for (size_t i = 0; i < c->desc.nfields; i++) {
        free((char *)c->fields[i].name);
        free((char *)c->fields[i].column);
    }
    free(c->fields);
    free(c->name);
    free(c->target);
    memset(c, 0, sizeof *c);
}

int rg_conf_collection_load(const char *path, const char *target, rg_conf_collection *c,
                            char *err, size_t errsz)
{
    memset(c, 0, sizeof *c);
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc) {
        snprintf(err, errsz, "%s:%d: %s", path, jerr.line, jerr.text);
        return -1;
    }
    const char *name = NULL, *tgt = NULL, *key = NULL;
    json_t *fields = NULL;
    if (json_unpack_ex(doc, &jerr, 0, "{s:s, s:s, s:s, s:o}", "name", &name, "target", &tgt,
                       "key", &key, "fields", &fields) != 0 ||
        !json_is_array(fields) || json_array_size(fields) == 0) {
        snprintf(err, errsz, "%s: expected {\"name\", \"target\", \"key\", \"fields\": [...]}",
                 path);
        json_decref(doc);
        return -1;
    }
    size_t n = json_array_size(fields);
    c->fields = calloc(n, sizeof *c->fields);
    c->name = strdup(name);
    c->target = strdup(target ? target : tgt);
    if (!c->fields || !c->name || !c->target) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_array_get(fields, i);
        const char *fname = NULL, *col = NULL, *type = NULL;
        if (json_unpack_ex(f, &jerr, 0, "{s:s, s?s, s:s}", "name", &fname, "column", &col,
                           "type", &type) != 0) {
            snprintf(err, errsz, "%s: field %zu: expected {\"name\", \"type\", \"column\"?}",
                     path, i);
            goto fail;
        }
        rg_field_desc *d = &c->fields[i];
        c->desc.nfields = i + 1;
        d->struct_size = sizeof *d;
        d->name = strdup(fname);
        d->column = strdup(col ? col : fname);
        if (!d->name || !d->column) {
            snprintf(err, errsz, "out of memory");
            goto fail;
        }
        if (parse_type(type, &d->type) != 0) {
            snprintf(err, errsz, "%s: field '%s': unknown type '%s'", path, fname, type);
            goto fail;
        }
    }
    c->desc.struct_size = sizeof c->desc;
    c->desc.name = c->name;
    c->desc.target = c->target;
    c->desc.fields = c->fields;
    long k = rg_conf_field_index(c, key);
    if (k < 0) {
        snprintf(err, errsz, "%s: key '%s' is not a field", path, key);
        goto fail;
    }
    c->desc.key_field = (size_t)k;
    json_decref(doc);
    return 0;
fail:
    json_decref(doc);
    rg_conf_collection_free(c);
    return -1;
}
