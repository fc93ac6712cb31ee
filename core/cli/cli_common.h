/* What the sub-commands share: reading options, and for the state-store
   commands (oauth, site delete) the loaded configuration, master keys, audit
   log and an open state store. */
#ifndef RG_CLI_COMMON_H
#define RG_CLI_COMMON_H

#include <stdbool.h>

#include "config/config.h"
#include "crypto/keyring.h"
#include "state/state_store.h"

typedef struct rg_cli_env {
    rg_config *cfg;
    rg_keyring *kr; /* NULL unless asked for */
    rg_state_store *st;
    bool curl; /* curl_global_init done */
} rg_cli_env;

/* One option with a value at argv[*i], as "--name VALUE" (then *i moves past
   VALUE) or "--name=VALUE": true with *out set, false when argv[*i] is not
   that option or VALUE is missing. */
bool rg_cli_opt_value(int argc, char **argv, int *i, const char *name, const char **out);

/* -c default: $READGATE_CONFIG, else /etc/readgate/readgate.yaml. */
const char *rg_cli_default_config(void);
/* 0, or -1 after printing why (prefixed with `who`). */
int rg_cli_env_open(rg_cli_env *env, const char *config, const char *who, bool need_keys);
void rg_cli_env_close(rg_cli_env *env);
/* The source of site_id with an oauth block, or NULL after printing why. */
const rg_source *rg_cli_find_oauth_source(const rg_cli_env *env, const char *site_id,
                                          const char *source, const char *who);

#endif
