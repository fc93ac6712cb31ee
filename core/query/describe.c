/*
 * The /collections document. Built once per config load with jansson, so the
 * request path only copies bytes. The tool schemas describe exactly what
 * rg_plan_build accepts, so a model following them produces valid queries.
 */
#include "query/describe.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Builders that turn any allocation failure into a cleared `ok` flag and
   never leak: set_new/append_new release the value when they fail. */
static json_t *put(json_t *o, const char *k, json_t *v, int *ok)
{
    if (json_object_set_new(o, k, v) != 0) {
        *ok = 0;
        return NULL;
    }
    return v;
}

static void push(json_t *a, json_t *v, int *ok)
{
    if (json_array_append_new(a, v) != 0)
        *ok = 0;
}

/* o[name] = {"type":"string","const":value}; returns that object. */
static json_t *string_const(json_t *o, const char *name, const char *value, int *ok)
{
    json_t *s = put(o, name, json_object(), ok);
    put(s, "type", json_string("string"), ok);
    put(s, "const", json_string(value), ok);
    return s;
}

static int has_role(const rg_field *f)
{
    return f->display || f->searchable || f->sortable || f->ops != 0;
}

static json_t *ops_array(uint32_t mask, int *ok)
{
    json_t *a = json_array();
    for (int op = RG_OP_EQ; op <= RG_OP_CONTAINS; op++)
        if (mask & RG_OP_MASK(op))
            push(a, json_string(rg_op_name((rg_op)op)), ok);
    return a;
}

static json_t *enum_values(const rg_field *f, int *ok)
{
    json_t *a = json_array();
    for (size_t i = 0; i < f->nenum; i++)
        push(a, json_string(f->enum_values[i]), ok);
    return a;
}

/* JSON Schema of one value of field f. */
static json_t *value_schema(const rg_field *f, const rg_limits *lim, int nonempty, int *ok)
{
    json_t *s = json_object();
    switch (f->type) {
    case RG_TYPE_INTEGER:
        put(s, "type", json_string("integer"), ok);
        put(s, "description", json_string("written without a fraction or exponent"), ok);
        break;
    case RG_TYPE_NUMBER: put(s, "type", json_string("number"), ok); break;
    case RG_TYPE_BOOLEAN: put(s, "type", json_string("boolean"), ok); break;
    case RG_TYPE_DATE:
        put(s, "type", json_string("string"), ok);
        put(s, "format", json_string("date"), ok);
        put(s, "description", json_string("a calendar date, YYYY-MM-DD"), ok);
        break;
    case RG_TYPE_DATETIME:
        put(s, "type", json_string("string"), ok);
        put(s, "format", json_string("date-time"), ok);
        put(s, "description", json_string("an RFC 3339 date-time, e.g. 2024-05-01T12:00:00Z"), ok);
        break;
    case RG_TYPE_ENUM:
        put(s, "type", json_string("string"), ok);
        put(s, "enum", enum_values(f, ok), ok);
        break;
    case RG_TYPE_STRING:
        put(s, "type", json_string("string"), ok);
        if (nonempty)
            put(s, "minLength", json_integer(1), ok);
        /* maxLength counts characters; the byte limit is at least as strict. */
        put(s, "maxLength", json_integer((json_int_t)lim->max_string_bytes), ok);
        break;
    }
    return s;
}

/* One oneOf branch: field f with the operators in `mask`, all sharing a value shape. */
static json_t *filter_branch(const rg_field *f, uint32_t mask, const rg_limits *lim, int *ok)
{
    json_t *b = json_object();
    put(b, "type", json_string("object"), ok);
    json_t *props = put(b, "properties", json_object(), ok);
    string_const(props, "field", f->name, ok);
    json_t *op = put(props, "op", json_object(), ok);
    put(op, "type", json_string("string"), ok);
    put(op, "enum", ops_array(mask, ok), ok);
    json_t *value;
    if (mask == RG_OP_MASK(RG_OP_IN)) {
        value = json_object();
        put(value, "type", json_string("array"), ok);
        put(value, "items", value_schema(f, lim, 0, ok), ok);
        put(value, "minItems", json_integer(1), ok);
        put(value, "maxItems", json_integer((json_int_t)lim->max_in_values), ok);
        put(value, "description", json_string("any of these values"), ok);
    } else if (mask == RG_OP_MASK(RG_OP_BETWEEN)) {
        value = json_object();
        put(value, "type", json_string("array"), ok);
        put(value, "items", value_schema(f, lim, 0, ok), ok);
        put(value, "minItems", json_integer(2), ok);
        put(value, "maxItems", json_integer(2), ok);
        put(value, "description", json_string("[low, high], both inclusive, low <= high"), ok);
    } else {
        int text = (mask & (RG_OP_MASK(RG_OP_PREFIX) | RG_OP_MASK(RG_OP_CONTAINS))) != 0;
        value = value_schema(f, lim, text, ok);
    }
    put(props, "value", value, ok);
    json_t *req = put(b, "required", json_array(), ok);
    push(req, json_string("field"), ok);
    push(req, json_string("op"), ok);
    push(req, json_string("value"), ok);
    put(b, "additionalProperties", json_false(), ok);
    return b;
}

static json_t *names_where(const rg_collection *c, int (*pred)(const rg_field *), int *ok)
{
    json_t *a = json_array();
    for (size_t i = 0; i < c->nfields; i++)
        if (pred(&c->fields[i]))
            push(a, json_string(c->fields[i].name), ok);
    return a;
}

static int is_display(const rg_field *f) { return f->display; }
static int is_sortable(const rg_field *f) { return f->sortable; }
static int is_searchable(const rg_field *f) { return f->searchable; }
static int is_filterable(const rg_field *f) { return f->ops != 0; }

static size_t count_where(const rg_collection *c, int (*pred)(const rg_field *))
{
    size_t n = 0;
    for (size_t i = 0; i < c->nfields; i++)
        n += pred(&c->fields[i]) != 0;
    return n;
}

/* "a, b, c" of the fields matching pred, into buf: whole names only (never a
   cut UTF-8 sequence), ", ..." when the rest does not fit. */
static void join_names(const rg_collection *c, int (*pred)(const rg_field *), char *buf,
                       size_t size)
{
    size_t w = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < c->nfields; i++) {
        if (!pred(&c->fields[i]))
            continue;
        size_t n = strlen(c->fields[i].name) + (w ? 2 : 0);
        if (w + n + 5 > size) {
            if (w + 5 < size)
                memcpy(buf + w, ", ...", 6);
            return;
        }
        snprintf(buf + w, size - w, "%s%s", w ? ", " : "", c->fields[i].name);
        w += n;
    }
}

static json_t *query_schema(const rg_collection *c, const rg_limits *lim, int *ok)
{
    json_t *s = json_object();
    put(s, "type", json_string("object"), ok);
    json_t *props = put(s, "properties", json_object(), ok);

    json_t *coll = string_const(props, "collection", c->name, ok);
    json_t *only = put(coll, "enum", json_array(), ok);
    push(only, json_string(c->name), ok);

    if (count_where(c, is_filterable)) {
        json_t *filters = put(props, "filters", json_object(), ok);
        put(filters, "type", json_string("array"), ok);
        put(filters, "maxItems", json_integer((json_int_t)lim->max_filters), ok);
        put(filters, "description",
            json_string("conditions that must all hold; prefix and contains ignore ASCII case"),
            ok);
        json_t *items = put(filters, "items", json_object(), ok);
        json_t *one = put(items, "oneOf", json_array(), ok);
        /* One branch per field and value shape, so each op gets the right value. */
        const uint32_t groups[] = {
            RG_OP_MASK(RG_OP_EQ) | RG_OP_MASK(RG_OP_NE) | RG_OP_MASK(RG_OP_LT) |
                RG_OP_MASK(RG_OP_LTE) | RG_OP_MASK(RG_OP_GT) | RG_OP_MASK(RG_OP_GTE),
            RG_OP_MASK(RG_OP_PREFIX) | RG_OP_MASK(RG_OP_CONTAINS),
            RG_OP_MASK(RG_OP_IN),
            RG_OP_MASK(RG_OP_BETWEEN),
        };
        for (size_t i = 0; i < c->nfields; i++)
            for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
                if (c->fields[i].ops & groups[g])
                    push(one, filter_branch(&c->fields[i], c->fields[i].ops & groups[g], lim, ok),
                         ok);
    }

    if (count_where(c, is_searchable)) {
        char names[256];
        join_names(c, is_searchable, names, sizeof names);
        json_t *search = put(props, "search", json_object(), ok);
        put(search, "type", json_string("string"), ok);
        put(search, "maxLength", json_integer((json_int_t)lim->max_search_bytes), ok);
        put(search, "description",
            json_sprintf("words separated by spaces; every word must occur (ignoring ASCII case) "
                         "in one of: %s",
                         names),
            ok);
    }

    if (count_where(c, is_sortable)) {
        json_t *sort = put(props, "sort", json_object(), ok);
        put(sort, "type", json_string("array"), ok);
        put(sort, "maxItems", json_integer((json_int_t)lim->max_sort), ok);
        json_t *item = put(sort, "items", json_object(), ok);
        put(item, "type", json_string("object"), ok);
        json_t *ip = put(item, "properties", json_object(), ok);
        json_t *field = put(ip, "field", json_object(), ok);
        put(field, "type", json_string("string"), ok);
        put(field, "enum", names_where(c, is_sortable, ok), ok);
        json_t *dir = put(ip, "dir", json_object(), ok);
        put(dir, "type", json_string("string"), ok);
        json_t *dirs = put(dir, "enum", json_array(), ok);
        push(dirs, json_string("asc"), ok);
        push(dirs, json_string("desc"), ok);
        put(dir, "default", json_string("asc"), ok);
        json_t *req = put(item, "required", json_array(), ok);
        push(req, json_string("field"), ok);
        put(item, "additionalProperties", json_false(), ok);
    }

    size_t ndisplay = count_where(c, is_display);
    if (ndisplay) {
        json_t *fields = put(props, "fields", json_object(), ok);
        put(fields, "type", json_string("array"), ok);
        json_t *item = put(fields, "items", json_object(), ok);
        put(item, "type", json_string("string"), ok);
        put(item, "enum", names_where(c, is_display, ok), ok);
        put(fields, "minItems", json_integer(1), ok);
        put(fields, "maxItems", json_integer((json_int_t)ndisplay), ok);
        put(fields, "uniqueItems", json_true(), ok);
        put(fields, "description", json_string("fields to return; default: all"), ok);
    }

    json_t *limit = put(props, "limit", json_object(), ok);
    put(limit, "type", json_string("integer"), ok);
    put(limit, "minimum", json_integer(1), ok);
    put(limit, "maximum", json_integer(c->limit_max), ok);
    put(limit, "default", json_integer(c->limit_default), ok);

    json_t *cursor = put(props, "cursor", json_object(), ok);
    json_t *ct = put(cursor, "type", json_array(), ok);
    push(ct, json_string("string"), ok);
    push(ct, json_string("null"), ok);
    put(cursor, "description",
        json_string("next_cursor from the previous page, with otherwise identical arguments"), ok);

    json_t *req = put(s, "required", json_array(), ok);
    push(req, json_string("collection"), ok);
    put(s, "additionalProperties", json_false(), ok);
    return s;
}

/* Function names are limited to [A-Za-z0-9_-]{1,64} by the model APIs. */
static void tool_name(const char *coll, char out[65])
{
    size_t w = (size_t)snprintf(out, 65, "query_");
    for (const char *p = coll; *p && w < 64; p++) {
        char ch = *p;
        int okc = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
        out[w++] = okc ? ch : '_';
    }
    out[w] = '\0';
}

/* {"name","description","parameters"}: the provider-neutral tool. */
static json_t *tool_fn(const rg_collection *c, const rg_limits *lim, int *ok)
{
    char name[65], shown[256];
    tool_name(c->name, name);
    join_names(c, is_display, shown, sizeof shown);
    json_t *desc = json_sprintf(
        "Read rows of the '%s' collection. Returns {\"rows\": [...], \"next_cursor\": ...} "
        "with the fields %s. Filters are combined with AND; only the listed fields and "
        "operators are accepted. At most %u rows per call (default %u); when next_cursor is "
        "not null, call again with the same arguments and cursor set to it for the next page.",
        c->name, shown[0] ? shown : "(none)", c->limit_max, c->limit_default);
    json_t *fn = json_object();
    put(fn, "name", json_string(name), ok);
    put(fn, "description", desc, ok);
    put(fn, "parameters", query_schema(c, lim, ok), ok);
    return fn;
}

/* The function-calling shape of /collections: {"type":"function","function":{...}}. */
static json_t *tool(const rg_collection *c, const rg_limits *lim, int *ok)
{
    json_t *t = json_object();
    put(t, "type", json_string("function"), ok);
    put(t, "function", tool_fn(c, lim, ok), ok);
    return t;
}

static json_t *describe_collection(const rg_collection *c, const rg_limits *lim, int *ok)
{
    json_t *o = json_object();
    put(o, "name", json_string(c->name), ok);
    put(o, "key", json_string(c->fields[c->key_index].name), ok);
    json_t *limit = put(o, "limit", json_object(), ok);
    put(limit, "default", json_integer(c->limit_default), ok);
    put(limit, "max", json_integer(c->limit_max), ok);
    json_t *fields = put(o, "fields", json_array(), ok);
    for (size_t i = 0; i < c->nfields; i++) {
        const rg_field *f = &c->fields[i];
        if (!has_role(f))
            continue; /* unknown to the outside world */
        json_t *fo = json_object();
        put(fo, "name", json_string(f->name), ok);
        put(fo, "type", json_string(rg_type_name(f->type)), ok);
        put(fo, "display", json_boolean(f->display), ok);
        put(fo, "filterable", ops_array(f->ops, ok), ok);
        put(fo, "searchable", json_boolean(f->searchable), ok);
        put(fo, "sortable", json_boolean(f->sortable), ok);
        if (f->type == RG_TYPE_ENUM)
            put(fo, "values", enum_values(f, ok), ok);
        push(fields, fo, ok);
    }
    put(o, "tool", tool(c, lim, ok), ok);
    return o;
}

/* One entry per collection of the site, in configuration order. */
typedef json_t *(*per_collection_fn)(const rg_collection *c, const rg_limits *lim, int *ok);

static json_t *each_collection(const rg_site *site, const rg_limits *limits, per_collection_fn fn,
                               int *ok)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < site->ncollections; i++)
        push(arr, fn(&site->collections[i], limits, ok), ok);
    if (!arr)
        *ok = 0;
    return arr;
}

/* The compact text of doc (consumed), or NULL if anything failed on the way. */
static char *dump(json_t *doc, int ok)
{
    char *out = ok && doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return out;
}

char *rg_describe_site(const rg_site *site, const rg_limits *limits)
{
    int ok = 1;
    json_t *root = json_object();
    put(root, "collections", each_collection(site, limits, describe_collection, &ok), &ok);
    return dump(root, ok);
}

char *rg_describe_tools(const rg_site *site, const rg_limits *limits)
{
    int ok = 1;
    return dump(each_collection(site, limits, tool_fn, &ok), ok);
}

/* ---- MCP tools ------------------------------------------------------------------ */

static json_t *annotations(int *ok)
{
    /* Every tool only reads, the same call gives the same rows, and it
       reaches no system outside the configured sources. */
    json_t *a = json_object();
    put(a, "readOnlyHint", json_true(), ok);
    put(a, "destructiveHint", json_false(), ok);
    put(a, "idempotentHint", json_true(), ok);
    put(a, "openWorldHint", json_false(), ok);
    return a;
}

static json_t *rows_schema(int *ok)
{
    json_t *s = json_object();
    put(s, "type", json_string("object"), ok);
    json_t *props = put(s, "properties", json_object(), ok);
    json_t *rows = put(props, "rows", json_object(), ok);
    put(rows, "type", json_string("array"), ok);
    json_t *item = put(rows, "items", json_object(), ok);
    put(item, "type", json_string("object"), ok);
    json_t *next = put(props, "next_cursor", json_object(), ok);
    json_t *nt = put(next, "type", json_array(), ok);
    push(nt, json_string("string"), ok);
    push(nt, json_string("null"), ok);
    json_t *req = put(s, "required", json_array(), ok);
    push(req, json_string("rows"), ok);
    push(req, json_string("next_cursor"), ok);
    return s;
}

static json_t *mcp_query_tool(const rg_collection *c, const rg_limits *lim, int *ok)
{
    json_t *fn = tool_fn(c, lim, ok);
    if (!fn)
        return NULL;
    /* The tool names its collection: the arguments are the rest of the body. */
    json_t *params = json_incref(json_object_get(fn, "parameters"));
    json_object_del(fn, "parameters");
    if (json_is_object(params)) {
        json_object_del(json_object_get(params, "properties"), "collection");
        json_object_del(params, "required");
    }
    put(fn, "inputSchema", params ? params : json_object(), ok);
    char title[160];
    snprintf(title, sizeof title, "Query %s", c->name);
    put(fn, "title", json_string(title), ok);
    put(fn, "outputSchema", rows_schema(ok), ok);
    put(fn, "annotations", annotations(ok), ok);
    return fn;
}

char *rg_describe_mcp_tools(const rg_site *site, const rg_limits *limits)
{
    int ok = 1;
    json_t *root = json_object();
    json_t *tools = put(root, "tools", each_collection(site, limits, mcp_query_tool, &ok), &ok);
    json_t *d = json_object();
    put(d, "name", json_string("describe_collections"), &ok);
    put(d, "title", json_string("Describe collections"), &ok);
    put(d, "description",
        json_string("List the collections of this catalog with their fields: which can be "
                    "returned, filtered (with which operators), searched and sorted, and their "
                    "types. Call it to learn what the query_ tools accept."),
        &ok);
    json_t *in = put(d, "inputSchema", json_object(), &ok);
    put(in, "type", json_string("object"), &ok);
    put(in, "properties", json_object(), &ok);
    put(in, "additionalProperties", json_false(), &ok);
    put(d, "annotations", annotations(&ok), &ok);
    push(tools, d, &ok);
    return dump(root, ok);
}

const rg_collection *rg_describe_tool_collection(const rg_site *site, const char *tool)
{
    for (size_t i = 0; i < site->ncollections; i++) {
        char name[65];
        tool_name(site->collections[i].name, name);
        if (strcmp(name, tool) == 0)
            return &site->collections[i];
    }
    return NULL;
}
