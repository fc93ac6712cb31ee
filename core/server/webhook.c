#include "server/webhook.h"

#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/audit.h"
#include "crypto/b64.h"
#include "crypto/hmac.h"
#include "crypto/keyring.h"
#include "http/http_reply.h"
#include "oauth/oauth_http.h"
#include "oauth/oauth_revoke.h"
#include "state/state_store.h"
#include "util/log.h"
#include "util/thread.h"

static const char *option(const rg_source *src, const char *key)
{
    for (size_t i = 0; i < src->noptions; i++)
        if (strcmp(src->options[i].key, key) == 0)
            return src->options[i].value;
    return NULL;
}

/* The site's Shopify source with an OAuth connection to this shop. */
static const rg_source *shopify_source(const rg_site *site, const char *shop)
{
    for (size_t i = 0; shop && i < site->nsources; i++) {
        const rg_source *s = &site->sources[i];
        const char *opt = option(s, "shop");
        if (s->oauth && s->oauth->provider == RG_OAUTH_SHOPIFY && s->oauth->client_secret &&
            opt && strcasecmp(opt, shop) == 0)
            return s;
    }
    return NULL;
}

/* Constant-time check of X-Shopify-Hmac-Sha256 against the body. */
static bool signature_ok(const rg_runtime *rt, const rg_site *site, const rg_source *src,
                         const char *header, const char *body, size_t len)
{
    uint8_t given[48], want[32];
    size_t glen = 0;
    if (!header || rg_b64_decode(header, strlen(header), false, given, sizeof given, &glen) != 0 ||
        glen != sizeof want)
        return false;
    char path[256], why[256];
    snprintf(path, sizeof path, "sources.%s.oauth.client_secret", src->name);
    char *secret = NULL;
    size_t slen = 0;
    if (rg_secret_decrypt_audited(rt->kr, site->site_id, path, src->oauth->client_secret,
                                  "webhook", &secret, &slen, why, sizeof why) != 0) {
        rg_error_log("site %s: shopify webhook: %s: cannot decrypt: %s", site->site_id, path, why);
        return false;
    }
    rg_bytes part = {body, len};
    int rc = rg_hmac_sha256(secret, slen, &part, 1, want);
    rg_secure_zero(secret, slen);
    free(secret);
    return rc == 0 && CRYPTO_memcmp(given, want, sizeof want) == 0;
}

/* ---- app/uninstalled: off the event loop ---------------------------------------- */

typedef struct uninstall_job {
    rg_runtime *rt; /* held: the source lives in its configuration */
    const rg_site *site;
    const rg_source *src;
} uninstall_job;

static void *uninstall(void *arg)
{
    uninstall_job *j = arg;
    char err[300], msg[300];
    rg_state_store *st = rg_state_open(j->rt->cfg->state_store, err, sizeof err);
    if (!st) {
        rg_error_log("site %s source %s: app uninstalled, but the state store is unavailable "
                     "(%s): its tokens are still stored",
                     j->site->site_id, j->src->name, err);
    } else {
        rg_oauth_target t = {.site_id = j->site->site_id, .src = j->src, .kr = j->rt->kr};
        /* Shopify has already ended the grant; asking again costs one call
           and covers a webhook that arrives before it did. */
        if (rg_oauth_revoke(&t, st, &rg_http_blocking, msg, sizeof msg) != 0)
            rg_warn("site %s source %s: app uninstalled; revoking at the shop: %s",
                    j->site->site_id, j->src->name, msg);
        int del = rg_state_delete(st, j->site->site_id, j->src->name, err, sizeof err);
        if (del < 0)
            rg_error_log("site %s source %s: app uninstalled, but deleting its tokens failed: %s",
                         j->site->site_id, j->src->name, err);
        else
            rg_info("site %s source %s: app uninstalled: connection removed (%s)",
                    j->site->site_id, j->src->name, del ? "tokens deleted" : "no tokens stored");
        rg_state_close(st);
    }
    rg_runtime_release(j->rt, 0);
    free(j);
    return NULL;
}

static int start_uninstall(rg_runtime *rt, const rg_site *site, const rg_source *src)
{
    uninstall_job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->rt = rt;
    j->site = site;
    j->src = src;
    rg_runtime_retain(rt);
    if (rg_thread_detached(uninstall, j) != 0) {
        rg_runtime_release(rt, 1);
        free(j);
        return -1;
    }
    return 0;
}

int rg_webhook_shopify(rg_runtime *rt, const rg_site_rt *srt, struct evhttp_request *req,
                       const char *body, size_t len)
{
    const rg_site *site = srt->site;
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *shop = evhttp_find_header(h, "X-Shopify-Shop-Domain");
    const char *topic = evhttp_find_header(h, "X-Shopify-Topic");
    const char *hmac = evhttp_find_header(h, "X-Shopify-Hmac-Sha256");
    const rg_source *src = shopify_source(site, shop);
    /* One answer for every refusal: no hint which part was wrong. */
    if (!src || !hmac || !signature_ok(rt, site, src, hmac, body, len)) {
        rg_warn("site %s: shopify webhook refused (%s)", site->site_id,
                !src ? "no Shopify connection for that shop" : "signature missing or wrong");
        return rg_reply_error_default(req, RG_E_INVALID_WEBHOOK_SIGNATURE);
    }
    if (topic && strcmp(topic, "app/uninstalled") == 0) {
        if (start_uninstall(rt, site, src) != 0)
            return rg_reply_error_default(req, RG_E_INTERNAL);
        static const char ok[] = "{\"received\":true,\"action\":\"connection_removed\"}";
        rg_reply_json(req, 200, ok, sizeof ok - 1);
        return 200;
    }
    static const char ok[] = "{\"received\":true,\"action\":\"none\"}";
    rg_reply_json(req, 200, ok, sizeof ok - 1);
    return 200;
}
