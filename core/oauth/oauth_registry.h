/*
 * What this process knows about each OAuth connection (site, source): its
 * state (ok, needs_reauth, missing), the last refresh problem, and a
 * credential generation that goes up whenever a newer access token is seen in
 * the state store. Workers compare the generation with the one they connected
 * under and reconnect with the new token before their next query.
 *
 * Process-wide and outliving configuration reloads (a connection keeps its
 * entry when the runtime is rebuilt). Thread-safe. Each state change is logged
 * once ("oauth S/SRC: ok -> needs_reauth ...").
 */
#ifndef RG_OAUTH_REGISTRY_H
#define RG_OAUTH_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "state/state_store.h"

typedef enum rg_oauth_state {
    RG_OAUTH_STATE_UNKNOWN, /* not read from the store yet */
    RG_OAUTH_STATE_OK,
    RG_OAUTH_STATE_NEEDS_REAUTH,
    RG_OAUTH_STATE_MISSING,
    RG_OAUTH_NSTATES
} rg_oauth_state;

const char *rg_oauth_state_name(rg_oauth_state s);

typedef struct rg_oauth_conn rg_oauth_conn;

/* The entry of (site, source), created on first use; NULL only on out of memory. */
rg_oauth_conn *rg_oauth_conn_get(const char *site_id, const char *source);
unsigned rg_oauth_conn_generation(const rg_oauth_conn *c);
/* The state and, into msg, the last problem ("" when none). */
rg_oauth_state rg_oauth_conn_state(rg_oauth_conn *c, char *msg, size_t msglen);
/* The store's version of the token last seen, and its expiry. */
void rg_oauth_conn_seen(rg_oauth_conn *c, int64_t *version, int64_t *expires_at);

/* Record what the store holds (row NULL: no row). A version different from
   the last one seen raises the generation. */
void rg_oauth_conn_observe(rg_oauth_conn *c, const rg_token_row *row);
/* Record a refresh problem that changes no state (provider down...). */
void rg_oauth_conn_note_error(rg_oauth_conn *c, const char *msg);

/* Refresh outcomes, for /metrics. */
typedef enum { RG_OAUTH_REFRESH_OK, RG_OAUTH_REFRESH_INVALID_GRANT, RG_OAUTH_REFRESH_ERROR,
               RG_OAUTH_REFRESH_NOUTCOMES } rg_oauth_refresh_outcome;
void rg_oauth_count_refresh(rg_oauth_refresh_outcome o);
unsigned long rg_oauth_refresh_count(rg_oauth_refresh_outcome o);

/* Free every entry: at process exit, when no thread uses them any more. */
void rg_oauth_registry_free(void);

#endif
