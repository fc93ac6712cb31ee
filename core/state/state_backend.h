/* Private to core/state: what each backend (state_sqlite.c, state_pg.c)
   implements behind rg_state_store. Same contracts as state_store.h. */
#ifndef RG_STATE_BACKEND_H
#define RG_STATE_BACKEND_H

#include <stddef.h>

#include "state/state_rows.h"

typedef struct rg_state_ops {
    const char *kind;
    void (*close)(void *db);
    int (*get)(void *db, const char *site, const char *source, rg_token_row *out, char *err,
               size_t errlen);
    int (*list)(void *db, rg_token_row **rows, size_t *n, char *err, size_t errlen);
    int (*import)(void *db, const rg_token_row *row, char *err, size_t errlen);
    int (*del)(void *db, const char *site, const char *source, char *err, size_t errlen);
    int (*lock)(void *db, const char *site, const char *source, rg_token_row *out, char *err,
                size_t errlen);
    int (*update_locked)(void *db, const rg_token_row *row, char *err, size_t errlen);
    int (*commit)(void *db, char *err, size_t errlen);
    void (*rollback)(void *db);
    int (*ensure)(void *db, const char *site, const char *source, const char *provider,
                  char *err, size_t errlen);
    int (*lock_all)(void *db, rg_token_row **rows, size_t *n, char *err, size_t errlen);
    int (*events_add)(void *db, const rg_event_count *rows, size_t n, char *err, size_t errlen);
    int (*events_list)(void *db, const char *site, rg_event_count **rows, size_t *n, char *err,
                       size_t errlen);
} rg_state_ops;

/* Each returns the backend's handle or NULL with a message. */
void *rg_state_sqlite_open(const char *path, char *err, size_t errlen);
void *rg_state_pg_open(const char *url, char *err, size_t errlen);
extern const rg_state_ops rg_state_sqlite_ops;
extern const rg_state_ops rg_state_pg_ops;

/* Shared by both: the table, in SQL both accept. */
#define RG_STATE_SCHEMA                                                                      \
    "CREATE TABLE IF NOT EXISTS oauth_tokens ("                                             \
    " site_id TEXT NOT NULL, source TEXT NOT NULL, provider TEXT NOT NULL,"                \
    " access_token_enc TEXT, refresh_token_enc TEXT,"                                        \
    " expires_at BIGINT NOT NULL DEFAULT 0, last_refresh BIGINT NOT NULL DEFAULT 0,"        \
    " state TEXT NOT NULL, error TEXT NOT NULL DEFAULT '',"                                  \
    " updated_at BIGINT NOT NULL, version BIGINT NOT NULL DEFAULT 0,"                       \
    " PRIMARY KEY (site_id, source));"                                                       \
    "CREATE TABLE IF NOT EXISTS widget_events ("                                            \
    " site_id TEXT NOT NULL, day TEXT NOT NULL, event TEXT NOT NULL,"                       \
    " collection TEXT NOT NULL, field TEXT NOT NULL, latency TEXT NOT NULL,"                \
    " n BIGINT NOT NULL DEFAULT 0, items BIGINT NOT NULL DEFAULT 0,"                         \
    " PRIMARY KEY (site_id, day, event, collection, field, latency))"

/* Adding counts: the same upsert in both (SQLite 3.24+, PostgreSQL 9.5+). */
#define RG_EVENTS_UPSERT(p1, p2, p3, p4, p5, p6, p7, p8)                                    \
    "INSERT INTO widget_events (site_id, day, event, collection, field, latency, n, items)" \
    " VALUES (" p1 ", " p2 ", " p3 ", " p4 ", " p5 ", " p6 ", " p7 ", " p8 ")"              \
    " ON CONFLICT (site_id, day, event, collection, field, latency) DO UPDATE SET"          \
    " n = widget_events.n + excluded.n, items = widget_events.items + excluded.items"
#define RG_EVENTS_LIST                                                                       \
    "SELECT site_id, event, collection, field, latency, SUM(n), SUM(items) FROM widget_events"
#define RG_EVENTS_GROUP " GROUP BY site_id, event, collection, field, latency"              \
    " ORDER BY site_id, event, collection, field, latency"

#define RG_STATE_COLUMNS                                                                     \
    "site_id, source, provider, access_token_enc, refresh_token_enc, expires_at,"           \
    " last_refresh, state, error, updated_at, version"

#endif
