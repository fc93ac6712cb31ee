/*
 * Walking the key tables: which keys sit below which mapping, their allowed
 * values, and storing defaults. The tables are small (tens of rows), so a
 * linear scan is all the lookup they need.
 */
#include "keys.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

const char *rg_key_name(const rg_key *k)
{
    const char *dot = strrchr(k->path, '.');
    return dot ? dot + 1 : k->path;
}

/* The path prefix of the keys directly below `parent` ("" for the top
   level), or -1 when nothing is below it. */
static int child_prefix(const rg_key *parent, char *buf, size_t len)
{
    if (!parent) {
        buf[0] = '\0';
        return 0;
    }
    int w;
    if (parent->type == RG_KEY_MAP)
        w = snprintf(buf, len, "%s", parent->path);
    else if (parent->type == RG_KEY_NAMED)
        w = snprintf(buf, len, "%s.*", parent->path);
    else
        return -1;
    return w < 0 || (size_t)w >= len ? -1 : 0;
}

static bool is_child(const char *prefix, const char *path)
{
    size_t n = strlen(prefix);
    if (n) {
        if (strncmp(path, prefix, n) != 0 || path[n] != '.')
            return false;
        path += n + 1;
    }
    return *path && !strchr(path, '.');
}

const rg_key *rg_key_next_child(const rg_key_table *t, const rg_key *parent, const rg_key *prev)
{
    char prefix[256];
    if (child_prefix(parent, prefix, sizeof prefix) != 0)
        return NULL;
    size_t i = prev ? (size_t)(prev - t->keys) + 1 : 0;
    for (; i < t->n; i++)
        if (t->keys[i].path && is_child(prefix, t->keys[i].path))
            return &t->keys[i];
    return NULL;
}

const rg_key *rg_key_child(const rg_key_table *t, const rg_key *parent, const char *name)
{
    for (const rg_key *k = rg_key_next_child(t, parent, NULL); k;
         k = rg_key_next_child(t, parent, k))
        if (strcmp(rg_key_name(k), name) == 0)
            return k;
    return NULL;
}

const rg_key *rg_key_parent(const rg_key_table *t, const rg_key *k)
{
    const char *dot = strrchr(k->path, '.');
    if (!dot)
        return NULL;
    size_t n = (size_t)(dot - k->path);
    if (n >= 2 && k->path[n - 1] == '*' && k->path[n - 2] == '.')
        n -= 2; /* "sources.*.adapter" is below "sources" */
    for (size_t i = 0; i < t->n; i++) {
        const char *p = t->keys[i].path;
        if (p && strlen(p) == n && strncmp(p, k->path, n) == 0)
            return &t->keys[i];
    }
    return NULL;
}

int rg_key_value_index(const rg_key *k, const char *s)
{
    for (int i = 0; k->values && k->values[i]; i++)
        if (strcmp(k->values[i], s) == 0)
            return i;
    return -1;
}

void rg_key_values_text(const rg_key *k, const char *sep, const char *last, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; k->values && k->values[i]; i++) {
        const char *s = i == 0 ? "" : k->values[i + 1] ? sep : last;
        int w = snprintf(buf + used, len - used, "%s%s", s, k->values[i]);
        if (w < 0 || (size_t)w >= len - used)
            return;
        used += (size_t)w;
    }
}

void rg_key_store(const rg_key *k, void *base, long long v)
{
    char *p = (char *)base + k->offset;
    /* Values are within their bounds, which rg_key_table_check keeps
       non-negative and within the member's size, so int, uint32_t, size_t
       and bool members all take the same bytes. */
    switch (k->size) {
    case sizeof(bool): {
        bool b = v != 0;
        memcpy(p, &b, sizeof b);
        break;
    }
    case sizeof(uint32_t): {
        uint32_t x = (uint32_t)v;
        memcpy(p, &x, sizeof x);
        break;
    }
    case sizeof(uint64_t): {
        uint64_t x = (uint64_t)v;
        memcpy(p, &x, sizeof x);
        break;
    }
    default:
        break;
    }
}

void rg_key_defaults(const rg_key_table *t, const rg_key *parent, void *base)
{
    for (const rg_key *k = rg_key_next_child(t, parent, NULL); k;
         k = rg_key_next_child(t, parent, k)) {
        if (!k->size)
            continue;
        if (k->type == RG_KEY_MAP)
            rg_key_defaults(t, k, (char *)base + k->offset);
        else if ((k->type == RG_KEY_INT || k->type == RG_KEY_BOOL) &&
                 !(k->flags & RG_KEY_NO_DEFAULT))
            rg_key_store(k, base, k->def);
    }
}

#define WHY(...)                                                                                   \
    do {                                                                                           \
        snprintf(why, whylen, __VA_ARGS__);                                                        \
        return -1;                                                                                 \
    } while (0)

static int check_row(const rg_key_table *t, size_t i, char *why, size_t whylen)
{
    const rg_key *k = &t->keys[i];
    const char *p = k->path;
    if (!p)
        WHY("%s keys: row %zu is empty", t->name, i);
    for (size_t j = 0; j < i; j++)
        if (strcmp(t->keys[j].path, p) == 0)
            WHY("%s keys: '%s' is listed twice", t->name, p);
    if (strchr(p, '.')) {
        const rg_key *parent = rg_key_parent(t, k);
        if (!parent || parent > k || rg_key_child(t, parent, rg_key_name(k)) != k)
            WHY("%s keys: '%s' comes before the mapping it belongs to", t->name, p);
    }
    if (!k->doc)
        WHY("%s keys: '%s' has no documentation", t->name, p);
    bool has_default = !(k->flags & (RG_KEY_NO_DEFAULT | RG_KEY_REQUIRED));
    switch (k->type) {
    case RG_KEY_INT:
        if (k->min > k->max || (has_default && (k->def < k->min || k->def > k->max)))
            WHY("%s keys: '%s' has its default outside its bounds", t->name, p);
        if (k->size && (k->min < 0 || (k->size == sizeof(uint32_t) && k->max > INT32_MAX) ||
                        (k->size != sizeof(uint32_t) && k->size != sizeof(uint64_t))))
            WHY("%s keys: '%s' does not fit its storage place", t->name, p);
        break;
    case RG_KEY_BOOL:
        if (k->size && k->size != sizeof(bool))
            WHY("%s keys: '%s' does not fit its storage place", t->name, p);
        break;
    case RG_KEY_STRING:
        /* The loaders read such a key's default as a string. */
        if (has_default && !k->sdef)
            WHY("%s keys: '%s' has no default; give one or mark it as having none", t->name, p);
        break;
    case RG_KEY_ENUM:
        if (has_default && !k->sdef)
            WHY("%s keys: '%s' has no default; give one or mark it as having none", t->name, p);
        if (!k->values || !k->values[0])
            WHY("%s keys: '%s' has no values", t->name, p);
        if (k->sdef && rg_key_value_index(k, k->sdef) < 0)
            WHY("%s keys: the default of '%s' is not one of its values", t->name, p);
        break;
    case RG_KEY_BLOCK:
        if (!k->block)
            WHY("%s keys: '%s' names no table", t->name, p);
        break;
    default:
        break;
    }
    return 0;
}

int rg_key_table_check(const rg_key_table *t, char *why, size_t whylen)
{
    for (size_t i = 0; i < t->n; i++)
        if (check_row(t, i, why, whylen) != 0)
            return -1;
    return 0;
}
