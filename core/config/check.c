/*
 * Checked reads of config nodes. Every failure becomes one "file:line:
 * message" naming the key and what was expected, and loading carries on.
 */
#include "check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void rg_cfg_error(rg_cfgctx *c, int line, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rg_diag_add(c->d, c->file, line, "%s", msg);
    c->errors++;
}

/* ---- reads of the keys of a table ------------------------------------------ */

/* A read of a key that is not below the mapping, or as another type, is a
   bug in a loader; it is reported rather than read from the wrong place. */
static bool misuse(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k, unsigned types)
{
    if (rg_key_child(m->table, m->key, rg_key_name(k)) == k && (types & (1u << k->type)))
        return false;
    rg_cfg_error(c, 0, "internal error: configuration key '%s' read in the wrong place", k->path);
    return true;
}

#define T(type) (1u << (type))

void rg_cfg_check_keys(rg_cfgctx *c, const rg_cfgmap *m)
{
    const rg_node *map = m->node;
    if (!map || map->kind != RG_NODE_MAP)
        return;
    for (size_t i = 0; i < map->n; i++) {
        if (rg_key_child(m->table, m->key, map->pairs[i].key))
            continue;
        char list[512] = "";
        size_t used = 0;
        for (const rg_key *k = rg_key_next_child(m->table, m->key, NULL); k;
             k = rg_key_next_child(m->table, m->key, k)) {
            int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "",
                             rg_key_name(k));
            if (w < 0 || (size_t)w >= sizeof list - used)
                break;
            used += (size_t)w;
        }
        if (*m->where)
            rg_cfg_error(c, map->pairs[i].line, "unknown key '%s' in %s; allowed: %s",
                         map->pairs[i].key, m->where, list);
        else
            rg_cfg_error(c, map->pairs[i].line, "unknown key '%s'; allowed: %s",
                         map->pairs[i].key, list);
    }
}

const rg_node_pair *rg_cfg_key_require(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k)
{
    if (!m->node || m->node->kind != RG_NODE_MAP)
        return NULL; /* already reported: not a mapping */
    const rg_node_pair *p = rg_node_find(m->node, rg_key_name(k));
    if (p)
        return p;
    if (*m->where)
        rg_cfg_error(c, m->line, "%s: missing required key '%s'", m->where, rg_key_name(k));
    else
        rg_cfg_error(c, m->line, "missing required key '%s'", rg_key_name(k));
    return NULL;
}

const rg_node_pair *rg_cfg_key_find(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k)
{
    if (k->flags & RG_KEY_REQUIRED)
        return rg_cfg_key_require(c, m, k);
    return m->node && m->node->kind == RG_NODE_MAP ? rg_node_find(m->node, rg_key_name(k)) : NULL;
}

int rg_cfg_key_line(const rg_cfgmap *m, const rg_key *k)
{
    const rg_node_pair *p =
        m->node && m->node->kind == RG_NODE_MAP ? rg_node_find(m->node, rg_key_name(k)) : NULL;
    return p ? p->value->line : 0;
}

void rg_cfg_key_path(const rg_cfgmap *m, const rg_key *k, char *buf, size_t len)
{
    if (*m->where)
        snprintf(buf, len, "%s.%s", m->where, rg_key_name(k));
    else
        snprintf(buf, len, "%s", rg_key_name(k));
}

/* Paths are at most a few names of 64 characters each. */
#define PATH_MAX_LEN 400

/* The pair of key k in m, its type checked, its path in `path`
   (PATH_MAX_LEN): NULL with *rc -1 for a key misused by the loader, 1 when
   the file leaves it out (the default stands). */
static const rg_node_pair *present(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k,
                                   unsigned types, char *path, int *rc)
{
    *rc = -1;
    if (misuse(c, m, k, types))
        return NULL;
    *rc = 1;
    const rg_node_pair *p = rg_cfg_key_find(c, m, k);
    if (p)
        rg_cfg_key_path(m, k, path, PATH_MAX_LEN);
    return p;
}

int rg_cfg_key_int(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k, long long *out)
{
    *out = k->flags & RG_KEY_NO_DEFAULT ? 0 : k->def;
    char path[PATH_MAX_LEN];
    int rc;
    const rg_node_pair *p = present(c, m, k, T(RG_KEY_INT), path, &rc);
    return p ? rg_cfg_int(c, p->value, path, k->min, k->max, out) : rc;
}

int rg_cfg_key_bool(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k, bool *out)
{
    *out = !(k->flags & RG_KEY_NO_DEFAULT) && k->def;
    char path[PATH_MAX_LEN];
    int rc;
    const rg_node_pair *p = present(c, m, k, T(RG_KEY_BOOL), path, &rc);
    return p ? rg_cfg_bool(c, p->value, path, out) : rc;
}

static int read_string(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k, const char **out)
{
    *out = k->sdef;
    const rg_node_pair *p = rg_cfg_key_find(c, m, k);
    if (!p)
        return 1;
    char path[PATH_MAX_LEN];
    rg_cfg_key_path(m, k, path, sizeof path);
    return rg_cfg_string(c, p->value, path, k->flags & RG_KEY_NONEMPTY, out);
}

int rg_cfg_key_string(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k, const char **out)
{
    *out = k->sdef;
    if (misuse(c, m, k, T(RG_KEY_STRING)))
        return -1;
    return read_string(c, m, k, out);
}

int rg_cfg_key_enum(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k, const char **out,
                    int *index)
{
    *out = k->sdef;
    *index = k->sdef ? rg_key_value_index(k, k->sdef) : -1;
    if (misuse(c, m, k, T(RG_KEY_ENUM)))
        return -1;
    int r = read_string(c, m, k, out);
    if (r == 0)
        *index = rg_key_value_index(k, *out);
    return r;
}

static int read_kind(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k, rg_node_kind kind,
                     const rg_node_pair **out)
{
    *out = NULL;
    const rg_node_pair *p = rg_cfg_key_find(c, m, k);
    if (!p)
        return 1;
    char path[PATH_MAX_LEN];
    rg_cfg_key_path(m, k, path, sizeof path);
    if (rg_cfg_kind(c, p->value, path, kind) != 0)
        return -1;
    *out = p;
    return 0;
}

int rg_cfg_key_list(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k, const rg_node **out)
{
    *out = NULL;
    if (misuse(c, m, k, T(RG_KEY_LIST)))
        return -1;
    const rg_node_pair *p;
    int r = read_kind(c, m, k, RG_NODE_LIST, &p);
    if (r == 0)
        *out = p->value;
    return r;
}

int rg_cfg_key_names(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k,
                     const rg_node_pair **out)
{
    *out = NULL;
    if (misuse(c, m, k, T(RG_KEY_NAMED) | T(RG_KEY_OPTIONS)))
        return -1;
    return read_kind(c, m, k, RG_NODE_MAP, out);
}

int rg_cfg_key_map(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k, char *where, size_t wlen,
                   rg_cfgmap *sub)
{
    rg_cfg_key_path(m, k, where, wlen);
    bool block = k->type == RG_KEY_BLOCK;
    *sub = (rg_cfgmap){.where = where,
                       .table = block ? k->block : m->table,
                       .key = block ? NULL : k};
    if (misuse(c, m, k, T(RG_KEY_MAP) | T(RG_KEY_BLOCK)))
        return -1;
    const rg_node_pair *p;
    int r = read_kind(c, m, k, RG_NODE_MAP, &p);
    if (r != 0)
        return r;
    sub->node = p->value;
    sub->line = p->line;
    rg_cfg_check_keys(c, sub);
    return 0;
}

int rg_cfg_key_element(rg_cfgctx *c, const rg_key_table *t, const rg_key *named,
                       const char *named_where, const rg_node_pair *p, char *where, size_t wlen,
                       rg_cfgmap *sub)
{
    snprintf(where, wlen, "%s.%s", named_where, p->key);
    *sub = (rg_cfgmap){.where = where, .line = p->line, .table = t, .key = named};
    if (rg_cfg_kind(c, p->value, where, RG_NODE_MAP) != 0)
        return -1;
    sub->node = p->value;
    rg_cfg_check_keys(c, sub);
    return 0;
}

void rg_cfg_key_values(rg_cfgctx *c, const rg_cfgmap *m, void *base)
{
    for (const rg_key *k = rg_key_next_child(m->table, m->key, NULL); k;
         k = rg_key_next_child(m->table, m->key, k)) {
        if (!k->size)
            continue;
        long long v;
        bool b;
        if (k->type == RG_KEY_INT && rg_cfg_key_int(c, m, k, &v) == 0)
            rg_key_store(k, base, v);
        else if (k->type == RG_KEY_BOOL && rg_cfg_key_bool(c, m, k, &b) == 0)
            rg_key_store(k, base, b);
    }
}

/* ---- reads of single nodes ---------------------------------------------------- */

static const char *kind_expected(rg_node_kind k)
{
    return rg_node_kind_name(k);
}

int rg_cfg_kind(rg_cfgctx *c, const rg_node *n, const char *path, rg_node_kind kind)
{
    if (n->kind == kind)
        return 0;
    rg_cfg_error(c, n->line, "%s: expected %s, got %s", path, kind_expected(kind),
                 rg_node_kind_name(n->kind));
    return -1;
}

int rg_cfg_int(rg_cfgctx *c, const rg_node *n, const char *path, long long min, long long max,
               long long *out)
{
    if (rg_cfg_kind(c, n, path, RG_NODE_INT) != 0)
        return -1;
    if (n->ival < min || n->ival > max) {
        rg_cfg_error(c, n->line, "%s: must be between %lld and %lld, got %s", path, min, max,
                     n->text);
        return -1;
    }
    *out = n->ival;
    return 0;
}

int rg_cfg_bool(rg_cfgctx *c, const rg_node *n, const char *path, bool *out)
{
    if (rg_cfg_kind(c, n, path, RG_NODE_BOOL) != 0)
        return -1;
    *out = n->bval;
    return 0;
}

int rg_cfg_string(rg_cfgctx *c, const rg_node *n, const char *path, bool nonempty,
                  const char **out)
{
    if (rg_cfg_kind(c, n, path, RG_NODE_STRING) != 0)
        return -1;
    if (nonempty && !*n->text) {
        rg_cfg_error(c, n->line, "%s: must not be empty", path);
        return -1;
    }
    *out = n->text;
    return 0;
}

bool rg_cfg_name_ok(const char *s, bool (*first)(int), bool (*rest)(int), size_t maxlen)
{
    if (!s || !first((unsigned char)s[0]))
        return false;
    size_t i = 1;
    for (; s[i]; i++)
        if (!rest((unsigned char)s[i]) || i >= maxlen)
            return false;
    return true;
}

bool rg_cfg_is_lower_alpha(int ch)
{
    return ch >= 'a' && ch <= 'z';
}

bool rg_cfg_is_lower_alnum_us(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
}

bool rg_cfg_is_ident_first(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

bool rg_cfg_is_ident_rest(int ch)
{
    return rg_cfg_is_ident_first(ch) || (ch >= '0' && ch <= '9');
}
