/*
 * What the key tables (keys.h) print: the JSON Schema of a configuration
 * file (schemas/readgate.schema.json, schemas/site.schema.json) and the key
 * tables of docs/configuration.md, each between its marker comments
 * "<!-- keys:ID:begin -->" and "<!-- keys:ID:end -->".
 * scripts/gen-config-docs.sh writes them into the repository, and checks
 * that what is there is what the tables say.
 */
#ifndef RG_CONFIG_KEYGEN_H
#define RG_CONFIG_KEYGEN_H

#include <stddef.h>
#include <stdio.h>

#include "keys.h"

/* Every table well formed (rg_key_table_check)? 0, or -1 with why. */
int rg_keygen_check(char *why, size_t whylen);
/* The schema of the file `t` describes (server or site), as indented JSON
   ending in a newline; the caller frees it. NULL when out of memory. */
char *rg_keygen_schema(const rg_key_table *t);
/* Every documentation block, one after the other. 0, or -1 on a write error. */
int rg_keygen_docs(FILE *out);

#endif
