#include "oauth_registry.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

struct rg_oauth_conn {
    rg_oauth_conn *next;
    char *site_id, *source;
    atomic_uint generation;
    /* Guarded by the registry lock. */
    rg_oauth_state state;
    int64_t version;
    int64_t expires_at;
    char error[256];
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static rg_oauth_conn *reg_head;
static atomic_ulong refresh_counts[RG_OAUTH_REFRESH_NOUTCOMES];

static const char *const state_names[RG_OAUTH_NSTATES] = {"unknown", "ok", "needs_reauth",
                                                          "missing"};

const char *rg_oauth_state_name(rg_oauth_state s)
{
    return s < RG_OAUTH_NSTATES ? state_names[s] : "unknown";
}

rg_oauth_conn *rg_oauth_conn_get(const char *site_id, const char *source)
{
    pthread_mutex_lock(&reg_lock);
    rg_oauth_conn *c = reg_head;
    while (c && (strcmp(c->site_id, site_id) || strcmp(c->source, source)))
        c = c->next;
    if (!c && (c = calloc(1, sizeof *c))) {
        c->site_id = strdup(site_id);
        c->source = strdup(source);
        if (!c->site_id || !c->source) {
            free(c->site_id);
            free(c->source);
            free(c);
            c = NULL;
        } else {
            atomic_init(&c->generation, 1);
            c->version = -1;
            c->next = reg_head;
            reg_head = c;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    return c;
}

unsigned rg_oauth_conn_generation(const rg_oauth_conn *c)
{
    return atomic_load(&((rg_oauth_conn *)c)->generation);
}

rg_oauth_state rg_oauth_conn_state(rg_oauth_conn *c, char *msg, size_t msglen)
{
    pthread_mutex_lock(&reg_lock);
    rg_oauth_state s = c->state;
    if (msg && msglen)
        snprintf(msg, msglen, "%s", c->error);
    pthread_mutex_unlock(&reg_lock);
    return s;
}

void rg_oauth_conn_seen(rg_oauth_conn *c, int64_t *version, int64_t *expires_at)
{
    pthread_mutex_lock(&reg_lock);
    if (version)
        *version = c->version;
    if (expires_at)
        *expires_at = c->expires_at;
    pthread_mutex_unlock(&reg_lock);
}

static void log_change(const rg_oauth_conn *c, rg_oauth_state from, rg_oauth_state to)
{
    if (to == RG_OAUTH_STATE_NEEDS_REAUTH)
        rg_warn("oauth %s/%s: %s -> needs_reauth (%s); run readgate oauth import --site %s "
                "--source %s",
                c->site_id, c->source, rg_oauth_state_name(from), c->error[0] ? c->error : "-",
                c->site_id, c->source);
    else if (to == RG_OAUTH_STATE_MISSING)
        rg_warn("oauth %s/%s: %s -> missing (no token stored); run readgate oauth import --site "
                "%s --source %s",
                c->site_id, c->source, rg_oauth_state_name(from), c->site_id, c->source);
    else
        rg_info("oauth %s/%s: %s -> %s", c->site_id, c->source, rg_oauth_state_name(from),
                rg_oauth_state_name(to));
}

void rg_oauth_conn_observe(rg_oauth_conn *c, const rg_token_row *row)
{
    pthread_mutex_lock(&reg_lock);
    rg_oauth_state from = c->state, to;
    if (!row) {
        to = RG_OAUTH_STATE_MISSING;
        c->error[0] = '\0';
    } else {
        to = strcmp(row->state, RG_TOKEN_STATE_NEEDS_REAUTH) == 0 ? RG_OAUTH_STATE_NEEDS_REAUTH
                                                                  : RG_OAUTH_STATE_OK;
        snprintf(c->error, sizeof c->error, "%s", row->error ? row->error : "");
        if (row->version != c->version) {
            if (c->version != -1)
                atomic_fetch_add(&c->generation, 1);
            c->version = row->version;
        }
        c->expires_at = row->expires_at;
    }
    c->state = to;
    if (from != to)
        log_change(c, from, to);
    pthread_mutex_unlock(&reg_lock);
}

void rg_oauth_conn_note_error(rg_oauth_conn *c, const char *msg)
{
    pthread_mutex_lock(&reg_lock);
    snprintf(c->error, sizeof c->error, "%s", msg);
    pthread_mutex_unlock(&reg_lock);
}

void rg_oauth_count_refresh(rg_oauth_refresh_outcome o)
{
    if (o < RG_OAUTH_REFRESH_NOUTCOMES)
        atomic_fetch_add_explicit(&refresh_counts[o], 1, memory_order_relaxed);
}

unsigned long rg_oauth_refresh_count(rg_oauth_refresh_outcome o)
{
    return o < RG_OAUTH_REFRESH_NOUTCOMES ? atomic_load(&refresh_counts[o]) : 0;
}

void rg_oauth_registry_free(void)
{
    pthread_mutex_lock(&reg_lock);
    rg_oauth_conn *c = reg_head;
    reg_head = NULL;
    pthread_mutex_unlock(&reg_lock);
    while (c) {
        rg_oauth_conn *n = c->next;
        free(c->site_id);
        free(c->source);
        free(c);
        c = n;
    }
}
