#include "cli_common.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/audit.h"

bool rg_cli_opt_value(int argc, char **argv, int *i, const char *name, const char **out)
{
    size_t n = strlen(name);
    if (strcmp(argv[*i], name) == 0) {
        if (*i + 1 >= argc)
            return false;
        *out = argv[++*i];
        return true;
    }
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=') {
        *out = argv[*i] + n + 1;
        return true;
    }
    return false;
}

const char *rg_cli_default_config(void)
{
    const char *p = getenv("READGATE_CONFIG");
    return p ? p : "/etc/readgate/readgate.yaml";
}

int rg_cli_env_open(rg_cli_env *env, const char *config, const char *who, bool need_keys)
{
    memset(env, 0, sizeof *env);
    rg_diags d = {0};
    env->cfg = rg_config_load(config, &d);
    for (size_t i = 0; i < d.count; i++)
        fprintf(stderr, "%s\n", d.lines[i]);
    rg_diags_free(&d);
    if (!env->cfg) {
        fprintf(stderr, "%s: the configuration has errors (see above)\n", who);
        return -1;
    }
    char why[512];
    if (need_keys) {
        env->kr = rg_keyring_load(env->cfg->keys_env, env->cfg->keys_file, why, sizeof why);
        if (!env->kr) {
            fprintf(stderr, "%s: master keys: %s\n", who, why);
            rg_cli_env_close(env);
            return -1;
        }
        if (rg_audit_open(env->cfg->audit_log, why, sizeof why) != 0) {
            fprintf(stderr, "%s: audit_log: %s\n", who, why);
            rg_cli_env_close(env);
            return -1;
        }
    }
    env->st = rg_state_open(env->cfg->state_store, why, sizeof why);
    if (!env->st) {
        fprintf(stderr, "%s: %s\n", who, why);
        rg_cli_env_close(env);
        return -1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "%s: libcurl could not be initialised\n", who);
        rg_cli_env_close(env);
        return -1;
    }
    env->curl = true;
    return 0;
}

void rg_cli_env_close(rg_cli_env *env)
{
    rg_state_close(env->st);
    if (env->kr) {
        rg_keyring_free(env->kr);
        rg_audit_close();
    }
    rg_config_free(env->cfg);
    if (env->curl)
        curl_global_cleanup();
    memset(env, 0, sizeof *env);
}

const rg_source *rg_cli_find_oauth_source(const rg_cli_env *env, const char *site_id,
                                          const char *source, const char *who)
{
    const rg_site *site = rg_config_find_site(env->cfg, site_id);
    if (!site) {
        fprintf(stderr, "%s: no site '%s' in %s\n", who, site_id, env->cfg->sites_dir);
        return NULL;
    }
    for (size_t i = 0; i < site->nsources; i++) {
        const rg_source *s = &site->sources[i];
        if (strcmp(s->name, source) != 0)
            continue;
        if (!s->oauth) {
            fprintf(stderr, "%s: source '%s' of site '%s' has no oauth block\n", who, source,
                    site_id);
            return NULL;
        }
        return s;
    }
    fprintf(stderr, "%s: site '%s' has no source '%s'\n", who, site_id, source);
    return NULL;
}
