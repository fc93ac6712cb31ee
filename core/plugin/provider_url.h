/* Where a token provider may send a key: the one rule both the gateway
   (server/ai_mint.c) and readgate-conformance --provider apply. */
#ifndef RG_PROVIDER_URL_H
#define RG_PROVIDER_URL_H

#include <stddef.h>

/* https, or plain http to 127.0.0.1, localhost or [::1] (a local proxy or a
   test double: the key never leaves the machine). 0, or -1 with why. */
int rg_provider_url_ok(const char *url, char *why, size_t whylen);

#endif
