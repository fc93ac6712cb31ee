/*
 * The access token a source's worker connects with, for sources on an OAuth
 * connection (docs/configuration.md, "OAuth connections"): read from the
 * state store and decrypted just before connecting, refreshed first when it
 * is about to expire, refreshed once more when the provider refuses it. The
 * background refresher (oauth_refresher.h) keeps tokens fresh ahead of time;
 * this is the path of a worker that finds one stale anyway.
 */
#ifndef RG_SOURCE_OAUTH_H
#define RG_SOURCE_OAUTH_H

#include <readgate/adapter.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "crypto/keyring.h"

/*
 * A status of the core only (never returned by an adapter): the source's
 * OAuth connection needs re-authorisation (`readgate oauth import`); the
 * message says so. Answered as 503 source_unavailable.
 */
#define RG_ERR_REAUTH ((rg_status)32)

/* One per source pool; NULL for sources without an OAuth connection. */
typedef struct rg_source_oauth rg_source_oauth;

/* What one worker thread's connection was opened with. Zero-initialise. */
typedef struct rg_oauth_worker {
    struct rg_state_store *st; /* opened on first use, by this thread only */
    unsigned conn_gen;         /* credential generation the connection was opened under */
    int64_t conn_version;      /* store version of its access token */
} rg_oauth_worker;

/* NULL on out of memory. The pointers must outlive it (the runtime's config). */
rg_source_oauth *rg_source_oauth_new(const char *state_url, const rg_site *site,
                                     const rg_source *src, const rg_keyring *kr);
void rg_source_oauth_free(rg_source_oauth *o);

/*
 * The current access token, decrypted into *token (the caller wipes and
 * frees it): RG_OK, or RG_ERR_REAUTH / RG_ERR_UNAVAILABLE / RG_ERR_CONFIG
 * with err filled. Records in w what the connection is opened under.
 */
rg_status rg_source_oauth_token(rg_source_oauth *o, rg_oauth_worker *w, char **token,
                                rg_error *err);

/* Is a connection opened under w too old: a newer token was committed, or
   the connection needs re-authorisation? */
bool rg_source_oauth_stale(const rg_source_oauth *o, const rg_oauth_worker *w);

/* The provider refused the token the connection was opened with: one
   refresh (unless another thread or process already stored a newer one).
   RG_OK means: reconnect. `name` is the source's name for the log. */
rg_status rg_source_oauth_after_reject(rg_source_oauth *o, rg_oauth_worker *w, const char *name,
                                       rg_error *err);

/* The end of a worker thread. */
void rg_oauth_worker_close(rg_oauth_worker *w);

#endif
