/*
 * Private to core/config: a generic document tree that YAML and JSON files
 * both turn into, with the line of every node for messages.
 */
#ifndef RG_CONFIG_NODE_H
#define RG_CONFIG_NODE_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/diag.h"

typedef enum rg_node_kind {
    RG_NODE_NULL,
    RG_NODE_STRING,
    RG_NODE_INT,
    RG_NODE_FLOAT,
    RG_NODE_BOOL,
    RG_NODE_MAP,
    RG_NODE_LIST
} rg_node_kind;

typedef struct rg_node rg_node;

typedef struct rg_node_pair {
    char *key;
    int line; /* line of the key */
    rg_node *value;
} rg_node_pair;

struct rg_node {
    rg_node_kind kind;
    int line;   /* 1-based; 0 when unknown */
    char *text; /* scalars: the value as written (never NULL for scalars) */
    long long ival;
    bool bval;
    rg_node_pair *pairs; /* RG_NODE_MAP */
    rg_node **items;     /* RG_NODE_LIST */
    size_t n;            /* number of pairs or items */
};

/*
 * Parse a whole file: JSON when the name ends in ".json", YAML otherwise.
 * Returns NULL (with a diagnostic) on I/O, syntax or memory errors. Problems
 * that don't stop parsing (duplicate keys, aliases) are reported and counted
 * in *errors, and the tree is still returned.
 */
rg_node *rg_node_parse_file(const char *path, rg_diags *d, int *errors);
/* Same, from memory; `name` is used in messages and to pick the format. */
rg_node *rg_node_parse_text(const char *name, const char *text, size_t len, rg_diags *d,
                            int *errors);
void rg_node_free(rg_node *n);

/* "a string", "an integer", ... as used in "expected X, got Y". */
const char *rg_node_kind_name(rg_node_kind k);
/* The value of `key` in a map node, or NULL. */
const rg_node_pair *rg_node_find(const rg_node *map, const char *key);

#endif
