/*
 * A source's `oauth` block (docs/configuration.md, "OAuth connections"): who issues its tokens, the
 * client credentials (encrypted), the token and revoke endpoints and how early
 * to refresh. The block is for readgate itself; the adapter only ever sees the
 * current access token.
 */
#include "keys.h"
#include "load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K(id) (&rg_site_keys.keys[RG_SITEK_##id])

/* As written in site files, in the order of rg_oauth_provider from 1. */
const char *const rg_oauth_provider_names[] = {
    [RG_OAUTH_GOOGLE - 1] = "google",
    [RG_OAUTH_AIRTABLE - 1] = "airtable",
    [RG_OAUTH_SHOPIFY - 1] = "shopify",
    [RG_OAUTH_SHOPIFY] = NULL,
};

/* The default endpoints; NULL: built from the shop. */
static const struct {
    rg_oauth_provider provider;
    const char *token_url, *revoke_url;
} providers[] = {
    {RG_OAUTH_GOOGLE, "https://oauth2.googleapis.com/token",
     "https://oauth2.googleapis.com/revoke"},
    {RG_OAUTH_AIRTABLE, "https://airtable.com/oauth2/v1/token",
     "https://airtable.com/oauth2/v1/revoke"},
    {RG_OAUTH_SHOPIFY, NULL, NULL},
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
static int enc_value(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k, char **dst, int *line)
{
    const char *s;
    if (rg_cfg_key_string(c, m, k, &s) != 0)
        return -1;
    if (strncmp(s, "enc:", 4) != 0) {
        char path[240];
        rg_cfg_key_path(m, k, path, sizeof path);
        rg_cfg_error(c, rg_cfg_key_line(m, k),
                     "%s: expected an encrypted value (enc:v1:...); make one with readgate secret "
                     "encrypt --site SITE --field %s",
                     path, path);
        return -1;
    }
    dup_into(c, dst, s);
    *line = rg_cfg_key_line(m, k);
    return 0;
}

static void url_value(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k, char **dst)
{
    const char *s;
    if (rg_cfg_key_string(c, m, k, &s) != 0)
        return;
    if (!rg_cfg_url_ok(s)) {
        char path[240];
        rg_cfg_key_path(m, k, path, sizeof path);
        rg_cfg_error(c, rg_cfg_key_line(m, k),
                     "%s: '%s' is not a usable URL; expected https://host/path (plain http only to "
                     "127.0.0.1, localhost or [::1]), without user or password",
                     path, s);
        return;
    }
    dup_into(c, dst, s);
}

static void load_service_account(rg_cfgctx *c, const rg_cfgmap *m, rg_oauth_config *o)
{
    char sw[192], path[240];
    rg_cfgmap sa;
    if (rg_cfg_key_map(c, m, K(OAUTH_SERVICE_ACCOUNT), sw, sizeof sw, &sa) != 0)
        return;
    o->service_account = true;
    const char *s;
    if (rg_cfg_key_string(c, &sa, K(SA_CLIENT_EMAIL), &s) == 0) {
        if (!strchr(s, '@') || strpbrk(s, " \t\r\n\"\\")) {
            rg_cfg_key_path(&sa, K(SA_CLIENT_EMAIL), path, sizeof path);
            rg_cfg_error(c, rg_cfg_key_line(&sa, K(SA_CLIENT_EMAIL)),
                         "%s: '%s' is not an e-mail address; expected the service account's "
                         "client_email, e.g. reader@project.iam.gserviceaccount.com",
                         path, s);
        } else {
            dup_into(c, &o->sa_client_email, s);
        }
    }
    (void)enc_value(c, &sa, K(SA_PRIVATE_KEY), &o->sa_private_key, &o->sa_private_key_line);
    url_value(c, &sa, K(SA_TOKEN_URI), &o->token_url);

    const rg_key *sk = K(SA_SCOPES);
    const rg_node *l;
    if (rg_cfg_key_list(c, &sa, sk, &l) != 0)
        return;
    rg_cfg_key_path(&sa, sk, path, sizeof path);
    if (l->n == 0 && (sk->flags & RG_KEY_NONEMPTY)) {
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
        if (rg_cfg_string(c, l->items[i], ip, sk->flags & RG_KEY_ITEMS_NONEMPTY, &s) != 0)
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

void rg_oauth_config_load(rg_cfgctx *c, const rg_cfgmap *sm, rg_source *src)
{
    char where[160], path[192];
    rg_cfgmap m;
    if (rg_cfg_key_map(c, sm, K(SOURCE_OAUTH), where, sizeof where, &m) != 0)
        return;
    rg_oauth_config *o = calloc(1, sizeof *o);
    if (!o) {
        rg_cfg_error(c, 0, "out of memory");
        return;
    }
    src->oauth = o;
    o->line = m.line;
    rg_key_defaults(&rg_site_keys, K(SOURCE_OAUTH), o);

    const char *s;
    int index;
    if (rg_cfg_key_enum(c, &m, K(OAUTH_PROVIDER), &s, &index) == 0) {
        if (index >= 0) {
            o->provider = (rg_oauth_provider)(index + 1);
        } else {
            char list[64];
            rg_key_values_text(K(OAUTH_PROVIDER), ", ", ", ", list, sizeof list);
            rg_cfg_key_path(&m, K(OAUTH_PROVIDER), path, sizeof path);
            rg_cfg_error(c, rg_cfg_key_line(&m, K(OAUTH_PROVIDER)),
                         "%s: unknown provider '%s'; expected one of %s", path, s, list);
        }
    }
    const rg_node_pair *sa = rg_cfg_key_find(c, &m, K(OAUTH_SERVICE_ACCOUNT));
    const rg_node_pair *cid = rg_cfg_key_find(c, &m, K(OAUTH_CLIENT_ID));
    const rg_node_pair *sec = rg_cfg_key_find(c, &m, K(OAUTH_CLIENT_SECRET));
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
        load_service_account(c, &m, o);
        const rg_node_pair *tu = rg_cfg_key_find(c, &m, K(OAUTH_TOKEN_URL));
        if (tu)
            rg_cfg_error(c, tu->line,
                         "%s.token_url: a service account takes its token endpoint from "
                         "service_account.token_uri",
                         where);
    } else {
        /* Required unless a service account signs in instead. */
        if (rg_cfg_key_require(c, &m, K(OAUTH_CLIENT_ID)) &&
            rg_cfg_key_string(c, &m, K(OAUTH_CLIENT_ID), &s) == 0) {
            if (strpbrk(s, " \t\r\n\"\\:")) {
                rg_cfg_key_path(&m, K(OAUTH_CLIENT_ID), path, sizeof path);
                rg_cfg_error(c, rg_cfg_key_line(&m, K(OAUTH_CLIENT_ID)),
                             "%s: a client id has no spaces, quotes or ':'; got '%s'", path, s);
            } else {
                dup_into(c, &o->client_id, s);
            }
        }
        rg_cfg_key_path(&m, K(OAUTH_CLIENT_SECRET), path, sizeof path);
        if (sec)
            (void)enc_value(c, &m, K(OAUTH_CLIENT_SECRET), &o->client_secret,
                            &o->client_secret_line);
        else if (o->provider && o->provider != RG_OAUTH_AIRTABLE)
            rg_cfg_error(c, m.line,
                         "%s: missing required key 'client_secret' (encrypted with readgate "
                         "secret encrypt --field %s)",
                         where, path);
        url_value(c, &m, K(OAUTH_TOKEN_URL), &o->token_url);
    }
    url_value(c, &m, K(OAUTH_REVOKE_URL), &o->revoke_url);

    long long v;
    (void)rg_cfg_key_int(c, &m, K(OAUTH_REFRESH_MARGIN_S), &v);
    o->refresh_margin_s = (uint32_t)v;
    /* Storefront tokens are created in the shop's admin, never expire and
       have no OAuth grant to refresh or revoke: an oauth block would put an
       Admin API token where Shopify expects a Storefront one. */
    const char *api = option_value(src, "api");
    if (o->provider == RG_OAUTH_SHOPIFY && api && strcmp(api, "storefront") == 0) {
        rg_cfg_error(c, m.line,
                     "%s: a Shopify source with api: storefront takes its Storefront access "
                     "token as options.access_token (encrypted); remove the oauth block",
                     where);
        return;
    }
    if (o->provider)
        resolve_defaults(c, where, m.line, src, o);
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
    if (p < RG_OAUTH_GOOGLE || p > RG_OAUTH_SHOPIFY)
        return "unknown";
    return rg_oauth_provider_names[p - 1];
}
