#include "oauth_token.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool rg_token_value_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 4096)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    return true;
}

/* Provider wording for messages: printable ASCII only, bounded. */
static void clean_copy(char *dst, size_t cap, const char *src)
{
    size_t j = 0;
    for (size_t i = 0; src && src[i] && j + 1 < cap && i < 200; i++)
        dst[j++] = (src[i] >= ' ' && src[i] <= '~') ? src[i] : '?';
    dst[j] = '\0';
}

void rg_token_answer_clear(rg_token_answer *a)
{
    rg_free_secret(a->access_token);
    rg_free_secret(a->refresh_token);
    memset(a, 0, sizeof *a);
}

rg_token_outcome rg_token_answer_parse(const rg_http_resp *resp, rg_token_answer *out)
{
    memset(out, 0, sizeof *out);
    if (resp->status == 0) {
        snprintf(out->message, sizeof out->message, "token endpoint unreachable: %.200s",
                 resp->error);
        return RG_TOKEN_FAILED;
    }
    json_error_t je;
    json_t *doc = resp->body ? json_loadb(resp->body, resp->len, 0, &je) : NULL;
    rg_token_outcome o = RG_TOKEN_FAILED;
    if (!json_is_object(doc)) {
        snprintf(out->message, sizeof out->message,
                 "token endpoint answered HTTP %ld without a JSON object", resp->status);
        goto done;
    }
    const char *error = json_string_value(json_object_get(doc, "error"));
    if (resp->status != 200 || error) {
        char e[64], d[150];
        clean_copy(e, sizeof e, error ? error : "");
        clean_copy(d, sizeof d, json_string_value(json_object_get(doc, "error_description")));
        snprintf(out->message, sizeof out->message, "token endpoint answered HTTP %ld%s%.60s%s%.150s",
                 resp->status, *e ? ": " : "", e, *d ? ": " : "", d);
        /* RFC 6749 5.2: the grant (refresh token or assertion) is invalid,
           expired or revoked. Only the user (or operator) can fix that. */
        if (error && strcmp(error, "invalid_grant") == 0)
            o = RG_TOKEN_INVALID_GRANT;
        goto done;
    }
    const char *at = json_string_value(json_object_get(doc, "access_token"));
    const char *rt = json_string_value(json_object_get(doc, "refresh_token"));
    json_t *ei = json_object_get(doc, "expires_in");
    if (!rg_token_value_ok(at) || (rt && !rg_token_value_ok(rt))) {
        snprintf(out->message, sizeof out->message,
                 "token endpoint answered without a usable access_token");
        goto done;
    }
    if (json_is_integer(ei))
        out->expires_in = json_integer_value(ei);
    else if (json_is_string(ei))
        out->expires_in = strtoll(json_string_value(ei), NULL, 10);
    if (out->expires_in < 0 || out->expires_in > 10LL * 365 * 86400)
        out->expires_in = 0;
    out->access_token = strdup(at);
    out->refresh_token = rt ? strdup(rt) : NULL;
    if (!out->access_token || (rt && !out->refresh_token)) {
        rg_token_answer_clear(out);
        snprintf(out->message, sizeof out->message, "out of memory");
        goto done;
    }
    o = RG_TOKEN_ISSUED;
done:
    json_decref(doc);
    return o;
}
