/*
 * Revoking a connection's grant at its provider (`readgate site delete`):
 * Google POST revoke, Airtable POST /oauth2/v1/revoke, Shopify DELETE
 * /admin/api_permissions/current.json. Blocking.
 */
#ifndef RG_OAUTH_REVOKE_H
#define RG_OAUTH_REVOKE_H

#include "oauth_refresh.h"

/*
 * 0 when the provider no longer honours the grant (revoked now, or it
 * already refused the tokens); -1 with a message otherwise, and the caller
 * must keep the tokens so the revoke can be tried again. A Shopify access
 * token the shop refuses is refreshed once (under the row lock) first.
 */
int rg_oauth_revoke(const rg_oauth_target *t, rg_state_store *st, const rg_http_transport *tr,
                    char *msg, size_t msglen);

#endif
