/*
 * With several event loops, one listener at a time accepts: the one of the
 * loop with the fewest open connections. When every loop accepted on the
 * shared socket at once, the kernel woke whichever was idle first: a burst
 * of new keep-alive connections often all landed on one loop and stayed
 * there, so a second loop added nothing (and the split changed from run to
 * run). Each loop only ever enables or disables its own listener; the
 * others ask it to look again through an event.
 */
#ifndef RG_HTTP_ACCEPT_BALANCE_H
#define RG_HTTP_ACCEPT_BALANCE_H

#include <stddef.h>

struct rg_loop;
struct rg_server;

/* Sets up the loop's part (its listener must exist); loop 0 starts as the
   one accepting. 0, or -1 when out of memory. */
int rg_balance_init(struct rg_loop *loop);
void rg_balance_free(struct rg_loop *loop);

/* This loop just accepted a connection; `pending` of its accepted ones are
   not yet open (counted). Passes the turn on if another loop has fewer, and
   stops accepting at once (evconnlistener would go on draining the
   backlog within the same callback otherwise). On the loop's thread. */
void rg_balance_accepted(struct rg_loop *loop, size_t pending);
/* A public connection of this loop opened or closed (on the loop's thread). */
void rg_balance_opened(struct rg_loop *loop);
void rg_balance_closed(struct rg_loop *loop);

#endif
