#include "query/errors.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/rowjson.h"

/* Cut back a buffer that truncation may have left ending inside a UTF-8
   sequence, so the text stays valid for the JSON writer. */
static void trim_partial_utf8(char *s)
{
    size_t n = strlen(s);
    size_t i = n;
    /* Walk back over at most three continuation bytes to the lead byte. */
    while (i > 0 && n - i < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i > 0 && (unsigned char)s[i - 1] >= 0x80) {
        size_t lead = i - 1;
        if (rg_utf8_seq_len((const unsigned char *)s + lead, n - lead) != n - lead)
            s[lead] = '\0';
    }
}

/*
 * The one table of the API's error codes. The status of a code is fixed
 * here and nowhere else; docs/http-api.md documents the same rows. The
 * standard message is what a caller without a more specific one answers.
 */
static const rg_err_info table[RG_E_COUNT] = {
    [RG_E_INVALID_REQUEST] = {"invalid_request", 400, "the request is malformed"},
    [RG_E_INVALID_JSON] = {"invalid_json", 400, "the body must be one JSON object"},
    [RG_E_UNKNOWN_PROPERTY] = {"unknown_property", 400,
                               "the request has a property that is not allowed"},
    [RG_E_UNKNOWN_COLLECTION] = {"unknown_collection", 400,
                                 "collection must name one of this site's collections"},
    [RG_E_INVALID_FILTER] = {"invalid_filter", 400,
                             "filters must be an array of objects with exactly the keys field, "
                             "op and value"},
    [RG_E_UNKNOWN_FIELD] = {"unknown_field", 400,
                            "a field name is not one of the collection's fields"},
    [RG_E_FIELD_NOT_FILTERABLE] = {"field_not_filterable", 400, "the field is not filterable"},
    [RG_E_OPERATOR_NOT_ALLOWED] = {"operator_not_allowed", 400,
                                   "the operator is not allowed for this field"},
    [RG_E_INVALID_VALUE] = {"invalid_value", 400, "a filter value is not valid for its field"},
    [RG_E_INVALID_SEARCH] = {"invalid_search", 400, "search must be a string of words or null"},
    [RG_E_INVALID_SORT] = {"invalid_sort", 400,
                           "sort must be an array of keys with a sortable field and dir"},
    [RG_E_INVALID_FIELDS] = {"invalid_fields", 400,
                             "fields must be an array of distinct display field names"},
    [RG_E_INVALID_LIMIT] = {"invalid_limit", 400,
                            "limit must be an integer from 1 to the collection's maximum"},
    [RG_E_INVALID_CURSOR] = {"invalid_cursor", 400, "cursor is not valid for this query"},
    [RG_E_INVALID_EVENT] = {"invalid_event", 400, "the event is not valid"},
    [RG_E_UNSUPPORTED_PROTOCOL_VERSION] = {"unsupported_protocol_version", 400,
                                           "this MCP-Protocol-Version is not supported"},
    [RG_E_MISSING_SIGNATURE] = {"missing_signature", 401,
                                "signed requests need X-Readgate-Session, X-Readgate-Timestamp, "
                                "X-Readgate-Nonce and X-Readgate-Signature"},
    [RG_E_INVALID_SIGNATURE_HEADER] = {"invalid_signature_header", 401,
                                       "a signature header is malformed"},
    [RG_E_TIMESTAMP_OUT_OF_WINDOW] = {"timestamp_out_of_window", 401,
                                      "X-Readgate-Timestamp is too far from the server's clock"},
    [RG_E_INVALID_SESSION] = {"invalid_session", 401,
                              "X-Readgate-Session is not a valid session token"},
    [RG_E_SESSION_EXPIRED] = {"session_expired", 401, "the session has expired"},
    [RG_E_SESSION_WRONG_SITE] = {"session_wrong_site", 401,
                                 "the session was issued for another site"},
    [RG_E_SESSION_ENDED] = {"session_ended", 401, "the session was ended"},
    [RG_E_INVALID_SIGNATURE] = {"invalid_signature", 401, "signature does not match"},
    [RG_E_REPLAYED_REQUEST] = {"replayed_request", 401,
                               "this nonce was already used; every request needs a fresh nonce"},
    [RG_E_MCP_UNAUTHORIZED] = {"mcp_unauthorized", 401,
                               "the bearer is neither an API key of this site nor a valid MCP "
                               "token"},
    [RG_E_INVALID_WEBHOOK_SIGNATURE] = {"invalid_webhook_signature", 401,
                                        "X-Shopify-Hmac-Sha256 is missing or does not match the "
                                        "body"},
    [RG_E_ORIGIN_NOT_ALLOWED] = {"origin_not_allowed", 403,
                                 "Origin is not one of this site's allowed_origins"},
    [RG_E_WIDGET_UNAVAILABLE] = {"widget_unavailable", 404, "widget unavailable"},
    [RG_E_NOT_FOUND] = {"not_found", 404, "no such endpoint"},
    [RG_E_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405, "this method is not allowed here"},
    [RG_E_NOT_ACCEPTABLE] = {"not_acceptable", 406,
                             "this endpoint answers application/json: accept it"},
    [RG_E_BODY_TOO_LARGE] = {"body_too_large", 413, "the request body is too large"},
    [RG_E_UNSUPPORTED_MEDIA_TYPE] = {"unsupported_media_type", 415,
                                     "Content-Type must be application/json"},
    [RG_E_RATE_LIMITED] = {"rate_limited", 429,
                           "too many requests to this endpoint; try again later"},
    [RG_E_INTERNAL] = {"internal", 500, "internal error"},
    [RG_E_UPSTREAM_ERROR] = {"upstream_error", 502, "the data source returned an error"},
    [RG_E_SOURCE_UNAVAILABLE] = {"source_unavailable", 503,
                                 "the data source is unavailable; try again later"},
    [RG_E_PROVIDER_UNAVAILABLE] = {"provider_unavailable", 503,
                                   "this site's AI provider is not available; the gateway's log "
                                   "says why"},
    [RG_E_OVERLOADED] = {"overloaded", 503, "the gateway is overloaded; try again later"},
    [RG_E_UPSTREAM_TIMEOUT] = {"upstream_timeout", 504, "the data source did not answer in time"},
};

const rg_err_info *rg_err_info_of(rg_err_code code)
{
    /* A value outside the enum is a bug; it still answers a plain 500. */
    if ((unsigned)code >= RG_E_COUNT || !table[code].code)
        return &table[RG_E_INTERNAL];
    return &table[code];
}

/* Code, status and field; the message is the caller's. */
static void start(rg_api_error *e, rg_err_code code, const char *field)
{
    const rg_err_info *info = rg_err_info_of(code);
    e->id = (rg_err_code)(info - table);
    e->http_status = info->http_status;
    e->code = info->code;
    e->provider = NULL;
    e->field[0] = '\0';
    if (field) {
        size_t len = strnlen(field, sizeof e->field - 1);
        memcpy(e->field, field, len);
        e->field[len] = '\0';
        trim_partial_utf8(e->field);
    }
}

void rg_api_verr(rg_api_error *e, rg_err_code code, const char *field, const char *fmt, va_list ap)
{
    start(e, code, field);
    if (vsnprintf(e->message, sizeof e->message, fmt, ap) < 0)
        e->message[0] = '\0';
    trim_partial_utf8(e->message);
}

void rg_api_err(rg_api_error *e, rg_err_code code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rg_api_verr(e, code, field, fmt, ap);
    va_end(ap);
}

void rg_api_err_default(rg_api_error *e, rg_err_code code)
{
    start(e, code, NULL);
    snprintf(e->message, sizeof e->message, "%s", rg_err_info_of(code)->message);
}

int rg_api_error_json_default(rg_err_code code, char *buf, size_t len)
{
    /* The table's code and message need no JSON escaping (errors.h). */
    const rg_err_info *info = rg_err_info_of(code);
    int n = snprintf(buf, len, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", info->code,
                     info->message);
    return n < 0 || (size_t)n >= len ? -1 : n;
}

/* A JSON string from text that should be UTF-8; anything that is not is
   replaced with '?' so an error document can always be produced. */
static json_t *safe_string(const char *s)
{
    size_t n = strlen(s);
    if (rg_utf8_valid(s, n))
        return json_stringn(s, n);
    char *copy = malloc(n + 1);
    if (!copy)
        return NULL;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = u[i] < 0x80 ? 1 : rg_utf8_seq_len(u + i, n - i);
        if (k == 0) {
            copy[i++] = '?';
        } else {
            memcpy(copy + i, s + i, k);
            i += k;
        }
    }
    copy[n] = '\0';
    json_t *j = json_stringn(copy, n);
    free(copy);
    return j;
}

char *rg_api_error_json(const rg_api_error *e)
{
    json_t *root = json_object();
    json_t *err = json_object();
    char *out = NULL;
    if (!root || !err) {
        json_decref(root);
        json_decref(err);
        return NULL;
    }
    int rc = json_object_set_new(
        err, "code", safe_string(e->code ? e->code : rg_err_info_of(RG_E_INTERNAL)->code));
    rc |= json_object_set_new(err, "message", safe_string(e->message));
    if (e->field[0])
        rc |= json_object_set_new(err, "field", safe_string(e->field));
    if (e->provider)
        rc |= json_object_set_new(err, "provider", safe_string(e->provider));
    /* Attached last: set_new releases `err` itself if it fails. */
    rc |= json_object_set_new(root, "error", err);
    if (rc == 0)
        out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return out;
}
