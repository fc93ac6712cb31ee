#include "oauth_rekey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/audit.h"
#include "crypto/secret.h"
#include "oauth_refresh.h"

/* One stored token value: 1 re-encrypted into *enc, 0 already under `to`,
   -1 could not be (err says why). */
static int rekey_value(const rg_keyring *kr, const rg_master_key *to, const char *site,
                       const char *source, const char *which, char **enc, char *err,
                       size_t errlen)
{
    char path[256], why[256], *fresh = NULL;
    rg_oauth_token_path(path, sizeof path, source, which);
    int r = rg_secret_reencrypt(kr, to, site, path, *enc, &fresh, why, sizeof why);
    if (r <= 0) {
        if (r < 0)
            snprintf(err, errlen, "%s/%s: %s", site, path, why);
        return r;
    }
    /* Ciphertexts are wiped like every copy of token material (state_store.c). */
    rg_secure_zero(*enc, strlen(*enc));
    free(*enc);
    *enc = fresh;
    return 1;
}

int rg_oauth_rekey_store(rg_state_store *st, const rg_keyring *kr, const rg_master_key *to,
                         bool dry_run, rg_rekey_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    rg_token_row *rows = NULL;
    size_t n = 0;
    if (rg_state_lock_all(st, &rows, &n, err, errlen) != 0)
        return -1;
    res->rows = n;
    char first[1024] = "";
    for (size_t i = 0; i < n; i++) {
        rg_token_row *row = &rows[i];
        char **vals[2] = {&row->access_token_enc, &row->refresh_token_enc};
        const char *which[2] = {"access_token", "refresh_token"};
        size_t changed = 0;
        for (int k = 0; k < 2; k++) {
            if (!*vals[k])
                continue; /* no token of that kind (placeholder, no refresh token) */
            char why[1024];
            int r = rekey_value(kr, to, row->site_id, row->source, which[k], vals[k], why,
                                sizeof why);
            if (r < 0) {
                if (res->failed++ == 0)
                    snprintf(first, sizeof first, "%s", why);
            } else if (r > 0) {
                changed++;
            } else {
                res->current++;
            }
        }
        res->reencrypted += changed;
        /* After a failure the transaction is rolled back anyway; the other
           values are still opened, so the message can say how many fail. */
        if (changed == 0 || res->failed || dry_run)
            continue;
        /* Every other column as read under the lock: version stays. */
        if (rg_state_update_locked(st, row, err, errlen) != 0) {
            /* rg_state_update_locked rolled the transaction back. */
            rg_token_rows_free(rows, n);
            return -1;
        }
    }
    rg_token_rows_free(rows, n);
    if (res->failed) {
        rg_state_rollback(st);
        snprintf(err, errlen, "%zu token value%s could not be re-encrypted; the first: %s",
                 res->failed, res->failed == 1 ? "" : "s", first);
        return -1;
    }
    if (dry_run) {
        rg_state_rollback(st);
        return 0;
    }
    return rg_state_commit(st, err, errlen);
}
