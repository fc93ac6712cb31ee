/*
 * readgate-adapter-template: a complete readgate adapter over a JSON-lines
 * file, written to be copied. It passes readgate-conformance as shipped.
 *
 * The backend: one file, one JSON object per line (blank lines are skipped).
 * A row's value for a field is the member named by the field's `column`
 * (the field name when the site file gives no column); an absent member and
 * JSON null are both NULL. Types are strict: an `integer` field needs a JSON
 * integer, `number` an integer or a real, `boolean` true/false, `string` and
 * `enum` a string, `date` "YYYY-MM-DD", `datetime` RFC 3339 text. A row that
 * breaks this is reported as a backend error (RG_ERR_UPSTREAM) naming the
 * line and the column, so a bad file is found, not silently half-read.
 *
 * Options (the source's `options:` in the site file):
 *   path           required. The JSON-lines file; a relative path is resolved
 *                  against the directory of the site file.
 *   line_delay_us  optional, for testing only: microseconds to wait after each
 *                  line, as if the file sat on a very slow disk. The per-line
 *                  deadline check below is what ends such a query on time; the
 *                  conformance run uses this to check RG_ERR_TIMEOUT. Drop it
 *                  from your copy.
 *
 * The collection's `target` names nothing here: a source is one file. A
 * backend that holds many relations picks one with plan->collection->target
 * (which comes from the site file, never from a request) and quotes it by the
 * backend's own rules.
 *
 * How a query runs: the file is read line by line on every query (so a file
 * replaced on disk is seen at once); each line is parsed with jansson, the
 * fields the plan needs are converted to typed cells, filters, search and the
 * keyset position are evaluated in C, and the best `limit` rows are kept and
 * sorted. Nothing a request carries ever becomes syntax of any language here,
 * so nothing needs escaping: `%`, `_`, `\`, `*`, quotes and regex characters
 * in values are ordinary bytes compared with memcmp. If your backend takes a
 * query language, that is where your copy must change (see
 * docs/writing-an-adapter.md, "Safety rules").
 *
 * To make it yours: copy this directory, rename ADAPTER_NAME in
 * CMakeLists.txt (the file becomes readgate-adapter-<name>.so and the name
 * below follows), and replace the JSON-lines reading with your backend. It is
 * one file on purpose, longer than our usual, so that a copy is one file.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* getline, clock_gettime, nanosleep under -std=c11 */
#endif

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <readgate/adapter.h>

#ifndef ADAPTER_NAME
#define ADAPTER_NAME "template" /* must equal <name> in readgate-adapter-<name>.so */
#endif
#ifndef ADAPTER_VERSION
#define ADAPTER_VERSION "1.0.0"
#endif

/* The ABI does not promise a non-zero timeout_ms; never run unbounded. */
#define DEFAULT_BUDGET_MS 5000
#define MAX_LINE_DELAY_US 1000000UL
/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" and its NUL. */
#define DATETIME_TEXT 28

/*
 * Host services, set once by rg_adapter_entry (RG_ADAPTER at the end of this
 * file) before any other call and only read afterwards, so worker threads may
 * read it without a lock. It is the only global: everything a query touches
 * lives in its connection or on its own stack, because different connections
 * run on different threads at once.
 */
static const rg_host_api *rg_host;

static void log_msg(rg_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_msg(rg_log_level lvl, const char *fmt, ...)
{
    if (!rg_host)
        return;
    va_list ap;
    va_start(ap, fmt);
    rg_host->log(lvl, ADAPTER_NAME, fmt, ap);
    va_end(ap);
}

/* Fill the caller's rg_error and return its status. Messages go to logs:
   name files, lines and columns, never a value from the data or a secret. */
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

/*
 * strerror may share one buffer between threads; strerror_r does not, but
 * comes in two flavours: glibc's with _GNU_SOURCE returns the text, POSIX's
 * returns 0 and fills buf.
 */
static const char *errno_text(int e, char *buf, size_t len)
{
#if defined(_GNU_SOURCE) && defined(__GLIBC__)
    return strerror_r(e, buf, len);
#else
    return strerror_r(e, buf, len) == 0 ? buf : "unknown error";
#endif
}

/* ---- options ------------------------------------------------------------ */

typedef struct tpl_options {
    const char *path; /* borrowed from rg_source_info: valid during the call only */
    unsigned long line_delay_us;
} tpl_options;

static rg_status parse_options(const rg_source_info *src, tpl_options *o, rg_error *err)
{
    memset(o, 0, sizeof o[0]);
    for (size_t i = 0; i < src->noptions; i++) {
        const char *key = src->options[i].key, *val = src->options[i].value;
        if (!strcmp(key, "path")) {
            o->path = val;
        } else if (!strcmp(key, "line_delay_us")) {
            /* Options arrive as text (a YAML number is passed as its text). */
            char *end;
            errno = 0;
            unsigned long v = strtoul(val, &end, 10);
            if (!*val || *end || errno || val[0] == '-' || v > MAX_LINE_DELAY_US)
                return fail(err, RG_ERR_CONFIG,
                            "option 'line_delay_us' must be an integer from 0 to %lu",
                            MAX_LINE_DELAY_US);
            o->line_delay_us = v;
        } else {
            return fail(err, RG_ERR_CONFIG,
                        "unknown option '%s' for the %s adapter; expected: path, line_delay_us",
                        key, ADAPTER_NAME);
        }
    }
    if (!o->path || !*o->path)
        return fail(err, RG_ERR_CONFIG, "option 'path' is required: the JSON-lines file to read");
    return RG_OK;
}

/*
 * check_options (optional callback): called by `readgate check` and by
 * readgate-conformance, on any thread, possibly with no backend around and
 * with base_dir "." (so relative paths mean nothing yet). Only look at the
 * options; do not open files or connect. RG_ERR_CONFIG with a message naming
 * the option is the only error it returns. The server itself does not call
 * it, which is why connect parses the options again.
 */
static rg_status tpl_check_options(const rg_source_info *src, rg_error *err)
{
    tpl_options o;
    return parse_options(src, &o, err);
}

/* ---- connections -------------------------------------------------------- */

/* One per worker thread; the gateway never uses it from two threads at once. */
typedef struct tpl_conn {
    char path[PATH_MAX]; /* resolved: copied, because src is gone after connect */
    unsigned long line_delay_us;
} tpl_conn;

/* Can the file be read now? RG_ERR_UNAVAILABLE when not: a missing file is
   this backend's "server down", and the gateway retries later. */
static rg_status probe_file(const char *path, rg_error *err)
{
    char ebuf[128];
    struct stat st;
    if (stat(path, &st) != 0)
        return fail(err, RG_ERR_UNAVAILABLE, "cannot open '%s': %s", path,
                    errno_text(errno, ebuf, sizeof ebuf));
    if (S_ISDIR(st.st_mode))
        return fail(err, RG_ERR_CONFIG, "'%s' is a directory; option 'path' names a JSON-lines file",
                    path);
    FILE *f = fopen(path, "r");
    if (!f)
        return fail(err, RG_ERR_UNAVAILABLE, "cannot open '%s': %s", path,
                    errno_text(errno, ebuf, sizeof ebuf));
    fclose(f);
    return RG_OK;
}

/*
 * connect: open what one worker thread needs and store an adapter-owned handle
 * in *conn. Runs on a worker thread and may block, within
 * src->connect_timeout_ms (opening a local file needs no timer). Returns
 * RG_ERR_UNAVAILABLE when the backend cannot be reached (the gateway answers
 * 503 and connects again on a later query), RG_ERR_AUTH when credentials are
 * refused, RG_ERR_CONFIG for options that can never work. Everything in `src`
 * belongs to the gateway and is gone after the call: copy what you keep.
 */
static rg_status tpl_connect(const rg_source_info *src, void **conn, rg_error *err)
{
    *conn = NULL;
    tpl_options o;
    rg_status st = parse_options(src, &o, err);
    if (st != RG_OK)
        return st;
    tpl_conn *c = calloc(1, sizeof *c);
    if (!c)
        return fail(err, RG_ERR_INTERNAL, "out of memory");
    int n;
    if (o.path[0] == '/' || !src->base_dir || !*src->base_dir)
        n = snprintf(c->path, sizeof c->path, "%s", o.path);
    else
        n = snprintf(c->path, sizeof c->path, "%s/%s", src->base_dir, o.path);
    if (n < 0 || (size_t)n >= sizeof c->path) {
        free(c);
        return fail(err, RG_ERR_CONFIG, "option 'path' is too long");
    }
    c->line_delay_us = o.line_delay_us;
    st = probe_file(c->path, err);
    if (st != RG_OK) {
        free(c);
        return st;
    }
    *conn = c;
    return RG_OK;
}

/* disconnect: free everything connect allocated. conn is never NULL. */
static void tpl_disconnect(void *conn)
{
    free(conn);
}

/* ping: a cheap "is the backend there" for /readyz; same errors as query. */
static rg_status tpl_ping(void *conn, rg_error *err)
{
    tpl_conn *c = conn;
    return probe_file(c->path, err);
}

/* ---- typed values ------------------------------------------------------- */

/*
 * One field of one row (or one value of the plan) in a form that compares
 * correctly in C. Strings point into the parsed JSON line or into the plan,
 * whichever outlives the comparison. A DATETIME also carries its instant, so
 * "…:00Z" and "…:00.500000Z" order by time, not by text, and its canonical
 * text, which is what the gateway expects back.
 */
typedef struct cell {
    rg_value v;
    int64_t us;                   /* DATETIME: microseconds since 1970-01-01T00:00:00Z */
    char text[DATETIME_TEXT];     /* DATETIME: canonical UTC text */
} cell;

static int is_text_type(rg_type t)
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
static rg_status read_cell(const json_t *obj, const rg_field_desc *f, size_t line, cell *c,
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
                return fail(err, RG_ERR_UPSTREAM, "line %zu: column '%s' is not a YYYY-MM-DD date",
                            line, col);
            if (f->type == RG_TYPE_DATETIME &&
                parse_datetime(c->v.u.str.ptr, c->v.u.str.len, c) != 0)
                return fail(err, RG_ERR_UPSTREAM,
                            "line %zu: column '%s' is not an RFC 3339 datetime", line, col);
        }
        break;
    }
    if (!ok)
        return fail(err, RG_ERR_UPSTREAM, "line %zu: column '%s' holds %s, the field is of type %s",
                    line, col, json_kind(j), type_name(f->type));
    return RG_OK;
}

/* A value of the plan (a filter value or an `after` position) as a cell.
   Strings keep pointing into the plan, which lives for the whole query. */
static int cell_from_value(const rg_value *v, rg_type t, cell *c)
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
static int cmp_cells(const cell *a, const cell *b, rg_type t)
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

static int starts_with_fold(const char *s, size_t slen, const char *p, size_t plen)
{
    if (plen > slen)
        return 0;
    for (size_t i = 0; i < plen; i++)
        if (fold((unsigned char)s[i]) != fold((unsigned char)p[i]))
            return 0;
    return 1;
}

static int contains_fold(const char *s, size_t slen, const char *p, size_t plen)
{
    for (size_t i = 0; i + plen <= slen; i++)
        if (starts_with_fold(s + i, slen - i, p, plen))
            return 1;
    return 0;
}

/* ---- one query ---------------------------------------------------------- */

struct query_run;

typedef struct kept_row {
    json_t *obj;                /* the parsed line; string cells point into it */
    cell *cells;                /* one per collection field; only needed ones filled */
    const struct query_run *run; /* qsort has no context argument in C11, and a global
                                    would be shared between threads */
} kept_row;

typedef struct query_run {
    const rg_query_plan *plan;
    const rg_field_desc *fields;
    size_t nfields;
    unsigned char *needed; /* per field: read it from each line */
    cell *fvals;           /* every filter's values, filter after filter */
    cell *pos;             /* `after` position by field index, or NULL */
    cell *scratch;         /* the line being looked at */
    kept_row *rows;
    size_t nrows, cap, keep_max;
    struct timespec deadline;
} query_run;

static int deadline_passed(const query_run *r)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > r->deadline.tv_sec ||
           (now.tv_sec == r->deadline.tv_sec && now.tv_nsec >= r->deadline.tv_nsec);
}

/* Sleep `us`, but never past the deadline. */
static void delay_within_deadline(const query_run *r, unsigned long us)
{
    struct timespec now, ts;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long left = (long long)(r->deadline.tv_sec - now.tv_sec) * 1000000 +
                     (r->deadline.tv_nsec - now.tv_nsec) / 1000;
    if (left <= 0)
        return;
    if ((long long)us > left)
        us = (unsigned long)left;
    ts.tv_sec = (time_t)(us / 1000000);
    ts.tv_nsec = (long)(us % 1000000) * 1000;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}

/*
 * The plan comes from the gateway, validated against the site file, so these
 * checks never fail there; they keep a bad caller (a test, a future ABI minor
 * with a new operator) from making the adapter read out of bounds.
 */
static rg_status check_plan(const rg_query_plan *p, rg_error *err)
{
    const rg_collection_desc *coll = p->collection;
    size_t nf = coll->nfields;
    if (coll->key_field >= nf)
        return fail(err, RG_ERR_CONFIG, "collection key is not one of its fields");
    for (size_t i = 0; i < p->nfilters; i++) {
        const rg_filter *f = &p->filters[i];
        if (f->field >= nf || f->nvalues == 0)
            return fail(err, RG_ERR_CONFIG, "filter %zu is malformed", i);
        if (f->op < RG_OP_EQ || f->op > RG_OP_CONTAINS)
            return fail(err, RG_ERR_CONFIG, "operator %d is not supported by the %s adapter",
                        (int)f->op, ADAPTER_NAME);
        if ((f->op == RG_OP_BETWEEN && f->nvalues != 2) ||
            ((f->op == RG_OP_PREFIX || f->op == RG_OP_CONTAINS) &&
             !is_text_type(coll->fields[f->field].type)))
            return fail(err, RG_ERR_CONFIG, "filter on '%s' is malformed",
                        coll->fields[f->field].name);
    }
    for (size_t i = 0; i < p->nsearch_fields; i++)
        if (p->search_fields[i] >= nf || !is_text_type(coll->fields[p->search_fields[i]].type))
            return fail(err, RG_ERR_CONFIG, "search field %zu is not a string field", i);
    for (size_t i = 0; i < p->nsearch_words; i++)
        if (!p->search_words[i])
            return fail(err, RG_ERR_CONFIG, "search word %zu is missing", i);
    for (size_t i = 0; i < p->nsort; i++)
        if (p->sort[i].field >= nf)
            return fail(err, RG_ERR_CONFIG, "sort key %zu is not a field", i);
    for (size_t i = 0; i < p->ncolumns; i++)
        if (p->columns[i] >= nf)
            return fail(err, RG_ERR_CONFIG, "column %zu is not a field", i);
    return RG_OK;
}

static rg_status run_init(query_run *r, const rg_query_plan *p, rg_error *err)
{
    memset(r, 0, sizeof r[0]);
    r->plan = p;
    r->fields = p->collection->fields;
    r->nfields = p->collection->nfields;

    /* The budget starts now and covers reading, sorting and handing rows over. */
    uint32_t budget = p->timeout_ms ? p->timeout_ms : DEFAULT_BUDGET_MS;
    clock_gettime(CLOCK_MONOTONIC, &r->deadline);
    r->deadline.tv_sec += budget / 1000;
    r->deadline.tv_nsec += (long)(budget % 1000) * 1000000L;
    if (r->deadline.tv_nsec >= 1000000000L) {
        r->deadline.tv_sec++;
        r->deadline.tv_nsec -= 1000000000L;
    }

    /* Keep at most about 2 * limit rows: sorting and cutting back to `limit`
       whenever that fills bounds memory on big files. */
    r->keep_max = p->limit <= SIZE_MAX / 4 ? 2 * p->limit + 16 : SIZE_MAX;

    size_t nvals = 0;
    for (size_t i = 0; i < p->nfilters; i++)
        nvals += p->filters[i].nvalues;
    r->needed = calloc(r->nfields, 1);
    r->scratch = calloc(r->nfields, sizeof r->scratch[0]);
    r->fvals = calloc(nvals ? nvals : 1, sizeof r->fvals[0]);
    if (p->after)
        r->pos = calloc(r->nfields, sizeof r->pos[0]);
    if (!r->needed || !r->scratch || !r->fvals || (p->after && !r->pos))
        return fail(err, RG_ERR_INTERNAL, "out of memory");

    size_t k = 0;
    for (size_t i = 0; i < p->nfilters; i++) {
        const rg_filter *f = &p->filters[i];
        r->needed[f->field] = 1;
        for (size_t j = 0; j < f->nvalues; j++, k++)
            if (f->values[j].is_null ||
                cell_from_value(&f->values[j], r->fields[f->field].type, &r->fvals[k]) != 0)
                return fail(err, RG_ERR_CONFIG, "a value for '%s' does not have the field's type",
                            r->fields[f->field].name);
    }
    for (size_t i = 0; i < p->nsearch_fields; i++)
        r->needed[p->search_fields[i]] = 1;
    for (size_t i = 0; i < p->ncolumns; i++)
        r->needed[p->columns[i]] = 1;
    for (size_t i = 0; i < p->nsort; i++) {
        size_t f = p->sort[i].field;
        r->needed[f] = 1;
        if (p->after && cell_from_value(&p->after[i], r->fields[f].type, &r->pos[f]) != 0)
            return fail(err, RG_ERR_CONFIG, "the 'after' value for '%s' does not have its type",
                        r->fields[f].name);
    }
    return RG_OK;
}

static void run_free(query_run *r)
{
    for (size_t i = 0; i < r->nrows; i++) {
        json_decref(r->rows[i].obj);
        free(r->rows[i].cells);
    }
    free(r->rows);
    free(r->needed);
    free(r->fvals);
    free(r->pos);
    free(r->scratch);
}

/* A row whose field is NULL matches no filter on it, `ne` included. */
static int filter_matches(const query_run *r, const rg_filter *f, const cell *vals,
                          const cell *row)
{
    const cell *x = &row[f->field];
    rg_type t = r->fields[f->field].type;
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
        return starts_with_fold(x->v.u.str.ptr, x->v.u.str.len, vals[0].v.u.str.ptr,
                                vals[0].v.u.str.len);
    case RG_OP_CONTAINS:
        return contains_fold(x->v.u.str.ptr, x->v.u.str.len, vals[0].v.u.str.ptr,
                             vals[0].v.u.str.len);
    }
    return 0;
}

/* Every word occurs in at least one search field (NULLs never match). */
static int search_matches(const query_run *r, const cell *row)
{
    const rg_query_plan *p = r->plan;
    for (size_t w = 0; w < p->nsearch_words; w++) {
        const char *word = p->search_words[w];
        size_t wlen = strlen(word);
        int found = 0;
        for (size_t i = 0; i < p->nsearch_fields && !found; i++) {
            const cell *x = &row[p->search_fields[i]];
            found = !x->v.is_null && contains_fold(x->v.u.str.ptr, x->v.u.str.len, word, wlen);
        }
        if (!found)
            return 0;
    }
    return 1;
}

/* The plan's order: sort keys in turn, NULLs last ascending and first
   descending. The gateway always makes the unique key the last sort key, so
   two different rows never compare equal and paging is deterministic. */
static int cmp_order(const query_run *r, const cell *a, const cell *b)
{
    const rg_query_plan *p = r->plan;
    for (size_t k = 0; k < p->nsort; k++) {
        size_t f = p->sort[k].field;
        const cell *x = &a[f], *y = &b[f];
        int c;
        if (x->v.is_null || y->v.is_null)
            c = x->v.is_null - y->v.is_null; /* a NULL comes after a value... */
        else
            c = cmp_cells(x, y, r->fields[f].type);
        if (c)
            return p->sort[k].desc ? -c : c; /* ...and before it descending */
    }
    return 0;
}

static int cmp_kept(const void *a, const void *b)
{
    const kept_row *x = a, *y = b;
    return cmp_order(x->run, x->cells, y->cells);
}

/* Sort the kept rows and drop all but the first `limit`. */
static void cut_to_limit(query_run *r)
{
    if (r->nrows > 1)
        qsort(r->rows, r->nrows, sizeof r->rows[0], cmp_kept);
    while (r->nrows > r->plan->limit) {
        r->nrows--;
        json_decref(r->rows[r->nrows].obj);
        free(r->rows[r->nrows].cells);
    }
}

/* Take ownership of `obj` and a copy of the scratch cells. */
static rg_status keep_row(query_run *r, json_t *obj, rg_error *err)
{
    if (r->nrows == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        kept_row *rows = realloc(r->rows, cap * sizeof rows[0]);
        if (!rows) {
            json_decref(obj);
            return fail(err, RG_ERR_INTERNAL, "out of memory");
        }
        r->rows = rows;
        r->cap = cap;
    }
    cell *cells = malloc(r->nfields * sizeof cells[0]);
    if (!cells) {
        json_decref(obj);
        return fail(err, RG_ERR_INTERNAL, "out of memory");
    }
    memcpy(cells, r->scratch, r->nfields * sizeof cells[0]);
    r->rows[r->nrows++] = (kept_row){obj, cells, r};
    if (r->nrows >= r->keep_max)
        cut_to_limit(r);
    return RG_OK;
}

/* Look at one line: keep it when it matches and lies after the position. */
static rg_status consider_line(query_run *r, const char *text, size_t len, size_t lineno,
                               rg_error *err)
{
    json_error_t jerr;
    json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj)
        /* jerr.text can quote the data, so only the place is reported. */
        return fail(err, RG_ERR_UPSTREAM, "line %zu, column %d: not valid JSON", lineno,
                    jerr.column);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return fail(err, RG_ERR_UPSTREAM, "line %zu is not a JSON object", lineno);
    }
    for (size_t i = 0; i < r->nfields; i++) {
        if (!r->needed[i])
            continue;
        rg_status st = read_cell(obj, &r->fields[i], lineno, &r->scratch[i], err);
        if (st != RG_OK) {
            json_decref(obj);
            return st;
        }
    }
    const rg_query_plan *p = r->plan;
    int match = 1;
    const cell *vals = r->fvals;
    for (size_t i = 0; i < p->nfilters && match; vals += p->filters[i].nvalues, i++)
        match = filter_matches(r, &p->filters[i], vals, r->scratch);
    match = match && search_matches(r, r->scratch);
    /* Keyset paging: only rows strictly after the previous page's last row. */
    match = match && (!r->pos || cmp_order(r, r->scratch, r->pos) > 0);
    if (!match) {
        json_decref(obj);
        return RG_OK;
    }
    return keep_row(r, obj, err);
}

static int blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

/* Read the whole file, checking the deadline on every line: this loop is
   where the time goes, so this is where a query must notice it is late. */
static rg_status scan_file(query_run *r, const tpl_conn *c, rg_error *err)
{
    char ebuf[128];
    FILE *f = fopen(c->path, "r");
    if (!f)
        return fail(err, RG_ERR_UNAVAILABLE, "cannot open '%s': %s", c->path,
                    errno_text(errno, ebuf, sizeof ebuf));
    char *line = NULL;
    size_t linecap = 0, lineno = 0;
    rg_status st = RG_OK;
    for (;;) {
        if (deadline_passed(r)) {
            st = fail(err, RG_ERR_TIMEOUT, "query exceeded its time budget of %u ms after %zu lines",
                      r->plan->timeout_ms, lineno);
            break;
        }
        errno = 0;
        ssize_t n = getline(&line, &linecap, f);
        if (n < 0) {
            if (errno == ENOMEM)
                st = fail(err, RG_ERR_INTERNAL, "out of memory");
            else if (ferror(f))
                st = fail(err, RG_ERR_UNAVAILABLE, "cannot read '%s': %s", c->path,
                          errno_text(errno ? errno : EIO, ebuf, sizeof ebuf));
            break; /* otherwise the end of the file */
        }
        lineno++;
        if (!blank(line, (size_t)n) &&
            (st = consider_line(r, line, (size_t)n, lineno, err)) != RG_OK)
            break;
        if (c->line_delay_us)
            delay_within_deadline(r, c->line_delay_us);
    }
    free(line);
    fclose(f);
    return st;
}

/* Hand the first `limit` rows to the sink, values in plan->columns order. */
static rg_status emit_rows(query_run *r, const rg_row_sink *sink, rg_error *err)
{
    const rg_query_plan *p = r->plan;
    rg_value *out = calloc(p->ncolumns ? p->ncolumns : 1, sizeof out[0]);
    if (!out)
        return fail(err, RG_ERR_INTERNAL, "out of memory");
    rg_status st = RG_OK;
    for (size_t i = 0; i < r->nrows && i < p->limit; i++) {
        for (size_t j = 0; j < p->ncolumns; j++) {
            const cell *x = &r->rows[i].cells[p->columns[j]];
            out[j] = x->v;
            /* Datetimes go back in canonical UTC form, whatever the file held. */
            if (x->v.type == RG_TYPE_DATETIME && !x->v.is_null) {
                out[j].u.str.ptr = x->text;
                out[j].u.str.len = strlen(x->text);
            }
        }
        /* The values (and what they point to) only need to live for this call. */
        if (sink->row(sink->ctx, out, p->ncolumns) != 0) {
            st = fail(err, RG_ERR_ABORTED, "stopped by the gateway");
            break;
        }
    }
    free(out);
    return st;
}

/*
 * query: run one validated plan on a worker thread and stream the rows, in
 * order, to sink->row. The plan and everything it points to belong to the
 * gateway and stay valid until query returns. Return RG_OK after the last
 * row; RG_ERR_TIMEOUT when plan->timeout_ms ran out; RG_ERR_UNAVAILABLE when
 * the backend went away (the gateway disconnects this connection and opens a
 * new one next time); RG_ERR_UPSTREAM when the backend answered with an error
 * (here: a line that is not what the collection declares); RG_ERR_ABORTED as
 * soon as the sink returns non-zero, without calling it again.
 */
static rg_status tpl_query(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
                           rg_error *err)
{
    const tpl_conn *c = conn;
    rg_status st = check_plan(plan, err);
    if (st != RG_OK)
        return st;
    query_run r;
    st = run_init(&r, plan, err);
    if (st == RG_OK)
        st = scan_file(&r, c, err);
    if (st == RG_OK)
        cut_to_limit(&r);
    if (st == RG_OK)
        st = emit_rows(&r, sink, err);
    run_free(&r);
    if (st != RG_OK && st != RG_ERR_ABORTED)
        log_msg(RG_LOG_DEBUG, "query on '%s' failed: %s", plan->collection->name, err->message);
    return st;
}

/* ---- the entry point ------------------------------------------------------ */

/*
 * The descriptor (static and immutable: the gateway may read it from any
 * thread) and rg_adapter_entry, the one exported symbol (everything else is
 * hidden by -fvisibility=hidden), called once after dlopen before any other
 * callback. It keeps the host table in `rg_host` only when its layout is one
 * this file was compiled for: a host of another major is refused by the
 * gateway anyway, from our abi_major.
 */
RG_ADAPTER(ADAPTER_NAME, ADAPTER_VERSION, tpl_check_options, tpl_connect, tpl_query, tpl_ping,
           tpl_disconnect)
