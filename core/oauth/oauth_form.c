/* Form bodies for token and revoke endpoints: libcurl escapes every key and
   value, so a token or secret with '&', '=' or '+' can't change the request. */
#include "oauth_http.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/keyring.h"

void rg_free_secret(char *s)
{
    if (s) {
        rg_secure_zero(s, strlen(s));
        free(s);
    }
}

static int append(rg_form *f, const char *s, size_t n)
{
    if (f->len + n + 1 > f->cap) {
        size_t nc = (f->cap ? f->cap : 128);
        while (nc < f->len + n + 1)
            nc *= 2;
        char *nb = malloc(nc);
        if (!nb)
            return -1;
        /* Grow by copying, so the old buffer can be wiped rather than left
           behind by realloc. */
        if (f->buf) {
            memcpy(nb, f->buf, f->len);
            rg_secure_zero(f->buf, f->cap);
            free(f->buf);
        }
        f->buf = nb;
        f->cap = nc;
    }
    memcpy(f->buf + f->len, s, n);
    f->len += n;
    f->buf[f->len] = '\0';
    return 0;
}

void rg_form_add(rg_form *f, const char *key, const char *value)
{
    if (f->failed)
        return;
    /* The handle argument of curl_easy_escape is unused since 7.82. */
    char *k = curl_easy_escape(NULL, key, 0);
    char *v = curl_easy_escape(NULL, value, 0);
    if (!k || !v || (f->len && append(f, "&", 1) != 0) || append(f, k, strlen(k)) != 0 ||
        append(f, "=", 1) != 0 || append(f, v, strlen(v)) != 0)
        f->failed = 1;
    if (v)
        rg_secure_zero(v, strlen(v));
    curl_free(k);
    curl_free(v);
}

char *rg_form_take(rg_form *f)
{
    if (f->failed || !f->buf) {
        rg_form_clear(f);
        return NULL;
    }
    char *b = f->buf;
    f->buf = NULL;
    f->len = f->cap = 0;
    return b;
}

void rg_form_clear(rg_form *f)
{
    if (f->buf) {
        rg_secure_zero(f->buf, f->cap);
        free(f->buf);
    }
    memset(f, 0, sizeof *f);
}
