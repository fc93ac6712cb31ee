/*
 * The JSON Schema (2020-12) of readgate.yaml and of a site file, built from
 * the key tables with jansson. Every key the loaders accept is in it, with
 * its type, bounds, pattern and default, and no other: an editor using the
 * schema accepts what `readgate check` accepts as far as a schema can say.
 * What no row can say (rules between keys) is added by the rules below.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "keygen.h"

/* json_object_set_new takes the value even when it fails, and fails on a
   NULL value: a chain of puts needs only its results or-ed together. */
static int put(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new(o, key, v) == 0 ? 0 : -1;
}

static int append(json_t *a, json_t *v)
{
    return json_array_append_new(a, v) == 0 ? 0 : -1;
}

/* The documentation as plain text: Markdown links keep their text only
   (their targets are places in docs/configuration.md), "\|" (a | inside a
   Markdown table) is "|". */
static json_t *description(const char *doc)
{
    size_t n = strlen(doc);
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (doc[i] == '\\' && doc[i + 1] == '|')
            continue;
        if (doc[i] == '[') {
            /* A link is "[text](target)": its first ']' opens the target. */
            const char *close = strchr(doc + i, ']');
            const char *end = close && close[1] == '(' ? strchr(close, ')') : NULL;
            if (end) {
                size_t tl = (size_t)(close - (doc + i + 1));
                memcpy(out + o, doc + i + 1, tl);
                o += tl;
                i = (size_t)(end - doc);
                continue;
            }
        }
        out[o++] = doc[i];
    }
    out[o] = '\0';
    json_t *s = json_string(out);
    free(out);
    return s;
}

static json_t *string_list(const char *const *values)
{
    json_t *a = json_array();
    int bad = !a;
    for (size_t i = 0; a && values[i]; i++)
        bad |= append(a, json_string(values[i]));
    if (bad) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static bool has_default(const rg_key *k, bool inherited)
{
    return !inherited && !(k->flags & (RG_KEY_NO_DEFAULT | RG_KEY_REQUIRED));
}

static json_t *key_schema(const rg_key_table *t, const rg_key *k, bool inherited);

/* The mapping of the keys directly below `parent` (NULL: the top level). */
static int object_schema(json_t *o, const rg_key_table *t, const rg_key *parent, bool inherited)
{
    json_t *props = json_object(), *required = json_array();
    int bad = put(o, "type", json_string("object")) | put(o, "additionalProperties", json_false());
    for (const rg_key *k = rg_key_next_child(t, parent, NULL); k && props && required;
         k = rg_key_next_child(t, parent, k)) {
        bad |= put(props, rg_key_name(k), key_schema(t, k, inherited));
        if (k->flags & RG_KEY_REQUIRED)
            bad |= append(required, json_string(rg_key_name(k)));
    }
    bad |= put(o, "properties", json_incref(props));
    if (required && json_array_size(required))
        bad |= put(o, "required", json_incref(required));
    json_decref(props);
    json_decref(required);
    return bad;
}

#define SITE_KEY(id) (&rg_site_keys.keys[RG_SITEK_##id])
#define NAME(id) rg_key_name(SITE_KEY(id))

/* {"properties": {key: schema}} */
static json_t *property(const char *key, json_t *schema)
{
    return json_pack("{s:{s:o}}", "properties", key, schema);
}

/* A field's type decides its filter operators (rg_ops_valid_for_type),
   whether it may be searchable, and whether it has values. */
static int field_rules(json_t *o)
{
    json_t *all = json_array();
    int bad = !all;
    json_t *is_enum = property(NAME(FIELD_TYPE), json_pack("{s:s}", "const",
                                                           rg_type_name(RG_TYPE_ENUM)));
    bad |= append(all, json_pack("{s:o, s:{s:[s]}, s:o}", "if", is_enum, "then", "required",
                                 NAME(FIELD_VALUES), "else",
                                 property(NAME(FIELD_VALUES), json_false())));
    /* One rule per set of operators, for the types that have it; none for
       the types that may use every operator. */
    uint32_t every = 0, done = 0;
    for (rg_type t = RG_TYPE_STRING; t <= RG_TYPE_ENUM; t++)
        every |= rg_ops_valid_for_type(t);
    for (rg_type t = RG_TYPE_STRING; t <= RG_TYPE_ENUM; t++) {
        uint32_t mask = rg_ops_valid_for_type(t);
        if (mask == every || (done & (1u << t)))
            continue;
        json_t *types = json_array(), *ops = json_array();
        bad |= !types || !ops;
        for (rg_type u = t; u <= RG_TYPE_ENUM; u++)
            if (rg_ops_valid_for_type(u) == mask) {
                done |= 1u << u;
                bad |= append(types, json_string(rg_type_name(u)));
            }
        for (rg_op op = RG_OP_EQ; op <= RG_OP_CONTAINS; op++)
            if (mask & RG_OP_MASK(op))
                bad |= append(ops, json_string(rg_op_name(op)));
        json_t *items = json_pack("{s:{s:o}}", "items", "enum", ops);
        bad |= append(all, json_pack("{s:o, s:o}", "if",
                                     property(NAME(FIELD_TYPE), json_pack("{s:o}", "enum", types)),
                                     "then", property(NAME(FIELD_FILTERABLE), items)));
    }
    json_t *not_string = json_pack("{s:{s:s}}", "not", "const", rg_type_name(RG_TYPE_STRING));
    bad |= append(all, json_pack("{s:o, s:o}", "if", property(NAME(FIELD_TYPE), not_string),
                                 "then", property(NAME(FIELD_SEARCHABLE),
                                                  json_pack("{s:b}", "const", 0))));
    return bad | put(o, "allOf", all);
}

/* A service account (Google only) replaces the client's id, secret and
   token endpoint; without one the client id is required. */
static int oauth_rules(json_t *o)
{
    json_t *rule = json_pack(
        "{s:{s:[s]}, s:{s:{s:[{s:[s]}, {s:[s]}, {s:[s]}]}, s:{s:{s:s}}}, s:{s:[s]}}",
        "if", "required", NAME(OAUTH_SERVICE_ACCOUNT),
        "then", "not", "anyOf", "required", NAME(OAUTH_CLIENT_ID), "required",
        NAME(OAUTH_CLIENT_SECRET), "required", NAME(OAUTH_TOKEN_URL),
        "properties", NAME(OAUTH_PROVIDER), "const", rg_oauth_provider_name(RG_OAUTH_GOOGLE),
        "else", "required", NAME(OAUTH_CLIENT_ID));
    return put(o, "allOf", json_pack("[o]", rule));
}

/* The rules of the mapping `k` stands for (an element, for a NAMED key). */
static int rules_of(const rg_key *k, json_t *o)
{
    if (k == SITE_KEY(COLLECTION_FIELDS))
        return field_rules(o);
    if (k == SITE_KEY(SOURCE_OAUTH))
        return oauth_rules(o);
    return 0;
}

/* The names an OPTIONS mapping refuses: its siblings read by readgate. */
static json_t *option_names(const rg_key_table *t, const rg_key *k)
{
    json_t *names = json_pack("{s:s}", "pattern", k->pattern ? k->pattern : ".*");
    json_t *settings = json_array();
    int bad = !names || !settings;
    const rg_key *parent = rg_key_parent(t, k);
    for (const rg_key *s = rg_key_next_child(t, parent, NULL); s && !bad;
         s = rg_key_next_child(t, parent, s))
        if (s->flags & RG_KEY_SETTING)
            bad |= append(settings, json_string(rg_key_name(s)));
    if (!bad && json_array_size(settings))
        bad |= put(names, "not", json_pack("{s:O}", "enum", settings));
    json_decref(settings);
    if (bad) {
        json_decref(names);
        return NULL;
    }
    return names;
}

static json_t *key_schema(const rg_key_table *t, const rg_key *k, bool inherited)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = put(o, "description", description(k->doc));
    bool def = has_default(k, inherited);
    switch (k->type) {
    case RG_KEY_STRING:
        bad |= put(o, "type", json_string("string"));
        if (k->flags & RG_KEY_NONEMPTY)
            bad |= put(o, "minLength", json_integer(1));
        if (k->pattern)
            bad |= put(o, "pattern", json_string(k->pattern));
        if (def && k->sdef)
            bad |= put(o, "default", json_string(k->sdef));
        break;
    case RG_KEY_INT:
        bad |= put(o, "type", json_string("integer")) | put(o, "minimum", json_integer(k->min)) |
               put(o, "maximum", json_integer(k->max));
        if (def)
            bad |= put(o, "default", json_integer(k->def));
        break;
    case RG_KEY_BOOL:
        bad |= put(o, "type", json_string("boolean"));
        if (def)
            bad |= put(o, "default", json_boolean(k->def));
        break;
    case RG_KEY_ENUM:
        bad |= put(o, "type", json_string("string")) | put(o, "enum", string_list(k->values));
        if (def && k->sdef)
            bad |= put(o, "default", json_string(k->sdef));
        break;
    case RG_KEY_LIST: {
        json_t *items = json_object();
        bad |= put(o, "type", json_string("array"));
        if (k->flags & RG_KEY_NONEMPTY)
            bad |= put(o, "minItems", json_integer(1));
        if (k->flags & RG_KEY_UNIQUE)
            bad |= put(o, "uniqueItems", json_true());
        if (k->values) {
            bad |= put(items, "enum", string_list(k->values));
        } else {
            bad |= put(items, "type", json_string("string"));
            if (k->flags & RG_KEY_ITEMS_NONEMPTY)
                bad |= put(items, "minLength", json_integer(1));
            if (k->pattern)
                bad |= put(items, "pattern", json_string(k->pattern));
        }
        bad |= put(o, "items", items);
        if (def)
            bad |= put(o, "default", json_array());
        break;
    }
    case RG_KEY_MAP:
        bad |= object_schema(o, t, k, inherited) | rules_of(k, o);
        break;
    case RG_KEY_NAMED: {
        json_t *element = json_object();
        bad |= !element || object_schema(element, t, k, inherited) || rules_of(k, element);
        bad |= put(o, "type", json_string("object")) |
               put(o, "propertyNames", json_pack("{s:s}", "pattern", k->pattern));
        if (k->flags & RG_KEY_NONEMPTY)
            bad |= put(o, "minProperties", json_integer(1));
        bad |= put(o, "additionalProperties", element);
        if (def)
            bad |= put(o, "default", json_object());
        break;
    }
    case RG_KEY_OPTIONS:
        bad |= put(o, "type", json_string("object")) |
               put(o, "propertyNames", option_names(t, k)) |
               put(o, "additionalProperties",
                   json_pack("{s:[s,s,s]}", "type", "string", "number", "boolean"));
        if (def)
            bad |= put(o, "default", json_object());
        break;
    case RG_KEY_BLOCK:
        bad |= object_schema(o, k->block, NULL, inherited || (k->flags & RG_KEY_INHERITED));
        break;
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *rg_keygen_schema(const rg_key_table *t)
{
    json_t *s = json_object();
    if (!s)
        return NULL;
    int bad = put(s, "$schema", json_string("https://json-schema.org/draft/2020-12/schema")) |
              put(s, "$id", json_string(t->id)) | put(s, "title", json_string(t->title)) |
              put(s, "description", description(t->doc)) | object_schema(s, t, NULL, false);
    char *text = bad ? NULL : json_dumps(s, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(s);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    char *out = realloc(text, n + 2);
    if (!out) {
        free(text);
        return NULL;
    }
    out[n] = '\n';
    out[n + 1] = '\0';
    return out;
}

int rg_keygen_check(char *why, size_t whylen)
{
    const rg_key_table *tables[] = {&rg_server_keys, &rg_site_keys, &rg_rate_limit_keys};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        if (rg_key_table_check(tables[i], why, whylen) != 0)
            return -1;
    return 0;
}
