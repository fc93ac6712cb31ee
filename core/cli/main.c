/* readgate: the command-line entry point. */
#include <curl/curl.h>
#include <stdio.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config/config.h"
#include "crypto/audit.h"
#include "crypto/keyring.h"
#include "workers/adapter_check.h"
#include "workers/plugin_registry.h"
#include "workers/provider_check.h"
#include "server/server.h"
#include "util/log.h"

#define DEFAULT_CONFIG "/etc/readgate/readgate.yaml"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: readgate <command> [options]\n"
            "\n"
            "commands:\n"
            "  serve [-c FILE]                     run the gateway (default config %s)\n"
            "  check [-c FILE]                     validate readgate.yaml and every site file\n"
            "  config-schema server|site           print the JSON Schema of readgate.yaml or a site file\n"
            "  config-docs                         print the configuration key tables (Markdown)\n"
            "  keys generate [--kid KID]           print a new master key line\n"
            "  secret encrypt --site S --field P   encrypt stdin for a site file field\n"
            "  query --site S [options]            sign and send a query (see readgate query --help)\n"
            "  oauth import --site S --source SRC  store a connection's tokens (JSON on stdin)\n"
            "  oauth status [-c FILE] [--json]     state of every OAuth connection\n"
            "  site delete S [-c FILE]             revoke a site's OAuth grants, delete its tokens\n"
            "  version                             print the version\n",
            DEFAULT_CONFIG);
}

/* -c FILE / --config FILE; returns NULL on a usage error. */
static const char *config_arg(int argc, char **argv)
{
    const char *path = getenv("READGATE_CONFIG");
    if (!path)
        path = DEFAULT_CONFIG;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            path = argv[++i];
        else {
            fprintf(stderr, "readgate %s: unexpected argument '%s'\n", argv[0], argv[i]);
            return NULL;
        }
    }
    return path;
}

int rg_cli_serve(int argc, char **argv)
{
    const char *path = config_arg(argc, argv);
    if (!path)
        return 2;
    /* Before any thread: token refreshes use libcurl from several. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "readgate serve: libcurl could not be initialised\n");
        return 1;
    }
    int rc = rg_server_run(path);
    curl_global_cleanup();
    return rc;
}

/* Ask each source's adapter whether it accepts its options. */
static size_t check_adapter_options(const rg_config *cfg, rg_diags *d)
{
    size_t before = d->count;
    for (size_t i = 0; i < cfg->nsites; i++) {
        const rg_site *site = &cfg->sites[i];
        for (size_t j = 0; j < site->nsources; j++) {
            const rg_source *src = &site->sources[j];
            char why[512];
            const rg_adapter *a = rg_adapter_load(cfg->adapters_dir, src->adapter, why, sizeof why);
            if (!a) {
                rg_diag_add(d, site->file, 0, "source '%s': %s", src->name, why);
                continue;
            }
            if (rg_adapter_check_source(a, site, src, why, sizeof why) != 0)
                rg_diag_add(d, site->file, 0, "source '%s' (adapter %s): %s", src->name,
                            src->adapter, why);
        }
    }
    return d->count - before;
}

/* Ask each site's token provider whether it accepts the ai block. */
static void check_ai_blocks(const rg_config *cfg, rg_diags *d)
{
    for (size_t i = 0; i < cfg->nsites; i++) {
        const rg_site *site = &cfg->sites[i];
        if (!site->ai || !site->ai->provider)
            continue;
        char why[512];
        const rg_token_provider *p =
            rg_provider_load(cfg->adapters_dir, site->ai->provider, why, sizeof why);
        if (!p) {
            rg_diag_add(d, site->file, site->ai->provider_line, "ai.provider: %s", why);
            continue;
        }
        rg_ai_tools tools;
        int line = 0;
        if (rg_provider_check_site(p, site, cfg->public_url, &tools, &line, why, sizeof why) != 0)
            rg_diag_add(d, site->file, line, "%s", why);
    }
}

int rg_cli_check(int argc, char **argv)
{
    const char *path = config_arg(argc, argv);
    if (!path)
        return 2;
    rg_diags d = {0};
    rg_config *cfg = rg_config_load(path, &d);
    if (cfg) {
        check_adapter_options(cfg, &d);
        check_ai_blocks(cfg, &d);
        /* `check` answers "would serve start?": that includes the master keys
         * and every encrypted value opening under them. */
        char why[512];
        rg_keyring *kr = rg_keyring_load(cfg->keys_env, cfg->keys_file, why, sizeof why);
        if (!kr) {
            rg_diag_add(&d, cfg->file, 0, "master keys: %s", why);
        } else if (rg_audit_open(cfg->audit_log, why, sizeof why) != 0) {
            rg_diag_add(&d, cfg->file, 0, "audit_log: %s", why);
        } else {
            rg_config_verify_secrets(cfg, kr, &d);
        }
        rg_keyring_free(kr);
        rg_audit_close();
    }
    for (size_t i = 0; i < d.count; i++)
        printf("%s\n", d.lines[i]);
    int bad = d.count > 0 || !cfg;
    if (!bad)
        printf("configuration ok: %s (%zu sites)\n", path, cfg->nsites);
    rg_diags_free(&d);
    rg_config_free(cfg);
    rg_plugin_unload_all();
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    if (strcmp(cmd, "serve") == 0)
        return rg_cli_serve(sub_argc, sub_argv);
    if (strcmp(cmd, "check") == 0)
        return rg_cli_check(sub_argc, sub_argv);
    if (strcmp(cmd, "config-schema") == 0)
        return rg_cli_config_schema(sub_argc, sub_argv);
    if (strcmp(cmd, "config-docs") == 0)
        return rg_cli_config_docs(sub_argc, sub_argv);
    if (strcmp(cmd, "keys") == 0)
        return rg_cli_keys(sub_argc, sub_argv);
    if (strcmp(cmd, "secret") == 0)
        return rg_cli_secret(sub_argc, sub_argv);
    if (strcmp(cmd, "query") == 0)
        return rg_cli_query(sub_argc, sub_argv);
    if (strcmp(cmd, "oauth") == 0)
        return rg_cli_oauth(sub_argc, sub_argv);
    if (strcmp(cmd, "site") == 0)
        return rg_cli_site(sub_argc, sub_argv);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("readgate %s (adapter ABI %d.%d)\n", READGATE_VERSION, RG_ADAPTER_ABI_MAJOR,
               RG_ADAPTER_ABI_MINOR);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "readgate: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
