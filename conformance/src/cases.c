/*
 * Case files: conformance/cases/<name>.json turned into rg_query_plan.
 *
 * The plan's strings point into the parsed JSON document, which the case keeps
 * for its whole life, so nothing is copied twice.
 */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"

#define MAX_IN_VALUES 50
#define MAX_SORT_KEYS 4 /* three sortable fields plus the key */

static const struct {
    const char *name;
    rg_op op;
} op_names[] = {
    {"eq", RG_OP_EQ}, {"ne", RG_OP_NE}, {"lt", RG_OP_LT}, {"lte", RG_OP_LTE},
    {"gt", RG_OP_GT}, {"gte", RG_OP_GTE}, {"in", RG_OP_IN}, {"between", RG_OP_BETWEEN},
    {"prefix", RG_OP_PREFIX}, {"contains", RG_OP_CONTAINS},
};

int rg_conf_parse_op(const char *s, rg_op *out)
{
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++) {
        if (!strcmp(op_names[i].name, s)) {
            *out = op_names[i].op;
            return 0;
        }
    }
    return -1;
}

int rg_conf_value_from_json(json_t *j, rg_type type, int allow_null, rg_value *out, char *err,
                            size_t errsz)
{
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->type = type;
    if (json_is_null(j)) {
        if (!allow_null) {
            snprintf(err, errsz, "null is not allowed here");
            return -1;
        }
        out->is_null = 1;
        return 0;
    }
    switch (type) {
    case RG_TYPE_INTEGER:
        if (!json_is_integer(j))
            break;
        out->u.i = (int64_t)json_integer_value(j);
        return 0;
    case RG_TYPE_NUMBER:
        if (!json_is_number(j))
            break;
        out->u.n = json_number_value(j);
        return 0;
    case RG_TYPE_BOOLEAN:
        if (!json_is_boolean(j))
            break;
        out->u.b = json_is_true(j);
        return 0;
    default:
        if (!json_is_string(j))
            break;
        out->u.str.ptr = json_string_value(j);
        out->u.str.len = json_string_length(j);
        return 0;
    }
    snprintf(err, errsz, "expected a %s value", rg_conf_type_name(type));
    return -1;
}

static long field_of(const rg_conf_collection *coll, json_t *j, char *err, size_t errsz)
{
    const char *name = json_string_value(j);
    long f = name ? rg_conf_field_index(coll, name) : -1;
    if (f < 0)
        snprintf(err, errsz, "unknown field '%s'", name ? name : "(not a string)");
    return f;
}

void rg_conf_case_free(rg_conf_case *c)
{
    free(c->name);
    free(c->description);
    free(c->filters);
    free(c->values);
    free(c->words);
    free(c->search_fields);
    free(c->sort);
    free(c->after);
    free(c->columns);
    json_decref(c->doc);
    memset(c, 0, sizeof *c);
}

static int load_filters(rg_conf_case *c, const rg_conf_collection *coll, json_t *filters,
                        char *err, size_t errsz)
{
    size_t n = json_array_size(filters);
    if (!n)
        return 0;
    c->filters = calloc(n, sizeof *c->filters);
    c->values = calloc(n * MAX_IN_VALUES, sizeof *c->values);
    if (!c->filters || !c->values) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_array_get(filters, i);
        rg_filter *out = &c->filters[i];
        out->struct_size = sizeof *out;
        long field = field_of(coll, json_object_get(f, "field"), err, errsz);
        const char *op = json_string_value(json_object_get(f, "op"));
        if (field < 0)
            return -1;
        if (!op || rg_conf_parse_op(op, &out->op) != 0) {
            snprintf(err, errsz, "filter %zu: unknown operator '%s'", i, op ? op : "");
            return -1;
        }
        out->field = (size_t)field;
        rg_value *vals = c->values + i * MAX_IN_VALUES;
        out->values = vals;
        json_t *many = json_object_get(f, "values");
        rg_type t = coll->fields[field].type;
        if (out->op == RG_OP_IN || out->op == RG_OP_BETWEEN) {
            size_t nv = json_array_size(many);
            if (nv == 0 || nv > MAX_IN_VALUES || (out->op == RG_OP_BETWEEN && nv != 2)) {
                snprintf(err, errsz, "filter %zu: '%s' needs \"values\": %s", i, op,
                         out->op == RG_OP_IN ? "1 to 50 values" : "[lo, hi]");
                return -1;
            }
            for (size_t k = 0; k < nv; k++)
                if (rg_conf_value_from_json(json_array_get(many, k), t, 0, &vals[k], err,
                                            errsz) != 0)
                    return -1;
            out->nvalues = nv;
        } else {
            if (rg_conf_value_from_json(json_object_get(f, "value"), t, 0, &vals[0], err,
                                        errsz) != 0)
                return -1;
            out->nvalues = 1;
        }
    }
    c->plan.filters = c->filters;
    c->plan.nfilters = n;
    return 0;
}

static int load_search(rg_conf_case *c, const rg_conf_collection *coll, json_t *plan,
                       char *err, size_t errsz)
{
    json_t *words = json_object_get(plan, "search_words");
    json_t *fields = json_object_get(plan, "search_fields");
    size_t nw = json_array_size(words), nf = json_array_size(fields);
    if (!nw)
        return 0;
    c->words = calloc(nw, sizeof *c->words);
    c->search_fields = calloc(nf ? nf : 1, sizeof *c->search_fields);
    if (!c->words || !c->search_fields) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < nw; i++) {
        c->words[i] = json_string_value(json_array_get(words, i));
        if (!c->words[i] || !*c->words[i]) {
            snprintf(err, errsz, "search word %zu must be a non-empty string", i);
            return -1;
        }
    }
    for (size_t i = 0; i < nf; i++) {
        long f = field_of(coll, json_array_get(fields, i), err, errsz);
        if (f < 0)
            return -1;
        c->search_fields[i] = (size_t)f;
    }
    c->plan.search_words = c->words;
    c->plan.nsearch_words = nw;
    c->plan.search_fields = c->search_fields;
    c->plan.nsearch_fields = nf;
    return 0;
}

int rg_conf_sort_keys(const rg_collection_desc *d, json_t *sort, rg_sort_key *out, size_t *n,
                      char *err, size_t errsz)
{
    size_t given = json_array_size(sort);
    for (size_t i = 0; i < given; i++) {
        json_t *k = json_array_get(sort, i);
        const char *name = json_string_value(json_object_get(k, "field"));
        const char *dir = json_string_value(json_object_get(k, "dir"));
        size_t f = 0;
        while (name && f < d->nfields && strcmp(rg_field_at(d->fields, f)->name, name))
            f++;
        if (!name || f == d->nfields) {
            snprintf(err, errsz, "unknown field '%s'", name ? name : "(not a string)");
            return -1;
        }
        if (!dir || (strcmp(dir, "asc") && strcmp(dir, "desc"))) {
            snprintf(err, errsz, "sort key %zu: dir must be \"asc\" or \"desc\"", i);
            return -1;
        }
        out[i] =
            (rg_sort_key){.struct_size = sizeof *out, .field = f, .desc = !strcmp(dir, "desc")};
    }
    size_t nk = given;
    if (nk == 0 || out[nk - 1].field != d->key_field || out[nk - 1].desc)
        out[nk++] = (rg_sort_key){.struct_size = sizeof *out, .field = d->key_field, .desc = 0};
    *n = nk;
    return 0;
}

/* Sort keys; the key ascending is appended when the file leaves it out. */
static int load_sort(rg_conf_case *c, const rg_conf_collection *coll, json_t *sort, char *err,
                     size_t errsz)
{
    size_t n = json_array_size(sort);
    c->sort = calloc(n + 1, sizeof *c->sort);
    if (!c->sort) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    if (rg_conf_sort_keys(&coll->desc, sort, c->sort, &n, err, errsz) != 0)
        return -1;
    if (n > MAX_SORT_KEYS) {
        snprintf(err, errsz, "at most 3 sort keys before the key");
        return -1;
    }
    c->plan.sort = c->sort;
    c->plan.nsort = n;
    return 0;
}

/* The case's columns, then any sort field missing from them: the adapter
   must return every sort field (for paging), as the gateway asks it to. */
static int load_columns(rg_conf_case *c, const rg_conf_collection *coll, json_t *cols,
                        char *err, size_t errsz)
{
    size_t n = cols ? json_array_size(cols) : coll->desc.nfields;
    c->columns = calloc(n + c->plan.nsort, sizeof *c->columns);
    if (!c->columns) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        long f = cols ? field_of(coll, json_array_get(cols, i), err, errsz) : (long)i;
        if (f < 0)
            return -1;
        for (size_t k = 0; k < i; k++)
            if (c->columns[k] == (size_t)f) {
                snprintf(err, errsz, "column '%s' listed twice", coll->fields[f].name);
                return -1;
            }
        c->columns[i] = (size_t)f;
    }
    if (n == 0) {
        snprintf(err, errsz, "\"columns\" must not be empty");
        return -1;
    }
    c->nout = n;
    size_t total = n;
    for (size_t s = 0; s < c->plan.nsort; s++) {
        size_t f = rg_sort_key_at(c->plan.sort, s)->field, k;
        for (k = 0; k < total && c->columns[k] != f; k++)
            ;
        if (k == total)
            c->columns[total++] = f;
    }
    c->plan.columns = c->columns;
    c->plan.ncolumns = total;
    return 0;
}

static int load_after(rg_conf_case *c, const rg_conf_collection *coll, json_t *after,
                      char *err, size_t errsz)
{
    if (!after || json_is_null(after))
        return 0;
    if (json_array_size(after) != c->plan.nsort) {
        snprintf(err, errsz, "\"after\" needs one value per sort key (%zu, key included)",
                 c->plan.nsort);
        return -1;
    }
    c->after = calloc(c->plan.nsort, sizeof *c->after);
    if (!c->after) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < c->plan.nsort; i++) {
        rg_type t = coll->fields[rg_sort_key_at(c->plan.sort, i)->field].type;
        if (rg_conf_value_from_json(json_array_get(after, i), t, 1, &c->after[i], err,
                                    errsz) != 0)
            return -1;
    }
    c->plan.after = c->after;
    return 0;
}

/* In the order gen_cases.py joins them. */
static const char *const profile_names[] = {"empty-text-is-null", "integers-are-doubles"};
#define NPROFILES (sizeof profile_names / sizeof profile_names[0])

int rg_conf_stored_as_key(const char *list, char *key, size_t keysz, char *err, size_t errsz)
{
    int chosen[NPROFILES] = {0};
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        size_t i = 0;
        while (i < NPROFILES && !(strlen(profile_names[i]) == len && !strncmp(p, profile_names[i], len)))
            i++;
        if (i == NPROFILES) {
            snprintf(err, errsz, "unknown profile '%.*s' (known: empty-text-is-null, "
                     "integers-are-doubles)", (int)len, p);
            return -1;
        }
        if (chosen[i]) {
            snprintf(err, errsz, "profile '%s' given twice", profile_names[i]);
            return -1;
        }
        chosen[i] = 1;
        p += len;
        if (*p == ',' && !*++p) {
            snprintf(err, errsz, "a trailing comma");
            return -1;
        }
    }
    key[0] = '\0';
    for (size_t i = 0; i < NPROFILES; i++) {
        if (!chosen[i])
            continue;
        if (strlen(key) + strlen(profile_names[i]) + 2 > keysz) {
            snprintf(err, errsz, "too many profiles");
            return -1;
        }
        if (key[0])
            strcat(key, "+");
        strcat(key, profile_names[i]);
    }
    if (!key[0]) {
        snprintf(err, errsz, "no profile named");
        return -1;
    }
    return 0;
}

/* "expected_stored": {PROFILE_KEY: [rows], ...}: every key a valid profile
   key, every answer an array; the one for stored_as replaces "expected". */
static int load_stored(rg_conf_case *c, const char *stored_as, char *err, size_t errsz)
{
    json_t *stored = json_object_get(c->doc, "expected_stored");
    if (!stored)
        return 0;
    if (!json_is_object(stored)) {
        snprintf(err, errsz, "\"expected_stored\" must be an object");
        return -1;
    }
    const char *k;
    json_t *rows;
    json_object_foreach(stored, k, rows) {
        /* A key is a profile list joined with '+': read it as a list. */
        char list[96], canon[96], why[256];
        snprintf(list, sizeof list, "%s", k);
        for (char *q = list; *q; q++)
            if (*q == '+')
                *q = ',';
        if (rg_conf_stored_as_key(list, canon, sizeof canon, why, sizeof why) != 0) {
            snprintf(err, errsz, "\"expected_stored\": \"%s\": %s", k, why);
            return -1;
        }
        if (strcmp(canon, k) != 0) {
            snprintf(err, errsz, "\"expected_stored\": \"%s\" should be written \"%s\"", k, canon);
            return -1;
        }
        if (!json_is_array(rows)) {
            snprintf(err, errsz, "\"expected_stored\": \"%s\" must be an array of rows", k);
            return -1;
        }
        if (stored_as && !strcmp(k, stored_as))
            c->expected = rows;
    }
    return 0;
}

int rg_conf_case_load(const char *path, const rg_conf_collection *coll, uint32_t timeout_ms,
                      const char *stored_as, rg_conf_case *c, char *err, size_t errsz)
{
    memset(c, 0, sizeof *c);
    char *tmp = strdup(path);
    if (!tmp) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    const char *base = basename(tmp);
    size_t len = strlen(base);
    if (len > 5 && !strcmp(base + len - 5, ".json"))
        len -= 5;
    c->name = strndup(base, len);
    free(tmp);
    json_error_t jerr;
    memset(&jerr, 0, sizeof jerr);
    c->doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!c->name || !c->doc) {
        snprintf(err, errsz, "line %d: %s", jerr.line, jerr.text);
        return -1;
    }
    json_t *plan = json_object_get(c->doc, "plan");
    c->expected = json_object_get(c->doc, "expected");
    if (!json_is_object(plan) || !json_is_array(c->expected)) {
        snprintf(err, errsz, "expected {\"plan\": {...}, \"expected\": [...]}");
        return -1;
    }
    if (load_stored(c, stored_as, err, errsz) != 0)
        return -1;
    const char *desc = json_string_value(json_object_get(c->doc, "description"));
    if (desc && !(c->description = strdup(desc))) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    json_t *ps = json_object_get(c->doc, "page_size");
    if (ps && (!json_is_integer(ps) || json_integer_value(ps) < 1)) {
        snprintf(err, errsz, "\"page_size\" must be a positive integer");
        return -1;
    }
    c->page_size = ps ? (size_t)json_integer_value(ps) : 0;

    c->plan.struct_size = sizeof c->plan;
    c->plan.collection = &coll->desc;
    c->plan.timeout_ms = timeout_ms;
    json_t *limit = json_object_get(plan, "limit");
    if (!json_is_integer(limit) || json_integer_value(limit) < 1) {
        snprintf(err, errsz, "plan: \"limit\" must be a positive integer");
        return -1;
    }
    c->plan.limit = (size_t)json_integer_value(limit);
    if (load_filters(c, coll, json_object_get(plan, "filters"), err, errsz) != 0 ||
        load_search(c, coll, plan, err, errsz) != 0 ||
        load_sort(c, coll, json_object_get(plan, "sort"), err, errsz) != 0 ||
        load_columns(c, coll, json_object_get(plan, "columns"), err, errsz) != 0 ||
        load_after(c, coll, json_object_get(plan, "after"), err, errsz) != 0)
        return -1;
    return 0;
}
