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

void rg_api_error_set(rg_api_error *e, int http_status, const char *code, const char *field,
                      const char *fmt, ...)
{
    e->http_status = http_status;
    e->code = code ? code : "internal";
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    if (n < 0)
        e->message[0] = '\0';
    trim_partial_utf8(e->message);
    e->field[0] = '\0';
    e->provider = NULL;
    if (field) {
        size_t len = strnlen(field, sizeof e->field - 1);
        memcpy(e->field, field, len);
        e->field[len] = '\0';
        trim_partial_utf8(e->field);
    }
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
    int rc = json_object_set_new(err, "code", safe_string(e->code ? e->code : "internal"));
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
