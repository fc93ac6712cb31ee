/*
 * The names of types and operators as written in config files and API
 * bodies, which operators make sense for which type, and the site id rule.
 */
#include "config.h"

#include <string.h>

/* Indexed from 1, as the enums are: [t - 1] is the name of t. */
const char *const rg_type_names[] = {
    [RG_TYPE_STRING - 1] = "string", [RG_TYPE_INTEGER - 1] = "integer",
    [RG_TYPE_NUMBER - 1] = "number", [RG_TYPE_BOOLEAN - 1] = "boolean",
    [RG_TYPE_DATE - 1] = "date",     [RG_TYPE_DATETIME - 1] = "datetime",
    [RG_TYPE_ENUM - 1] = "enum",     [RG_TYPE_ENUM] = NULL,
};

const char *const rg_op_names[] = {
    [RG_OP_EQ - 1] = "eq",           [RG_OP_NE - 1] = "ne",
    [RG_OP_LT - 1] = "lt",           [RG_OP_LTE - 1] = "lte",
    [RG_OP_GT - 1] = "gt",           [RG_OP_GTE - 1] = "gte",
    [RG_OP_IN - 1] = "in",           [RG_OP_BETWEEN - 1] = "between",
    [RG_OP_PREFIX - 1] = "prefix",   [RG_OP_CONTAINS - 1] = "contains",
    [RG_OP_CONTAINS] = NULL,
};

#define NTYPES ((unsigned)RG_TYPE_ENUM)
#define NOPS ((unsigned)RG_OP_CONTAINS)

const char *rg_type_name(rg_type t)
{
    if ((unsigned)t < 1 || (unsigned)t > NTYPES)
        return NULL;
    return rg_type_names[t - 1];
}

rg_type rg_type_from_name(const char *name)
{
    for (unsigned i = 0; name && i < NTYPES; i++)
        if (strcmp(rg_type_names[i], name) == 0)
            return (rg_type)(i + 1);
    return (rg_type)0;
}

const char *rg_op_name(rg_op op)
{
    if ((unsigned)op < 1 || (unsigned)op > NOPS)
        return NULL;
    return rg_op_names[op - 1];
}

rg_op rg_op_from_name(const char *name)
{
    for (unsigned i = 0; name && i < NOPS; i++)
        if (strcmp(rg_op_names[i], name) == 0)
            return (rg_op)(i + 1);
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
