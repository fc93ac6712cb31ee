/*
 * Opening every encrypted option once at load time, so that a key file that
 * lacks a key id, a truncated ciphertext or a value moved from another site
 * stops `serve` (or a reload, which then keeps the old configuration) with a
 * message naming the field — instead of a 503 hours later, on first use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto/audit.h"
#include "crypto/keyring.h"
#include "crypto/secret.h"

size_t rg_config_verify_secrets(const rg_config *cfg, const struct rg_keyring *kr, rg_diags *d)
{
    size_t bad = 0;
    for (size_t i = 0; i < cfg->nsites; i++) {
        const rg_site *site = &cfg->sites[i];
        for (size_t j = 0; j < site->nsources; j++) {
            const rg_source *src = &site->sources[j];
            for (size_t k = 0; k < src->noptions; k++) {
                const rg_source_option *o = &src->options[k];
                if (!rg_secret_is_encrypted(o->value))
                    continue;
                char path[256], why[256];
                snprintf(path, sizeof path, "sources.%s.options.%s", src->name, o->key);
                char *plain = NULL;
                size_t len = 0;
                if (rg_secret_decrypt_audited(kr, site->site_id, path, o->value, "verify", &plain,
                                              &len, why, sizeof why) != 0) {
                    rg_diag_add(d, site->file, o->line, "%s: cannot decrypt: %s", path, why);
                    bad++;
                    continue;
                }
                rg_secure_zero(plain, len);
                free(plain);
            }
        }
    }
    return bad;
}
