/*
 * The names of types and operators as written in config files and API
 * bodies, which operators make sense for which type, and the site id rule.
 */
#include "config.h"

#include <string.h>

/* Indexed by the enums, which start at 1: [0] is NULL, and so is the entry
   after the last, so that &names[1] is a NULL-terminated list of them all. */
const char *const rg_type_names[] = {
    [RG_TYPE_STRING] = "string", [RG_TYPE_INTEGER] = "integer",   [RG_TYPE_NUMBER] = "number",
    [RG_TYPE_BOOLEAN] = "boolean", [RG_TYPE_DATE] = "date",       [RG_TYPE_DATETIME] = "datetime",
    [RG_TYPE_ENUM] = "enum",       [RG_TYPE_ENUM + 1] = NULL,
};

const char *const rg_op_names[] = {
    [RG_OP_EQ] = "eq",       [RG_OP_NE] = "ne",          [RG_OP_LT] = "lt",
    [RG_OP_LTE] = "lte",     [RG_OP_GT] = "gt",          [RG_OP_GTE] = "gte",
    [RG_OP_IN] = "in",       [RG_OP_BETWEEN] = "between", [RG_OP_PREFIX] = "prefix",
    [RG_OP_CONTAINS] = "contains", [RG_OP_CONTAINS + 1] = NULL,
};

#define NTYPES ((unsigned)RG_TYPE_ENUM + 1)
#define NOPS ((unsigned)RG_OP_CONTAINS + 1)

const char *rg_type_name(rg_type t)
{
    if ((unsigned)t >= NTYPES)
        return NULL;
    return rg_type_names[t];
}

rg_type rg_type_from_name(const char *name)
{
    for (size_t i = 1; name && i < NTYPES; i++)
        if (strcmp(rg_type_names[i], name) == 0)
            return (rg_type)i;
    return (rg_type)0;
}

const char *rg_op_name(rg_op op)
{
    if ((unsigned)op >= NOPS)
        return NULL;
    return rg_op_names[op];
}

rg_op rg_op_from_name(const char *name)
{
    for (size_t i = 1; name && i < NOPS; i++)
        if (strcmp(rg_op_names[i], name) == 0)
            return (rg_op)i;
    return (rg_op)0;
}

uint32_t rg_ops_valid_for_type(rg_type t)
{
    const uint32_t equality = RG_OP_MASK(RG_OP_EQ) | RG_OP_MASK(RG_OP_NE);
    const uint32_t ordered = RG_OP_MASK(RG_OP_LT) | RG_OP_MASK(RG_OP_LTE) | RG_OP_MASK(RG_OP_GT) |
                             RG_OP_MASK(RG_OP_GTE) | RG_OP_MASK(RG_OP_BETWEEN);
    const uint32_t in = RG_OP_MASK(RG_OP_IN);
    switch (t) {
    case RG_TYPE_STRING:
        return equality | in | ordered | RG_OP_MASK(RG_OP_PREFIX) | RG_OP_MASK(RG_OP_CONTAINS);
    case RG_TYPE_INTEGER:
    case RG_TYPE_NUMBER:
    case RG_TYPE_DATE:
    case RG_TYPE_DATETIME:
        return equality | in | ordered;
    case RG_TYPE_BOOLEAN:
        /* "in" over two values says nothing "eq"/"ne" can't */
        return equality;
    case RG_TYPE_ENUM:
        return equality | in;
    }
    return 0;
}

bool rg_site_id_valid(const char *id)
{
    if (!id)
        return false;
    size_t n = strlen(id);
    if (n < 8 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9')))
            return false;
    return true;
}
