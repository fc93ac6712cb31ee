/*
 * The rows the state store keeps (state_store.h): an OAuth connection's
 * tokens, and a day's widget event counts. Shared by the store's interface
 * and each of its backends, which is why they are apart from both.
 */
#ifndef RG_STATE_ROWS_H
#define RG_STATE_ROWS_H

#include <stddef.h>
#include <stdint.h>

/* Connection states as stored (`state` column). "missing" is the absence of
   a row and is never stored. */
#define RG_TOKEN_STATE_OK "ok"
#define RG_TOKEN_STATE_NEEDS_REAUTH "needs_reauth"

typedef struct rg_token_row {
    char *site_id;
    char *source;
    char *provider;
    char *access_token_enc;  /* NULL when none yet */
    char *refresh_token_enc; /* NULL when the grant has none */
    int64_t expires_at;      /* unix seconds; 0 = does not expire */
    int64_t last_refresh;    /* unix seconds; 0 = never */
    char *state;             /* RG_TOKEN_STATE_* */
    char *error;             /* last refresh problem ("" when none) */
    int64_t updated_at;
    int64_t version;         /* +1 on every new access token */
} rg_token_row;

void rg_token_row_clear(rg_token_row *r);
/* Deep copy; 0 or -1 (out of memory). */
int rg_token_row_copy(rg_token_row *dst, const rg_token_row *src);
void rg_token_rows_free(rg_token_row *rows, size_t n);

/*
 * Widget analytics (POST /v1/{site}/events): structural counts only, summed
 * per day by every instance sharing the store. A row counts `n` events and
 * `items` (their counts added up) for one (site, day, event, collection,
 * field, latency bucket); "" where a dimension does not apply.
 */
typedef struct rg_event_count {
    char site_id[33];
    char day[11];        /* YYYY-MM-DD, UTC; "" in totals */
    char event[33];
    char collection[65];
    char field[65];
    char latency[17];
    int64_t n;
    int64_t items;
} rg_event_count;

#endif
