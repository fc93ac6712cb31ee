#include "oauth_refresh.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/secret.h"
#include "util/log.h"
#include "oauth_jwt.h"
#include "oauth_registry.h"
#include "oauth_request.h"
#include "oauth_token.h"

void rg_oauth_token_path(char *out, size_t cap, const char *source, const char *which)
{
    snprintf(out, cap, "oauth.%s.%s", source, which);
}

static int set_str(char **dst, const char *s)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        return -1;
    free(*dst);
    *dst = d;
    return 0;
}

/* Build the token request: a refresh grant, or a JWT grant for a service
   account. Every secret opened here is wiped before returning. */
static int build_request(const rg_oauth_target *t, const rg_token_row *row, int64_t now,
                         rg_http_req *req, char *msg, size_t msglen)
{
    const rg_oauth_config *o = t->src->oauth;
    char path[256];
    int rc = -1;
    if (o->service_account) {
        char *pem = NULL;
        snprintf(path, sizeof path, "sources.%s.oauth.service_account.private_key", t->src->name);
        if (rg_oauth_open(t->kr, t->site_id, path, o->sa_private_key, &pem, msg, msglen) != 0)
            return -1;
        char *jwt = rg_jwt_service_account(pem, strlen(pem), o->sa_client_email, o->sa_scopes,
                                           o->token_url, now, msg, msglen);
        rg_free_secret(pem);
        if (jwt)
            rc = rg_oauth_jwt_request(o, jwt, req, msg, msglen);
        rg_free_secret(jwt);
        return rc;
    }
    char *secret = NULL, *refresh = NULL;
    if (o->client_secret) {
        snprintf(path, sizeof path, "sources.%s.oauth.client_secret", t->src->name);
        if (rg_oauth_open(t->kr, t->site_id, path, o->client_secret, &secret, msg, msglen) != 0)
            return -1;
    }
    rg_oauth_token_path(path, sizeof path, t->src->name, "refresh_token");
    if (rg_oauth_open(t->kr, t->site_id, path, row->refresh_token_enc, &refresh, msg, msglen) ==
        0)
        rc = rg_oauth_refresh_request(o, secret, refresh, req, msg, msglen);
    rg_free_secret(secret);
    rg_free_secret(refresh);
    return rc;
}

static int encrypt_token(const rg_oauth_target *t, const char *which, const char *plain,
                         char **out)
{
    char path[256];
    rg_oauth_token_path(path, sizeof path, t->src->name, which);
    char *enc = NULL;
    if (rg_secret_encrypt(t->kr, t->site_id, path, plain, strlen(plain), &enc) != 0)
        return -1;
    rg_free_secret(*out);
    *out = enc;
    return 0;
}

/* Write `row` and commit; on failure the transaction is gone too. */
static int store(rg_state_store *st, rg_token_row *row, char *msg, size_t msglen)
{
    char err[256];
    if (rg_state_update_locked(st, row, err, sizeof err) != 0 ||
        rg_state_commit(st, err, sizeof err) != 0) {
        snprintf(msg, msglen, "%s", err);
        return -1;
    }
    return 0;
}

/* Pauses between attempts to write tokens the provider has issued: about 8 s
   in all, long enough for a database restart or failover, short enough that
   a worker waiting on it stays within a query's patience. */
static const unsigned issued_retry_ms[] = {250, 500, 1000, 2000, 4000};

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Write newly issued tokens. The provider has already spent the old refresh
   token (Airtable and Shopify rotate it), so these are the only copy: a
   failed write (the store's database restarting, a full disk) is retried
   under a fresh lock instead of dropping them, as long as the row is still
   the version we read: if somebody else wrote it meanwhile, theirs is newer
   and stays. Returns 0 once written. */
static int store_issued(const rg_oauth_target *t, rg_state_store *st, rg_token_row *row,
                        char *msg, size_t msglen)
{
    if (store(st, row, msg, msglen) == 0)
        return 0;
    int64_t read_version = row->version - 1;
    for (size_t i = 0; i < sizeof issued_retry_ms / sizeof issued_retry_ms[0]; i++) {
        rg_warn("oauth %s/%s: writing the new token failed (%s); retrying in %u ms", t->site_id,
                t->src->name, msg, issued_retry_ms[i]);
        sleep_ms(issued_retry_ms[i]);
        char err[256];
        rg_token_row cur = {0};
        int found = rg_state_lock(st, t->site_id, t->src->name, &cur, err, sizeof err);
        if (found < 0) {
            snprintf(msg, msglen, "%s", err);
            continue;
        }
        int64_t cur_version = cur.version;
        rg_token_row_clear(&cur);
        if (found == 0 || cur_version != read_version) {
            rg_state_rollback(st);
            snprintf(msg, msglen, "the stored token changed while the new one was being written "
                     "(version %lld, expected %lld); the newer write stays",
                     found ? (long long)cur_version : -1LL, (long long)read_version);
            return -1;
        }
        if (store(st, row, msg, msglen) == 0) {
            rg_info("oauth %s/%s: the new token was written after %zu retr%s", t->site_id,
                    t->src->name, i + 1, i ? "ies" : "y");
            return 0;
        }
    }
    return -1;
}

rg_refresh_result rg_oauth_refresh(const rg_oauth_target *t, rg_state_store *st,
                                   const rg_http_transport *tr, rg_refresh_mode mode,
                                   int64_t seen_version, int64_t margin_s, rg_token_row *row_out,
                                   char *msg, size_t msglen)
{
    const rg_oauth_config *o = t->src->oauth;
    char err[256];
    rg_token_row row = {0};
    memset(row_out, 0, sizeof *row_out);
    msg[0] = '\0';

    /* A service account needs no import: its row is created on first use. */
    if (o->service_account &&
        rg_state_ensure(st, t->site_id, t->src->name, rg_oauth_provider_name(o->provider), err,
                        sizeof err) != 0) {
        snprintf(msg, msglen, "%s", err);
        return RG_REFRESH_FAILED;
    }
    /* 1. The row lock: from here until commit or rollback, no other thread
       or process refreshes this connection. */
    int found = rg_state_lock(st, t->site_id, t->src->name, &row, err, sizeof err);
    if (found < 0) {
        snprintf(msg, msglen, "%s", err);
        return RG_REFRESH_FAILED;
    }
    if (found == 0) {
        rg_state_rollback(st);
        snprintf(msg, msglen, "no token stored; run readgate oauth import --site %s --source %s",
                 t->site_id, t->src->name);
        return RG_REFRESH_MISSING;
    }
    int64_t now = (int64_t)time(NULL);
    bool reauth = strcmp(row.state, RG_TOKEN_STATE_NEEDS_REAUTH) == 0;
    if (reauth && !(o->service_account && now - row.updated_at >= RG_OAUTH_SA_RETRY_S)) {
        rg_state_rollback(st);
        snprintf(msg, msglen, "%s", row.error);
        *row_out = row;
        return RG_REFRESH_REAUTH;
    }
    /* 2. Someone else may have refreshed while we waited for the lock. */
    bool usable = row.access_token_enc && !reauth && (row.expires_at == 0 || row.expires_at > now);
    bool current;
    if (mode == RG_REFRESH_IF_DUE)
        current = usable && (row.expires_at == 0 || row.expires_at - margin_s > now);
    else
        current = usable && row.version != seen_version;
    if (current) {
        rg_state_rollback(st);
        *row_out = row;
        return RG_REFRESH_CURRENT;
    }
    if (!o->service_account && !row.refresh_token_enc) {
        /* Nothing to refresh with: only a new authorisation helps. */
        snprintf(msg, msglen, "the access token expired and the grant has no refresh token");
        goto needs_reauth;
    }

    /* 3. The token endpoint, with the lock held. */
    rg_http_req req = {0};
    if (build_request(t, &row, now, &req, msg, msglen) != 0) {
        rg_state_rollback(st);
        rg_oauth_count_refresh(RG_OAUTH_REFRESH_ERROR);
        *row_out = row;
        return RG_REFRESH_FAILED;
    }
    rg_http_resp resp = {0};
    int sent = tr->perform(tr->ctx, &req, &resp);
    rg_http_req_clear(&req);
    rg_token_answer ans = {0};
    rg_token_outcome out;
    if (sent != 0 && resp.status == 0) {
        out = RG_TOKEN_FAILED;
        snprintf(ans.message, sizeof ans.message, "token endpoint unreachable: %.200s",
                 resp.error[0] ? resp.error : "no answer");
    } else {
        out = rg_token_answer_parse(&resp, &ans);
    }
    rg_http_resp_clear(&resp);

    now = (int64_t)time(NULL);
    if (out == RG_TOKEN_ISSUED) {
        /* 4. New access token and rotated refresh token in one commit. */
        int bad = encrypt_token(t, "access_token", ans.access_token, &row.access_token_enc);
        if (!bad && ans.refresh_token)
            bad = encrypt_token(t, "refresh_token", ans.refresh_token, &row.refresh_token_enc);
        /* A provider that gives no lifetime gets the common one hour. */
        row.expires_at = now + (ans.expires_in > 0 ? ans.expires_in : 3600);
        row.last_refresh = now;
        row.updated_at = now;
        row.version++;
        bad = bad || set_str(&row.state, RG_TOKEN_STATE_OK) || set_str(&row.error, "");
        rg_token_answer_clear(&ans);
        if (bad) {
            rg_state_rollback(st);
            snprintf(msg, msglen, "out of memory storing the new token (it is lost)");
        } else if (store_issued(t, st, &row, msg, msglen) != 0) {
            bad = 1;
        }
        if (bad) {
            rg_oauth_count_refresh(RG_OAUTH_REFRESH_ERROR);
            rg_token_row_clear(&row);
            return RG_REFRESH_FAILED;
        }
        rg_oauth_count_refresh(RG_OAUTH_REFRESH_OK);
        *row_out = row;
        return RG_REFRESH_DONE;
    }
    snprintf(msg, msglen, "%s", ans.message);
    rg_token_answer_clear(&ans);
    if (out == RG_TOKEN_INVALID_GRANT) {
        rg_oauth_count_refresh(RG_OAUTH_REFRESH_INVALID_GRANT);
        goto needs_reauth;
    }
    /* Transient: keep the tokens, remember why for `oauth status`. */
    rg_oauth_count_refresh(RG_OAUTH_REFRESH_ERROR);
    row.updated_at = now;
    if (set_str(&row.error, msg) != 0 || store(st, &row, err, sizeof err) != 0)
        rg_state_rollback(st);
    *row_out = row;
    return RG_REFRESH_FAILED;

needs_reauth:
    row.updated_at = (int64_t)time(NULL);
    if (set_str(&row.state, RG_TOKEN_STATE_NEEDS_REAUTH) != 0 || set_str(&row.error, msg) != 0) {
        rg_state_rollback(st);
        rg_token_row_clear(&row);
        return RG_REFRESH_FAILED;
    }
    if (store(st, &row, err, sizeof err) != 0) {
        snprintf(msg, msglen, "%s", err);
        rg_token_row_clear(&row);
        return RG_REFRESH_FAILED;
    }
    *row_out = row;
    return RG_REFRESH_REAUTH;
}
