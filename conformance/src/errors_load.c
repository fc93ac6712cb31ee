/*
 * Error cases (errors.c): reading conformance/errors/<name>.json into a
 * case — its plan, the collection it runs on, what it expects of each
 * adapter — refusing a file that says anything else.
 */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conformance.h"

/* ---- loading a file ------------------------------------------------------ */

static const struct {
    const char *name;
    rg_conf_error_kind kind;
} kind_names[] = {
    {"plan", RG_CONF_ERR_PLAN},         {"column_type", RG_CONF_ERR_COLUMN},
    {"unreachable", RG_CONF_ERR_UNREACHABLE}, {"timeout", RG_CONF_ERR_TIMEOUT},
    {"stalled", RG_CONF_ERR_STALLED},   {"auth", RG_CONF_ERR_AUTH},
};

/* The statuses an error case may expect: never RG_OK or RG_ERR_ABORTED. */
static int parse_status(const char *s, rg_status *out)
{
    static const rg_status errs[] = {RG_ERR_UNAVAILABLE, RG_ERR_TIMEOUT, RG_ERR_UPSTREAM,
                                     RG_ERR_AUTH,        RG_ERR_CONFIG,  RG_ERR_INTERNAL};
    for (size_t i = 0; s && i < sizeof errs / sizeof errs[0]; i++)
        if (!strcmp(rg_conf_status_name(errs[i]), s)) {
            *out = errs[i];
            return 0;
        }
    return -1;
}

static int parse_type(const char *s, rg_type *out)
{
    for (int t = RG_TYPE_STRING; s && t <= RG_TYPE_ENUM; t++)
        if (!strcmp(rg_conf_type_name((rg_type)t), s)) {
            *out = (rg_type)t;
            return 0;
        }
    return -1;
}

/* Every key of `obj` one of the NULL-terminated `known`. */
static int only_keys(json_t *obj, const char *const *known, const char *where, char *err,
                     size_t errsz)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        size_t i = 0;
        while (known[i] && strcmp(known[i], key))
            i++;
        if (!known[i]) {
            snprintf(err, errsz, "%s: unknown key \"%s\"", where, key);
            return -1;
        }
    }
    return 0;
}

/* {"connect": STATUS?, "query": STATUS?}, at least one. */
int rg_conf_parse_expect(json_t *j, rg_conf_expect *e, const char *where, char *err, size_t errsz)
{
    static const char *const keys[] = {"connect", "query", NULL};
    memset(e, 0, sizeof *e);
    if (!json_is_object(j) || only_keys(j, keys, where, err, errsz) != 0) {
        if (!json_is_object(j))
            snprintf(err, errsz, "%s: expected {\"connect\": STATUS, \"query\": STATUS}", where);
        return -1;
    }
    json_t *c = json_object_get(j, "connect"), *q = json_object_get(j, "query");
    if ((c && parse_status(json_string_value(c), &e->connect) != 0) ||
        (q && parse_status(json_string_value(q), &e->query) != 0)) {
        snprintf(err, errsz, "%s: a status is one of RG_ERR_UNAVAILABLE, RG_ERR_TIMEOUT, "
                 "RG_ERR_UPSTREAM, RG_ERR_AUTH, RG_ERR_CONFIG, RG_ERR_INTERNAL", where);
        return -1;
    }
    if (!c && !q) {
        snprintf(err, errsz, "%s: name the status of \"connect\", of \"query\" or both", where);
        return -1;
    }
    return 0;
}

/* "adapters": {NAME: {"expect": {...}, "reason": TEXT} | {"not_applicable": TEXT}}.
   Checked when the file loads, so a typo fails for every adapter. */
static int check_adapters(json_t *j, char *err, size_t errsz)
{
    static const char *const keys[] = {"expect", "reason", "not_applicable", NULL};
    if (!j)
        return 0;
    if (!json_is_object(j)) {
        snprintf(err, errsz, "\"adapters\" must be an object keyed by adapter name");
        return -1;
    }
    const char *name;
    json_t *entry;
    json_object_foreach(j, name, entry) {
        char where[96];
        snprintf(where, sizeof where, "adapters.%s", name);
        if (!json_is_object(entry) || only_keys(entry, keys, where, err, errsz) != 0) {
            if (!json_is_object(entry))
                snprintf(err, errsz, "%s must be an object", where);
            return -1;
        }
        json_t *na = json_object_get(entry, "not_applicable");
        json_t *expect = json_object_get(entry, "expect");
        const char *reason = json_string_value(json_object_get(entry, "reason"));
        if (na) {
            if (!json_string_value(na) || !*json_string_value(na) || expect) {
                snprintf(err, errsz, "%s: \"not_applicable\" is the reason, alone", where);
                return -1;
            }
            continue;
        }
        rg_conf_expect e;
        if (rg_conf_parse_expect(expect, &e, where, err, errsz) != 0)
            return -1;
        if (!reason || !*reason) {
            snprintf(err, errsz, "%s: an adapter's own expectation needs its \"reason\"", where);
            return -1;
        }
    }
    return 0;
}

/* One plan value: typed as `t` (the field's type unless the file says
   otherwise). {"type": T, "value": V} forces a type for an `after` entry. */
static int load_value(json_t *j, rg_type t, int allow_null, rg_value *out, char *err, size_t errsz)
{
    if (json_is_object(j)) {
        if (parse_type(json_string_value(json_object_get(j, "type")), &t) != 0) {
            snprintf(err, errsz, "a typed value is {\"type\": TYPE, \"value\": V}");
            return -1;
        }
        j = json_object_get(j, "value");
    }
    if (!j) {
        snprintf(err, errsz, "a value is missing");
        return -1;
    }
    return rg_conf_value_from_json(j, t, allow_null, out, err, errsz);
}

static long field_of(const rg_collection_desc *coll, json_t *j, char *err, size_t errsz)
{
    const char *name = json_string_value(j);
    for (size_t i = 0; name && i < coll->nfields; i++)
        if (!strcmp(coll->fields[i].name, name))
            return (long)i;
    snprintf(err, errsz, "unknown field '%s'", name ? name : "(not a string)");
    return -1;
}

static int load_filters(rg_conf_error_case *c, json_t *filters, char *err, size_t errsz)
{
    size_t n = json_array_size(filters), used = 0;
    if (filters && !json_is_array(filters)) {
        snprintf(err, errsz, "plan: \"filters\" must be an array");
        return -1;
    }
    if (n > RG_CONF_ERR_MAX_FILTERS) {
        snprintf(err, errsz, "plan: at most %d filters", RG_CONF_ERR_MAX_FILTERS);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_array_get(filters, i);
        rg_filter *out = &c->filters[i];
        long field = field_of(&c->coll, json_object_get(f, "field"), err, errsz);
        if (field < 0)
            return -1;
        const char *op = json_string_value(json_object_get(f, "op"));
        if (!op || rg_conf_parse_op(op, &out->op) != 0) {
            snprintf(err, errsz, "filter %zu: unknown operator '%s'", i, op ? op : "");
            return -1;
        }
        out->struct_size = sizeof *out;
        out->field = (size_t)field;
        /* The point of a plan case: "type" makes the values differ from the field. */
        rg_type t = c->coll.fields[field].type;
        json_t *type = json_object_get(f, "type");
        if (type && parse_type(json_string_value(type), &t) != 0) {
            snprintf(err, errsz, "filter %zu: unknown type", i);
            return -1;
        }
        json_t *many = json_object_get(f, "values");
        size_t nv = many ? json_array_size(many) : 1;
        if (nv == 0 || used + nv > RG_CONF_ERR_MAX_VALUES) {
            snprintf(err, errsz, "filter %zu: 1 to %d values in all", i, RG_CONF_ERR_MAX_VALUES);
            return -1;
        }
        out->values = &c->values[used];
        for (size_t v = 0; v < nv; v++) {
            json_t *j = many ? json_array_get(many, v) : json_object_get(f, "value");
            if (load_value(j, t, 0, &c->values[used + v], err, errsz) != 0)
                return -1;
        }
        out->nvalues = nv;
        used += nv;
    }
    c->plan.filters = n ? c->filters : NULL;
    c->plan.nfilters = n;
    return 0;
}

/* Sort (the key appended), columns (sort fields appended), after. */
static int load_order(rg_conf_error_case *c, json_t *plan, char *err, size_t errsz)
{
    json_t *sort = json_object_get(plan, "sort");
    size_t n = json_array_size(sort);
    if (n + 1 > RG_CONF_ERR_MAX_SORT) {
        snprintf(err, errsz, "plan: at most %d sort keys before the key", RG_CONF_ERR_MAX_SORT - 1);
        return -1;
    }
    if (rg_conf_sort_keys(&c->coll, sort, c->sort, &n, err, errsz) != 0)
        return -1;
    c->plan.sort = c->sort;
    c->plan.nsort = n;

    json_t *cols = json_object_get(plan, "columns");
    size_t nc = cols ? json_array_size(cols) : c->coll.nfields;
    if (cols && nc == 0) {
        snprintf(err, errsz, "plan: \"columns\" must not be empty");
        return -1;
    }
    c->columns = calloc(nc + n, sizeof *c->columns);
    if (!c->columns) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < nc; i++) {
        long f = cols ? field_of(&c->coll, json_array_get(cols, i), err, errsz) : (long)i;
        if (f < 0)
            return -1;
        c->columns[i] = (size_t)f;
    }
    size_t total = nc;
    for (size_t s = 0; s < n; s++) {
        size_t k;
        for (k = 0; k < total && c->columns[k] != c->sort[s].field; k++)
            ;
        if (k == total)
            c->columns[total++] = c->sort[s].field;
    }
    c->plan.columns = c->columns;
    c->plan.ncolumns = total;

    json_t *after = json_object_get(plan, "after");
    if (!after)
        return 0;
    if (json_array_size(after) != n) {
        snprintf(err, errsz, "plan: \"after\" needs one value per sort key (%zu, key included)", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (load_value(json_array_get(after, i), c->coll.fields[c->sort[i].field].type, 1,
                       &c->after[i], err, errsz) != 0)
            return -1;
    c->plan.after = c->after;
    return 0;
}

/* "declare": {FIELD: TYPE}: the collection the plan runs on declares the
   field with that type, whatever its backend column holds. */
static int load_declare(rg_conf_error_case *c, json_t *declare, char *err, size_t errsz)
{
    if (!json_is_object(declare) || json_object_size(declare) != 1) {
        snprintf(err, errsz, "a column_type case needs \"declare\": {FIELD: TYPE}, one field");
        return -1;
    }
    const char *name;
    json_t *type;
    json_object_foreach(declare, name, type) {
        json_t *jn = json_string(name);
        long f = jn ? field_of(&c->coll, jn, err, errsz) : -1;
        json_decref(jn);
        rg_type t;
        if (f < 0)
            return -1;
        if (parse_type(json_string_value(type), &t) != 0 || t == c->coll.fields[f].type ||
            t == RG_TYPE_STRING || t == RG_TYPE_ENUM) {
            snprintf(err, errsz, "declare: '%s' needs a type its column cannot hold (integer, "
                     "number, boolean, date, datetime), other than its own", name);
            return -1;
        }
        if ((size_t)f == c->coll.key_field) {
            snprintf(err, errsz, "declare: not the key, which orders every plan");
            return -1;
        }
        c->fields[f].type = t;
        c->declared = f;
    }
    return 0;
}

int rg_conf_error_load(const char *path, const rg_conf_collection *coll, uint32_t timeout_ms,
                       rg_conf_error_case *c, char *err, size_t errsz)
{
    static const char *const keys[] = {"description", "provoke", "kind", "declare", "plan",
                                       "expect", "adapters", NULL};
    memset(c, 0, sizeof *c);
    c->declared = -1;
    char *tmp = strdup(path);
    if (!tmp) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    const char *base = basename(tmp);
    size_t len = strlen(base);
    if (len > 5 && !strcmp(base + len - 5, ".json"))
        len -= 5;
    c->name = malloc(len + 7);
    if (c->name)
        snprintf(c->name, len + 7, "error/%.*s", (int)len, base);
    free(tmp);
    json_error_t jerr;
    memset(&jerr, 0, sizeof jerr);
    c->doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!c->name || !c->doc) {
        snprintf(err, errsz, "line %d: %s", jerr.line, jerr.text);
        return -1;
    }
    if (only_keys(c->doc, keys, "error case", err, errsz) != 0)
        return -1;
    c->description = json_string_value(json_object_get(c->doc, "description"));
    const char *provoke = json_string_value(json_object_get(c->doc, "provoke"));
    const char *kind = json_string_value(json_object_get(c->doc, "kind"));
    if (!c->description || !provoke) {
        snprintf(err, errsz, "\"description\" and \"provoke\" (how the case makes the adapter "
                 "fail) are required");
        return -1;
    }
    size_t k = 0;
    while (kind && k < sizeof kind_names / sizeof kind_names[0] && strcmp(kind_names[k].name, kind))
        k++;
    if (!kind || k == sizeof kind_names / sizeof kind_names[0]) {
        snprintf(err, errsz, "\"kind\" is one of plan, column_type, unreachable, timeout, "
                 "stalled, auth");
        return -1;
    }
    c->kind = kind_names[k].kind;
    if (rg_conf_parse_expect(json_object_get(c->doc, "expect"), &c->expect, "expect", err, errsz) != 0 ||
        check_adapters(json_object_get(c->doc, "adapters"), err, errsz) != 0)
        return -1;

    /* A private copy of the collection: a column_type case changes a type. */
    c->coll = coll->desc;
    c->fields = calloc(coll->desc.nfields ? coll->desc.nfields : 1, sizeof *c->fields);
    if (!c->fields) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    memcpy(c->fields, coll->desc.fields, coll->desc.nfields * sizeof *c->fields);
    c->coll.fields = c->fields;

    json_t *plan = json_object_get(c->doc, "plan");
    if (!json_is_object(plan)) {
        snprintf(err, errsz, "\"plan\" is required (at least {\"limit\": N})");
        return -1;
    }
    static const char *const plan_keys[] = {"filters", "sort", "columns", "after", "limit", NULL};
    if (only_keys(plan, plan_keys, "plan", err, errsz) != 0)
        return -1;
    json_t *limit = json_object_get(plan, "limit");
    if (!json_is_integer(limit) || json_integer_value(limit) < 1) {
        snprintf(err, errsz, "plan: \"limit\" must be a positive integer");
        return -1;
    }
    c->plan.struct_size = sizeof c->plan;
    c->plan.collection = &c->coll;
    c->plan.limit = (size_t)json_integer_value(limit);
    c->plan.timeout_ms = timeout_ms;
    if (load_filters(c, json_object_get(plan, "filters"), err, errsz) != 0 ||
        load_order(c, plan, err, errsz) != 0)
        return -1;
    json_t *declare = json_object_get(c->doc, "declare");
    if (c->kind == RG_CONF_ERR_COLUMN) {
        if (load_declare(c, declare, err, errsz) != 0)
            return -1;
        size_t i;
        for (i = 0; i < c->plan.ncolumns && c->plan.columns[i] != (size_t)c->declared; i++)
            ;
        if (i == c->plan.ncolumns || c->plan.nfilters || c->plan.after) {
            snprintf(err, errsz, "a column_type case reads the declared field and filters nothing");
            return -1;
        }
    } else if (declare) {
        snprintf(err, errsz, "\"declare\" belongs to column_type cases only");
        return -1;
    }
    if (c->kind == RG_CONF_ERR_PLAN && !c->plan.nfilters && !c->plan.after) {
        snprintf(err, errsz, "a plan case needs a filter or an 'after' of the wrong type");
        return -1;
    }
    return 0;
}

void rg_conf_error_free(rg_conf_error_case *c)
{
    free(c->name);
    free(c->fields);
    free(c->columns);
    json_decref(c->doc);
    memset(c, 0, sizeof *c);
}

