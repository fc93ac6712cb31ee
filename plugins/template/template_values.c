/*
 * Typed cells for the template adapter: a JSON member read strictly as the
 * field's type, RFC 3339 datetimes to an instant and canonical UTC text,
 * comparisons that match SQL's, and ASCII case folding for prefix, contains
 * and search. Nothing here touches the file or the gateway.
 */
#include "template_adapter.h"

#include <stdio.h>
#include <string.h>

int tpl_is_text_type(rg_type t)
{
    return t == RG_TYPE_STRING || t == RG_TYPE_ENUM;
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
   (H. Hinnant's days_from_civil); portable, unlike timegm. */
    static int64_t days_from_civil(int64_t y, int m, int d)
    {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* "YYYY-MM-DD" with a real month and day. */
static int parse_date(const char *s, size_t len)
{
    int y, m, d;
    if (len != 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &y) || digits(s + 5, 2, &m) ||
        digits(s + 8, 2, &d) || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return -1;
    return 0;
}

/*
 * RFC 3339 ("2024-02-01T12:30:00.5+01:00", 'T' or space, Z or an offset; at
 * most microsecond precision is kept) into c->us and the canonical UTC text
 * "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" (a fraction only when it is not zero).
 */
static int parse_datetime(const char *s, size_t len, cell *c)
{
    int Y, M, D, h, mi, sec, frac = 0;
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':' || digits(s, 4, &Y) || digits(s + 5, 2, &M) ||
        digits(s + 8, 2, &D) || digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) ||
        digits(s + 17, 2, &sec) || M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) ||
        h > 23 || mi > 59 || sec > 60)
        return -1;
    size_t i = 19;
    if (s[i] == '.') {
        size_t nd = 0;
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, nd++)
            if (nd < 6)
                frac = frac * 10 + (s[i] - '0');
        if (nd == 0)
            return -1;
        for (; nd < 6; nd++)
            frac *= 10;
    }
    int offset_min = 0;
    if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
        /* UTC */
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh, om;
        if (digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset_min = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
    } else {
        return -1;
    }
    int64_t secs = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    c->us = secs * 1000000 + frac;

    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        return -1;
    int n = snprintf(c->text, sizeof c->text, "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d,
                     (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
    if (n != 19)
        return -1;
    if (frac)
        n += snprintf(c->text + n, sizeof c->text - (size_t)n, ".%06d", frac);
    snprintf(c->text + n, sizeof c->text - (size_t)n, "Z");
    return 0;
}

static const char *json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "something else";
}

static const char *type_name(rg_type t)
{
    switch (t) {
    case RG_TYPE_STRING: return "string";
    case RG_TYPE_INTEGER: return "integer";
    case RG_TYPE_NUMBER: return "number";
    case RG_TYPE_BOOLEAN: return "boolean";
    case RG_TYPE_DATE: return "date";
    case RG_TYPE_DATETIME: return "datetime";
    case RG_TYPE_ENUM: return "enum";
    }
    return "unknown";
}

/* A field of a parsed line as a cell. Strings point into `obj`. */
rg_status tpl_read_cell(const json_t *obj, const rg_field_desc *f, size_t line, cell *c,
                           rg_error *err)
{
    const char *col = f->column ? f->column : f->name;
    /* The column is a map key looked up, not text parsed: no quoting needed. */
    json_t *j = json_object_get(obj, col);
    memset(c, 0, sizeof c[0]);
    c->v.type = f->type;
    if (!j || json_is_null(j)) {
        c->v.is_null = 1;
        return RG_OK;
    }
    int ok = 0;
    switch (f->type) {
    case RG_TYPE_INTEGER:
        if ((ok = json_is_integer(j)))
            c->v.u.i = (int64_t)json_integer_value(j);
        break;
    case RG_TYPE_NUMBER:
        if ((ok = json_is_number(j)))
            c->v.u.n = json_number_value(j);
        break;
    case RG_TYPE_BOOLEAN:
        if ((ok = json_is_boolean(j)))
            c->v.u.b = json_is_true(j);
        break;
    case RG_TYPE_STRING:
    case RG_TYPE_ENUM:
    case RG_TYPE_DATE:
    case RG_TYPE_DATETIME:
        if ((ok = json_is_string(j))) {
            /* jansson checked the UTF-8 and refuses \u0000, as the ABI wants. */
            c->v.u.str.ptr = json_string_value(j);
            c->v.u.str.len = json_string_length(j);
            if (f->type == RG_TYPE_DATE && parse_date(c->v.u.str.ptr, c->v.u.str.len) != 0)
                return tpl_fail(err, RG_ERR_UPSTREAM, "line %zu: column '%s' is not a YYYY-MM-DD date",
                                line, col);
            if (f->type == RG_TYPE_DATETIME &&
                parse_datetime(c->v.u.str.ptr, c->v.u.str.len, c) != 0)
                return tpl_fail(err, RG_ERR_UPSTREAM,
                                "line %zu: column '%s' is not an RFC 3339 datetime", line, col);
        }
        break;
    }
    if (!ok)
        return tpl_fail(err, RG_ERR_UPSTREAM, "line %zu: column '%s' holds %s, the field is of type %s",
                        line, col, json_kind(j), type_name(f->type));
    return RG_OK;
}

/* A value of the plan (a filter value or an `after` position) as a cell.
   Strings keep pointing into the plan, which lives for the whole query. */
int tpl_cell_from_value(const rg_value *v, rg_type t, cell *c)
{
    memset(c, 0, sizeof c[0]);
    c->v = *v;
    if (v->type != t)
        return -1;
    if (!v->is_null && t == RG_TYPE_DATETIME)
        return parse_datetime(v->u.str.ptr, v->u.str.len, c);
    return 0;
}

/* Both non-NULL, same type. Strings by UTF-8 bytes (SQL "C" collation). */
int tpl_cmp_cells(const cell *a, const cell *b, rg_type t)
{
    switch (t) {
    case RG_TYPE_INTEGER: return (a->v.u.i > b->v.u.i) - (a->v.u.i < b->v.u.i);
    case RG_TYPE_NUMBER: return (a->v.u.n > b->v.u.n) - (a->v.u.n < b->v.u.n);
    case RG_TYPE_BOOLEAN: return (a->v.u.b > b->v.u.b) - (a->v.u.b < b->v.u.b);
    case RG_TYPE_DATETIME: return (a->us > b->us) - (a->us < b->us);
    case RG_TYPE_STRING:
    case RG_TYPE_ENUM:
    case RG_TYPE_DATE: {
        size_t la = a->v.u.str.len, lb = b->v.u.str.len, n = la < lb ? la : lb;
        int c = n ? memcmp(a->v.u.str.ptr, b->v.u.str.ptr, n) : 0;
        return c ? (c > 0) - (c < 0) : (la > lb) - (la < lb);
    }
    }
    return 0;
}

static unsigned char fold(unsigned char ch)
{
    /* ASCII only, on purpose: every adapter must agree, and bytes of UTF-8
       sequences (all >= 0x80) are never changed. */
    return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch - 'A' + 'a') : ch;
}

int tpl_starts_with_fold(const char *s, size_t slen, const char *p, size_t plen)
{
    if (plen > slen)
        return 0;
    for (size_t i = 0; i < plen; i++)
        if (fold((unsigned char)s[i]) != fold((unsigned char)p[i]))
            return 0;
    return 1;
}

int tpl_contains_fold(const char *s, size_t slen, const char *p, size_t plen)
{
    for (size_t i = 0; i + plen <= slen; i++)
        if (tpl_starts_with_fold(s + i, slen - i, p, plen))
            return 1;
    return 0;
}
