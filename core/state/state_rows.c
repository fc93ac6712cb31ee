#include "state/state_rows.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/keyring.h"

static char *dup_or_null(const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

/* Ciphertexts are not secrets, but they are wiped anyway: cheap, and it
   keeps every copy of token material handled the same way. */
static void free_wiped(char *s)
{
    if (s) {
        rg_secure_zero(s, strlen(s));
        free(s);
    }
}

void rg_token_row_clear(rg_token_row *r)
{
    if (!r)
        return;
    free(r->site_id);
    free(r->source);
    free(r->provider);
    free_wiped(r->access_token_enc);
    free_wiped(r->refresh_token_enc);
    free(r->state);
    free(r->error);
    memset(r, 0, sizeof *r);
}

int rg_token_row_copy(rg_token_row *dst, const rg_token_row *src)
{
    int oom = 0;
    rg_token_row r = *src;
    r.site_id = dup_or_null(src->site_id, &oom);
    r.source = dup_or_null(src->source, &oom);
    r.provider = dup_or_null(src->provider, &oom);
    r.access_token_enc = dup_or_null(src->access_token_enc, &oom);
    r.refresh_token_enc = dup_or_null(src->refresh_token_enc, &oom);
    r.state = dup_or_null(src->state, &oom);
    r.error = dup_or_null(src->error, &oom);
    if (oom) {
        rg_token_row_clear(&r);
        return -1;
    }
    *dst = r;
    return 0;
}

void rg_token_rows_free(rg_token_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++)
        rg_token_row_clear(&rows[i]);
    free(rows);
}
