/*
 * The mongo adapter's BSON builder: failing once and for all, names that may
 * be used as document fields, datetimes, typed values, and embedded documents
 * and arrays that are always closed.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mongo_internal.h"
#include "civil.h"

void rg_mg_fail(builder *b, rg_status st, const char *fmt, ...)
{
    if (b->st != RG_OK)
        return;
    b->st = st;
    b->err->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err->message, sizeof b->err->message, fmt, ap);
    va_end(ap);
}

/* bson_append_* fail only when a document would exceed the BSON size limit. */
void rg_mg_check(builder *b, bool ok)
{
    if (!ok)
        rg_mg_fail(b, RG_ERR_CONFIG, "query too large for one BSON document");
}

const char *rg_mg_column_of(const rg_field_desc *f)
{
    return f->column ? f->column : f->name;
}

/*
 * Whether `name` may be used as a document field. '$' at the start of a name
 * (or of a path segment) would turn it into an operator; '.' makes it a path
 * into embedded documents, allowed only when the source says so.
 */
static const char *field_name_problem(const char *name, int allow_dotted)
{
    if (!name || !*name)
        return "is empty";
    if (!strncmp(name, RESERVED_PREFIX, strlen(RESERVED_PREFIX)))
        return "starts with " RESERVED_PREFIX ", which the adapter reserves for sort keys";
    if (name[0] == '$')
        return "starts with '$'";
    if (strchr(name, '.')) {
        if (!allow_dotted)
            return "contains '.' (set allow_dotted_fields: true to read embedded fields)";
        /* every segment of the path non-empty and not an operator */
        for (const char *seg = name;;) {
            const char *dot = strchr(seg, '.');
            size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
            if (n == 0 || seg[0] == '$')
                return "has an empty path segment or one starting with '$'";
            if (!dot)
                break;
            seg = dot + 1;
        }
    }
    return NULL;
}

/* The collection description comes from the site config; refuse names that
   could change the meaning of the query. */
rg_status rg_mg_check_collection(const mongo_conn *c, const rg_collection_desc *coll,
                                 rg_error *err)
{
    const char *t = coll->target;
    if (!t || !*t)
        return rg_adapter_fail(err, RG_ERR_CONFIG, "collection '%s' has no target collection",
                       coll->name ? coll->name : "");
    if (strchr(t, '$') || !strncmp(t, "system.", 7) || strlen(t) > 255)
        return rg_adapter_fail(err, RG_ERR_CONFIG,
                       "target '%s' of collection '%s' is not a readable MongoDB collection name "
                       "(no '$', not system.*)",
                       t, coll->name ? coll->name : "");
    if (coll->key_field >= coll->nfields)
        return rg_adapter_fail(err, RG_ERR_CONFIG, "collection key index out of range");
    for (size_t i = 0; i < coll->nfields; i++) {
        const rg_field_desc *fd = rg_field_at(coll->fields, i);
        const char *col = rg_mg_column_of(fd);
        const char *why = field_name_problem(col, c->allow_dotted);
        if (why)
            return rg_adapter_fail(err, RG_ERR_CONFIG, "column '%s' of field '%s' %s", col ? col : "",
                           fd->name ? fd->name : "", why);
    }
    return RG_OK;
}

int rg_mg_field_ok(builder *b, size_t field)
{
    if (field >= b->coll->nfields) {
        rg_mg_fail(b, RG_ERR_CONFIG, "plan refers to a field index out of range");
        return 0;
    }
    return 1;
}

/* ---- datetimes ---- */

/*
 * "YYYY-MM-DDTHH:MM:SS[.f…]Z" (the gateway's canonical UTC form) to
 * milliseconds since the epoch; *sub_ms is set when the fraction goes below a
 * millisecond, which a BSON date cannot hold. 0, or -1 if malformed.
 */
int rg_mg_parse_datetime(const char *s, size_t len, int64_t *ms, int *sub_ms)
{
    int Y, M, D, h, m, sec;
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':' || rg_civil_digits(s, 4, &Y) || rg_civil_digits(s + 5, 2, &M) ||
        rg_civil_digits(s + 8, 2, &D) || rg_civil_digits(s + 11, 2, &h) ||
        rg_civil_digits(s + 14, 2, &m) || rg_civil_digits(s + 17, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return -1;
    size_t i = 19;
    int frac_ms = 0;
    *sub_ms = 0;
    if (s[i] == '.') {
        size_t nd = 0;
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, nd++) {
            if (nd < 3)
                frac_ms = frac_ms * 10 + (s[i] - '0');
            else if (s[i] != '0')
                *sub_ms = 1;
        }
        if (nd == 0)
            return -1;
        for (; nd < 3; nd++)
            frac_ms *= 10;
    }
    if (i + 1 != len || (s[i] != 'Z' && s[i] != 'z'))
        return -1;
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D,
                    .tm_hour = h, .tm_min = m, .tm_sec = sec};
    time_t t = timegm(&tm);
    *ms = (int64_t)t * 1000 + frac_ms;
    return 0;
}

/* Milliseconds since the epoch to "YYYY-MM-DDTHH:MM:SS[.ffffff]Z"; 0 if the
   year is outside 0000-9999. */
size_t rg_mg_format_datetime(int64_t ms, char *out, size_t outsz)
{
    int64_t secs = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
        return 0;
    int n;
    if (frac)
        n = snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03d000Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
    else
        n = snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return n > 0 && (size_t)n < outsz ? (size_t)n : 0;
}

/* ---- values ---- */

/*
 * A filter or keyset value as BSON, typed by the value itself: int64, double,
 * bool, UTF-8 string, or a BSON date for datetimes (whole milliseconds;
 * append_cmp adjusts operators for finer values).
 */
void rg_mg_append_value(builder *b, bson_t *doc, const char *key, const rg_value *v)
{
    if (b->st != RG_OK)
        return;
    if (v->is_null) {
        rg_mg_fail(b, RG_ERR_CONFIG, "NULL value in a comparison");
        return;
    }
    switch (v->type) {
    case RG_TYPE_INTEGER:
        rg_mg_check(b, bson_append_int64(doc, key, -1, v->u.i));
        break;
    case RG_TYPE_NUMBER:
        rg_mg_check(b, bson_append_double(doc, key, -1, v->u.n));
        break;
    case RG_TYPE_BOOLEAN:
        rg_mg_check(b, bson_append_bool(doc, key, -1, v->u.b != 0));
        break;
    case RG_TYPE_DATETIME: {
        int64_t ms;
        int sub;
        if (rg_mg_parse_datetime(v->u.str.ptr, v->u.str.len, &ms, &sub) != 0) {
            rg_mg_fail(b, RG_ERR_CONFIG,
                       "datetime value is not in the form YYYY-MM-DDTHH:MM:SS[.f]Z");
            return;
        }
        rg_mg_check(b, bson_append_date_time(doc, key, -1, ms));
        break;
    }
    case RG_TYPE_STRING:
    case RG_TYPE_ENUM:
    case RG_TYPE_DATE:
        if (!v->u.str.ptr || v->u.str.len > INT_MAX) {
            rg_mg_fail(b, RG_ERR_CONFIG, "string value missing or too long");
            return;
        }
        rg_mg_check(b, bson_append_utf8(doc, key, -1, v->u.str.ptr, (int)v->u.str.len));
        break;
    default:
        rg_mg_fail(b, RG_ERR_CONFIG, "value of unknown type %d", (int)v->type);
        break;
    }
}

/*
 * Opening and closing embedded documents and arrays. A child that could not
 * be opened (the builder has failed) is neither filled nor closed; one that
 * was opened is always closed, whatever happens inside, so the parent stays
 * well-formed until it is destroyed.
 */
int rg_mg_open_doc(builder *b, bson_t *parent, const char *key, bson_t *child)
{
    if (b->st != RG_OK)
        return 0;
    if (!bson_append_document_begin(parent, key, -1, child)) {
        rg_mg_check(b, false);
        return 0;
    }
    return 1;
}

int rg_mg_open_array(builder *b, bson_t *parent, const char *key, bson_t *child)
{
    if (b->st != RG_OK)
        return 0;
    if (!bson_append_array_begin(parent, key, -1, child)) {
        rg_mg_check(b, false);
        return 0;
    }
    return 1;
}

void rg_mg_close_doc(builder *b, bson_t *parent, bson_t *child)
{
    rg_mg_check(b, bson_append_document_end(parent, child));
}

void rg_mg_close_array(builder *b, bson_t *parent, bson_t *child)
{
    rg_mg_check(b, bson_append_array_end(parent, child));
}

const char *rg_mg_index_key(idx_key *k, uint32_t i)
{
    bson_uint32_to_string(i, &k->str, k->buf, sizeof k->buf);
    return k->str;
}
