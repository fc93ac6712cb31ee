/*
 * `readgate site delete S [-c FILE]`: the end of a site's OAuth connections.
 * Each stored grant is revoked at its provider first (docs/configuration.md, "OAuth connections":
 * deleting a site revokes its tokens at the provider, not just locally), and
 * only then deleted from the state store. A revoke that fails is reported,
 * that token is kept (so the command can be run again) and the exit status is
 * 1. The site file itself is the operator's to remove; the command says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_common.h"
#include "oauth/oauth_revoke.h"

static void site_usage(FILE *f)
{
    fprintf(f, "usage: readgate site delete SITE [-c FILE]\n"
               "Revokes every OAuth grant of SITE at its provider, then deletes the tokens from\n"
               "the state store. Remove the site file afterwards and reload the server.\n");
}

static int do_delete(const char *config, const char *site_id)
{
    rg_cli_env env;
    if (rg_cli_env_open(&env, config, "readgate site delete", true) != 0)
        return 1;
    const rg_site *site = rg_config_find_site(env.cfg, site_id);
    if (!site) {
        fprintf(stderr, "readgate site delete: no site '%s' in %s\n", site_id, env.cfg->sites_dir);
        rg_cli_env_close(&env);
        return 1;
    }
    int failed = 0;
    char err[300];
    for (size_t i = 0; i < site->nsources; i++) {
        const rg_source *src = &site->sources[i];
        if (!src->oauth)
            continue;
        rg_token_row row = {0};
        int found = rg_state_get(env.st, site_id, src->name, &row, err, sizeof err);
        rg_token_row_clear(&row);
        if (found < 0) {
            printf("%s/%s: FAILED: %s\n", site_id, src->name, err);
            failed = 1;
            continue;
        }
        if (!found) {
            printf("%s/%s: no token stored\n", site_id, src->name);
            continue;
        }
        rg_oauth_target t = {.site_id = site_id, .src = src, .kr = env.kr};
        char msg[300];
        if (rg_oauth_revoke(&t, env.st, &rg_http_blocking, msg, sizeof msg) != 0) {
            printf("%s/%s: FAILED to revoke at %s: %s; the token is kept, run this again\n",
                   site_id, src->name, rg_oauth_provider_name(src->oauth->provider), msg);
            failed = 1;
            continue;
        }
        if (rg_state_delete(env.st, site_id, src->name, err, sizeof err) < 0) {
            printf("%s/%s: revoked at %s, but FAILED to delete locally: %s\n", site_id, src->name,
                   rg_oauth_provider_name(src->oauth->provider), err);
            failed = 1;
            continue;
        }
        printf("%s/%s: revoked at %s and deleted\n", site_id, src->name,
               rg_oauth_provider_name(src->oauth->provider));
    }
    /* Rows whose source is no longer in the site file can't be revoked
       (their client credentials are gone): say so rather than drop them. */
    rg_token_row *rows = NULL;
    size_t n = 0;
    if (rg_state_list(env.st, &rows, &n, err, sizeof err) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(rows[i].site_id, site_id) != 0)
                continue;
            bool known = false;
            for (size_t j = 0; j < site->nsources; j++)
                known |= site->sources[j].oauth && !strcmp(site->sources[j].name, rows[i].source);
            if (!known) {
                printf("%s/%s: FAILED: the site file has no oauth block for this source, so its "
                       "grant can't be revoked; the token is kept\n",
                       site_id, rows[i].source);
                failed = 1;
            }
        }
    }
    rg_token_rows_free(rows, n);
    if (failed)
        printf("some grants were not revoked; keep the site file and run this again\n");
    else
        printf("done: now remove the site file %s and reload the server (SIGHUP)\n", site->file);
    rg_cli_env_close(&env);
    return failed ? 1 : 0;
}

int rg_cli_site(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "delete") != 0) {
        site_usage(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
        return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
    }
    const char *site = NULL, *config = rg_cli_default_config();
    for (int i = 2; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            config = argv[++i];
        else if (!site && argv[i][0] != '-')
            site = argv[i];
        else {
            fprintf(stderr, "readgate site delete: unexpected argument '%s'\n", argv[i]);
            site_usage(stderr);
            return 2;
        }
    }
    if (!site) {
        site_usage(stderr);
        return 2;
    }
    return do_delete(config, site);
}
