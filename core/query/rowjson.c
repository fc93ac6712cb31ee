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
static int format_double_printf(double d, char *buf, size_t size)
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

/* Writes the digits of u backwards, ending just before end; returns the
   first digit. */
static char *digits_backwards(uint64_t u, char *end)
{
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    return end;
}

static const double pow10_exact[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8,
                                     1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16};

/*
 * The common case without printf: d as m / 10^k with the fewest decimals k
 * that reads back as d. m and 10^k are exact doubles (|m| < 2^53, k <= 16)
 * and IEEE division rounds correctly, so "(double)m / 10^k == d" proves
 * that the decimal text of m / 10^k reads back as d. Only for
 * 1e-4 <= |d| < 1e15, where %g writes fixed notation too, so the text is the
 * one format_double_printf would write; otherwise, and when no k fits in 53
 * bits, 0 (the caller falls back to printf). printf-and-strtod for every
 * number was the largest single cost of writing a page of prices.
 */
static size_t format_double_fast(double d, char *buf)
{
    double a = fabs(d);
    if (!(a >= 1e-4 && a < 1e15))
        return 0;
    for (size_t k = 0; k < sizeof pow10_exact / sizeof *pow10_exact; k++) {
        double scaled = a * pow10_exact[k];
        if (scaled >= 9007199254740992.0) /* 2^53 */
            return 0;
        double m = nearbyint(scaled);
        if (m / pow10_exact[k] != a)
            continue;
        char tmp[24];
        char *end = tmp + sizeof tmp;
        char *p = digits_backwards((uint64_t)m, end);
        size_t nd = (size_t)(end - p), w = 0;
        if (d < 0)
            buf[w++] = '-';
        if (k == 0) {
            memcpy(buf + w, p, nd);
            return w + nd;
        }
        if (nd <= k) { /* 0.0…digits */
            buf[w++] = '0';
            buf[w++] = '.';
            memset(buf + w, '0', k - nd);
            w += k - nd;
            memcpy(buf + w, p, nd);
            return w + nd;
        }
        memcpy(buf + w, p, nd - k);
        w += nd - k;
        buf[w++] = '.';
        memcpy(buf + w, p + nd - k, k);
        return w + k;
    }
    return 0;
}

/* The JSON text of a value that is not a string, or 0 for a string (the
   caller escapes it); buf holds at least VALUE_TEXT_MAX bytes. Negative on
   a number printf could not write. */
#define VALUE_TEXT_MAX 40
static int value_text(const rg_value *v, char *buf)
{
    if (v->is_null) {
        memcpy(buf, "null", 4);
        return 4;
    }
    switch (v->type) {
    case RG_TYPE_INTEGER: {
        /* Digits backwards: a printf per value was a measurable part of
           writing a page of rows. */
        uint64_t u = v->u.i < 0 ? 0 - (uint64_t)v->u.i : (uint64_t)v->u.i;
        char tmp[24];
        char *end = tmp + sizeof tmp;
        char *p = digits_backwards(u, end);
        size_t w = 0;
        if (v->u.i < 0)
            buf[w++] = '-';
        memcpy(buf + w, p, (size_t)(end - p));
        return (int)(w + (size_t)(end - p));
    }
    case RG_TYPE_NUMBER: {
        /* JSON has no NaN or infinity. */
        if (!isfinite(v->u.n)) {
            memcpy(buf, "null", 4);
            return 4;
        }
        size_t n = format_double_fast(v->u.n, buf);
        if (n)
            return (int)n;
        int r = format_double_printf(v->u.n, buf, VALUE_TEXT_MAX);
        return r > 0 ? r : -1;
    }
    case RG_TYPE_BOOLEAN:
        if (v->u.b) {
            memcpy(buf, "true", 4);
            return 4;
        }
        memcpy(buf, "false", 5);
        return 5;
    case RG_TYPE_STRING:
    case RG_TYPE_DATE:
    case RG_TYPE_DATETIME:
    case RG_TYPE_ENUM:
        return 0;
    }
    return -1;
}

int rg_json_append_value(struct evbuffer *out, const rg_value *v)
{
    char buf[VALUE_TEXT_MAX];
    int n = value_text(v, buf);
    if (n > 0)
        return evbuffer_add(out, buf, (size_t)n);
    if (n < 0)
        return -1;
    if (!v->u.str.ptr)
        return v->u.str.len ? -1 : evbuffer_add(out, "\"\"", 2);
    return rg_json_append_string(out, v->u.str.ptr, v->u.str.len);
}

int rg_rows_begin(struct evbuffer *out)
{
    return evbuffer_add(out, "{\"rows\":[", 9) == 0 ? 0 : -1;
}

/*
 * A row is written into a stack buffer and handed to the evbuffer in one
 * piece: an evbuffer_add per token (a brace, a name, a colon, a value) took
 * the buffer's lock and bookkeeping a dozen times a row. A string too long
 * for the buffer goes straight to the evbuffer.
 */
typedef struct row_buf {
    struct evbuffer *out;
    size_t n;
    int rc;
    char b[2048];
} row_buf;

static void rb_flush(row_buf *rb)
{
    if (rb->n) {
        rb->rc |= evbuffer_add(rb->out, rb->b, rb->n);
        rb->n = 0;
    }
}

static void rb_put(row_buf *rb, const char *s, size_t len)
{
    if (rb->n + len > sizeof rb->b) {
        rb_flush(rb);
        if (len > sizeof rb->b) {
            rb->rc |= evbuffer_add(rb->out, s, len);
            return;
        }
    }
    memcpy(rb->b + rb->n, s, len);
    rb->n += len;
}

static void rb_string(row_buf *rb, const char *s, size_t len)
{
    if (!s && len) {
        rb->rc = -1;
        return;
    }
    if (len > (sizeof rb->b - 2) / 6) {
        rb_flush(rb);
        rb->rc |= rg_json_append_string(rb->out, s ? s : "", len);
        return;
    }
    if (rb->n + 6 * len + 2 > sizeof rb->b)
        rb_flush(rb);
    size_t pos = 0;
    char *dst = rb->b + rb->n;
    size_t w = 0;
    dst[w++] = '"';
    if (len)
        w += escape_run((const unsigned char *)s, len, &pos, len, dst + w);
    dst[w++] = '"';
    rb->n += w;
}

int rg_rows_append(struct evbuffer *out, int first, const rg_query_plan *plan,
                   const unsigned char *visible, const rg_value *values)
{
    row_buf rb;
    rb.out = out;
    rb.n = 0;
    rb.rc = 0;
    rb_put(&rb, first ? "{" : ",{", first ? 1 : 2);
    bool first_field = true;
    for (size_t i = 0; i < plan->ncolumns && rb.rc == 0; i++) {
        if (!visible[i])
            continue;
        const rg_field_desc *f = rg_field_at(plan->collection->fields, plan->columns[i]);
        if (!first_field)
            rb_put(&rb, ",", 1);
        first_field = false;
        rb_string(&rb, f->name, strlen(f->name));
        rb_put(&rb, ":", 1);
        /* A NULL keeps the field's type; only the payload is absent. */
        const rg_value *v = rg_value_at(values, i);
        char text[VALUE_TEXT_MAX];
        int n = value_text(v, text);
        if (n > 0)
            rb_put(&rb, text, (size_t)n);
        else if (n == 0)
            rb_string(&rb, v->u.str.ptr, v->u.str.len);
        else
            rb.rc = -1;
    }
    rb_put(&rb, "}", 1);
    rb_flush(&rb);
    return rb.rc == 0 ? 0 : -1;
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
