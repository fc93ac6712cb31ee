/*
 * A source's `oauth` block (docs/configuration.md, "OAuth connections"): who issues its tokens, the
 * client credentials (encrypted), the token and revoke endpoints and how early
 * to refresh. The block is for readgate itself; the adapter only ever sees the
 * current access token.
 */
#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const oauth_keys[] = {"provider",   "client_id",        "client_secret",
                                         "token_url",  "revoke_url",       "refresh_margin_s",
                                         "service_account", NULL};
static const char *const sa_keys[] = {"client_email", "private_key", "token_uri", "scopes", NULL};

static const struct {
    const char *name;
    rg_oauth_provider provider;
    const char *token_url, *revoke_url; /* NULL: built from the shop */
} providers[] = {
    {"google", RG_OAUTH_GOOGLE, "https://oauth2.googleapis.com/token",
     "https://oauth2.googleapis.com/revoke"},
    {"airtable", RG_OAUTH_AIRTABLE, "https://airtable.com/oauth2/v1/token",
     "https://airtable.com/oauth2/v1/revoke"},
    {"shopify", RG_OAUTH_SHOPIFY, NULL, NULL},
};
#define NPROVIDERS (sizeof providers / sizeof providers[0])

/*
 * Token endpoints receive refresh tokens and client secrets: https only,
 * except plain http to this machine (local test doubles, a sidecar).
 */
bool rg_cfg_url_ok(const char *u)
{
    const char *host;
    if (strncmp(u, "https://", 8) == 0)
        host = u + 8;
    else if (strncmp(u, "http://", 7) == 0)
        host = u + 7;
    else
        return false;
    size_t hl = strcspn(host, "/?#");
    if (hl == 0 || memchr(host, '@', hl) || strpbrk(u, " \t\r\n\"\\<>"))
        return false; /* no credentials in the URL, nothing a header could split on */
    if (u[4] == 's')
        return true;
    static const char *const local[] = {"127.0.0.1", "localhost", "[::1]"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(local[i]);
        if (hl >= n && strncmp(host, local[i], n) == 0 && (hl == n || host[n] == ':'))
            return true;
    }
    return false;
}

static bool shop_host_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-'))
            return false;
    }
    return true;
}

static void dup_into(rg_cfgctx *c, char **dst, const char *s)
{
    free(*dst);
    if (!(*dst = strdup(s)))
        rg_cfg_error(c, 0, "out of memory");
}

/* An encrypted string value; plain text is refused so a secret is never
   written to a site file in the clear. */
static int enc_value(rg_cfgctx *c, const rg_node *v, const char *path, char **dst, int *line)
{
    const char *s;
    if (rg_cfg_string(c, v, path, true, &s) != 0)
        return -1;
    if (strncmp(s, "enc:", 4) != 0) {
        rg_cfg_error(c, v->line,
                     "%s: expected an encrypted value (enc:v1:...); make one with readgate secret "
                     "encrypt --site SITE --field %s",
                     path, path);
        return -1;
    }
    dup_into(c, dst, s);
    *line = v->line;
    return 0;
}

static void url_value(rg_cfgctx *c, const rg_node *m, const char *where, const char *key,
                      char **dst)
{
    const rg_node_pair *p = rg_node_find(m, key);
    char path[192];
    const char *s;
    snprintf(path, sizeof path, "%s.%s", where, key);
    if (!p || rg_cfg_string(c, p->value, path, true, &s) != 0)
        return;
    if (!rg_cfg_url_ok(s)) {
        rg_cfg_error(c, p->value->line,
                     "%s: '%s' is not a usable URL; expected https://host/path (plain http only to "
                     "127.0.0.1, localhost or [::1]), without user or password",
                     path, s);
        return;
    }
    dup_into(c, dst, s);
}

static void load_service_account(rg_cfgctx *c, const rg_node_pair *p, const char *where,
                                 rg_oauth_config *o)
{
    char sw[192], path[240];
    snprintf(sw, sizeof sw, "%s.service_account", where);
    if (rg_cfg_kind(c, p->value, sw, RG_NODE_MAP) != 0)
        return;
    const rg_node *m = p->value;
    rg_cfg_check_keys(c, m, sw, sa_keys);
    o->service_account = true;
    const rg_node_pair *e = rg_cfg_require(c, m, p->line, sw, "client_email");
    const char *s;
    snprintf(path, sizeof path, "%s.client_email", sw);
    if (e && rg_cfg_string(c, e->value, path, true, &s) == 0) {
        if (!strchr(s, '@') || strpbrk(s, " \t\r\n\"\\"))
            rg_cfg_error(c, e->value->line,
                         "%s: '%s' is not an e-mail address; expected the service account's "
                         "client_email, e.g. reader@project.iam.gserviceaccount.com",
                         path, s);
        else
            dup_into(c, &o->sa_client_email, s);
    }
    const rg_node_pair *k = rg_cfg_require(c, m, p->line, sw, "private_key");
    snprintf(path, sizeof path, "%s.private_key", sw);
    if (k)
        (void)enc_value(c, k->value, path, &o->sa_private_key, &o->sa_private_key_line);
    url_value(c, m, sw, "token_uri", &o->token_url);

    const rg_node_pair *sc = rg_cfg_require(c, m, p->line, sw, "scopes");
    snprintf(path, sizeof path, "%s.scopes", sw);
    if (!sc || rg_cfg_kind(c, sc->value, path, RG_NODE_LIST) != 0)
        return;
    const rg_node *l = sc->value;
    if (l->n == 0) {
        rg_cfg_error(c, l->line, "%s: expected at least one scope, e.g. "
                                 "\"https://www.googleapis.com/auth/spreadsheets.readonly\"",
                     path);
        return;
    }
    size_t total = 0;
    for (size_t i = 0; i < l->n; i++)
        total += (l->items[i]->text ? strlen(l->items[i]->text) : 0) + 1;
    char *joined = calloc(total + 1, 1);
    if (!joined) {
        rg_cfg_error(c, 0, "out of memory");
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        char ip[264];
        snprintf(ip, sizeof ip, "%s[%zu]", path, i);
        if (rg_cfg_string(c, l->items[i], ip, true, &s) != 0)
            continue;
        if (strpbrk(s, " \t\r\n\"\\")) {
            rg_cfg_error(c, l->items[i]->line, "%s: a scope has no spaces or quotes; got '%s'",
                         ip, s);
            continue;
        }
        if (*joined)
            strcat(joined, " ");
        strcat(joined, s);
    }
    free(o->sa_scopes);
    o->sa_scopes = joined;
}

/* An adapter option of the source, or NULL. */
static const char *option_value(const rg_source *src, const char *key)
{
    for (size_t i = 0; i < src->noptions; i++)
        if (strcmp(src->options[i].key, key) == 0)
            return src->options[i].value;
    return NULL;
}

static void resolve_defaults(rg_cfgctx *c, const char *where, int line, const rg_source *src,
                             rg_oauth_config *o)
{
    for (size_t i = 0; i < NPROVIDERS; i++) {
        if (providers[i].provider != o->provider)
            continue;
        if (providers[i].token_url) {
            if (!o->token_url)
                dup_into(c, &o->token_url, providers[i].token_url);
            if (!o->revoke_url)
                dup_into(c, &o->revoke_url, providers[i].revoke_url);
            return;
        }
    }
    /* Shopify: per shop. */
    if (o->token_url && o->revoke_url)
        return;
    /* The option `shop` of a Shopify source gives its default endpoints. */
    const char *shop = option_value(src, "shop");
    if (!shop || !shop_host_ok(shop)) {
        rg_cfg_error(c, line,
                     "%s: a shopify source needs options.shop (the shop's host name, e.g. "
                     "demo-shop.myshopify.com) or both token_url and revoke_url",
                     where);
        return;
    }
    char *u = NULL;
    if (!o->token_url) {
        if (asprintf(&u, "https://%s/admin/oauth/access_token", shop) < 0)
            u = NULL;
        o->token_url = u;
        if (!u)
            rg_cfg_error(c, 0, "out of memory");
    }
    if (!o->revoke_url) {
        u = NULL;
        if (asprintf(&u, "https://%s/admin/api_permissions/current.json", shop) < 0)
            u = NULL;
        o->revoke_url = u;
        if (!u)
            rg_cfg_error(c, 0, "out of memory");
    }
}

void rg_oauth_config_load(rg_cfgctx *c, const rg_node_pair *p, const char *source_where,
                          rg_source *src)
{
    char where[160], path[192];
    snprintf(where, sizeof where, "%s.oauth", source_where);
    if (rg_cfg_kind(c, p->value, where, RG_NODE_MAP) != 0)
        return;
    rg_oauth_config *o = calloc(1, sizeof *o);
    if (!o) {
        rg_cfg_error(c, 0, "out of memory");
        return;
    }
    src->oauth = o;
    o->line = p->line;
    o->refresh_margin_s = 300;
    const rg_node *m = p->value;
    rg_cfg_check_keys(c, m, where, oauth_keys);

    const rg_node_pair *pv = rg_cfg_require(c, m, p->line, where, "provider");
    const char *s;
    snprintf(path, sizeof path, "%s.provider", where);
    if (pv && rg_cfg_string(c, pv->value, path, true, &s) == 0) {
        for (size_t i = 0; i < NPROVIDERS; i++)
            if (strcmp(s, providers[i].name) == 0)
                o->provider = providers[i].provider;
        if (!o->provider)
            rg_cfg_error(c, pv->value->line,
                         "%s: unknown provider '%s'; expected one of google, airtable, shopify",
                         path, s);
    }
    const rg_node_pair *sa = rg_node_find(m, "service_account");
    const rg_node_pair *cid = rg_node_find(m, "client_id");
    const rg_node_pair *sec = rg_node_find(m, "client_secret");
    if (sa) {
        if (o->provider && o->provider != RG_OAUTH_GOOGLE)
            rg_cfg_error(c, sa->line,
                         "%s.service_account: service accounts are a Google feature; remove it "
                         "or use provider: google",
                         where);
        if (cid || sec)
            rg_cfg_error(c, sa->line,
                         "%s: service_account and client_id/client_secret exclude each other; "
                         "keep one way of signing in",
                         where);
        load_service_account(c, sa, where, o);
        if (rg_node_find(m, "token_url"))
            rg_cfg_error(c, rg_node_find(m, "token_url")->line,
                         "%s.token_url: a service account takes its token endpoint from "
                         "service_account.token_uri",
                         where);
    } else {
        cid = rg_cfg_require(c, m, p->line, where, "client_id");
        snprintf(path, sizeof path, "%s.client_id", where);
        if (cid && rg_cfg_string(c, cid->value, path, true, &s) == 0) {
            if (strpbrk(s, " \t\r\n\"\\:"))
                rg_cfg_error(c, cid->value->line,
                             "%s: a client id has no spaces, quotes or ':'; got '%s'", path, s);
            else
                dup_into(c, &o->client_id, s);
        }
        snprintf(path, sizeof path, "%s.client_secret", where);
        if (sec)
            (void)enc_value(c, sec->value, path, &o->client_secret, &o->client_secret_line);
        else if (o->provider && o->provider != RG_OAUTH_AIRTABLE)
            rg_cfg_error(c, p->line,
                         "%s: missing required key 'client_secret' (encrypted with readgate "
                         "secret encrypt --field %s)",
                         where, path);
        url_value(c, m, where, "token_url", &o->token_url);
    }
    url_value(c, m, where, "revoke_url", &o->revoke_url);

    const rg_node_pair *mg = rg_node_find(m, "refresh_margin_s");
    long long v;
    snprintf(path, sizeof path, "%s.refresh_margin_s", where);
    if (mg && rg_cfg_int(c, mg->value, path, 5, 86400, &v) == 0)
        o->refresh_margin_s = (uint32_t)v;
    /* Storefront tokens are created in the shop's admin, never expire and
       have no OAuth grant to refresh or revoke: an oauth block would put an
       Admin API token where Shopify expects a Storefront one. */
    const char *api = option_value(src, "api");
    if (o->provider == RG_OAUTH_SHOPIFY && api && strcmp(api, "storefront") == 0) {
        rg_cfg_error(c, p->line,
                     "%s: a Shopify source with api: storefront takes its Storefront access "
                     "token as options.access_token (encrypted); remove the oauth block",
                     where);
        return;
    }
    if (o->provider)
        resolve_defaults(c, where, p->line, src, o);
}

void rg_oauth_config_free(rg_oauth_config *o)
{
    if (!o)
        return;
    free(o->client_id);
    free(o->client_secret);
    free(o->token_url);
    free(o->revoke_url);
    free(o->sa_client_email);
    free(o->sa_private_key);
    free(o->sa_scopes);
    free(o);
}

const char *rg_oauth_provider_name(rg_oauth_provider p)
{
    for (size_t i = 0; i < NPROVIDERS; i++)
        if (providers[i].provider == p)
            return providers[i].name;
    return "unknown";
}
