/* Typed filter values: JSON value -> rg_value, with no coercion. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "query/plan_internal.h"
#include "util/civil.h"

/* ---- dates and date-times ------------------------------------------------ */

static int num(const char *s, int n, int *out) { return rg_civil_digits(s, (size_t)n, out); }

/* "YYYY-MM-DD" at s (10 bytes available) into y/m/d, checked against the calendar. */
static int parse_date(const char *s, int *y, int *m, int *d)
{
    if (s[4] != '-' || s[7] != '-' || num(s, 4, y) || num(s + 5, 2, m) || num(s + 8, 2, d))
        return -1;
    if (*y < 1 || *m < 1 || *m > 12 || *d < 1 || *d > rg_civil_days_in_month(*y, *m))
        return -1;
    return 0;
}

int rg_date_valid(const char *s, size_t n)
{
    int y, m, d;
    return n == 10 && parse_date(s, &y, &m, &d) == 0;
}

size_t rg_datetime_normalise(const char *s, size_t n, char out[32])
{
    int y, mo, d, h, mi, sec;
    if (n < 20 || parse_date(s, &y, &mo, &d) != 0)
        return 0;
    if ((s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' || num(s + 11, 2, &h) ||
        num(s + 14, 2, &mi) || num(s + 17, 2, &sec))
        return 0;
    /* Leap seconds (":60") are refused: no backend stores them consistently. */
    if (h > 23 || mi > 59 || sec > 59)
        return 0;
    size_t i = 19;
    char frac[7] = "000000";
    if (s[i] == '.') {
        size_t nd = 0;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, nd++)
            if (nd < 6)
                frac[nd] = s[i];
        if (nd == 0)
            return 0;
    }
    if (i >= n)
        return 0;
    int off = 0;
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
        off = 0;
    } else if ((s[i] == '+' || s[i] == '-') && n - i == 6 && s[i + 3] == ':') {
        int oh, om;
        if (num(s + i + 1, 2, &oh) || num(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return 0;
        off = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
    } else {
        return 0;
    }
    long long t = rg_civil_to_days(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL + sec;
    t -= off * 60LL;
    long long days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    long long rem = t - days * 86400;
    rg_civil_from_days(days, &y, &mo, &d);
    if (y < 1 || y > 9999)
        return 0;
    h = (int)(rem / 3600);
    mi = (int)(rem / 60 % 60);
    sec = (int)(rem % 60);
    int len;
    if (strcmp(frac, "000000") != 0)
        len = snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%sZ", y, mo, d, h, mi, sec, frac);
    else
        len = snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, h, mi, sec);
    return len > 0 && len < 32 ? (size_t)len : 0;
}

/* ---- comparison ------------------------------------------------------------ */

static int cmp_bytes(const rg_value *a, const rg_value *b)
{
    size_t n = a->u.str.len < b->u.str.len ? a->u.str.len : b->u.str.len;
    int c = n ? memcmp(a->u.str.ptr, b->u.str.ptr, n) : 0;
    if (c != 0)
        return c;
    return (a->u.str.len > b->u.str.len) - (a->u.str.len < b->u.str.len);
}

/* Microseconds of a normalised date-time (0 when it has no fraction). */
static long frac_micros(const rg_value *v)
{
    long us = 0;
    if (v->u.str.len > 20 && v->u.str.ptr[19] == '.')
        for (size_t i = 20; i < v->u.str.len && i < 26; i++)
            us = us * 10 + (v->u.str.ptr[i] - '0');
    return us;
}

int rg_value_compare(const rg_value *a, const rg_value *b)
{
    switch (a->type) {
    case RG_TYPE_INTEGER: return (a->u.i > b->u.i) - (a->u.i < b->u.i);
    case RG_TYPE_NUMBER: return (a->u.n > b->u.n) - (a->u.n < b->u.n);
    case RG_TYPE_BOOLEAN: return (a->u.b > b->u.b) - (a->u.b < b->u.b);
    case RG_TYPE_DATETIME: {
        /* "…SSZ" vs "…SS.ffffffZ": bytes alone would order 'Z' after '.'. */
        int c = memcmp(a->u.str.ptr, b->u.str.ptr, 19);
        if (c != 0)
            return c;
        long fa = frac_micros(a), fb = frac_micros(b);
        return (fa > fb) - (fa < fb);
    }
    default: return cmp_bytes(a, b);
    }
}

/* ---- values ------------------------------------------------------------------ */

static const char *json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction or exponent";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "an unknown value";
}

int rg_plan_check_text(rg_plan_ctx *x, const char *s, size_t n, size_t max_bytes,
                       int allow_space_controls, rg_err_code code, const char *path)
{
    if (n > max_bytes) {
        rg_api_err(x->err, code, path, "%s is %zu bytes long; at most %zu bytes are allowed", path,
                   n, max_bytes);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* C1 controls U+0080..U+009F are control characters too (UTF-8
         * 0xC2 0x80..0x9F); they have no place in a catalog value. */
        if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
            (unsigned char)s[i + 1] <= 0x9f) {
            rg_api_err(x->err, code, path,
                       "%s contains a control character (U+%04X at offset %zu); "
                       "control characters are not allowed",
                       path, (unsigned)(unsigned char)s[i + 1], i);
            return -1;
        }
        if (c >= 0x20 && c != 0x7f)
            continue;
        if (allow_space_controls && (c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'))
            continue;
        rg_api_err(x->err, code, path,
                   "%s contains a control character (byte 0x%02x at offset %zu); "
                   "control characters are not allowed",
                   path, c, i);
        return -1;
    }
    return 0;
}

/* The enum's values, comma-separated, for messages. */
static void enum_list(const rg_field *f, char *buf, size_t size)
{
    size_t w = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < f->nenum && w < size; i++) {
        int n = snprintf(buf + w, size - w, "%s%s", i ? ", " : "", f->enum_values[i]);
        if (n < 0)
            break;
        w += (size_t)n;
    }
}

/* One value of field f's type from j, written to *out. */
static int scalar(rg_plan_ctx *x, const rg_field *f, json_t *j, const char *path, rg_value *out)
{
    const char *tn = rg_type_name(f->type);
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->type = f->type;
    switch (f->type) {
    case RG_TYPE_INTEGER:
        if (!json_is_integer(j)) {
            rg_api_err(x->err, RG_E_INVALID_VALUE, path,
                       "field '%s' is an integer field: %s must be a JSON integer "
                       "(no fraction or exponent), not %s",
                       f->name, path, json_kind(j));
            return -1;
        }
        out->u.i = (int64_t)json_integer_value(j);
        return 0;
    case RG_TYPE_NUMBER:
        if (!json_is_number(j) || (json_is_real(j) && !isfinite(json_real_value(j)))) {
            rg_api_err(x->err, RG_E_INVALID_VALUE, path,
                       "field '%s' is a number field: %s must be a finite JSON number, not %s",
                       f->name, path, json_kind(j));
            return -1;
        }
        out->u.n = json_number_value(j);
        return 0;
    case RG_TYPE_BOOLEAN:
        if (!json_is_boolean(j)) {
            rg_api_err(x->err, RG_E_INVALID_VALUE, path,
                       "field '%s' is a boolean field: %s must be true or false, not %s", f->name,
                       path, json_kind(j));
            return -1;
        }
        out->u.b = json_is_true(j) ? 1 : 0;
        return 0;
    case RG_TYPE_STRING:
    case RG_TYPE_ENUM:
    case RG_TYPE_DATE:
    case RG_TYPE_DATETIME: break;
    }
    if (!json_is_string(j)) {
        rg_api_err(x->err, RG_E_INVALID_VALUE, path,
                   "field '%s' is a %s field: %s must be a JSON string, not %s", f->name,
                   tn ? tn : "string", path, json_kind(j));
        return -1;
    }
    const char *s = json_string_value(j);
    size_t n = json_string_length(j);
    if (rg_plan_check_text(x, s, n, x->limits->max_string_bytes, 0, RG_E_INVALID_VALUE, path) != 0)
        return -1;
    if (f->type == RG_TYPE_ENUM) {
        for (size_t i = 0; i < f->nenum; i++) {
            if (strlen(f->enum_values[i]) == n && memcmp(f->enum_values[i], s, n) == 0) {
                /* Point at the configured value: it lives as long as the config. */
                out->u.str.ptr = f->enum_values[i];
                out->u.str.len = n;
                return 0;
            }
        }
        char list[384];
        enum_list(f, list, sizeof list);
        rg_api_err(x->err, RG_E_INVALID_VALUE, path, "%s is not a value of field '%s'; allowed: %s",
                   path, f->name, list);
        return -1;
    }
    if (f->type == RG_TYPE_DATE && !rg_date_valid(s, n)) {
        rg_api_err(x->err, RG_E_INVALID_VALUE, path,
                   "field '%s' is a date field: %s must be a calendar date YYYY-MM-DD", f->name,
                   path);
        return -1;
    }
    char dt[32]; /* the normalised date-time outlives the block below */
    if (f->type == RG_TYPE_DATETIME) {
        size_t len = rg_datetime_normalise(s, n, dt);
        if (len == 0) {
            rg_api_err(x->err, RG_E_INVALID_VALUE, path,
                       "field '%s' is a datetime field: %s must be an RFC 3339 date-time "
                       "such as 2024-05-01T12:00:00Z or 2024-05-01T14:00:00.5+02:00",
                       f->name, path);
            return -1;
        }
        s = dt;
        n = len;
    }
    char *copy = rg_arena_strndup(x->arena, s, n);
    if (!copy) {
        rg_api_err_default(x->err, RG_E_INTERNAL);
        return -1;
    }
    out->u.str.ptr = copy;
    out->u.str.len = n;
    return 0;
}

int rg_plan_filter_values(rg_plan_ctx *x, const rg_field *f, rg_op op, json_t *j, const char *path,
                          rg_value **values, size_t *nvalues)
{
    const char *opn = rg_op_name(op);
    size_t n = 1;
    if (op == RG_OP_IN || op == RG_OP_BETWEEN) {
        size_t want_min = op == RG_OP_IN ? 1 : 2;
        size_t want_max = op == RG_OP_IN ? x->limits->max_in_values : 2;
        if (!json_is_array(j) || json_array_size(j) < want_min || json_array_size(j) > want_max) {
            if (op == RG_OP_IN && json_is_array(j))
                rg_api_err(x->err, RG_E_INVALID_VALUE, path,
                           "operator 'in' takes an array of 1 to %zu values of field "
                           "'%s'; got %zu values",
                           want_max, f->name, json_array_size(j));
            else if (op == RG_OP_IN)
                rg_api_err(x->err, RG_E_INVALID_VALUE, path,
                           "operator 'in' takes an array of 1 to %zu values of field "
                           "'%s', not %s",
                           want_max, f->name, json_kind(j));
            else
                rg_api_err(x->err, RG_E_INVALID_VALUE, path,
                           "operator 'between' takes an array of exactly 2 values "
                           "[low, high] of field '%s'",
                           f->name);
            return -1;
        }
        n = json_array_size(j);
    }
    rg_value *v = rg_arena_alloc(x->arena, n * sizeof *v);
    if (!v) {
        rg_api_err_default(x->err, RG_E_INTERNAL);
        return -1;
    }
    if (op == RG_OP_IN || op == RG_OP_BETWEEN) {
        for (size_t i = 0; i < n; i++) {
            char p[160];
            snprintf(p, sizeof p, "%s[%zu]", path, i);
            if (scalar(x, f, json_array_get(j, i), p, &v[i]) != 0)
                return -1;
        }
        if (op == RG_OP_BETWEEN && rg_value_compare(&v[0], &v[1]) > 0) {
            rg_api_err(x->err, RG_E_INVALID_VALUE, path,
                       "operator 'between' takes [low, high] with low <= high; "
                       "%s[0] is greater than %s[1]",
                       path, path);
            return -1;
        }
    } else {
        if (scalar(x, f, j, path, &v[0]) != 0)
            return -1;
        if ((op == RG_OP_PREFIX || op == RG_OP_CONTAINS) &&
            (!(f->type == RG_TYPE_STRING || f->type == RG_TYPE_ENUM) || v[0].u.str.len == 0)) {
            rg_api_err(x->err, RG_E_INVALID_VALUE, path, "operator '%s' takes a non-empty string",
                       opn ? opn : "?");
            return -1;
        }
    }
    *values = v;
    *nvalues = n;
    return 0;
}
