/* rg_state_store: picks the backend from the URL and forwards to it. */
#include "state/state_store.h"

#include "state/state_backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/keyring.h"

struct rg_state_store {
    const rg_state_ops *ops;
    void *db;
};

rg_state_store *rg_state_open(const char *url, char *err, size_t errlen)
{
    rg_state_store *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (url && strncmp(url, "sqlite:", 7) == 0) {
        st->ops = &rg_state_sqlite_ops;
        st->db = rg_state_sqlite_open(url + 7, err, errlen);
    } else if (url && (strncmp(url, "postgres://", 11) == 0 ||
                       strncmp(url, "postgresql://", 13) == 0)) {
        st->ops = &rg_state_pg_ops;
        st->db = rg_state_pg_open(url, err, errlen);
    } else {
        snprintf(err, errlen, "state_store: expected sqlite:PATH or postgres://...");
    }
    if (!st->db) {
        free(st);
        return NULL;
    }
    return st;
}

int rg_state_open_existing(const char *url, rg_state_store **out, char *err, size_t errlen)
{
    *out = NULL;
    if (url && strncmp(url, "sqlite:", 7) == 0) {
        struct stat sb;
        if (stat(url + 7, &sb) != 0) {
            if (errno == ENOENT)
                return 0;
            snprintf(err, errlen, "state store (sqlite): cannot use %s: %s", url + 7,
                     strerror(errno));
            return -1;
        }
    }
    *out = rg_state_open(url, err, errlen);
    return *out ? 1 : -1;
}

void rg_state_close(rg_state_store *st)
{
    if (!st)
        return;
    st->ops->close(st->db);
    free(st);
}

int rg_state_get(rg_state_store *st, const char *site, const char *source, rg_token_row *out,
                 char *err, size_t errlen)
{
    return st->ops->get(st->db, site, source, out, err, errlen);
}

int rg_state_list(rg_state_store *st, rg_token_row **rows, size_t *n, char *err, size_t errlen)
{
    return st->ops->list(st->db, rows, n, err, errlen);
}

int rg_state_import(rg_state_store *st, const rg_token_row *row, char *err, size_t errlen)
{
    return st->ops->import(st->db, row, err, errlen);
}

int rg_state_delete(rg_state_store *st, const char *site, const char *source, char *err,
                    size_t errlen)
{
    return st->ops->del(st->db, site, source, err, errlen);
}

int rg_state_lock(rg_state_store *st, const char *site, const char *source, rg_token_row *out,
                  char *err, size_t errlen)
{
    return st->ops->lock(st->db, site, source, out, err, errlen);
}

int rg_state_update_locked(rg_state_store *st, const rg_token_row *row, char *err, size_t errlen)
{
    return st->ops->update_locked(st->db, row, err, errlen);
}

int rg_state_lock_all(rg_state_store *st, rg_token_row **rows, size_t *n, char *err,
                      size_t errlen)
{
    return st->ops->lock_all(st->db, rows, n, err, errlen);
}

int rg_state_commit(rg_state_store *st, char *err, size_t errlen)
{
    return st->ops->commit(st->db, err, errlen);
}

void rg_state_rollback(rg_state_store *st) { st->ops->rollback(st->db); }

int rg_state_ensure(rg_state_store *st, const char *site, const char *source,
                    const char *provider, char *err, size_t errlen)
{
    return st->ops->ensure(st->db, site, source, provider, err, errlen);
}

const char *rg_state_kind(const rg_state_store *st) { return st->ops->kind; }

int rg_state_events_add(rg_state_store *st, const rg_event_count *rows, size_t n, char *err,
                        size_t errlen)
{
    return n ? st->ops->events_add(st->db, rows, n, err, errlen) : 0;
}

int rg_state_events_list(rg_state_store *st, const char *site, rg_event_count **rows, size_t *n,
                         char *err, size_t errlen)
{
    return st->ops->events_list(st->db, site, rows, n, err, errlen);
}
