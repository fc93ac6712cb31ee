/*
 * `readgate query`'s request body: --filter, --sort, --fields and --limit as
 * the /query JSON document, values typed by the collections document. Built
 * with jansson, never by formatting strings, so a value never becomes syntax.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_query.h"

/* Whole-string integer; false on anything else (spaces, overflow, fraction). */
bool rg_qc_parse_int(const char *s, long long *out)
{
    if (!*s || *s == ' ' || *s == '+')
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_number(const char *s, double *out)
{
    if (!*s || *s == ' ' || *s == '+')
        return false;
    for (const char *p = s; *p; p++)
        if (!strchr("0123456789-.eE+", *p))
            return false; /* no "inf", "nan" or hex floats */
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* A value as the field's JSON type; when it does not fit, the text is sent as
   a string so the gateway answers with its own precise invalid_value. */
static json_t *typed_value(const char *type, const char *text)
{
    long long i;
    double d;
    if (type && strcmp(type, "integer") == 0 && rg_qc_parse_int(text, &i))
        return json_integer((json_int_t)i);
    if (type && strcmp(type, "number") == 0) {
        if (rg_qc_parse_int(text, &i))
            return json_integer((json_int_t)i);
        if (parse_number(text, &d))
            return json_real(d);
    }
    if (type && strcmp(type, "boolean") == 0) {
        if (strcmp(text, "true") == 0)
            return json_true();
        if (strcmp(text, "false") == 0)
            return json_false();
    }
    return json_string(text);
}

/* The type of `field` in collection `coll` of a /collections document, or NULL. */
static const char *field_type(const json_t *colls, const char *coll, const char *field)
{
    size_t i, j;
    json_t *c, *f;
    json_array_foreach(json_object_get(colls, "collections"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (!name || strcmp(name, coll) != 0)
            continue;
        json_array_foreach(json_object_get(c, "fields"), j, f)
        {
            const char *fname = json_string_value(json_object_get(f, "name"));
            if (fname && strcmp(fname, field) == 0)
                return json_string_value(json_object_get(f, "type"));
        }
    }
    return NULL;
}

/* Split "a,b\,c" into typed values; "\," is a comma and "\\" a backslash. */
static json_t *value_list(const char *type, const char *text)
{
    json_t *arr = json_array();
    size_t n = strlen(text);
    char *item = malloc(n + 1);
    if (!arr || !item) {
        json_decref(arr);
        free(item);
        return NULL;
    }
    size_t w = 0;
    for (size_t r = 0;; r++) {
        if (text[r] == '\\' && (text[r + 1] == ',' || text[r + 1] == '\\')) {
            item[w++] = text[++r];
            continue;
        }
        if (text[r] == ',' || text[r] == '\0') {
            item[w] = '\0';
            json_t *v = typed_value(type, item);
            if (!v || json_array_append_new(arr, v) != 0) {
                json_decref(arr);
                free(item);
                return NULL;
            }
            w = 0;
            if (text[r] == '\0')
                break;
            continue;
        }
        item[w++] = text[r];
    }
    free(item);
    return arr;
}

static const char *const word_ops[] = {"eq",     "ne",     "lt",       "lte", "gt",
                                       "gte",    "in",     "between",  "prefix",
                                       "contains", NULL};

static bool is_field_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-' || ch == '.';
}

/*
 * Parse one --filter EXPR into {"field","op","value"}. Returns NULL with a
 * message in err when EXPR does not follow the grammar in the usage text.
 */
static json_t *parse_filter(const char *expr, const json_t *colls, const char *coll, char *err,
                            size_t errlen)
{
    const char *p = expr;
    while (*p == ' ')
        p++;
    const char *fstart = p;
    while (is_field_char(*p))
        p++;
    size_t flen = (size_t)(p - fstart);
    bool spaced = *p == ' ';
    while (*p == ' ')
        p++;
    const char *op = NULL;
    static const struct {
        const char *sym, *op;
    } syms[] = {{"<=", "lte"}, {">=", "gte"}, {"!=", "ne"}, {"==", "eq"},
                {"<", "lt"},   {">", "gt"},   {"=", "eq"}};
    for (size_t i = 0; i < sizeof syms / sizeof syms[0] && !op; i++) {
        size_t n = strlen(syms[i].sym);
        if (strncmp(p, syms[i].sym, n) == 0) {
            op = syms[i].op;
            p += n;
        }
    }
    /* Word operators need a space on both sides so "name contains x" is not
       read as a field "namecontains". */
    for (size_t i = 0; word_ops[i] && !op && spaced; i++) {
        size_t n = strlen(word_ops[i]);
        if (strncmp(p, word_ops[i], n) == 0 && p[n] == ' ') {
            op = word_ops[i];
            p += n;
        }
    }
    if (flen == 0 || !op) {
        snprintf(err, errlen,
                 "filter '%.80s': expected FIELD OP VALUE with OP one of <= >= < > = == != "
                 "or, between spaces, in between prefix contains eq ne lt lte gt gte",
                 expr);
        return NULL;
    }
    while (*p == ' ')
        p++;
    char field[128];
    if (flen >= sizeof field) {
        snprintf(err, errlen, "filter '%.80s': field name too long", expr);
        return NULL;
    }
    memcpy(field, fstart, flen);
    field[flen] = '\0';
    const char *type = field_type(colls, coll, field);

    json_t *value;
    if (strcmp(op, "in") == 0 || strcmp(op, "between") == 0) {
        value = value_list(type, p);
        if (value && strcmp(op, "between") == 0 && json_array_size(value) != 2) {
            json_decref(value);
            snprintf(err, errlen, "filter '%.80s': between takes two values: LOW,HIGH", expr);
            return NULL;
        }
    } else if (strcmp(op, "prefix") == 0 || strcmp(op, "contains") == 0) {
        value = json_string(p); /* text operators: always a string */
    } else {
        value = typed_value(type, p);
    }
    json_t *f = value ? json_pack("{s:s, s:s, s:o}", "field", field, "op", op, "value", value)
                      : NULL;
    if (!f) {
        /* json_string refuses invalid UTF-8; everything else is memory. */
        snprintf(err, errlen, "filter '%.80s': the value is not valid UTF-8 (or out of memory)",
                 expr);
        return NULL;
    }
    return f;
}

/* "price", "-price", "price:desc", "price:asc" -> {"field","dir"}. */
static json_t *parse_sort(const char *s, char *err, size_t errlen)
{
    const char *dir = "asc";
    char field[128];
    const char *colon = strrchr(s, ':');
    size_t n;
    if (*s == '-') {
        dir = "desc";
        s++;
        n = strlen(s);
    } else if (colon && (strcmp(colon + 1, "desc") == 0 || strcmp(colon + 1, "asc") == 0)) {
        dir = colon + 1;
        n = (size_t)(colon - s);
    } else {
        n = strlen(s);
    }
    if (n == 0 || n >= sizeof field) {
        snprintf(err, errlen, "sort '%.80s': expected FIELD, -FIELD, FIELD:asc or FIELD:desc", s);
        return NULL;
    }
    memcpy(field, s, n);
    field[n] = '\0';
    json_t *o = json_pack("{s:s, s:s}", "field", field, "dir", dir);
    if (!o)
        snprintf(err, errlen, "sort '%.80s': not valid UTF-8", s);
    return o;
}

/* The /query body of the options (without cursor). NULL + err on a usage error. */
json_t *rg_qc_build_body(const rg_qc_opts *o, const json_t *colls, char *err, size_t errlen)
{
    json_t *body = json_pack("{s:s}", "collection", o->collection);
    if (!body) {
        snprintf(err, errlen, "collection name is not valid UTF-8");
        return NULL;
    }
    if (o->nfilters) {
        json_t *fs = json_array();
        if (json_object_set_new(body, "filters", fs) != 0)
            goto oom;
        for (size_t i = 0; i < o->nfilters; i++) {
            json_t *f = parse_filter(o->filters[i], colls, o->collection, err, errlen);
            if (!f || json_array_append_new(fs, f) != 0)
                goto fail;
        }
    }
    if (o->search) {
        json_t *s = json_string(o->search);
        if (!s) {
            snprintf(err, errlen, "search text is not valid UTF-8");
            goto fail;
        }
        if (json_object_set_new(body, "search", s) != 0)
            goto oom;
    }
    if (o->nsorts) {
        json_t *ss = json_array();
        if (json_object_set_new(body, "sort", ss) != 0)
            goto oom;
        for (size_t i = 0; i < o->nsorts; i++) {
            json_t *s = parse_sort(o->sorts[i], err, errlen);
            if (!s || json_array_append_new(ss, s) != 0)
                goto fail;
        }
    }
    if (o->fields) {
        json_t *fa = value_list(NULL, o->fields);
        if (!fa) {
            snprintf(err, errlen, "--fields: not valid UTF-8");
            goto fail;
        }
        if (json_object_set_new(body, "fields", fa) != 0)
            goto oom;
    }
    if (o->limit) {
        long long n;
        if (!rg_qc_parse_int(o->limit, &n)) {
            snprintf(err, errlen, "--limit '%.40s': expected a whole number", o->limit);
            goto fail;
        }
        if (json_object_set_new(body, "limit", json_integer((json_int_t)n)) != 0)
            goto oom;
    }
    return body;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    if (!err[0])
        snprintf(err, errlen, "out of memory");
    json_decref(body);
    return NULL;
}
