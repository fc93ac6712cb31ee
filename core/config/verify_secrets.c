/*
 * Opening every encrypted option (and the ai block's key) once at load time, so that a key file that
 * lacks a key id, a truncated ciphertext or a value moved from another site
 * stops `serve` (or a reload, which then keeps the old configuration) with a
 * message naming the field — instead of a 503 hours later, on first use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "config.h"
#include "crypto/audit.h"
#include "crypto/keyring.h"
#include "crypto/pem_key.h"
#include "crypto/secret.h"

/* A service account key must be a PEM RSA private key: RS256 is what Google's
   JWT bearer grant accepts. */
static int pem_rsa_ok(const char *pem, size_t len, char *why, size_t whylen)
{
    EVP_PKEY *k = rg_pem_private_key(pem, len);
    int ok = k && EVP_PKEY_is_a(k, "RSA");
    if (!ok)
        snprintf(why, whylen, "%s", k ? "the key is not an RSA key (RS256 needs one)"
                                      : "the value is not a PEM private key");
    EVP_PKEY_free(k);
    return ok ? 0 : -1;
}

/* One encrypted value of an oauth block; 1 if it failed. */
static size_t verify_one(const rg_site *site, const struct rg_keyring *kr, rg_diags *d,
                         const char *path, const char *enc, int line, bool pem)
{
    char why[256];
    char *plain = NULL;
    size_t len = 0;
    if (rg_secret_decrypt_audited(kr, site->site_id, path, enc, "verify", &plain, &len, why,
                                  sizeof why) != 0) {
        rg_diag_add(d, site->file, line, "%s: cannot decrypt: %s", path, why);
        return 1;
    }
    int bad = pem && pem_rsa_ok(plain, len, why, sizeof why) != 0;
    rg_secure_zero(plain, len);
    free(plain);
    if (bad)
        rg_diag_add(d, site->file, line, "%s: %s", path, why);
    return bad ? 1 : 0;
}

static size_t verify_oauth(const rg_site *site, const rg_source *src,
                           const struct rg_keyring *kr, rg_diags *d)
{
    const rg_oauth_config *o = src->oauth;
    char path[256];
    size_t bad = 0;
    if (o->client_secret) {
        snprintf(path, sizeof path, "sources.%s.oauth.client_secret", src->name);
        bad += verify_one(site, kr, d, path, o->client_secret, o->client_secret_line, false);
    }
    if (o->sa_private_key) {
        snprintf(path, sizeof path, "sources.%s.oauth.service_account.private_key", src->name);
        bad += verify_one(site, kr, d, path, o->sa_private_key, o->sa_private_key_line, true);
    }
    return bad;
}

size_t rg_config_verify_secrets(const rg_config *cfg, const struct rg_keyring *kr, rg_diags *d)
{
    size_t bad = 0;
    for (size_t i = 0; i < cfg->nsites; i++) {
        const rg_site *site = &cfg->sites[i];
        if (site->ai && site->ai->api_key)
            bad += verify_one(site, kr, d, "ai.api_key", site->ai->api_key,
                              site->ai->api_key_line, false);
        for (size_t j = 0; j < site->nsources; j++) {
            const rg_source *src = &site->sources[j];
            if (src->oauth)
                bad += verify_oauth(site, src, kr, d);
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
