#include "http/accept_balance.h"

#include <event2/event.h>
#include <event2/listener.h>
#include <stdatomic.h>

#include "server/server.h"

static int index_of(const rg_loop *loop)
{
    return (int)(loop - loop->srv->loops);
}

/* On the loop's own thread: accept if and only if it is this loop's turn. */
static void apply(rg_loop *loop)
{
    rg_server *srv = loop->srv;
    if (!loop->listener || srv->nloops < 2)
        return;
    int on = atomic_load(&srv->accepting) == index_of(loop) && !atomic_load(&srv->stopping);
    if (on == loop->accepting)
        return;
    if ((on ? evconnlistener_enable(loop->listener) : evconnlistener_disable(loop->listener)) == 0)
        loop->accepting = on;
}

static void on_balance(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    apply(arg);
}

int rg_balance_init(rg_loop *loop)
{
    loop->accepting = 1; /* a new listener is enabled */
    if (loop->srv->nloops < 2)
        return 0;
    loop->balance_ev = event_new(loop->base, -1, 0, on_balance, loop);
    if (!loop->balance_ev)
        return -1;
    apply(loop); /* before the threads start: only loop 0 stays enabled */
    return 0;
}

void rg_balance_free(rg_loop *loop)
{
    if (loop->balance_ev)
        event_free(loop->balance_ev);
    loop->balance_ev = NULL;
}

/* Hand the turn to `to`: every loop looks again (thread-safe with
   evthread_use_pthreads()), so concurrent hand-overs settle on the last. */
static void hand_turn(rg_server *srv, int to)
{
    atomic_store(&srv->accepting, to);
    for (int i = 0; i < srv->nloops; i++)
        event_active(srv->loops[i].balance_ev, 0, 0);
}

static int load_of(rg_loop *l)
{
    return atomic_load_explicit(&l->open_conns, memory_order_relaxed);
}

void rg_balance_opened(rg_loop *loop)
{
    atomic_fetch_add_explicit(&loop->open_conns, 1, memory_order_relaxed);
}

void rg_balance_accepted(rg_loop *loop, size_t pending)
{
    rg_server *srv = loop->srv;
    if (srv->nloops < 2 || atomic_load(&srv->accepting) != index_of(loop))
        return;
    int mine = load_of(loop) + (int)pending, best = index_of(loop), best_load = mine;
    for (int i = 0; i < srv->nloops; i++) {
        int l = load_of(&srv->loops[i]);
        if (i != index_of(loop) && l < best_load) {
            best = i;
            best_load = l;
        }
    }
    if (best != index_of(loop)) {
        hand_turn(srv, best);
        apply(loop);
    }
}

void rg_balance_closed(rg_loop *loop)
{
    atomic_fetch_sub_explicit(&loop->open_conns, 1, memory_order_relaxed);
    rg_server *srv = loop->srv;
    if (srv->nloops < 2)
        return;
    int cur = atomic_load(&srv->accepting);
    if (cur == index_of(loop) || cur < 0 || cur >= srv->nloops)
        return;
    /* Take the turn only when clearly lighter, so that closing connections
       on two loops do not toss it back and forth. */
    if (load_of(loop) + 1 < load_of(&srv->loops[cur]))
        hand_turn(srv, index_of(loop));
}
