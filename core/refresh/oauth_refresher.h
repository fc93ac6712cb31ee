/*
 * The background token refresher (docs/configuration.md, "OAuth connections"). A timer on the main event
 * loop asks a thread of its own to look at every OAuth connection of the
 * current configuration: it reads the state store (which also notices tokens
 * another process refreshed: workers then reconnect) and refreshes each token
 * due within its refresh_margin_s (minus a per-process jitter, so instances
 * don't all refresh at the same second) under the store's row lock.
 *
 * The store calls can block (SQLite busy waits, PostgreSQL lock waits), so
 * they run on that thread; the HTTP calls run on the main loop through
 * libcurl's multi interface (core/oauth/oauth_multi.h). Neither the main loop
 * nor an HTTP loop ever waits.
 */
#ifndef RG_OAUTH_REFRESHER_H
#define RG_OAUTH_REFRESHER_H

struct rg_server;
typedef struct rg_oauth_refresher rg_oauth_refresher;

/* On the main thread, with srv->main_base and srv->current set. NULL on error. */
rg_oauth_refresher *rg_oauth_refresher_start(struct rg_server *srv);
/* On the main thread: cancel what is in flight, join the thread, free. */
void rg_oauth_refresher_stop(rg_oauth_refresher *r);

#endif
