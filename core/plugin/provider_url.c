#include "provider_url.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

int rg_provider_url_ok(const char *url, char *why, size_t whylen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int ok = 0;
    if (!url || !u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        snprintf(why, whylen, "the request URL is not a valid URL");
    } else if (strcmp(scheme, "https") == 0) {
        ok = 1;
    } else if (strcmp(scheme, "http") == 0 &&
               (strcmp(host, "127.0.0.1") == 0 || strcmp(host, "[::1]") == 0 ||
                strcmp(host, "localhost") == 0)) {
        ok = 1;
    } else {
        snprintf(why, whylen, "the request URL is not https (plain http is allowed to loopback "
                              "only)");
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok ? 0 : -1;
}
