/*
 * Request coalescing: identical queries in flight at the same time share one
 * backend call. The first caller opens a flight under the query's key and
 * runs it; callers that arrive while it runs join it as waiters; whoever
 * finishes the flight closes it and wakes every waiter with the same answer
 * (or the same error). Nothing here knows what a waiter is or how it is
 * woken: waiters are links embedded in the callers' own structs.
 *
 * Sharded by key hash, each shard with its own lock, so loops don't contend
 * on one lock. Thread-safe.
 */
#ifndef RG_COALESCE_H
#define RG_COALESCE_H

#include <stddef.h>
#include <stdint.h>

typedef struct rg_flight_waiter {
    struct rg_flight_waiter *next;
} rg_flight_waiter;

typedef struct rg_flight rg_flight;
typedef struct rg_flights rg_flights;

/* NULL when out of memory. */
rg_flights *rg_flights_new(void);
/* Every flight must have been closed. NULL is fine. */
void rg_flights_free(rg_flights *t);

/* A hash of key keyed with a random secret of this table (keys carry
   client values: a predictable hash would let a client build long chains). */
uint64_t rg_flights_hash(const rg_flights *t, const void *key, size_t len);

typedef enum rg_flight_role {
    RG_FLIGHT_LEAD,   /* a new flight was opened: run it, then close it */
    RG_FLIGHT_FOLLOW, /* joined an open flight: wait to be woken */
    RG_FLIGHT_FOUND,  /* found(arg) found the answer elsewhere: nothing registered */
    RG_FLIGHT_ERROR   /* out of memory: nothing registered */
} rg_flight_role;

/*
 * Under the lock of the key's shard: if a flight for key is open, add w to
 * its waiters, set *joined to the value it was opened with and return
 * FOLLOW. Otherwise call found(arg) (when not NULL): a last look elsewhere
 * (the result cache) made under the lock, so an answer published just before
 * its flight closed is not missed; nonzero means FOUND. Otherwise open a
 * flight for key carrying `value`, with w as its first waiter, set *flight
 * and return LEAD. `hash` is rg_flights_hash(t, key, len).
 */
rg_flight_role rg_flights_join(rg_flights *t, const void *key, size_t len, uint64_t hash,
                               void *value, rg_flight_waiter *w, int (*found)(void *arg),
                               void *arg, void **joined, rg_flight **flight);

/*
 * Close the flight: from now on nobody joins it (an identical query opens a
 * new one). Frees it and returns its waiters (a list through `next`) for
 * the caller to wake; read each `next` before waking a waiter, which may
 * free it at once.
 */
rg_flight_waiter *rg_flights_close(rg_flights *t, rg_flight *f);

/* Open flights (for tests). */
size_t rg_flights_open(rg_flights *t);

#endif
