/*
 * POST /v1/{site}/webhooks/shopify: Shopify's notifications to the app that
 * owns a site's Shopify connection. Every one is authenticated by
 * X-Shopify-Hmac-Sha256, the base64 HMAC-SHA256 of the raw body keyed with
 * the app's client secret (the source's oauth.client_secret), compared in
 * constant time; the shop is matched by X-Shopify-Shop-Domain against the
 * source's `shop` option. Anything unsigned, wrongly signed or from another
 * shop is 401 and changes nothing.
 *
 * app/uninstalled ends the connection: the grant is revoked at the shop (a
 * no-op once Shopify has done it) and the tokens are deleted from the state
 * store, on a thread of their own, after the 200 (Shopify wants an answer
 * within seconds). Other topics are acknowledged and ignored.
 */
#ifndef RG_WEBHOOK_H
#define RG_WEBHOOK_H

#include <event2/http.h>

#include "server/runtime.h"

/* The status answered. */
int rg_webhook_shopify(rg_runtime *rt, const rg_site_rt *srt, struct evhttp_request *req,
                       const char *body, size_t len);

#endif
