/*
 * Re-encrypting the OAuth tokens of a state store under one master key: the
 * state-store half of `readgate keys rotate` (core/cli/cli_rotate.c rewrites
 * the site files). Without it the tokens would move to a new key only as each
 * one is refreshed, and the old key could never be retired safely.
 */
#ifndef RG_OAUTH_REKEY_H
#define RG_OAUTH_REKEY_H

#include <stdbool.h>
#include <stddef.h>

#include "crypto/keyring.h"
#include "state/state_store.h"

typedef struct rg_rekey_result {
    size_t rows;        /* connections (rows) in the store */
    size_t reencrypted; /* token values re-encrypted (in a dry run: that would be) */
    size_t current;     /* token values already under the target key, left alone */
    size_t failed;      /* token values that could not be re-encrypted */
} rg_rekey_result;

/*
 * Every access and refresh token of every row of `st`, whatever site or
 * source it belongs to, decrypted (audited, purpose "rotate") and encrypted
 * again under `to` with the same AAD, in one transaction that holds every
 * row's lock (rg_state_lock_all), so it cannot race a refresh. Nothing else
 * of a row changes: not the token values, not the version (running processes
 * need not reconnect: the plaintext is the same), not updated_at. Values
 * already under `to` are left alone, so running it again is harmless.
 *
 * 0: committed (dry_run: rolled back after counting). -1: nothing in the
 * store was changed, and err says why — the first value that failed (site,
 * field and reason, never a secret) and how many did.
 */
int rg_oauth_rekey_store(rg_state_store *st, const rg_keyring *kr, const rg_master_key *to,
                         bool dry_run, rg_rekey_result *res, char *err, size_t errlen);

#endif
