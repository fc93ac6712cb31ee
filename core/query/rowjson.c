#include "query/rowjson.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t rg_utf8_seq_len(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    /* Second-byte ranges per the RFC 3629 table: they exclude overlong forms,
       UTF-16 surrogates and code points past U+10FFFF. */
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

int rg_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = rg_utf8_seq_len(p + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

static const char hexdig[] = "0123456789abcdef";

/*
 * Writes the escaped form of s[*pos..] into dst, consuming whole sequences
 * while *pos < stop (a sequence may run past stop, never past len). Each
 * consumed unit of k >= 1 input bytes writes at most 6 bytes, so dst needs
 * 6 * (stop - *pos) bytes. Returns the number of bytes written.
 */
static size_t escape_run(const unsigned char *s, size_t len, size_t *pos, size_t stop, char *dst)
{
    size_t i = *pos, w = 0;
    while (i < stop) {
        /* A run of bytes that need no escaping is copied in one go. */
        size_t j = i;
        while (j < stop && s[j] >= 0x20 && s[j] < 0x7f && s[j] != '"' && s[j] != '\\')
            j++;
        if (j > i) {
            memcpy(dst + w, s + i, j - i);
            w += j - i;
            i = j;
            continue;
        }
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t k = rg_utf8_seq_len(s + i, len - i);
            if (k) {
                memcpy(dst + w, s + i, k);
                w += k;
                i += k;
            } else {
                /* One replacement per undecodable byte keeps the scan simple
                   and the output bounded. */
                memcpy(dst + w, "\\ufffd", 6);
                w += 6;
                i++;
            }
            continue;
        }
        dst[w++] = '\\';
        switch (c) {
        case '"': dst[w++] = '"'; break;
        case '\\': dst[w++] = '\\'; break;
        case '\b': dst[w++] = 'b'; break;
        case '\f': dst[w++] = 'f'; break;
        case '\n': dst[w++] = 'n'; break;
        case '\r': dst[w++] = 'r'; break;
        case '\t': dst[w++] = 't'; break;
        default:
            dst[w++] = 'u';
            dst[w++] = '0';
            dst[w++] = '0';
            dst[w++] = hexdig[c >> 4];
            dst[w++] = hexdig[c & 15];
            break;
        }
        i++;
    }
    *pos = i;
    return w;
}

/* Input bytes escaped per reserved block: bounds the scratch space a huge
   value needs to 6 times this, whatever its length. */
#define ESCAPE_BLOCK 4096

int rg_json_append_string(struct evbuffer *out, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t pos = 0;
    int first = 1;
    if (len == 0)
        return evbuffer_add(out, "\"\"", 2);
    while (pos < len) {
        size_t stop = len - pos > ESCAPE_BLOCK ? pos + ESCAPE_BLOCK : len;
        /* Opening quote, the block, and the closing quote if it is the last. */
        size_t need = 6 * (stop - pos) + 2;
        struct evbuffer_iovec vec;
        if (evbuffer_reserve_space(out, (ev_ssize_t)need, &vec, 1) != 1)
            return -1;
        char *dst = vec.iov_base;
        size_t w = 0;
        if (first) {
            dst[w++] = '"';
            first = 0;
        }
        w += escape_run(u, len, &pos, stop, dst + w);
        if (pos >= len)
            dst[w++] = '"';
        vec.iov_len = w;
        if (evbuffer_commit_space(out, &vec, 1) != 0)
            return -1;
    }
    return 0;
}

/* Shortest of %.15g..%.17g that reads back as the same double. */
static int format_double(double d, char *buf, size_t size)
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, size, "%.*g", prec, d);
        if (n < 0 || (size_t)n >= size)
            return -1;
        if (strtod(buf, NULL) == d)
            break;
    }
    return n;
}

int rg_json_append_value(struct evbuffer *out, const rg_value *v)
{
    char buf[40];
    int n;
    if (v->is_null)
        return evbuffer_add(out, "null", 4);
    switch (v->type) {
    case RG_TYPE_INTEGER: {
        /* Digits backwards from the end of buf: a printf per value was a
           measurable part of writing a page of rows. */
        uint64_t u = v->u.i < 0 ? 0 - (uint64_t)v->u.i : (uint64_t)v->u.i;
        char *w = buf + sizeof buf;
        do {
            *--w = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (v->u.i < 0)
            *--w = '-';
        return evbuffer_add(out, w, (size_t)(buf + sizeof buf - w));
    }
    case RG_TYPE_NUMBER:
        /* JSON has no NaN or infinity. */
        if (!isfinite(v->u.n))
            return evbuffer_add(out, "null", 4);
        n = format_double(v->u.n, buf, sizeof buf);
        return n > 0 ? evbuffer_add(out, buf, (size_t)n) : -1;
    case RG_TYPE_BOOLEAN:
        return v->u.b ? evbuffer_add(out, "true", 4) : evbuffer_add(out, "false", 5);
    case RG_TYPE_STRING:
    case RG_TYPE_DATE:
    case RG_TYPE_DATETIME:
    case RG_TYPE_ENUM:
        if (!v->u.str.ptr)
            return v->u.str.len ? -1 : evbuffer_add(out, "\"\"", 2);
        return rg_json_append_string(out, v->u.str.ptr, v->u.str.len);
    }
    return -1;
}

int rg_rows_begin(struct evbuffer *out)
{
    return evbuffer_add(out, "{\"rows\":[", 9) == 0 ? 0 : -1;
}

int rg_rows_append(struct evbuffer *out, int first, const rg_query_plan *plan,
                   const unsigned char *visible, const rg_value *values)
{
    int rc = evbuffer_add(out, first ? "{" : ",{", first ? 1 : 2);
    bool first_field = true;
    for (size_t i = 0; i < plan->ncolumns && rc == 0; i++) {
        if (!visible[i])
            continue;
        const rg_field_desc *f = rg_field_at(plan->collection->fields, plan->columns[i]);
        if (!first_field)
            rc |= evbuffer_add(out, ",", 1);
        first_field = false;
        rc |= rg_json_append_string(out, f->name, strlen(f->name));
        rc |= evbuffer_add(out, ":", 1);
        /* A NULL keeps the field's type; only the payload is absent. */
        rc |= rg_json_append_value(out, rg_value_at(values, i));
    }
    rc |= evbuffer_add(out, "}", 1);
    return rc == 0 ? 0 : -1;
}

int rg_rows_end(struct evbuffer *out, const char *next_cursor)
{
    int rc = evbuffer_add(out, "],\"next_cursor\":", 16);
    if (next_cursor)
        rc |= rg_json_append_string(out, next_cursor, strlen(next_cursor));
    else
        rc |= evbuffer_add(out, "null", 4);
    rc |= evbuffer_add(out, "}", 1);
    return rc == 0 ? 0 : -1;
}
