/*
 * readgate config-schema server|site and readgate config-docs: the JSON
 * Schema of readgate.yaml or of a site file, and the key tables of
 * docs/configuration.md, printed from the key tables the loaders read with
 * (core/config/keys.h). scripts/gen-config-docs.sh writes them into
 * schemas/ and the documentation, and checks they are up to date.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config/keygen.h"

/* A table that is not well formed would print a wrong schema: refuse. */
static int tables_ok(const char *who)
{
    char why[256];
    if (rg_keygen_check(why, sizeof why) == 0)
        return 1;
    fprintf(stderr, "readgate %s: %s\n", who, why);
    return 0;
}

static int printed(const char *who)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return 0;
    fprintf(stderr, "readgate %s: cannot write the output\n", who);
    return 1;
}

int rg_cli_config_schema(int argc, char **argv)
{
    const rg_key_table *t = NULL;
    if (argc == 2 && strcmp(argv[1], "server") == 0)
        t = &rg_server_keys;
    else if (argc == 2 && strcmp(argv[1], "site") == 0)
        t = &rg_site_keys;
    if (!t) {
        fprintf(stderr, "usage: readgate config-schema server|site\n");
        return 2;
    }
    if (!tables_ok(argv[0]))
        return 1;
    char *schema = rg_keygen_schema(t);
    if (!schema) {
        fprintf(stderr, "readgate %s: out of memory\n", argv[0]);
        return 1;
    }
    fputs(schema, stdout);
    free(schema);
    return printed(argv[0]);
}

int rg_cli_config_docs(int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "usage: readgate config-docs\n");
        return 2;
    }
    if (!tables_ok(argv[0]))
        return 1;
    if (rg_keygen_docs(stdout) != 0) {
        fprintf(stderr, "readgate %s: cannot write the output\n", argv[0]);
        return 1;
    }
    return 0;
}
