/*
 * In-memory plan evaluation for the SaaS adapters (see memfilter.h).
 */
#include "memfilter.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "civil.h"

#define ARENA_BLOCK 16384
#define DATETIME_TEXT 28

struct rg_mf_block {
    rg_mf_block *next;
    size_t used, size;
    char data[];
};

/* ---- row sets ------------------------------------------------------------- */

void rg_mf_rows_init(rg_mf_rows *r, const rg_collection_desc *coll)
{
    memset(r, 0, sizeof *r);
    r->coll = coll;
    r->nfields = coll->nfields;
}

void rg_mf_rows_free(rg_mf_rows *r)
{
    free(r->cells);
    for (rg_mf_block *b = r->arena, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    memset(r, 0, sizeof *r);
}

rg_mf_cell *rg_mf_rows_add(rg_mf_rows *r)
{
    if (r->nrows == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 128;
        if (r->nfields && cap > SIZE_MAX / sizeof(rg_mf_cell) / r->nfields)
            return NULL;
        rg_mf_cell *cells = realloc(r->cells, cap * r->nfields * sizeof *cells + 1);
        if (!cells)
            return NULL;
        r->cells = cells;
        r->cap = cap;
    }
    rg_mf_cell *row = rg_mf_row(r, r->nrows++);
    for (size_t i = 0; i < r->nfields; i++) {
        memset(&row[i], 0, sizeof row[i]);
        row[i].v.type = rg_field_at(r->coll->fields, i)->type;
        row[i].v.is_null = 1;
    }
    return row;
}

void rg_mf_rows_pop(rg_mf_rows *r)
{
    if (r->nrows)
        r->nrows--;
}

/* A NUL-terminated copy of s in the row set's arena. */
static char *arena_copy(rg_mf_rows *r, const char *s, size_t len)
{
    rg_mf_block *b = r->arena;
    if (!b || b->size - b->used < len + 1) {
        size_t size = len + 1 > ARENA_BLOCK ? len + 1 : ARENA_BLOCK;
        b = malloc(sizeof *b + size);
        if (!b)
            return NULL;
        b->used = 0;
        b->size = size;
        /* A big string gets a block of its own behind the current one, so
           the current block's free space is not wasted. */
        if (r->arena && size > ARENA_BLOCK) {
            b->next = r->arena->next;
            r->arena->next = b;
        } else {
            b->next = r->arena;
            r->arena = b;
        }
    }
    char *out = b->data + b->used;
    if (len)
        memcpy(out, s, len);
    out[len] = '\0';
    b->used += len + 1;
    return out;
}

/* ---- dates and times ---------------------------------------------------- */

static int digits(const char *s, size_t n, int *out) { return rg_civil_digits(s, n, out); }

int rg_mf_parse_date(const char *s, size_t len, int64_t *days)
{
    int y, m, d;
    if (len != 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &y) || digits(s + 5, 2, &m) ||
        digits(s + 8, 2, &d) || m < 1 || m > 12 || d < 1 || d > rg_civil_days_in_month(y, m))
        return -1;
    if (days)
        *days = rg_civil_to_days(y, m, d);
    return 0;
}

int rg_mf_format_date(int64_t days, char *out, size_t outsz)
{
    int y, m, d;
    rg_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999 || outsz < 11)
        return -1;
    snprintf(out, outsz, "%04d-%02d-%02d", y, m, d);
    return 0;
}

/* Canonical UTC text of an instant: "YYYY-MM-DDTHH:MM:SS[.ffffff]Z". */
static int format_instant(int64_t us, char *out, size_t outsz)
{
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int frac = (int)(us - secs * 1000000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int y, m, d;
    rg_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999 || outsz < DATETIME_TEXT)
        return -1;
    int n = snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d, (int)(rem / 3600),
                     (int)(rem / 60 % 60), (int)(rem % 60));
    if (n != 19)
        return -1;
    if (frac)
        n += snprintf(out + n, outsz - (size_t)n, ".%06d", frac);
    snprintf(out + n, outsz - (size_t)n, "Z");
    return 0;
}

int rg_mf_parse_datetime(const char *s, size_t len, int64_t *us, char *canon, size_t canonsz)
{
    int Y, M, D, h, mi, sec, frac = 0;
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':' || digits(s, 4, &Y) || digits(s + 5, 2, &M) ||
        digits(s + 8, 2, &D) || digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) ||
        digits(s + 17, 2, &sec) || M < 1 || M > 12 || D < 1 || D > rg_civil_days_in_month(Y, M) ||
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
    int64_t secs = rg_civil_to_days(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    int64_t t = secs * 1000000 + frac;
    if (canon && format_instant(t, canon, canonsz) != 0)
        return -1;
    if (us)
        *us = t;
    return 0;
}

void rg_mf_format_double(double d, char *out, size_t outsz)
{
    /* The shortest form that reads back exactly: a provider comparing
       decimals must see 49.99, not 49.990000000000002. */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, outsz, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

const char *rg_mf_type_name(rg_type t)
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

/* ---- conversions ---------------------------------------------------------- */

static int set_string(rg_mf_rows *r, rg_mf_cell *c, const char *s, size_t len)
{
    char *copy = arena_copy(r, s, len);
    if (!copy)
        return -2;
    c->v.u.str.ptr = copy;
    c->v.u.str.len = len;
    c->v.is_null = 0;
    return 0;
}

static int set_datetime_us(rg_mf_rows *r, rg_mf_cell *c, int64_t us)
{
    char text[DATETIME_TEXT];
    if (format_instant(us, text, sizeof text) != 0)
        return -1;
    c->us = us;
    return set_string(r, c, text, strlen(text));
}

/* Sheets' serial day numbers: days since 1899-12-30, UTC. */
#define SHEET_EPOCH_DAYS (-25569)

static int set_from_serial(rg_mf_rows *r, rg_mf_cell *c, rg_type t, double serial)
{
    if (!isfinite(serial) || serial < -1e6 || serial > 3e6)
        return -1;
    if (t == RG_TYPE_DATE) {
        char text[11];
        if (rg_mf_format_date(SHEET_EPOCH_DAYS + (int64_t)floor(serial), text, sizeof text) != 0)
            return -1;
        return set_string(r, c, text, 10);
    }
    /* A serial time is a double: keep milliseconds, the precision a sheet shows. */
    double ms = floor((serial + SHEET_EPOCH_DAYS) * 86400000.0 + 0.5);
    return set_datetime_us(r, c, (int64_t)ms * 1000);
}

static int parse_int64(const char *s, size_t len, int64_t *out)
{
    char buf[32];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end || end == buf || buf[0] == ' ' || buf[0] == '+')
        return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    /* Decimal text only: no hex floats, "inf" or "nan", no spaces. */
    for (size_t i = 0; i < len; i++)
        if (!strchr("0123456789+-.eE", buf[i]))
            return -1;
    if (errno == ERANGE || *end || end == buf || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int rg_mf_set_text(rg_mf_rows *r, rg_mf_cell *c, rg_type t, const char *s, size_t len,
                   unsigned flags)
{
    c->v.type = t;
    c->v.is_null = 1;
    if (!s || (len == 0 && (flags & RG_MF_SHEET)))
        return 0;
    switch (t) {
    case RG_TYPE_STRING:
    case RG_TYPE_ENUM:
        return set_string(r, c, s, len);
    case RG_TYPE_INTEGER: {
        int64_t i;
        if (parse_int64(s, len, &i) != 0) {
            /* "12.0" (a decimal that happens to be integral) is accepted. */
            double d;
            if (parse_double(s, len, &d) != 0 || d != floor(d) || fabs(d) > 9.2e18)
                return -1;
            i = (int64_t)d;
        }
        c->v.u.i = i;
        c->v.is_null = 0;
        return 0;
    }
    case RG_TYPE_NUMBER: {
        double d;
        if (parse_double(s, len, &d) != 0)
            return -1;
        c->v.u.n = d;
        c->v.is_null = 0;
        return 0;
    }
    case RG_TYPE_BOOLEAN:
        if ((len == 4 && !strncasecmp(s, "true", 4)) || (len == 1 && s[0] == '1'))
            c->v.u.b = 1;
        else if ((len == 5 && !strncasecmp(s, "false", 5)) || (len == 1 && s[0] == '0'))
            c->v.u.b = 0;
        else
            return -1;
        c->v.is_null = 0;
        return 0;
    case RG_TYPE_DATE: {
        if (rg_mf_parse_date(s, len, NULL) == 0)
            return set_string(r, c, s, len);
        int64_t us;
        if ((flags & RG_MF_DATE_FROM_DATETIME) &&
            rg_mf_parse_datetime(s, len, &us, NULL, 0) == 0) {
            char text[11];
            int64_t days = us >= 0 ? us / 86400000000LL : -((-us + 86399999999LL) / 86400000000LL);
            if (rg_mf_format_date(days, text, sizeof text) != 0)
                return -1;
            return set_string(r, c, text, 10);
        }
        return -1;
    }
    case RG_TYPE_DATETIME: {
        char text[DATETIME_TEXT];
        int64_t us;
        if (rg_mf_parse_datetime(s, len, &us, text, sizeof text) != 0)
            return -1;
        c->us = us;
        return set_string(r, c, text, strlen(text));
    }
    }
    return -1;
}

int rg_mf_set_json(rg_mf_rows *r, rg_mf_cell *c, rg_type t, const json_t *j, unsigned flags)
{
    c->v.type = t;
    c->v.is_null = 1;
    if (!j || json_is_null(j))
        return 0;
    int sheet = (flags & RG_MF_SHEET) != 0;
    switch (json_typeof(j)) {
    case JSON_STRING:
        if (!sheet && (t == RG_TYPE_INTEGER || t == RG_TYPE_NUMBER || t == RG_TYPE_BOOLEAN))
            return -1;
        return rg_mf_set_text(r, c, t, json_string_value(j), json_string_length(j), flags);
    case JSON_INTEGER:
    case JSON_REAL: {
        double d = json_number_value(j);
        if (t == RG_TYPE_INTEGER) {
            if (json_is_integer(j)) {
                c->v.u.i = (int64_t)json_integer_value(j);
            } else {
                if (d != floor(d) || fabs(d) > 9.2e18)
                    return -1;
                c->v.u.i = (int64_t)d;
            }
            c->v.is_null = 0;
            return 0;
        }
        if (t == RG_TYPE_NUMBER) {
            c->v.u.n = d;
            c->v.is_null = 0;
            return 0;
        }
        if (!sheet)
            return -1;
        if (t == RG_TYPE_DATE || t == RG_TYPE_DATETIME)
            return set_from_serial(r, c, t, d);
        if (t == RG_TYPE_STRING || t == RG_TYPE_ENUM) {
            char text[40];
            if (json_is_integer(j))
                snprintf(text, sizeof text, "%lld", (long long)json_integer_value(j));
            else
                rg_mf_format_double(d, text, sizeof text);
            return set_string(r, c, text, strlen(text));
        }
        if (t == RG_TYPE_BOOLEAN && (d == 0 || d == 1)) {
            c->v.u.b = d == 1;
            c->v.is_null = 0;
            return 0;
        }
        return -1;
    }
    case JSON_TRUE:
    case JSON_FALSE:
        if (t == RG_TYPE_BOOLEAN) {
            c->v.u.b = json_is_true(j);
            c->v.is_null = 0;
            return 0;
        }
        if (sheet && (t == RG_TYPE_STRING || t == RG_TYPE_ENUM))
            return set_string(r, c, json_is_true(j) ? "TRUE" : "FALSE", json_is_true(j) ? 4 : 5);
        return -1;
    default:
        return -1;
    }
}

/* ---- comparisons ------------------------------------------------------------ */

static int cmp_cells(const rg_mf_cell *a, const rg_mf_cell *b, rg_type t)
{
    switch (t) {
    case RG_TYPE_INTEGER: return (a->v.u.i > b->v.u.i) - (a->v.u.i < b->v.u.i);
    case RG_TYPE_NUMBER: return (a->v.u.n > b->v.u.n) - (a->v.u.n < b->v.u.n);
    case RG_TYPE_BOOLEAN: return (a->v.u.b > b->v.u.b) - (a->v.u.b < b->v.u.b);
    case RG_TYPE_DATETIME: return (a->us > b->us) - (a->us < b->us);
    case RG_TYPE_STRING:
    case RG_TYPE_ENUM:
    case RG_TYPE_DATE: {
        /* UTF-8 byte order: code point order, SQL's "C" collation. */
        size_t la = a->v.u.str.len, lb = b->v.u.str.len, n = la < lb ? la : lb;
        int c = n ? memcmp(a->v.u.str.ptr, b->v.u.str.ptr, n) : 0;
        return c ? (c > 0) - (c < 0) : (la > lb) - (la < lb);
    }
    }
    return 0;
}

static unsigned char fold(unsigned char ch)
{
    /* ASCII only, on purpose: every adapter must agree, whatever the
       provider does with other letters. */
    return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch - 'A' + 'a') : ch;
}

int rg_mf_prefix_fold(const char *s, size_t slen, const char *p, size_t plen)
{
    if (plen > slen)
        return 0;
    for (size_t i = 0; i < plen; i++)
        if (fold((unsigned char)s[i]) != fold((unsigned char)p[i]))
            return 0;
    return 1;
}

int rg_mf_contains_fold(const char *s, size_t slen, const char *p, size_t plen)
{
    for (size_t i = 0; i + plen <= slen; i++)
        if (rg_mf_prefix_fold(s + i, slen - i, p, plen))
            return 1;
    return 0;
}

/* ---- the plan --------------------------------------------------------------- */

static int is_text_type(rg_type t)
{
    return t == RG_TYPE_STRING || t == RG_TYPE_ENUM;
}

static rg_status fail(rg_error *err, rg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static rg_status fail(rg_error *err, rg_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->status = st;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* A plan value as a cell; strings keep pointing into the plan. */
static int cell_from_value(const rg_value *v, rg_type t, rg_mf_cell *c)
{
    memset(c, 0, sizeof *c);
    c->v = *v;
    if (v->type != t)
        return -1;
    if (!v->is_null && t == RG_TYPE_DATETIME)
        return rg_mf_parse_datetime(v->u.str.ptr, v->u.str.len, &c->us, NULL, 0);
    return 0;
}

rg_status rg_mf_plan_init(rg_mf_plan *p, const rg_query_plan *plan, rg_error *err)
{
    memset(p, 0, sizeof *p);
    p->plan = plan;
    const rg_collection_desc *coll = plan->collection;
    size_t nf = coll->nfields;
    if (coll->key_field >= nf)
        return fail(err, RG_ERR_CONFIG, "collection key is not one of its fields");
    size_t nvals = 0;
    for (size_t i = 0; i < plan->nfilters; i++) {
        const rg_filter *f = rg_filter_at(plan->filters, i);
        if (f->field >= nf || f->nvalues == 0 || !f->values)
            return fail(err, RG_ERR_CONFIG, "filter %zu is malformed", i);
        if (f->op < RG_OP_EQ || f->op > RG_OP_CONTAINS)
            return fail(err, RG_ERR_CONFIG, "operator %d is not supported", (int)f->op);
        if ((f->op == RG_OP_BETWEEN && f->nvalues != 2) ||
            (f->op != RG_OP_BETWEEN && f->op != RG_OP_IN && f->nvalues != 1) ||
            ((f->op == RG_OP_PREFIX || f->op == RG_OP_CONTAINS) &&
             !is_text_type(rg_field_at(coll->fields, f->field)->type)))
            return fail(err, RG_ERR_CONFIG, "filter on '%s' is malformed",
                        rg_field_at(coll->fields, f->field)->name);
        nvals += f->nvalues;
    }
    for (size_t i = 0; i < plan->nsearch_fields; i++)
        if (plan->search_fields[i] >= nf ||
            !is_text_type(rg_field_at(coll->fields, plan->search_fields[i])->type))
            return fail(err, RG_ERR_CONFIG, "search field %zu is not a string field", i);
    for (size_t i = 0; i < plan->nsearch_words; i++)
        if (!plan->search_words[i])
            return fail(err, RG_ERR_CONFIG, "search word %zu is missing", i);
    for (size_t i = 0; i < plan->nsort; i++)
        if (rg_sort_key_at(plan->sort, i)->field >= nf)
            return fail(err, RG_ERR_CONFIG, "sort key %zu is not a field", i);
    for (size_t i = 0; i < plan->ncolumns; i++)
        if (plan->columns[i] >= nf)
            return fail(err, RG_ERR_CONFIG, "column %zu is not a field", i);

    p->needed = calloc(nf ? nf : 1, 1);
    p->fvals = calloc(nvals ? nvals : 1, sizeof *p->fvals);
    if (plan->after)
        p->pos = calloc(plan->nsort ? plan->nsort : 1, sizeof *p->pos);
    if (!p->needed || !p->fvals || (plan->after && !p->pos))
        return fail(err, RG_ERR_INTERNAL, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < plan->nfilters; i++) {
        const rg_filter *f = rg_filter_at(plan->filters, i);
        p->needed[f->field] = 1;
        for (size_t j = 0; j < f->nvalues; j++, k++) {
            const rg_value *v = rg_value_at(f->values, j);
            if (v->is_null ||
                cell_from_value(v, rg_field_at(coll->fields, f->field)->type, &p->fvals[k]) != 0)
                return fail(err, RG_ERR_CONFIG, "a value for '%s' does not have the field's type",
                            rg_field_at(coll->fields, f->field)->name);
        }
    }
    for (size_t i = 0; i < plan->nsearch_fields; i++)
        p->needed[plan->search_fields[i]] = 1;
    for (size_t i = 0; i < plan->ncolumns; i++)
        p->needed[plan->columns[i]] = 1;
    for (size_t i = 0; i < plan->nsort; i++) {
        size_t f = rg_sort_key_at(plan->sort, i)->field;
        p->needed[f] = 1;
        if (plan->after && cell_from_value(rg_value_at(plan->after, i),
                                           rg_field_at(coll->fields, f)->type, &p->pos[i]) != 0)
            return fail(err, RG_ERR_CONFIG, "the 'after' value for '%s' does not have its type",
                        rg_field_at(coll->fields, f)->name);
    }
    return RG_OK;
}

void rg_mf_plan_free(rg_mf_plan *p)
{
    free(p->needed);
    free(p->fvals);
    free(p->pos);
    memset(p, 0, sizeof *p);
}

/* A row whose field is NULL matches no filter on it, `ne` included. */
static int filter_matches(const rg_filter *f, rg_type t, const rg_mf_cell *vals,
                          const rg_mf_cell *x)
{
    if (x->v.is_null)
        return 0;
    switch (f->op) {
    case RG_OP_EQ: return cmp_cells(x, &vals[0], t) == 0;
    case RG_OP_NE: return cmp_cells(x, &vals[0], t) != 0;
    case RG_OP_LT: return cmp_cells(x, &vals[0], t) < 0;
    case RG_OP_LTE: return cmp_cells(x, &vals[0], t) <= 0;
    case RG_OP_GT: return cmp_cells(x, &vals[0], t) > 0;
    case RG_OP_GTE: return cmp_cells(x, &vals[0], t) >= 0;
    case RG_OP_BETWEEN: return cmp_cells(x, &vals[0], t) >= 0 && cmp_cells(x, &vals[1], t) <= 0;
    case RG_OP_IN:
        for (size_t i = 0; i < f->nvalues; i++)
            if (cmp_cells(x, &vals[i], t) == 0)
                return 1;
        return 0;
    case RG_OP_PREFIX:
        return rg_mf_prefix_fold(x->v.u.str.ptr, x->v.u.str.len, vals[0].v.u.str.ptr,
                                 vals[0].v.u.str.len);
    case RG_OP_CONTAINS:
        return rg_mf_contains_fold(x->v.u.str.ptr, x->v.u.str.len, vals[0].v.u.str.ptr,
                                   vals[0].v.u.str.len);
    }
    return 0;
}

int rg_mf_cmp(const rg_mf_plan *p, const rg_mf_cell *a, const rg_mf_cell *b)
{
    const rg_query_plan *plan = p->plan;
    for (size_t k = 0; k < plan->nsort; k++) {
        size_t f = rg_sort_key_at(plan->sort, k)->field;
        const rg_mf_cell *x = &a[f], *y = &b[f];
        int c;
        if (x->v.is_null || y->v.is_null)
            c = x->v.is_null - y->v.is_null; /* a NULL comes after a value ascending */
        else
            c = cmp_cells(x, y, rg_field_at(plan->collection->fields, f)->type);
        if (c)
            return rg_sort_key_at(plan->sort, k)->desc ? -c : c;
    }
    return 0;
}

/* Is `row` strictly after the `after` position? */
static int after_position(const rg_mf_plan *p, const rg_mf_cell *row)
{
    const rg_query_plan *plan = p->plan;
    for (size_t k = 0; k < plan->nsort; k++) {
        size_t f = rg_sort_key_at(plan->sort, k)->field;
        const rg_mf_cell *x = &row[f], *y = &p->pos[k];
        int c;
        if (x->v.is_null || y->v.is_null)
            c = x->v.is_null - y->v.is_null;
        else
            c = cmp_cells(x, y, rg_field_at(plan->collection->fields, f)->type);
        if (c)
            return (rg_sort_key_at(plan->sort, k)->desc ? -c : c) > 0;
    }
    return 0;
}

int rg_mf_selected(const rg_mf_plan *p, const rg_mf_cell *row)
{
    const rg_query_plan *plan = p->plan;
    const rg_mf_cell *vals = p->fvals;
    for (size_t i = 0; i < plan->nfilters; vals += rg_filter_at(plan->filters, i)->nvalues, i++) {
        const rg_filter *f = rg_filter_at(plan->filters, i);
        rg_type t = rg_field_at(plan->collection->fields, f->field)->type;
        if (!filter_matches(f, t, vals, &row[f->field]))
            return 0;
    }
    /* Every word occurs in at least one search field (NULLs never match). */
    for (size_t w = 0; w < plan->nsearch_words; w++) {
        const char *word = plan->search_words[w];
        size_t wlen = strlen(word);
        int found = 0;
        for (size_t i = 0; i < plan->nsearch_fields && !found; i++) {
            const rg_mf_cell *x = &row[plan->search_fields[i]];
            found = !x->v.is_null && rg_mf_contains_fold(x->v.u.str.ptr, x->v.u.str.len, word, wlen);
        }
        if (!found)
            return 0;
    }
    return !p->pos || after_position(p, row);
}

size_t rg_mf_count_selected(const rg_mf_plan *p, const rg_mf_rows *rows)
{
    size_t n = 0;
    for (size_t i = 0; i < rows->nrows; i++)
        n += rg_mf_selected(p, rg_mf_row(rows, i)) != 0;
    return n;
}

/* qsort has no context argument in C11: each entry carries the plan. */
typedef struct sort_entry {
    const rg_mf_cell *row;
    const rg_mf_plan *plan;
} sort_entry;

static int cmp_entries(const void *a, const void *b)
{
    const sort_entry *x = a, *y = b;
    return rg_mf_cmp(x->plan, x->row, y->row);
}

rg_status rg_mf_emit(const rg_mf_plan *p, const rg_mf_rows *rows, const rg_row_sink *sink,
                     rg_error *err)
{
    const rg_query_plan *plan = p->plan;
    sort_entry *sel = malloc((rows->nrows ? rows->nrows : 1) * sizeof *sel);
    rg_value *out = calloc(plan->ncolumns ? plan->ncolumns : 1, sizeof *out);
    if (!sel || !out) {
        free(sel);
        free(out);
        return fail(err, RG_ERR_INTERNAL, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < rows->nrows; i++) {
        const rg_mf_cell *row = rg_mf_row(rows, i);
        if (rg_mf_selected(p, row))
            sel[n++] = (sort_entry){row, p};
    }
    if (n > 1)
        qsort(sel, n, sizeof *sel, cmp_entries);
    rg_status st = RG_OK;
    for (size_t i = 0; i < n && i < plan->limit; i++) {
        for (size_t j = 0; j < plan->ncolumns; j++) {
            out[j] = sel[i].row[plan->columns[j]].v;
            /* A cell may hold a copy of a plan value, whose struct_size is
               the gateway's; the row carries ours. */
            out[j].struct_size = sizeof out[j];
        }
        if (sink->row(sink->ctx, out, plan->ncolumns) != 0) {
            st = fail(err, RG_ERR_ABORTED, "stopped by the gateway");
            break;
        }
    }
    free(sel);
    free(out);
    return st;
}

void rg_mf_format_number(const rg_value *v, char *out, size_t outsz)
{
    if (v->type == RG_TYPE_INTEGER)
        snprintf(out, outsz, "%lld", (long long)v->u.i);
    else
        rg_mf_format_double(v->u.n, out, outsz);
}

int rg_mf_day_bound(const rg_value *v, int days, char *out, size_t outsz)
{
    int64_t d;
    if (v->type == RG_TYPE_DATE) {
        if (rg_mf_parse_date(v->u.str.ptr, v->u.str.len, &d) != 0)
            return -1;
    } else if (v->type == RG_TYPE_DATETIME) {
        const int64_t day_us = 86400000000LL;
        int64_t us;
        if (rg_mf_parse_datetime(v->u.str.ptr, v->u.str.len, &us, NULL, 0) != 0)
            return -1;
        d = us >= 0 ? us / day_us : -((-us + day_us - 1) / day_us);
    } else {
        return -1;
    }
    return rg_mf_format_date(d + days, out, outsz);
}

void rg_mf_bounds(const rg_filter *flt, const rg_value **lo, const rg_value **hi)
{
    const rg_value *v = flt->values;
    *lo = *hi = NULL;
    switch (flt->op) {
    case RG_OP_EQ: *lo = *hi = rg_value_at(v, 0); break;
    case RG_OP_LT:
    case RG_OP_LTE: *hi = rg_value_at(v, 0); break;
    case RG_OP_GT:
    case RG_OP_GTE: *lo = rg_value_at(v, 0); break;
    case RG_OP_BETWEEN: *lo = rg_value_at(v, 0); *hi = rg_value_at(v, 1); break;
    default: break;
    }
}
