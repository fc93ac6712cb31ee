/*
 * Checked reads of config nodes. Every failure becomes one "file:line:
 * message" naming the key and what was expected, and loading carries on.
 */
#include "node.h"

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

void rg_cfg_check_keys(rg_cfgctx *c, const rg_node *map, const char *where,
                       const char *const *allowed)
{
    if (!map || map->kind != RG_NODE_MAP)
        return;
    for (size_t i = 0; i < map->n; i++) {
        size_t k = 0;
        while (allowed[k] && strcmp(allowed[k], map->pairs[i].key) != 0)
            k++;
        if (allowed[k])
            continue;
        char list[400] = "";
        size_t used = 0;
        for (size_t j = 0; allowed[j]; j++) {
            int w = snprintf(list + used, sizeof list - used, "%s%s", j ? ", " : "", allowed[j]);
            if (w < 0 || (size_t)w >= sizeof list - used)
                break;
            used += (size_t)w;
        }
        if (where && *where)
            rg_cfg_error(c, map->pairs[i].line, "unknown key '%s' in %s; allowed: %s",
                         map->pairs[i].key, where, list);
        else
            rg_cfg_error(c, map->pairs[i].line, "unknown key '%s'; allowed: %s",
                         map->pairs[i].key, list);
    }
}

const rg_node_pair *rg_cfg_require(rg_cfgctx *c, const rg_node *map, int line, const char *where,
                                   const char *key)
{
    const rg_node_pair *p = rg_node_find(map, key);
    if (p)
        return p;
    if (where && *where)
        rg_cfg_error(c, line, "%s: missing required key '%s'", where, key);
    else
        rg_cfg_error(c, line, "missing required key '%s'", key);
    return NULL;
}

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
