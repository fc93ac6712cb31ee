/*
 * YAML (libyaml) and JSON (jansson) files into one rg_node tree with line
 * numbers, so the loaders validate both formats with the same code and every
 * message points at a line.
 */
#include "node.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_FILE_BYTES (4u << 20) /* config files are small; refuse anything absurd */
#define MAX_DEPTH 64              /* keeps recursion bounded on hostile input */

static rg_node *node_new(rg_node_kind kind, int line)
{
    rg_node *n = calloc(1, sizeof *n);
    if (n) {
        n->kind = kind;
        n->line = line;
    }
    return n;
}

void rg_node_free(rg_node *n)
{
    if (!n)
        return;
    free(n->text);
    for (size_t i = 0; n->kind == RG_NODE_MAP && i < n->n; i++) {
        free(n->pairs[i].key);
        rg_node_free(n->pairs[i].value);
    }
    for (size_t i = 0; n->kind == RG_NODE_LIST && i < n->n; i++)
        rg_node_free(n->items[i]);
    free(n->pairs);
    free(n->items);
    free(n);
}

const char *rg_node_kind_name(rg_node_kind k)
{
    switch (k) {
    case RG_NODE_NULL:
        return "null";
    case RG_NODE_STRING:
        return "a string";
    case RG_NODE_INT:
        return "an integer";
    case RG_NODE_FLOAT:
        return "a number";
    case RG_NODE_BOOL:
        return "a boolean";
    case RG_NODE_MAP:
        return "a mapping";
    case RG_NODE_LIST:
        return "a list";
    }
    return "a value";
}

const rg_node_pair *rg_node_find(const rg_node *map, const char *key)
{
    if (!map || map->kind != RG_NODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->pairs[i].key, key) == 0)
            return &map->pairs[i];
    return NULL;
}

/* Appending to a map or list: the arrays grow one by one (files are small). */
static int map_add(rg_node *m, char *key, int line, rg_node *v)
{
    rg_node_pair *p = realloc(m->pairs, (m->n + 1) * sizeof *p);
    if (!p)
        return -1;
    m->pairs = p;
    p[m->n].key = key;
    p[m->n].line = line;
    p[m->n].value = v;
    m->n++;
    return 0;
}

static int list_add(rg_node *l, rg_node *v)
{
    rg_node **p = realloc(l->items, (l->n + 1) * sizeof *p);
    if (!p)
        return -1;
    l->items = p;
    p[l->n++] = v;
    return 0;
}

/* ---- YAML ---------------------------------------------------------------- */

typedef struct yctx {
    yaml_parser_t parser;
    const char *name;
    rg_diags *d;
    int *errors;
    int failed; /* fatal: syntax error or out of memory, already reported */
} yctx;

static void yaml_fail(yctx *y)
{
    if (y->failed)
        return;
    y->failed = 1;
    if (y->parser.error == YAML_MEMORY_ERROR || !y->parser.problem) {
        rg_diag_add(y->d, y->name, 0, "out of memory while reading the file");
        return;
    }
    int line = (int)y->parser.problem_mark.line + 1;
    if (y->parser.context)
        rg_diag_add(y->d, y->name, line, "invalid YAML: %s %s", y->parser.problem,
                    y->parser.context);
    else
        rg_diag_add(y->d, y->name, line, "invalid YAML: %s", y->parser.problem);
}

static void oom(yctx *y)
{
    if (!y->failed)
        rg_diag_add(y->d, y->name, 0, "out of memory while reading the file");
    y->failed = 1;
}

/* YAML 1.2 core schema resolution of a plain scalar. */
static void resolve_plain(rg_node *n)
{
    const char *s = n->text;
    if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
        !strcmp(s, "NULL")) {
        n->kind = RG_NODE_NULL;
        return;
    }
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
        n->kind = RG_NODE_BOOL;
        n->bval = true;
        return;
    }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
        n->kind = RG_NODE_BOOL;
        n->bval = false;
        return;
    }
    const char *p = s + (*s == '-' || *s == '+');
    if (*p >= '0' && *p <= '9' && strspn(p, "0123456789") == strlen(p)) {
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        /* beyond 64 bits it is still a number, just not a usable integer */
        n->kind = errno == ERANGE ? RG_NODE_FLOAT : RG_NODE_INT;
        n->ival = v;
        return;
    }
    if ((*p >= '0' && *p <= '9') || (*p == '.' && p[1] >= '0' && p[1] <= '9')) {
        char *end;
        (void)strtod(s, &end);
        if (*end == '\0' && strspn(p, "0123456789.eE+-") == strlen(p)) {
            n->kind = RG_NODE_FLOAT;
            return;
        }
    }
    if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF") || !strcmp(s, ".nan") ||
        !strcmp(s, ".NaN") || !strcmp(s, ".NAN")) {
        n->kind = RG_NODE_FLOAT;
        return;
    }
    n->kind = RG_NODE_STRING;
}

static rg_node *yaml_node(yctx *y, yaml_event_t *ev, int depth);

static int next_event(yctx *y, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&y->parser, ev)) {
        yaml_fail(y);
        return -1;
    }
    return 0;
}

static rg_node *yaml_mapping(yctx *y, int line, int depth)
{
    rg_node *m = node_new(RG_NODE_MAP, line);
    if (!m) {
        oom(y);
        return NULL;
    }
    for (;;) {
        yaml_event_t kev;
        if (next_event(y, &kev) != 0)
            break;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return m;
        }
        int kline = (int)kev.start_mark.line + 1;
        char *key = NULL;
        if (kev.type == YAML_SCALAR_EVENT) {
            key = strdup((const char *)kev.data.scalar.value);
            yaml_event_delete(&kev);
            if (!key) {
                oom(y);
                break;
            }
        } else {
            /* a list or mapping used as a key: parse it to stay in step, then drop it */
            rg_node *k = yaml_node(y, &kev, depth + 1);
            rg_node_free(k);
            if (y->failed)
                break;
            rg_diag_add(y->d, y->name, kline, "mapping keys must be plain names");
            (*y->errors)++;
        }
        yaml_event_t vev;
        if (next_event(y, &vev) != 0) {
            free(key);
            break;
        }
        rg_node *v = yaml_node(y, &vev, depth + 1);
        if (y->failed) {
            free(key);
            rg_node_free(v);
            break;
        }
        if (!key) {
            rg_node_free(v);
            continue;
        }
        const rg_node_pair *first = rg_node_find(m, key);
        if (first) {
            rg_diag_add(y->d, y->name, kline, "duplicate key '%s' (first defined at line %d)", key,
                        first->line);
            (*y->errors)++;
            free(key);
            rg_node_free(v);
            continue;
        }
        if (map_add(m, key, kline, v) != 0) {
            free(key);
            rg_node_free(v);
            oom(y);
            break;
        }
    }
    rg_node_free(m);
    return NULL;
}

static rg_node *yaml_sequence(yctx *y, int line, int depth)
{
    rg_node *l = node_new(RG_NODE_LIST, line);
    if (!l) {
        oom(y);
        return NULL;
    }
    for (;;) {
        yaml_event_t ev;
        if (next_event(y, &ev) != 0)
            break;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return l;
        }
        rg_node *v = yaml_node(y, &ev, depth + 1);
        if (y->failed) {
            rg_node_free(v);
            break;
        }
        if (list_add(l, v) != 0) {
            rg_node_free(v);
            oom(y);
            break;
        }
    }
    rg_node_free(l);
    return NULL;
}

/* Build the node that starts with *ev (consumed). NULL when y->failed. */
static rg_node *yaml_node(yctx *y, yaml_event_t *ev, int depth)
{
    int line = (int)ev->start_mark.line + 1;
    if (depth > MAX_DEPTH) {
        yaml_event_delete(ev);
        if (!y->failed)
            rg_diag_add(y->d, y->name, line, "nesting is too deep (more than %d levels)",
                        MAX_DEPTH);
        y->failed = 1;
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        rg_node *n = node_new(RG_NODE_STRING, line);
        char *text = strdup((const char *)ev->data.scalar.value);
        int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                    (!ev->data.scalar.tag ||
                     strcmp((const char *)ev->data.scalar.tag, "tag:yaml.org,2002:str") != 0);
        yaml_event_delete(ev);
        if (!n || !text) {
            free(n);
            free(text);
            oom(y);
            return NULL;
        }
        n->text = text;
        if (plain)
            resolve_plain(n);
        return n;
    }
    case YAML_MAPPING_START_EVENT:
        yaml_event_delete(ev);
        return yaml_mapping(y, line, depth);
    case YAML_SEQUENCE_START_EVENT:
        yaml_event_delete(ev);
        return yaml_sequence(y, line, depth);
    case YAML_ALIAS_EVENT: {
        yaml_event_delete(ev);
        rg_diag_add(y->d, y->name, line, "YAML aliases (*name) are not supported; write the value out");
        (*y->errors)++;
        rg_node *n = node_new(RG_NODE_NULL, line);
        if (!n)
            oom(y);
        return n;
    }
    default:
        yaml_event_delete(ev);
        if (!y->failed)
            rg_diag_add(y->d, y->name, line, "invalid YAML: unexpected event");
        y->failed = 1;
        return NULL;
    }
}

/* The single document of a YAML stream; an empty file is a null document. */
static rg_node *yaml_parse(const char *name, const char *text, size_t len, rg_diags *d,
                           int *errors)
{
    yctx y = {.name = name, .d = d, .errors = errors};
    if (!yaml_parser_initialize(&y.parser)) {
        rg_diag_add(d, name, 0, "out of memory while reading the file");
        return NULL;
    }
    yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);
    rg_node *root = NULL;
    int docs = 0;
    for (;;) {
        yaml_event_t ev;
        if (next_event(&y, &ev) != 0)
            break;
        yaml_event_type_t t = ev.type;
        int line = (int)ev.start_mark.line + 1;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        if (t == YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            if (++docs > 1) {
                rg_diag_add(d, name, line, "only one YAML document is allowed per file");
                y.failed = 1;
                break;
            }
            continue;
        }
        root = yaml_node(&y, &ev, 0);
        if (y.failed)
            break;
    }
    yaml_parser_delete(&y.parser);
    if (y.failed) {
        rg_node_free(root);
        return NULL;
    }
    if (!root) {
        root = node_new(RG_NODE_NULL, 1);
        if (!root)
            rg_diag_add(d, name, 0, "out of memory while reading the file");
    }
    return root;
}

/* ---- JSON ---------------------------------------------------------------- */

static rg_node *json_node(json_t *j, int depth, int *oomflag)
{
    if (depth > MAX_DEPTH) {
        *oomflag = 2;
        return NULL;
    }
    rg_node *n = node_new(RG_NODE_NULL, 0);
    if (!n) {
        *oomflag = 1;
        return NULL;
    }
    char buf[64];
    const char *text = NULL;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        n->kind = RG_NODE_MAP;
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            rg_node *c = json_node(v, depth + 1, oomflag);
            char *key = c ? strdup(k) : NULL;
            if (!c || !key || map_add(n, key, 0, c) != 0) {
                if (!*oomflag)
                    *oomflag = 1;
                free(key);
                rg_node_free(c);
                rg_node_free(n);
                return NULL;
            }
        }
        return n;
    }
    case JSON_ARRAY: {
        n->kind = RG_NODE_LIST;
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            rg_node *c = json_node(v, depth + 1, oomflag);
            if (!c || list_add(n, c) != 0) {
                if (!*oomflag)
                    *oomflag = 1;
                rg_node_free(c);
                rg_node_free(n);
                return NULL;
            }
        }
        return n;
    }
    case JSON_STRING:
        n->kind = RG_NODE_STRING;
        text = json_string_value(j);
        break;
    case JSON_INTEGER:
        n->kind = RG_NODE_INT;
        n->ival = json_integer_value(j);
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        text = buf;
        break;
    case JSON_REAL:
        n->kind = RG_NODE_FLOAT;
        snprintf(buf, sizeof buf, "%.17g", json_real_value(j));
        text = buf;
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        n->kind = RG_NODE_BOOL;
        n->bval = json_is_true(j);
        text = n->bval ? "true" : "false";
        break;
    case JSON_NULL:
        text = "null";
        break;
    }
    n->text = strdup(text ? text : "");
    if (!n->text) {
        *oomflag = 1;
        rg_node_free(n);
        return NULL;
    }
    return n;
}

/* jansson keeps no positions, but JSON is also valid YAML flow syntax: read
   the text again with libyaml and copy the lines over where the shapes agree. */
static void copy_lines(rg_node *dst, const rg_node *src)
{
    if (!src)
        return;
    dst->line = src->line;
    /* a number's text as written ("0.1"), not as a double prints it back */
    if (dst->kind == RG_NODE_FLOAT && src->kind == RG_NODE_FLOAT) {
        char *t = strdup(src->text);
        if (t) {
            free(dst->text);
            dst->text = t;
        }
    }
    if (dst->kind == RG_NODE_MAP && src->kind == RG_NODE_MAP) {
        for (size_t i = 0; i < dst->n; i++) {
            const rg_node_pair *p = rg_node_find(src, dst->pairs[i].key);
            if (p) {
                dst->pairs[i].line = p->line;
                copy_lines(dst->pairs[i].value, p->value);
            }
        }
    } else if (dst->kind == RG_NODE_LIST && src->kind == RG_NODE_LIST && dst->n == src->n) {
        for (size_t i = 0; i < dst->n; i++)
            copy_lines(dst->items[i], src->items[i]);
    }
}

static rg_node *json_parse(const char *name, const char *text, size_t len, rg_diags *d,
                           int *errors)
{
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        rg_diag_add(d, name, jerr.line > 0 ? jerr.line : 0, "invalid JSON: %s", jerr.text);
        return NULL;
    }
    int flag = 0;
    rg_node *root = json_node(j, 0, &flag);
    json_decref(j);
    if (!root) {
        if (flag == 2)
            rg_diag_add(d, name, 0, "nesting is too deep (more than %d levels)", MAX_DEPTH);
        else
            rg_diag_add(d, name, 0, "out of memory while reading the file");
        return NULL;
    }
    rg_diags quiet = {0};
    int ignored = 0;
    rg_node *lines = yaml_parse(name, text, len, &quiet, &ignored);
    copy_lines(root, lines);
    rg_node_free(lines);
    rg_diags_free(&quiet);
    (void)errors;
    return root;
}

/* ---- files ----------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

rg_node *rg_node_parse_text(const char *name, const char *text, size_t len, rg_diags *d,
                            int *errors)
{
    if (ends_with(name, ".json"))
        return json_parse(name, text, len, d, errors);
    return yaml_parse(name, text, len, d, errors);
}

rg_node *rg_node_parse_file(const char *path, rg_diags *d, int *errors)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        rg_diag_add(d, path, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    char *buf = malloc(MAX_FILE_BYTES + 1);
    if (!buf) {
        fclose(f);
        rg_diag_add(d, path, 0, "out of memory while reading the file");
        return NULL;
    }
    size_t len = fread(buf, 1, MAX_FILE_BYTES + 1, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(buf);
        rg_diag_add(d, path, 0, "cannot read the file");
        return NULL;
    }
    if (len > MAX_FILE_BYTES) {
        free(buf);
        rg_diag_add(d, path, 0, "file is larger than %u bytes", MAX_FILE_BYTES);
        return NULL;
    }
    buf[len] = '\0';
    rg_node *n = rg_node_parse_text(path, buf, len, d, errors);
    free(buf);
    return n;
}
