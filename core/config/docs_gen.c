/*
 * The key tables of docs/configuration.md, printed from the key tables: one
 * Markdown table per mapping documented on its own (the top level of each
 * file and every RG_KEY_DOC_TABLE key), the windows of `rate_limits` as one
 * table with a column of defaults per route, and readgate.yaml's defaults as
 * a YAML document. Each block stands between "<!-- keys:ID:begin -->" and
 * "<!-- keys:ID:end -->", the markers scripts/gen-config-docs.sh replaces
 * them at, with blank lines around the table: a line right after a table
 * would be read as one more row of it.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "keygen.h"

/* "site.collections.fields" for the key "collections.*.fields" of "site":
   the table's name and the key's path without its "*" segments. */
static void section_id(const rg_key_table *t, const rg_key *k, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "%s%s", t->name, k ? "." : "");
    for (const char *p = k ? k->path : ""; *p && used + 1 < len; p++) {
        if (p[0] == '.' && p[1] == '*')
            p++; /* the "." of ".*", then the "*" */
        else
            buf[used++] = *p;
    }
    buf[used < len ? used : len - 1] = '\0';
}

/* YAML writes these without quotes and reads them back as the same string. */
static bool plain_scalar(const char *s)
{
    static const char *const special[] = {"true", "false", "null", "yes", "no", "on", "off", "~"};
    if (!*s || *s == '-' || strspn(s, "0123456789.") == strlen(s))
        return false;
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        if (strcasecmp(s, special[i]) == 0)
            return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-") ==
           strlen(s);
}

/* A default value as YAML: 16384, true, sites, "127.0.0.1:8080", []. */
static void value_text(const rg_key *k, char *buf, size_t len)
{
    switch (k->type) {
    case RG_KEY_INT:
        snprintf(buf, len, "%lld", k->def);
        break;
    case RG_KEY_BOOL:
        snprintf(buf, len, "%s", k->def ? "true" : "false");
        break;
    case RG_KEY_STRING:
    case RG_KEY_ENUM:
        snprintf(buf, len, plain_scalar(k->sdef) ? "%s" : "\"%s\"", k->sdef);
        break;
    case RG_KEY_LIST:
        snprintf(buf, len, "[]");
        break;
    default:
        snprintf(buf, len, "{}");
        break;
    }
}

static bool has_value(const rg_key *k)
{
    if (k->flags & (RG_KEY_NO_DEFAULT | RG_KEY_REQUIRED))
        return false;
    if (k->type == RG_KEY_STRING || k->type == RG_KEY_ENUM)
        return k->sdef != NULL;
    return k->type != RG_KEY_MAP && k->type != RG_KEY_BLOCK;
}

/* "`a`, `b` or `c`" */
static void values_text(const rg_key *k, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; k->values[i]; i++) {
        const char *sep = i == 0 ? "" : k->values[i + 1] ? ", " : " or ";
        int w = snprintf(buf + used, len - used, "%s`%s`", sep, k->values[i]);
        if (w < 0 || (size_t)w >= len - used)
            return;
        used += (size_t)w;
    }
}

static void type_text(const rg_key *k, char *buf, size_t len)
{
    char base[400];
    if (k->doc_type)
        snprintf(base, sizeof base, "%s", k->doc_type);
    else if (k->type == RG_KEY_INT)
        snprintf(base, sizeof base, "integer %lld–%lld", k->min, k->max);
    else if (k->type == RG_KEY_BOOL)
        snprintf(base, sizeof base, "boolean");
    else if (k->type == RG_KEY_ENUM)
        values_text(k, base, sizeof base);
    else if (k->type == RG_KEY_LIST)
        snprintf(base, sizeof base, "list of strings");
    else if (k->type == RG_KEY_OPTIONS)
        snprintf(base, sizeof base, "mapping of name → string, number or boolean");
    else if (k->type == RG_KEY_STRING)
        snprintf(base, sizeof base, "string");
    else
        snprintf(base, sizeof base, "mapping");
    snprintf(buf, len, "%s%s", base, k->flags & RG_KEY_REQUIRED ? ", **required**" : "");
}

static void default_text(const rg_key *k, char *buf, size_t len)
{
    char v[200];
    if (k->flags & RG_KEY_REQUIRED) {
        snprintf(buf, len, "—");
    } else if (k->doc_default) {
        snprintf(buf, len, "%s", k->doc_default);
    } else if (has_value(k)) {
        value_text(k, v, sizeof v);
        if (snprintf(buf, len, "`%s`", v) < 0) /* a cut value is still readable */
            buf[0] = '\0';
    } else {
        snprintf(buf, len, "none");
    }
}

/* The rows of the keys below `parent`, those of a MAP documented with it
   as "map.key". */
static void rows(FILE *out, const rg_key_table *t, const rg_key *parent, const char *prefix)
{
    for (const rg_key *k = rg_key_next_child(t, parent, NULL); k;
         k = rg_key_next_child(t, parent, k)) {
        char name[128];
        snprintf(name, sizeof name, "%s%s", prefix, rg_key_name(k));
        if (k->type == RG_KEY_MAP && !(k->flags & RG_KEY_DOC_TABLE)) {
            char sub[130];
            snprintf(sub, sizeof sub, "%s.", name);
            rows(out, t, k, sub);
            continue;
        }
        char type[500], def[200];
        type_text(k, type, sizeof type);
        default_text(k, def, sizeof def);
        fprintf(out, "| `%s` | %s | %s | %s |\n", name, type, def, k->doc);
    }
}

static void key_table(FILE *out, const rg_key_table *t, const rg_key *parent)
{
    char id[128];
    section_id(t, parent, id, sizeof id);
    fprintf(out, "<!-- keys:%s:begin -->\n\n| key | type | default | meaning |\n", id);
    fprintf(out, "|---|---|---|---|\n");
    rows(out, t, parent, "");
    fprintf(out, "\n<!-- keys:%s:end -->\n\n", id);
}

static void key_tables(FILE *out, const rg_key_table *t)
{
    key_table(out, t, NULL);
    for (size_t i = 0; i < t->n; i++)
        if (t->keys[i].flags & RG_KEY_DOC_TABLE)
            key_table(out, t, &t->keys[i]);
}

/* ---- rate_limits: windows by route ------------------------------------------- */

#define MAX_WINDOWS 16
#define MAX_ROUTES 16

typedef struct windows {
    const rg_key *route[MAX_ROUTES];
    size_t nroutes;
    const char *name[MAX_WINDOWS]; /* every window of any route, in the routes' order */
    size_t nnames;
} windows;

static const rg_key *window_of(const rg_key_table *t, const rg_key *route, const char *name)
{
    return rg_key_child(t, route, name);
}

static void collect(const rg_key_table *t, windows *w)
{
    memset(w, 0, sizeof *w);
    for (const rg_key *r = rg_key_next_child(t, NULL, NULL); r && w->nroutes < MAX_ROUTES;
         r = rg_key_next_child(t, NULL, r)) {
        w->route[w->nroutes++] = r;
        size_t at = 0; /* a window missing so far goes after the one before it */
        for (const rg_key *k = rg_key_next_child(t, r, NULL); k; k = rg_key_next_child(t, r, k)) {
            size_t i = 0;
            while (i < w->nnames && strcmp(w->name[i], rg_key_name(k)) != 0)
                i++;
            if (i == w->nnames && w->nnames < MAX_WINDOWS) {
                memmove(&w->name[at + 1], &w->name[at], (w->nnames - at) * sizeof w->name[0]);
                w->name[at] = rg_key_name(k);
                w->nnames++;
                i = at;
            }
            at = i + 1;
        }
    }
}

/* Do two routes have the same windows with the same defaults? */
static bool same_defaults(const rg_key_table *t, const windows *w, const rg_key *a, const rg_key *b)
{
    for (size_t i = 0; i < w->nnames; i++) {
        const rg_key *x = window_of(t, a, w->name[i]), *y = window_of(t, b, w->name[i]);
        if (!x != !y || (x && x->def != y->def))
            return false;
    }
    return true;
}

static void window_table(FILE *out, const rg_key_table *t)
{
    windows w;
    collect(t, &w);
    /* Routes with the same defaults share a column. */
    size_t group[MAX_ROUTES], ngroups = 0;
    bool grouped[MAX_ROUTES] = {false};
    for (size_t r = 0; r < w.nroutes; r++)
        if (!grouped[r]) {
            group[ngroups++] = r;
            for (size_t s = r; s < w.nroutes; s++)
                grouped[s] |= same_defaults(t, &w, w.route[r], w.route[s]);
        }
    fprintf(out, "<!-- keys:%s:begin -->\n\n| key | counted in | range |", t->name);
    for (size_t g = 0; g < ngroups; g++) {
        fprintf(out, " default");
        size_t n = 0;
        for (size_t s = group[g]; s < w.nroutes; s++)
            if (same_defaults(t, &w, w.route[group[g]], w.route[s]))
                fprintf(out, "%s `%s`", n++ ? "," : "", rg_key_name(w.route[s]));
        fprintf(out, " |");
    }
    fprintf(out, "\n|---|---|---|");
    for (size_t g = 0; g < ngroups; g++)
        fprintf(out, "---|");
    fprintf(out, "\n");
    for (size_t i = 0; i < w.nnames; i++) {
        const rg_key *first = NULL;
        for (size_t r = 0; r < w.nroutes && !first; r++)
            first = window_of(t, w.route[r], w.name[i]);
        fprintf(out, "| `%s` | %s | %lld–%lld |", w.name[i], first->doc, first->min, first->max);
        for (size_t g = 0; g < ngroups; g++) {
            const rg_key *k = window_of(t, w.route[group[g]], w.name[i]);
            if (!k)
                fprintf(out, " — |");
            else
                fprintf(out, k->def ? " %lld |" : " %lld (off) |", k->def);
        }
        fprintf(out, "\n");
    }
    fprintf(out, "\n<!-- keys:%s:end -->\n\n", t->name);
}

/* ---- readgate.yaml's defaults as YAML ------------------------------------------- */

static bool any_value(const rg_key_table *t, const rg_key *parent)
{
    for (const rg_key *k = rg_key_next_child(t, parent, NULL); k;
         k = rg_key_next_child(t, parent, k))
        if (has_value(k) || (k->type == RG_KEY_MAP && any_value(t, k)) ||
            (k->type == RG_KEY_BLOCK && any_value(k->block, NULL)))
            return true;
    return false;
}

/* The keys below `parent` with a default; mappings in block style at the
   top level, in flow style ({a: 1, b: 2}) below it. */
static void yaml(FILE *out, const rg_key_table *t, const rg_key *parent, int depth)
{
    bool flow = depth > 1;
    size_t n = 0;
    for (const rg_key *k = rg_key_next_child(t, parent, NULL); k;
         k = rg_key_next_child(t, parent, k)) {
        const rg_key_table *kt = k->type == RG_KEY_BLOCK ? k->block : t;
        const rg_key *kp = k->type == RG_KEY_BLOCK ? NULL : k;
        bool map = k->type == RG_KEY_MAP || k->type == RG_KEY_BLOCK;
        if (map ? !any_value(kt, kp) : !has_value(k))
            continue;
        if (flow)
            fprintf(out, "%s%s: ", n ? ", " : "", rg_key_name(k));
        else
            fprintf(out, "%*s%s:", 2 * depth, "", rg_key_name(k));
        n++;
        if (map) {
            bool inner_flow = depth + 1 > 1;
            fprintf(out, inner_flow ? (flow ? "{" : " {") : "\n");
            yaml(out, kt, kp, depth + 1);
            fprintf(out, inner_flow ? (flow ? "}" : "}\n") : "");
            continue;
        }
        char v[200];
        value_text(k, v, sizeof v);
        fprintf(out, flow ? "%s" : " %s\n", v);
    }
}

static void defaults(FILE *out, const rg_key_table *t)
{
    fprintf(out, "<!-- keys:%s-defaults:begin -->\n\n```yaml\n", t->name);
    yaml(out, t, NULL, 0);
    fprintf(out, "```\n\n<!-- keys:%s-defaults:end -->\n\n", t->name);
}

int rg_keygen_docs(FILE *out)
{
    key_tables(out, &rg_server_keys);
    defaults(out, &rg_server_keys);
    window_table(out, &rg_rate_limit_keys);
    key_tables(out, &rg_site_keys);
    return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}
