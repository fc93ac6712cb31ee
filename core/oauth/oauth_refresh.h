/*
 * The refresh protocol (docs/configuration.md, "OAuth connections"), the same for the background timer,
 * a worker that got a 401 and the CLI:
 *
 *   1. begin a transaction holding the connection's row lock
 *      (rg_state_lock: PostgreSQL SELECT ... FOR UPDATE, SQLite BEGIN
 *      IMMEDIATE) and re-read the row;
 *   2. if another thread or process refreshed meanwhile (the version moved on
 *      and the token is not due), commit and use theirs;
 *   3. call the token endpoint with the refresh token (or a freshly signed
 *      JWT for a service account);
 *   4. write the new access token AND the new (rotated) refresh token,
 *      version + 1, and commit; only then is the new access token used.
 *
 * So one refresh per connection runs at a time across threads and processes,
 * and a rotated refresh token is never presented twice. Between the
 * provider's answer and the commit (step 3 to 4) there is nothing but
 * encryption and one write: a crash exactly there loses the rotated refresh
 * token (the provider has already spent the old one). No protocol over HTTP
 * can close that window; it is kept as short as possible.
 *
 * invalid_grant from the provider sets the row's state to needs_reauth.
 * Blocking: never call it on an event loop (the transport decides how the
 * HTTP call itself runs).
 */
#ifndef RG_OAUTH_REFRESH_H
#define RG_OAUTH_REFRESH_H

#include <stdint.h>

#include "config/config.h"
#include "crypto/keyring.h"
#include "oauth_http.h"
#include "state/state_store.h"

typedef enum rg_refresh_mode {
    /* Refresh if the token expires within margin_s (or there is none yet). */
    RG_REFRESH_IF_DUE,
    /* The provider refused the token of version seen_version: refresh unless
       the stored version is already newer and unexpired. */
    RG_REFRESH_AFTER_REJECT
} rg_refresh_mode;

typedef enum rg_refresh_result {
    RG_REFRESH_DONE,    /* a new access token was committed */
    RG_REFRESH_CURRENT, /* not needed: the stored token is current */
    RG_REFRESH_REAUTH,  /* the connection needs re-authorisation */
    RG_REFRESH_MISSING, /* nothing imported for this connection */
    RG_REFRESH_FAILED   /* try again later; msg says why */
} rg_refresh_result;

typedef struct rg_oauth_target {
    const char *site_id;
    const rg_source *src; /* name and oauth block */
    const rg_keyring *kr;
} rg_oauth_target;

/*
 * Run the protocol. *row_out receives the row as stored afterwards (zeroed
 * for RG_REFRESH_MISSING, and when the store failed). msg gets a reason for
 * anything but DONE/CURRENT, never a secret.
 */
rg_refresh_result rg_oauth_refresh(const rg_oauth_target *t, rg_state_store *st,
                                   const rg_http_transport *tr, rg_refresh_mode mode,
                                   int64_t seen_version, int64_t margin_s, rg_token_row *row_out,
                                   char *msg, size_t msglen);

/* A service account whose grant was refused is tried again after this long
   (its key may have been fixed); a user grant needs `readgate oauth import`. */
#define RG_OAUTH_SA_RETRY_S 300

/* The AAD paths of a connection's stored tokens ("oauth.<source>.access_token"). */
void rg_oauth_token_path(char *out, size_t cap, const char *source, const char *which);

#endif
