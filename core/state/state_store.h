/*
 * The state store: where OAuth tokens live between restarts and are shared by
 * every readgate process of an installation. `sqlite:PATH` (the default: one
 * host, WAL mode) or `postgres://...` (several hosts).
 *
 * One table, oauth_tokens, one row per (site, source). Token values are
 * stored encrypted (docs/configuration.md and SECURITY.md, AAD "<site>/oauth.<source>.access_token"
 * and ".refresh_token"); this module never sees plaintext.
 *
 * A handle is one database connection and is used by one thread at a time;
 * each thread that needs the store opens its own. Every call may block (lock
 * waits, I/O), so none may run on an event loop.
 *
 * The refresh protocol (core/oauth/oauth_refresh.c) uses rg_state_lock():
 * a transaction holding the row's write lock (PostgreSQL: SELECT ... FOR
 * UPDATE; SQLite: BEGIN IMMEDIATE), so exactly one refresh per connection runs
 * at a time across threads and processes.
 */
#ifndef RG_STATE_STORE_H
#define RG_STATE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state/state_rows.h"

typedef struct rg_state_store rg_state_store;

/* Open (and create the schema on first use). `url` is the state_store
   setting. NULL with a message that never contains a password. */
rg_state_store *rg_state_open(const char *url, char *err, size_t errlen);
void rg_state_close(rg_state_store *st);
/* Like rg_state_open, except that a SQLite store whose file does not exist is
   not created: nothing can be stored there yet, and a command that only
   rewrites what is stored (keys rotate) should not leave an empty database
   behind. 1 opened (*out set), 0 no such store (*out NULL), -1 error. */
int rg_state_open_existing(const char *url, rg_state_store **out, char *err, size_t errlen);

/* Read one row without locking: 1 found, 0 absent, -1 error. */
int rg_state_get(rg_state_store *st, const char *site, const char *source, rg_token_row *out,
                 char *err, size_t errlen);
/* Every row, ordered by site and source. 0 or -1. */
int rg_state_list(rg_state_store *st, rg_token_row **rows, size_t *n, char *err, size_t errlen);

/*
 * Insert or replace the tokens of a connection in one transaction (under the
 * row lock, so never in the middle of a refresh): the given values, state,
 * error, with version = the old version + 1 so running processes notice.
 */
int rg_state_import(rg_state_store *st, const rg_token_row *row, char *err, size_t errlen);
/* Delete a row (1 deleted, 0 absent, -1 error). */
int rg_state_delete(rg_state_store *st, const char *site, const char *source, char *err,
                    size_t errlen);

/*
 * Begin a transaction and take the row's write lock, then read it.
 * 1: found, locked, in *out. 0: absent (the transaction is open; end it with
 * rg_state_rollback). -1: error (no transaction left open).
 */
int rg_state_lock(rg_state_store *st, const char *site, const char *source, rg_token_row *out,
                  char *err, size_t errlen);
/*
 * Inside rg_state_lock's transaction: write every column of `row` (which must
 * be the locked one); version becomes row->version (the caller sets it).
 * Then rg_state_commit. -1 on error (the transaction is then rolled back).
 */
int rg_state_update_locked(rg_state_store *st, const rg_token_row *row, char *err, size_t errlen);
/*
 * Begin a transaction holding the write lock of every row (PostgreSQL:
 * SELECT ... FOR UPDATE of the whole table; SQLite: BEGIN IMMEDIATE) and read
 * them all, ordered by site and source: what key rotation needs to rewrite
 * every token without racing a refresh, which takes the same row lock. Rows
 * inserted after the lock is taken are not included (PostgreSQL). Then
 * rg_state_update_locked for each row to change, and rg_state_commit or
 * rg_state_rollback. 0 (the transaction is open), -1 (none left open).
 */
int rg_state_lock_all(rg_state_store *st, rg_token_row **rows, size_t *n, char *err,
                      size_t errlen);
int rg_state_commit(rg_state_store *st, char *err, size_t errlen);
void rg_state_rollback(rg_state_store *st);

/* Insert a placeholder row (no tokens, state ok, expires_at 1 so it is due)
   unless one exists: a service account's connection needs a row to lock
   before its first token is minted. 0 or -1. */
int rg_state_ensure(rg_state_store *st, const char *site, const char *source,
                    const char *provider, char *err, size_t errlen);

/* "sqlite" or "postgres". */
const char *rg_state_kind(const rg_state_store *st);

/* Add the counts in one transaction. 0 or -1. */
int rg_state_events_add(rg_state_store *st, const rg_event_count *rows, size_t n, char *err,
                        size_t errlen);
/* Totals over every day, of one site or (site NULL) all; *rows malloc'd. */
int rg_state_events_list(rg_state_store *st, const char *site, rg_event_count **rows, size_t *n,
                         char *err, size_t errlen);

#endif
